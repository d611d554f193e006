//! [`PrefixWatch`]: the complete, current contents of one etcd key prefix, delivered to a
//! callback as a [`Snapshot`] each time it changes.
//!
//! This is what the control plane builds on: the callback runs on the watch's side thread and
//! typically publishes the snapshot to the workers (an `ArcSwap`, or a message per core).
//!
//! Life cycle:
//! 1. [`PrefixWatch::start`] gets the prefix (retrying within
//!    [`WatchConfig::connect_timeout`]); the callback sees that first snapshot before `start`
//!    returns. If no snapshot could be had in time, `start` fails and nothing keeps running.
//! 2. The watch then runs from the snapshot's revision + 1; each watch response that carries
//!    events gives one callback with the new complete snapshot (several events in one
//!    response, e.g. a transaction, give one call).
//! 3. On a lost connection, a cancelled watch or a compaction, the watch reconnects with
//!    exponential backoff and jitter, gets the prefix again, calls back only if the contents
//!    differ from the last snapshot delivered, and resumes watching. Failures are logged with
//!    `tracing` at `warn` with the reason; [`PrefixWatch::status`] shows the current state.
//! 4. Dropping the [`PrefixWatch`] stops the thread and joins it (bounded).

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, mpsc};
use std::time::Duration;

use etcd_client::{Client, EventType, GetOptions, WatchOptions, WatchStream};

use crate::backoff::Backoff;
use crate::error::EtcdError;
use crate::side::{self, SideThread, StopSignal};

const THREAD_NAME: &str = "ringrpc-etcd-watch";

/// What to watch and how to (re)connect. Build it with [`WatchConfig::new`] and the setters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchConfig {
    /// etcd client URLs, e.g. `http://127.0.0.1:2379`; requests are balanced across them.
    pub endpoints: Vec<String>,
    /// The key prefix; every key starting with it is part of the snapshot. `""` means all keys.
    pub prefix: String,
    /// The time [`PrefixWatch::start`] may take to get the first snapshot, and the bound on
    /// each later reconnection attempt. Default: 5 s.
    pub connect_timeout: Duration,
    /// `(min, max)` delay between reconnection attempts; it doubles per failure, with
    /// jitter. Default: 100 ms to 5 s.
    pub retry_backoff: (Duration, Duration),
}

impl WatchConfig {
    /// Watch `prefix` on `endpoints`, with the default timeout and backoff.
    pub fn new<I, S>(endpoints: I, prefix: impl Into<String>) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        WatchConfig {
            endpoints: endpoints.into_iter().map(Into::into).collect(),
            prefix: prefix.into(),
            connect_timeout: Duration::from_secs(5),
            retry_backoff: (Duration::from_millis(100), Duration::from_secs(5)),
        }
    }

    /// Sets [`WatchConfig::connect_timeout`].
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets [`WatchConfig::retry_backoff`].
    pub fn retry_backoff(mut self, min: Duration, max: Duration) -> Self {
        self.retry_backoff = (min, max);
        self
    }
}

/// The complete contents of the watched prefix at one etcd revision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// The etcd store revision this snapshot reflects (it covers every write up to it).
    pub revision: i64,
    /// Full keys (prefix included) to values. Keys that are not UTF-8 are converted lossily.
    pub entries: BTreeMap<String, Vec<u8>>,
}

/// The watch's state as last seen by its thread; see [`PrefixWatch::status`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WatchStatus {
    /// Whether a watch stream is established right now.
    pub connected: bool,
    /// The revision of the last snapshot taken (delivered or found unchanged).
    pub revision: i64,
    /// The last failure, if any (kept after a successful reconnection, for diagnosis).
    pub last_error: Option<String>,
    /// How many times the watch has re-synchronised after a failure.
    pub resyncs: u64,
}

/// A running watch of one prefix; see the [module docs](self). Dropping it stops the watch.
#[derive(Debug)]
pub struct PrefixWatch {
    prefix: String,
    status: Arc<Mutex<WatchStatus>>,
    thread: SideThread,
}

