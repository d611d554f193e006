//! [`ReadBuffer`]: a connection's read buffer, and [`read_more`], one read that appends to
//! it. monoio's owned-buffer reads fill a buffer from its start, so bytes already held (the
//! front of a frame that straddles two reads) are protected by reading into the spare
//! capacity only. The buffer starts small, so an idle connection costs little memory, and
//! doubles whenever a read fills it, up to [`ReadBuffer::MAX_CHUNK`].

use std::io;

use bytes::BytesMut;
use monoio::buf::IoBufMut;
use monoio::io::AsyncReadRent;

/// A connection's read buffer with its growth policy.
#[derive(Debug)]
pub(crate) struct ReadBuffer {
    /// The bytes read and not yet taken as frames.
    pub(crate) buf: BytesMut,
    /// The spare capacity the next read gets.
    chunk: usize,
}

impl Default for ReadBuffer {
    fn default() -> Self {
        Self {
            buf: BytesMut::with_capacity(Self::FIRST_CHUNK),
            chunk: Self::FIRST_CHUNK,
        }
    }
}

impl ReadBuffer {
    /// What a new (or idle) connection holds.
    pub(crate) const FIRST_CHUNK: usize = 1024;
    /// The most the chunk size grows to (a buffer holding an unfinished frame may offer
    /// more spare capacity than this, and a read then takes it all).
    pub(crate) const MAX_CHUNK: usize = 64 * 1024;

    /// Spare capacity.
    fn spare(&self) -> usize {
        self.buf.capacity() - self.buf.len()
    }

    /// Makes room for a read. Frames just taken from the buffer are usually still alive
    /// here (their calls have not run yet), so reclaiming would fail: a read goes into
    /// what is left while that is at least an eighth of a chunk, and only a buffer nearly
    /// full gets new memory.
    fn make_room(&mut self) {
        if self.spare() < self.chunk / 8 && !self.buf.try_reclaim(self.chunk / 2) {
            self.buf.reserve(self.chunk);
        }
    }

    /// After a read: the frames taken before it were handled while it waited, so the
    /// buffer's memory can usually be reused now, before new frames are taken from it.
    fn reclaim(&mut self) {
        if self.spare() < self.chunk / 2 {
            let _reused = self.buf.try_reclaim(self.chunk / 2);
        }
    }

    /// Reads once from `reader`, first making room for a read of the current chunk size.
    pub(crate) async fn read_from<R: AsyncReadRent>(
        &mut self,
        reader: &mut R,
    ) -> io::Result<usize> {
        self.make_room();
        let spare = self.spare();
        let (read, buf) = read_more(reader, std::mem::take(&mut self.buf)).await;
        self.buf = buf;
        if matches!(read, Ok(n) if n == spare && spare >= self.chunk / 2) {
            // A full chunk-sized read: the peer sends faster than this size takes it in.
            self.chunk = (self.chunk * 2).min(Self::MAX_CHUNK);
        }
        if matches!(read, Ok(n) if n > 0) {
            self.reclaim();
        }
        read
    }
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
                    let (written, _) = client.write_all(part.to_vec()).await;
                    written.unwrap();
                    let (read, returned) = read_more(&mut server, buf).await;
                    assert_eq!(read.unwrap(), part.len());
                    buf = returned;
                }
                assert_eq!(&buf[..], b"front back");
            })
            .unwrap();
        }
    }

    #[test]
    fn the_buffer_starts_small_and_grows_while_reads_fill_it() {
        crate::rt::block_on(crate::rt::Driver::Auto, async {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let (client, accepted) =
                monoio::join!(TcpStream::connect_addr(addr), listener.accept());
            let (mut client, (mut server, _)) = (client.unwrap(), accepted.unwrap());
            let mut reading = ReadBuffer::default();
            assert!(reading.buf.capacity() <= 2 * ReadBuffer::FIRST_CHUNK);
            let sent: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
            let (written, _) = client.write_all(sent.clone()).await;
            written.unwrap();
            let mut largest_read = 0;
            while reading.buf.len() < sent.len() {
                let n = reading.read_from(&mut server).await.unwrap();
                assert!(n > 0);
                largest_read = largest_read.max(n);
            }
            assert!(reading.buf[..] == sent[..], "every byte kept, in order");
            assert!(largest_read > ReadBuffer::FIRST_CHUNK, "{largest_read}");
        })
        .unwrap();
    }
}
