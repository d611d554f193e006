//! `rpc-bench failover` runs end to end (three server processes, one killed and restarted)
//! and routes by tag exactly; the timing figures are the benchmark's to report
//! (`benches/README.md`), not this test's to judge.

use std::process::Command;

#[test]
fn the_failover_scenario_runs_and_routes_gray_calls_exactly() {
    let out = Command::new(env!("CARGO_BIN_EXE_rpc-bench"))
        .args([
            "failover",
            "--runtime",
            "epoll",
            "--before-kill",
            "0.5",
            "--down",
            "1",
            "--after-restart",
            "2",
            "--gray-calls",
            "200",
            "--concurrency",
            "8",
        ])
        .output()
        .expect("rpc-bench runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "rpc-bench failover failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = stdout
        .lines()
        .find(|l| l.starts_with('{'))
        .expect("a JSON line");
    let report: serde_json::Value = serde_json::from_str(json).expect("valid JSON");
    assert_eq!(report["gray_tagged_to_canary_pct"], 100.0, "{report}");
    assert_eq!(report["gray_untagged_to_canary_pct"], 0.0, "{report}");
    assert!(report["calls"].as_u64().unwrap() > 1000, "{report}");
    // The restarted instance answered again (how fast it took its share back is the
    // benchmark's figure: on a loaded machine its ejection may outlast this short run).
    assert!(report["first_call_after_restart_ms"].is_u64(), "{report}");
}
