//! The async remoting client: one connection per address, reconnected on demand; requests
//! matched to responses by opaque, with timeouts; oneway sends.

use super::RequestHandler;
use super::channel::{Channel, NetError};
use super::connection;
use crate::command::RemotingCommand;
use crate::frame::FrameLimits;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;

/// Client settings.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Frame limits for responses.
    pub limits: FrameLimits,
    /// Time allowed to connect, TLS handshake included.
    pub connect_timeout: Duration,
    /// Dial servers with TLS (`None`: plaintext).
    #[cfg(feature = "tls")]
    pub tls: Option<Arc<super::tls::ClientTls>>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            limits: FrameLimits::default(),
            connect_timeout: Duration::from_secs(3),
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

/// A handler that ignores server-initiated requests.
#[derive(Debug, Default, Clone, Copy)]
pub struct IgnoreRequests;

impl RequestHandler for IgnoreRequests {
    async fn handle(&self, _: &Channel, _: RemotingCommand) -> Option<RemotingCommand> {
        None
    }
}

/// Client for any number of remoting servers.
pub struct RemotingClient<H: RequestHandler = IgnoreRequests> {
    config: ClientConfig,
    handler: Arc<H>,
    channels: Mutex<HashMap<String, Channel>>,
}

impl RemotingClient<IgnoreRequests> {
    /// A client that ignores server-initiated requests.
    pub fn new(config: ClientConfig) -> Self {
        Self::with_handler(config, Arc::new(IgnoreRequests))
    }
}

impl<H: RequestHandler> RemotingClient<H> {
    /// A client whose connections hand server-initiated requests to `handler`.
    pub fn with_handler(config: ClientConfig, handler: Arc<H>) -> Self {
        Self {
            config,
            handler,
            channels: Mutex::new(HashMap::new()),
        }
    }

    /// The open connection to `addr`, connecting if needed.
    pub async fn channel(&self, addr: &str) -> Result<Channel, NetError> {
        if let Some(ch) = self.channels.lock().get(addr).filter(|c| !c.is_closed()) {
            return Ok(ch.clone());
        }
        if !addr.contains(':') {
            return Err(NetError::Address(addr.to_owned()));
        }
        let channel = tokio::time::timeout(self.config.connect_timeout, self.dial(addr))
            .await
            .map_err(|_| NetError::Connect {
                addr: addr.to_owned(),
                source: std::io::Error::new(std::io::ErrorKind::TimedOut, self.timed_out()),
            })?
            .map_err(|source| NetError::Connect {
                addr: addr.to_owned(),
                source,
            })?;
        let mut map = self.channels.lock();
        match map.get(addr).filter(|c| !c.is_closed()) {
            Some(existing) => {
                channel.close();
                Ok(existing.clone())
            }
            None => {
                map.insert(addr.to_owned(), channel.clone());
                Ok(channel)
            }
        }
    }

    /// Connects to `addr` (and runs the TLS handshake when configured) and starts driving the
    /// connection.
    async fn dial(&self, addr: &str) -> std::io::Result<Channel> {
        let stream = TcpStream::connect(addr).await?;
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.config.tls {
            let (remote, local) = (stream.peer_addr()?, stream.local_addr()?);
            stream.set_nodelay(true)?;
            let stream = tls.handshake(addr, stream).await?;
            let handler = self.handler.clone();
            return Ok(connection::spawn_tls(
                stream,
                remote,
                local,
                handler,
                self.drive(),
            ));
        }
        connection::spawn(stream, self.handler.clone(), self.drive())
    }

    /// Client connections never time out for idleness and never busy-poll.
    fn drive(&self) -> connection::Drive {
        connection::Drive {
            limits: self.config.limits,
            ..connection::Drive::default()
        }
    }

    fn timed_out(&self) -> &'static str {
        #[cfg(feature = "tls")]
        if self.config.tls.is_some() {
            return "connect or TLS handshake timed out";
        }
        "connect timed out"
    }

    /// Sends `request` to `addr` and waits up to `timeout` for the response.
    pub async fn invoke(
        &self,
        addr: &str,
        request: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand, NetError> {
        let ch = self.channel(addr).await?;
        ch.invoke(request, timeout).await
    }

    /// Sends `request` oneway.
    pub async fn invoke_oneway(
        &self,
        addr: &str,
        request: RemotingCommand,
    ) -> Result<(), NetError> {
        let ch = self.channel(addr).await?;
        if ch.send(request.oneway()) {
            Ok(())
        } else {
            Err(NetError::Closed {
                addr: addr.to_owned(),
            })
        }
    }

    /// Closes the connection to `addr`, if any.
    pub fn close(&self, addr: &str) {
        if let Some(ch) = self.channels.lock().remove(addr) {
            ch.close();
        }
    }

    /// Closes every connection.
    pub fn close_all(&self) {
        for (_, ch) in self.channels.lock().drain() {
            ch.close();
        }
    }
}

impl<H: RequestHandler> Drop for RemotingClient<H> {
    fn drop(&mut self) {
        self.close_all();
    }
}
