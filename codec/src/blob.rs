//! [`Blob`]: an immutable byte string that is cheap to clone — a view into one slot of a
//! buffer pool ([`SlotRefs`]), a [`Bytes`], or static bytes — [`SlotRefs`], the reference
//! count a pool keeps per slot, and [`BlobRef`], a borrowed `Blob` or `Bytes` that views are
//! taken from.
//!
//! Decoded `binary` fields are `Blob`s and [`BytesStr`](crate::BytesStr) wraps one, so a
//! message read into a pooled slot (ringrpc's per-core mmap `BufPool`) points into that slot:
//! no copy, and no allocation either — cloning or dropping a pooled view touches the slot's
//! counter only, and the slot goes back to its pool when the last view is gone. `bytes::Bytes`
//! cannot do that: its only way over foreign memory, `Bytes::from_owner`, allocates a header
//! per call and cannot tell when a buffer could be reused in place.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::{Deref, RangeBounds};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering, fence};

use bytes::{Bytes, BytesMut};

/// An immutable byte string: a view into a pooled slot, a [`Bytes`], or static bytes.
///
/// Reads like `&[u8]` (it derefs to one); compares, orders and hashes by content.
/// [`Blob::slice`] and `clone` never copy. Convert from `Bytes`, `Vec<u8>`, `String` or a
/// static slice without copying; [`Blob::into_bytes`] converts back.
pub struct Blob(Repr);

enum Repr {
    /// Heap or static memory, owned through `Bytes`.
    Shared(Bytes),
    /// A view into a pooled slot.
    Slot(SlotView),
}

/// `len` bytes at `ptr`, inside the slot counted by `refs`; owns one count of `refs`.
struct SlotView {
    ptr: NonNull<u8>,
    len: usize,
    refs: NonNull<SlotRefs>,
}

impl SlotView {
    /// A view of `len` bytes at `ptr`; takes one count.
    ///
    /// # Safety
    ///
    /// As [`Blob::from_slot`].
    #[inline]
    unsafe fn new(refs: NonNull<SlotRefs>, ptr: NonNull<u8>, len: usize) -> Self {
        // SAFETY: `refs` is valid and counted by the caller (`Blob::from_slot`'s contract).
        unsafe { refs.as_ref() }.retain();
        SlotView { ptr, len, refs }
    }
}

impl Clone for SlotView {
    #[inline]
    fn clone(&self) -> Self {
        // SAFETY: this view holds a count, so `refs` is valid and the slot live; its bytes
        // stay unwritten while the new view lives.
        unsafe { SlotView::new(self.refs, self.ptr, self.len) }
    }
}

impl Drop for SlotView {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: this view owns one count of `refs`, given back here exactly once.
        unsafe { SlotRefs::release(self.refs) };
    }
}

// SAFETY: a `Blob` is an immutable view. Its bytes are never written while a view of them is
// alive (the contract of `Blob::from_slot`), and the slot counter it shares with other views
// is atomic, so views may be sent to and shared with other threads; a view dropped on
// another thread hands its slot back through the pool's `on_free`, which the pool makes
// thread-safe (`SlotRefs::new`).
unsafe impl Send for Blob {}
// SAFETY: see `Send`: every shared access is a read of immutable bytes or an atomic update.
unsafe impl Sync for Blob {}

impl Blob {
    /// An empty blob (no allocation).
    pub const fn new() -> Self {
        Blob(Repr::Shared(Bytes::new()))
    }

    /// Wraps static bytes without copying them.
    pub const fn from_static(bytes: &'static [u8]) -> Self {
        Blob(Repr::Shared(Bytes::from_static(bytes)))
    }

    /// Copies `data` into a new heap buffer.
    pub fn copy_from_slice(data: &[u8]) -> Self {
        Blob(Repr::Shared(Bytes::copy_from_slice(data)))
    }

