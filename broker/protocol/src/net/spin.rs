//! Busy-polling a connection after it answered, instead of going straight to sleep in epoll.
//!
//! A client that sends one request at a time (a sync producer with one thread) sends its next
//! request a few microseconds after it got the answer. Sleeping in `epoll_wait` in between costs
//! the broker a wake-up per request: a context switch, a cold cache, and on a VM the exit from
//! the idle state, several microseconds of every round trip. Polling the socket for a short,
//! bounded time first catches that next request on a thread that is still running.
//!
//! Polling burns CPU, so it happens only when it is likely to pay and unlikely to hurt:
//! - the connection's last [`ONE_AT_A_TIME`] reads each carried exactly one request (a client
//!   that pipelines, such as 64 sender threads sharing one connection, does not wait for each
//!   answer and is not polled for);
//! - the connection's last wait for a request was shorter than the budget (a client farther
//!   away, or one that pauses between requests, never polls);
//! - no other polling connection's read task is awake (polling holds a runtime thread, and
//!   anything else runnable is better served by it); checked before and during the poll;
//! - never longer than the budget, after which the connection sleeps in epoll as before, and
//!   with the CPU yielded between tries, so a thread waiting for the core gets it.

use bytes::BytesMut;
use std::io::Read;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Read tasks of this process that may poll (servers' connections with a budget) and are awake
/// (not waiting in epoll for their next read).
static AWAKE: AtomicUsize = AtomicUsize::new(0);
/// Polls that caught the next request.
static CAUGHT: AtomicU64 = AtomicU64::new(0);
/// Polls that gave up (budget spent, or another connection woke).
static MISSED: AtomicU64 = AtomicU64::new(0);

/// How busy polling went in this process since it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BusyPolls {
    /// Polls that caught the next request (a wake-up saved).
    pub caught: u64,
    /// Polls that gave up and slept in epoll after all (CPU spent for nothing).
    pub missed: u64,
    /// Answers a polling read task wrote to its socket itself, without handing them to the
    /// connection's write task (see `net::direct`).
    pub answered: u64,
}

/// The process's busy-poll counts (exported by the broker as metrics).
pub fn busy_polls() -> BusyPolls {
    BusyPolls {
        caught: CAUGHT.load(Ordering::Relaxed),
        missed: MISSED.load(Ordering::Relaxed),
        answered: super::direct::answered(),
    }
}

/// Bytes a poll reads at most; the rest of a larger request is read the usual way.
const POLL_CHUNK: usize = 4096;

/// A read half that can be read without waiting: plaintext TCP can, a TLS stream cannot (its
/// records are decrypted inside its own `poll_read`).
pub(crate) trait TryReadNow {
    /// Reads what is waiting into `into`: `Some(Ok(0))` at the end of the stream, an error of
    /// kind `WouldBlock` when nothing waits, `None` when this transport cannot be polled.
    fn try_read_now(&mut self, into: &mut [u8]) -> Option<std::io::Result<usize>>;
}

impl TryReadNow for tokio::net::tcp::OwnedReadHalf {
    fn try_read_now(&mut self, into: &mut [u8]) -> Option<std::io::Result<usize>> {
        // Ask the kernel: tokio's own `try_read` answers WouldBlock without a syscall until its
        // I/O driver has seen the socket readable, i.e. until another runtime thread has been
        // woken up for it, the very wake-up the poll is there to save.
        let socket = socket2::SockRef::from(self.as_ref());
        Some((&*socket).read(into))
    }
}

impl<S> TryReadNow for tokio::io::ReadHalf<S> {
    fn try_read_now(&mut self, _into: &mut [u8]) -> Option<std::io::Result<usize>> {
        None
    }
}

/// What the poll found.
pub(crate) enum Polled {
    /// Bytes arrived (`0`: the peer closed), or the read failed.
    Read(std::io::Result<usize>),
    /// Nothing within the budget (or polling was not allowed): wait in epoll.
    Nothing,
}

/// One connection's polling state. With a budget, counts its read task as awake from creation
/// until it sleeps, and again after every wake-up, until dropped.
pub(crate) struct Spinner {
    /// The process's count of awake read tasks (a test's own counter in tests).
    awake: &'static AtomicUsize,
    /// This read task is counted in `awake`.
    counted: bool,
    /// How long one poll may last; zero disables polling.
    budget: Duration,
    /// When the connection went to wait for its next request (poll or epoll).
    idle_since: Option<Instant>,
    /// The last wait for a request was shorter than the budget.
    short_waits: bool,
    /// Where a poll reads to (allocated by the first poll).
    scratch: Vec<u8>,
    /// Reads in a row that carried exactly one request (a client that pipelines sends several
    /// in one read now and then, and does not wait for each answer).
    single_reads: u32,
}

