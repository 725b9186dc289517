//! rmq nameserver: broker registry and topic routes.