    /// A view of `len` bytes at `ptr` inside a pooled slot; takes one count of `refs`.
    ///
    /// This is how a buffer pool hands out what it received; generated code and handlers
    /// never call it.
    ///
    /// # Safety
    ///
    /// - The caller holds a count of `refs` for the whole call (so the slot is live), and
    ///   `refs` stays valid until its count has fallen to zero and `on_free` has run.
    /// - `ptr..ptr + len` is initialised, lies inside the slot that `refs` counts, stays
    ///   mapped until `on_free` has run, and is not written while any view of it is alive.
    ///   A pool that holds one count of its own and reads [`SlotRefs::count`] as 1 knows
    ///   that no view is alive.
    /// - `refs` was made by [`SlotRefs::new`], whose contract (an `on_free` that may run on
    ///   any thread) makes views safe to send and share.
    pub unsafe fn from_slot(refs: NonNull<SlotRefs>, ptr: NonNull<u8>, len: usize) -> Self {
        // SAFETY: the same contract.
        Blob(Repr::Slot(unsafe { SlotView::new(refs, ptr, len) }))
    }

    /// The bytes.
    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        match &self.0 {
            Repr::Shared(bytes) => bytes,
            // SAFETY: `ptr..ptr + len` is initialised and immutable while this view holds its
            // count (`from_slot`'s contract).
            Repr::Slot(view) => unsafe { std::slice::from_raw_parts(view.ptr.as_ptr(), view.len) },
        }
    }

    /// Whether this is a view into a pooled slot (and not heap or static memory).
    pub fn is_pooled(&self) -> bool {
        matches!(self.0, Repr::Slot(_))
    }

    /// A view of `range` of these bytes, sharing their memory.
    ///
    /// # Panics
    ///
    /// When the range is out of bounds, like slicing a `[u8]`.
    pub fn slice(&self, range: impl RangeBounds<usize>) -> Self {
        let len = self.len();
        let start = match range.start_bound() {
            std::ops::Bound::Included(&n) => n,
            std::ops::Bound::Excluded(&n) => n.checked_add(1).expect("range start overflows"),
            std::ops::Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            std::ops::Bound::Included(&n) => n.checked_add(1).expect("range end overflows"),
            std::ops::Bound::Excluded(&n) => n,
            std::ops::Bound::Unbounded => len,
        };
        assert!(
            start <= end && end <= len,
            "range {start}..{end} out of bounds for a blob of {len} bytes"
        );
        if start == end {
            // An empty view keeps no slot alive.
            return Blob::new();
        }
        match &self.0 {
            Repr::Shared(bytes) => Blob(Repr::Shared(bytes.slice(start..end))),
            Repr::Slot(view) => {
                // SAFETY: this view holds a count of `refs` (so the call's caller does), and
                // `start..end` lies inside this view's bytes, which lie inside the slot.
                unsafe { Blob::from_slot(view.refs, view.ptr.add(start), end - start) }
            }
        }
    }

    /// A view of the `len` bytes at `start`, which the caller has checked lie inside these
    /// bytes and are not empty: the decoder's path, without [`slice`](Self::slice)'s range
    /// arithmetic (a view taken per decoded string).
    #[inline]
    pub(crate) fn view(&self, start: usize, len: usize) -> Self {
        debug_assert!(len != 0 && start <= self.len() && len <= self.len() - start);
        match &self.0 {
            Repr::Shared(bytes) => Blob(Repr::Shared(bytes.slice(start..start + len))),
            // SAFETY: this view holds a count of `refs` (so the call's caller does), and
            // `start..start + len` lies inside this view's bytes (the caller checked), which
            // lie inside the slot.
            Repr::Slot(view) => unsafe {
                Blob(Repr::Slot(SlotView::new(
                    view.refs,
                    view.ptr.add(start),
                    len,
                )))
            },
        }
    }

    /// This blob, its four words read one at a time: how the decoder hands on a view it has
    /// just made.
    ///
    /// A new view sits in memory as four 8-byte stores (written by `Bytes::slice`, or where
    /// the decoder's choice between a `Bytes`, a heap and a slot view comes together). Moved
    /// on with 16-byte loads, as the compiler copies a 32-byte value, each load waits until
    /// both stores it spans have retired: a store-forwarding stall, the hottest instructions
    /// in a profile of the decode loop, once or more per decoded string. Volatile 8-byte
    /// reads are forwarded from the stores, and the view goes on in registers (the 64-byte
    /// echo decodes in about 50 ns instead of 60; benches/README.md).
    #[inline(always)]
    pub(crate) fn moved_by_words(self) -> Self {
        // `MaybeUninit` words hold any bytes of a `Blob` (with their provenance) and a
        // transmute checks the sizes match: a `Blob` is four words (`a_blob_is_no_bigger_than_bytes`).
        type Words = [std::mem::MaybeUninit<*const ()>; 4];
        // SAFETY: the same size; every byte pattern is a valid `Words`. The blob moves into
        // the words (it is not dropped here).
        let words = unsafe { std::mem::transmute::<Blob, Words>(self) };
        // SAFETY: each `w` is a live, aligned local; a volatile read copies it unchanged.
        let words = words.map(|w| unsafe { std::ptr::read_volatile(&w) });
        // SAFETY: the words are the bytes of the blob moved in above, unchanged, so they are
        // a valid `Blob`, owned once: the view's count moves with it.
        unsafe { std::mem::transmute::<Words, Blob>(words) }
    }

    /// A view of `subset`, which must lie inside these bytes (as from a parser that returns
    /// slices of its input), sharing their memory.
    ///
    /// # Panics
    ///
    /// When `subset` is not inside these bytes (an empty `subset` is always accepted and
    /// gives an empty blob).
    pub fn slice_ref(&self, subset: &[u8]) -> Self {
        if subset.is_empty() {
            return Blob::new();
        }
        let base = self.as_slice().as_ptr() as usize;
        let start = (subset.as_ptr() as usize).wrapping_sub(base);
        assert!(
            start <= self.len() && subset.len() <= self.len() - start,
            "the subset is not inside this blob"
        );
        self.slice(start..start + subset.len())
    }

    /// Splits off and returns the first `at` bytes; these keep the rest (no copy).
    ///
    /// # Panics
    ///
    /// When `at` is past the end.
    pub fn split_to(&mut self, at: usize) -> Self {
        let front = self.slice(..at);
        *self = self.slice(at..);
        front
    }

    /// Splits off and returns the bytes from `at` on; these keep the first `at` (no copy).
    ///
    /// # Panics
    ///
    /// When `at` is past the end.
    pub fn split_off(&mut self, at: usize) -> Self {
        let back = self.slice(at..);
        *self = self.slice(..at);
        back
    }

    /// Keeps the first `len` bytes (all of them if there are fewer).
    pub fn truncate(&mut self, len: usize) {
        if len < self.len() {
            *self = self.slice(..len);
        }
    }

    /// These bytes in memory of their own when they are a view into a pooled slot (one
    /// copy), else themselves. A short field kept for long (a cache key, a session name)
    /// holds its whole slot out of the pool while it lives; unpooling it first does not.
    pub fn unpooled(self) -> Self {
        match self.0 {
            Repr::Shared(_) => self,
            Repr::Slot(_) => Blob::copy_from_slice(&self),
        }
    }

    /// Converts into [`Bytes`]: free unless pooled; a pooled view keeps its slot and costs
    /// one allocation (`Bytes::from_owner`), never a copy.
    pub fn into_bytes(self) -> Bytes {
        match self.0 {
            Repr::Shared(bytes) => bytes,
            Repr::Slot(_) => Bytes::from_owner(self),
        }
    }
}