impl PrefixWatch {
    /// Gets `config.prefix`, calls `on_change` with that first snapshot, and keeps calling it
    /// with each new snapshot from a side thread until the returned handle is dropped.
    ///
    /// Blocks the calling thread until the first snapshot has been delivered and the watch is
    /// established (at most `config.connect_timeout` plus the first callback), so call it at
    /// start-up, not on a worker that is serving requests.
    ///
    /// `on_change` always runs on the watch's own thread, one call at a time; the first call
    /// has returned by the time `start` returns, and every write etcd acknowledges after that
    /// is delivered. If `on_change` panics, the watch stops
    /// (the panic is logged and recorded in [`status`](Self::status)).
    ///
    /// # Errors
    ///
    /// [`EtcdError::Timeout`] (with the last failure's reason) when no snapshot could be had
    /// within `config.connect_timeout`; [`EtcdError::Config`] for no endpoints or a zero
    /// timeout; [`EtcdError::Thread`] when the thread cannot start or `on_change` panicked
    /// on the first snapshot.
    pub fn start(
        config: WatchConfig,
        on_change: impl FnMut(Snapshot) + Send + 'static,
    ) -> Result<PrefixWatch, EtcdError> {
        let endpoints = side::endpoints_from(config.endpoints.iter().cloned())?;
        if config.connect_timeout.is_zero() {
            return Err(EtcdError::Config(
                "the watch's connect_timeout is zero".into(),
            ));
        }
        let config = WatchConfig {
            endpoints,
            ..config
        };
        let status = Arc::new(Mutex::new(WatchStatus::default()));
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let watcher = Watcher {
            backoff: Backoff::new(config.retry_backoff.0, config.retry_backoff.1),
            operation: format!("get of prefix {:?}", config.prefix),
            config: config.clone(),
            on_change: Box::new(on_change),
            status: Arc::clone(&status),
            current: Snapshot::default(),
        };
        let thread = SideThread::spawn(THREAD_NAME, move |stop| watcher.run(ready_tx, stop))?;
        // The thread answers within connect_timeout plus the first callback; the margin only
        // guards against a callback that never returns.
        let bound = config.connect_timeout + Duration::from_secs(30);
        match ready_rx.recv_timeout(bound) {
            Ok(Ok(())) => Ok(PrefixWatch {
                prefix: config.prefix,
                status,
                thread,
            }),
            Ok(Err(e)) => Err(e),
            Err(mpsc::RecvTimeoutError::Timeout) => Err(EtcdError::thread(
                THREAD_NAME,
                format!(
                    "the first snapshot was not delivered within {bound:?} (is on_change blocked?)"
                ),
            )),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(EtcdError::thread(
                THREAD_NAME,
                "the thread ended before the first snapshot",
            )),
        }
    }

    /// The watched prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Whether the watch is connected, the last revision seen and the last error.
    pub fn status(&self) -> WatchStatus {
        lock(&self.status).clone()
    }

    /// Whether the side thread still runs (false only after `on_change` panicked).
    pub fn is_running(&self) -> bool {
        self.thread.is_running()
    }
}

fn lock(status: &Mutex<WatchStatus>) -> MutexGuard<'_, WatchStatus> {
    // The status is plain data, valid even if a holder panicked.
    status.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How a watch stream ended.
enum Ended {
    /// The connection or the stream failed; the reason.
    Lost(String),
    /// The watch's start revision was compacted away: re-get at once.
    Compacted(String),
    /// `on_change` panicked: stop.
    CallbackPanicked,
}

/// The side thread's state.
struct Watcher {
    config: WatchConfig,
    operation: String,
    on_change: Box<dyn FnMut(Snapshot) + Send>,
    status: Arc<Mutex<WatchStatus>>,
    backoff: Backoff,
    /// The last snapshot taken (what the callback has seen, except while it is running).
    current: Snapshot,
}

impl Watcher {
    async fn run(mut self, ready: mpsc::SyncSender<Result<(), EtcdError>>, mut stop: StopSignal) {
        tokio::select! {
            _ = stop.stopped() => tracing::debug!(prefix = %self.config.prefix, "etcd watch stopped"),
            _ = self.watch_forever(ready) => {}
        }
        lock(&self.status).connected = false;
    }

