//! TLS on the remoting protocol (feature `tls`), with rustls and the ring provider.
//!
//! Settings use Apache RocketMQ's key names (`tls.server.mode`, `tls.server.certPath`, ...; see
//! [`keys`]) so existing `tls.properties` files carry over. A server given a [`ServerTls`] in
//! `permissive` mode serves TLS and plaintext clients on one port (told apart by the first byte),
//! in `enforcing` mode TLS only; its certificate files are reloaded when they change. A client
//! given a [`ClientTls`] runs the handshake right after connecting. Other protocols on raw TCP
//! (the broker's HA port) use the same decision and handshakes through [`MaybeTlsStream`].

mod accept;
mod client;
mod error;
mod files;
mod insecure;
mod reload;
mod server;
mod settings;
mod stream;

pub(crate) use accept::spawn as spawn_accept;
pub use client::{ClientTls, server_name};
pub use error::TlsError;
pub use server::ServerTls;
pub use settings::{ClientAuth, ClientTlsSettings, ServerTlsSettings, TlsMode, TlsSettings, keys};
pub use stream::{AcceptError, MaybeTlsStream};
