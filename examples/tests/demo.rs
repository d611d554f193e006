//! Runs the example binaries (the README's main command among them) and checks what they
//! report.

use std::process::Command;

fn run(bin: &str, args: &[&str]) -> String {
    let out = Command::new(bin)
        .args(args)
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{bin} failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn the_demo_serves_and_calls_the_echo_service_under_load() {
    for driver in ["iouring", "epoll"] {
        let stdout = run(
            env!("CARGO_BIN_EXE_demo"),
            &[
                "--seconds",
                "0.5",
                "--concurrency",
                "16",
                "--driver",
                driver,
            ],
        );
        let name = if driver == "iouring" {
            "io_uring"
        } else {
            "epoll"
        };
        assert!(stdout.contains(&format!("{name} driver")), "{stdout}");
        let calls: u64 = stdout
            .split("calls: ")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no call count in:\n{stdout}"));
        assert!(
            calls > 100,
            "only {calls} calls in half a second:\n{stdout}"
        );
        assert!(stdout.contains("errors: 0 "), "{stdout}");
        assert!(stdout.contains("p99: "), "{stdout}");
    }
}

#[test]
fn bad_demo_options_are_reported() {
    let out = Command::new(env!("CARGO_BIN_EXE_demo"))
        .args(["--concurrency", "many"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--concurrency many"));
}

#[test]
fn hello_world_answers() {
    assert_eq!(run(env!("CARGO_BIN_EXE_hello"), &[]), "hello, world\n");
}

#[test]
fn the_codec_tour_serves_every_dialect() {
    let stdout = run(env!("CARGO_BIN_EXE_codec_tour"), &[]);
    for framing in ["Unframed", "Framed", "TTHeader", "THeader"] {
        assert!(
            stdout.contains(framing),
            "{framing} missing from:\n{stdout}"
        );
    }
    assert_eq!(
        stdout.matches(" yes ").count(),
        7,
        "every dialect decodes zero-copy:\n{stdout}"
    );
    assert!(stdout.contains("ok: 7 dialects served and answered"));
}
