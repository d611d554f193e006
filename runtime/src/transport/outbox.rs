//! [`Outbox`]: the bytes a connection has queued for its peer, and [`write_loop`], the task
//! that sends them. Everything queued while a write is in flight goes out in the next
//! single write (pipelined replies or calls are coalesced); the two buffers swap, so the
//! steady state allocates nothing.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use bytes::BytesMut;
use monoio::io::{AsyncWriteRent, AsyncWriteRentExt};

use crate::metrics::ConnectionCells;
use crate::rt::LocalNotify;

/// Bytes waiting to be written to one connection.
#[derive(Debug)]
pub(crate) struct Outbox {
    queued: RefCell<BytesMut>,
    wake: LocalNotify,
    closing: Cell<bool>,
    failed: Cell<bool>,
    /// The connection's figures (bytes written count there).
    cells: Arc<ConnectionCells>,
    /// Bytes of the write in flight.
    writing: Cell<usize>,
    /// Notified after each write completes.
    drained: LocalNotify,
}

impl Outbox {
    /// An empty outbox of the connection `cells` counts.
    pub(crate) fn new(cells: Arc<ConnectionCells>) -> Outbox {
        Outbox {
            queued: RefCell::default(),
            wake: LocalNotify::default(),
            closing: Cell::new(false),
            failed: Cell::new(false),
            cells,
            writing: Cell::new(0),
            drained: LocalNotify::default(),
        }
    }

    /// The connection's figures.
    pub(crate) fn cells(&self) -> &ConnectionCells {
        &self.cells
    }

    /// Appends with `fill` (which writes whole frames) and wakes the writer.
    pub(crate) fn push<T>(&self, fill: impl FnOnce(&mut BytesMut) -> T) -> T {
        let out = fill(&mut self.queued.borrow_mut());
        self.wake.notify();
        out
    }

    /// Asks the writer to flush what is queued and then close the write side.
    pub(crate) fn close(&self) {
        self.closing.set(true);
        self.wake.notify();
    }

    /// Bytes queued or being written: what the peer has yet to take.
    pub(crate) fn pending(&self) -> usize {
        self.queued.borrow().len() + self.writing.get()
    }

    /// Waits until the next write completes (or a write already completed since the last
    /// wait).
    pub(crate) async fn written_some(&self) {
        self.drained.notified().await
    }

    /// Whether a write failed (the peer is gone).
    pub(crate) fn failed(&self) -> bool {
        self.failed.get()
    }
}

/// Writes what `outbox` queues until it is closed (and drained) or a write fails, then shuts
/// the write side down.
pub(crate) async fn write_loop<W: AsyncWriteRent>(mut writer: W, outbox: &Outbox) {
    // Allocated on first use: a connection that never writes costs nothing here.
    let mut spare = BytesMut::new();
    loop {
        let chunk = {
            let mut queued = outbox.queued.borrow_mut();
            if queued.is_empty() {
                None
            } else {
                spare.clear();
                Some(std::mem::replace(&mut *queued, std::mem::take(&mut spare)))
            }
        };
        match chunk {
            Some(chunk) => {
                outbox.writing.set(chunk.len());
                let (result, chunk) = writer.write_all(chunk).await;
                outbox.writing.set(0);
                outbox.drained.notify();
                if let Err(e) = result {
                    tracing::debug!("write failed, closing the connection: {e}");
                    outbox.failed.set(true);
                    break;
                }
                outbox.cells.bytes_sent.add(chunk.len() as u64);
                spare = chunk;
            }
            None if outbox.closing.get() => break,
            None => outbox.wake.notified().await,
        }
    }
    let _ = writer.shutdown().await;
}
