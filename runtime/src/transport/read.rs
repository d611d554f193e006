//! [`ReadBuffer`]: a connection's read buffer, and [`read_more`], one read that appends to a
//! heap buffer.
//!
//! A read buffer reads into a slot leased from its core's [`BufPool`]: into the slot's free
//! tail, after the bytes it holds (the front of a frame that straddles two reads). Frames
//! are taken off the front as [`Blob`] views into the slot, so their strings are never
//! copied and taking them allocates nothing. When the tail runs short, the held bytes move
//! to the slot's front if no view of the slot is alive, and to a fresh slot (of a larger
//! class, if the frame needs it) otherwise; the old slot returns to the pool when its last
//! view is dropped. Once a frame's length prefix has arrived, the frame decoder says how
//! long it is ([`FrameSource::expect`]), and the bytes move once, straight to a slot that
//! holds the whole frame. A frame larger than the largest slot is read into the heap
//! (counted), which grows as its bytes arrive, whatever length the peer announced.
//!
//! The read size starts at one small slot, so an idle connection costs little, and doubles
//! whenever a read fills it, up to [`ReadBuffer::MAX_CHUNK`].

use std::io;
use std::rc::Rc;

use bytes::BytesMut;
use monoio::buf::IoBufMut;
use monoio::io::AsyncReadRent;
use ringrpc_codec::Blob;
use ringrpc_codec::frame::FrameSource;

use crate::bufpool::{BufPool, CLASSES, SlotLease};

/// The largest slot: frames known to be larger go straight to the heap.
const LARGEST_SLOT: usize = CLASSES[CLASSES.len() - 1].0;

/// A connection's read buffer with its growth policy.
pub(crate) struct ReadBuffer {
    storage: Storage,
    /// The spare room the next read gets.
    chunk: usize,
    /// Whether the slot's tail was lent to a read that did not come back (its future was
    /// dropped): the kernel may still write there, so the tail is never read into again.
    tail_lent: bool,
    /// Reads in a row that filled less than a quarter of the chunk (the chunk halves at 4).
    small_reads: u8,
    /// The length the unfinished frame at the front declares (0: unknown), so that it
    /// moves once, to a slot that holds all of it, not through every size on the way.
    expected: usize,
    pool: Rc<BufPool>,
}

enum Storage {
    /// Nothing held yet.
    Empty,
    /// Bytes `start..end` of a leased slot are received and not yet taken.
    Slot {
        lease: SlotLease,
        start: usize,
        end: usize,
    },
    /// A frame too large for a slot (or a core out of slots): an ordinary heap buffer.
    Heap(BytesMut),
}

impl Default for ReadBuffer {
    fn default() -> Self {
        ReadBuffer {
            storage: Storage::Empty,
            chunk: Self::FIRST_CHUNK,
            tail_lent: false,
            small_reads: 0,
            expected: 0,
            pool: BufPool::current(),
        }
    }
}

impl ReadBuffer {
    /// What a new (or idle) connection reads at once: the smallest slot.
    pub(crate) const FIRST_CHUNK: usize = crate::bufpool::CLASSES[0].0;
    /// The most one read takes. Larger reads save little (a read of 32 KiB carries dozens
    /// of calls) and cost latency: a server that read a whole batch of pipelined calls at
    /// once would answer none before decoding them all, and the two ends would fall into
    /// lockstep (measured: 1 KiB calls, 64 in flight on one connection, 64 KiB reads gave
    /// 40 % fewer calls per second than 32 KiB ones at the same CPU per call).
    pub(crate) const MAX_CHUNK: usize = 32 * 1024;

    /// Whether no received bytes are waiting to be taken.
    pub(crate) fn is_empty(&self) -> bool {
        self.received().is_empty()
    }

    /// Drops every received byte not yet taken.
    pub(crate) fn discard(&mut self) {
        self.expected = 0;
        match &mut self.storage {
            Storage::Empty => {}
            Storage::Slot { start, end, .. } => *start = *end,
            Storage::Heap(buf) => buf.clear(),
        }
    }

    /// Whether the bytes are in a pooled slot (tests).
    #[cfg(test)]
    fn is_pooled(&self) -> bool {
        matches!(self.storage, Storage::Slot { .. })
    }

