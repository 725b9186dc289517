//! `rmq-bench net`: the loopback limits, as the Java driver's `net` measures them: one TCP
//! stream of 1 MiB writes for `--seconds` (the first 300 ms not counted), then `--rtt-count`
//! 1-byte round trips with TCP_NODELAY (after 2000 unmeasured ones).

use crate::args::Args;
use crate::json::Obj;
use crate::latency::Latency;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Round trips before the measured ones.
const RTT_WARMUP: u64 = 2000;

/// Runs the measurement; the JSON line to print.
pub fn run(args: &Args) -> Result<Obj, String> {
    let seconds = args.num("seconds", 3u64)?;
    let rtt_count = args.num("rtt-count", 20_000u64)?;
    let io = |e: std::io::Error| format!("loopback test: {e}");
    let listener = TcpListener::bind("127.0.0.1:0").map_err(io)?;
    let addr = listener.local_addr().map_err(io)?;
    let mut o = Obj::phase("net");
    let (bytes, secs) = bandwidth(&listener, addr, Duration::from_secs(seconds)).map_err(io)?;
    o.set("tcpMBps", bytes as f64 / secs / 1e6);
    o.set("tcpGbps", bytes as f64 * 8.0 / secs / 1e9);
    let lat = round_trips(&listener, addr, rtt_count).map_err(io)?;
    lat.write_us(&mut o, "rtt");
    Ok(o)
}

/// Bytes received over the measured part of the stream and its length in seconds.
fn bandwidth(
    listener: &TcpListener,
    addr: std::net::SocketAddr,
    length: Duration,
) -> std::io::Result<(u64, f64)> {
    let received = Arc::new(AtomicU64::new(0));
    let mut writer = TcpStream::connect(addr)?;
    let (mut conn, _) = listener.accept()?;
    let r = received.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 20];
        while let Ok(n) = conn.read(&mut buf) {
            if n == 0 {
                break;
            }
            r.fetch_add(n as u64, Ordering::Relaxed);
        }
    });
    let chunk = vec![0u8; 1 << 20];
    let t0 = Instant::now();
    let (mut tw, mut r0, mut warmed) = (t0, 0, false);
    loop {
        let now = Instant::now();
        if !warmed && now - t0 > Duration::from_millis(300) {
            (warmed, tw, r0) = (true, now, received.load(Ordering::Relaxed));
        }
        if now - t0 > length {
            break;
        }
        writer.write_all(&chunk)?;
    }
    let bytes = received.load(Ordering::Relaxed) - r0;
    let secs = tw.elapsed().as_secs_f64().max(1e-9);
    drop(writer);
    let _ = reader.join();
    Ok((bytes, secs))
}

/// Latencies of `count` 1-byte round trips to an echo thread.
fn round_trips(
    listener: &TcpListener,
    addr: std::net::SocketAddr,
    count: u64,
) -> std::io::Result<Latency> {
    let mut c = TcpStream::connect(addr)?;
    c.set_nodelay(true)?;
    let (mut conn, _) = listener.accept()?;
    conn.set_nodelay(true)?;
    let echo = std::thread::spawn(move || {
        let mut b = [0u8; 1];
        while let Ok(1) = conn.read(&mut b) {
            if conn.write_all(&b).is_err() {
                break;
            }
        }
    });
    let mut lat = Latency::new();
    let mut b = [1u8; 1];
    for i in 0..count + RTT_WARMUP {
        let s = Instant::now();
        c.write_all(&b)?;
        c.read_exact(&mut b)?;
        if i >= RTT_WARMUP {
            lat.record(s.elapsed());
        }
    }
    drop(c);
    let _ = echo.join();
    Ok(lat)
}
