//! Arguments of `rmqctl get metrics` and `rmqctl top`: which `/metrics` endpoints to scrape and
//! how often.

use super::NamesrvArg;
use clap::Args;
use std::time::Duration;

/// Where and how often `get metrics` and `top` scrape.
#[derive(Debug, Args, Clone)]
pub struct ScrapeArgs {
    /// Scrape this endpoint directly, repeatable: `http://HOST:PORT/metrics` or `HOST:PORT` (path
    /// `/metrics`). Works without a nameserver.
    #[arg(long = "metrics", value_name = "URL")]
    pub metrics: Vec<String>,
    /// Time between two scrapes; rates are the change over it: `1s`, `500ms`, `2.5` (seconds).
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_interval)]
    pub interval: Duration,
}

/// `rmqctl top`.
#[derive(Debug, Args)]
pub struct TopArgs {
    /// The nameservers: every broker they know (masters and slaves) is scraped.
    #[command(flatten)]
    pub namesrv: NamesrvArg,
    /// Endpoints and interval.
    #[command(flatten)]
    pub scrape: ScrapeArgs,
    /// Only this cluster.
    #[arg(long)]
    pub cluster: Option<String>,
    /// Include system topics and groups (retry/DLQ topics, broker-internal groups).
    #[arg(long)]
    pub all: bool,
    /// Print this many refreshes, then exit [default: until Ctrl-C].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub iterations: Option<u64>,
}

/// Parses `1s`, `500ms`, `2m` or a bare number of seconds (`2.5`); 10 ms to 1 hour.
pub fn parse_interval(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (number, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else {
        (t, 1.0)
    };
    let secs = number
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .map(|v| v * scale)
        .ok_or_else(|| format!("{text:?} is not a duration (examples: 1s, 500ms, 2.5)"))?;
    if !(0.01..=3600.0).contains(&secs) {
        return Err(format!(
            "{text:?} is out of range: the interval must be between 10ms and 1h"
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::parse_interval;
    use std::time::Duration;

    #[test]
    fn intervals_in_seconds_milliseconds_and_minutes() {
        assert_eq!(parse_interval("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_interval("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_interval("2.5"), Ok(Duration::from_millis(2500)));
        assert_eq!(parse_interval("1m"), Ok(Duration::from_secs(60)));
        assert!(
            parse_interval("fast")
                .unwrap_err()
                .contains("not a duration")
        );
        assert!(
            parse_interval("0")
                .unwrap_err()
                .contains("between 10ms and 1h")
        );
        assert!(parse_interval("2h").is_err());
    }
}
