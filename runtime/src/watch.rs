//! [`FileWatch`]: a side thread that reads a file when it changes and hands its text to a
//! callback — how live policy overrides and service discovery follow a file. It polls the
//! file's modification time and contents (`every`), so it works on any filesystem and
//! notices atomic renames. A change is handed on once two looks in a row agree, so a file
//! caught half-written (an editor or `echo >` truncating and rewriting it) is not published
//! as a bad update; dropping the watch stops the thread.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

/// A file's contents and modification time.
#[derive(Debug, Clone, PartialEq)]
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
}

/// What one look at the file decided.
#[derive(Debug)]
enum Look<'a> {
    /// Nothing to hand on (unchanged, or a change not yet confirmed).
    Quiet,
    /// A change two looks in a row agreed on: hand on this text.
    Changed(&'a str),
    /// The file could not be read, for the first time since it last could.
    Lost(io::Error),
}

/// The watch's memory between looks: the contents last handed on and a change seen once.
#[derive(Debug)]
struct ChangeFilter {
    published: FileStamp,
    unsettled: Option<FileStamp>,
    lost: bool,
}

impl ChangeFilter {
    fn new(first: FileStamp) -> ChangeFilter {
        ChangeFilter {
            published: first,
            unsettled: None,
            lost: false,
        }
    }

    fn look(&mut self, read: io::Result<FileStamp>) -> Look<'_> {
        match read {
            Err(e) => {
                self.unsettled = None;
                if std::mem::replace(&mut self.lost, true) {
                    Look::Quiet
                } else {
                    Look::Lost(e)
                }
            }
            Ok(now) => {
                self.lost = false;
                if now == self.published {
                    self.unsettled = None;
                    Look::Quiet
                } else if self.unsettled.as_ref() == Some(&now) {
                    self.unsettled = None;
                    self.published = now;
                    Look::Changed(&self.published.text)
                } else {
                    self.unsettled = Some(now);
                    Look::Quiet
                }
            }
        }
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
    /// (looked at every `every`; a change counts once two looks in a row see the same
    /// contents, so it is handed on within two periods). A file that cannot be read later
    /// is reported once to `on_error` until it can be again. The first read must succeed.
    pub(crate) fn start(
        path: &Path,
        every: Duration,
        mut on_change: impl FnMut(&str) + Send + 'static,
        mut on_error: impl FnMut(io::Error) + Send + 'static,
    ) -> io::Result<FileWatch> {
        let path = path.to_path_buf();
        let first = FileStamp::read(&path).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot read {}: {e}", path.display()))
        })?;
        on_change(&first.text);
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            let path = path.clone();
            std::thread::Builder::new()
                .name("ringrpc-file-watch".into())
                .spawn(move || {
                    let mut filter = ChangeFilter::new(first);
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::park_timeout(every);
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        match filter.look(FileStamp::read(&path)) {
                            Look::Quiet => {}
                            Look::Changed(text) => on_change(text),
                            Look::Lost(e) => on_error(e),
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

#[cfg(test)]
mod tests {
    use super::*;

    impl PartialEq for Look<'_> {
        fn eq(&self, other: &Self) -> bool {
            match (self, other) {
                (Look::Quiet, Look::Quiet) => true,
                (Look::Changed(a), Look::Changed(b)) => a == b,
                (Look::Lost(a), Look::Lost(b)) => a.kind() == b.kind(),
                _ => false,
            }
        }
    }

    fn stamp(text: &str, second: u64) -> io::Result<FileStamp> {
        Ok(FileStamp {
            text: text.into(),
            modified: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(second)),
        })
    }

    #[test]
    fn a_change_is_handed_on_when_two_looks_agree() {
        let mut filter = ChangeFilter::new(stamp("a", 1).unwrap());
        assert_eq!(filter.look(stamp("a", 1)), Look::Quiet);
        assert_eq!(filter.look(stamp("b", 2)), Look::Quiet);
        assert_eq!(filter.look(stamp("b", 2)), Look::Changed("b"));
        assert_eq!(filter.look(stamp("b", 2)), Look::Quiet);
        // Touched without a change of contents: handed on again (a rewrite is a signal).
        assert_eq!(filter.look(stamp("b", 3)), Look::Quiet);
        assert_eq!(filter.look(stamp("b", 3)), Look::Changed("b"));
    }

    #[test]
    fn a_file_caught_half_written_is_not_handed_on() {
        let mut filter = ChangeFilter::new(stamp("{\"a\": 1}", 1).unwrap());
        // Truncated, then partly written, then complete: only the complete text counts.
        assert_eq!(filter.look(stamp("", 2)), Look::Quiet);
        assert_eq!(filter.look(stamp("{\"a\"", 2)), Look::Quiet);
        assert_eq!(filter.look(stamp("{\"a\": 2}", 2)), Look::Quiet);
        assert_eq!(
            filter.look(stamp("{\"a\": 2}", 2)),
            Look::Changed("{\"a\": 2}")
        );
        // Rewritten back to the published contents before the change settled: nothing.
        assert_eq!(filter.look(stamp("x", 3)), Look::Quiet);
        assert_eq!(filter.look(stamp("{\"a\": 2}", 2)), Look::Quiet);
    }

    #[test]
    fn a_lost_file_is_reported_once_and_its_return_is_a_change() {
        let mut filter = ChangeFilter::new(stamp("a", 1).unwrap());
        let gone = || Err(io::Error::from(io::ErrorKind::NotFound));
        assert!(matches!(filter.look(gone()), Look::Lost(_)));
        assert_eq!(filter.look(gone()), Look::Quiet);
        assert_eq!(filter.look(stamp("c", 4)), Look::Quiet);
        assert_eq!(filter.look(stamp("c", 4)), Look::Changed("c"));
        assert!(matches!(filter.look(gone()), Look::Lost(_)));
    }
}
