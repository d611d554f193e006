//! A named echo server for governance and control-plane tests: it answers `echo` and
//! `ping` with its name, fails while asked, waits as long as asked, and counts its calls;
//! and a bounded wait for a condition.
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ringrpc::codec::{ApplicationErrorKind, ApplicationException, BytesStr};
use ringrpc::{RunningServer, Server};
use ringrpc_examples::echo::echo::{base, echo};

/// A server that answers `echo` and `ping` with its name, fails while `failing`, and
/// waits `delay_ms` first; it counts the calls it gets.
#[derive(Clone, Default)]
pub struct Named {
    pub name: &'static str,
    pub failing: Arc<AtomicBool>,
    pub delay_ms: Arc<AtomicU64>,
    pub calls: Arc<AtomicUsize>,
}

impl base::Base for Named {
    async fn ping(&self) -> Result<BytesStr, base::PingError> {
        Ok(BytesStr::from_static(self.name))
    }
}

impl echo::Echo for Named {
    async fn echo(&self, _msg: BytesStr) -> Result<BytesStr, echo::EchoError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let delay = self.delay_ms.load(Ordering::Relaxed);
        if delay > 0 {
            ringrpc::rt::sleep(Duration::from_millis(delay)).await;
        }
        if self.failing.load(Ordering::Relaxed) {
            return Err(ApplicationException::new(
                ApplicationErrorKind::INTERNAL_ERROR,
                format!("{} is failing", self.name),
            )
            .into());
        }
        Ok(BytesStr::from_static(self.name))
    }

    async fn notify(&self, _event: BytesStr) -> Result<(), echo::NotifyError> {
        Ok(())
    }

    async fn reset(&self) -> Result<(), echo::ResetError> {
        Ok(())
    }
}

pub fn start(name: &'static str) -> (RunningServer, Named) {
    let handler = Named {
        name,
        ..Named::default()
    };
    let h = handler.clone();
    let server = Server::builder()
        .workers(1)
        .serve("127.0.0.1:0", move || echo::Server::new(h.clone()))
        .expect("the server starts");
    (server, handler)
}

/// Waits (at most `within`) until `ready`; `what` names it in the failure.
pub async fn wait_for(what: &str, within: Duration, ready: impl Fn() -> bool) {
    let until = Instant::now() + within;
    while !ready() {
        assert!(Instant::now() < until, "{what}: not within {within:?}");
        ringrpc::rt::sleep(Duration::from_millis(5)).await;
    }
}
