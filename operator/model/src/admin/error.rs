//! [`AdminError`]: an admin call that failed, naming the address.

use rmq_protocol::net::NetError;
use rmq_protocol::response_code;

/// An admin call that failed; every variant names the address.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// No nameserver answered.
    #[error("cannot reach any nameserver ({}): {reasons} (fix: check --namesrv / namesrvAddr, that the nameserver runs, and whether it enforces TLS: then pass --tls-ca)", addrs.join(", "))]
    NoNameServer {
        /// Every nameserver tried, in order.
        addrs: Vec<String>,
        /// Why each failed.
        reasons: String,
    },
    /// A call failed on the network.
    #[error("{what} at {addr} failed: {source}{hint}")]
    Net {
        /// The nameserver or broker called (`host:port`).
        addr: String,
        /// The request, e.g. `GET_ALL_TOPIC_CONFIG`.
        what: String,
        /// The connect, I/O or timeout failure.
        #[source]
        source: NetError,
        /// A likely cause and its fix, starting with ` (`, or empty.
        hint: &'static str,
    },
    /// The peer answered with an error code.
    #[error(
        "{what} at {addr} was refused (code {code} {}): {remark}{}",
        response_code::name(*code),
        refusal_hint(*code)
    )]
    Refused {
        /// The nameserver or broker called (`host:port`).
        addr: String,
        /// The request, e.g. `UPDATE_AND_CREATE_TOPIC orders`.
        what: String,
        /// The RocketMQ response code (not SUCCESS).
        code: i32,
        /// The peer's explanation, as it sent it.
        remark: String,
    },
    /// The response body could not be read.
    #[error("{what} at {addr}: unreadable response: {message}")]
    Body {
        /// The nameserver or broker called (`host:port`).
        addr: String,
        /// The request whose answer could not be read.
        what: String,
        /// Why the JSON body did not parse.
        message: String,
    },
    /// A request could not be signed with the admin credentials.
    #[error("cannot sign {what}: {source}")]
    Sign {
        /// The request, e.g. `GET_ALL_TOPIC_CONFIG`.
        what: String,
        /// Why (an empty secret key).
        #[source]
        source: rmq_acl::SignError,
    },
    /// The address list is malformed.
    #[error("invalid nameserver address list {0:?} (fix: write host:port;host:port)")]
    Address(String),
}

/// What a plaintext connection closed by the peer usually means.
const PLAINTEXT_CLOSED_HINT: &str = " (the peer closed a plaintext connection: if the cluster \
    enforces TLS, connect with TLS; rmqctl: --tls-ca FILE or RMQ_TLS_CA)";
/// What a TLS connection closed by the peer usually means.
const TLS_CLOSED_HINT: &str = " (the peer closed the TLS connection: if it requires client \
    certificates, present one signed by its CA; rmqctl: --tls-client-cert FILE \
    --tls-client-key FILE)";

/// The likely cause of a network failure, and its fix: a closed connection usually means TLS
/// settings that do not match the server's (`tls` says whether the client used TLS).
pub(crate) fn net_hint(source: &NetError, tls: bool) -> &'static str {
    match source {
        NetError::Closed { .. } if tls => TLS_CLOSED_HINT,
        NetError::Closed { .. } => PLAINTEXT_CLOSED_HINT,
        _ => "",
    }
}

/// How to fix a refusal whose code says what is wrong (empty for other codes).
fn refusal_hint(code: i32) -> &'static str {
    match code {
        response_code::NO_PERMISSION => {
            " (fix: the cluster's ACL refused the request: sign it with the accessKey/secretKey \
             of an admin account of its plain_acl.yml; rmqctl: --access-key/--secret-key or \
             RMQ_ACCESS_KEY/RMQ_SECRET_KEY)"
        }
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_names_its_code_and_no_permission_says_how_to_sign() {
        let refused = |code| AdminError::Refused {
            addr: "127.0.0.1:10911".into(),
            what: "GET_ALL_TOPIC_CONFIG".into(),
            code,
            remark: "no AccessKey".into(),
        };
        let e = refused(response_code::NO_PERMISSION).to_string();
        assert!(e.contains("(code 16 NO_PERMISSION): no AccessKey"), "{e}");
        assert!(e.contains("--access-key"), "{e}");
        let e = refused(response_code::SYSTEM_ERROR).to_string();
        assert!(e.ends_with("(code 1 SYSTEM_ERROR): no AccessKey"), "{e}");
    }

    #[test]
    fn a_closed_connection_points_at_the_tls_settings() {
        let closed = NetError::Closed {
            addr: "127.0.0.1:9876".into(),
        };
        assert!(net_hint(&closed, false).contains("--tls-ca"));
        assert!(net_hint(&closed, true).contains("--tls-client-cert"));
        assert_eq!(net_hint(&NetError::Address("x".into()), false), "");
    }
}
