//! Error collection (up to 8 distinct first lines with counts), the optional `--out` record file,
//! and emitting the result line.

use std::io::Write;
use std::sync::Mutex;
use std::time::Instant;

use serde_json::{Value, json};

use crate::Obj;

/// A client error with what its Display hides: the source chain, and for the crate's catalog
/// errors the typed context and the place that raised it.
pub fn err_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut depth = 0;
    while let Some(x) = cur {
        if let Some(re) = x.downcast_ref::<rocketmq_error::Error>() {
            let loc = re.location();
            out.push_str(&format!(
                " [{:?} at {}:{}]",
                re.context(),
                loc.file(),
                loc.line()
            ));
        } else if depth > 0 {
            out.push_str(&format!(" <- {x}"));
        }
        cur = x.source();
        depth += 1;
        if depth > 8 {
            break;
        }
    }
    out.replace('\n', " ")
}

pub struct Ctx {
    t0: Instant,
    inner: Mutex<Inner>,
}

struct Inner {
    errs: Vec<(String, u64)>,
    count: u64,
    records: Option<std::io::BufWriter<std::fs::File>>,
}

impl Ctx {
    pub fn new() -> Self {
        Ctx {
            t0: Instant::now(),
            inner: Mutex::new(Inner {
                errs: Vec::new(),
                count: 0,
                records: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn elapsed_ms(&self) -> i64 {
        self.t0.elapsed().as_millis() as i64
    }

    pub fn error(&self, e: impl std::fmt::Display) {
        let mut m = e.to_string();
        if let Some(i) = m.find('\n') {
            m.truncate(i);
        }
        if m.len() > 300 {
            let mut cut = 300;
            while !m.is_char_boundary(cut) {
                cut -= 1;
            }
            m.truncate(cut);
        }
        let mut g = self.lock();
        g.count += 1;
        if let Some(e) = g.errs.iter_mut().find(|(k, _)| *k == m) {
            e.1 += 1;
        } else if g.errs.len() < 8 {
            g.errs.push((m, 1));
        }
    }

    pub fn open_records(&self, path: Option<&str>) -> Result<(), String> {
        if let Some(p) = path {
            let f = std::fs::File::create(p).map_err(|e| format!("--out {p}: {e}"))?;
            self.lock().records = Some(std::io::BufWriter::new(f));
        }
        Ok(())
    }

    pub fn record(&self, line: impl FnOnce() -> String) {
        let mut g = self.lock();
        if let Some(w) = g.records.as_mut() {
            let _ = writeln!(w, "{}", line());
        }
    }

    pub fn close_records(&self) {
        if let Some(mut w) = self.lock().records.take() {
            let _ = w.flush();
        }
    }

    pub fn emit(&self, mut m: Obj) {
        let g = self.lock();
        let errs: Vec<Value> = g
            .errs
            .iter()
            .map(|(k, n)| json!({"message": k, "count": n}))
            .collect();
        m.insert("elapsedMs".into(), json!(self.elapsed_ms()));
        m.insert("errorCount".into(), json!(g.count));
        m.insert("errors".into(), Value::Array(errs));
        drop(g);
        crate::emit_line(&m);
    }
}
