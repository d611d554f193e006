//! [`Registration`]: a key that exists exactly as long as its owner, for service discovery.
//!
//! A server announces itself by putting `key = value` under an etcd lease and keeping that
//! lease alive from a side thread. Dropping the [`Registration`] revokes the lease, so the key
//! disappears at once; if the process dies instead, etcd deletes the key when the lease's TTL
//! runs out. If the connection is lost, the thread reconnects with backoff and registers again
//! under a new lease (the old one may have expired meanwhile).

use std::cell::RefCell;
use std::sync::mpsc;
use std::time::Duration;

use etcd_client::{Client, PutOptions};

use crate::backoff::Backoff;
use crate::error::EtcdError;
use crate::side::{self, SideThread, StopSignal};

const THREAD_NAME: &str = "ringrpc-etcd-lease";

/// The time [`Registration::register`] may take, and the bound on each later attempt.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long dropping a [`Registration`] waits for etcd to revoke the lease.
const REVOKE_TIMEOUT: Duration = Duration::from_secs(2);

/// A key kept alive under a lease; dropping it deletes the key (see the [module docs](self)).
#[derive(Debug)]
pub struct Registration {
    key: String,
    thread: SideThread,
}

impl Registration {
    /// Puts `key = value` under a new lease of `ttl` (rounded up to whole seconds; etcd may
    /// raise a very short one to its minimum) and keeps the lease alive, refreshing it every
    /// third of its TTL, until the returned handle is dropped.
    ///
    /// Blocks the calling thread until the key is written (at most 5 s): the registration is
    /// visible when this returns.
    ///
    /// # Errors
    ///
    /// [`EtcdError::Timeout`] (with the last failure's reason) when the key could not be
    /// written within 5 s; [`EtcdError::Config`] for no endpoints or a zero `ttl`.
    pub fn register<I, S>(
        endpoints: I,
        key: impl Into<String>,
        value: impl Into<Vec<u8>>,
        ttl: Duration,
    ) -> Result<Registration, EtcdError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let endpoints = side::endpoints_from(endpoints)?;
        if ttl.is_zero() {
            return Err(EtcdError::Config("a registration's TTL is zero".into()));
        }
        let ttl_secs =
            i64::try_from(ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0)).unwrap_or(i64::MAX);
        let key = key.into();
        let entry = Entry {
            operation: format!("registration of key {key:?}"),
            endpoints,
            key: key.clone(),
            value: value.into(),
            ttl_secs,
        };
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let thread = SideThread::spawn(THREAD_NAME, move |stop| entry.run(ready_tx, stop))?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Registration { key, thread }),
            Ok(Err(e)) => Err(e),
            Err(mpsc::RecvError) => Err(EtcdError::thread(
                THREAD_NAME,
                "the thread ended before registering",
            )),
        }
    }

    /// The registered key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Whether the keep-alive thread still runs (it runs until the handle is dropped).
    pub fn is_running(&self) -> bool {
        self.thread.is_running()
    }
}

/// The side thread's state.
struct Entry {
    endpoints: Vec<String>,
    operation: String,
    key: String,
    value: Vec<u8>,
    ttl_secs: i64,
}

/// The client and lease that hold the key now, if any.
type Active = RefCell<Option<(Client, i64)>>;

impl Entry {
    async fn run(self, ready: mpsc::SyncSender<Result<(), EtcdError>>, mut stop: StopSignal) {
        let active: Active = RefCell::new(None);
        tokio::select! {
            _ = stop.stopped() => {}
            _ = self.keep(&active, ready) => {}
        }
        let Some((mut client, lease)) = active.into_inner() else {
            return;
        };
        let revoked = tokio::time::timeout(REVOKE_TIMEOUT, client.lease_revoke(lease)).await;
        match revoked {
            Ok(Ok(_)) => tracing::debug!(key = %self.key, lease, "etcd registration revoked"),
            Ok(Err(e)) => tracing::warn!(
                key = %self.key,
                error = %EtcdError::request(&self.endpoints, format!("revoke of the lease of key {:?}", self.key), &e),
                "the key stays until its TTL runs out"
            ),
            Err(_) => tracing::warn!(
                key = %self.key,
                timeout = ?REVOKE_TIMEOUT,
                "etcd did not revoke the registration's lease in time; the key stays until its TTL runs out"
            ),
        }
    }

