//! A cloneable shutdown signal (a watch channel; no extra crate): `main` fires it on SIGTERM
//! or SIGINT, and the controllers and the `/metrics` server wait on it.

use tokio::sync::watch;

/// Cloneable shutdown signal.
#[derive(Clone)]
pub struct Shutdown(watch::Receiver<bool>);

/// Triggers a [`Shutdown`].
pub struct Trigger(watch::Sender<bool>);

/// A new signal and its trigger.
pub fn channel() -> (Trigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (Trigger(tx), Shutdown(rx))
}

impl Trigger {
    /// Signals every [`Shutdown`] clone.
    pub fn fire(&self) {
        let _ = self.0.send(true);
    }
}

impl Shutdown {
    /// Resolves once fired (or once the trigger is dropped).
    pub async fn wait(mut self) {
        while !*self.0.borrow() {
            if self.0.changed().await.is_err() {
                return;
            }
        }
    }
}
