//! Talking to the controller replicas: a request goes to the replica believed to lead; an
//! answer `CONTROLLER_NOT_LEADER` (2007) or a connection failure moves on to the next one
//! (the remark of a 2007 may name the leader, which is tried first next time).

use rmq_controller::codes;
use rmq_protocol::RemotingCommand;
use rmq_protocol::net::{ClientConfig, RemotingClient};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// How long one controller may take to answer.
const TIMEOUT: Duration = Duration::from_secs(3);

/// A client of the controller group (`controllerAddr`).
pub struct ControllerClient {
    addrs: Vec<String>,
    leader: AtomicUsize,
    net: RemotingClient,
}

impl ControllerClient {
    /// A client of the replicas at `addrs`.
    pub fn new(addrs: Vec<String>) -> Self {
        Self {
            addrs,
            leader: AtomicUsize::new(0),
            net: RemotingClient::new(ClientConfig::default()),
        }
    }

    /// Every replica's address.
    pub fn addrs(&self) -> &[String] {
        &self.addrs
    }

    /// Sends `req` to the leader: tries each replica once, starting with the last one that
    /// led. Returns the leader's answer (any code but 2007), or what went wrong everywhere.
    pub async fn to_leader(&self, req: RemotingCommand) -> Result<RemotingCommand, String> {
        let n = self.addrs.len();
        let first = self.leader.load(Ordering::Relaxed);
        let mut why = Vec::new();
        for i in 0..n {
            let idx = (first + i) % n;
            let addr = &self.addrs[idx];
            match self.net.invoke(addr, req.clone(), TIMEOUT).await {
                Ok(resp) if resp.code == codes::NOT_LEADER => {
                    if let Some(j) = self.named_leader(resp.remark_str()) {
                        self.leader.store(j, Ordering::Relaxed);
                    }
                    why.push(format!("{addr}: not the leader"));
                }
                Ok(resp) => {
                    self.leader.store(idx, Ordering::Relaxed);
                    return Ok(resp);
                }
                Err(e) => why.push(format!("{addr}: {e}")),
            }
        }
        Err(format!(
            "no controller leader answered request {} ({}); check controllerAddr and that a \
             majority of the controllers runs",
            req.code,
            why.join("; ")
        ))
    }

    /// Sends `req` to one replica (heartbeats go to every replica).
    pub async fn to_one(
        &self,
        addr: &str,
        req: RemotingCommand,
    ) -> Result<RemotingCommand, String> {
        self.net
            .invoke(addr, req, TIMEOUT)
            .await
            .map_err(|e| format!("{addr}: {e}"))
    }

    /// The index of the replica a 2007 remark names, if it names one of ours.
    fn named_leader(&self, remark: &str) -> Option<usize> {
        self.addrs.iter().position(|a| remark.contains(a.as_str()))
    }
}
