//! A [`Snapshot`] as OpenMetrics text (what Prometheus scrapes), written by the
//! `prometheus-client` crate's encoder: one family per metric, series labelled by
//! service, method, endpoint, error kind and core.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;

use super::inspect::BreakerInfo;
use super::local::bucket_upper_bound;
use super::registry::{CallMetrics, ErrorKind, Family, Snapshot};
use crate::governance::breaker::BreakerState;

/// The content type of [`encode_text`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// `snapshot` in the OpenMetrics text format.
pub fn encode_text(snapshot: &Snapshot) -> String {
    let mut registry = prometheus_client::registry::Registry::default();
    registry.register_collector(Box::new(SnapshotCollector(snapshot.clone())));
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
    out
}

#[derive(Debug)]
struct SnapshotCollector(Snapshot);

/// Metric names of one call family.
struct Names {
    family: Family,
    /// Without `_total` (the encoder adds it to counters).
    requests: &'static str,
    errors: &'static str,
    in_flight: &'static str,
    /// Without `_seconds` (the encoder adds the unit).
    duration: &'static str,
    what: &'static str,
}

const FAMILIES: [Names; 3] = [
    Names {
        family: Family::Server,
        requests: "ringrpc_server_requests",
        errors: "ringrpc_server_errors",
        in_flight: "ringrpc_server_in_flight",
        duration: "ringrpc_server_request_duration",
        what: "calls handled by servers",
    },
    Names {
        family: Family::ClientCall,
        requests: "ringrpc_client_calls",
        errors: "ringrpc_client_call_errors",
        in_flight: "ringrpc_client_calls_in_flight",
        duration: "ringrpc_client_call_duration",
        what: "client calls (all their attempts)",
    },
    Names {
        family: Family::ClientAttempt,
        requests: "ringrpc_client_requests",
        errors: "ringrpc_client_errors",
        in_flight: "ringrpc_client_in_flight",
        duration: "ringrpc_client_request_duration",
        what: "requests clients sent to each endpoint (one per attempt)",
    },
];

fn labels(c: &CallMetrics) -> Vec<(&'static str, &str)> {
    let mut labels = vec![
        ("service", c.service.as_str()),
        ("method", c.method.as_str()),
    ];
    if c.family == Family::ClientAttempt {
        labels.push(("endpoint", c.endpoint.as_str()));
    }
    labels
}

fn core_label(core: Option<usize>) -> String {
    core.map_or_else(|| "none".to_owned(), |c| c.to_string())
}

impl SnapshotCollector {
    fn encode_calls(&self, encoder: &mut DescriptorEncoder<'_>, names: &Names) -> std::fmt::Result {
        let calls: Vec<&CallMetrics> = self
            .0
            .calls
            .iter()
            .filter(|c| c.family == names.family)
            .collect();
        if calls.is_empty() {
            return Ok(());
        }
        let help = format!("Calls started: {}.", names.what);
        let mut metric =
            encoder.encode_descriptor(names.requests, &help, None, MetricType::Counter)?;
        for c in &calls {
            metric
                .encode_family(&labels(c))?
                .encode_counter::<NoLabelSet, _, u64>(&c.requests, None)?;
        }
        let help = format!("Calls that failed, by kind: {}.", names.what);
        let mut metric =
            encoder.encode_descriptor(names.errors, &help, None, MetricType::Counter)?;
        for c in &calls {
            for kind in ErrorKind::ALL
                .into_iter()
                .filter(|k| k.applies_to(names.family))
            {
                let mut labels = labels(c);
                labels.push(("kind", kind.as_str()));
                metric
                    .encode_family(&labels)?
                    .encode_counter::<NoLabelSet, _, u64>(&c.errors(kind), None)?;
            }
        }
        let help = format!("Calls in flight: {}.", names.what);
        let mut metric =
            encoder.encode_descriptor(names.in_flight, &help, None, MetricType::Gauge)?;
        for c in &calls {
            metric
                .encode_family(&labels(c))?
                .encode_gauge(&c.in_flight)?;
        }
        let help = format!("Latency of {}.", names.what);
        let mut metric = encoder.encode_descriptor(
            names.duration,
            &help,
            Some(&Unit::Seconds),
            MetricType::Histogram,
        )?;
        for c in &calls {
            let buckets: Vec<(f64, u64)> = c
                .latency_buckets
                .iter()
                .enumerate()
                .map(|(i, n)| (bucket_upper_bound(i), *n))
                .collect();
            metric
                .encode_family(&labels(c))?
                .encode_histogram::<NoLabelSet>(
                    c.latency_sum_seconds,
                    c.latency_count,
                    &buckets,
                    None,
                )?;
        }
        Ok(())
    }

