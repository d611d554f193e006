//! rpc-bench end to end: `run` starts a server process, loads it and reports a row and a
//! JSON line with the server's costs; `compare` interleaves servers; `matrix` writes a
//! report directory (markdown tables, SVG plots, JSON lines).

use std::process::Command;

fn rpc_bench(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rpc-bench"))
        .args(args)
        .output()
        .expect("rpc-bench runs")
}

/// Runs rpc-bench with `args`, which must succeed; its standard output.
fn rpc_bench_ok(args: &[&str]) -> String {
    let out = rpc_bench(args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{args:?}: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Runs rpc-bench with `args`, which it must refuse; its standard error.
fn rpc_bench_refuses(args: &[&str]) -> String {
    let out = rpc_bench(args);
    assert!(!out.status.success(), "{args:?} was accepted");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json_field<'a>(json: &'a str, key: &str) -> &'a str {
    let at = json
        .find(&format!("\"{key}\":"))
        .unwrap_or_else(|| panic!("no {key} in {json}"));
    let rest = &json[at + key.len() + 3..];
    rest.split([',', '}']).next().unwrap()
}

#[test]
fn run_reports_throughput_latency_and_server_costs() {
    for extra in [
        &["--conns", "1", "--concurrency", "16"][..],
        &[
            "--conns",
            "8",
            "--concurrency",
            "8",
            "--runtime",
            "epoll",
            "--transport",
            "uds",
        ][..],
        &[
            "--framing",
            "framed",
            "--protocol",
            "compact",
            "--concurrency",
            "16",
        ][..],
        // The floor's raw client sending pre-encoded calls (it checks the first answer
        // is a reply).
        &[
            "--framing",
            "framed",
            "--raw-client",
            "--conns",
            "4",
            "--concurrency",
            "8",
        ][..],
    ] {
        let mut args = vec!["run", "--duration", "0.4", "--warmup", "0.1"];
        args.extend_from_slice(extra);
        let stdout = rpc_bench_ok(&args);
        let json = stdout.lines().last().unwrap();
        assert!(json.starts_with("{\"server\":\"ringrpc\""), "{json}");
        let qps: f64 = json_field(json, "qps").parse().unwrap();
        assert!(qps > 1000.0, "{json}");
        let cpu: f64 = json_field(json, "server_cpu_us_per_req").parse().unwrap();
        assert!(cpu > 0.0 && cpu < 10_000.0, "{json}");
        let rss: u64 = json_field(json, "server_rss_kib").parse().unwrap();
        assert!(rss > 0, "{json}");
        assert_eq!(json_field(json, "errors"), "0", "{json}");
        assert!(stdout.contains("| ringrpc |"), "{stdout}");
        if extra.contains(&"--raw-client") {
            assert!(json.contains("/raw-client\""), "{json}");
        }
    }
}

#[test]
fn impossible_combinations_are_refused_with_a_reason() {
    let stderr = rpc_bench_refuses(&["run", "--framing", "ttheader", "--protocol", "compact"]);
    assert!(
        stderr.contains("TTHeader carries binary payloads only"),
        "{stderr}"
    );
    let stderr = rpc_bench_refuses(&["run", "--raw-client", "--framing", "ttheader"]);
    assert!(stderr.contains("--raw-client"), "{stderr}");
    let stderr = rpc_bench_refuses(&["run", "--client-work-ns", "1000"]);
    assert!(
        stderr.contains("--client-work-ns adds work to the raw client"),
        "{stderr}"
    );
}

#[test]
fn client_work_paces_the_raw_client() {
    // 50 µs of work per reply on one client thread: at most 20,000 calls a second, however
    // fast the floor answers.
    let stdout = rpc_bench_ok(&[
        "run",
        "--kind",
        "raw",
        "--framing",
        "framed",
        "--conns",
        "4",
        "--concurrency",
        "4",
        "--duration",
        "0.5",
        "--warmup",
        "0.1",
        "--client-work-ns",
        "50000",
    ]);
    let json = stdout.lines().last().unwrap();
    let qps: f64 = json_field(json, "qps").parse().unwrap();
    assert!(qps > 1000.0 && qps <= 20_000.0 * 1.05, "{json}");
    assert!(json.contains("/client-work-50000ns\""), "{json}");
    assert_eq!(json_field(json, "errors"), "0", "{json}");
}

#[test]
fn compare_interleaves_servers_and_modes_and_prints_medians() {
    let stdout = rpc_bench_ok(&[
        "compare",
        "--no-peers",
        "--rounds",
        "1",
        "--duration",
        "0.3",
        "--warmup",
        "0.1",
        "--payloads",
        "64,4096",
    ]);
    let runs: Vec<&str> = stdout.lines().filter(|l| l.starts_with('{')).collect();
    // ringrpc and the raw floor, ping-pong and multiplexed, two payloads; and ringrpc under
    // the floor's raw client in ping-pong.
    assert_eq!(runs.len(), 10, "{stdout}");
    for server in ["ringrpc", "raw-echo"] {
        for mode in ["pingpong", "mux"] {
            for payload in ["64", "4096"] {
                let run = runs
                    .iter()
                    .find(|r| {
                        json_field(r, "server") == format!("\"{server}\"")
                            && json_field(r, "mode") == format!("\"{mode}\"")
                            && json_field(r, "payload") == payload
                            && !json_field(r, "setup").contains("raw-client")
                    })
                    .unwrap_or_else(|| panic!("no {server} {mode} {payload} run: {stdout}"));
                assert_eq!(json_field(run, "errors"), "0", "{run}");
                let qps: f64 = json_field(run, "qps").parse().unwrap();
                assert!(qps > 1000.0, "{run}");
            }
        }
    }
    for payload in ["64", "4096"] {
        let under_raw_client = runs
            .iter()
            .find(|r| {
                json_field(r, "server") == "\"ringrpc\""
                    && json_field(r, "mode") == "\"pingpong\""
                    && json_field(r, "payload") == payload
                    && json_field(r, "setup").ends_with("/raw-client\"")
            })
            .unwrap_or_else(|| panic!("no ringrpc run under the raw client: {stdout}"));
        assert_eq!(json_field(under_raw_client, "errors"), "0");
    }
    assert!(stdout.contains("× raw"), "a medians table: {stdout}");
    assert!(
        stdout.contains("| ringrpc (raw client) | pingpong |"),
        "a row for ringrpc under the raw client: {stdout}"
    );
    assert!(
        stdout.contains("ping-pong CPU/req ÷ raw floor, all under the raw client"),
        "the one-generator target: {stdout}"
    );
    // Each ratio also round by round: with one round, their median and range are the ratio.
    let target = stdout
        .lines()
        .find(|l| l.starts_with("| ping-pong CPU/req ÷ raw floor | 64 |"))
        .unwrap_or_else(|| panic!("no ping-pong target line: {stdout}"));
    let cells: Vec<&str> = target.split('|').map(str::trim).collect();
    let measured = cells[3];
    assert_eq!(
        cells[4],
        format!("{measured} ({measured}–{measured})"),
        "{target}"
    );
    assert_eq!(cells[5], "≤ 1.15", "{target}");
}

#[test]
fn idle_reports_the_servers_memory_per_connection() {
    let stdout = rpc_bench_ok(&["idle", "--conns", "300", "--calls", "1"]);
    let json = stdout.lines().last().unwrap();
    assert_eq!(json_field(json, "connections"), "300", "{json}");
    let before: u64 = json_field(json, "server_rss_before_kib").parse().unwrap();
    let after: u64 = json_field(json, "server_rss_after_kib").parse().unwrap();
    assert!(before > 0 && after >= before, "{json}");
    let per_connection: f64 = json_field(json, "kib_per_connection").parse().unwrap();
    // A sanity bound (64 KiB read buffers per connection would break it); the target
    // figure itself comes from `rpc-bench idle --conns 10000`.
    assert!(per_connection < 64.0, "{json}");
}

#[test]
fn matrix_writes_a_report_with_tables_plots_and_runs() {
    let out_dir = std::env::temp_dir().join(format!("rpc-bench-matrix-{}", std::process::id()));
    let out_arg = out_dir.to_str().unwrap();
    rpc_bench_ok(&[
        "matrix",
        "--runtimes",
        "iouring",
        "--transports",
        "tcp",
        "--framings",
        "framed",
        "--modes",
        "mux",
        "--payloads",
        "64",
        "--concurrency",
        "1,8",
        "--peers",
        "none",
        "--rounds",
        "1",
        "--duration",
        "0.3",
        "--warmup",
        "0.1",
        "--soak",
        "0.3",
        "--no-failover",
        "--out",
        out_arg,
    ]);
    let report = std::fs::read_to_string(out_dir.join("report.md")).expect("report.md");
    assert!(
        report.contains("| mode | payload | concurrency | server |"),
        "{report}"
    );
    for concurrency in ["1", "8"] {
        let row =
            format!("| mux | 64 | {concurrency} | ringrpc | io_uring/tcp/binary/framed | 1 |");
        assert!(report.contains(&row), "no {row} in {report}");
    }
    assert!(report.contains("## Memory over a long run"), "{report}");
    assert!(report.contains("KiB/min"), "{report}");

    let soak = std::fs::read_to_string(out_dir.join("soak.json")).expect("soak.json");
    assert!(
        soak.contains("\"server_rss_growth_kib_per_min\":"),
        "{soak}"
    );
    let runs = std::fs::read_to_string(out_dir.join("runs.jsonl")).expect("runs.jsonl");
    assert_eq!(runs.lines().count(), 2, "{runs}");
    for run in runs.lines() {
        let run: serde_json::Value = serde_json::from_str(run).expect("a JSON line");
        assert_eq!(run["errors"], 0, "{run}");
        assert!(run["connection_reuse"].as_f64().unwrap() > 0.9, "{run}");
        assert!(run["latency_cdf"].as_array().unwrap().len() > 10, "{run}");
        assert!(
            run["server_rss_samples"].as_array().unwrap().len() >= 2,
            "{run}"
        );
    }

    for (svg, series) in [
        ("qps_mux_64.svg", "ringrpc io_uring/tcp/binary/framed"),
        ("cdf_mux_64_c8.svg", "ringrpc io_uring/tcp/binary/framed"),
    ] {
        assert!(
            report.contains(&format!("]({svg})")),
            "{svg} not linked: {report}"
        );
        let text = std::fs::read_to_string(out_dir.join(svg)).expect(svg);
        let doc = roxmltree::Document::parse(&text).expect("the SVG parses as XML");
        assert_eq!(doc.root_element().tag_name().name(), "svg", "{svg}");
        let texts: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text())
            .map(str::trim)
            .collect();
        assert!(
            texts.contains(&series),
            "{svg}: no series {series} in {texts:?}"
        );
    }
    // The report again from runs.jsonl alone.
    std::fs::remove_file(out_dir.join("report.md")).unwrap();
    let again = rpc_bench(&[
        "matrix",
        "--report-only",
        "--out",
        out_arg,
        "--concurrency",
        "1,8",
    ]);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let report = std::fs::read_to_string(out_dir.join("report.md")).expect("report.md again");
    assert!(report.contains("| mux | 64 | 8 | ringrpc |"), "{report}");
    std::fs::remove_dir_all(&out_dir).unwrap();
}
