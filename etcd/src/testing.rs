//! Test support: [`EtcdServer`] runs a real, throw-away `etcd` on loopback.
//!
//! It spawns the `etcd` binary (Debian's `etcd-server`, 3.4, v3 API) on two free loopback
//! ports with a temporary data directory (in `/dev/shm` when it exists, so fsync costs
//! nothing), waits until it serves a linearizable read (polled with this crate's client,
//! at most 10 s), and kills it and removes the directory on drop. [`EtcdServer::stop`] and
//! [`EtcdServer::restart`] (same ports, same data) exercise reconnection.
//!
//! When `etcd` is not installed, [`EtcdServer::start`] returns `None` so a test can skip with
//! a message, except under `CI=true`, where it panics: in CI a missing etcd is a failure,
//! never a silent skip (`scripts/test.sh` installs it). [`EtcdServer::require`] always panics.
//! Every other failure (a port taken, etcd not healthy in time) panics with etcd's log.
//!
//! ```no_run
//! use ringrpc_etcd::testing::EtcdServer;
//!
//! let Some(etcd) = EtcdServer::start() else { return }; // printed why it skipped
//! let endpoint = etcd.endpoint(); // http://127.0.0.1:PORT
//! # let _ = endpoint;
//! ```

use std::fs::File;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::writer::EtcdWriter;

/// The longest [`EtcdServer::start`] and [`EtcdServer::restart`] wait for etcd to be healthy.
pub const HEALTHY_WITHIN: Duration = Duration::from_secs(10);

/// One health probe's share of [`HEALTHY_WITHIN`]; the process is checked between probes.
const HEALTH_PROBE: Duration = Duration::from_millis(500);

/// Attempts with fresh ports when another process took one between picking and binding.
const PORT_ATTEMPTS: usize = 3;

/// A running `etcd` for tests; killed, and its data removed, on drop.
#[derive(Debug)]
pub struct EtcdServer {
    child: Option<Child>,
    dir: tempfile::TempDir,
    client_port: u16,
    peer_port: u16,
}

/// Why etcd did not come up.
enum StartError {
    /// No `etcd` binary on `PATH`.
    Missing,
    /// A port was taken between picking and binding: try other ports.
    PortTaken(String),
}

impl EtcdServer {
    /// Starts etcd, or returns `None` (after printing why) when the binary is missing and the
    /// environment is not CI.
    ///
    /// # Panics
    ///
    /// When the binary is missing and `CI` is `true` or `1`; when etcd is not healthy within
    /// [`HEALTHY_WITHIN`] (the message holds etcd's log); when no temporary directory can be made.
    pub fn start() -> Option<EtcdServer> {
        match Self::launch() {
            Some(server) => Some(server),
            None if in_ci() => panic!("{}", missing_message()),
            None => {
                eprintln!("skipping: {}", missing_message());
                None
            }
        }
    }

    /// Starts etcd, panicking when the binary is missing (and in the cases of
    /// [`start`](Self::start)).
    ///
    /// # Panics
    ///
    /// As [`start`](Self::start), and whenever `etcd` is missing.
    pub fn require() -> EtcdServer {
        Self::launch().unwrap_or_else(|| panic!("{}", missing_message()))
    }

    /// The client URL, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    /// Kills etcd (SIGKILL: clients see the connection drop); its data stays for
    /// [`restart`](Self::restart). Does nothing if it is already stopped.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops etcd if it runs, then starts it again on the same ports with the same data and
    /// waits until it is healthy.
    ///
    /// # Panics
    ///
    /// When etcd is not healthy within [`HEALTHY_WITHIN`] (the message holds etcd's log).
    pub fn restart(&mut self) {
        self.stop();
        match self.spawn_and_wait() {
            Ok(()) => {}
            Err(StartError::Missing) => panic!("{}", missing_message()),
            Err(StartError::PortTaken(log)) => panic!(
                "etcd could not restart on its ports {}/{}: {log}",
                self.client_port, self.peer_port
            ),
        }
    }

