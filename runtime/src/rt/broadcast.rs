//! [`Broadcast`]: a one-time signal on one core that wakes every task waiting for it (a
//! worker telling its connections to drain), built on [`Signal`].

use std::cell::Cell;

use super::signal::Signal;

/// Fired once; every waiter, present and future, sees it.
#[derive(Debug, Default)]
pub(crate) struct Broadcast {
    fired: Cell<bool>,
    signal: Signal,
}

impl Broadcast {
    /// Fires the signal and wakes every waiter.
    pub(crate) fn fire(&self) {
        self.fired.set(true);
        self.signal.notify_all();
    }

    /// Whether it has fired.
    pub(crate) fn fired(&self) -> bool {
        self.fired.get()
    }

    /// Completes once the signal has fired.
    pub(crate) async fn wait(&self) {
        if !self.fired.get() {
            self.signal.notified().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Waker};

    use super::*;

    #[test]
    fn firing_wakes_every_waiter_present_and_future() {
        let signal = Broadcast::default();
        let mut cx = Context::from_waker(Waker::noop());
        let mut a = pin!(signal.wait());
        let mut b = pin!(signal.wait());
        assert!(a.as_mut().poll(&mut cx).is_pending());
        assert!(b.as_mut().poll(&mut cx).is_pending());
        signal.fire();
        assert!(a.as_mut().poll(&mut cx).is_ready());
        assert!(b.as_mut().poll(&mut cx).is_ready());
        assert!(pin!(signal.wait()).poll(&mut cx).is_ready());
        assert!(signal.fired());
    }
}
