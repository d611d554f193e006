//! The numbers of `rpc-bench matrix`'s report: result rows grouped into cells (server,
//! setup, mode, payload, concurrency), medians per cell, the markdown table, and the plot
//! series (QPS vs concurrency per server and setup; latency CDF per framework).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::plot::Series;
use crate::report::{Row, median};

/// What identifies a cell; the order is the report's.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CellKey {
    /// `pingpong` or `mux`.
    pub mode: String,
    /// Message bytes.
    pub payload: usize,
    /// Calls in flight.
    pub concurrency: usize,
    /// Which server.
    pub server: String,
    /// Runtime, transport, protocol and framing.
    pub setup: String,
}

/// The medians of a cell's runs (one run per round).
#[derive(Debug, Clone, PartialEq)]
pub struct CellMedians {
    /// Which cell.
    pub key: CellKey,
    /// Runs the medians are over.
    pub runs: usize,
    /// Connections.
    pub connections: usize,
    /// Calls per second.
    pub qps: f64,
    /// Latency percentiles, µs.
    pub p50_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// 99.9th percentile.
    pub p999_us: f64,
    /// Server CPU µs per call.
    pub cpu_us_per_req: Option<f64>,
    /// Server peak RSS, KiB.
    pub rss_kib: Option<f64>,
    /// Server RSS growth over the window, KiB per minute.
    pub rss_growth_kib_per_min: Option<f64>,
    /// `1 - connects / calls` of ringrpc's client.
    pub connection_reuse: Option<f64>,
    /// Failed calls, summed over the runs.
    pub errors: u64,
    /// `(quantile, µs)`: the median latency at each quantile.
    pub latency_cdf: Vec<(f64, f64)>,
}

/// Median of the values that are present (`None` if none is).
fn median_of(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let values: Vec<f64> = values.flatten().filter(|v| v.is_finite()).collect();
    (!values.is_empty()).then(|| median(values))
}

/// Groups rows into cells and takes the medians.
pub fn medians(rows: &[Row]) -> Vec<CellMedians> {
    let mut cells: BTreeMap<CellKey, Vec<&Row>> = BTreeMap::new();
    for row in rows {
        let key = CellKey {
            mode: row.mode.clone(),
            payload: row.payload,
            concurrency: row.concurrency,
            server: row.server.clone(),
            setup: row.setup.clone(),
        };
        cells.entry(key).or_default().push(row);
    }
    cells
        .into_iter()
        .map(|(key, runs)| {
            let m = |f: fn(&Row) -> f64| median(runs.iter().map(|r| f(r)).collect());
            let o = |f: fn(&Row) -> Option<f64>| median_of(runs.iter().map(|r| f(r)));
            // Per quantile, over the runs that report the full CDF.
            let cdfs: Vec<&Vec<(f64, u64)>> = runs
                .iter()
                .map(|r| &r.latency_cdf)
                .filter(|c| !c.is_empty())
                .collect();
            let latency_cdf = match cdfs.first() {
                Some(first) if cdfs.iter().all(|c| c.len() == first.len()) => (0..first.len())
                    .map(|i| {
                        (
                            first[i].0,
                            median(cdfs.iter().map(|c| c[i].1 as f64).collect()),
                        )
                    })
                    .collect(),
                _ => Vec::new(),
            };
            CellMedians {
                runs: runs.len(),
                connections: runs[0].connections,
                qps: m(|r| r.qps),
                p50_us: m(|r| r.p50_us as f64),
                p99_us: m(|r| r.p99_us as f64),
                p999_us: m(|r| r.p999_us as f64),
                cpu_us_per_req: o(|r| r.server_cpu_us_per_req),
                rss_kib: o(|r| r.server_rss_kib.map(|k| k as f64)),
                rss_growth_kib_per_min: o(Row::rss_growth_kib_per_min),
                connection_reuse: o(Row::connection_reuse),
                errors: runs.iter().map(|r| r.errors).sum(),
                latency_cdf,
                key,
            }
        })
        .collect()
}

/// The medians as a markdown table.
pub fn markdown_table(cells: &[CellMedians]) -> String {
    let mut out = String::from(
        "| mode | payload | concurrency | server | setup | conns | QPS | p50 µs | p99 µs | p999 µs | server CPU µs/req | server RSS KiB | RSS growth KiB/min | conn reuse | errors | runs |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    let opt =
        |v: Option<f64>, decimals: usize| v.map_or("n/a".into(), |v| format!("{v:.decimals$}"));
    for c in cells {
        let k = &c.key;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {:.0} | {:.0} | {:.0} | {:.0} | {} | {} | {} | {} | {} | {} |",
            k.mode,
            k.payload,
            k.concurrency,
            k.server,
            k.setup,
            c.connections,
            c.qps,
            c.p50_us,
            c.p99_us,
            c.p999_us,
            opt(c.cpu_us_per_req, 2),
            opt(c.rss_kib, 0),
            opt(c.rss_growth_kib_per_min, 0),
            c.connection_reuse
                .map_or("n/a".into(), |r| format!("{:.3} %", r * 100.0)),
            c.errors,
            c.runs,
        );
    }
    out
}

