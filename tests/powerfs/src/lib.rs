//! `rmq-powerfs`: a filesystem for tests that loses power on command.
//!
//! [`volume::Volume`] is the pure model (an in-memory tree plus a shadow of what fsync made
//! durable); [`fs::PowerFs`] serves it through FUSE; the `rmq-powerfs` binary mounts it and takes
//! commands (`cut`, `fail-fsync N`, `stats`, `quit`) on stdin. See `tests/harness.md`.

pub mod fs;
pub mod volume;
