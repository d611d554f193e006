//! What a server process costs, read from `/proc`: CPU time on every thread (nanoseconds,
//! from `schedstat`) and peak resident memory (`VmHWM`).

use std::io;

/// CPU time the live threads of process `pid` have run, in nanoseconds (a thread that
/// exits between listing and reading is skipped; servers' workers live as long as they do).
pub fn cpu_ns(pid: u32) -> io::Result<u64> {
    let mut total = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let stat = match std::fs::read_to_string(task?.path().join("schedstat")) {
            Ok(stat) => stat,
            Err(e) if thread_is_gone(&e) => continue,
            Err(e) => return Err(e),
        };
        total += stat
            .split_whitespace()
            .next()
            .and_then(|ns| ns.parse::<u64>().ok())
            .ok_or_else(|| io::Error::other(format!("unreadable schedstat: {stat:?}")))?;
    }
    Ok(total)
}

/// Reading a thread that exited after `read_dir` listed it fails with ENOENT or ESRCH.
fn thread_is_gone(e: &io::Error) -> bool {
    const ESRCH: i32 = 3; // the same on every Linux architecture
    e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(ESRCH)
}

/// Peak resident set size of process `pid`, in KiB.
pub fn peak_rss_kib(pid: u32) -> io::Result<u64> {
    status_kib(pid, "VmHWM")
}

/// Resident set size of process `pid` now, in KiB.
pub fn rss_kib(pid: u32) -> io::Result<u64> {
    status_kib(pid, "VmRSS")
}

fn status_kib(pid: u32, key: &str) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| io::Error::other(format!("no {key} in /proc/{pid}/status")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_cpu_time_and_memory() {
        // Other tests' threads come and go (and their time with them), so the process
        // total is checked against this thread's own, which it must include.
        let this_thread_ns = || {
            let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap();
            stat.split_whitespace()
                .next()
                .unwrap()
                .parse::<u64>()
                .unwrap()
        };
        let pid = std::process::id();
        let before = this_thread_ns();
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_add(std::hint::black_box(i));
        }
        std::hint::black_box(x);
        let after = this_thread_ns();
        assert!(after > before);
        assert!(cpu_ns(pid).unwrap() >= after);
        assert!(peak_rss_kib(pid).unwrap() > 100);
        let rss = rss_kib(pid).unwrap();
        assert!(rss > 100 && rss <= peak_rss_kib(pid).unwrap());
    }
}
