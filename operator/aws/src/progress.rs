//! Progress of an apply: an indicatif bar on a terminal, plus one line per finished action
//! (always, so logs and tests see them too).

use crate::error::Error;
use crate::plan::Action;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::Mutex;
use std::time::Duration;

/// Where progress goes.
pub struct Progress {
    bar: Mutex<Option<ProgressBar>>,
    /// Print a line per action.
    lines: bool,
    /// Draw a bar (only on a terminal).
    bar_enabled: bool,
}

impl Progress {
    /// A bar on stderr when it is a terminal, and lines on stdout.
    pub fn new(lines: bool) -> Self {
        Self {
            bar: Mutex::new(None),
            lines,
            bar_enabled: true,
        }
    }

    /// Nothing at all (library callers, JSON output).
    pub fn silent() -> Self {
        Self {
            bar: Mutex::new(None),
            lines: false,
            bar_enabled: false,
        }
    }

    fn with_bar(&self, f: impl FnOnce(&ProgressBar)) {
        if let Ok(guard) = self.bar.lock()
            && let Some(b) = guard.as_ref()
        {
            f(b);
        }
    }

    fn line(&self, text: String) {
        if !self.lines {
            return;
        }
        let mut printed = false;
        self.with_bar(|b| {
            if !b.is_hidden() {
                b.println(&text);
                printed = true;
            }
        });
        if !printed {
            println!("{text}");
        }
    }

    /// An apply of `total` actions starts.
    pub fn begin(&self, total: usize) {
        if !self.bar_enabled || total == 0 {
            return;
        }
        let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
        if let Ok(style) =
            ProgressStyle::with_template("{spinner} [{pos}/{len}] {elapsed_precise} {wide_msg}")
        {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(200));
        if let Ok(mut g) = self.bar.lock() {
            *g = Some(bar);
        }
    }

    /// Action `i` starts.
    pub fn start(&self, i: usize, total: usize, a: &Action) {
        let _ = total;
        self.with_bar(|b| {
            b.set_position(i as u64);
            b.set_message(a.to_string());
        });
    }

    /// Action `i` is done.
    pub fn done(&self, i: usize, total: usize, a: &Action, id: &str, took: Duration) {
        self.with_bar(|b| b.set_position(i as u64 + 1));
        let verb = match a.op {
            crate::plan::Op::Create => "created",
            crate::plan::Op::Update => "updated",
            crate::plan::Op::Delete => "deleted",
        };
        self.line(format!(
            "  [{}/{total}] {verb} {} {id} ({:.1} s)",
            i + 1,
            a.key,
            took.as_secs_f64()
        ));
    }

    /// Action `i` failed.
    pub fn failed(&self, i: usize, total: usize, a: &Action, e: &Error) {
        self.line(format!("  [{}/{total}] FAILED {a}\n          {e}", i + 1));
    }

    /// The apply ended.
    pub fn finish(&self) {
        if let Ok(mut g) = self.bar.lock()
            && let Some(b) = g.take()
        {
            b.finish_and_clear();
        }
    }
}
