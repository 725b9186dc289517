//! Node user data: a header of `RMQ_*='value'` assignments followed, byte for byte, by the same
//! first-boot script the CloudFormation templates embed (`cloudformation/userdata/node-bootstrap.sh`,
//! compiled in with `include_str!`). The header carries exactly the variables the template's
//! header sets; `RMQ_SIGNAL_STACK` is empty because there is no stack to signal. A node of a
//! cluster with `spec.security` also gets `RMQ_SECURITY_CONF` (its conf keys), `RMQ_SECRETS`
//! (the `secret/key` files it reads) and `RMQ_SECRETS_SHA256` (the pinned fetch script); other
//! nodes' user data is unchanged by the feature. Likewise `failover: Automatic` adds
//! `RMQ_FAILOVER_CONF` (a broker's controller-mode keys) or `RMQ_CONTROLLER_CONF` and
//! `RMQ_CONTROLLER_SHA256` (the controller a nameserver node runs), and nothing otherwise.

use crate::resource::{State, Value};
use rmq_model::validate::Retention;

/// `cloudformation/userdata/node-bootstrap.sh`, verbatim.
pub const BOOTSTRAP: &str = include_str!("../../../cloudformation/userdata/node-bootstrap.sh");

/// EC2's limit on user data (before base64).
pub const MAX_USER_DATA: usize = 16 * 1024;

/// What a node runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeRole {
    /// A nameserver node: runs rmq-namesrv.
    NameServer,
    /// A broker node: runs rmq-broker on its data volume.
    Broker,
}

impl NodeRole {
    /// `namesrv` or `broker` (`RMQ_ROLE`, `rmq:role`).
    pub fn as_str(self) -> &'static str {
        match self {
            NodeRole::NameServer => "namesrv",
            NodeRole::Broker => "broker",
        }
    }

    /// The binary the node runs (`rmq-namesrv`, `rmq-broker`): its object name in the bucket.
    pub fn binary(self) -> &'static str {
        match self {
            NodeRole::NameServer => "rmq-namesrv",
            NodeRole::Broker => "rmq-broker",
        }
    }
}

/// The broker identity and broker.conf settings of a broker node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerIdentity {
    /// brokerName (`broker-a`).
    pub name: String,
    /// brokerId: 0 for the master, 1.. for slaves; the replica's index with `ELECTED` (the
    /// bootstrap does not write it then: the controllers assign it).
    pub id: u32,
    /// brokerRole (`ASYNC_MASTER`, `SYNC_MASTER`, `SLAVE`), or `ELECTED` in controller mode.
    pub role: String,
    /// flushDiskType (`ASYNC_FLUSH`, `SYNC_FLUSH`).
    pub flush: String,
    /// fileReservedTime, deleteWhen and diskMaxUsedSpaceRatio (`spec.brokers.retention`).
    pub retention: Retention,
}

/// Every value of one node's header. Values that come from other resources are [`Value`]s.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeHeader {
    /// The cluster's name (`brokerClusterName`).
    pub cluster: String,
    /// Node name (`namesrv-0`, `broker-a-1`).
    pub node: String,
    /// What the node runs (`RMQ_ROLE`).
    pub role: NodeRole,
    /// The fixed address (private IP of the node's interface).
    pub node_ip: Value,
    /// The node's interface.
    pub eni_id: Value,
    /// The broker's data volume.
    pub volume_id: Option<Value>,
    /// Broker identity (brokers only).
    pub broker: Option<BrokerIdentity>,
    /// `namesrvAddr` (brokers only).
    pub namesrv_addr: Option<Value>,
    /// The bucket the node downloads the binaries from.
    pub bucket: String,
    /// The key prefix of the binaries in the bucket.
    pub prefix: String,
    /// Region of the bucket.
    pub artefact_region: String,
    /// SHA-256 of the node's binary (`RMQ_BINARY_SHA256`; empty: only `NAME.sha256` is checked).
    /// Part of the user data, so a new build changes the launch template and rolls the node.
    pub binary_sha256: String,
    /// Region of the cluster.
    pub region: String,
    /// CloudWatch Logs group, empty for none.
    pub log_group: String,
    /// `spec.security` on this node (default: off).
    pub security: NodeSecurity,
    /// `failover: Automatic` on this node (default: off).
    pub failover: NodeFailover,
}

/// What `failover: Automatic` means for one node's user data. Each conf is a list of
/// `key=value` [`Value`]s (addresses refer to the nameserver interfaces) the bootstrap writes one
/// per line; values hold no space.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeFailover {
    /// A broker's controller-mode broker.conf lines (`enableControllerMode`, `controllerAddr`,
    /// ...) as rmq-model renders them (`RMQ_FAILOVER_CONF`); empty on nameservers.
    pub broker_conf: Vec<Value>,
    /// The controller.conf of the controller this nameserver node runs, as rmq-model renders
    /// it (`RMQ_CONTROLLER_CONF`; the bootstrap roots `controllerStorePath` under `RMQ_ROOT`);
    /// empty without one.
    pub controller_conf: Vec<Value>,
    /// SHA-256 of the `rmq-controller` the node fetches (`RMQ_CONTROLLER_SHA256`; empty: only
    /// `rmq-controller.sha256` is checked).
    pub controller_sha256: String,
}

