//! [`EtcdError`]: every failure of this crate, naming the endpoints and the operation.
//!
//! The underlying client's errors are flattened into a `reason` string (the gRPC code, message
//! and source chain, e.g. `Unavailable: tcp connect error: Connection refused (os error 111)`),
//! so the `etcd-client` version never leaks into this crate's API.

use std::time::Duration;

/// A failed etcd operation. Each message names the endpoints and what was being done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EtcdError {
    /// etcd answered with an error, or the connection failed while the operation ran.
    #[error("etcd {operation} at {endpoints} failed: {reason}")]
    Request {
        /// The endpoints used, comma-separated.
        endpoints: String,
        /// What was being done, e.g. `put of key "/a"`.
        operation: String,
        /// The client's error with its whole source chain.
        reason: String,
    },
    /// No answer within the time allowed (etcd down, unreachable, or overloaded).
    #[error(
        "etcd {operation} at {endpoints} timed out after {after:?}{}; is etcd running and reachable there?",
        last_error.as_ref().map(|e| format!(" (last error: {e})")).unwrap_or_default()
    )]
    Timeout {
        /// The endpoints used, comma-separated.
        endpoints: String,
        /// What was being done, e.g. `initial get of prefix "/policy/"`.
        operation: String,
        /// The time allowed.
        after: Duration,
        /// The last failure seen while retrying within that time, if any.
        last_error: Option<String>,
    },
    /// The arguments cannot work (no endpoints, a zero TTL, ...).
    #[error("invalid etcd configuration: {0}")]
    Config(String),
    /// A side thread or its runtime could not be started, or it stopped unexpectedly.
    #[error("etcd side thread `{thread}`: {reason}")]
    Thread {
        /// The thread's name.
        thread: &'static str,
        /// What went wrong.
        reason: String,
    },
}

impl EtcdError {
    /// Whether this is a [`EtcdError::Timeout`].
    pub fn is_timeout(&self) -> bool {
        matches!(self, EtcdError::Timeout { .. })
    }

    pub(crate) fn request(
        endpoints: &[String],
        operation: impl Into<String>,
        err: &etcd_client::Error,
    ) -> Self {
        EtcdError::Request {
            endpoints: describe(endpoints),
            operation: operation.into(),
            reason: client_reason(err),
        }
    }

    pub(crate) fn timeout(
        endpoints: &[String],
        operation: impl Into<String>,
        after: Duration,
        last_error: Option<String>,
    ) -> Self {
        EtcdError::Timeout {
            endpoints: describe(endpoints),
            operation: operation.into(),
            after,
            last_error,
        }
    }

    pub(crate) fn thread(thread: &'static str, reason: impl std::fmt::Display) -> Self {
        EtcdError::Thread {
            thread,
            reason: reason.to_string(),
        }
    }
}

/// The endpoints as one string for messages: `http://a:2379, http://b:2379`.
pub(crate) fn describe(endpoints: &[String]) -> String {
    endpoints.join(", ")
}

/// The reason in an `etcd-client` error, readable: its own `Display` shows gRPC statuses with
/// their sources in `Debug` form.
pub(crate) fn client_reason(err: &etcd_client::Error) -> String {
    use std::error::Error as _;
    match err {
        etcd_client::Error::GRpcStatus(status) => {
            let mut out = format!("{:?}: {}", status.code(), status.message());
            if let Some(source) = status.source() {
                let chain = error_chain(source);
                if !out.contains(&chain) {
                    out.push_str(" (");
                    out.push_str(&chain);
                    out.push(')');
                }
            }
            out
        }
        etcd_client::Error::TransportError(e) => error_chain(e),
        other => other.to_string(),
    }
}

/// An error and its sources, `outer: inner: innermost`, skipping a source whose text the
/// outer message already contains.
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut next = err.source();
    while let Some(e) = next {
        let text = e.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = e.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_names_endpoints_operation_and_last_error() {
        let e = EtcdError::timeout(
            &[
                "http://127.0.0.1:1".to_string(),
                "http://127.0.0.1:2".to_string(),
            ],
            "initial get of prefix \"/p/\"",
            Duration::from_millis(500),
            Some("connection refused".into()),
        );
        let text = e.to_string();
        assert!(
            text.contains("http://127.0.0.1:1, http://127.0.0.1:2"),
            "{text}"
        );
        assert!(text.contains("initial get of prefix \"/p/\""), "{text}");
        assert!(text.contains("500ms"), "{text}");
        assert!(text.contains("last error: connection refused"), "{text}");
        assert!(e.is_timeout());
    }

    #[test]
    fn error_chain_joins_sources_without_repeats() {
        let inner = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        #[derive(Debug, thiserror::Error)]
        #[error("transport error")]
        struct Outer(#[source] std::io::Error);
        assert_eq!(error_chain(&Outer(inner)), "transport error: refused");
    }
}
