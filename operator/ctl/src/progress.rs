//! Progress while waiting: an indicatif spinner on a terminal, plain lines (only when the
//! message changes) otherwise, so logs of scripted runs still show what is being waited for.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

/// A progress reporter on stderr.
pub struct Progress {
    bar: Option<ProgressBar>,
    last: String,
}

impl Progress {
    /// A spinner on a terminal, line output otherwise.
    pub fn new() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template("{spinner} [{elapsed}] {msg}") {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Self {
            bar,
            last: String::new(),
        }
    }

    /// Shows what is happening now.
    pub fn set(&mut self, msg: impl Into<String>) {
        let msg = msg.into();
        if msg == self.last {
            return;
        }
        match &self.bar {
            Some(bar) => bar.set_message(msg.clone()),
            None => eprintln!("rmqctl: {msg}"),
        }
        self.last = msg;
    }

    /// Prints a line that stays (above the spinner).
    pub fn println(&self, msg: impl AsRef<str>) {
        match &self.bar {
            Some(bar) => bar.println(msg.as_ref()),
            None => eprintln!("rmqctl: {}", msg.as_ref()),
        }
    }

    /// Removes the spinner.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
