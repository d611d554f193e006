//! `rpc-bench scrape`: load windows with and without a scraper of the server's admin
//! endpoint, and a table comparing them.

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
    assert!(runs.iter().any(|r| r["scrape_every_ms"] == 20), "{stdout}");
    assert!(
        runs.iter().any(|r| r["scrape_every_ms"].is_null()),
        "{stdout}"
    );
    assert!(runs.iter().all(|r| r["errors"] == 0), "{stdout}");
    assert!(stdout.contains("| p99 µs |"), "{stdout}");
    let scrapes: u64 = stdout
        .lines()
        .find_map(|l| l.strip_suffix(" bytes of metrics"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no scrape count in {stdout}"));
    assert!(scrapes >= 5, "{stdout}");
    assert!(stdout.contains("(0 failed)"), "{stdout}");
}