    /// Makes room for a read of at least half a chunk: in the slot's tail if that is long
    /// enough, else at the slot's front if no view of it is alive, else in a fresh slot.
    /// Reads stay large (one read takes a whole batch of pipelined calls) and the held
    /// bytes that move are at most one unfinished frame.
    fn make_room(&mut self) {
        let want = self.chunk / 2;
        let pending = match &mut self.storage {
            Storage::Empty => 0,
            Storage::Slot { lease, start, end } => {
                let pending = *end - *start;
                // A slot far larger than the reads it now gets (a burst is over) is given
                // back once it holds nothing, for a small one.
                let oversized = pending == 0 && lease.size() >= 4 * self.chunk;
                // The frame being read can never fit in this slot: move now, once.
                let outgrown = self.expected > lease.size();
                let keep = !self.tail_lent && !oversized && !outgrown;
                if keep && lease.size() - *end >= want {
                    return;
                }
                if keep
                    && lease.is_unique()
                    && lease.size() >= self.chunk
                    && lease.size() - pending >= want
                {
                    // No view of the slot is alive and no read is writing to it: move the
                    // held bytes to the front and read after them.
                    // SAFETY: both ranges lie inside the slot; the lease is its only holder,
                    // so nothing else reads or writes it; `copy` allows overlap.
                    unsafe {
                        std::ptr::copy(
                            lease.ptr().as_ptr().add(*start),
                            lease.ptr().as_ptr(),
                            pending,
                        )
                    };
                    (*start, *end) = (0, pending);
                    return;
                }
                pending
            }
            // What is left after a large frame: back to the pool.
            Storage::Heap(buf) if buf.len() < self.chunk && self.expected <= LARGEST_SLOT => {
                buf.len()
            }
            Storage::Heap(buf) => {
                let spare = buf.capacity() - buf.len();
                if spare < self.chunk / 8 && !buf.try_reclaim(self.chunk / 2) {
                    buf.reserve(self.chunk);
                }
                return;
            }
        };
        self.move_to_new_slot(self.chunk.max(pending + want));
    }

    /// Moves the held bytes to a new slot of at least `room` bytes (or of the expected
    /// frame's length, if larger), or to the heap when no slot that large is free. A heap
    /// buffer gets `room`, not the length a peer announced: it grows as bytes arrive.
    fn move_to_new_slot(&mut self, room: usize) {
        let held = self.received();
        let storage = match self.pool.lease(room.max(self.expected)) {
            Some(lease) => {
                // SAFETY: the new slot is ours alone (no view, no read yet) and at least
                // `room` ≥ `held.len()` bytes long; `held` lies in another slot or the heap.
                unsafe {
                    lease
                        .ptr()
                        .as_ptr()
                        .copy_from_nonoverlapping(held.as_ptr(), held.len())
                };
                Storage::Slot {
                    lease,
                    start: 0,
                    end: held.len(),
                }
            }
            None => {
                let mut buf = BytesMut::with_capacity(room);
                buf.extend_from_slice(held);
                Storage::Heap(buf)
            }
        };
        self.storage = storage;
        self.tail_lent = false;
    }

    /// Reads once from `reader`, first making room for a read of the current chunk size.
    ///
    /// If the returned future is dropped before it completes, the read may still take
    /// bytes from the socket, which are then lost: the connection can only be closed (its
    /// buffer discarded or lingered on), as after any cancelled read.
    pub(crate) async fn read_from<R: AsyncReadRent>(
        &mut self,
        reader: &mut R,
    ) -> io::Result<usize> {
        self.make_room();
        let (read, spare) = match &mut self.storage {
            Storage::Slot { lease, end, .. } => {
                // At most a chunk: a server that reads less at once starts answering the
                // first calls of a pipelined batch sooner.
                let spare = (lease.size() - *end).min(self.chunk);
                let tail = SlotTail {
                    lease: lease.share(),
                    offset: *end,
                    len: spare,
                };
                self.tail_lent = true;
                let (read, _tail) = reader.read(tail).await;
                self.tail_lent = false;
                if let Ok(n) = read {
                    *end += n.min(spare);
                }
                (read, spare)
            }
            Storage::Heap(buf) => {
                let spare = buf.capacity() - buf.len();
                let (read, returned) = read_more(reader, std::mem::take(buf)).await;
                *buf = returned;
                if matches!(read, Ok(n) if n > 0) && buf.capacity() - buf.len() < self.chunk / 2 {
                    let _reused = buf.try_reclaim(self.chunk / 2);
                }
                (read, spare)
            }
            Storage::Empty => unreachable!("make_room always leaves a slot or a heap buffer"),
        };
        match read {
            Ok(n) if n == spare && spare >= self.chunk / 2 => {
                // A full chunk-sized read: the peer sends faster than this size takes it in.
                self.chunk = (self.chunk * 2).min(Self::MAX_CHUNK);
                self.small_reads = 0;
            }
            Ok(n) if n > 0 && n < self.chunk / 4 => {
                // After a burst, a quiet connection goes back to small reads (and, once it
                // holds nothing, to a small slot: see `make_room`).
                self.small_reads += 1;
                if self.small_reads == 4 {
                    self.chunk = (self.chunk / 2).max(Self::FIRST_CHUNK);
                    self.small_reads = 0;
                }
            }
            Ok(_) => self.small_reads = 0,
            Err(_) => {}
        }
        read
    }
}

