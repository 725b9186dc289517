//! [`Admin`]: the admin client of one cluster's nameservers, and its queries (cluster info,
//! routes, topic and group tables, ownership records, runtime info).

use super::error::{AdminError, net_hint};
use super::security::AdminSecurity;
use rmq_protocol::body::cluster::ClusterInfo;
use rmq_protocol::body::from_json;
use rmq_protocol::body::misc::{KvTable, TopicList};
use rmq_protocol::body::route::TopicRouteData;
use rmq_protocol::body::subscription::SubscriptionGroupWrapper;
use rmq_protocol::body::topic_config::TopicConfigSerializeWrapper;
use rmq_protocol::header::namesrv::{GetKvListByNamespaceRequestHeader, GetRouteInfoRequestHeader};
use rmq_protocol::net::{ClientConfig, RemotingClient};
use rmq_protocol::{RemotingCommand, request_code as rc, response_code as code};
use std::collections::BTreeMap;
use std::time::Duration;

/// Splits `host:port;host:port` (also `,`-separated) into addresses.
pub fn parse_name_servers(list: &str) -> Result<Vec<String>, AdminError> {
    let addrs: Vec<String> = list
        .split([';', ','])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let valid = |a: &String| {
        a.rsplit_once(':')
            .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0))
    };
    if addrs.is_empty() || !addrs.iter().all(valid) {
        return Err(AdminError::Address(list.to_owned()));
    }
    Ok(addrs)
}

/// The admin client of one cluster's nameservers.
pub struct Admin {
    client: RemotingClient,
    name_servers: Vec<String>,
    timeout: Duration,
    /// Signs every request (when it holds credentials); its TLS is in `client`'s config.
    security: AdminSecurity,
}

impl Admin {
    /// An admin client for `name_servers` with a 5 s call timeout and 3 s connect timeout,
    /// unsigned and in plaintext.
    pub fn new(name_servers: Vec<String>) -> Self {
        Self::with_timeouts(name_servers, Duration::from_secs(3), Duration::from_secs(5))
    }

    /// An admin client with explicit timeouts, unsigned and in plaintext.
    pub fn with_timeouts(name_servers: Vec<String>, connect: Duration, call: Duration) -> Self {
        Self::with_security(name_servers, connect, call, AdminSecurity::none())
    }

    /// An admin client for a cluster with `spec.security`: every request is signed with
    /// `security`'s credentials and every connection made with its TLS (when set).
    pub fn with_security(
        name_servers: Vec<String>,
        connect: Duration,
        call: Duration,
        security: AdminSecurity,
    ) -> Self {
        let config = ClientConfig {
            connect_timeout: connect,
            tls: security.tls().cloned(),
            ..ClientConfig::default()
        };
        Self {
            client: RemotingClient::new(config),
            name_servers,
            timeout: call,
            security,
        }
    }

    /// The credentials and TLS this client uses.
    pub fn security(&self) -> &AdminSecurity {
        &self.security
    }

    /// The nameservers.
    pub fn name_servers(&self) -> &[String] {
        &self.name_servers
    }

    /// Sends `req` to `addr`; any response code other than SUCCESS is an error.
    pub async fn call(
        &self,
        addr: &str,
        req: RemotingCommand,
        what: &str,
    ) -> Result<RemotingCommand, AdminError> {
        let resp = self.call_any(addr, req, what).await?;
        if resp.code != code::SUCCESS {
            return Err(refused(addr, what, &resp));
        }
        Ok(resp)
    }

    /// Sends `req` to `addr` (signed, when the client has credentials) and returns whatever
    /// code comes back.
    pub async fn call_any(
        &self,
        addr: &str,
        mut req: RemotingCommand,
        what: &str,
    ) -> Result<RemotingCommand, AdminError> {
        self.security
            .sign(&mut req)
            .map_err(|source| AdminError::Sign {
                what: what.to_owned(),
                source,
            })?;
        self.client
            .invoke(addr, req, self.timeout)
            .await
            .map_err(|source| {
                // A failed connection must not be reused for the next call.
                self.client.close(addr);
                AdminError::Net {
                    addr: addr.to_owned(),
                    what: what.to_owned(),
                    hint: net_hint(&source, self.security.tls().is_some()),
                    source,
                }
            })
    }

    /// Asks each nameserver in turn until one answers.
    async fn first_name_server<T, F, Fut>(&self, f: F) -> Result<T, AdminError>
    where
        F: Fn(String) -> Fut,
        Fut: Future<Output = Result<T, AdminError>>,
    {
        let mut reasons = Vec::new();
        for ns in &self.name_servers {
            match f(ns.clone()).await {
                Ok(v) => return Ok(v),
                Err(e @ (AdminError::Refused { .. } | AdminError::Body { .. })) => return Err(e),
                Err(e) => reasons.push(e.to_string()),
            }
        }
        Err(AdminError::NoNameServer {
            addrs: self.name_servers.clone(),
            reasons: reasons.join("; "),
        })
    }