impl Clone for Blob {
    #[inline]
    fn clone(&self) -> Self {
        match &self.0 {
            Repr::Shared(bytes) => Blob(Repr::Shared(bytes.clone())),
            Repr::Slot(view) => Blob(Repr::Slot(view.clone())),
        }
    }
}

impl Default for Blob {
    fn default() -> Self {
        Blob::new()
    }
}

impl Deref for Blob {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsRef<[u8]> for Blob {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl Borrow<[u8]> for Blob {
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

impl Hash for Blob {
    // Hash like `[u8]` so that `Borrow<[u8]>` lookups in hash maps agree.
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state)
    }
}

impl PartialEq for Blob {
    fn eq(&self, other: &Blob) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Blob {}

impl PartialOrd for Blob {
    fn partial_cmp(&self, other: &Blob) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Blob {
    fn cmp(&self, other: &Blob) -> std::cmp::Ordering {
        self.as_slice().cmp(other.as_slice())
    }
}

macro_rules! eq_with {
    ($($other:ty),*) => {$(
        impl PartialEq<$other> for Blob {
            fn eq(&self, other: &$other) -> bool {
                self.as_slice() == &other[..]
            }
        }
        impl PartialEq<Blob> for $other {
            fn eq(&self, other: &Blob) -> bool {
                &self[..] == other.as_slice()
            }
        }
    )*};
}

eq_with!([u8], &[u8], Vec<u8>, Bytes);

impl PartialEq<str> for Blob {
    fn eq(&self, other: &str) -> bool {
        self.as_slice() == other.as_bytes()
    }
}

impl PartialEq<&str> for Blob {
    fn eq(&self, other: &&str) -> bool {
        self.as_slice() == other.as_bytes()
    }
}

impl<const N: usize> PartialEq<[u8; N]> for Blob {
    fn eq(&self, other: &[u8; N]) -> bool {
        self.as_slice() == other
    }
}

impl<const N: usize> PartialEq<&[u8; N]> for Blob {
    fn eq(&self, other: &&[u8; N]) -> bool {
        self.as_slice() == *other
    }
}

impl fmt::Debug for Blob {
    /// Like `Bytes`: `b"..."` with non-printable bytes escaped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("b\"")?;
        for &byte in self.as_slice() {
            fmt::Display::fmt(&byte.escape_ascii(), f)?;
        }
        f.write_str("\"")
    }
}

impl From<Bytes> for Blob {
    fn from(bytes: Bytes) -> Self {
        Blob(Repr::Shared(bytes))
    }
}

/// A clone (a reference count), no copy.
impl From<&Blob> for Blob {
    fn from(blob: &Blob) -> Self {
        blob.clone()
    }
}

/// A cheap clone of the `Bytes` (a reference count), no copy.
impl From<&Bytes> for Blob {
    fn from(bytes: &Bytes) -> Self {
        Blob(Repr::Shared(bytes.clone()))
    }
}

impl From<BytesMut> for Blob {
    fn from(bytes: BytesMut) -> Self {
        Blob(Repr::Shared(bytes.freeze()))
    }
}

impl From<Vec<u8>> for Blob {
    fn from(bytes: Vec<u8>) -> Self {
        Blob(Repr::Shared(Bytes::from(bytes)))
    }
}

impl From<Box<[u8]>> for Blob {
    fn from(bytes: Box<[u8]>) -> Self {
        Blob(Repr::Shared(Bytes::from(bytes)))
    }
}

impl From<String> for Blob {
    fn from(s: String) -> Self {
        Blob(Repr::Shared(Bytes::from(s)))
    }
}

impl From<&'static [u8]> for Blob {
    fn from(bytes: &'static [u8]) -> Self {
        Blob::from_static(bytes)
    }
}

impl<const N: usize> From<&'static [u8; N]> for Blob {
    fn from(bytes: &'static [u8; N]) -> Self {
        Blob::from_static(bytes)
    }
}

