//! [`Clock`]: where the thin governance layers get the time they pass to the sans-IO
//! decision types — [`SystemClock`] in production, [`ManualClock`] (virtual time) in tests.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// A source of the current time.
pub trait Clock {
    /// The current instant.
    fn now(&self) -> Instant;
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> Instant {
        (**self).now()
    }
}

impl<C: Clock + ?Sized> Clock for Rc<C> {
    fn now(&self) -> Instant {
        (**self).now()
    }
}

/// The operating system's monotonic clock ([`Instant::now`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that moves only when told to: virtual time for tests. It lives in a [`Cell`], so
/// a shared `&ManualClock` (or `Rc<ManualClock>`) can be advanced while layers hold it; like
/// the per-core state it drives, it is not `Sync`.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Cell<Instant>,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: Instant) -> Self {
        Self {
            now: Cell::new(start),
        }
    }

    /// Moves the clock forward by `by`. A step that would overflow [`Instant`] leaves the
    /// clock where it is (it never panics).
    pub fn advance(&self, by: Duration) {
        if let Some(later) = self.now.get().checked_add(by) {
            self.now.set(later);
        }
    }

    /// Puts the clock at `to`, which may be earlier than now: decisions must tolerate a
    /// clock that appears to go backwards, and tests use this to check that they do.
    pub fn set(&self, to: Instant) {
        self.now.set(to);
    }
}

impl Default for ManualClock {
    /// A clock standing at the moment it was made (read once; it never moves by itself).
    fn default() -> Self {
        Self::new(Instant::now())
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.now.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let start = Instant::now();
        let clock = ManualClock::new(start);
        assert_eq!(clock.now(), start);
        assert_eq!(clock.now(), start);
        clock.advance(Duration::from_millis(1500));
        assert_eq!(clock.now(), start + Duration::from_millis(1500));
        clock.set(start);
        assert_eq!(clock.now(), start);
    }

    #[test]
    fn an_overflowing_step_is_ignored_instead_of_panicking() {
        let start = Instant::now();
        let clock = ManualClock::new(start);
        clock.advance(Duration::MAX);
        assert_eq!(clock.now(), start);
    }

    #[test]
    fn layers_can_share_the_clock_by_reference_or_rc() {
        fn read(clock: impl Clock) -> Instant {
            clock.now()
        }
        let clock = Rc::new(ManualClock::default());
        let before = read(&*clock);
        clock.advance(Duration::from_secs(3));
        assert_eq!(read(Rc::clone(&clock)), before + Duration::from_secs(3));
        let first = read(SystemClock);
        assert!(read(SystemClock) >= first, "the system clock is monotonic");
    }
}
