//! `rpc-bench scrape`: runs with and without a scraper of the server's admin endpoint, and
//! a table comparing them.

use std::process::Command;

#[test]
fn scrape_compares_runs_with_and_without_a_scraper() {
    let out = Command::new(env!("CARGO_BIN_EXE_rpc-bench"))
        .args([
            "scrape",
            "--rounds",
            "1",
            "--duration",
            "0.4",
            "--warmup",
            "0.1",
            "--every-ms",
            "20",
            "--conns",
            "4",
            "--concurrency",
            "4",
        ])
        .output()
        .expect("rpc-bench runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let runs: Vec<serde_json::Value> = stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(runs.len(), 2, "{stdout}");
    let scraped = runs.iter().find(|r| r["scrape_every_ms"] == 20).unwrap();
    assert!(scraped["scrapes"].as_u64().unwrap() >= 5, "{scraped}");
    assert_eq!(scraped["scrape_failures"], 0);
    let plain = runs
        .iter()
        .find(|r| r["scrape_every_ms"].is_null())
        .unwrap();
    assert_eq!(plain["scrapes"], 0);
    assert!(stdout.contains("| p99 µs |"), "{stdout}");
    assert!(stdout.contains("bytes of metrics"), "{stdout}");
}