impl NodeFailover {
    /// The header assignments (none without automatic failover).
    fn vars(&self) -> Vec<(&'static str, Value)> {
        let joined = |lines: &[Value]| {
            let mut parts = Vec::new();
            for (i, l) in lines.iter().enumerate() {
                if i > 0 {
                    parts.push(Value::lit(" "));
                }
                parts.push(l.clone());
            }
            Value::Concat { concat: parts }
        };
        let mut vars = Vec::new();
        if !self.broker_conf.is_empty() {
            vars.push(("RMQ_FAILOVER_CONF", joined(&self.broker_conf)));
        }
        if !self.controller_conf.is_empty() {
            vars.push(("RMQ_CONTROLLER_CONF", joined(&self.controller_conf)));
            vars.push(("RMQ_CONTROLLER_SHA256", Value::lit(&self.controller_sha256)));
        }
        vars
    }
}

/// What `spec.security` means for one node's user data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeSecurity {
    /// The node's broker.conf or namesrv.conf keys of `spec.security` (`aclFile=/etc/…`), as
    /// rmq-model renders them for every back-end; empty: security is off.
    pub conf: Vec<(String, String)>,
    /// The files the node fetches from SSM, `secret/key` (nameservers: no admin secret).
    pub files: Vec<String>,
    /// SHA-256 of the `rmq-node-secrets` artefact the node runs to fetch them.
    pub script_sha256: String,
}

impl NodeSecurity {
    /// The header assignments (none when security is off).
    fn vars(&self) -> Vec<(&'static str, String)> {
        if self.conf.is_empty() && self.files.is_empty() {
            return Vec::new();
        }
        let conf = self
            .conf
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ");
        vec![
            ("RMQ_SECURITY_CONF", conf),
            ("RMQ_SECRETS", self.files.join(" ")),
            ("RMQ_SECRETS_SHA256", self.script_sha256.clone()),
        ]
    }
}

/// The user data of a node as a [`Value`] (resolved when the referenced resources exist).
pub fn user_data(h: &NodeHeader) -> Value {
    let lit = |s: &str| Value::lit(s);
    // Nameservers get the template's parameter defaults, so that a broker setting never
    // changes (and rolls) a nameserver.
    let (bname, bid, brole, flush, retention) = match &h.broker {
        Some(b) => (
            b.name.clone(),
            b.id.to_string(),
            b.role.clone(),
            b.flush.clone(),
            b.retention.clone(),
        ),
        None => (
            String::new(),
            "0".into(),
            "ASYNC_MASTER".into(),
            "ASYNC_FLUSH".into(),
            Retention::default(),
        ),
    };
    let mut vars: Vec<(&str, Value)> = vec![
        ("RMQ_CLUSTER_NAME", lit(&h.cluster)),
        ("RMQ_NODE_NAME", lit(&h.node)),
        ("RMQ_ROLE", lit(h.role.as_str())),
        ("RMQ_NODE_IP", h.node_ip.clone()),
        ("RMQ_ENI_ID", h.eni_id.clone()),
        (
            "RMQ_VOLUME_ID",
            h.volume_id.clone().unwrap_or_else(|| lit("")),
        ),
        ("RMQ_BROKER_NAME", lit(&bname)),
        ("RMQ_BROKER_ID", lit(&bid)),
        ("RMQ_BROKER_ROLE", lit(&brole)),
        ("RMQ_FLUSH_DISK_TYPE", lit(&flush)),
        ("RMQ_FILE_RESERVED_TIME", lit(&retention.hours.to_string())),
        ("RMQ_DELETE_WHEN", lit(&retention.delete_when)),
        (
            "RMQ_DISK_MAX_USED_SPACE_RATIO",
            lit(&retention.max_disk_used_percent.to_string()),
        ),
        (
            "RMQ_NAMESRV_ADDR",
            h.namesrv_addr.clone().unwrap_or_else(|| lit("")),
        ),
        ("RMQ_ARTEFACT_BUCKET", lit(&h.bucket)),
        ("RMQ_ARTEFACT_PREFIX", lit(&h.prefix)),
        ("RMQ_ARTEFACT_REGION", lit(&h.artefact_region)),
        ("RMQ_BINARY_SHA256", lit(&h.binary_sha256)),
        ("RMQ_REGION", lit(&h.region)),
        ("RMQ_LOG_GROUP", lit(&h.log_group)),
        ("RMQ_SIGNAL_STACK", lit("")),
        ("RMQ_SIGNAL_RESOURCE", lit("")),
    ];
    vars.extend(h.security.vars().into_iter().map(|(k, v)| (k, lit(&v))));
    vars.extend(h.failover.vars());
    let mut parts = vec![lit(&format!(
        "#!/bin/bash\n# rmq user data: this header is rendered by rmq-aws (rmqctl aws apply) for node {} of cluster {};\n# the rest is cloudformation/userdata/node-bootstrap.sh.\n",
        h.node, h.cluster
    ))];
    for (name, v) in vars {
        parts.push(lit(&format!("{name}='")));
        parts.push(v);
        parts.push(lit("'\n"));
    }
    parts.push(lit(BOOTSTRAP));
    Value::Concat { concat: parts }
}