    async fn watch_forever(&mut self, ready: mpsc::SyncSender<Result<(), EtcdError>>) {
        let first = side::retry_within(
            &self.config.endpoints,
            &format!("initial {}", self.operation),
            self.config.connect_timeout,
            &mut self.backoff,
            || open(&self.config, &self.operation),
        )
        .await;
        let mut session = match first {
            Ok((session, snapshot)) => {
                self.current = snapshot;
                if !self.deliver() {
                    let _ = ready.send(Err(EtcdError::thread(
                        THREAD_NAME,
                        "on_change panicked on the first snapshot",
                    )));
                    return;
                }
                lock(&self.status).connected = true;
                tracing::info!(
                    prefix = %self.config.prefix,
                    revision = self.current.revision,
                    keys = self.current.entries.len(),
                    "etcd watch: first snapshot"
                );
                let _ = ready.send(Ok(()));
                session
            }
            Err(e) => {
                lock(&self.status).last_error = Some(e.to_string());
                let _ = ready.send(Err(e));
                return;
            }
        };
        loop {
            let immediate = match self.follow(&mut session).await {
                Ended::CallbackPanicked => return,
                Ended::Lost(reason) => {
                    tracing::warn!(prefix = %self.config.prefix, %reason, "etcd watch lost; reconnecting");
                    self.record_failure(reason);
                    false
                }
                Ended::Compacted(reason) => {
                    tracing::warn!(prefix = %self.config.prefix, %reason, "etcd watch compacted; re-reading the prefix");
                    self.record_failure(reason);
                    true
                }
            };
            match self.resync(immediate).await {
                Some(s) => session = s,
                None => return,
            }
        }
    }

    fn record_failure(&self, reason: String) {
        let mut status = lock(&self.status);
        status.connected = false;
        status.last_error = Some(reason);
    }

    /// Re-reads the prefix and watches again, retrying until it succeeds; calls back if the
    /// contents changed meanwhile. `None` when the callback panicked.
    async fn resync(&mut self, mut immediate: bool) -> Option<Session> {
        loop {
            if !immediate {
                tokio::time::sleep(self.backoff.next_delay()).await;
            }
            immediate = false;
            let attempt = side::bounded(
                &self.config.endpoints,
                &self.operation,
                self.config.connect_timeout,
                open(&self.config, &self.operation),
            )
            .await;
            match attempt {
                Ok((session, snapshot)) => {
                    self.backoff.reset();
                    let changed = snapshot.entries != self.current.entries;
                    tracing::info!(
                        prefix = %self.config.prefix,
                        revision = snapshot.revision,
                        changed,
                        "etcd watch resumed"
                    );
                    self.current = snapshot;
                    {
                        let mut status = lock(&self.status);
                        status.revision = self.current.revision;
                        status.resyncs += 1;
                    }
                    if changed && !self.deliver() {
                        return None;
                    }
                    lock(&self.status).connected = true;
                    return Some(session);
                }
                Err(e) => {
                    tracing::warn!(prefix = %self.config.prefix, error = %e, "etcd watch: reconnection failed; retrying");
                    self.record_failure(e.to_string());
                }
            }
        }
    }

    /// Applies the session's watch responses, one callback each, until the stream ends.
    async fn follow(&mut self, session: &mut Session) -> Ended {
        let endpoints = &self.config.endpoints.clone();
        let operation = format!("watch of prefix {:?}", self.config.prefix);
        loop {
            let response = match session.stream.message().await {
                Ok(Some(response)) => response,
                Ok(None) => {
                    return Ended::Lost(format!(
                        "etcd at {} closed the {operation}",
                        crate::error::describe(endpoints)
                    ));
                }
                Err(e) => {
                    return Ended::Lost(EtcdError::request(endpoints, &operation, &e).to_string());
                }
            };
            if response.canceled() {
                let reason = format!(
                    "etcd at {} cancelled the {operation}: {}",
                    crate::error::describe(endpoints),
                    response.cancel_reason()
                );
                return if response.compact_revision() > 0 {
                    Ended::Compacted(format!(
                        "{reason} (compacted at revision {})",
                        response.compact_revision()
                    ))
                } else {
                    Ended::Lost(reason)
                };
            }
            if response.events().is_empty() {
                continue; // the "created" response or a progress notification
            }
            for event in response.events() {
                let Some(kv) = event.kv() else { continue };
                let key = String::from_utf8_lossy(kv.key()).into_owned();
                match event.event_type() {
                    EventType::Put => {
                        self.current.entries.insert(key, kv.value().to_vec());
                    }
                    EventType::Delete => {
                        self.current.entries.remove(&key);
                    }
                }
            }
            let last_event_revision = response
                .events()
                .iter()
                .filter_map(|e| e.kv())
                .map(|kv| kv.mod_revision())
                .max();
            self.current.revision = response
                .header()
                .map(|h| h.revision())
                .or(last_event_revision)
                .unwrap_or(self.current.revision);
            if !self.deliver() {
                return Ended::CallbackPanicked;
            }
        }
    }

