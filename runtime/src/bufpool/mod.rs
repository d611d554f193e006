//! The per-core buffer pool: connections read into slots of anonymous mmap arenas, and the
//! frames they decode are [`Blob`](ringrpc_codec::Blob) views into those slots.
//!
//! Each thread that runs connections (a worker core, or a client's runtime thread) has one
//! pool with an arena per size class: slots of 1, 4, 16, 64 and 256 KiB. An arena reserves
//! its address space up front and touches memory only as slots are used, in address order,
//! so an idle core costs little. A slot is leased by one connection's read buffer, which
//! reads into its free tail and hands out views of the frames it holds; it goes back to its
//! arena when the read buffer has moved on and the last view is dropped — on any thread,
//! through the arena's lock-free return queue. Reusing a slot allocates nothing, so the
//! steady state allocates nothing either.
//!
//! What does not fit falls back to the heap, and is counted
//! (`ringrpc_buffer_heap_fallbacks_total` in `/metrics`): frames larger than the largest
//! slot, and reads on a core whose arenas of the sizes needed are leased out.
//!
//! Not done: registering the arenas with io_uring (fixed buffers). monoio 0.2 cannot issue
//! fixed-buffer reads, so registration would pin memory (8 MiB memlock here) for nothing.

mod arena;

use std::cell::{Cell, OnceCell};
use std::rc::Rc;
use std::sync::Arc;

pub(crate) use arena::{Arena, SlotLease};

use crate::metrics::{CoreSeries, Registry};

/// The size classes, smallest first: `(slot size, slots per core)`, 16–32 MiB of address
/// space each per core; only slots in use become resident. New connections read into the
/// smallest: an idle connection costs a quarter of a page.
pub(crate) const CLASSES: [(usize, u32); 5] = [
    (1 << 10, 16_384),
    (4 << 10, 8_192),
    (16 << 10, 2_048),
    (64 << 10, 512),
    (256 << 10, 128),
];

/// One thread's pool: an arena per size class, each mapped on first use.
pub(crate) struct BufPool {
    arenas: [OnceCell<Option<Arena>>; CLASSES.len()],
    /// Whether mapping an arena failed (warned about once).
    mapping_failed: Cell<bool>,
    /// This thread's per-core metrics.
    metrics: Option<Arc<CoreSeries>>,
}

thread_local! {
    static POOL: Rc<BufPool> = Rc::new(BufPool::new());
}

impl BufPool {
    fn new() -> Self {
        BufPool {
            arenas: Default::default(),
            mapping_failed: Cell::new(false),
            metrics: Registry::core(),
        }
    }

    /// This thread's pool (a pool of its own for a thread being torn down).
    pub(crate) fn current() -> Rc<BufPool> {
        POOL.try_with(Rc::clone)
            .unwrap_or_else(|_| Rc::new(BufPool::new()))
    }

    /// The class index of the smallest slot holding `len` bytes, if any does.
    pub(crate) fn class_for(len: usize) -> Option<usize> {
        CLASSES.iter().position(|&(size, _)| size >= len)
    }

    fn arena(&self, class: usize) -> Option<&Arena> {
        self.arenas[class]
            .get_or_init(|| {
                let (size, slots) = CLASSES[class];
                match Arena::new(size, slots, self.metrics.clone()) {
                    Ok(arena) => Some(arena),
                    Err(e) => {
                        if !self.mapping_failed.replace(true) {
                            tracing::warn!(
                                "could not map a buffer arena of {slots} × {size} bytes ({e}); \
                                 reads on this core use the heap"
                            );
                        }
                        None
                    }
                }
            })
            .as_ref()
    }

    /// Leases a slot of at least `len` bytes: the smallest class that fits, or a larger one
    /// when that class is leased out. `None` (counted as a heap fallback) when `len` is
    /// larger than every slot or no class that fits has a free slot.
    pub(crate) fn lease(&self, len: usize) -> Option<SlotLease> {
        let leased = BufPool::class_for(len)
            .and_then(|first| (first..CLASSES.len()).find_map(|class| self.arena(class)?.lease()));
        if let Some(metrics) = &self.metrics {
            match &leased {
                Some(_) => {
                    metrics.buffer_leases.add(1);
                    metrics.buffer_resident_bytes.set(self.resident_bytes());
                }
                None => metrics.buffer_heap_fallbacks.add(1),
            }
        }
        leased
    }

    /// Memory the arenas have touched: an upper bound of what they keep resident.
    pub(crate) fn resident_bytes(&self) -> u64 {
        self.arenas
            .iter()
            .filter_map(|arena| arena.get()?.as_ref())
            .map(|arena| arena.touched() as u64 * arena.slot_size() as u64)
            .sum()
    }
}

/// Whether `bytes` lie inside this thread's buffer pool: a decoded `string` or `binary`
/// field of a message this thread read does, unless its frame fell back to the heap.
///
/// ```
/// let heap = ringrpc::codec::Blob::from(vec![1, 2, 3]);
/// assert!(!ringrpc::bufpool::owns(&heap));
/// ```
pub fn owns(bytes: &[u8]) -> bool {
    POOL.try_with(|pool| {
        pool.arenas
            .iter()
            .filter_map(|arena| arena.get()?.as_ref())
            .any(|arena| arena.contains(bytes.as_ptr()))
    })
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LARGEST_SLOT: usize = CLASSES[CLASSES.len() - 1].0;

    #[test]
    fn a_lease_takes_the_smallest_class_that_fits() {
        let pool = BufPool::new();
        assert_eq!(pool.lease(100).unwrap().size(), 1 << 10);
        assert_eq!(pool.lease(1025).unwrap().size(), 4 << 10);
        assert_eq!(pool.lease(5000).unwrap().size(), 16 << 10);
        assert_eq!(pool.lease(LARGEST_SLOT).unwrap().size(), LARGEST_SLOT);
        assert!(pool.lease(LARGEST_SLOT + 1).is_none());
        assert_eq!(pool.resident_bytes(), (1 + 4 + 16 + 256) << 10);
    }
}
