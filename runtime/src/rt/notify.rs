//! [`LocalNotify`]: wakes one task on the same core (a connection's writer when replies are
//! queued). No atomics, no allocation: the waker is stored in a `Cell`.

use std::cell::Cell;
use std::future::poll_fn;
use std::task::{Poll, Waker};

/// A single-waiter, same-thread notification: `notify` marks it and wakes the waiter;
/// `notified().await` returns once it was marked since the last wait.
#[derive(Default)]
pub(crate) struct LocalNotify {
    marked: Cell<bool>,
    waiter: Cell<Option<Waker>>,
}

impl std::fmt::Debug for LocalNotify {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalNotify")
            .field("marked", &self.marked.get())
            .finish_non_exhaustive()
    }
}

impl LocalNotify {
    /// Marks the notification and wakes the waiter, if any.
    pub(crate) fn notify(&self) {
        self.marked.set(true);
        if let Some(waker) = self.waiter.take() {
            waker.wake();
        }
    }

    /// Marks the notification without waking the waiter: for a waiter its task is about to
    /// poll anyway.
    pub(crate) fn mark(&self) {
        self.marked.set(true);
    }

    /// Waits until [`notify`](Self::notify) was called, then clears the mark.
    pub(crate) async fn notified(&self) {
        poll_fn(|cx| {
            if self.marked.replace(false) {
                Poll::Ready(())
            } else {
                let waker = match self.waiter.take() {
                    Some(w) if w.will_wake(cx.waker()) => w,
                    _ => cx.waker().clone(),
                };
                self.waiter.set(Some(waker));
                Poll::Pending
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::pin::pin;
    use std::task::Context;

    use super::*;

    #[test]
    fn a_notification_before_or_during_the_wait_completes_it() {
        let notify = LocalNotify::default();
        notify.notify();
        let mut cx = Context::from_waker(Waker::noop());
        assert!(pin!(notify.notified()).as_mut().poll(&mut cx).is_ready());
        let mut wait = pin!(notify.notified());
        assert!(wait.as_mut().poll(&mut cx).is_pending());
        notify.notify();
        assert!(wait.as_mut().poll(&mut cx).is_ready());
    }
}
