//! The thread-per-core executor: N worker threads, each pinned to one core and running its
//! own monoio runtime on io_uring, or on epoll where io_uring is unavailable or when asked
//! ([`Driver`]). Everything above this module talks to monoio only through here and
//! [`crate::transport`], so another backend can replace it.

mod broadcast;
mod catch_unwind;
mod id_hash;
mod inline;
mod notify;
mod signal;

use std::future::Future;
use std::io;
use std::str::FromStr;
use std::sync::Once;
use std::thread::JoinHandle;

/// Spawns a task on the current worker (handlers and clients run on one core: tasks need
/// not be `Send`).
pub use monoio::spawn;
/// Waits on the current worker's timer.
pub use monoio::time::sleep;

pub(crate) use broadcast::{Broadcast, Fired};
pub(crate) use catch_unwind::{CatchUnwind, panic_message};
pub(crate) use id_hash::IdHasher;
pub(crate) use inline::InlineFirst;
pub(crate) use notify::LocalNotify;
pub(crate) use signal::Signal;

/// The environment variable that picks the I/O driver: `iouring`, `epoll` or `auto`.
pub const DRIVER_ENV: &str = "RINGRPC_DRIVER";

/// Submission queue entries per io_uring instance.
const URING_ENTRIES: u32 = 1024;

/// The I/O driver of the workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Driver {
    /// io_uring where the kernel allows it, else epoll (or [`DRIVER_ENV`] when set).
    #[default]
    Auto,
    /// io_uring (fails to start where the kernel or a seccomp profile forbids it).
    IoUring,
    /// epoll (monoio's legacy driver).
    Epoll,
}

impl FromStr for Driver {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Driver::Auto),
            "iouring" | "io_uring" | "uring" => Ok(Driver::IoUring),
            "epoll" | "legacy" => Ok(Driver::Epoll),
            other => Err(format!(
                "unknown driver `{other}`: expected `iouring`, `epoll` or `auto`"
            )),
        }
    }
}

impl Driver {
    /// The driver a worker will actually run: `Auto` becomes [`DRIVER_ENV`]'s choice, else
    /// io_uring if the kernel supports the operations monoio needs, else epoll.
    pub fn resolve(self) -> Driver {
        let chosen = match self {
            Driver::Auto => match std::env::var(DRIVER_ENV) {
                Ok(v) => v.parse().unwrap_or_else(|e| {
                    tracing::warn!("{DRIVER_ENV}: {e}; using auto");
                    Driver::Auto
                }),
                Err(_) => Driver::Auto,
            },
            d => d,
        };
        match chosen {
            Driver::Auto if monoio::utils::detect_uring() => Driver::IoUring,
            Driver::Auto => Driver::Epoll,
            d => d,
        }
    }

    /// `"io_uring"` or `"epoll"` (`"auto"` before resolution).
    pub fn name(self) -> &'static str {
        match self {
            Driver::Auto => "auto",
            Driver::IoUring => "io_uring",
            Driver::Epoll => "epoll",
        }
    }
}

/// How many workers to run and where.
#[derive(Debug, Clone, Default)]
pub struct WorkerConfig {
    /// Worker threads (0: one per available core).
    pub workers: usize,
    /// The cores to pin workers to, in order (empty: cores 0, 1, … modulo the count).
    pub cores: Vec<usize>,
    /// Whether to pin at all.
    pub no_pinning: bool,
    /// The I/O driver.
    pub driver: Driver,
}

impl WorkerConfig {
    /// The number of workers that will run.
    pub fn worker_count(&self) -> usize {
        match self.workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }

    fn core_of(&self, worker: usize) -> Option<usize> {
        if self.no_pinning {
            return None;
        }
        if self.cores.is_empty() {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            Some(worker % cores)
        } else {
            Some(self.cores[worker % self.cores.len()])
        }
    }
}

/// Runs `fut` to completion on a new monoio runtime with `driver` (already resolved) on
/// the calling thread, with timers enabled. Then closes the thread's client connections
/// (waiting at most 100 ms for their tasks to end), so that no socket outlives the
/// runtime.
pub fn block_on<F: Future>(driver: Driver, fut: F) -> io::Result<F::Output> {
    log_driver_once(driver);
    /// Marks the thread as running a runtime until dropped.
    struct Inside(bool);
    impl Drop for Inside {
        fn drop(&mut self) {
            IN_RUNTIME.set(self.0);
        }
    }
    let _inside = Inside(IN_RUNTIME.replace(true));
    let fut = async {
        let out = fut.await;
        crate::client::close_thread(std::time::Duration::from_millis(100)).await;
        out
    };
    match driver.resolve() {
        Driver::Epoll => Ok(monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()?
            .block_on(fut)),
        _ => Ok(uring_runtime()?.block_on(fut)),
    }
}

