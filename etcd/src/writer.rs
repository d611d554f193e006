//! [`EtcdWriter`]: blocking puts and deletes for tools, tests and benchmarks.
//!
//! One side thread holds the connection; each call sends it a command and blocks until etcd
//! has answered, so a write costs one round trip to etcd plus a thread hand-off (no process
//! spawn, no new connection). Calls may come from any thread, including from inside a tokio
//! or monoio runtime (they block that thread, so keep them off request paths).

use std::sync::mpsc;
use std::time::Duration;

use etcd_client::{Client, DeleteOptions, GetOptions};
use tokio::sync::mpsc as tokio_mpsc;

use crate::backoff::Backoff;
use crate::error::EtcdError;
use crate::side::{self, SideThread, StopSignal};

const THREAD_NAME: &str = "ringrpc-etcd-writer";

/// The default time [`EtcdWriter::connect`] may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The bound on each write.
const OP_TIMEOUT: Duration = Duration::from_secs(5);

/// A blocking etcd client for writes (see the [module docs](self)).
#[derive(Debug)]
pub struct EtcdWriter {
    endpoints: Vec<String>,
    commands: tokio_mpsc::UnboundedSender<Command>,
    thread: SideThread,
}

#[derive(Debug)]
enum Op {
    Put(String, Vec<u8>),
    Delete(String),
    DeletePrefix(String),
}

impl Op {
    fn describe(&self) -> String {
        match self {
            Op::Put(key, _) => format!("put of key {key:?}"),
            Op::Delete(key) => format!("delete of key {key:?}"),
            Op::DeletePrefix(prefix) => format!("delete of prefix {prefix:?}"),
        }
    }
}

#[derive(Debug)]
struct Command {
    op: Op,
    reply: mpsc::SyncSender<Result<i64, EtcdError>>,
}

impl EtcdWriter {
    /// Connects to `endpoints`, waiting up to 5 s for etcd to answer a (linearizable) read.
    ///
    /// # Errors
    ///
    /// [`EtcdError::Timeout`] with the last failure's reason when etcd did not answer in time;
    /// [`EtcdError::Config`] for no endpoints.
    pub fn connect<I, S>(endpoints: I) -> Result<EtcdWriter, EtcdError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::connect_timeout(endpoints, CONNECT_TIMEOUT)
    }

    /// [`connect`](Self::connect), retrying for up to `timeout` (e.g. while etcd starts).
    ///
    /// # Errors
    ///
    /// As [`connect`](Self::connect).
    pub fn connect_timeout<I, S>(endpoints: I, timeout: Duration) -> Result<EtcdWriter, EtcdError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let endpoints = side::endpoints_from(endpoints)?;
        let (commands, receiver) = tokio_mpsc::unbounded_channel();
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let thread_endpoints = endpoints.clone();
        let thread = SideThread::spawn(THREAD_NAME, move |stop| {
            serve(thread_endpoints, timeout, receiver, ready_tx, stop)
        })?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(EtcdWriter {
                endpoints,
                commands,
                thread,
            }),
            Ok(Err(e)) => Err(e),
            Err(mpsc::RecvError) => Err(EtcdError::thread(
                THREAD_NAME,
                "the thread ended before connecting",
            )),
        }
    }

    /// Sets `key` to `value`; returns the etcd revision of the write.
    ///
    /// # Errors
    ///
    /// [`EtcdError::Request`] or [`EtcdError::Timeout`] (5 s) naming the key.
    pub fn put(&self, key: impl Into<String>, value: impl Into<Vec<u8>>) -> Result<i64, EtcdError> {
        self.call(Op::Put(key.into(), value.into()))
    }

    /// Deletes `key` (absent is fine); returns the etcd revision after the delete.
    ///
    /// # Errors
    ///
    /// As [`put`](Self::put).
    pub fn delete(&self, key: impl Into<String>) -> Result<i64, EtcdError> {
        self.call(Op::Delete(key.into()))
    }

    /// Deletes every key starting with `prefix` (`""` deletes every key); returns the etcd
    /// revision after the delete.
    ///
    /// # Errors
    ///
    /// As [`put`](Self::put).
    pub fn delete_prefix(&self, prefix: impl Into<String>) -> Result<i64, EtcdError> {
        self.call(Op::DeletePrefix(prefix.into()))
    }

    /// The endpoints this writer uses.
    pub fn endpoints(&self) -> &[String] {
        &self.endpoints
    }

    fn call(&self, op: Op) -> Result<i64, EtcdError> {
        let gone = |what: &str| {
            EtcdError::thread(
                THREAD_NAME,
                format!(
                    "{what} (writer's thread running: {})",
                    self.thread.is_running()
                ),
            )
        };
        let (reply, answer) = mpsc::sync_channel(1);
        self.commands
            .send(Command { op, reply })
            .map_err(|_| gone("the writer's thread has stopped"))?;
        // The thread bounds each write by OP_TIMEOUT; the margin only covers the hand-off.
        answer
            .recv_timeout(OP_TIMEOUT + Duration::from_secs(5))
            .map_err(|_| gone("no answer from the writer's thread"))?
    }
}

