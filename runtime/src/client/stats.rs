//! What a client's connections report: [`ConnectionStats`] per connection and
//! [`ClientStats`] per client on the current core. The counters are plain `Cell`s: a
//! connection lives on one core and is counted there.

use std::cell::Cell;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ringrpc_codec::frame::Dialect;

use crate::metrics::{ConnectionCells, Registry, Side};

/// One connection of a client, as seen from the core it lives on.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionStats {
    /// The server's address.
    pub peer: String,
    /// The core the connection lives on (when its worker is pinned).
    pub core: Option<usize>,
    /// Calls waiting for replies now.
    pub in_flight: usize,
    /// The most calls that were in flight at once.
    pub max_in_flight: usize,
    /// Calls sent.
    pub calls: u64,
    /// Calls that failed on this connection (transport errors and timeouts).
    pub errors: u64,
    /// Round-trip time of calls, smoothed (an exponentially weighted moving average).
    pub rtt: Option<Duration>,
    /// Bytes written to the connection.
    pub bytes_sent: u64,
    /// Bytes read from the connection.
    pub bytes_received: u64,
    /// Time since the connection opened.
    pub age: Duration,
    /// Time without a call starting or finishing (measured from the pool's last look,
    /// so it trails by up to the sweep period).
    pub idle: Duration,
}

/// A client's connections on the current core, and its connection attempts there.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientStats {
    /// Open connections.
    pub connections: Vec<ConnectionStats>,
    /// Connection attempts made on this core.
    pub connects: u64,
    /// Attempts that failed.
    pub connect_failures: u64,
    /// Connections closed after idling longer than the idle timeout.
    pub evicted: u64,
}

/// One call in this many has its round trip timed (reading the clock costs more than
/// the rest of the bookkeeping).
const RTT_SAMPLE_EVERY: u64 = 16;

/// A connection's live counters, kept in its [`ConnectionCells`] (readable by the admin
/// endpoint). They read no clock per call: the round trip is timed on a sample of calls,
/// and idleness is judged by whoever asks (the pool's sweeper) from whether any call
/// started or ended since it last looked.
#[derive(Debug)]
pub(crate) struct Counters {
    pub(crate) cells: Arc<ConnectionCells>,
    /// `calls + finished` when idleness was last judged, and since when it has not moved.
    seen: Cell<(u64, Instant)>,
}

impl Counters {
    /// A connection to `peer` just opened (counted in the core's metrics until it is
    /// dropped).
    pub(crate) fn new(peer: String, dialect: Dialect) -> Self {
        Registry::with_core(|c| c.client_connects.add(1));
        OPEN.set(OPEN.get() + 1);
        let cells = ConnectionCells::open(Side::Client, peer);
        cells.set_dialect(|| dialect_name(dialect));
        Self {
            cells,
            seen: Cell::new((0, Instant::now())),
        }
    }

    /// A call was sent; `in_flight` counts it. Returns whether to time its round trip.
    #[inline]
    pub(crate) fn sent(&self, in_flight: usize) -> bool {
        self.cells.started(in_flight);
        self.cells.calls.get() % RTT_SAMPLE_EVERY == 1
    }

    /// A call finished (`ok`: a reply came back), with its round trip if it was timed.
    #[inline]
    pub(crate) fn finished(&self, ok: bool, rtt: Option<Duration>) {
        let cells = &self.cells;
        cells.finished.add(1);
        if !ok {
            cells.errors.add(1);
            return;
        }
        let Some(rtt) = rtt else { return };
        let sample = (rtt.as_nanos().min(u128::from(u64::MAX)) as u64).max(1);
        // EWMA with weight 1/8, like TCP's smoothed RTT.
        let smoothed = match cells.rtt_nanos.get() {
            0 => sample,
            old => (old - old / 8 + sample / 8).max(1),
        };
        cells.rtt_nanos.set(smoothed);
    }

    /// Bytes read from the connection.
    #[inline]
    pub(crate) fn received(&self, bytes: usize) {
        self.cells.bytes_received.add(bytes as u64);
    }

    /// How long no call has started or ended, as far as can be told at `now` (from the
    /// previous time this was asked).
    pub(crate) fn idle(&self, now: Instant) -> Duration {
        let activity = self.cells.calls.get() + self.cells.finished.get();
        let (seen, since) = self.seen.get();
        if activity != seen {
            self.seen.set((activity, now));
            return Duration::ZERO;
        }
        now.saturating_duration_since(since)
    }

    pub(crate) fn snapshot(&self, now: Instant) -> ConnectionStats {
        let info = self.cells.info(now);
        ConnectionStats {
            peer: info.peer,
            core: info.core,
            in_flight: info.in_flight as usize,
            max_in_flight: info.max_in_flight as usize,
            calls: info.calls,
            errors: info.errors,
            rtt: info.rtt,
            bytes_sent: info.bytes_sent,
            bytes_received: info.bytes_received,
            age: info.age,
            idle: self.idle(now),
        }
    }
}

thread_local! {
    /// Client connections alive on this thread.
    static OPEN: Cell<usize> = const { Cell::new(0) };
}

/// Client connections alive on this thread (not yet dropped).
pub(crate) fn open_on_this_thread() -> usize {
    OPEN.get()
}

/// `Framing/Protocol`, as connections report it.
pub(crate) fn dialect_name(dialect: Dialect) -> String {
    format!("{:?}/{:?}", dialect.framing, dialect.protocol)
}

impl Drop for Counters {
    fn drop(&mut self) {
        Registry::with_core(|c| c.client_closed.add(1));
        let _ = OPEN.try_with(|open| open.set(open.get().saturating_sub(1)));
    }
}

#[cfg(test)]
mod tests {
    use ringrpc_codec::ProtocolId;
    use ringrpc_codec::frame::Framing;

    use super::*;

    #[test]
    fn counters_track_calls_errors_a_sampled_rtt_and_idleness() {
        let counters = Counters::new(
            "tcp://x".into(),
            Dialect::new(Framing::Framed, ProtocolId::Binary),
        );
        let start = Instant::now();
        let timed: Vec<bool> = (0..20).map(|n| counters.sent(n + 1)).collect();
        assert_eq!(
            timed.iter().filter(|t| **t).count(),
            2,
            "calls 1 and 17 are timed"
        );
        counters.finished(true, Some(Duration::from_micros(800)));
        counters.finished(true, Some(Duration::from_micros(1600)));
        counters.finished(true, None);
        counters.finished(false, None);
        counters.received(7);
        assert_eq!(
            counters.idle(start),
            Duration::ZERO,
            "calls happened since last asked"
        );
        let later = start + Duration::from_secs(2);
        assert_eq!(counters.idle(later), Duration::from_secs(2));
        let stats = counters.snapshot(start + Duration::from_secs(3));
        assert_eq!(
            (
                stats.calls,
                stats.errors,
                stats.max_in_flight,
                stats.in_flight
            ),
            (20, 1, 20, 16)
        );
        assert_eq!(stats.rtt, Some(Duration::from_micros(900)));
        assert_eq!(stats.idle, Duration::from_secs(3));
        assert_eq!((stats.bytes_sent, stats.bytes_received), (0, 7));
        let listed = crate::metrics::global().connections();
        assert!(listed.iter().any(|c| c.peer == "tcp://x" && c.calls == 20));
        drop(counters);
        let listed = crate::metrics::global().connections();
        assert!(
            !listed.iter().any(|c| c.peer == "tcp://x"),
            "closed ones drop out"
        );
    }
}
