//! Encode/decode entry points of the three implementations, shaped alike so the benchmark
//! and the cross-check tests drive each the same way: size first, one buffer of that
//! capacity, encode; decode from an already-received buffer.

use bytes::{Bytes, BytesMut};
use pilota::thrift::binary::TBinaryProtocol as PBinary;
use pilota::thrift::compact::{
    TCompactInputProtocol as PCompactIn, TCompactOutputProtocol as PCompactOut,
};
use ringrpc_codec::{Decode, Encode, Protocol};
use thrift::protocol::{
    TBinaryInputProtocol, TBinaryOutputProtocol, TCompactInputProtocol, TCompactOutputProtocol,
    TSerializable,
};

/// The wire protocol to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// Thrift Binary (strict).
    Binary,
    /// Thrift Compact.
    Compact,
}

/// ringrpc: exact size, then encode into one buffer.
pub fn ringrpc_encode<P: Protocol, T: Encode>(v: &T) -> Bytes {
    ringrpc_codec::to_bytes::<P, _>(v).expect("encodable")
}

/// ringrpc: decode from a received buffer (strings are views into it).
pub fn ringrpc_decode<P: Protocol, T: Decode>(b: &Bytes) -> T {
    ringrpc_codec::from_bytes::<P, T>(b).expect("decodable")
}

/// pilota: `size()`, then encode into one `BytesMut` of exactly that capacity.
pub fn pilota_encode<T: pilota::thrift::Message>(v: &T, wire: Wire) -> Bytes {
    match wire {
        Wire::Binary => {
            let size = v.size(&mut PBinary::new(&mut BytesMut::new(), true));
            let mut buf = BytesMut::with_capacity(size);
            v.encode(&mut PBinary::new(&mut buf, true))
                .expect("encodable");
            buf.freeze()
        }
        Wire::Compact => {
            let size = v.size(&mut PCompactOut::new(&mut BytesMut::new(), true));
            let mut buf = BytesMut::with_capacity(size);
            v.encode(&mut PCompactOut::new(&mut buf, true))
                .expect("encodable");
            buf.freeze()
        }
    }
}

/// pilota: decode from a received buffer (zero-copy strings, as pilota does them).
pub fn pilota_decode<T: pilota::thrift::Message>(b: &Bytes, wire: Wire) -> T {
    let mut b = b.clone();
    match wire {
        Wire::Binary => T::decode(&mut PBinary::new(&mut b, true)).expect("decodable"),
        Wire::Compact => T::decode(&mut PCompactIn::new(&mut b)).expect("decodable"),
    }
}

/// Apache `thrift` crate: no size computation exists, so it gets a `Vec` of the size the
/// others computed (`capacity`), then writes through its (dynamically dispatched) protocol.
pub fn apache_encode<T: TSerializable>(v: &T, wire: Wire, capacity: usize) -> Vec<u8> {
    let mut buf = Vec::with_capacity(capacity);
    match wire {
        Wire::Binary => v
            .write_to_out_protocol(&mut TBinaryOutputProtocol::new(&mut buf, true))
            .expect("encodable"),
        Wire::Compact => v
            .write_to_out_protocol(&mut TCompactOutputProtocol::new(&mut buf))
            .expect("encodable"),
    }
    buf
}

/// Apache `thrift` crate: decode from a byte slice (strings are copied into `String`s).
pub fn apache_decode<T: TSerializable>(mut b: &[u8], wire: Wire) -> T {
    match wire {
        Wire::Binary => T::read_from_in_protocol(&mut TBinaryInputProtocol::new(&mut b, true))
            .expect("decodable"),
        Wire::Compact => {
            T::read_from_in_protocol(&mut TCompactInputProtocol::new(&mut b)).expect("decodable")
        }
    }
}

/// ringrpc, steady state: exact size (as a pooled slot needs), then encode into a reused
/// buffer. Returns the encoded length.
pub fn ringrpc_encode_into<P: Protocol, T: Encode>(v: &T, buf: &mut BytesMut) -> usize {
    buf.clear();
    buf.reserve(v.encoded_len::<P>());
    let mut w = P::writer(&mut *buf);
    v.encode(&mut w).expect("encodable");
    drop(w);
    buf.len()
}

/// pilota, steady state: `size()`, then encode into a reused buffer.
pub fn pilota_encode_into<T: pilota::thrift::Message>(
    v: &T,
    wire: Wire,
    buf: &mut BytesMut,
) -> usize {
    buf.clear();
    match wire {
        Wire::Binary => {
            let size = v.size(&mut PBinary::new(&mut *buf, true));
            buf.reserve(size);
            v.encode(&mut PBinary::new(&mut *buf, true))
                .expect("encodable");
        }
        Wire::Compact => {
            let size = v.size(&mut PCompactOut::new(&mut *buf, true));
            buf.reserve(size);
            v.encode(&mut PCompactOut::new(&mut *buf, true))
                .expect("encodable");
        }
    }
    buf.len()
}

/// Apache `thrift` crate, steady state: encode into a reused `Vec` (it has no size
/// computation).
pub fn apache_encode_into<T: TSerializable>(v: &T, wire: Wire, buf: &mut Vec<u8>) -> usize {
    buf.clear();
    match wire {
        Wire::Binary => v
            .write_to_out_protocol(&mut TBinaryOutputProtocol::new(&mut *buf, true))
            .expect("encodable"),
        Wire::Compact => v
            .write_to_out_protocol(&mut TCompactOutputProtocol::new(&mut *buf))
            .expect("encodable"),
    }
    buf.len()
}
