//! Runs the demo binary (the README's main command) and checks what it reports.

use std::process::Command;

#[test]
fn demo_serves_every_dialect() {
    let out = Command::new(env!("CARGO_BIN_EXE_demo"))
        .output()
        .expect("the demo binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
