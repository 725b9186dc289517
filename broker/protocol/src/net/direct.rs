//! Answering a busy-polled request from the read task itself, straight to the socket.
//!
//! A connection's answers normally go through its write task: the read task queues them and
//! yields so the write task can run. For a one-at-a-time client that the read task busy polls
//! for ([`super::spin`]), that hand-off is most of the cost left between two requests: the
//! yield makes the runtime thread look for other work, poll epoll once and wake its idle
//! sibling thread, several microseconds and context switches per request on a small machine.
//! So a polling read task writes its answers itself when the write task is idle.
//!
//! Only one side writes the socket at a time ([`WriteGate`]). Frames leave whole and in order:
//! if the socket takes only part of the answers (its send buffer is full), the read task hands
//! the unwritten rest to the write task, which writes it before anything else. Answers of one
//! connection may overtake each other (a queued one and a direct one); responses are matched by
//! their opaque, and requests a client sends never take this path.

use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tokio::sync::Notify;

/// Answers written straight to the socket by a polling read task.
static ANSWERED: AtomicU64 = AtomicU64::new(0);

/// Answers written by polling read tasks of this process since it started.
pub(crate) fn answered() -> u64 {
    ANSWERED.load(Ordering::Relaxed)
}

/// A read half whose socket can also be written without waiting: plaintext TCP can; TLS cannot
/// (its records are encrypted by its write half).
pub(crate) trait TryWriteNow {
    /// Writes what the socket takes of `bytes` now: the count written, an error (`WouldBlock`
    /// when the send buffer is full), or `None` when this transport cannot be written this way.
    fn try_write_now(&self, bytes: &[u8]) -> Option<std::io::Result<usize>>;
}

impl TryWriteNow for tokio::net::tcp::OwnedReadHalf {
    fn try_write_now(&self, bytes: &[u8]) -> Option<std::io::Result<usize>> {
        let socket = socket2::SockRef::from(self.as_ref());
        Some((&*socket).write(bytes))
    }
}

impl<S> TryWriteNow for tokio::io::ReadHalf<S> {
    fn try_write_now(&self, _bytes: &[u8]) -> Option<std::io::Result<usize>> {
        None
    }
}

/// Who writes a connection's socket: its write task, or its read task answering directly.
#[derive(Default)]
pub(crate) struct WriteGate {
    /// One side is writing (or the read task left a rest the write task has not taken yet).
    busy: AtomicBool,
    /// Bytes the read task could not write; the write task writes them before anything else.
    rest: Mutex<Option<Bytes>>,
    /// Wakes the write task for a rest.
    kick: Notify,
}

