//! [`CatchUnwind`]: a future that turns a panic while polling the future inside into an
//! error, so one panicking handler cannot take its worker (and every connection on it) down.

use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

/// Polls `F`, returning `Err(payload)` if a poll panicked.
#[derive(Debug)]
pub(crate) struct CatchUnwind<F>(F);

impl<F> CatchUnwind<F> {
    pub(crate) fn new(future: F) -> Self {
        CatchUnwind(future)
    }
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn Any + Send>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: structural pinning of the only field: `CatchUnwind` never moves `self.0`
        // out, implements no `Drop` and is not `Unpin` unless `F` is.
        let inner = unsafe { self.map_unchecked_mut(|s| &mut s.0) };
        match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(payload) => Poll::Ready(Err(payload)),
        }
    }
}

/// The message of a panic payload (`&str` or `String`), or a placeholder.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a non-string panic payload")
}

#[cfg(test)]
mod tests {
    use std::pin::pin;
    use std::task::Waker;

    use super::*;

    #[test]
    fn a_panic_inside_becomes_an_error_and_values_pass_through() {
        let mut cx = Context::from_waker(Waker::noop());
        let ok = pin!(CatchUnwind::new(async { 5 })).poll(&mut cx);
        assert!(matches!(ok, Poll::Ready(Ok(5))));
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let boom = pin!(CatchUnwind::new(async { panic!("boom {}", 1) })).poll(&mut cx);
        std::panic::set_hook(hook);
        match boom {
            Poll::Ready(Err(payload)) => assert_eq!(panic_message(&*payload), "boom 1"),
            _ => panic!("the panic was not caught"),
        }
    }
}
