//! One rpc-bench result: a markdown table row and a JSON object on one line (the keys of
//! issue #4: `server`, `mode`, `payload`, `concurrency`, `qps`, `p50_us`, `p99_us`, `p999_us`,
//! `server_cpu_us_per_req`, `server_rss_kib`, `connections`, and a few more: the server's
//! RSS over the window, the client's connection reuse, the latency CDF).

use std::fmt::Write as _;

use hdrhistogram::Histogram;

/// The quantiles a run's latency CDF is reported at (`latency_cdf`), 0 to 99.99 % and the
/// maximum.
pub const CDF_QUANTILES: [f64; 22] = [
    0.0, 0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995,
    0.998, 0.999, 0.9995, 0.9999, 1.0,
];

/// `(quantile, latency)` pairs of `latencies` at [`CDF_QUANTILES`] (none if it is empty).
pub fn latency_cdf(latencies: &Histogram<u64>) -> Vec<(f64, u64)> {
    if latencies.is_empty() {
        return Vec::new();
    }
    CDF_QUANTILES
        .iter()
        .map(|&q| (q, latencies.value_at_quantile(q)))
        .collect()
}

/// The median of a set of values (NaN for none).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// The figures of one run.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Row {
    /// Which server (`ringrpc`, `volo-thrift`, …).
    pub server: String,
    /// `mux` (few connections, many calls each) or `pingpong` (one call per connection).
    pub mode: String,
    /// Runtime, transport, protocol and framing, e.g. `io_uring/tcp/binary/ttheader`.
    pub setup: String,
    /// Message bytes.
    pub payload: usize,
    /// Calls in flight.
    pub concurrency: usize,
    /// Calls per second.
    pub qps: f64,
    /// Latency percentiles, microseconds.
    pub p50_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
    /// Server CPU time per call, microseconds (when the server's process is known).
    pub server_cpu_us_per_req: Option<f64>,
    /// Server peak RSS, KiB.
    pub server_rss_kib: Option<u64>,
    /// Connections used.
    pub connections: usize,
    /// Calls that failed.
    pub errors: u64,
    /// The server's RSS (KiB) sampled over the window: `(seconds since it began, KiB)`.
    pub server_rss_samples: Vec<(f64, u64)>,
    /// Connections the client opened (ringrpc's client only: `Client::stats().connects`).
    pub connects: Option<u64>,
    /// Calls the client sent over the connections still open at the end, warm-up included.
    pub client_calls: Option<u64>,
    /// Latency at [`CDF_QUANTILES`]: `(quantile, microseconds)`.
    pub latency_cdf: Vec<(f64, u64)>,
}

impl Row {
    /// Server RSS growth over the window, KiB per minute (first and last sample; needs two
    /// samples at least 10 ms apart).
    pub fn rss_growth_kib_per_min(&self) -> Option<f64> {
        let (&(t0, first), &(t1, last)) = (
            self.server_rss_samples.first()?,
            self.server_rss_samples.last()?,
        );
        (t1 - t0 >= 0.01).then(|| (last as f64 - first as f64) * 60.0 / (t1 - t0))
    }

    /// Share of calls that did not need a new connection: `1 - connects / calls`.
    pub fn connection_reuse(&self) -> Option<f64> {
        match (self.connects, self.client_calls) {
            (Some(connects), Some(calls)) if calls > 0 => {
                Some(1.0 - connects as f64 / calls as f64)
            }
            _ => None,
        }
    }

    /// The markdown table header matching [`markdown`](Self::markdown).
    pub fn markdown_header() -> String {
        "| server | mode | setup | payload | concurrency | conns | QPS | p50 µs | p99 µs | p999 µs | server CPU µs/req | server RSS KiB | errors |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|"
            .to_string()
    }

    /// A markdown table row.
    pub fn markdown(&self) -> String {
        let cpu = self
            .server_cpu_us_per_req
            .map_or("n/a".into(), |c| format!("{c:.2}"));
        let rss = self.server_rss_kib.map_or("n/a".into(), |r| r.to_string());
        format!(
            "| {} | {} | {} | {} | {} | {} | {:.0} | {} | {} | {} | {cpu} | {rss} | {} |",
            self.server,
            self.mode,
            self.setup,
            self.payload,
            self.concurrency,
            self.connections,
            self.qps,
            self.p50_us,
            self.p99_us,
            self.p999_us,
            self.errors
        )
    }

