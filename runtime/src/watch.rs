//! [`FileWatch`]: a side thread that reads a file when it changes and hands its text to a
//! callback — how live policy overrides and service discovery follow a file. It polls the
//! file's modification time and contents (`every`), so it works on any filesystem and
//! notices atomic renames; dropping the watch stops the thread.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

/// A file's contents and modification time.
struct FileStamp {
    text: String,
    modified: Option<SystemTime>,
}

impl FileStamp {
    fn read(path: &Path) -> io::Result<FileStamp> {
        let modified = std::fs::metadata(path)?.modified().ok();
        Ok(FileStamp {
            text: std::fs::read_to_string(path)?,
            modified,
        })
    }

    fn same_as(&self, other: &FileStamp) -> bool {
        self.modified == other.modified && self.text == other.text
    }
}

/// Watches a file; dropping it stops the watch.
#[derive(Debug)]
pub struct FileWatch {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    path: PathBuf,
}

impl FileWatch {
    /// Reads `path` now and hands its text to `on_change`, then again whenever it changes
    /// (looked at every `every`). A file that cannot be read later is reported once to
    /// `on_error` until it can be again. The first read must succeed.
    pub(crate) fn start(
        path: &Path,
        every: Duration,
        mut on_change: impl FnMut(&str) + Send + 'static,
        mut on_error: impl FnMut(io::Error) + Send + 'static,
    ) -> io::Result<FileWatch> {
        let path = path.to_path_buf();
        let mut seen = FileStamp::read(&path).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot read {}: {e}", path.display()))
        })?;
        on_change(&seen.text);
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            let path = path.clone();
            std::thread::Builder::new()
                .name("ringrpc-file-watch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::park_timeout(every);
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        match FileStamp::read(&path) {
                            Ok(now) if now.same_as(&seen) => {}
                            Ok(now) => {
                                on_change(&now.text);
                                seen = now;
                            }
                            Err(e) if seen.modified.is_some() => {
                                on_error(e);
                                seen.modified = None;
                            }
                            Err(_) => {}
                        }
                    }
                })?
        };
        Ok(FileWatch {
            stop,
            thread: Some(thread),
            path,
        })
    }

    /// The watched file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for FileWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}
