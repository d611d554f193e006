//! `rpc-bench scrape`: what scraping the admin endpoint's metrics costs the calls. Each
//! round starts one server (with its admin endpoint) for a plain run and one for a run
//! during which a scraper fetches `/metrics` every `--every-ms`, in alternating order; the
//! table gives the medians of both and their ratio (issue #7: p99 within 5 %).

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use ringrpc::transport::Address;
use ringrpc_bench::report::Row;

use super::{
    BenchResult, Common, Kind, LoadArgs, load_spec, measure, ours_server_args, setup_name,
    start_server, stop_server,
};

#[derive(Args, Clone)]
pub(crate) struct ScrapeArgs {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    load: LoadArgs,
    /// Cores to pin the server's workers to.
    #[arg(long, value_delimiter = ',', default_value = "0")]
    server_cores: Vec<usize>,
    /// Milliseconds between scrapes (Prometheus scrapes every 15 s by default; this is
    /// far harsher).
    #[arg(long, default_value_t = 100)]
    every_ms: u64,
    /// Pairs of runs (medians are over them).
    #[arg(long, default_value_t = 5)]
    rounds: usize,
}

/// What a scraper did during one run.
#[derive(Debug, Default, Clone, Copy)]
struct Scraped {
    scrapes: u64,
    failures: u64,
    mean_ms: f64,
    bytes: usize,
}

/// Fetches `/metrics` from `admin` every `every` until `stop`.
fn scraper(admin: Address, every: Duration, stop: Arc<AtomicBool>) -> Scraped {
    let (mut scrapes, mut failures, mut total, mut bytes) = (0u64, 0u64, Duration::ZERO, 0);
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        match ringrpc::admin::fetch(&admin, "/metrics") {
            Ok(answer) if answer.status == 200 => {
                scrapes += 1;
                bytes = answer.body.len();
                total += started.elapsed();
            }
            _ => failures += 1,
        }
        std::thread::sleep(every.saturating_sub(started.elapsed()));
    }
    Scraped {
        scrapes,
        failures,
        mean_ms: total.as_secs_f64() * 1000.0 / scrapes.max(1) as f64,
        bytes,
    }
}

/// A free loopback port for the server's admin endpoint.
fn free_admin_address() -> BenchResult<String> {
    let probe = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(probe.local_addr()?.to_string())
}

/// One run: a server with its admin endpoint, loaded, scraped every `every` if given.
fn one_run(a: &ScrapeArgs, every: Option<Duration>) -> BenchResult<(Row, Scraped)> {
    let admin = free_admin_address()?;
    let mut args = ours_server_args(
        Kind::Ringrpc,
        a.common.runtime,
        "tcp://127.0.0.1:0",
        &a.server_cores,
    );
    args.extend(["--admin".to_owned(), admin.clone()]);
    let (mut child, address) = start_server(Command::new(std::env::current_exe()?).args(args))?;
    let stop = Arc::new(AtomicBool::new(false));
    let scraping = every.map(|every| {
        let (admin, stop) = (admin.parse::<Address>(), stop.clone());
        std::thread::spawn(move || admin.map(|admin| scraper(admin, every, stop)))
    });
    let row = load_spec(&a.common, &a.load, address, Kind::Ringrpc).and_then(|spec| {
        measure(
            &spec,
            Some(child.id()),
            setup_name(&a.common, "tcp", &a.load),
            Kind::Ringrpc,
        )
    });
    stop.store(true, Ordering::Relaxed);
    let scraped = match scraping {
        Some(thread) => thread
            .join()
            .map_err(|_| "the scraper panicked")?
            .map_err(|e| format!("bad admin address {admin}: {e}"))?,
        None => Scraped::default(),
    };
    stop_server(&mut child)?;
    Ok((row?, scraped))
}

/// Reads one figure of a run.
type Figure = fn(&Row) -> f64;

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

pub(crate) fn scrape(a: ScrapeArgs) -> BenchResult<()> {
    let every = Duration::from_millis(a.every_ms.max(1));
    let mut plain: Vec<Row> = Vec::new();
    let mut scraped: Vec<(Row, Scraped)> = Vec::new();
    for round in 0..a.rounds.max(1) {
        // Alternate which goes first, so drift over the run hits both alike.
        for with_scraper in [round % 2 == 1, round % 2 == 0] {
            let (row, s) = one_run(&a, with_scraper.then_some(every))?;
            let mut json: serde_json::Value = serde_json::from_str(&row.json())?;
            json["scrape_every_ms"] = with_scraper.then_some(a.every_ms).into();
            json["scrapes"] = s.scrapes.into();
            json["scrape_failures"] = s.failures.into();
            json["scrape_mean_ms"] = s.mean_ms.into();
            println!("{json}");
            if with_scraper {
                scraped.push((row, s));
            } else {
                plain.push(row);
            }
        }
    }
    let stat = |rows: &[&Row], f: Figure| median(rows.iter().map(|r| f(r)).collect());
    let plain: Vec<&Row> = plain.iter().collect();
    let with: Vec<&Row> = scraped.iter().map(|(r, _)| r).collect();
    let figures: [(&str, Figure); 5] = [
        ("QPS", |r| r.qps),
        ("p50 µs", |r| r.p50_us as f64),
        ("p99 µs", |r| r.p99_us as f64),
        ("p999 µs", |r| r.p999_us as f64),
        ("server CPU µs/req", |r| {
            r.server_cpu_us_per_req.unwrap_or(f64::NAN)
        }),
    ];
    println!();
    println!(
        "| median of {} runs | no scraping | scraped every {} ms | ratio |",
        plain.len(),
        a.every_ms
    );
    println!("|---|---|---|---|");
    for (name, f) in figures {
        let (x, y) = (stat(&plain, f), stat(&with, f));
        println!("| {name} | {x:.2} | {y:.2} | {:.3} |", y / x);
    }
    let scrapes: u64 = scraped.iter().map(|(_, s)| s.scrapes).sum();
    let failures: u64 = scraped.iter().map(|(_, s)| s.failures).sum();
    let mean_ms = median(scraped.iter().map(|(_, s)| s.mean_ms).collect());
    let bytes = scraped.iter().map(|(_, s)| s.bytes).max().unwrap_or(0);
    println!(
        "\n{scrapes} scrapes ({failures} failed), {mean_ms:.2} ms each (median), {bytes} bytes of metrics"
    );
    if failures > 0 {
        return Err(format!("{failures} scrapes failed").into());
    }
    Ok(())
}