/// An io_uring runtime whose completions are delivered cooperatively: the kernel queues
/// their task work for the worker's next entry instead of interrupting it with an IPI
/// (`IORING_SETUP_COOP_TASKRUN`, Linux 5.19+). Under load that halves the kernel's work
/// per request. Older kernels refuse the flag; they get a default ring.
fn uring_runtime() -> io::Result<monoio::Runtime<monoio::time::TimeDriver<monoio::IoUringDriver>>> {
    let runtime = |setup: io_uring::Builder| {
        monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
            .with_entries(URING_ENTRIES)
            .uring_builder(setup)
            .enable_timer()
            .build()
    };
    let mut cooperative = io_uring::IoUring::builder();
    cooperative.setup_coop_taskrun().setup_taskrun_flag();
    runtime(cooperative).or_else(|e| {
        const EINVAL: i32 = 22;
        if e.raw_os_error() == Some(EINVAL) {
            tracing::info!("the kernel refuses cooperative task running; using a default ring");
            runtime(io_uring::IoUring::builder())
        } else {
            Err(e)
        }
    })
}

fn log_driver_once(driver: Driver) {
    static LOGGED: Once = Once::new();
    LOGGED.call_once(|| tracing::info!(driver = driver.resolve().name(), "ringrpc I/O driver"));
}

thread_local! {
    static PINNED_CORE: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
    static IN_RUNTIME: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether the current thread runs a runtime of [`block_on`] (a worker or a caller's).
pub fn in_runtime() -> bool {
    IN_RUNTIME.get()
}

/// The core the current thread is pinned to, if it is a worker that was pinned.
pub fn current_core() -> Option<usize> {
    PINNED_CORE.get()
}

/// Starts one thread per worker, pins it, and runs `make(worker)` on its own runtime.
/// The threads' results come back through the handles.
pub fn spawn_workers<F, Fut>(
    config: &WorkerConfig,
    make: F,
) -> io::Result<Vec<JoinHandle<io::Result<Fut::Output>>>>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future + 'static,
    Fut::Output: Send + 'static,
{
    let make = std::sync::Arc::new(make);
    let driver = config.driver.resolve();
    (0..config.worker_count())
        .map(|worker| {
            let make = make.clone();
            let core = config.core_of(worker);
            std::thread::Builder::new()
                .name(format!("ringrpc-worker-{worker}"))
                .spawn(move || {
                    if let Some(core) = core {
                        match monoio::utils::bind_to_cpu_set([core]) {
                            Ok(()) => PINNED_CORE.set(Some(core)),
                            Err(e) => tracing::warn!(worker, core, "cannot pin the worker: {e:?}"),
                        }
                    }
                    block_on(driver, make(worker))
                })
        })
        .collect()
}

/// Lowers the calling thread to the lowest CPU priority (nice 19), so that side threads
/// (the admin endpoint, watchers) take the cores only when the workers leave them time.
/// Returns whether it worked.
pub fn lower_thread_priority() -> bool {
    // SAFETY: `gettid` has no preconditions; `setpriority` with `PRIO_PROCESS` and a
    // thread id changes that one thread's nice value and touches no memory of ours.
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 19) == 0
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_side_thread_can_lower_its_own_priority_only() {
        let lowered = std::thread::spawn(|| {
            let ok = super::lower_thread_priority();
            // SAFETY: reading the calling thread's nice value touches no memory.
            let nice =
                unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) };
            (ok, nice)
        })
        .join()
        .unwrap();
        assert_eq!(lowered, (true, 19));
        // SAFETY: as above.
        let here = unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) };
        assert_ne!(here, 19, "the test thread keeps its priority");
    }

    use super::*;

    #[test]
    fn drivers_parse_and_resolve() {
        assert_eq!("epoll".parse::<Driver>(), Ok(Driver::Epoll));
        assert_eq!("io_uring".parse::<Driver>(), Ok(Driver::IoUring));
        assert!("kqueue".parse::<Driver>().unwrap_err().contains("`kqueue`"));
        assert_ne!(Driver::Auto.resolve(), Driver::Auto);
    }

    #[test]
    fn both_drivers_run_a_future_with_timers() {
        for driver in [Driver::Epoll, Driver::IoUring] {
            let out = block_on(driver, async {
                monoio::time::sleep(std::time::Duration::from_millis(1)).await;
                7
            })
            .unwrap();
            assert_eq!(out, 7);
        }
    }
}