/// The writer thread: connect, report, then run commands until stopped.
async fn serve(
    endpoints: Vec<String>,
    timeout: Duration,
    mut commands: tokio_mpsc::UnboundedReceiver<Command>,
    ready: mpsc::SyncSender<Result<(), EtcdError>>,
    mut stop: StopSignal,
) {
    let mut backoff = Backoff::new(Duration::from_millis(50), Duration::from_millis(500));
    let connected = side::retry_within(
        &endpoints,
        "connect (read check)",
        timeout,
        &mut backoff,
        || probe(&endpoints, timeout),
    )
    .await;
    let mut client = match connected {
        Ok(client) => client,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let _ = ready.send(Ok(()));
    loop {
        let command = tokio::select! {
            _ = stop.stopped() => return,
            command = commands.recv() => match command {
                Some(command) => command,
                None => return,
            },
        };
        let operation = command.op.describe();
        let result = side::bounded(
            &endpoints,
            &operation,
            OP_TIMEOUT,
            execute(&mut client, &endpoints, command.op),
        )
        .await;
        if let Err(e) = &result {
            tracing::warn!(error = %e, "etcd write failed; the next one uses a new connection");
            // Connecting is lazy, so this only prepares a fresh channel for the next command.
            if let Ok(fresh) = side::connect(&endpoints, timeout).await {
                client = fresh;
            }
        }
        let _ = command.reply.send(result);
    }
}

/// Connects and checks that etcd serves a linearizable read (so it has a leader).
async fn probe(endpoints: &[String], timeout: Duration) -> Result<Client, EtcdError> {
    let mut client = side::connect(endpoints, timeout).await?;
    client
        .get("health", Some(GetOptions::new().with_count_only()))
        .await
        .map_err(|e| EtcdError::request(endpoints, "read check", &e))?;
    Ok(client)
}

/// Runs one write; returns the revision etcd reports after it.
async fn execute(client: &mut Client, endpoints: &[String], op: Op) -> Result<i64, EtcdError> {
    let operation = op.describe();
    let revision = match op {
        Op::Put(key, value) => client
            .put(key, value, None)
            .await
            .map(|r| r.header().map(|h| h.revision())),
        Op::Delete(key) => client
            .delete(key, None)
            .await
            .map(|r| r.header().map(|h| h.revision())),
        Op::DeletePrefix(prefix) => {
            let options = if prefix.is_empty() {
                DeleteOptions::new().with_all_keys()
            } else {
                DeleteOptions::new().with_prefix()
            };
            client
                .delete(prefix, Some(options))
                .await
                .map(|r| r.header().map(|h| h.revision()))
        }
    };
    match revision {
        Ok(revision) => Ok(revision.unwrap_or_default()),
        Err(e) => Err(EtcdError::request(endpoints, operation, &e)),
    }
}
