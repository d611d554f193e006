//! What a client's connections report: [`ConnectionStats`] per connection and
//! [`ClientStats`] per client on the current core. The counters are plain `Cell`s: a
//! connection lives on one core and is counted there.

use std::cell::Cell;
use std::time::{Duration, Instant};

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
    /// Time since the last call started or finished.
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

/// A connection's live counters.
#[derive(Debug)]
pub(crate) struct Counters {
    pub(crate) core: Option<usize>,
    opened: Instant,
    last_used: Cell<Instant>,
    max_in_flight: Cell<usize>,
    calls: Cell<u64>,
    errors: Cell<u64>,
    rtt_ns: Cell<Option<u64>>,
    pub(crate) bytes_received: Cell<u64>,
}

impl Counters {
    pub(crate) fn new() -> Self {
        let now = Instant::now();
        Self {
            core: crate::rt::current_core(),
            opened: now,
            last_used: Cell::new(now),
            max_in_flight: Cell::new(0),
            calls: Cell::new(0),
            errors: Cell::new(0),
            rtt_ns: Cell::new(None),
            bytes_received: Cell::new(0),
        }
    }

    /// A call was sent; `in_flight` counts it.
    pub(crate) fn sent(&self, in_flight: usize, now: Instant) {
        self.calls.set(self.calls.get() + 1);
        self.max_in_flight
            .set(self.max_in_flight.get().max(in_flight));
        self.last_used.set(now);
    }

    /// A call finished after `rtt` (`ok`: a reply came back).
    pub(crate) fn finished(&self, rtt: Duration, ok: bool, now: Instant) {
        self.last_used.set(now);
        if !ok {
            self.errors.set(self.errors.get() + 1);
            return;
        }
        let sample = rtt.as_nanos().min(u128::from(u64::MAX)) as u64;
        // EWMA with weight 1/8, like TCP's smoothed RTT.
        let smoothed = match self.rtt_ns.get() {
            None => sample,
            Some(old) => old - old / 8 + sample / 8,
        };
        self.rtt_ns.set(Some(smoothed));
    }

    /// How long the connection has been idle at `now`.
    pub(crate) fn idle(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.last_used.get())
    }

    pub(crate) fn snapshot(
        &self,
        peer: &str,
        in_flight: usize,
        bytes_sent: u64,
        now: Instant,
    ) -> ConnectionStats {
        ConnectionStats {
            peer: peer.to_string(),
            core: self.core,
            in_flight,
            max_in_flight: self.max_in_flight.get(),
            calls: self.calls.get(),
            errors: self.errors.get(),
            rtt: self.rtt_ns.get().map(Duration::from_nanos),
            bytes_sent,
            bytes_received: self.bytes_received.get(),
            age: now.saturating_duration_since(self.opened),
            idle: self.idle(now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_track_calls_errors_and_a_smoothed_rtt() {
        let counters = Counters::new();
        let start = Instant::now();
        counters.sent(1, start);
        counters.sent(3, start);
        counters.finished(Duration::from_micros(800), true, start);
        counters.finished(Duration::from_micros(1600), true, start);
        counters.finished(
            Duration::from_secs(1),
            false,
            start + Duration::from_secs(1),
        );
        let stats = counters.snapshot("tcp://x", 0, 10, start + Duration::from_secs(3));
        assert_eq!((stats.calls, stats.errors, stats.max_in_flight), (2, 1, 3));
        assert_eq!(stats.rtt, Some(Duration::from_micros(900)));
        assert_eq!(stats.idle, Duration::from_secs(2));
        assert_eq!(stats.bytes_sent, 10);
    }
}
