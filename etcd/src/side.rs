//! The side-thread bridge: one OS thread per watch, registration or writer, each running a
//! tokio current-thread runtime that hosts the (tokio-only) etcd client.
//!
//! Nothing here touches the caller's runtime: a monoio worker (or any thread) only spawns the
//! thread, signals it to stop and joins it with a bound. Results leave the side thread through
//! plain callbacks and `std` channels. This module also holds the connection helpers the three
//! users share.

use std::future::Future;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use etcd_client::{Client, ConnectOptions};
use tokio::sync::watch;

use crate::backoff::Backoff;
use crate::error::EtcdError;

/// How long dropping a handle waits for its side thread to finish.
pub(crate) const JOIN_BOUND: Duration = Duration::from_secs(3);

/// HTTP/2 keepalive on every connection: a silent peer is declared dead after about
/// `interval + timeout`, which turns a half-open connection into a reconnect.
const KEEPALIVE: (Duration, Duration) = (Duration::from_secs(10), Duration::from_secs(5));

/// A running side thread; dropping it stops the thread and joins it within [`JOIN_BOUND`].
#[derive(Debug)]
pub(crate) struct SideThread {
    name: &'static str,
    stop: watch::Sender<bool>,
    handle: Option<JoinHandle<()>>,
}

/// The side thread's view of the stop request.
#[derive(Debug)]
pub(crate) struct StopSignal(watch::Receiver<bool>);

impl StopSignal {
    /// Completes once the owner asked the thread to stop (or was dropped).
    pub(crate) async fn stopped(&mut self) {
        // An error means the sender is gone, which is a stop request too.
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}

impl SideThread {
    /// Starts thread `name` running `body(stop)` to completion on a current-thread runtime.
    /// The future need not be `Send`: it never leaves that thread.
    pub(crate) fn spawn<F, Fut>(name: &'static str, body: F) -> Result<SideThread, EtcdError>
    where
        F: FnOnce(StopSignal) -> Fut + Send + 'static,
        Fut: Future<Output = ()>,
    {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| EtcdError::thread(name, format!("cannot build its tokio runtime: {e}")))?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let handle = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                runtime.block_on(body(StopSignal(stop_rx)));
                // Dropping the runtime here closes the client's connections on this thread.
                drop(runtime);
            })
            .map_err(|e| EtcdError::thread(name, format!("cannot spawn: {e}")))?;
        Ok(SideThread {
            name,
            stop: stop_tx,
            handle: Some(handle),
        })
    }

    /// Whether the thread is still running.
    pub(crate) fn is_running(&self) -> bool {
        self.handle.as_ref().is_some_and(|h| !h.is_finished())
    }

    /// Asks the thread to stop and waits up to `bound` for it; returns whether it finished
    /// (a thread still busy after `bound`, e.g. inside a slow callback, is left detached).
    pub(crate) fn stop_and_join(&mut self, bound: Duration) -> bool {
        let _ = self.stop.send(true);
        let Some(handle) = self.handle.take() else {
            return true;
        };
        let deadline = Instant::now() + bound;
        while !handle.is_finished() {
            if Instant::now() >= deadline {
                tracing::warn!(
                    thread = self.name,
                    ?bound,
                    "etcd side thread did not stop in time; detaching it"
                );
                return false;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        if handle.join().is_err() {
            tracing::error!(thread = self.name, "etcd side thread panicked");
        }
        true
    }
}

impl Drop for SideThread {
    fn drop(&mut self) {
        self.stop_and_join(JOIN_BOUND);
    }
}

/// Checks and normalises endpoints: at least one, none blank.
pub(crate) fn endpoints_from<I, S>(endpoints: I) -> Result<Vec<String>, EtcdError>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let endpoints: Vec<String> = endpoints
        .into_iter()
        .map(|e| e.into().trim().to_string())
        .collect();
    if endpoints.is_empty() {
        return Err(EtcdError::Config("no etcd endpoints given".into()));
    }
    if endpoints.iter().any(|e| e.is_empty()) {
        return Err(EtcdError::Config(format!(
            "an etcd endpoint is blank in [{}]",
            crate::error::describe(&endpoints)
        )));
    }
    Ok(endpoints)
}

/// A client for `endpoints`. Connecting is lazy: the first request opens the connection, so
/// callers bound every request with a timeout.
pub(crate) async fn connect(
    endpoints: &[String],
    connect_timeout: Duration,
) -> Result<Client, EtcdError> {
    let options = ConnectOptions::new()
        .with_connect_timeout(connect_timeout)
        .with_keep_alive(KEEPALIVE.0, KEEPALIVE.1)
        .with_require_leader(true);
    // Connecting is lazy, so an error here is about the endpoints themselves (a bad URL).
    Client::connect(endpoints, Some(options))
        .await
        .map_err(|e| {
            EtcdError::Config(format!(
                "cannot use etcd endpoints [{}]: {}",
                crate::error::describe(endpoints),
                crate::error::client_reason(&e)
            ))
        })
}

/// Runs `attempt` until it succeeds, fails with [`EtcdError::Config`] (no retry can help), or
/// `budget` has passed, sleeping with `backoff` between failures. On timeout the error carries
/// the last failure's reason.
pub(crate) async fn retry_within<T, F, Fut>(
    endpoints: &[String],
    operation: &str,
    budget: Duration,
    backoff: &mut Backoff,
    mut attempt: F,
) -> Result<T, EtcdError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, EtcdError>>,
{
    let deadline = tokio::time::Instant::now() + budget;
    let mut last_error = None;
    loop {
        match tokio::time::timeout_at(deadline, attempt()).await {
            Ok(Ok(value)) => {
                backoff.reset();
                return Ok(value);
            }
            Ok(Err(e @ EtcdError::Config(_))) => return Err(e),
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "etcd attempt failed; retrying");
                last_error = Some(e.to_string());
            }
            Err(_) => return Err(EtcdError::timeout(endpoints, operation, budget, last_error)),
        }
        let wake = tokio::time::Instant::now() + backoff.next_delay();
        if wake >= deadline {
            tokio::time::sleep_until(deadline).await;
            return Err(EtcdError::timeout(endpoints, operation, budget, last_error));
        }
        tokio::time::sleep_until(wake).await;
    }
}

/// `fut`, failing with a [`EtcdError::Timeout`] for `operation` after `after`.
pub(crate) async fn bounded<T>(
    endpoints: &[String],
    operation: &str,
    after: Duration,
    fut: impl Future<Output = Result<T, EtcdError>>,
) -> Result<T, EtcdError> {
    tokio::time::timeout(after, fut)
        .await
        .unwrap_or_else(|_| Err(EtcdError::timeout(endpoints, operation, after, None)))
}
