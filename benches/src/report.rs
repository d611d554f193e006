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
