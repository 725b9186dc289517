//! Process set-up shared by the `rmq-broker` and `rmq-namesrv` binaries: logging and the Java
//! properties config file (`-c broker.conf`, `-c namesrv.conf`). The two crates share no library
//! that links `tracing-subscriber` and `java-properties`, so each compiles this one file as its
//! `process` module (`#[path]` in its `lib.rs`). The stop signal is
//! `rmq_protocol::net::stop_on_signal`.

use std::path::Path;

/// Logs to stdout; `RMQ_LOG` (an `EnvFilter`) sets the verbosity, `info` by default. Colours
/// only on a terminal: a log file or a container log gets plain text.
pub fn init_tracing() {
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_ansi(std::io::stdout().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RMQ_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
}

/// The entries of a Java properties file, sorted by key (so they apply in a stable order).
pub fn read_properties(
    path: &Path,
) -> Result<Vec<(String, String)>, java_properties::PropertiesError> {
    let file = std::fs::File::open(path)?;
    let props = java_properties::read(std::io::BufReader::new(file))?;
    let mut entries: Vec<_> = props.into_iter().collect();
    entries.sort();
    Ok(entries)
}