impl WriteGate {
    /// Takes the socket if no one is writing it.
    fn try_take(&self) -> bool {
        self.busy
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// Gives the socket back.
    pub(crate) fn release(&self) {
        self.busy.store(false, Ordering::Release);
    }

    /// Leaves `rest` to the write task, which takes the socket over with it.
    fn hand_over(&self, rest: Bytes) {
        *self.rest.lock() = Some(rest);
        self.kick.notify_one();
    }

    /// Resolves when the read task has left a rest to write.
    pub(crate) async fn kicked(&self) {
        self.kick.notified().await
    }

    /// The write task takes the socket, waiting while the read task writes. Returns the bytes
    /// the read task left unwritten, to be written first.
    pub(crate) async fn acquire(&self) -> Option<Bytes> {
        loop {
            if self.try_take() {
                return None;
            }
            if let Some(rest) = self.rest.lock().take() {
                return Some(rest);
            }
            tokio::task::yield_now().await;
        }
    }

    /// Writes the encoded `frames` straight to `socket` if the write task is idle. True if they
    /// were written (or their unwritten rest handed to the write task); false if the write task
    /// is writing or the transport cannot be written this way: queue them instead.
    pub(crate) fn write_now<W: TryWriteNow>(&self, socket: &W, frames: &mut BytesMut) -> bool {
        if !self.try_take() {
            return false;
        }
        let mut written = 0;
        while written < frames.len() {
            match socket.try_write_now(&frames[written..]) {
                None => {
                    self.release();
                    return false;
                }
                Some(Ok(n)) if n > 0 => written += n,
                Some(Err(e)) if e.kind() == std::io::ErrorKind::Interrupted => {}
                // Full send buffer, or a failure the write task will meet and close on.
                Some(_) => break,
            }
        }
        ANSWERED.fetch_add(1, Ordering::Relaxed);
        if written == frames.len() {
            frames.clear();
            self.release();
        } else {
            let _ = frames.split_to(written);
            self.hand_over(frames.split().freeze());
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// A socket that takes at most `take` bytes per write for `writes` writes, then none.
    struct Scripted {
        take: usize,
        writes: RefCell<usize>,
        seen: RefCell<Vec<u8>>,
        fail: Option<std::io::ErrorKind>,
    }

    impl Scripted {
        fn new(take: usize, writes: usize) -> Self {
            Self {
                take,
                writes: RefCell::new(writes),
                seen: RefCell::new(Vec::new()),
                fail: None,
            }
        }
    }

    impl TryWriteNow for Scripted {
        fn try_write_now(&self, bytes: &[u8]) -> Option<std::io::Result<usize>> {
            let mut left = self.writes.borrow_mut();
            if *left == 0 {
                let kind = self.fail.unwrap_or(std::io::ErrorKind::WouldBlock);
                return Some(Err(kind.into()));
            }
            *left -= 1;
            let n = bytes.len().min(self.take);
            self.seen.borrow_mut().extend_from_slice(&bytes[..n]);
            Some(Ok(n))
        }
    }

    struct Tls;
    impl TryWriteNow for Tls {
        fn try_write_now(&self, _: &[u8]) -> Option<std::io::Result<usize>> {
            None
        }
    }

    fn frames(s: &str) -> BytesMut {
        BytesMut::from(s.as_bytes())
    }

    #[tokio::test]
    async fn a_whole_write_gives_the_socket_back() {
        let gate = WriteGate::default();
        let socket = Scripted::new(3, 10);
        let mut f = frames("answer");
        assert!(gate.write_now(&socket, &mut f));
        assert_eq!(socket.seen.borrow().as_slice(), b"answer");
        assert!(f.is_empty());
        assert_eq!(
            gate.acquire().await,
            None,
            "the write task takes it at once"
        );
    }

    #[tokio::test]
    async fn a_partial_write_leaves_the_rest_to_the_write_task_first() {
        let gate = WriteGate::default();
        let socket = Scripted::new(2, 1);
        let mut f = frames("answer");
        assert!(
            gate.write_now(&socket, &mut f),
            "handled: the rest is handed over"
        );
        assert_eq!(socket.seen.borrow().as_slice(), b"an");
        let mut more = frames("next");
        assert!(
            !gate.write_now(&Scripted::new(9, 9), &mut more),
            "no direct write while a rest is waiting: it would land in the middle of a frame"
        );
        tokio::time::timeout(std::time::Duration::from_secs(5), gate.kicked())
            .await
            .expect("the write task is woken for the rest");
        assert_eq!(gate.acquire().await.as_deref(), Some(&b"swer"[..]));
        gate.release();
        assert!(gate.write_now(&Scripted::new(9, 9), &mut more));
    }

    #[tokio::test]
    async fn a_failed_write_hands_everything_over() {
        let gate = WriteGate::default();
        let mut socket = Scripted::new(9, 0);
        socket.fail = Some(std::io::ErrorKind::BrokenPipe);
        let mut f = frames("answer");
        assert!(gate.write_now(&socket, &mut f));
        assert_eq!(gate.acquire().await.as_deref(), Some(&b"answer"[..]));
    }

    #[test]
    fn a_busy_write_task_or_tls_means_queueing() {
        let gate = WriteGate::default();
        assert!(gate.try_take(), "the write task is writing");
        let mut f = frames("answer");
        assert!(!gate.write_now(&Scripted::new(9, 9), &mut f));
        assert_eq!(f.len(), 6, "nothing taken from the frames");
        gate.release();
        assert!(!gate.write_now(&Tls, &mut f));
        assert!(gate.try_take(), "TLS gave the socket back");
    }
}