    /// Registers, then keeps the lease alive, re-registering after failures; returns only if
    /// the first registration failed.
    async fn keep(&self, active: &Active, ready: mpsc::SyncSender<Result<(), EtcdError>>) {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        let first = side::retry_within(
            &self.endpoints,
            &self.operation,
            CONNECT_TIMEOUT,
            &mut backoff,
            || self.register_once(active),
        )
        .await;
        let mut granted_ttl = match first {
            Ok(ttl) => ttl,
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        tracing::info!(key = %self.key, ttl = granted_ttl, "etcd registration written");
        let _ = ready.send(Ok(()));
        loop {
            let reason = self.keep_alive(active, granted_ttl).await;
            tracing::warn!(key = %self.key, %reason, "etcd registration's lease keep-alive failed; registering again");
            granted_ttl = loop {
                tokio::time::sleep(backoff.next_delay()).await;
                let attempt = side::bounded(
                    &self.endpoints,
                    &self.operation,
                    CONNECT_TIMEOUT,
                    self.register_once(active),
                )
                .await;
                match attempt {
                    Ok(ttl) => {
                        backoff.reset();
                        tracing::info!(key = %self.key, "etcd registration written again");
                        break ttl;
                    }
                    Err(e) => {
                        tracing::warn!(key = %self.key, error = %e, "etcd registration failed; retrying")
                    }
                }
            };
        }
    }

    /// Grants a lease and puts the key under it; returns the granted TTL in seconds.
    async fn register_once(&self, active: &Active) -> Result<i64, EtcdError> {
        let mut client = side::connect(&self.endpoints, CONNECT_TIMEOUT).await?;
        let lease = client.lease_grant(self.ttl_secs, None).await.map_err(|e| {
            EtcdError::request(
                &self.endpoints,
                format!("lease grant for key {:?}", self.key),
                &e,
            )
        })?;
        // Recorded before the put, so that a stop from here on revokes this lease.
        *active.borrow_mut() = Some((client.clone(), lease.id()));
        client
            .put(
                self.key.as_str(),
                self.value.as_slice(),
                Some(PutOptions::new().with_lease(lease.id())),
            )
            .await
            .map_err(|e| {
                EtcdError::request(&self.endpoints, format!("put of key {:?}", self.key), &e)
            })?;
        Ok(lease.ttl())
    }

    /// Refreshes the lease every third of its TTL until that fails; returns why.
    async fn keep_alive(&self, active: &Active, granted_ttl: i64) -> String {
        let Some((mut client, lease)) = active.borrow().clone() else {
            return "no lease".into();
        };
        let ttl = Duration::from_secs(u64::try_from(granted_ttl).unwrap_or(0).max(1));
        let period = ttl / 3;
        let operation = format!("lease keep-alive for key {:?}", self.key);
        let opened = side::bounded(&self.endpoints, &operation, period, async {
            client
                .lease_keep_alive(lease)
                .await
                .map_err(|e| EtcdError::request(&self.endpoints, &operation, &e))
        })
        .await;
        let (mut keeper, mut responses) = match opened {
            Ok(pair) => pair,
            Err(e) => return e.to_string(),
        };
        loop {
            let refreshed = side::bounded(&self.endpoints, &operation, period, async {
                keeper
                    .keep_alive()
                    .await
                    .map_err(|e| EtcdError::request(&self.endpoints, &operation, &e))?;
                responses
                    .message()
                    .await
                    .map_err(|e| EtcdError::request(&self.endpoints, &operation, &e))
            })
            .await;
            match refreshed {
                Ok(Some(response)) if response.ttl() > 0 => {}
                Ok(Some(_)) => {
                    return format!("etcd says the lease of key {:?} has expired", self.key);
                }
                Ok(None) => return format!("etcd closed the {operation}"),
                Err(e) => return e.to_string(),
            }
            tokio::time::sleep(period).await;
        }
    }
}
