//! `rmqctl get metrics` and `rmqctl top`: per topic and per consumer group, messages stored,
//! rates in and out, lag and retries, from every broker's `GET /metrics` (OpenMetrics text;
//! names documented in `broker/server/src/metrics/mod.rs`).
//!
//! Pure parts: [`text`] (exposition parser), [`reading`] (one scrape's series), [`aggregate`]
//! (sums over brokers, rates), [`render`] (tables). I/O: [`discover`] (brokers and their HTTP
//! ports through the nameservers), [`scrape`] (hyper HTTP/1 GET), and the [`Session`] here that
//! runs rounds of both.

mod aggregate;
mod discover;
mod reading;
mod render;
mod scrape;
mod text;

use crate::cli::{GetArgs, NamesrvArg, ScrapeArgs, TopArgs};
use crate::error::CtlError;
use crate::output::{self, Output};
use aggregate::{Options, Previous, Report, Role, Scrape};
use discover::Found;
use reading::{CounterKey, Reading};
use rmq_model::admin::{Admin, parse_name_servers};
use scrape::Endpoint;
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// How long one endpoint may take to answer.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(5);

/// The brokers to scrape and each endpoint's previous counters, across rounds.
struct Session {
    admin: Option<Admin>,
    cluster: Option<String>,
    direct: Vec<Endpoint>,
    /// Remoting address → metrics endpoint, found once.
    known: BTreeMap<String, Endpoint>,
    /// URL → time and counters of its last good scrape.
    previous: BTreeMap<String, (Instant, BTreeMap<CounterKey, f64>)>,
}

