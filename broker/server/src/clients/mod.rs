//! Client sessions: which connections belong to which producer and consumer groups, the
//! consumers' subscriptions, and expiry of silent clients.

mod registry;

pub use registry::{ClientChannel, ClientRegistry, ConsumerGroupView};
