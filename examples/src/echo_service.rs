//! The echo service's handler, shared by the demo, the hello-world example and the runtime
//! tests: `echo` returns its message (or fails as asked: `"fail"` raises the declared
//! `EchoError`, `"undeclared"` an application exception, `"panic"` panics, `"sleep:MS"`
//! answers after MS milliseconds), `notify` counts events, `ping` answers `"pong"`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ringrpc::codec::{ApplicationErrorKind, ApplicationException, BytesStr};

use crate::echo::echo::{EchoError, base, echo};

/// The handler; clones share the event counter (one clone per worker).
#[derive(Debug, Clone, Default)]
pub struct EchoHandler {
    /// Events received by `notify`, on every worker.
    pub events: Arc<AtomicUsize>,
}

impl base::Base for EchoHandler {
    async fn ping(&self) -> Result<BytesStr, base::PingError> {
        Ok(BytesStr::from_static("pong"))
    }
}

impl echo::Echo for EchoHandler {
    async fn echo(&self, msg: BytesStr) -> Result<BytesStr, echo::EchoError> {
        tracing::debug!(bytes = msg.len(), "echoing");
        match msg.as_str() {
            "fail" => Err(EchoError {
                code: 7,
                message: "asked to fail".into(),
            }
            .into()),
            "undeclared" => Err(ApplicationException::new(
                ApplicationErrorKind::INTERNAL_ERROR,
                "asked for an undeclared failure",
            )
            .into()),
            "panic" => panic!("asked to panic"),
            text => {
                if let Some(ms) = text.strip_prefix("sleep:").and_then(|ms| ms.parse().ok()) {
                    ringrpc::rt::sleep(Duration::from_millis(ms)).await;
                }
                Ok(msg)
            }
        }
    }

    async fn notify(&self, _event: BytesStr) -> Result<(), echo::NotifyError> {
        self.events.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    async fn reset(&self) -> Result<(), echo::ResetError> {
        self.events.store(0, Ordering::Relaxed);
        Ok(())
    }
}