impl Session {
    /// From `--namesrv` (or NAMESRV_ADDR) and `--metrics`; at least one is needed.
    fn new(
        namesrv: &NamesrvArg,
        scrape: &ScrapeArgs,
        cluster: Option<String>,
    ) -> Result<Self, CtlError> {
        let direct = scrape
            .metrics
            .iter()
            .map(|u| Endpoint::parse(u).map_err(|e| CtlError::Input(format!("--metrics {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        let admin = match &namesrv.namesrv {
            Some(list) => Some(crate::security::admin_for(
                parse_name_servers(list).map_err(|e| CtlError::Input(e.to_string()))?,
                &namesrv.security,
            )?),
            None if direct.is_empty() => {
                return Err(CtlError::Input(
                    "no nameserver and no --metrics URL given (fix: pass --namesrv HOST:PORT[;HOST:PORT] or set NAMESRV_ADDR to scrape every broker it knows, or --metrics http://HOST:PORT/metrics for one endpoint; `rmqctl local status` prints a local cluster's nameserver address)".into(),
                ));
            }
            None => None,
        };
        Ok(Self {
            admin,
            cluster,
            direct,
            known: BTreeMap::new(),
            previous: BTreeMap::new(),
        })
    }

    /// The brokers of this round: discovered ones, then the `--metrics` endpoints not among them.
    async fn targets(&mut self) -> Result<Vec<Found>, CtlError> {
        let mut found = match &self.admin {
            Some(admin) => {
                discover::brokers(admin, self.cluster.as_deref(), &mut self.known).await?
            }
            None => Vec::new(),
        };
        for ep in &self.direct {
            let dup = found
                .iter()
                .any(|f| f.endpoint.as_ref().is_ok_and(|e| e == ep));
            if !dup {
                found.push(Found {
                    cluster: String::new(),
                    broker: String::new(),
                    address: String::new(),
                    role: Role::Unknown,
                    endpoint: Ok(ep.clone()),
                });
            }
        }
        Ok(found)
    }

    /// Discovers the brokers and scrapes them all at once; a nameserver failure is an error,
    /// an endpoint's is in its [`Scrape`].
    async fn round(&mut self) -> Result<Vec<Scrape>, CtlError> {
        let found = self.targets().await?;
        let mut tasks = tokio::task::JoinSet::new();
        for (i, f) in found.iter().enumerate() {
            if let Ok(ep) = &f.endpoint {
                let ep = ep.clone();
                tasks.spawn(async move {
                    let r = scrape::scrape(&ep, SCRAPE_TIMEOUT).await;
                    (i, Instant::now(), r)
                });
            }
        }
        let mut results: BTreeMap<usize, (Instant, Result<Reading, String>)> = BTreeMap::new();
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok((i, at, r)) => {
                    results.insert(i, (at, r));
                }
                Err(e) => tracing::warn!(error = %e, "a scrape task failed"),
            }
        }
        let mut scrapes = Vec::with_capacity(found.len());
        for (i, f) in found.into_iter().enumerate() {
            let url = f.endpoint.as_ref().map(Endpoint::url).unwrap_or_default();
            let (result, previous) = match (f.endpoint, results.remove(&i)) {
                (Err(e), _) => (Err(e), None),
                (Ok(_), None) => (Err(format!("{url}: the scrape was aborted")), None),
                (Ok(_), Some((at, r))) => {
                    let previous = self.remember(&url, at, &r);
                    (r, previous)
                }
            };
            if result.is_err() {
                // Read the runtime info again next round: the broker may have restarted on
                // another HTTP port.
                self.known.remove(&f.address);
            }
            scrapes.push(Scrape {
                url,
                cluster: f.cluster,
                broker: f.broker,
                address: f.address,
                role: f.role,
                result,
                previous,
            });
        }
        Ok(scrapes)
    }

    /// Records a good scrape of `url` at `at`; returns the previous one's counters.
    fn remember(
        &mut self,
        url: &str,
        at: Instant,
        r: &Result<Reading, String>,
    ) -> Option<Previous> {
        let Ok(reading) = r else {
            return None;
        };
        let before = self
            .previous
            .insert(url.to_owned(), (at, reading.counters.clone()));
        before.map(|(then, counters)| Previous {
            seconds: at.duration_since(then).as_secs_f64(),
            counters,
        })
    }
}

/// Whether any endpoint was read; else the error listing every failure.
fn check_any(scrapes: &[Scrape]) -> Result<(), CtlError> {
    if scrapes.iter().any(|s| s.result.is_ok()) {
        return Ok(());
    }
    if scrapes.is_empty() {
        return Err(CtlError::Metrics(
            "the nameservers know no broker (none registered yet?)".into(),
        ));
    }
    let errors: Vec<String> = scrapes
        .iter()
        .filter_map(|s| s.result.as_ref().err())
        .map(|e| format!("  - {e}"))
        .collect();
    Err(CtlError::Metrics(format!(
        "no metrics endpoint could be read:\n{}",
        errors.join("\n")
    )))
}

/// `rmqctl get metrics`: two rounds `--interval` apart, one report.
pub async fn get(args: &GetArgs) -> Result<(), CtlError> {
    let mut session = Session::new(&args.namesrv, &args.scrape, args.cluster.clone())?;
    session.round().await?;
    tokio::time::sleep(args.scrape.interval).await;
    let scrapes = session.round().await?;
    check_any(&scrapes)?;
    for e in scrapes.iter().filter_map(|s| s.result.as_ref().err()) {
        eprintln!("rmqctl: warning: {e}");
    }
    let opts = Options {
        cluster: args.cluster.clone(),
        all: args.all,
    };
    let report = aggregate::report(&scrapes, &opts);
    match args.output {
        Output::Table => {
            print!("{}", render::render(&report));
            Ok(())
        }
        other => output::emit(other, &report),
    }
}

/// `rmqctl top`: a frame every `--interval` until Ctrl-C or `--iterations`.
pub async fn top(args: TopArgs) -> Result<(), CtlError> {
    let mut session = Session::new(&args.namesrv, &args.scrape, args.cluster.clone())?;
    let opts = Options {
        cluster: args.cluster.clone(),
        all: args.all,
    };
    let tty = std::io::stdout().is_terminal();
    let Some(first) = interruptible(session.round()).await else {
        return Ok(());
    };
    check_any(&first?)?;
    let mut frame = 0u64;
    while args.iterations.is_none_or(|n| frame < n) {
        if interruptible(tokio::time::sleep(args.scrape.interval))
            .await
            .is_none()
        {
            break;
        }
        let Some(round) = interruptible(session.round()).await else {
            break;
        };
        frame += 1;
        let body = match round {
            Ok(scrapes) => Ok(aggregate::report(&scrapes, &opts)),
            Err(e) => Err(e),
        };
        if print_frame(frame, &args, tty, &body).is_err() {
            break; // stdout closed (`rmqctl top | head`)
        }
    }
    Ok(())
}

/// `fut`'s output, or `None` when Ctrl-C came first.
async fn interruptible<T>(fut: impl std::future::Future<Output = T>) -> Option<T> {
    tokio::select! {
        v = fut => Some(v),
        _ = tokio::signal::ctrl_c() => None,
    }
}

/// One frame: a header line, then the report (or why this round failed). On a terminal the
/// screen is cleared first; otherwise frames follow each other, a blank line apart.
fn print_frame(
    frame: u64,
    args: &TopArgs,
    tty: bool,
    body: &Result<Report, CtlError>,
) -> std::io::Result<()> {
    let mut out = String::new();
    if tty {
        out.push_str("\x1b[H\x1b[2J");
    } else if frame > 1 {
        out.push('\n');
    }
    let of = args.iterations.map_or(String::new(), |n| format!("/{n}"));
    let answered = match body {
        Ok(r) => {
            let ok = r.brokers.iter().filter(|b| b.error.is_none()).count();
            format!(", {ok}/{} endpoints answered", r.brokers.len())
        }
        Err(_) => String::new(),
    };
    out.push_str(&format!(
        "rmqctl top: refresh {frame}{of} every {:?}{answered} (Ctrl-C to quit)\n\n",
        args.scrape.interval
    ));
    match body {
        Ok(r) => out.push_str(&render::render(r)),
        Err(e) => out.push_str(&format!("error: {e}\n")),
    }
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(out.as_bytes())?;
    stdout.flush()
}
