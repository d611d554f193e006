//! [`Broadcast`]: a one-time signal on one core that wakes every task waiting for it (a
//! worker telling its connections to drain). Waiting registers the task's waker in a slab,
//! so a wait per read costs no allocation in the steady state.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use slab::Slab;

/// Fired once; every waiter, present and future, sees it.
#[derive(Debug, Default)]
pub(crate) struct Broadcast {
    fired: Cell<bool>,
    waiters: RefCell<Slab<Waker>>,
}

impl Broadcast {
    /// Fires the signal and wakes every waiter.
    pub(crate) fn fire(&self) {
        self.fired.set(true);
        for waker in self.waiters.borrow_mut().drain() {
            waker.wake();
        }
    }

    /// Whether it has fired.
    pub(crate) fn fired(&self) -> bool {
        self.fired.get()
    }

    /// Completes once the signal has fired.
    pub(crate) fn wait(&self) -> Wait<'_> {
        Wait {
            signal: self,
            key: None,
        }
    }
}

/// The future of [`Broadcast::wait`].
#[derive(Debug)]
pub(crate) struct Wait<'a> {
    signal: &'a Broadcast,
    key: Option<usize>,
}

impl Future for Wait<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.signal.fired.get() {
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

impl Drop for Wait<'_> {
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
    fn firing_wakes_every_waiter_and_dropped_waits_unregister() {
        let signal = Broadcast::default();
        let mut cx = Context::from_waker(Waker::noop());
        let mut a = pin!(signal.wait());
        assert!(a.as_mut().poll(&mut cx).is_pending());
        {
            let mut b = pin!(signal.wait());
            assert!(b.as_mut().poll(&mut cx).is_pending());
            assert_eq!(signal.waiters.borrow().len(), 2);
        }
        assert_eq!(signal.waiters.borrow().len(), 1);
        signal.fire();
        assert!(a.as_mut().poll(&mut cx).is_ready());
        assert!(pin!(signal.wait()).poll(&mut cx).is_ready());
        assert!(signal.fired());
    }
}
