//! One rpc-bench result: a markdown table row and a JSON object on one line (the keys of
//! issue #4: `server`, `mode`, `payload`, `concurrency`, `qps`, `p50_us`, `p99_us`, `p999_us`,
//! `server_cpu_us_per_req`, `server_rss_kib`, `connections`, and a few more).

use std::fmt::Write as _;

/// The figures of one run.
#[derive(Debug, Clone, PartialEq)]
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
}

impl Row {
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
        let _ = write!(out, "\"errors\":{}}}", self.errors);
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
        })
    }
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
        };
        assert_eq!(
            row.json(),
            "{\"server\":\"ringrpc\",\"mode\":\"mux\",\"setup\":\"io_uring/tcp/binary/ttheader\",\"payload\":64,\"concurrency\":64,\"connections\":1,\"qps\":1234.6,\"p50_us\":10,\"p99_us\":20,\"p999_us\":30,\"server_cpu_us_per_req\":1.500,\"server_rss_kib\":null,\"errors\":0}"
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
