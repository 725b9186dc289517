//! Progress of an apply: an indicatif bar on a terminal, plus one line per finished action
//! (always, so logs and tests see them too), and the steps of a roll ([`RollEvent`]: one line
//! each, also kept in order for whoever asks, see [`Progress::roll_events`]).

use crate::error::Error;
use crate::plan::Action;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::Mutex;
use std::time::Duration;

/// One step of a roll: the replacement of one node's instance and its readiness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RollEvent {
    /// The instance of `node` is terminated so that the group launches a replacement.
    Replacing {
        /// The node (`broker-a-1`).
        node: String,
        /// The instance being replaced.
        instance: String,
    },
    /// The readiness gate does not see `node` back yet (printed when the reason changes).
    Waiting {
        /// The node.
        node: String,
        /// What is missing.
        why: String,
    },
    /// The readiness gate sees `node` back.
    Ready {
        /// The node.
        node: String,
        /// What the gate saw.
        detail: String,
    },
    /// `node`'s new instance was let go in service (its launch lifecycle action completed).
    InService {
        /// The node.
        node: String,
        /// The new instance.
        instance: String,
    },
}

impl RollEvent {
    /// The node the event is about.
    pub fn node(&self) -> &str {
        match self {
            RollEvent::Replacing { node, .. }
            | RollEvent::Waiting { node, .. }
            | RollEvent::Ready { node, .. }
            | RollEvent::InService { node, .. } => node,
        }
    }
}

impl std::fmt::Display for RollEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RollEvent::Replacing { node, instance } => {
                write!(f, "roll {node}: replacing instance {instance}")
            }
            RollEvent::Waiting { node, why } => write!(f, "roll {node}: waiting: {why}"),
            RollEvent::Ready { node, detail } => write!(f, "roll {node}: ready: {detail}"),
            RollEvent::InService { node, instance } => {
                write!(f, "roll {node}: instance {instance} in service")
            }
        }
    }
}

/// Where progress goes.
pub struct Progress {
    bar: Mutex<Option<ProgressBar>>,
    /// Every roll event so far, in order.
    rolls: Mutex<Vec<RollEvent>>,
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
            rolls: Mutex::new(Vec::new()),
            lines,
            bar_enabled: true,
        }
    }

    /// Nothing at all (library callers, JSON output).
    pub fn silent() -> Self {
        Self {
            bar: Mutex::new(None),
            rolls: Mutex::new(Vec::new()),
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

    /// A step of a roll.
    pub fn roll(&self, e: RollEvent) {
        self.line(format!("  {e}"));
        if let Ok(mut rolls) = self.rolls.lock() {
            rolls.push(e);
        }
    }

    /// Every roll event so far, in order (the action log of the rolls).
    pub fn roll_events(&self) -> Vec<RollEvent> {
        self.rolls.lock().map(|r| r.clone()).unwrap_or_default()
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