impl FrameSource for ReadBuffer {
    fn received(&self) -> &[u8] {
        match &self.storage {
            Storage::Empty => &[],
            // SAFETY: `start..end` of the slot was written by completed reads and is not
            // written again while it is held (reads go after `end`; compaction needs
            // `&mut self`).
            Storage::Slot { lease, start, end } => unsafe {
                std::slice::from_raw_parts(lease.ptr().as_ptr().add(*start), end - start)
            },
            Storage::Heap(buf) => buf,
        }
    }

    fn take_front(&mut self, len: usize) -> Blob {
        match &mut self.storage {
            Storage::Empty => {
                assert_eq!(len, 0, "took bytes from an empty read buffer");
                Blob::new()
            }
            Storage::Slot { .. } if len == 0 => Blob::new(),
            Storage::Slot { lease, start, end } => {
                assert!(len <= *end - *start, "took more bytes than were received");
                self.expected = 0;
                // SAFETY: the lease holds a count; `start..start + len` was received and is
                // never written while a view of it lives: reads go after `end`, and the
                // front is rewritten only when the lease is the slot's only holder.
                let blob = unsafe { Blob::from_slot(lease.refs(), lease.ptr().add(*start), len) };
                *start += len;
                blob
            }
            Storage::Heap(buf) => {
                self.expected = 0;
                buf.split_to(len).freeze().into()
            }
        }
    }

    fn expect(&mut self, total: usize) {
        self.expected = total;
    }
}

/// The free tail of a slot, lent to one read. It holds a count of the slot, so the slot
/// stays out of the pool until the read is over, even if the connection is dropped first.
struct SlotTail {
    lease: SlotLease,
    offset: usize,
    /// How much of the tail the read may fill.
    len: usize,
}

// SAFETY: the pointer is stable (mmap memory that lives while the lease does), it and the
// length describe the slot's tail, which no view covers and nothing else writes while the
// tail is lent (`ReadBuffer::tail_lent`). Bytes the kernel writes are accounted for from
// the read's result, so `set_init` has nothing to record.
unsafe impl IoBufMut for SlotTail {
    fn write_ptr(&mut self) -> *mut u8 {
        // SAFETY: `offset` ≤ the slot's size, so the pointer stays in (or one past) the slot.
        unsafe { self.lease.ptr().as_ptr().add(self.offset) }
    }

    fn bytes_total(&mut self) -> usize {
        self.len
    }

    unsafe fn set_init(&mut self, _pos: usize) {}
}