/// The user data as text, if every referenced resource exists in `state`.
pub fn render(h: &NodeHeader, state: &State) -> Option<String> {
    user_data(h).resolve(state)
}

/// True if `s` can be put between single quotes in the header unchanged.
pub fn quotable(s: &str) -> bool {
    !s.contains('\'') && !s.contains('\n')
}

/// Standard base64 (EC2 wants user data base64-encoded by the caller).
pub fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(char::from(T[(n >> 18) as usize & 63]));
        out.push(char::from(T[(n >> 12) as usize & 63]));
        out.push(if chunk.len() > 1 {
            char::from(T[(n >> 6) as usize & 63])
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            char::from(T[n as usize & 63])
        } else {
            '='
        });
    }
    out
}

/// Decodes standard base64 (whitespace ignored); `None` on bad input.
pub fn unbase64(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes().filter(|c| !c.is_ascii_whitespace()) {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::resource::{Actual, Kind};

    fn header() -> NodeHeader {
        NodeHeader {
            cluster: "demo".into(),
            node: "broker-b-1".into(),
            role: NodeRole::Broker,
            node_ip: Value::ip("eni/broker-b-1"),
            eni_id: Value::id("eni/broker-b-1"),
            volume_id: Some(Value::id("volume/broker-b-1")),
            broker: Some(BrokerIdentity {
                name: "broker-b".into(),
                id: 1,
                role: "SLAVE".into(),
                flush: "SYNC_FLUSH".into(),
                retention: Retention {
                    hours: 24,
                    delete_when: "03;15".into(),
                    max_disk_used_percent: 80,
                },
            }),
            namesrv_addr: Some(Value::Concat {
                concat: vec![Value::ip("eni/namesrv-0"), Value::lit(":9876")],
            }),
            bucket: "b".into(),
            prefix: "rmq/".into(),
            artefact_region: "us-east-1".into(),
            binary_sha256: "ab".repeat(32),
            region: "us-east-1".into(),
            log_group: String::new(),
            security: NodeSecurity::default(),
            failover: NodeFailover::default(),
        }
    }

    #[test]
    fn header_then_the_bootstrap_verbatim() {
        let h = header();
        let mut state = State::default();
        assert_eq!(render(&h, &state), None);
        state.put(
            Actual::new(Kind::NetworkInterface, "eni/broker-b-1", "eni-9").with("ip", "10.0.40.7"),
        );
        state.put(Actual::new(Kind::Volume, "volume/broker-b-1", "vol-4"));
        state.put(
            Actual::new(Kind::NetworkInterface, "eni/namesrv-0", "eni-1").with("ip", "10.0.1.5"),
        );
        let text = render(&h, &state).unwrap();
        let sha_line = format!("RMQ_BINARY_SHA256='{}'", "ab".repeat(32));
        assert!(text.starts_with("#!/bin/bash\n# rmq user data: "));
        assert!(text.ends_with(BOOTSTRAP));
        for line in [
            "RMQ_NODE_IP='10.0.40.7'",
            "RMQ_ENI_ID='eni-9'",
            "RMQ_VOLUME_ID='vol-4'",
            "RMQ_BROKER_ROLE='SLAVE'",
            "RMQ_NAMESRV_ADDR='10.0.1.5:9876'",
            "RMQ_SIGNAL_STACK=''",
            "RMQ_FILE_RESERVED_TIME='24'",
            "RMQ_DELETE_WHEN='03;15'",
            "RMQ_DISK_MAX_USED_SPACE_RATIO='80'",
            sha_line.as_str(),
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing");
        }
        assert!(text.len() < MAX_USER_DATA);
    }

    #[test]
    fn base64_round_trips() {
        for s in ["", "f", "fo", "foo", "foob", "fooba", "foobar"] {
            assert_eq!(unbase64(&base64(s.as_bytes())).unwrap(), s.as_bytes());
        }
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(b"fo"), "Zm8=");
    }
}
