//! [`Arena`]: one size class of a core's buffer pool — an anonymous mmap region cut into
//! equal slots, a reference count per slot, and the queue through which freed slots come
//! back from whichever thread dropped their last view.

use std::cell::Cell;
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crossbeam_queue::ArrayQueue;
use memmap2::{MmapMut, MmapRaw};
use ringrpc_codec::SlotRefs;

use crate::metrics::CoreSeries;

/// One slot's bookkeeping. `refs` comes first (`repr(C)`), and the counter's pointer is
/// derived from the whole `SlotMeta` (so it may be cast back: how [`on_free`] finds the
/// slot).
#[repr(C)]
struct SlotMeta {
    refs: SlotRefs,
    index: u32,
    shared: *const Shared,
}

/// What every view of the arena's slots may reach, on any thread. Freed when both the
/// owning [`Arena`] and the last leased slot are gone.
struct Shared {
    memory: MmapRaw,
    slot_size: usize,
    metas: Box<[SlotMeta]>,
    /// Slots whose last view was dropped, waiting to be leased again.
    freed: ArrayQueue<u32>,
    /// 1 for the `Arena` while it lives, plus 1 per leased slot.
    holders: AtomicUsize,
    /// The owning core's metrics, which count slots coming back.
    metrics: Option<Arc<CoreSeries>>,
}

impl Shared {
    /// Gives up one hold; the last one frees everything.
    ///
    /// # Safety
    ///
    /// `this` came from `Box::into_raw` in [`Arena::new`] and the caller owns one hold.
    unsafe fn unhold(this: *const Shared) {
        // SAFETY: the caller's hold keeps `this` alive until the decrement.
        let holders = unsafe { &(*this).holders };
        if holders.fetch_sub(1, Ordering::AcqRel) == 1 {
            // SAFETY: no hold is left: no `Arena`, no leased slot, so no view or counter of
            // this arena can be reached any more.
            drop(unsafe { Box::from_raw(this.cast_mut()) });
        }
    }
}

/// Called (by `SlotRefs::release`, on any thread) when the last view of a slot is dropped.
///
/// # Safety
///
/// `refs` points at the `refs` field of a `SlotMeta` of a live `Shared` whose slot was
/// leased (so that lease's hold keeps it alive), and its count has just reached zero.
unsafe fn on_free(refs: NonNull<SlotRefs>) {
    // SAFETY: `refs` was derived from a pointer to its whole `SlotMeta` (`Arena::lease`),
    // whose first field it is (`repr(C)`), so the cast gives back that pointer.
    let meta = unsafe { refs.cast::<SlotMeta>().as_ref() };
    let shared = meta.shared;
    // SAFETY: the lease's hold keeps `shared` alive until `unhold` below.
    let pushed = unsafe { &*shared }.freed.push(meta.index);
    // Each slot is queued at most once per lease and the queue holds every slot, so it is
    // never full.
    debug_assert!(pushed.is_ok(), "a freed slot did not fit in the queue");
    // SAFETY: as above.
    if let Some(metrics) = &unsafe { &*shared }.metrics {
        metrics.buffer_returns.fetch_add(1, Ordering::Relaxed);
    }
    // SAFETY: `meta` is not used after this; the lease's hold is given up.
    unsafe { Shared::unhold(shared) };
}

/// One size class of a core's pool: `slots` slots of `slot_size` bytes in one anonymous
/// mapping. Memory is reserved up front and becomes resident only as slots are written.
pub(crate) struct Arena {
    shared: NonNull<Shared>,
    /// Slots never leased yet start here (they are leased in address order, so a quiet
    /// core touches little memory).
    untouched: Cell<u32>,
}

/// A leased slot: its memory and its counter, holding one count. Dropping it gives that
/// count back; the slot returns to its arena once no view of it is left either.
pub(crate) struct SlotLease {
    refs: NonNull<SlotRefs>,
    ptr: NonNull<u8>,
    size: usize,
}

impl Arena {
    /// Maps an arena of `slots` slots of `slot_size` bytes; `metrics` counts returns.
    pub(crate) fn new(
        slot_size: usize,
        slots: u32,
        metrics: Option<Arc<CoreSeries>>,
    ) -> std::io::Result<Arena> {
        let memory = MmapRaw::from(MmapMut::map_anon(slot_size * slots as usize)?);
        let metas = (0..slots)
            .map(|index| SlotMeta {
                // SAFETY: `on_free` pushes to a lock-free queue and updates atomics: any
                // thread may run it, concurrently with the arena's own.
                refs: unsafe { SlotRefs::new(on_free) },
                index,
                shared: std::ptr::null(),
            })
            .collect();
        let shared = Box::into_raw(Box::new(Shared {
            memory,
            slot_size,
            metas,
            freed: ArrayQueue::new(slots.max(1) as usize),
            holders: AtomicUsize::new(1),
            metrics,
        }));
        // SAFETY: just allocated and not shared yet, so this is the only access. Every
        // pointer to `Shared` derives from this raw one (a `Box` retag would invalidate them).
        for meta in unsafe { (*shared).metas.iter_mut() } {
            meta.shared = shared;
        }
        Ok(Arena {
            // SAFETY: `Box::into_raw` never returns null.
            shared: unsafe { NonNull::new_unchecked(shared) },
            untouched: Cell::new(0),
        })
    }

    fn shared(&self) -> &Shared {
        // SAFETY: the arena's own hold keeps `Shared` alive while the arena lives.
        unsafe { self.shared.as_ref() }
    }

