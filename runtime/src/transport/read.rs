//! [`read_more`]: one read that appends to a buffer. monoio's owned-buffer reads fill a
//! buffer from its start, so bytes already held (the front of a frame that straddles two
//! reads) must be protected by reading into the spare capacity only.

use std::io;

use bytes::BytesMut;
use monoio::buf::IoBufMut;
use monoio::io::AsyncReadRent;

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
}
