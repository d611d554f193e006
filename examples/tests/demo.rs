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
        // The server counted every call the client saw answered, and none failed.
        let served: u64 = stdout
            .split("server metrics: ")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no server metrics in:\n{stdout}"));
        assert!(served >= calls, "{served} < {calls}:\n{stdout}");
        assert!(stdout.contains(" calls, 0 failed"), "{stdout}");
    }
}

#[test]
fn the_demo_serves_its_admin_endpoint_while_it_lingers() {
    // Port 0: the demo binds a free port itself and prints the address it got, so no
    // other process can take the port between a test's pick and the demo's bind.
    let mut demo = Command::new(env!("CARGO_BIN_EXE_demo"))
        .args([
            "--seconds",
            "0.2",
            "--admin",
            "127.0.0.1:0",
            "--linger",
            "5",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let admin = printed_admin_address(demo.stdout.take().unwrap());
    let address: ringrpc::transport::Address = admin.parse().unwrap();
    let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let metrics = loop {
        match ringrpc::admin::fetch(&address, "/metrics") {
            Ok(m)
                if m.body
                    .contains("ringrpc_server_requests_total{service=\"Echo\"") =>
            {
                break m;
            }
            _ if std::time::Instant::now() < until => {
                std::thread::sleep(std::time::Duration::from_millis(50))
            }
            other => panic!("the demo's admin endpoint at {admin} did not answer: {other:?}"),
        }
    };
    assert_eq!(metrics.status, 200);
    let _ = demo.kill();
    let _ = demo.wait();
}

/// The address from the demo's `admin endpoint: ADDR (...)` line, read within 60 s. The
/// reader thread keeps draining the output to its end, so the demo never writes to a
/// closed pipe.
fn printed_admin_address(stdout: std::process::ChildStdout) -> String {
    use std::io::BufRead;
    let (found, address) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = String::new();
        let mut sent = false;
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if sent {
                continue;
            }
            if let Some(rest) = line.strip_prefix("admin endpoint: ") {
                let address = rest.split_whitespace().next().unwrap_or_default();
                let _ = found.send(Ok(address.to_string()));
                sent = true;
                continue;
            }
            seen.push_str(&line);
            seen.push('\n');
        }
        if !sent {
            let _ = found.send(Err(seen));
        }
    });
    match address.recv_timeout(std::time::Duration::from_secs(60)) {
        Ok(Ok(address)) => address,
        Ok(Err(seen)) => panic!("the demo printed no admin endpoint:\n{seen}"),
        Err(_) => panic!("the demo printed no admin endpoint within 60 s"),
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