    /// One JSON object on one line.
    pub fn json(&self) -> String {
        let mut out = String::from("{");
        let _ = write!(
            out,
            "\"server\":{:?},\"mode\":{:?},\"setup\":{:?},\"payload\":{},\"concurrency\":{},\"connections\":{},\"qps\":{:.1},\"p50_us\":{},\"p99_us\":{},\"p999_us\":{},",
            self.server,
            self.mode,
            self.setup,
            self.payload,
            self.concurrency,
            self.connections,
            self.qps,
            self.p50_us,
            self.p99_us,
            self.p999_us
        );
        match self.server_cpu_us_per_req {
            Some(c) => {
                let _ = write!(out, "\"server_cpu_us_per_req\":{c:.3},");
            }
            None => out.push_str("\"server_cpu_us_per_req\":null,"),
        }
        match self.server_rss_kib {
            Some(r) => {
                let _ = write!(out, "\"server_rss_kib\":{r},");
            }
            None => out.push_str("\"server_rss_kib\":null,"),
        }
        let _ = write!(out, "\"errors\":{},", self.errors);
        let samples = &self.server_rss_samples;
        let extra = serde_json::json!({
            "server_rss_first_kib": samples.first().map(|s| s.1),
            "server_rss_last_kib": samples.last().map(|s| s.1),
            "server_rss_growth_kib_per_min": self.rss_growth_kib_per_min().map(round3),
            "server_rss_samples": samples.iter().map(|&(t, k)| (round3(t), k)).collect::<Vec<_>>(),
            "connects": self.connects,
            "client_calls": self.client_calls,
            "connection_reuse": self.connection_reuse().map(|r| (r * 1e6).round() / 1e6),
            "latency_cdf": self.latency_cdf,
        });
        // `json!` keeps its keys sorted; the object's braces are dropped to append them.
        let extra = extra.to_string();
        out.push_str(&extra[1..]);
        out
    }

    /// Reads back a line written by [`json`](Self::json) (peers' own load generators
    /// print their results this way).
    pub fn from_json(line: &str) -> Result<Row, String> {
        let value: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("not a result line: {e}: {line}"))?;
        let field = |key: &str| {
            value
                .get(key)
                .ok_or_else(|| format!("no `{key}` in the result line {line}"))
        };
        let text = |key: &str| -> Result<String, String> {
            field(key)?
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("`{key}` is not a string in {line}"))
        };
        let number = |key: &str| -> Result<f64, String> {
            field(key)?
                .as_f64()
                .ok_or_else(|| format!("`{key}` is not a number in {line}"))
        };
        let optional = |key: &str| -> Result<Option<f64>, String> {
            match field(key)? {
                serde_json::Value::Null => Ok(None),
                v => v
                    .as_f64()
                    .map(Some)
                    .ok_or_else(|| format!("`{key}` is not a number in {line}")),
            }
        };
        Ok(Row {
            server: text("server")?,
            mode: text("mode")?,
            setup: text("setup")?,
            payload: number("payload")? as usize,
            concurrency: number("concurrency")? as usize,
            qps: number("qps")?,
            p50_us: number("p50_us")? as u64,
            p99_us: number("p99_us")? as u64,
            p999_us: number("p999_us")? as u64,
            server_cpu_us_per_req: optional("server_cpu_us_per_req")?,
            server_rss_kib: optional("server_rss_kib")?.map(|r| r as u64),
            connections: number("connections")? as usize,
            errors: number("errors")? as u64,
            // Added later: lines of older binaries (peers built before) may lack them.
            server_rss_samples: pairs(value.get("server_rss_samples"), line)?
                .into_iter()
                .map(|(t, k)| (t, k as u64))
                .collect(),
            connects: value.get("connects").and_then(|v| v.as_u64()),
            client_calls: value.get("client_calls").and_then(|v| v.as_u64()),
            latency_cdf: pairs(value.get("latency_cdf"), line)?
                .into_iter()
                .map(|(q, us)| (q, us as u64))
                .collect(),
        })
    }
}

