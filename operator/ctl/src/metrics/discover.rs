//! Every broker the nameservers know (masters and slaves) and its metrics URL: the host of its
//! remoting address and the `httpListenPort` of its runtime info.

use super::aggregate::Role;
use super::scrape::{Endpoint, HTTP_OFF_HINT};
use crate::error::CtlError;
use rmq_model::admin::Admin;
use std::collections::BTreeMap;

/// A broker to scrape, or why it cannot be.
#[derive(Debug, Clone)]
pub struct Found {
    /// Cluster (empty for `--metrics` endpoints: read from their series).
    pub cluster: String,
    /// brokerName.
    pub broker: String,
    /// Remoting address.
    pub address: String,
    /// Master, slave, or unknown for `--metrics` endpoints.
    pub role: Role,
    /// Where its metrics are, or why that is not known.
    pub endpoint: Result<Endpoint, String>,
}

/// The brokers registered with `admin`'s nameservers (of `only`, when given). Metrics URLs
/// already in `known` (remoting address → endpoint) are reused; new ones are added to it.
pub async fn brokers(
    admin: &Admin,
    only: Option<&str>,
    known: &mut BTreeMap<String, Endpoint>,
) -> Result<Vec<Found>, CtlError> {
    let info = admin.cluster_info().await?;
    if let Some(c) = only
        && !info.cluster_addr_table.contains_key(c)
    {
        let known: Vec<&str> = info.cluster_addr_table.keys().map(String::as_str).collect();
        return Err(CtlError::Input(format!(
            "cluster {c:?} is not registered (known: {})",
            known.join(", ")
        )));
    }
    let mut found = Vec::new();
    for (cluster, names) in &info.cluster_addr_table {
        if only.is_some_and(|w| w != cluster) {
            continue;
        }
        for name in names {
            let Some(data) = info.broker_addr_table.get(name) else {
                continue;
            };
            for (id, addr) in &data.broker_addrs {
                let endpoint = match known.get(addr) {
                    Some(ep) => Ok(ep.clone()),
                    None => match admin.runtime_info(addr).await {
                        Ok(table) => endpoint_of(addr, &table),
                        Err(e) => Err(format!(
                            "cannot read the runtime info of {addr} (to find its HTTP port): {e}"
                        )),
                    },
                };
                if let Ok(ep) = &endpoint {
                    known.insert(addr.clone(), ep.clone());
                }
                found.push(Found {
                    cluster: cluster.clone(),
                    broker: name.clone(),
                    address: addr.clone(),
                    role: if *id == 0 { Role::Master } else { Role::Slave },
                    endpoint,
                });
            }
        }
    }
    Ok(found)
}

/// The metrics endpoint of the broker at remoting address `addr` whose runtime info is
/// `table`: same host, port `httpListenPort`.
pub fn endpoint_of(addr: &str, table: &BTreeMap<String, String>) -> Result<Endpoint, String> {
    let host = addr
        .rsplit_once(':')
        .map_or(addr, |(h, _)| h)
        .trim_start_matches('[')
        .trim_end_matches(']');
    let Some(port) = table.get("httpListenPort") else {
        return Err(format!(
            "{addr} reports no httpListenPort: {HTTP_OFF_HINT} (an Apache RocketMQ broker has no \
             /metrics: pass its rocketmq-exporter with --metrics URL)"
        ));
    };
    match port.trim().parse::<u16>() {
        Ok(port) if port > 0 => Ok(Endpoint {
            host: host.to_owned(),
            port,
            path: "/metrics".into(),
        }),
        _ => Err(format!(
            "{addr} reports httpListenPort={port:?}, not a port"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_http_port_of_the_runtime_info_on_the_remoting_host() {
        let ep = endpoint_of("10.0.0.5:10911", &table(&[("httpListenPort", "10918")])).unwrap();
        assert_eq!(ep.url(), "http://10.0.0.5:10918/metrics");
        let off =
            endpoint_of("10.0.0.5:10911", &table(&[("brokerVersionDesc", "V5")])).unwrap_err();
        assert!(
            off.contains("no httpListenPort") && off.contains("httpEnable=true"),
            "{off}"
        );
        let bad = endpoint_of("h:1", &table(&[("httpListenPort", "0")])).unwrap_err();
        assert!(bad.contains("not a port"), "{bad}");
    }
}
