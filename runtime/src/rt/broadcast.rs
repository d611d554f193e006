//! [`Broadcast`]: a one-time signal on one core that wakes every task waiting for it (a
//! worker telling its connections to drain), built on [`Signal`].

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::signal::{Notified, Signal};

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

    /// Completes once the signal has fired, and stays complete: it may be polled again
    /// after it completed, so one waiter kept for a whole connection registers once, not
    /// at every wait of the connection.
    pub(crate) fn wait(&self) -> Fired<'_> {
        Fired {
            broadcast: self,
            notified: self.signal.notified(),
        }
    }
}

/// The future of [`Broadcast::wait`].
#[derive(Debug)]
pub(crate) struct Fired<'a> {
    broadcast: &'a Broadcast,
    notified: Notified<'a>,
}

impl Future for Fired<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.broadcast.fired() {
            return Poll::Ready(());
        }
        Pin::new(&mut self.notified).poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::pin::pin;
    use std::task::Waker;

    use super::*;

    #[test]
    fn firing_wakes_every_waiter_present_and_future_and_they_stay_complete() {
        let signal = Broadcast::default();
        let mut cx = Context::from_waker(Waker::noop());
        let mut a = pin!(signal.wait());
        let mut b = pin!(signal.wait());
        assert!(a.as_mut().poll(&mut cx).is_pending());
        assert!(a.as_mut().poll(&mut cx).is_pending());
        assert!(b.as_mut().poll(&mut cx).is_pending());
        signal.fire();
        assert!(a.as_mut().poll(&mut cx).is_ready());
        assert!(b.as_mut().poll(&mut cx).is_ready());
        // Polled again after completing: still complete.
        assert!(a.as_mut().poll(&mut cx).is_ready());
        // Made after the signal fired: complete at once.
        assert!(pin!(signal.wait()).poll(&mut cx).is_ready());
        assert!(signal.fired());
    }
}
