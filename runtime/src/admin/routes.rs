//! What each admin path answers ([`Routes`]): metrics as OpenMetrics text or JSON, health.

use serde_json::{Value, json};

use super::http::{Request, Response};
use crate::governance::breaker::BreakerState;
use crate::health::{Health, ServingStatus};
use crate::metrics::{self, CallMetrics, ErrorKind, Family, Snapshot};

/// The admin endpoint's paths.
#[derive(Debug, Clone)]
pub struct Routes {
    health: Health,
}

const PATHS: [(&str, &str); 4] = [
    ("/metrics", "OpenMetrics text; ?format=json for JSON"),
    (
        "/connections",
        "open connections, client and server ends, as JSON",
    ),
    ("/health", "serving status; ?service=Name for one service"),
    ("/", "this list"),
];

impl Routes {
    pub(crate) fn new(health: Health) -> Self {
        Routes { health }
    }

    /// The answer to `request`.
    pub(crate) fn answer(&self, request: &Request) -> Response {
        if request.method != "GET" && request.method != "HEAD" {
            return Response::text(405, format!("{} is not served: use GET\n", request.method));
        }
        match request.path.as_str() {
            "/metrics" => metrics_response(&request.query),
            "/health" => self.health_response(&request.query),
            "/connections" => Response::json(200, &connections_json()),
            "/policies" => Response::json(200, &policies_json()),
            "/breakers" => Response::json(200, &breakers_json()),
            "/" => Response::json(
                200,
                &Value::Object(
                    PATHS
                        .iter()
                        .map(|(p, what)| ((*p).to_owned(), Value::from(*what)))
                        .collect(),
                ),
            ),
            other => Response::text(
                404,
                format!(
                    "no such path: {other} (served: {})\n",
                    PATHS.map(|(p, _)| p).join(", ")
                ),
            ),
        }
    }

    fn health_response(&self, query: &str) -> Response {
        match query_value(query, "service") {
            Some(service) => match self.health.status(&service) {
                Some(status) => Response::json(
                    status_code(status),
                    &json!({ "service": service, "status": status.as_str() }),
                ),
                None => Response::json(
                    404,
                    &json!({ "service": service, "status": "SERVICE_UNKNOWN" }),
                ),
            },
            None => {
                let all = self.health.all();
                let process = all[0].1;
                let services: serde_json::Map<String, Value> = all
                    .iter()
                    .skip(1)
                    .map(|(name, s)| (name.clone(), Value::from(s.as_str())))
                    .collect();
                Response::json(
                    status_code(process),
                    &json!({ "status": process.as_str(), "services": services }),
                )
            }
        }
    }
}

fn status_code(status: ServingStatus) -> u16 {
    match status {
        ServingStatus::Serving => 200,
        _ => 503,
    }
}

/// The value of `key` in a query string (no percent-decoding: names are plain).
fn query_value(query: &str, key: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.to_owned())
}

fn metrics_response(query: &str) -> Response {
    let snapshot = metrics::global().snapshot();
    match query_value(query, "format").as_deref() {
        None | Some("text") | Some("openmetrics") => Response {
            status: 200,
            content_type: metrics::CONTENT_TYPE,
            body: metrics::encode_text(&snapshot),
        },
        Some("json") => Response::json(200, &snapshot_json(&snapshot)),
        Some(other) => Response::text(400, format!("unknown format `{other}`: text or json\n")),
    }
}

fn family_name(family: Family) -> &'static str {
    match family {
        Family::Server => "server",
        Family::ClientCall => "client_call",
        Family::ClientAttempt => "client_attempt",
    }
}

fn call_json(c: &CallMetrics) -> Value {
    let errors: serde_json::Map<String, Value> = ErrorKind::ALL
        .into_iter()
        .filter(|k| k.applies_to(c.family))
        .map(|k| (k.as_str().to_owned(), Value::from(c.errors(k))))
        .collect();
    let buckets: Vec<Value> = c
        .latency_buckets
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let bound = metrics::bucket_upper_bound(i);
            let le = if bound.is_finite() {
                Value::from(bound)
            } else {
                Value::from("+Inf")
            };
            json!({ "le": le, "count": n })
        })
        .collect();
    json!({
        "family": family_name(c.family),
        "service": c.service,
        "method": c.method,
        "endpoint": c.endpoint,
        "requests": c.requests,
        "errors": errors,
        "in_flight": c.in_flight,
        "latency": {
            "count": c.latency_count,
            "sum_seconds": c.latency_sum_seconds,
            "buckets": buckets,
        },
    })
}

/// A snapshot as JSON (what `rpcctl metrics` reads).
pub(crate) fn snapshot_json(snapshot: &Snapshot) -> Value {
    json!({
        "calls": snapshot.calls.iter().map(call_json).collect::<Vec<_>>(),
        "cores": snapshot.cores.iter().map(|c| json!({
            "core": c.core,
            "server_accepted": c.server_accepted,
            "server_open": c.server_accepted.saturating_sub(c.server_closed),
            "server_refused": c.server_refused,
            "client_connects": c.client_connects,
            "client_connect_failures": c.client_connect_failures,
            "client_open": c.client_connects.saturating_sub(c.client_closed),
            "buffer_leases": c.buffer_leases,
            "buffer_in_use": c.buffer_in_use,
            "buffer_resident_bytes": c.buffer_resident_bytes,
            "buffer_heap_fallbacks": c.buffer_heap_fallbacks,
        })).collect::<Vec<_>>(),
        "policies": snapshot.policies.iter().map(|p| json!({
            "source": p.source,
            "version": p.version,
            "rejected": p.rejected,
        })).collect::<Vec<_>>(),
    })
}

fn connections_json() -> Value {
    let open = metrics::global().connections();
    Value::Array(
        open.iter()
            .map(|c| {
                json!({
                    "side": c.side.as_str(),
                    "peer": c.peer,
                    "core": c.core,
                    "dialect": c.dialect,
                    "calls": c.calls,
                    "in_flight": c.in_flight,
                    "max_in_flight": c.max_in_flight,
                    "errors": c.errors,
                    "rtt_us": c.rtt.map(|d| d.as_micros() as u64),
                    "bytes_sent": c.bytes_sent,
                    "bytes_received": c.bytes_received,
                    "age_ms": c.age.as_millis() as u64,
                })
            })
            .collect(),
    )
}

fn policies_json() -> Value {
    let reports = metrics::global().policies();
    Value::Array(
        reports
            .iter()
            .map(|r| {
                json!({
                    "side": r.side.as_str(),
                    "target": r.target,
                    "service": r.service,
                    "method": r.method,
                    "values": r.values.iter().map(|v| json!({
                        "key": v.key,
                        "value": v.value,
                        "source": v.source,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}

fn breakers_json() -> Value {
    let breakers = metrics::global().breakers();
    Value::Array(
        breakers
            .iter()
            .map(|b| {
                json!({
                    "target": b.target,
                    "service": b.service,
                    "method": b.method,
                    "endpoint": b.endpoint,
                    "core": b.core,
                    "state": match b.state {
                        BreakerState::Closed => "closed",
                        BreakerState::Open => "open",
                        BreakerState::HalfOpen => "half-open",
                    },
                    "probes_in_ms": b.probes_in.map(|d| d.as_millis() as u64),
                    "times_opened": b.times_opened,
                })
            })
            .collect(),
    )
}