/// Reads once into `buf`'s spare capacity, after the bytes it holds; returns the count
/// read (0 at end of stream) and the buffer.
pub(crate) async fn read_more<R: AsyncReadRent>(
    reader: &mut R,
    buf: BytesMut,
) -> (io::Result<usize>, BytesMut) {
    let held = buf.len();
    let capacity = buf.capacity();
    let (read, spare) = reader.read(buf.slice_mut(held..capacity)).await;
    (read, spare.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use monoio::io::AsyncWriteRentExt;
    use monoio::net::{TcpListener, TcpStream};
    use ringrpc_codec::frame::FrameSource;

    use crate::transport::tests::pair;

    #[test]
    fn a_second_read_keeps_the_bytes_of_the_first() {
        for driver in [crate::rt::Driver::IoUring, crate::rt::Driver::Epoll] {
            crate::rt::block_on(driver, async {
                let listener = TcpListener::bind("127.0.0.1:0").unwrap();
                let addr = listener.local_addr().unwrap();
                let (client, accepted) =
                    monoio::join!(TcpStream::connect_addr(addr), listener.accept());
                let (mut client, (mut server, _)) = (client.unwrap(), accepted.unwrap());
                let mut buf = BytesMut::with_capacity(64);
                for part in [&b"front "[..], b"back"] {
                    send(&mut client, part.to_vec()).await;
                    let (read, returned) = read_more(&mut server, buf).await;
                    assert_eq!(read.unwrap(), part.len());
                    buf = returned;
                }
                assert_eq!(&buf[..], b"front back");
            })
            .unwrap();
        }
    }

    /// Writes all of `bytes` to `to`.
    async fn send(to: &mut TcpStream, bytes: impl Into<Vec<u8>>) {
        let (written, _) = to.write_all(bytes.into()).await;
        written.unwrap();
    }

    /// Reads until at least `len` bytes are held.
    async fn read_at_least(reading: &mut ReadBuffer, from: &mut TcpStream, len: usize) {
        while reading.received().len() < len {
            assert!(reading.read_from(from).await.unwrap() > 0);
        }
    }

    /// Runs `test` on a connected pair of streams (the one written to first, the one read
    /// from second) and a fresh read buffer.
    fn on_a_connection(test: impl AsyncFnOnce(TcpStream, TcpStream, ReadBuffer)) {
        crate::rt::block_on(crate::rt::Driver::Auto, async {
            let (client, server) = pair().await;
            test(client, server, ReadBuffer::default()).await;
        })
        .unwrap();
    }

    /// The slot the buffer reads into.
    fn slot(reading: &ReadBuffer) -> &SlotLease {
        match &reading.storage {
            Storage::Slot { lease, .. } => lease,
            _ => panic!("not reading into a slot"),
        }
    }

    /// The address of the slot the buffer reads into.
    fn slot_address(reading: &ReadBuffer) -> usize {
        slot(reading).ptr().as_ptr() as usize
    }

    #[test]
    fn the_buffer_starts_small_and_grows_while_reads_fill_it() {
        on_a_connection(async |mut client, mut server, mut reading| {
            let sent: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
            send(&mut client, sent.clone()).await;
            let mut largest_read = 0;
            while reading.received().len() < sent.len() {
                let n = reading.read_from(&mut server).await.unwrap();
                assert!(n > 0);
                largest_read = largest_read.max(n);
            }
            assert!(reading.received() == &sent[..], "every byte kept, in order");
            assert!(largest_read > ReadBuffer::FIRST_CHUNK, "{largest_read}");
            assert!(!reading.is_pooled(), "300 kB is more than the largest slot");
        });
    }

    #[test]
    fn frames_are_views_into_one_reused_slot_while_they_are_dropped_in_time() {
        on_a_connection(async |mut client, mut server, mut reading| {
            let mut first_slot = None;
            for i in 0..2_000u32 {
                let frame = format!("frame {i:>6} of ping-pong;").into_bytes();
                send(&mut client, frame.clone()).await;
                read_at_least(&mut reading, &mut server, frame.len()).await;
                let slot = slot_address(&reading);
                let taken = reading.take_front(frame.len());
                assert_eq!(taken, frame);
                assert!(taken.is_pooled());
                let offset = taken.as_ptr() as usize - slot;
                assert!(
                    offset < ReadBuffer::FIRST_CHUNK,
                    "inside the slot: {offset}"
                );
                assert_eq!(
                    *first_slot.get_or_insert(slot),
                    slot,
                    "the same slot, reused"
                );
            }
        });
    }

    #[test]
    fn views_kept_alive_move_the_buffer_to_a_fresh_slot_and_keep_their_bytes() {
        on_a_connection(async |mut client, mut server, mut reading| {
            let mut kept = Vec::new();
            let mut slots = std::collections::BTreeSet::new();
            for i in 0..600u32 {
                // 20 bytes each, plus the first half of the next frame.
                let frame = format!("kept frame #{i:>7};").into_bytes();
                send(&mut client, frame.clone()).await;
                read_at_least(&mut reading, &mut server, frame.len()).await;
                slots.insert(slot_address(&reading));
                kept.push((reading.take_front(frame.len()), frame));
            }
            assert!(
                slots.len() >= 3,
                "12 kB of live views span several small slots"
            );
            for (view, frame) in &kept {
                assert_eq!(view, frame);
            }
        });
    }

    #[test]
    fn a_frame_split_across_slots_arrives_whole() {
        on_a_connection(async |mut client, mut server, mut reading| {
            // A view keeps the first slot, so the 10 kB frame's front must move.
            send(&mut client, vec![1u8; 4000]).await;
            read_at_least(&mut reading, &mut server, 4000).await;
            let front = reading.take_front(3990);
            let big: Vec<u8> = (0..10_000u32).map(|i| (i % 253) as u8).collect();
            send(&mut client, big.clone()).await;
            read_at_least(&mut reading, &mut server, 10 + big.len()).await;
            assert_eq!(reading.take_front(10), vec![1u8; 10]);
            let whole = reading.take_front(big.len());
            assert_eq!(whole, big);
            assert!(whole.is_pooled());
            assert!(front.iter().all(|&b| b == 1));
        });
    }

    #[test]
    fn a_frame_whose_length_is_known_moves_once_to_a_slot_that_holds_it() {
        on_a_connection(async |mut client, mut server, mut reading| {
            let frame: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
            send(&mut client, frame.clone()).await;
            read_at_least(&mut reading, &mut server, 4).await;
            assert_eq!(slot(&reading).size(), ReadBuffer::FIRST_CHUNK);
            // What the frame decoder does once the length prefix is in.
            reading.expect(frame.len());
            let mut sizes = Vec::new();
            while reading.received().len() < frame.len() {
                reading.read_from(&mut server).await.unwrap();
                sizes.push(slot(&reading).size());
            }
            // Straight to the 256 KiB class: not through 4, 16 and 64 KiB on the way.
            assert!(sizes.iter().all(|&s| s == LARGEST_SLOT), "{sizes:?}");
            let whole = reading.take_front(frame.len());
            assert_eq!(whole, frame);
            assert!(whole.is_pooled());
            assert_eq!(reading.expected, 0);
        });
    }

    #[test]
    fn a_frame_larger_than_any_slot_goes_to_the_heap_which_grows_as_it_arrives() {
        on_a_connection(async |mut client, mut server, mut reading| {
            send(&mut client, vec![5u8; 64]).await;
            read_at_least(&mut reading, &mut server, 64).await;
            // A peer announces 64 MiB and sends 64 bytes: no 64 MiB buffer for it.
            reading.expect(64 << 20);
            send(&mut client, vec![6u8; 64]).await;
            read_at_least(&mut reading, &mut server, 128).await;
            match &reading.storage {
                Storage::Heap(buf) => assert!(buf.capacity() < 1 << 20, "{}", buf.capacity()),
                _ => panic!("a frame larger than any slot is read into the heap"),
            }
            assert_eq!(&reading.received()[..64], &[5u8; 64][..]);
            assert_eq!(&reading.received()[64..], &[6u8; 64][..]);
        });
    }

    #[test]
    fn after_a_burst_a_quiet_connection_goes_back_to_a_small_slot() {
        on_a_connection(async |mut client, mut server, mut reading| {
            // A burst: 1 MiB, taken as it arrives.
            send(&mut client, vec![9u8; 1 << 20]).await;
            let mut taken = 0;
            while taken < 1 << 20 {
                reading.read_from(&mut server).await.unwrap();
                let n = reading.received().len();
                taken += reading.take_front(n).len();
            }
            assert!(
                reading.chunk > 4 * ReadBuffer::FIRST_CHUNK,
                "{}",
                reading.chunk
            );
            // Then small calls, one at a time.
            for _ in 0..40 {
                send(&mut client, b"small".to_vec()).await;
                read_at_least(&mut reading, &mut server, 5).await;
                assert_eq!(reading.take_front(5), b"small");
            }
            assert_eq!(reading.chunk, ReadBuffer::FIRST_CHUNK);
            let size = match &reading.storage {
                Storage::Slot { lease, .. } => lease.size(),
                _ => panic!("back in a slot"),
            };
            assert!(size <= 4 * ReadBuffer::FIRST_CHUNK, "{size}");
        });
    }

    #[test]
    fn a_cancelled_read_never_lends_the_same_tail_twice() {
        on_a_connection(async |mut client, mut server, mut reading| {
            send(&mut client, b"held".to_vec()).await;
            read_at_least(&mut reading, &mut server, 4).await;
            let before = slot_address(&reading);
            let cancelled = monoio::time::timeout(
                std::time::Duration::from_millis(20),
                reading.read_from(&mut server),
            )
            .await;
            assert!(cancelled.is_err(), "nothing was sent");
            send(&mut client, b" then more".to_vec()).await;
            // The cancelled read may take these bytes (as with any cancelled read) or not;
            // either way the buffer reads into a fresh slot and keeps what it held.
            let _ = monoio::time::timeout(
                std::time::Duration::from_millis(200),
                reading.read_from(&mut server),
            )
            .await;
            assert_ne!(slot_address(&reading), before);
            assert!(reading.received().starts_with(b"held"));
        });
    }
}