    fn encode_cores(&self, encoder: &mut DescriptorEncoder<'_>) -> std::fmt::Result {
        type Value = fn(&super::registry::CoreMetrics) -> u64;
        let counters: [(&str, &str, MetricType, Value); 10] = [
            (
                "ringrpc_server_connections_accepted",
                "Connections servers accepted, by core.",
                MetricType::Counter,
                |c| c.server_accepted,
            ),
            (
                "ringrpc_server_connections_open",
                "Server connections open, by core.",
                MetricType::Gauge,
                |c| c.server_accepted.saturating_sub(c.server_closed),
            ),
            (
                "ringrpc_server_connections_refused",
                "Connections refused at accept (max_connections), by core.",
                MetricType::Counter,
                |c| c.server_refused,
            ),
            (
                "ringrpc_client_connects",
                "Connections clients opened, by core (calls per connect = ConnShard reuse).",
                MetricType::Counter,
                |c| c.client_connects,
            ),
            (
                "ringrpc_client_connect_failures",
                "Client connection attempts that failed, by core.",
                MetricType::Counter,
                |c| c.client_connect_failures,
            ),
            (
                "ringrpc_client_connections_open",
                "Client connections open, by core.",
                MetricType::Gauge,
                |c| c.client_connects.saturating_sub(c.client_closed),
            ),
            (
                "ringrpc_buffer_slot_leases",
                "Buffer-pool slots connections leased to read into, by core.",
                MetricType::Counter,
                |c| c.buffer_leases,
            ),
            (
                "ringrpc_buffer_slots_in_use",
                "Buffer-pool slots leased and not back yet (read into, or viewed by a decoded message), by core.",
                MetricType::Gauge,
                |c| c.buffer_in_use,
            ),
            (
                "ringrpc_buffer_resident_bytes",
                "Buffer-pool memory touched so far (an upper bound of what it keeps resident), by core.",
                MetricType::Gauge,
                |c| c.buffer_resident_bytes,
            ),
            (
                "ringrpc_buffer_heap_fallbacks",
                "Reads that fell back to the heap: frames larger than the largest slot, or no free slot, by core.",
                MetricType::Counter,
                |c| c.buffer_heap_fallbacks,
            ),
        ];
        if self.0.cores.is_empty() {
            return Ok(());
        }
        for (name, help, kind, value) in counters {
            let mut metric = encoder.encode_descriptor(name, help, None, kind)?;
            for core in &self.0.cores {
                let labels = [("core", core_label(core.core))];
                let mut family = metric.encode_family(&labels)?;
                match kind {
                    MetricType::Counter => {
                        family.encode_counter::<NoLabelSet, _, u64>(&value(core), None)?
                    }
                    _ => family.encode_gauge(&value(core))?,
                }
            }
        }
        Ok(())
    }

    fn encode_policies(&self, encoder: &mut DescriptorEncoder<'_>) -> std::fmt::Result {
        if self.0.policies.is_empty() {
            return Ok(());
        }
        let mut metric = encoder.encode_descriptor(
            "ringrpc_policy_version",
            "Version of each live policy (bumped by every accepted update).",
            None,
            MetricType::Gauge,
        )?;
        for (i, p) in self.0.policies.iter().enumerate() {
            let labels = [("policy", i.to_string()), ("source", p.source.clone())];
            metric.encode_family(&labels)?.encode_gauge(&p.version)?;
        }
        let mut metric = encoder.encode_descriptor(
            "ringrpc_policy_rejected",
            "Live policy updates refused (the last good policy stayed).",
            None,
            MetricType::Counter,
        )?;
        for (i, p) in self.0.policies.iter().enumerate() {
            let labels = [("policy", i.to_string()), ("source", p.source.clone())];
            metric
                .encode_family(&labels)?
                .encode_counter::<NoLabelSet, _, u64>(&p.rejected, None)?;
        }
        Ok(())
    }
}

impl SnapshotCollector {
    fn encode_breakers(&self, encoder: &mut DescriptorEncoder<'_>) -> std::fmt::Result {
        if self.0.breakers.is_empty() {
            return Ok(());
        }
        let labels = |b: &BreakerInfo| {
            [
                ("service", b.service.clone()),
                ("method", b.method.clone()),
                ("endpoint", b.endpoint.clone()),
                ("core", core_label(b.core)),
            ]
        };
        let mut metric = encoder.encode_descriptor(
            "ringrpc_client_breaker_state",
            "Circuit breaker state per method, endpoint and core: 0 closed, 1 open, 2 half-open.",
            None,
            MetricType::Gauge,
        )?;
        for b in &self.0.breakers {
            let state: u64 = match b.state {
                BreakerState::Closed => 0,
                BreakerState::Open => 1,
                BreakerState::HalfOpen => 2,
            };
            metric.encode_family(&labels(b))?.encode_gauge(&state)?;
        }
        let mut metric = encoder.encode_descriptor(
            "ringrpc_client_breaker_opened",
            "Times each circuit breaker opened.",
            None,
            MetricType::Counter,
        )?;
        for b in &self.0.breakers {
            metric
                .encode_family(&labels(b))?
                .encode_counter::<NoLabelSet, _, u64>(&b.times_opened, None)?;
        }
        Ok(())
    }
}

impl Collector for SnapshotCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> std::fmt::Result {
        for names in &FAMILIES {
            self.encode_calls(&mut encoder, names)?;
        }
        self.encode_cores(&mut encoder)?;
        self.encode_breakers(&mut encoder)?;
        self.encode_policies(&mut encoder)
    }
}
