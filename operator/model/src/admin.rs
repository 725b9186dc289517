//! Admin I/O (feature `admin`): observing nameservers and brokers and executing a reconcile
//! plan through `rmq_protocol::net::RemotingClient`.