impl From<&'static str> for Blob {
    fn from(s: &'static str) -> Self {
        Blob::from_static(s.as_bytes())
    }
}

impl From<Blob> for Bytes {
    fn from(blob: Blob) -> Bytes {
        blob.into_bytes()
    }
}

impl From<Blob> for Vec<u8> {
    /// Reuses a unique heap buffer; copies otherwise.
    fn from(blob: Blob) -> Vec<u8> {
        match blob.0 {
            Repr::Shared(bytes) => Vec::from(bytes),
            Repr::Slot(_) => blob.as_slice().to_vec(),
        }
    }
}

/// Reading a blob as a [`bytes::Buf`] consumes it from the front, without copying.
impl bytes::Buf for Blob {
    fn remaining(&self) -> usize {
        self.len()
    }

    fn chunk(&self) -> &[u8] {
        self.as_slice()
    }

    fn advance(&mut self, cnt: usize) {
        assert!(
            cnt <= self.len(),
            "cannot advance {cnt} bytes past the end of a blob of {}",
            self.len()
        );
        *self = self.slice(cnt..);
    }

    fn copy_to_bytes(&mut self, len: usize) -> Bytes {
        self.split_to(len).into_bytes()
    }
}

impl<'a> IntoIterator for &'a Blob {
    type Item = &'a u8;
    type IntoIter = std::slice::Iter<'a, u8>;
    fn into_iter(self) -> Self::IntoIter {
        self.as_slice().iter()
    }
}

