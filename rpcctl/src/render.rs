//! The admin endpoint's JSON answers as tables.

use serde_json::Value;

use crate::table::render;

fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".to_owned(),
        Value::String(s) if s.is_empty() => "-".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn items(json: &Value) -> &[Value] {
    json.as_array().map(Vec::as_slice).unwrap_or_default()
}

/// `n` bytes in B, KiB, MiB or GiB.
fn bytes(v: &Value) -> String {
    let n = v.as_u64().unwrap_or(0) as f64;
    match n {
        n if n < 1024.0 => format!("{n} B"),
        n if n < 1024.0 * 1024.0 => format!("{:.1} KiB", n / 1024.0),
        n if n < 1024.0 * 1024.0 * 1024.0 => format!("{:.1} MiB", n / 1048576.0),
        n => format!("{:.1} GiB", n / 1073741824.0),
    }
}

/// A duration in microseconds, in the unit that reads best.
fn micros(us: f64) -> String {
    match us {
        us if us < 1000.0 => format!("{us:.0}µs"),
        us if us < 1_000_000.0 => format!("{:.1}ms", us / 1000.0),
        us => format!("{:.2}s", us / 1e6),
    }
}

pub(crate) fn connections(json: &Value) -> String {
    let rows: Vec<Vec<String>> = items(json)
        .iter()
        .map(|c| {
            vec![
                text(&c["side"]),
                text(&c["peer"]),
                text(&c["core"]),
                text(&c["dialect"]),
                text(&c["calls"]),
                text(&c["in_flight"]),
                c["rtt_us"]
                    .as_u64()
                    .map_or_else(|| "-".to_owned(), |us| micros(us as f64)),
                text(&c["errors"]),
                bytes(&c["bytes_sent"]),
                bytes(&c["bytes_received"]),
                micros(c["age_ms"].as_u64().unwrap_or(0) as f64 * 1000.0),
            ]
        })
        .collect();
    render(
        &[
            "SIDE",
            "PEER",
            "CORE",
            "DIALECT",
            "CALLS",
            "IN-FLIGHT",
            "RTT",
            "ERRORS",
            "SENT",
            "RECEIVED",
            "AGE",
        ],
        &rows,
    )
}

pub(crate) fn policies(json: &Value) -> String {
    let mut rows = Vec::new();
    for report in items(json) {
        for value in items(&report["values"]) {
            rows.push(vec![
                text(&report["side"]),
                text(&report["target"]),
                format!("{}.{}", text(&report["service"]), text(&report["method"])),
                text(&value["key"]),
                text(&value["value"]),
                text(&value["source"]),
            ]);
        }
    }
    render(
        &["SIDE", "TARGET", "METHOD", "KEY", "VALUE", "SOURCE"],
        &rows,
    )
}

pub(crate) fn breakers(json: &Value) -> String {
    let rows: Vec<Vec<String>> = items(json)
        .iter()
        .map(|b| {
            vec![
                text(&b["target"]),
                format!("{}.{}", text(&b["service"]), text(&b["method"])),
                text(&b["endpoint"]),
                text(&b["core"]),
                text(&b["state"]),
                b["probes_in_ms"]
                    .as_u64()
                    .map_or_else(|| "-".to_owned(), |ms| micros(ms as f64 * 1000.0)),
                text(&b["times_opened"]),
            ]
        })
        .collect();
    render(
        &[
            "TARGET", "METHOD", "ENDPOINT", "CORE", "STATE", "PROBE-IN", "OPENED",
        ],
        &rows,
    )
}

/// The upper bound of the bucket holding quantile `q` of a latency histogram.
fn quantile(latency: &Value, q: f64) -> String {
    let count = latency["count"].as_u64().unwrap_or(0);
    if count == 0 {
        return "-".to_owned();
    }
    let wanted = (q * count as f64).ceil().max(1.0) as u64;
    let mut seen = 0;
    for bucket in items(&latency["buckets"]) {
        seen += bucket["count"].as_u64().unwrap_or(0);
        if seen >= wanted {
            return match bucket["le"].as_f64() {
                Some(seconds) => format!("≤{}", micros(seconds * 1e6)),
                None => "slower".to_owned(),
            };
        }
    }
    "-".to_owned()
}