/// Reads in a row of one request each before a connection counts as one-at-a-time.
const ONE_AT_A_TIME: u32 = 16;

impl Spinner {
    /// A connection that polls for at most `budget` (`None` or zero: never).
    pub(crate) fn new(budget: Option<Duration>) -> Self {
        Self::counted_in(&AWAKE, budget)
    }

    fn counted_in(awake: &'static AtomicUsize, budget: Option<Duration>) -> Self {
        let mut spinner = Self {
            awake,
            counted: false,
            budget: budget.unwrap_or_default(),
            idle_since: None,
            short_waits: false,
            scratch: Vec::new(),
            single_reads: 0,
        };
        spinner.count();
        spinner
    }

    /// Counts this read task as awake, if it may poll (a client's connections never do, and
    /// are not counted).
    fn count(&mut self) {
        if !self.counted && !self.budget.is_zero() {
            self.awake.fetch_add(1, Ordering::Relaxed);
            self.counted = true;
        }
    }

    /// The read task dispatched `requests` from one read.
    pub(crate) fn dispatched(&mut self, requests: usize) {
        self.single_reads = match requests {
            1 => self.single_reads.saturating_add(1),
            _ => 0,
        };
    }

    /// The read task woke up from epoll with data (or an error).
    pub(crate) fn woke(&mut self) {
        self.count();
        if let Some(since) = self.idle_since.take() {
            self.short_waits = since.elapsed() < self.budget;
        }
    }

    /// The read task is about to sleep in epoll.
    pub(crate) fn sleeps(&mut self) {
        if self.counted {
            self.awake.fetch_sub(1, Ordering::Relaxed);
            self.counted = false;
        }
        if self.idle_since.is_none() && !self.budget.is_zero() {
            self.idle_since = Some(Instant::now());
        }
    }

    /// Whether this connection should poll now: it polls, it sends one request at a time, its
    /// last wait was short, and no other connection is awake.
    pub(crate) fn should_poll(&self) -> bool {
        self.short_waits
            && !self.budget.is_zero()
            && self.single_reads >= ONE_AT_A_TIME
            && self.awake.load(Ordering::Relaxed) <= 1
    }

    /// Polls `rd` for up to the budget; gives up early when another connection wakes.
    pub(crate) fn poll<R: TryReadNow>(&mut self, rd: &mut R, buf: &mut BytesMut) -> Polled {
        let start = Instant::now();
        self.idle_since = Some(start);
        if self.scratch.is_empty() {
            self.scratch = vec![0; POLL_CHUNK];
        }
        loop {
            match rd.try_read_now(&mut self.scratch) {
                None => return Polled::Nothing,
                Some(Err(e)) if nothing_yet(&e) => {}
                Some(read) => {
                    if let Ok(n) = read {
                        buf.extend_from_slice(&self.scratch[..n]);
                        CAUGHT.fetch_add(1, Ordering::Relaxed);
                    }
                    self.idle_since = None;
                    self.short_waits = true;
                    return Polled::Read(read);
                }
            }
            if start.elapsed() >= self.budget || self.awake.load(Ordering::Relaxed) > 1 {
                MISSED.fetch_add(1, Ordering::Relaxed);
                self.short_waits = false;
                return Polled::Nothing;
            }
            std::thread::yield_now();
        }
    }
}