/// A borrowed [`Blob`] or [`Bytes`]: what a decoder reads and takes its views from.
///
/// Reading through it and taking views costs no reference count of its own: each view
/// counts itself (one atomic increment), and the input needs no clone for the decode's
/// duration. Made with `From` from `&Blob` or `&Bytes`.
#[derive(Debug, Clone, Copy)]
pub enum BlobRef<'a> {
    /// A borrowed blob (a pooled slot, heap or static bytes).
    Blob(&'a Blob),
    /// Borrowed `Bytes`, so decoding from a `Bytes` neither clones nor converts it.
    Bytes(&'a Bytes),
}

impl<'a> BlobRef<'a> {
    /// The bytes, for as long as the borrow.
    #[inline]
    pub fn as_slice(self) -> &'a [u8] {
        match self {
            BlobRef::Blob(blob) => blob.as_slice(),
            BlobRef::Bytes(bytes) => bytes,
        }
    }

    /// A view of the `len` bytes at `start`, which the caller has checked lie inside these
    /// bytes and are not empty (see [`Blob::view`]).
    #[inline]
    pub(crate) fn view(&self, start: usize, len: usize) -> Blob {
        match self {
            BlobRef::Blob(blob) => blob.view(start, len),
            BlobRef::Bytes(bytes) => Blob(Repr::Shared(bytes.slice(start..start + len))),
        }
    }
}

impl<'a> From<&'a Blob> for BlobRef<'a> {
    fn from(blob: &'a Blob) -> Self {
        BlobRef::Blob(blob)
    }
}

impl<'a> From<&'a Bytes> for BlobRef<'a> {
    fn from(bytes: &'a Bytes) -> Self {
        BlobRef::Bytes(bytes)
    }
}

/// The reference count of one slot of a buffer pool, shared by every [`Blob`] viewing the
/// slot and by the pool while it writes into the slot.
///
/// A pool keeps one `SlotRefs` per slot, at an address that does not change while the count
/// is above zero. It takes a count ([`retain`](Self::retain)) when it starts filling the
/// slot, hands out views with [`Blob::from_slot`], and gives its count back with
/// [`release`](Self::release) when it moves on. When the count falls to zero, the `on_free`
/// given to [`new`](Self::new) runs, once, on whichever thread dropped the last view.
pub struct SlotRefs {
    count: AtomicUsize,
    on_free: unsafe fn(NonNull<SlotRefs>),
}

