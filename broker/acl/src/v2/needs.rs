//! What a remoting request needs under ACL 2.0: the resources it touches and the actions it
//! performs on each (Java's `DefaultAuthorizationContextBuilder` and the `@RocketMQAction`
//! annotations of the request headers). Client requests reuse ACL 1.0's reading of the request
//! ([`crate::resource::needs`]: retry topics are their group, heartbeats and queue locks are
//! read from the body); administration requests need `Create`/`Delete` on the topic or group
//! they name, or `Update` on `Cluster:<brokerClusterName>`. Other requests (queries, stats)
//! need an authenticated user only.

use crate::perm::Perm;
use crate::resource::{self, BodyError, TRACE_TOPIC, extra_code};
use crate::v2::model::{Action, Resource};
use rmq_protocol::{ExtFields, request_code as rc};

/// One thing a request needs: any of `actions` on `resource`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    /// On what.
    pub resource: Resource,
    /// Satisfied by an entry allowing any one of these.
    pub actions: Vec<Action>,
}

/// Whether `code` is one of the ACL 2.0 administration codes (3001 to 3010), which only super
/// users may send.
pub fn is_auth_admin(code: i32) -> bool {
    (extra_code::AUTH_FIRST..=extra_code::AUTH_LAST).contains(&code)
}

/// What request `code` needs on a broker of cluster `cluster`.
pub fn needs(
    code: i32,
    fields: &ExtFields,
    body: &[u8],
    cluster: &str,
) -> Result<Vec<Need>, BodyError> {
    if resource::is_admin_only(code) {
        return Ok(vec![admin_need(code, fields, body, cluster)]);
    }
    let extra: &[Action] = match code {
        rc::QUERY_CONSUMER_OFFSET
        | rc::QUERY_MESSAGE
        | rc::GET_CONSUMER_LIST_BY_GROUP
        | rc::GET_ROUTEINFO_BY_TOPIC => &[Action::Get],
        rc::UPDATE_CONSUMER_OFFSET => &[Action::Update],
        _ => &[],
    };
    let mut out = Vec::new();
    for n in resource::needs(code, fields, body)? {
        let (resource, mut actions) = match (&n.resource, n.perm) {
            (resource::Resource::Topic(t), _) if n.perm == Perm::PUB && t == TRACE_TOPIC => {
                continue;
            }
            (resource::Resource::Topic(t), p) => (Resource::topic(t), actions_of(p)),
            (resource::Resource::Group(g), p) => (Resource::group(g), actions_of(p)),
        };
        for a in extra {
            if !actions.contains(a) {
                actions.push(*a);
            }
        }
        let need = Need { resource, actions };
        if !out.contains(&need) {
            out.push(need);
        }
    }
    Ok(out)
}

/// ACL 1.0's PUB / SUB / ANY as ACL 2.0 actions (ANY: a route query, Pub, Sub or Get).
fn actions_of(p: Perm) -> Vec<Action> {
    match p {
        Perm::PUB => vec![Action::Pub],
        Perm::SUB => vec![Action::Sub],
        _ => vec![Action::Pub, Action::Sub, Action::Get],
    }
}

/// An administration request: the topic or group it creates or deletes, else the cluster.
fn admin_need(code: i32, fields: &ExtFields, body: &[u8], cluster: &str) -> Need {
    let field = |k: &str| fields.get(k).filter(|v| !v.is_empty());
    let topic = |actions: Vec<Action>| {
        field("topic").map(|t| Need {
            resource: Resource::topic(t),
            actions,
        })
    };
    let named = match code {
        rc::UPDATE_AND_CREATE_TOPIC | extra_code::UPDATE_AND_CREATE_STATIC_TOPIC => {
            topic(vec![Action::Create, Action::Update])
        }
        rc::DELETE_TOPIC_IN_BROKER => topic(vec![Action::Delete]),
        rc::DELETE_SUBSCRIPTIONGROUP => field("groupName").map(|g| Need {
            resource: Resource::group(g),
            actions: vec![Action::Delete],
        }),
        rc::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP => group_in_body(body).map(|g| Need {
            resource: Resource::group(&g),
            actions: vec![Action::Create, Action::Update],
        }),
        _ => None,
    };
    named.unwrap_or_else(|| Need {
        resource: Resource::cluster(cluster),
        actions: vec![Action::Update],
    })
}

/// The `groupName` of a subscription group config body.
fn group_in_body(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Group {
        group_name: String,
    }
    serde_json::from_slice::<Group>(body)
        .ok()
        .map(|g| g.group_name)
        .filter(|g| !g.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> ExtFields {
        let mut f = ExtFields::new();
        for (k, v) in pairs {
            f.insert(k, v);
        }
        f
    }

    fn need(resource: Resource, actions: &[Action]) -> Need {
        Need {
            resource,
            actions: actions.to_vec(),
        }
    }

    #[test]
    fn client_requests() {
        let f = fields(&[("topic", "t"), ("consumerGroup", "cg"), ("b", "t")]);
        let n = |code| needs(code, &f, b"", "c").expect("needs");
        assert_eq!(
            n(rc::SEND_MESSAGE_V2),
            [need(Resource::topic("t"), &[Action::Pub])]
        );
        assert_eq!(
            n(rc::PULL_MESSAGE),
            [
                need(Resource::topic("t"), &[Action::Sub]),
                need(Resource::group("cg"), &[Action::Sub])
            ]
        );
        assert_eq!(
            n(rc::UPDATE_CONSUMER_OFFSET)[1],
            need(Resource::group("cg"), &[Action::Sub, Action::Update])
        );
        assert_eq!(
            n(rc::GET_ROUTEINFO_BY_TOPIC),
            [need(
                Resource::topic("t"),
                &[Action::Pub, Action::Sub, Action::Get]
            )]
        );
        let retry = fields(&[("topic", "%RETRY%cg")]);
        assert_eq!(
            needs(rc::GET_ROUTEINFO_BY_TOPIC, &retry, b"", "c").expect("needs"),
            [need(Resource::group("cg"), &[Action::Sub, Action::Get])]
        );
        let trace = fields(&[("topic", TRACE_TOPIC)]);
        assert!(
            needs(rc::SEND_MESSAGE, &trace, b"", "c")
                .expect("needs")
                .is_empty()
        );
        assert!(n(rc::GET_BROKER_CONFIG).is_empty());
    }

    #[test]
    fn admin_requests() {
        let f = fields(&[("topic", "t"), ("groupName", "g")]);
        let n = |code, body: &[u8]| needs(code, &f, body, "DefaultCluster").expect("needs");
        assert_eq!(
            n(rc::UPDATE_AND_CREATE_TOPIC, b""),
            [need(
                Resource::topic("t"),
                &[Action::Create, Action::Update]
            )]
        );
        assert_eq!(
            n(rc::DELETE_SUBSCRIPTIONGROUP, b""),
            [need(Resource::group("g"), &[Action::Delete])]
        );
        assert_eq!(
            n(
                rc::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP,
                br#"{"groupName":"g2"}"#
            ),
            [need(
                Resource::group("g2"),
                &[Action::Create, Action::Update]
            )]
        );
        assert_eq!(
            n(rc::UPDATE_BROKER_CONFIG, b""),
            [need(Resource::cluster("DefaultCluster"), &[Action::Update])]
        );
        assert!(is_auth_admin(3001) && is_auth_admin(3010) && !is_auth_admin(3011));
    }
}