/// A read error that only means "nothing yet": nothing waiting, or a signal interrupted the
/// read.
fn nothing_yet(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
    )
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.sleeps();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that fails with `empty` for `empty_reads` calls, then has `ready` bytes.
    struct Scripted {
        empty_reads: usize,
        empty: std::io::ErrorKind,
        ready: usize,
        calls: usize,
    }

    impl TryReadNow for Scripted {
        fn try_read_now(&mut self, into: &mut [u8]) -> Option<std::io::Result<usize>> {
            self.calls += 1;
            if self.calls <= self.empty_reads {
                return Some(Err(self.empty.into()));
            }
            into[..self.ready].fill(7);
            Some(Ok(self.ready))
        }
    }

    /// `s` after the reads in a row of one request each that make it a one-at-a-time client.
    fn one_at_a_time(mut s: Spinner) -> Spinner {
        for _ in 0..ONE_AT_A_TIME {
            s.dispatched(1);
        }
        s
    }

    fn reader(empty_reads: usize, ready: usize) -> Scripted {
        Scripted {
            empty_reads,
            empty: std::io::ErrorKind::WouldBlock,
            ready,
            calls: 0,
        }
    }

    #[test]
    fn a_connection_polls_only_after_a_short_wait() {
        static AWAKE: AtomicUsize = AtomicUsize::new(0);
        let mut s = one_at_a_time(Spinner::counted_in(&AWAKE, Some(Duration::from_millis(50))));
        assert!(!s.should_poll(), "no wait seen yet");
        s.sleeps();
        s.woke();
        assert!(s.should_poll(), "woke well within the budget");
        s.sleeps();
        s.idle_since = Some(Instant::now() - Duration::from_millis(60));
        s.woke();
        assert!(!s.should_poll(), "the last wait outlasted the budget");
        drop(s);
        assert_eq!(
            AWAKE.load(Ordering::Relaxed),
            0,
            "a dropped connection is not counted"
        );
    }

    #[test]
    fn another_awake_connection_stops_polling() {
        static AWAKE: AtomicUsize = AtomicUsize::new(0);
        let mut s = one_at_a_time(Spinner::counted_in(&AWAKE, Some(Duration::from_secs(5))));
        s.sleeps();
        s.woke();
        assert!(s.should_poll());
        let other = Spinner::counted_in(&AWAKE, Some(Duration::from_secs(5)));
        assert!(!s.should_poll(), "two read tasks awake");
        let began = Instant::now();
        let mut buf = BytesMut::new();
        let polled = s.poll(&mut reader(usize::MAX, 1), &mut buf);
        assert!(matches!(polled, Polled::Nothing));
        assert!(began.elapsed() < Duration::from_secs(1), "gave up at once");
        drop(other);
        assert_eq!(AWAKE.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_poll_returns_what_arrives_within_the_budget() {
        static AWAKE: AtomicUsize = AtomicUsize::new(0);
        let mut s = one_at_a_time(Spinner::counted_in(&AWAKE, Some(Duration::from_secs(5))));
        let mut buf = BytesMut::new();
        let mut rd = reader(1000, 3);
        assert!(matches!(s.poll(&mut rd, &mut buf), Polled::Read(Ok(3))));
        assert_eq!((rd.calls, buf.len()), (1001, 3));
        assert!(
            s.should_poll(),
            "a poll that found data keeps the connection polling"
        );
    }

    #[test]
    fn an_interrupted_read_is_tried_again_and_a_failed_one_ends_the_poll() {
        static AWAKE: AtomicUsize = AtomicUsize::new(0);
        let mut s = one_at_a_time(Spinner::counted_in(&AWAKE, Some(Duration::from_secs(5))));
        let mut buf = BytesMut::new();
        let mut rd = reader(3, 2);
        rd.empty = std::io::ErrorKind::Interrupted;
        assert!(matches!(s.poll(&mut rd, &mut buf), Polled::Read(Ok(2))));
        assert_eq!((rd.calls, buf.len()), (4, 2));
        let mut rd = reader(1, 2);
        rd.empty = std::io::ErrorKind::ConnectionReset;
        let polled = s.poll(&mut rd, &mut buf);
        assert!(matches!(polled, Polled::Read(Err(ref e)) if e.kind() == rd.empty));
        assert_eq!(rd.calls, 1, "a reset connection is not polled again");
    }

    #[test]
    fn a_poll_gives_up_after_the_budget_and_stops_polling() {
        static AWAKE: AtomicUsize = AtomicUsize::new(0);
        let mut s = one_at_a_time(Spinner::counted_in(&AWAKE, Some(Duration::from_millis(2))));
        let began = Instant::now();
        let polled = s.poll(&mut reader(usize::MAX, 1), &mut BytesMut::new());
        assert!(matches!(polled, Polled::Nothing));
        assert!(began.elapsed() >= Duration::from_millis(2));
        assert!(
            !s.should_poll(),
            "no more polling until a short wait is seen again"
        );
    }

    #[test]
    fn no_budget_never_polls() {
        static AWAKE: AtomicUsize = AtomicUsize::new(0);
        let mut s = one_at_a_time(Spinner::counted_in(&AWAKE, None));
        s.sleeps();
        s.woke();
        s.sleeps();
        s.woke();
        assert!(!s.should_poll());
        assert_eq!(
            AWAKE.load(Ordering::Relaxed),
            0,
            "a client's read task is not counted"
        );
    }

    #[test]
    fn a_pipelining_client_does_not_poll() {
        static AWAKE: AtomicUsize = AtomicUsize::new(0);
        let mut s = one_at_a_time(Spinner::counted_in(&AWAKE, Some(Duration::from_millis(50))));
        s.dispatched(2);
        s.sleeps();
        s.woke();
        assert!(!s.should_poll(), "two requests in one read");
        for _ in 1..ONE_AT_A_TIME {
            s.dispatched(1);
        }
        assert!(!s.should_poll(), "one read short of the streak");
        s.dispatched(1);
        assert!(s.should_poll());
    }
}