impl SlotRefs {
    /// A counter at zero, whose `on_free` typically returns the slot to its pool's free
    /// list.
    ///
    /// # Safety
    ///
    /// `on_free` must be safe to call from any thread, concurrently with the pool's own
    /// thread (a view may be dropped anywhere), with a pointer to this counter whose count
    /// has just reached zero.
    pub const unsafe fn new(on_free: unsafe fn(NonNull<SlotRefs>)) -> Self {
        SlotRefs {
            count: AtomicUsize::new(0),
            on_free,
        }
    }

    /// The current count. A holder of one count that reads 1 knows no view is alive, and
    /// that every view's reads of the slot happened before this call returned.
    pub fn count(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    /// Takes one count.
    #[inline]
    pub fn retain(&self) {
        // Relaxed like `Arc::clone`: a new count is taken from an existing one, so the slot
        // cannot be freed concurrently.
        let old = self.count.fetch_add(1, Ordering::Relaxed);
        if old > isize::MAX as usize {
            // Wrapping the count would free the slot under live views.
            std::process::abort();
        }
    }

    /// Gives one count back; runs `on_free` if it was the last.
    ///
    /// # Safety
    ///
    /// The caller owns a count of the `SlotRefs` at `this` (taken with
    /// [`retain`](Self::retain) or held by a [`Blob`]) and gives it up.
    #[inline]
    pub unsafe fn release(this: NonNull<SlotRefs>) {
        // SAFETY: the caller's count keeps `this` valid until the decrement below.
        let refs = unsafe { this.as_ref() };
        if refs.count.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        // SAFETY: this call took the count from one to zero.
        unsafe { SlotRefs::free(this) }
    }

    /// Runs `on_free` for a count that has just fallen to zero: out of line, since a view's
    /// drop (inlined where views are dropped) rarely is the last.
    ///
    /// # Safety
    ///
    /// The caller took the count of the `SlotRefs` at `this` from one to zero.
    #[inline(never)]
    unsafe fn free(this: NonNull<SlotRefs>) {
        // Like `Arc`'s drop: every view's use of the slot happens before it is reused.
        fence(Ordering::Acquire);
        // SAFETY: the count just reached zero and `on_free` has not run for this round, so
        // the pool keeps the counter where it is until it does.
        let on_free = unsafe { this.as_ref() }.on_free;
        // SAFETY: the count is zero, so this is the one call for this round; the pool's
        // `on_free` accepts a pointer to its counter from any thread (`new`'s contract).
        unsafe { on_free(this) };
    }
}

impl fmt::Debug for SlotRefs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlotRefs")
            .field("count", &self.count.load(Ordering::Relaxed))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::sync::atomic::AtomicU32;

    /// A one-slot test pool: the slot's bytes, its counter, and how often it was freed.
    struct TestSlot {
        refs: SlotRefs,
        freed: AtomicU32,
        bytes: [u8; 16],
    }

    unsafe fn count_free(refs: NonNull<SlotRefs>) {
        // SAFETY: `refs` was derived from a pointer to its whole `TestSlot` (`refs_of`), so
        // stepping back by the field's offset stays inside that pointer's range; the slot
        // outlives every view in these tests.
        let slot = unsafe {
            &*(refs
                .as_ptr()
                .cast::<u8>()
                .sub(std::mem::offset_of!(TestSlot, refs))
                .cast::<TestSlot>())
        };
        slot.freed.fetch_add(1, Ordering::Relaxed);
    }

    /// The slot's counter, through a pointer to the whole slot.
    fn refs_of(slot: &TestSlot) -> NonNull<SlotRefs> {
        let whole = NonNull::from(slot).cast::<u8>();
        // SAFETY: the field lies inside the slot.
        unsafe { whole.add(std::mem::offset_of!(TestSlot, refs)) }.cast()
    }

    fn test_slot() -> Box<TestSlot> {
        Box::new(TestSlot {
            // SAFETY: `count_free` only bumps an atomic, from any thread.
            refs: unsafe { SlotRefs::new(count_free) },
            freed: AtomicU32::new(0),
            bytes: *b"hello, pooled!!!",
        })
    }