/// Three decimals, for JSON.
fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// An optional JSON array of `[number, number]` pairs.
fn pairs(value: Option<&serde_json::Value>, line: &str) -> Result<Vec<(f64, f64)>, String> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let bad = || format!("not a list of number pairs: {value} in {line}");
    value
        .as_array()
        .ok_or_else(bad)?
        .iter()
        .map(|pair| match pair.as_array().map(Vec::as_slice) {
            Some([a, b]) => Some((a.as_f64()?, b.as_f64()?)),
            _ => None,
        })
        .map(|p| p.ok_or_else(bad))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_render_as_markdown_and_one_line_json() {
        let row = Row {
            server: "ringrpc".into(),
            mode: "mux".into(),
            setup: "io_uring/tcp/binary/ttheader".into(),
            payload: 64,
            concurrency: 64,
            qps: 1234.56,
            p50_us: 10,
            p99_us: 20,
            p999_us: 30,
            server_cpu_us_per_req: Some(1.5),
            server_rss_kib: None,
            connections: 1,
            errors: 0,
            ..Row::default()
        };
        assert_eq!(
            row.json(),
            "{\"server\":\"ringrpc\",\"mode\":\"mux\",\"setup\":\"io_uring/tcp/binary/ttheader\",\"payload\":64,\"concurrency\":64,\"connections\":1,\"qps\":1234.6,\"p50_us\":10,\"p99_us\":20,\"p999_us\":30,\"server_cpu_us_per_req\":1.500,\"server_rss_kib\":null,\"errors\":0,\"client_calls\":null,\"connection_reuse\":null,\"connects\":null,\"latency_cdf\":[],\"server_rss_first_kib\":null,\"server_rss_growth_kib_per_min\":null,\"server_rss_last_kib\":null,\"server_rss_samples\":[]}"
        );
        let mut rounded = row.clone();
        rounded.qps = 1234.6;
        assert_eq!(Row::from_json(&row.json()), Ok(rounded));
        assert!(
            Row::from_json("{\"server\":\"x\"}")
                .unwrap_err()
                .contains("no `mode`")
        );
        assert!(
            row.markdown().starts_with(
                "| ringrpc | mux | io_uring/tcp/binary/ttheader | 64 | 64 | 1 | 1235 |"
            )
        );
        // The dimensions added for the matrix: RSS growth, connection reuse, the CDF.
        let full = Row {
            server_rss_samples: vec![(0.0, 4000), (0.5, 4010), (30.0, 4100)],
            connects: Some(4),
            client_calls: Some(1000),
            latency_cdf: vec![(0.5, 10), (0.99, 20), (1.0, 35)],
            ..row.clone()
        };
        assert_eq!(full.rss_growth_kib_per_min(), Some(200.0));
        assert_eq!(full.connection_reuse(), Some(0.996));
        let json = full.json();
        assert!(
            json.contains("\"server_rss_growth_kib_per_min\":200.0"),
            "{json}"
        );
        assert!(json.contains("\"connection_reuse\":0.996"), "{json}");
        assert!(
            json.contains("\"latency_cdf\":[[0.5,10],[0.99,20],[1.0,35]]"),
            "{json}"
        );
        let mut rounded = full.clone();
        rounded.qps = 1234.6;
        assert_eq!(Row::from_json(&json), Ok(rounded));
        let mut histogram = Histogram::<u64>::new(3).unwrap();
        for us in 1..=1000 {
            histogram.record(us).unwrap();
        }
        let cdf = latency_cdf(&histogram);
        assert_eq!(cdf.len(), CDF_QUANTILES.len());
        assert_eq!(
            (cdf[0], cdf[7], cdf[21]),
            ((0.0, 1), (0.5, 500), (1.0, 1000))
        );
        assert!(latency_cdf(&Histogram::<u64>::new(3).unwrap()).is_empty());
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(
            Row::markdown_header()
                .lines()
                .next()
                .unwrap()
                .matches('|')
                .count(),
            row.markdown().matches('|').count()
        );
    }
}
