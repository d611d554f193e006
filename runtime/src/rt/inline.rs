//! [`InlineFirst`]: runs futures on the current task until they first wait, and only then on
//! a task of their own. A handler that answers at once (the common case) costs no task and
//! no allocation; one that waits moves, still pinned in its box, to a spawned task.
//!
//! monoio's timers and I/O keep the first waker they are polled with, so a future must see
//! one waker for its whole life even though it changes tasks: it is always polled with a
//! [`WakeRelay`] waker, which forwards to whichever task runs it now.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

/// A waker whose wake-ups go to the task it currently points at (none before it is moved).
#[derive(Debug, Default)]
struct WakeRelay {
    target: Mutex<Option<Waker>>,
}

impl WakeRelay {
    fn point_at(&self, waker: &Waker) {
        let mut target = self.target.lock().unwrap_or_else(|e| e.into_inner());
        if !target.as_ref().is_some_and(|t| t.will_wake(waker)) {
            *target = Some(waker.clone());
        }
    }
}

impl Wake for WakeRelay {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let target = self
            .target
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(target) = target {
            target.wake();
        }
    }
}

/// A reusable slot for futures of one type `F` (a connection's calls), polled first inline.
pub(crate) struct InlineFirst<F> {
    slot: Pin<Box<Option<F>>>,
    relay: Arc<WakeRelay>,
    waker: Waker,
}

impl<F> std::fmt::Debug for InlineFirst<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InlineFirst").finish_non_exhaustive()
    }
}

impl<F: Future<Output = ()> + 'static> Default for InlineFirst<F> {
    fn default() -> Self {
        let relay = Arc::new(WakeRelay::default());
        Self {
            slot: Box::pin(None),
            waker: Waker::from(relay.clone()),
            relay,
        }
    }
}

impl<F: Future<Output = ()> + 'static> InlineFirst<F> {
    /// Polls `future` once here; if it is not done, spawns a task that finishes it.
    /// Returns whether it finished inline.
    pub(crate) fn run(&mut self, future: F) -> bool {
        self.slot.set(Some(future));
        if poll_slot(self.slot.as_mut(), &self.waker).is_ready() {
            self.slot.set(None);
            return true;
        }
        let Self {
            mut slot,
            relay,
            waker,
        } = std::mem::take(self);
        monoio::spawn(std::future::poll_fn(move |cx| {
            relay.point_at(cx.waker());
            poll_slot(slot.as_mut(), &waker)
        }));
        false
    }
}

fn poll_slot<F: Future<Output = ()>>(slot: Pin<&mut Option<F>>, waker: &Waker) -> Poll<()> {
    match slot.as_pin_mut() {
        Some(future) => future.poll(&mut Context::from_waker(waker)),
        None => Poll::Ready(()),
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::rc::Rc;
    use std::time::Duration;

    use super::*;
    use crate::rt::{Driver, block_on};

    #[test]
    fn ready_futures_finish_inline_and_waiting_ones_finish_on_their_own_task() {
        for driver in [Driver::IoUring, Driver::Epoll] {
            block_on(driver, async {
                let done = Rc::new(Cell::new(0));
                let mut calls = InlineFirst::default();
                let call = |sleep_ms: u64| {
                    let done = done.clone();
                    async move {
                        if sleep_ms > 0 {
                            // monoio's timer keeps the first waker it sees: the relay.
                            crate::rt::sleep(Duration::from_millis(sleep_ms)).await;
                        }
                        done.set(done.get() + 1);
                    }
                };
                assert!(calls.run(call(0)));
                assert_eq!(done.get(), 1);
                assert!(!calls.run(call(20)));
                assert!(!calls.run(call(10)));
                assert!(calls.run(call(0)));
                assert_eq!(done.get(), 2);
                crate::rt::sleep(Duration::from_millis(60)).await;
                assert_eq!(done.get(), 4, "the moved futures were woken on their tasks");
            })
            .unwrap();
        }
    }
}