    /// Starts etcd; `None` when the binary is missing.
    fn launch() -> Option<EtcdServer> {
        let base = Path::new("/dev/shm");
        let base = if base.is_dir() {
            base.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        let mut last = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let dir = tempfile::Builder::new()
                .prefix("ringrpc-etcd-")
                .tempdir_in(&base)
                .unwrap_or_else(|e| {
                    panic!(
                        "cannot create a temporary directory in {}: {e}",
                        base.display()
                    )
                });
            let (client_port, peer_port) = free_ports();
            let mut server = EtcdServer {
                child: None,
                dir,
                client_port,
                peer_port,
            };
            match server.spawn_and_wait() {
                Ok(()) => return Some(server),
                Err(StartError::Missing) => return None,
                Err(StartError::PortTaken(log)) => last = log,
            }
        }
        panic!("etcd could not bind free loopback ports in {PORT_ATTEMPTS} attempts: {last}");
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("etcd.log")
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Spawns etcd and waits until it serves reads; panics if it is not healthy in time.
    fn spawn_and_wait(&mut self) -> Result<(), StartError> {
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", self.log_path().display()));
        let log_err = log
            .try_clone()
            .unwrap_or_else(|e| panic!("cannot clone the etcd log's handle: {e}"));
        let client_url = self.endpoint();
        let peer_url = format!("http://127.0.0.1:{}", self.peer_port);
        let spawned = Command::new("etcd")
            .arg("--name=test")
            .arg(format!(
                "--data-dir={}",
                self.dir.path().join("data").display()
            ))
            .arg(format!("--listen-client-urls={client_url}"))
            .arg(format!("--advertise-client-urls={client_url}"))
            .arg(format!("--listen-peer-urls={peer_url}"))
            .arg(format!("--initial-advertise-peer-urls={peer_url}"))
            .arg(format!("--initial-cluster=test={peer_url}"))
            .arg("--logger=zap")
            .arg("--log-outputs=stderr")
            .arg("--log-level=warn")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn();
        match spawned {
            Ok(child) => self.child = Some(child),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(StartError::Missing),
            Err(e) => panic!("cannot run etcd: {e}"),
        }
        let started = Instant::now();
        let deadline = started + HEALTHY_WITHIN;
        loop {
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                self.child = None;
                let tail = self.log_tail();
                if tail.contains("address already in use") {
                    return Err(StartError::PortTaken(tail));
                }
                panic!("etcd exited ({status}) while starting on {client_url}; its log:\n{tail}");
            }
            // Each probe retries inside its slice; between slices, look at the process.
            let slice = deadline
                .saturating_duration_since(Instant::now())
                .min(HEALTH_PROBE);
            match EtcdWriter::connect_timeout([client_url.as_str()], slice) {
                Ok(_) => break,
                Err(e) if Instant::now() >= deadline => {
                    self.stop();
                    panic!(
                        "etcd on {client_url} was not healthy within {HEALTHY_WITHIN:?}: {e}; its log:\n{}",
                        self.log_tail()
                    );
                }
                Err(_) => {}
            }
        }
        tracing::debug!(endpoint = %client_url, elapsed = ?started.elapsed(), "test etcd is up");
        Ok(())
    }
}

impl Drop for EtcdServer {
    fn drop(&mut self) {
        self.stop();
        // `dir` (a TempDir) removes the data directory after this.
    }
}

/// Two loopback ports the kernel reports free (both held until both are picked).
fn free_ports() -> (u16, u16) {
    let bind = || {
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| Ok((l.local_addr()?.port(), l)))
            .unwrap_or_else(|e| panic!("cannot bind a loopback port: {e}"))
    };
    let (a, _held_a) = bind();
    let (b, _held_b) = bind();
    (a, b)
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

fn missing_message() -> String {
    "the `etcd` binary is not on PATH; scripts/test.sh installs Debian's `etcd-server` \
     (or run `apt-get install etcd-server`); under CI=true a missing etcd fails the tests"
        .to_string()
}
