//! [`Signal`]: a same-core notification that wakes every task waiting on it, any number of
//! times (a pool telling its callers that a connection came up or freed). A waiter sees
//! every notification after it started waiting; waiting registers its waker in a slab, so
//! the steady state allocates nothing.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use slab::Slab;

/// Wakes all its waiters on each [`notify_all`](Self::notify_all).
#[derive(Debug, Default)]
pub(crate) struct Signal {
    generation: Cell<u64>,
    waiters: RefCell<Slab<Waker>>,
}

impl Signal {
    /// Wakes every current waiter.
    pub(crate) fn notify_all(&self) {
        self.generation.set(self.generation.get().wrapping_add(1));
        for waker in self.waiters.borrow_mut().drain() {
            waker.wake();
        }
    }

    /// Completes at the first notification after this call.
    pub(crate) fn notified(&self) -> Notified<'_> {
        Notified {
            signal: self,
            generation: self.generation.get(),
            key: None,
        }
    }
}

/// The future of [`Signal::notified`].
#[derive(Debug)]
pub(crate) struct Notified<'a> {
    signal: &'a Signal,
    generation: u64,
    key: Option<usize>,
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.signal.generation.get() != self.generation {
            self.key = None;
            return Poll::Ready(());
        }
        let mut waiters = self.signal.waiters.borrow_mut();
        match self.key.and_then(|k| waiters.get_mut(k)) {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            Some(waker) => *waker = cx.waker().clone(),
            None => {
                let key = waiters.insert(cx.waker().clone());
                drop(waiters);
                self.key = Some(key);
            }
        }
        Poll::Pending
    }
}

impl Drop for Notified<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            self.signal.waiters.borrow_mut().try_remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::pin::pin;

    use super::*;

    #[test]
    fn every_waiter_wakes_on_each_notification_and_dropped_waits_unregister() {
        let signal = Signal::default();
        let mut cx = Context::from_waker(Waker::noop());
        let mut a = pin!(signal.notified());
        assert!(a.as_mut().poll(&mut cx).is_pending());
        {
            let mut b = pin!(signal.notified());
            assert!(b.as_mut().poll(&mut cx).is_pending());
            assert_eq!(signal.waiters.borrow().len(), 2);
        }
        assert_eq!(signal.waiters.borrow().len(), 1);
        signal.notify_all();
        assert!(a.as_mut().poll(&mut cx).is_ready());
        let mut c = pin!(signal.notified());
        assert!(
            c.as_mut().poll(&mut cx).is_pending(),
            "a new wait needs a new notification"
        );
        signal.notify_all();
        assert!(c.as_mut().poll(&mut cx).is_ready());
    }
}