    /// GET_BROKER_CLUSTER_INFO from the first nameserver that answers.
    pub async fn cluster_info(&self) -> Result<ClusterInfo, AdminError> {
        self.first_name_server(|ns| async move { self.cluster_info_at(&ns).await })
            .await
    }

    /// GET_BROKER_CLUSTER_INFO from one nameserver.
    pub async fn cluster_info_at(&self, ns: &str) -> Result<ClusterInfo, AdminError> {
        let what = "GET_BROKER_CLUSTER_INFO";
        let resp = self
            .call(
                ns,
                RemotingCommand::request(rc::GET_BROKER_CLUSTER_INFO),
                what,
            )
            .await?;
        body(ns, what, &resp)
    }

    /// The route of `topic`, `None` if the nameservers know no route.
    pub async fn route(&self, topic: &str) -> Result<Option<TopicRouteData>, AdminError> {
        let what = format!("GET_ROUTEINFO_BY_TOPIC {topic}");
        self.first_name_server(|ns| {
            let what = what.clone();
            async move {
                let req = RemotingCommand::request_with(
                    rc::GET_ROUTEINFO_BY_TOPIC,
                    &GetRouteInfoRequestHeader {
                        topic: topic.to_owned(),
                        accept_standard_json_only: Some(true),
                    },
                );
                let resp = self.call_any(&ns, req, &what).await?;
                match resp.code {
                    code::SUCCESS => body(&ns, &what, &resp).map(Some),
                    code::TOPIC_NOT_EXIST => Ok(None),
                    _ => Err(refused(&ns, &what, &resp)),
                }
            }
        })
        .await
    }

    /// GET_ALL_TOPIC_LIST_FROM_NAMESERVER.
    pub async fn topic_list(&self) -> Result<Vec<String>, AdminError> {
        let what = "GET_ALL_TOPIC_LIST_FROM_NAMESERVER";
        self.first_name_server(|ns| async move {
            let req = RemotingCommand::request(rc::GET_ALL_TOPIC_LIST_FROM_NAMESERVER);
            let resp = self.call(&ns, req, what).await?;
            body::<TopicList>(&ns, what, &resp).map(|l| l.topic_list)
        })
        .await
    }

    /// GET_ALL_TOPIC_CONFIG from a broker.
    pub async fn topic_configs(
        &self,
        broker: &str,
    ) -> Result<TopicConfigSerializeWrapper, AdminError> {
        let what = "GET_ALL_TOPIC_CONFIG";
        let resp = self
            .call(
                broker,
                RemotingCommand::request(rc::GET_ALL_TOPIC_CONFIG),
                what,
            )
            .await?;
        body(broker, what, &resp)
    }

    /// GET_ALL_SUBSCRIPTIONGROUP_CONFIG from a broker.
    pub async fn group_configs(
        &self,
        broker: &str,
    ) -> Result<SubscriptionGroupWrapper, AdminError> {
        let what = "GET_ALL_SUBSCRIPTIONGROUP_CONFIG";
        let req = RemotingCommand::request(rc::GET_ALL_SUBSCRIPTIONGROUP_CONFIG);
        let resp = self.call(broker, req, what).await?;
        body(broker, what, &resp)
    }

    /// GET_BROKER_RUNTIME_INFO from a broker.
    pub async fn runtime_info(&self, broker: &str) -> Result<BTreeMap<String, String>, AdminError> {
        let what = "GET_BROKER_RUNTIME_INFO";
        let req = RemotingCommand::request(rc::GET_BROKER_RUNTIME_INFO);
        let resp = self.call(broker, req, what).await?;
        body::<KvTable>(broker, what, &resp).map(|t| t.table)
    }

    /// The KV entries of `namespace` on one nameserver (empty when the namespace is unknown).
    pub async fn kv_list(
        &self,
        ns: &str,
        namespace: &str,
    ) -> Result<BTreeMap<String, String>, AdminError> {
        let what = format!("GET_KVLIST_BY_NAMESPACE {namespace}");
        let req = RemotingCommand::request_with(
            rc::GET_KVLIST_BY_NAMESPACE,
            &GetKvListByNamespaceRequestHeader {
                namespace: namespace.to_owned(),
            },
        );
        let resp = self.call_any(ns, req, &what).await?;
        match resp.code {
            code::SUCCESS => body::<KvTable>(ns, &what, &resp).map(|t| t.table),
            code::QUERY_NOT_FOUND => Ok(BTreeMap::new()),
            _ => Err(refused(ns, &what, &resp)),
        }
    }
}

fn refused(addr: &str, what: &str, resp: &RemotingCommand) -> AdminError {
    AdminError::Refused {
        addr: addr.to_owned(),
        what: what.to_owned(),
        code: resp.code,
        remark: resp.remark_str().to_owned(),
    }
}

fn body<T: serde::de::DeserializeOwned>(
    addr: &str,
    what: &str,
    resp: &RemotingCommand,
) -> Result<T, AdminError> {
    from_json(stringify!(T), &resp.body).map_err(|e| AdminError::Body {
        addr: addr.to_owned(),
        what: what.to_owned(),
        message: e.to_string(),
    })
}