    fn view(slot: &TestSlot, start: usize, len: usize) -> Blob {
        slot.refs.retain();
        let refs = refs_of(slot);
        // SAFETY: the test holds a count while creating the view; the bytes are never
        // written; the slot outlives the views.
        let blob = unsafe {
            Blob::from_slot(
                refs,
                NonNull::new(slot.bytes.as_ptr().add(start).cast_mut()).unwrap(),
                len,
            )
        };
        // SAFETY: gives back the count taken above.
        unsafe { SlotRefs::release(refs) };
        blob
    }

    #[test]
    fn pooled_views_count_their_slot_and_free_it_once_when_the_last_goes() {
        let slot = test_slot();
        let hello = view(&slot, 0, 5);
        assert_eq!(hello, b"hello");
        assert!(hello.is_pooled());
        assert_eq!(hello.as_ptr(), slot.bytes.as_ptr(), "a view, not a copy");
        let copies: Vec<Blob> = (0..3).map(|_| hello.clone()).collect();
        let ell = hello.slice(1..4);
        assert_eq!(ell, b"ell");
        assert_eq!(ell.as_ptr(), slot.bytes[1..].as_ptr());
        assert_eq!(slot.refs.count(), 5);
        drop(hello);
        drop(copies);
        assert_eq!(slot.freed.load(Ordering::Relaxed), 0, "one view is left");
        drop(ell);
        assert_eq!(slot.refs.count(), 0);
        assert_eq!(slot.freed.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn decoder_views_share_memory_and_count_their_slot() {
        let slot = test_slot();
        let all = view(&slot, 0, 16);
        let pooled = BlobRef::from(&all).view(7, 6);
        assert_eq!(pooled, b"pooled");
        assert_eq!(pooled.as_ptr(), slot.bytes[7..].as_ptr());
        assert_eq!(slot.refs.count(), 2);
        let heap = Bytes::from(b"hello, heap".to_vec());
        let from_bytes = BlobRef::from(&heap).view(7, 4);
        assert_eq!(from_bytes, b"heap");
        assert_eq!(from_bytes.as_ptr(), heap[7..].as_ptr());
        let shared = Blob::from(heap.clone());
        assert_eq!(BlobRef::from(&shared).view(0, 5).as_ptr(), heap.as_ptr());
        assert_eq!(
            BlobRef::from(&heap).as_slice(),
            BlobRef::from(&shared).as_slice()
        );
        drop(all);
        assert_eq!(
            slot.freed.load(Ordering::Relaxed),
            0,
            "the view keeps the slot"
        );
        drop(pooled);
        assert_eq!(slot.freed.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn moving_a_view_by_words_keeps_it_whole_and_counted_once() {
        let slot = test_slot();
        let pooled = view(&slot, 7, 6).moved_by_words();
        assert!(pooled.is_pooled());
        assert_eq!(pooled, b"pooled");
        assert_eq!(pooled.as_ptr(), slot.bytes[7..].as_ptr());
        assert_eq!(slot.refs.count(), 1);
        let heap = Bytes::from(b"hello, heap".to_vec());
        let shared = Blob::from(heap.slice(7..)).moved_by_words();
        assert_eq!(
            (shared.as_ptr(), &shared[..]),
            (heap[7..].as_ptr(), &b"heap"[..])
        );
        let static_ = Blob::from_static(b"static").moved_by_words();
        assert_eq!(static_, b"static");
        drop(pooled);
        assert_eq!(
            slot.freed.load(Ordering::Relaxed),
            1,
            "freed once, when dropped"
        );
        drop(shared);
        assert_eq!(Vec::from(Blob::from(heap).moved_by_words()), b"hello, heap");
    }

    #[test]
    fn an_empty_slice_holds_no_slot() {
        let slot = test_slot();
        let all = view(&slot, 0, 16);
        let empty = all.slice(3..3);
        assert!(!empty.is_pooled() && empty.is_empty());
        drop(all);
        assert_eq!(slot.freed.load(Ordering::Relaxed), 1);
        drop(empty);
    }

    #[test]
    fn views_dropped_on_other_threads_free_the_slot_once() {
        let slot = test_slot();
        let all = view(&slot, 0, 16);
        std::thread::scope(|scope| {
            for _ in 0..4 {
                let mine = all.clone();
                scope.spawn(move || {
                    for _ in 0..1000 {
                        let copy = mine.slice(7..13);
                        assert_eq!(copy, b"pooled");
                    }
                });
            }
        });
        drop(all);
        assert_eq!(slot.freed.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn into_bytes_keeps_a_pooled_slot_without_copying() {
        let slot = test_slot();
        let bytes = view(&slot, 7, 6).into_bytes();
        assert_eq!(bytes, &b"pooled"[..]);
        assert_eq!(bytes.as_ptr(), slot.bytes[7..].as_ptr());
        assert_eq!(slot.freed.load(Ordering::Relaxed), 0);
        drop(bytes);
        assert_eq!(slot.freed.load(Ordering::Relaxed), 1);
        let heap = Bytes::from(vec![1, 2, 3]);
        assert_eq!(
            Blob::from(heap.clone()).into_bytes().as_ptr(),
            heap.as_ptr()
        );
    }

    #[test]
    fn compares_hashes_and_prints_by_content() {
        let slot = test_slot();
        let pooled = view(&slot, 0, 5);
        let heap = Blob::from(b"hello".to_vec());
        assert_eq!(pooled, heap);
        assert!(Blob::from_static(b"a") < Blob::from_static(b"b"));
        let set: HashSet<Blob> = [pooled.clone(), heap].into_iter().collect();
        assert_eq!(set.len(), 1);
        assert!(set.contains(&b"hello"[..]));
        assert_eq!(
            format!("{:?}", Blob::from_static(b"a\"\x00")),
            "b\"a\\\"\\x00\""
        );
        assert_eq!(pooled.slice(..), b"hello");
        assert_eq!(pooled.slice(1..=2), b"el");
    }

    #[test]
    fn splitting_and_reading_as_a_buf_share_the_slot() {
        use bytes::Buf;
        let slot = test_slot();
        let mut all = view(&slot, 0, 16);
        let hello = all.split_to(5);
        assert_eq!(hello, "hello");
        assert_eq!(all, ", pooled!!!");
        let tail = all.split_off(8);
        assert_eq!(
            (all.as_ref(), tail.as_ref()),
            (&b", pooled"[..], &b"!!!"[..])
        );
        all.advance(2);
        assert_eq!(all.copy_to_bytes(3), &b"poo"[..]);
        all.truncate(2);
        assert_eq!(all, "le");
        let inner = hello.slice_ref(&hello[1..3]);
        assert_eq!(inner.as_ptr(), slot.bytes[1..].as_ptr());
        let copy = inner.clone().unpooled();
        assert!(!copy.is_pooled() && copy == inner);
        drop((hello, all, tail, inner));
        assert_eq!(slot.freed.load(Ordering::Relaxed), 1);
        assert_eq!(Vec::from(copy), b"el");
    }

    #[test]
    #[should_panic(expected = "not inside")]
    fn slice_ref_of_foreign_bytes_panics() {
        let _ = Blob::copy_from_slice(b"abc").slice_ref(b"abc");
    }

    #[test]
    #[should_panic(expected = "out of bounds")]
    fn slicing_past_the_end_panics_like_a_slice() {
        let _ = Blob::from_static(b"abc").slice(2..5);
    }

    #[test]
    fn a_blob_is_no_bigger_than_bytes() {
        assert_eq!(std::mem::size_of::<Blob>(), std::mem::size_of::<Bytes>());
    }
}