    /// Calls back with the current snapshot; false if the callback panicked.
    fn deliver(&mut self) -> bool {
        lock(&self.status).revision = self.current.revision;
        let snapshot = self.current.clone();
        let on_change = &mut self.on_change;
        match catch_unwind(AssertUnwindSafe(|| on_change(snapshot))) {
            Ok(()) => true,
            Err(_) => {
                let reason = "on_change panicked; the watch stopped".to_string();
                tracing::error!(prefix = %self.config.prefix, "etcd watch: {reason}");
                self.record_failure(reason);
                false
            }
        }
    }
}

/// `options` narrowed to `prefix` (`""` meaning every key).
fn prefix_options<O>(
    prefix: &str,
    options: O,
    with_prefix: fn(O) -> O,
    with_all_keys: fn(O) -> O,
) -> O {
    if prefix.is_empty() {
        with_all_keys(options)
    } else {
        with_prefix(options)
    }
}

/// A connection and a watch stream on it.
struct Session {
    /// Kept so the channel under the stream lives as long as the stream.
    _client: Client,
    stream: WatchStream,
}

/// Connects, reads the whole prefix, and opens a watch from the revision after that read.
async fn open(config: &WatchConfig, operation: &str) -> Result<(Session, Snapshot), EtcdError> {
    let endpoints = &config.endpoints;
    let mut client = side::connect(endpoints, config.connect_timeout).await?;
    let options = prefix_options(
        &config.prefix,
        GetOptions::new(),
        GetOptions::with_prefix,
        GetOptions::with_all_keys,
    );
    let response = client
        .get(config.prefix.as_str(), Some(options))
        .await
        .map_err(|e| EtcdError::request(endpoints, operation, &e))?;
    let revision = response.header().map(|h| h.revision()).unwrap_or_default();
    let entries = response
        .kvs()
        .iter()
        .map(|kv| {
            (
                String::from_utf8_lossy(kv.key()).into_owned(),
                kv.value().to_vec(),
            )
        })
        .collect();
    let options = prefix_options(
        &config.prefix,
        WatchOptions::new(),
        WatchOptions::with_prefix,
        WatchOptions::with_all_keys,
    )
    .with_start_revision(revision + 1);
    let stream = client
        .watch(config.prefix.as_str(), Some(options))
        .await
        .map_err(|e| {
            EtcdError::request(
                endpoints,
                format!("watch of prefix {:?}", config.prefix),
                &e,
            )
        })?;
    let session = Session {
        _client: client,
        stream,
    };
    Ok((session, Snapshot { revision, entries }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_and_setters() {
        let c = WatchConfig::new(["http://127.0.0.1:2379"], "/policy/")
            .connect_timeout(Duration::from_secs(1))
            .retry_backoff(Duration::from_millis(10), Duration::from_millis(200));
        assert_eq!(c.endpoints, vec!["http://127.0.0.1:2379".to_string()]);
        assert_eq!(c.prefix, "/policy/");
        assert_eq!(c.connect_timeout, Duration::from_secs(1));
        assert_eq!(
            c.retry_backoff,
            (Duration::from_millis(10), Duration::from_millis(200))
        );
        let d = WatchConfig::new(Vec::<String>::new(), "");
        assert_eq!(d.connect_timeout, Duration::from_secs(5));
    }

    #[test]
    fn start_rejects_bad_config_without_a_thread() {
        let err =
            PrefixWatch::start(WatchConfig::new(Vec::<String>::new(), "/p/"), |_| {}).unwrap_err();
        assert!(matches!(err, EtcdError::Config(_)), "{err}");
        let err = PrefixWatch::start(
            WatchConfig::new(["http://127.0.0.1:1"], "/p/").connect_timeout(Duration::ZERO),
            |_| {},
        )
        .unwrap_err();
        assert!(matches!(err, EtcdError::Config(_)), "{err}");
    }
}