pub(crate) fn metrics(json: &Value) -> String {
    let rows: Vec<Vec<String>> = items(&json["calls"])
        .iter()
        .map(|c| {
            let errors: Vec<String> = c["errors"]
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(_, n)| n.as_u64().unwrap_or(0) > 0)
                .map(|(kind, n)| format!("{kind}={n}"))
                .collect();
            let latency = &c["latency"];
            let count = latency["count"].as_u64().unwrap_or(0);
            let mean = latency["sum_seconds"].as_f64().unwrap_or(0.0) * 1e6 / count.max(1) as f64;
            vec![
                text(&c["family"]),
                format!("{}.{}", text(&c["service"]), text(&c["method"])),
                text(&c["endpoint"]),
                text(&c["requests"]),
                if errors.is_empty() {
                    "-".to_owned()
                } else {
                    errors.join(",")
                },
                text(&c["in_flight"]),
                if count == 0 {
                    "-".to_owned()
                } else {
                    micros(mean)
                },
                quantile(latency, 0.5),
                quantile(latency, 0.99),
            ]
        })
        .collect();
    let mut out = render(
        &[
            "FAMILY",
            "METHOD",
            "ENDPOINT",
            "CALLS",
            "ERRORS",
            "IN-FLIGHT",
            "MEAN",
            "P50",
            "P99",
        ],
        &rows,
    );
    out.push('\n');
    out.push_str(&cores(json));
    out
}

/// Connections and buffer-pool use by core, and ConnShard's reuse: client requests per
/// connection opened.
fn cores(json: &Value) -> String {
    const KEYS: [&str; 10] = [
        "core",
        "server_open",
        "server_accepted",
        "server_refused",
        "client_open",
        "client_connects",
        "client_connect_failures",
        "buffer_in_use",
        "buffer_resident_bytes",
        "buffer_heap_fallbacks",
    ];
    let rows: Vec<Vec<String>> = items(&json["cores"])
        .iter()
        .map(|c| KEYS.iter().map(|k| text(&c[*k])).collect())
        .collect();
    let mut out = render(
        &[
            "CORE",
            "SERVER-OPEN",
            "ACCEPTED",
            "REFUSED",
            "CLIENT-OPEN",
            "CONNECTS",
            "CONNECT-FAILED",
            "BUF-SLOTS",
            "BUF-BYTES",
            "HEAP-FALLBACKS",
        ],
        &rows,
    );
    let attempts: u64 = items(&json["calls"])
        .iter()
        .filter(|c| c["family"] == "client_attempt")
        .map(|c| c["requests"].as_u64().unwrap_or(0))
        .sum();
    let connects: u64 = items(&json["cores"])
        .iter()
        .map(|c| c["client_connects"].as_u64().unwrap_or(0))
        .sum();
    if connects > 0 {
        out.push_str(&format!(
            "\nclient requests per connection opened: {:.1} ({attempts} requests, {connects} connections)\n",
            attempts as f64 / connects as f64
        ));
    }
    out
}

pub(crate) fn health(json: &Value) -> String {
    if json.get("service").is_some() {
        return render(
            &["SERVICE", "STATUS"],
            &[vec![text(&json["service"]), text(&json["status"])]],
        );
    }
    let mut rows = vec![vec!["(process)".to_owned(), text(&json["status"])]];
    rows.extend(
        json["services"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(name, status)| vec![name.clone(), text(status)]),
    );
    render(&["SERVICE", "STATUS"], &rows)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn quantiles_are_read_from_the_buckets() {
        let latency = json!({
            "count": 100,
            "buckets": [
                { "le": 0.000016, "count": 50 },
                { "le": 0.000032, "count": 49 },
                { "le": "+Inf", "count": 1 },
            ],
        });
        assert_eq!(super::quantile(&latency, 0.5), "≤16µs");
        assert_eq!(super::quantile(&latency, 0.99), "≤32µs");
        assert_eq!(super::quantile(&latency, 0.999), "slower");
        assert_eq!(super::quantile(&json!({ "count": 0 }), 0.5), "-");
    }

    #[test]
    fn sizes_and_durations_read_well() {
        assert_eq!(super::bytes(&json!(512)), "512 B");
        assert_eq!(super::bytes(&json!(2048)), "2.0 KiB");
        assert_eq!(super::micros(250.0), "250µs");
        assert_eq!(super::micros(2500.0), "2.5ms");
        assert_eq!(super::micros(3_000_000.0), "3.00s");
    }
}