/// QPS against concurrency in one mode and payload: a line per server and setup.
pub fn qps_series(cells: &[CellMedians], mode: &str, payload: usize) -> Vec<Series> {
    let mut lines: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for c in cells
        .iter()
        .filter(|c| c.key.mode == mode && c.key.payload == payload)
    {
        let name = format!("{} {}", c.key.server, c.key.setup);
        lines
            .entry(name)
            .or_default()
            .push((c.key.concurrency as f64, c.qps));
    }
    lines
        .into_iter()
        .map(|(name, mut points)| {
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            Series { name, points }
        })
        .collect()
}

/// The latency CDF of each server (framework) in one mode, payload and concurrency, in
/// percent of calls: the first of `preferred_setups` the server ran, else its first setup.
pub fn cdf_series(
    cells: &[CellMedians],
    mode: &str,
    payload: usize,
    concurrency: usize,
    preferred_setups: &[String],
) -> Vec<Series> {
    let mut by_server: BTreeMap<&str, Vec<&CellMedians>> = BTreeMap::new();
    for c in cells.iter().filter(|c| {
        c.key.mode == mode
            && c.key.payload == payload
            && c.key.concurrency == concurrency
            && !c.latency_cdf.is_empty()
    }) {
        by_server.entry(&c.key.server).or_default().push(c);
    }
    by_server
        .into_iter()
        .map(|(server, setups)| {
            let chosen = preferred_setups
                .iter()
                .find_map(|p| setups.iter().find(|c| &c.key.setup == p))
                .unwrap_or(&setups[0]);
            Series {
                name: format!("{server} {}", chosen.key.setup),
                points: chosen
                    .latency_cdf
                    .iter()
                    .map(|&(q, us)| (us, q * 100.0))
                    .collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(server: &str, setup: &str, concurrency: usize, qps: f64, p50: u64) -> Row {
        Row {
            server: server.into(),
            mode: "mux".into(),
            setup: setup.into(),
            payload: 64,
            concurrency,
            qps,
            p50_us: p50,
            p99_us: p50 * 2,
            p999_us: p50 * 3,
            connections: 1,
            server_cpu_us_per_req: Some(1.0),
            connects: Some(1),
            client_calls: Some(1000),
            latency_cdf: vec![(0.0, 1), (0.5, p50), (1.0, p50 * 4)],
            ..Row::default()
        }
    }

    #[test]
    fn cells_take_medians_and_give_plot_series() {
        let rows = [
            row("ringrpc", "io_uring/tcp", 16, 100.0, 10),
            row("ringrpc", "io_uring/tcp", 16, 300.0, 30),
            row("ringrpc", "io_uring/tcp", 16, 200.0, 20),
            row("ringrpc", "io_uring/tcp", 1, 50.0, 5),
            row("ringrpc", "epoll/tcp", 16, 90.0, 12),
            row("raw-echo", "io_uring/tcp", 16, 400.0, 8),
        ];
        let cells = medians(&rows);
        assert_eq!(cells.len(), 4);
        let main = cells
            .iter()
            .find(|c| {
                c.key.setup == "io_uring/tcp"
                    && c.key.concurrency == 16
                    && c.key.server == "ringrpc"
            })
            .unwrap();
        assert_eq!((main.runs, main.qps, main.p50_us), (3, 200.0, 20.0));
        assert_eq!(main.latency_cdf[1], (0.5, 20.0));
        assert_eq!(main.connection_reuse, Some(0.999));
        let table = markdown_table(&cells);
        assert_eq!(table.lines().count(), 2 + 4);
        assert!(table.contains("| mux | 64 | 16 | ringrpc | io_uring/tcp | 1 | 200 | 20 | 40 | 60 | 1.00 | n/a | n/a | 99.900 % | 0 | 3 |"), "{table}");

        let qps = qps_series(&cells, "mux", 64);
        let names: Vec<&str> = qps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "raw-echo io_uring/tcp",
                "ringrpc epoll/tcp",
                "ringrpc io_uring/tcp"
            ]
        );
        assert_eq!(qps[2].points, [(1.0, 50.0), (16.0, 200.0)]);

        let cdf = cdf_series(&cells, "mux", 64, 16, &["epoll/tcp".to_string()]);
        let names: Vec<&str> = cdf.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["raw-echo io_uring/tcp", "ringrpc epoll/tcp"]);
        assert_eq!(cdf[1].points, [(1.0, 0.0), (12.0, 50.0), (48.0, 100.0)]);
        assert!(cdf_series(&cells, "pingpong", 64, 16, &[]).is_empty());
    }
}