    /// The size of each slot.
    pub(crate) fn slot_size(&self) -> usize {
        self.shared().slot_size
    }

    /// Leases a free slot, or `None` when every slot is leased.
    pub(crate) fn lease(&self) -> Option<SlotLease> {
        let shared = self.shared();
        let index = match shared.freed.pop() {
            Some(index) => index,
            None if (self.untouched.get() as usize) < shared.metas.len() => {
                self.untouched.set(self.untouched.get() + 1);
                self.untouched.get() - 1
            }
            None => return None,
        };
        let meta = &shared.metas[index as usize];
        debug_assert_eq!(meta.refs.count(), 0, "a leased slot was free");
        // Relaxed: the lease is taken from the arena's own hold.
        shared.holders.fetch_add(1, Ordering::Relaxed);
        meta.refs.retain();
        let offset = index as usize * shared.slot_size;
        // SAFETY: `offset` is inside the mapping (`index` < slots), so the pointer is in
        // bounds and not null; it derives from the mapping's mutable pointer, so the
        // kernel and compaction may write through it.
        let ptr = unsafe { NonNull::new_unchecked(shared.memory.as_mut_ptr().add(offset)) };
        Some(SlotLease {
            refs: NonNull::from(meta).cast::<SlotRefs>(),
            ptr,
            size: shared.slot_size,
        })
    }

    /// Slots leased at least once: this arena's resident memory is at most this many slots.
    pub(crate) fn touched(&self) -> u32 {
        self.untouched.get()
    }

    /// Whether `ptr` points into this arena's memory.
    pub(crate) fn contains(&self, ptr: *const u8) -> bool {
        let memory = &self.shared().memory;
        (memory.as_ptr()..memory.as_ptr().wrapping_add(memory.len())).contains(&ptr)
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        // SAFETY: the arena owns one hold, given up once here; leased slots keep the memory
        // until their last view is gone.
        unsafe { Shared::unhold(self.shared.as_ptr()) };
    }
}

impl SlotLease {
    /// The slot's memory.
    pub(crate) fn ptr(&self) -> NonNull<u8> {
        self.ptr
    }

    /// The slot's size.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// The slot's counter (the lease holds one count).
    pub(crate) fn refs(&self) -> NonNull<SlotRefs> {
        self.refs
    }

    /// Whether this lease is the slot's only holder: no view of it is alive, and every
    /// view's reads happened before this returned, so its bytes may be rewritten.
    pub(crate) fn is_unique(&self) -> bool {
        // SAFETY: the lease's count keeps the counter alive.
        unsafe { self.refs.as_ref() }.count() == 1
    }

    /// Another count of the same slot (for a read in flight, which must keep the slot even
    /// if the connection goes away).
    pub(crate) fn share(&self) -> SlotLease {
        // SAFETY: the lease's count keeps the counter alive.
        unsafe { self.refs.as_ref() }.retain();
        SlotLease { ..*self }
    }
}

impl Drop for SlotLease {
    fn drop(&mut self) {
        // SAFETY: the lease owns one count, given back once here.
        unsafe { SlotRefs::release(self.refs) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringrpc_codec::Blob;

    fn view(lease: &SlotLease, start: usize, len: usize) -> Blob {
        // SAFETY: the lease holds a count; the bytes were written before and are not
        // written again while views live (these tests never write after viewing).
        unsafe { Blob::from_slot(lease.refs(), lease.ptr().add(start), len) }
    }

    #[test]
    fn a_slot_comes_back_when_its_lease_and_last_view_are_gone() {
        let arena = Arena::new(4096, 2, None).unwrap();
        let lease = arena.lease().unwrap();
        // SAFETY: the lease's slot is ours to write; no view exists yet.
        unsafe { lease.ptr().as_ptr().copy_from(b"hello".as_ptr(), 5) };
        let hello = view(&lease, 0, 5);
        assert_eq!(hello, b"hello");
        assert!(arena.contains(hello.as_ptr()));
        assert!(!lease.is_unique());
        let second = arena.lease().unwrap();
        assert!(arena.lease().is_none(), "two slots, both leased");
        drop(lease);
        assert!(arena.lease().is_none(), "a view still holds the first slot");
        drop(hello);
        let again = arena.lease().expect("the first slot is free again");
        assert_eq!(
            again.ptr().as_ptr(),
            arena.shared().memory.as_ptr().cast_mut()
        );
        assert_eq!(arena.touched(), 2);
        drop((second, again));
    }

    #[test]
    fn views_outlive_their_arena_and_may_drop_on_other_threads() {
        let arena = Arena::new(4096, 4, None).unwrap();
        let lease = arena.lease().unwrap();
        // SAFETY: as above.
        unsafe { lease.ptr().as_ptr().write_bytes(b'x', 64) };
        let views: Vec<Blob> = (0..8).map(|i| view(&lease, i, 8)).collect();
        drop(lease);
        drop(arena);
        std::thread::scope(|scope| {
            for blob in views {
                scope.spawn(move || assert_eq!(blob, b"xxxxxxxx"));
            }
        });
    }

    #[test]
    fn a_unique_lease_may_be_rewritten() {
        let arena = Arena::new(4096, 1, None).unwrap();
        let lease = arena.lease().unwrap();
        assert!(lease.is_unique());
        let in_flight = lease.share();
        assert!(!lease.is_unique());
        drop(in_flight);
        assert!(lease.is_unique());
    }
}
