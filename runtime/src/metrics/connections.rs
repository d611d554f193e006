//! Every open connection's figures, readable from any thread ([`ConnectionCells`], listed
//! by [`Registry::connections`](super::Registry::connections)): what `rpcctl connections`
//! shows. The connection's own core writes them (single-writer cells, as for the call
//! metrics); the registry holds them weakly, so a closed connection drops out.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use super::local::LocalCounter;

/// Which end of a connection this process is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Side {
    /// A client's connection to a server.
    Client,
    /// A connection a server accepted.
    Server,
}

impl Side {
    /// `client` or `server`.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Client => "client",
            Side::Server => "server",
        }
    }
}

/// A connection's counters.
#[derive(Debug)]
pub(crate) struct ConnectionCells {
    side: Side,
    peer: String,
    core: Option<usize>,
    opened: Instant,
    /// Framing and protocol, once known (a server learns it from the first frame).
    dialect: OnceLock<String>,
    pub(crate) calls: LocalCounter,
    pub(crate) finished: LocalCounter,
    pub(crate) errors: LocalCounter,
    pub(crate) max_in_flight: LocalCounter,
    /// Smoothed round trip in nanoseconds; 0 until measured.
    pub(crate) rtt_nanos: LocalCounter,
    pub(crate) bytes_sent: LocalCounter,
    pub(crate) bytes_received: LocalCounter,
}

impl ConnectionCells {
    /// The cells of a connection opened now on this thread, listed in the global registry.
    pub(crate) fn open(side: Side, peer: String) -> Arc<ConnectionCells> {
        let cells = Arc::new(ConnectionCells {
            side,
            peer,
            core: crate::rt::current_core(),
            opened: Instant::now(),
            dialect: OnceLock::new(),
            calls: LocalCounter::default(),
            finished: LocalCounter::default(),
            errors: LocalCounter::default(),
            max_in_flight: LocalCounter::default(),
            rtt_nanos: LocalCounter::default(),
            bytes_sent: LocalCounter::default(),
            bytes_received: LocalCounter::default(),
        });
        super::global().add_connection(&cells);
        cells
    }

    /// Records the framing and protocol (the first time only).
    pub(crate) fn set_dialect(&self, dialect: impl FnOnce() -> String) {
        if self.dialect.get().is_none() {
            let _ = self.dialect.set(dialect());
        }
    }

    /// A call started with `in_flight` calls now running (itself included).
    #[inline]
    pub(crate) fn started(&self, in_flight: usize) {
        self.calls.add(1);
        if in_flight as u64 > self.max_in_flight.get() {
            self.max_in_flight.set(in_flight as u64);
        }
    }

    /// The figures now.
    pub(crate) fn info(&self, now: Instant) -> ConnectionInfo {
        let calls = self.calls.get();
        let rtt = self.rtt_nanos.get();
        ConnectionInfo {
            side: self.side,
            peer: self.peer.clone(),
            core: self.core,
            dialect: self.dialect.get().cloned().unwrap_or_default(),
            calls,
            in_flight: calls.saturating_sub(self.finished.get()),
            max_in_flight: self.max_in_flight.get(),
            errors: self.errors.get(),
            rtt: (rtt > 0).then(|| Duration::from_nanos(rtt)),
            bytes_sent: self.bytes_sent.get(),
            bytes_received: self.bytes_received.get(),
            age: now.saturating_duration_since(self.opened),
        }
    }
}

/// One open connection, as `rpcctl connections` lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionInfo {
    /// Client or server end.
    pub side: Side,
    /// The other end's address.
    pub peer: String,
    /// The core it lives on (`None`: a thread not pinned to one).
    pub core: Option<usize>,
    /// Framing and protocol, e.g. `TTHeader/Binary` (empty until the first frame).
    pub dialect: String,
    /// Calls it carried.
    pub calls: u64,
    /// Calls on it now.
    pub in_flight: u64,
    /// The most at once.
    pub max_in_flight: u64,
    /// Calls that failed on it (client: transport errors and timeouts).
    pub errors: u64,
    /// Smoothed round trip of its calls (client; sampled).
    pub rtt: Option<Duration>,
    /// Bytes written.
    pub bytes_sent: u64,
    /// Bytes read.
    pub bytes_received: u64,
    /// Since it opened.
    pub age: Duration,
}
