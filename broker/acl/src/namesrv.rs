//! The nameserver's access decision. Reads (routes, cluster info, KV lookups) stay open: every
//! client looks up routes, and Java clients without credentials must keep working against a
//! cluster whose brokers decide what they may do. Every request that changes the nameserver's
//! state — broker registration, KV config, topic registration or deletion, write permission,
//! configuration — needs a signed request from an admin account (brokers sign theirs with the
//! `innerClientAuthenticationCredentials` account), or a globally white-listed address.

use crate::config::AclConfig;
use crate::decide::{Decision, Denial, DenyReason, Grant, Request, decide};
use crate::resource::extra_code;
use rmq_protocol::request_code as rc;

/// Request codes the nameserver checks; everything else is answered without credentials.
pub const PROTECTED_CODES: &[i32] = &[
    rc::PUT_KV_CONFIG,
    rc::DELETE_KV_CONFIG,
    rc::REGISTER_BROKER,
    rc::UNREGISTER_BROKER,
    rc::BROKER_HEARTBEAT,
    rc::WIPE_WRITE_PERM_OF_BROKER,
    rc::ADD_WRITE_PERM_OF_BROKER,
    rc::DELETE_TOPIC_IN_NAMESRV,
    rc::REGISTER_TOPIC_IN_NAMESRV,
    extra_code::UPDATE_NAMESRV_CONFIG,
];

/// Whether the nameserver checks credentials for `code`.
pub fn protects(code: i32) -> bool {
    PROTECTED_CODES.contains(&code)
}

/// `None` if the nameserver may process `req`, else the denial to answer with.
pub fn check(config: &AclConfig, req: &Request<'_>) -> Option<Denial> {
    if !protects(req.code) {
        return None;
    }
    let grant = match decide(config, req) {
        Decision::Deny(d) => return Some(d),
        Decision::Allow(g) => g,
    };
    match grant {
        Grant::GlobalWhiteAddress => None,
        Grant::WhiteAddress(a) | Grant::Signed(a) if a.admin => None,
        Grant::WhiteAddress(a) | Grant::Signed(a) => {
            let name = rmq_protocol::request_code::name(req.code);
            Some(Denial::new(
                DenyReason::AdminOnly,
                format!(
                    "ACL: the nameserver accepts request code {} ({name}) only from an admin \
                     account and AccessKey {:?} is not one; brokers sign with \
                     innerClientAuthenticationCredentials, which must name an account with \
                     admin: true",
                    req.code, a.access_key
                ),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::Credentials;
    use rmq_protocol::ExtFields;
    use std::net::{IpAddr, Ipv4Addr};

    const YML: &str = "globalWhiteRemoteAddresses:\n- 10.9.*.*\naccounts:\n\
                       - accessKey: brokerAdmin\n  secretKey: broker-secret\n  admin: true\n\
                       - accessKey: producer1\n  secretKey: producer-secret\n";
    const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    fn config() -> AclConfig {
        AclConfig::parse(YML, "plain_acl.yml").unwrap()
    }

    fn fields(creds: Option<&Credentials>, body: &[u8]) -> ExtFields {
        let mut f = ExtFields::new();
        f.insert("brokerName", "broker-a");
        if let Some(c) = creds {
            for (k, v) in c.sign_request(f.iter(), body).unwrap() {
                f.insert(k, v);
            }
        }
        f
    }

    fn check_code(code: i32, creds: Option<&Credentials>, remote: IpAddr) -> Option<Denial> {
        let body = b"{\"topicConfigTable\":{}}";
        let f = fields(creds, body);
        let req = Request {
            code,
            version: rmq_protocol::codes::version::CURRENT,
            fields: &f,
            body,
            remote,
        };
        check(&config(), &req)
    }

    #[test]
    fn reads_need_nothing_and_writes_need_an_admin() {
        assert_eq!(check_code(rc::GET_ROUTEINFO_BY_TOPIC, None, LOCAL), None);
        assert_eq!(check_code(rc::GET_BROKER_CLUSTER_INFO, None, LOCAL), None);
        let admin = Credentials::new("brokerAdmin", "broker-secret");
        let user = Credentials::new("producer1", "producer-secret");
        for &code in PROTECTED_CODES {
            let d = check_code(code, None, LOCAL).unwrap();
            assert_eq!(d.reason, DenyReason::NoAccessKey, "code {code}");
            assert_eq!(check_code(code, Some(&admin), LOCAL), None, "code {code}");
            let d = check_code(code, Some(&user), LOCAL).unwrap();
            assert_eq!(d.reason, DenyReason::AdminOnly, "code {code}");
            assert!(d.remark.contains("admin"), "{}", d.remark);
        }
    }

    #[test]
    fn wrong_secrets_are_refused_without_telling_which_part_was_wrong() {
        let wrong = Credentials::new("brokerAdmin", "not-the-secret");
        let unknown = Credentials::new("nobody", "broker-secret");
        let a = check_code(rc::REGISTER_BROKER, Some(&wrong), LOCAL).unwrap();
        let b = check_code(rc::REGISTER_BROKER, Some(&unknown), LOCAL).unwrap();
        assert_eq!(a.reason, DenyReason::BadCredentials);
        assert_eq!(b.reason, DenyReason::BadCredentials);
        assert_eq!(
            a.remark.replace("brokerAdmin", "K"),
            b.remark.replace("nobody", "K")
        );
    }

    #[test]
    fn a_globally_white_listed_address_registers_without_credentials() {
        let white = IpAddr::V4(Ipv4Addr::new(10, 9, 1, 2));
        assert_eq!(check_code(rc::REGISTER_BROKER, None, white), None);
    }
}
