//! Checks that need control of the wire: sequence ids chosen by the test (zero, the
//! largest, the wrap to the smallest, negative) must come back unchanged with the method's
//! name, and a oneway call must get no reply. Each check uses a connection of its own,
//! written with blocking socket calls and framed by ringrpc's codec.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use ringrpc::codec::frame::{Dialect, Frame, FrameDecoder, Framing, HeaderInfo, encode_frame};
use ringrpc::codec::{
    Binary, BytesMut, BytesStr, Compact, Decode, DecodeLimits, Encode, EncodeError, MessageHeader,
    MessageType, Metadata, Protocol, ProtocolId, ProtocolReader,
};
use ringrpc::method::Reply;

use super::checks::Report;
use crate::thrift_test::thrift_test::thrift_test::{TestI32Args, TestOnewayArgs};

/// Appends one message (`name`, `kind`, `seq_id`, then `body`) framed in `dialect`, with a
/// TTHeader/THeader header carrying `metadata` where the framing has one.
pub fn encode_message<T: Encode>(
    dialect: Dialect,
    name: impl Into<BytesStr>,
    kind: MessageType,
    seq_id: i32,
    body: &T,
    metadata: Metadata,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    let message = MessageHeader {
        name: name.into(),
        kind,
        seq_id,
    };
    let header =
        matches!(dialect.framing, Framing::TTHeader | Framing::THeader).then(|| HeaderInfo {
            seq_id,
            metadata,
            ..HeaderInfo::default()
        });
    let framing = dialect.framing;
    match dialect.protocol {
        ProtocolId::Binary => {
            encode_frame::<Binary, _, _>(framing, header.as_ref(), &message, body, out)
        }
        ProtocolId::Compact => {
            encode_frame::<Compact, _, _>(framing, header.as_ref(), &message, body, out)
        }
    }
}

/// Where the raw checks connect, and what they speak.
#[derive(Debug, Clone, Copy)]
pub struct RawTarget {
    /// The server.
    pub address: SocketAddr,
    /// Framing and protocol.
    pub dialect: Dialect,
    /// Calls are named `ThriftTest:method` (multiplexed protocol).
    pub multiplexed: bool,
}

impl RawTarget {
    /// The wire name of ThriftTest's `method`.
    fn name(&self, method: &str) -> String {
        if self.multiplexed {
            format!("ThriftTest:{method}")
        } else {
            method.to_owned()
        }
    }
}

/// One blocking connection.
struct RawConnection {
    stream: TcpStream,
    target: RawTarget,
    decoder: FrameDecoder,
    input: BytesMut,
}

impl RawConnection {
    fn open(target: &RawTarget) -> Result<Self, String> {
        let stream = TcpStream::connect_timeout(&target.address, Duration::from_secs(5))
            .map_err(|e| format!("cannot connect to {}: {e}", target.address))?;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .and_then(|()| stream.set_write_timeout(Some(Duration::from_secs(10))))
            .and_then(|()| stream.set_nodelay(true))
            .map_err(|e| e.to_string())?;
        Ok(RawConnection {
            stream,
            target: *target,
            decoder: FrameDecoder::with_dialect(target.dialect, DecodeLimits::default()),
            input: BytesMut::new(),
        })
    }

    /// Sends one message of ThriftTest's `method` (named as the target names it) of `kind`
    /// with sequence id `seq_id`.
    fn send<A: Encode>(
        &mut self,
        method: &str,
        kind: MessageType,
        seq_id: i32,
        args: &A,
    ) -> Result<(), String> {
        let name = self.target.name(method);
        let mut out = BytesMut::new();
        encode_message(
            self.target.dialect,
            name.clone(),
            kind,
            seq_id,
            args,
            Metadata::new(),
            &mut out,
        )
        .map_err(|e| format!("cannot encode {name}: {e}"))?;
        self.stream
            .write_all(&out)
            .map_err(|e| format!("cannot send {name}: {e}"))
    }

    /// Reads the next reply frame.
    fn receive(&mut self) -> Result<Frame, String> {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match self.decoder.decode(&mut self.input) {
                Ok(Some(frame)) => return Ok(frame),
                Ok(None) => {}
                Err(e) => return Err(format!("the reply is not a valid frame: {e}")),
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err("the server closed the connection".into()),
                Ok(n) => self.input.extend_from_slice(&chunk[..n]),
                // The runtime's ring may interrupt a blocking read on this thread.
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("no reply: {e}")),
            }
        }
    }
}

/// A reply's message header and `i32` result.
fn read_i32_reply(frame: &Frame) -> Result<(MessageHeader, Option<HeaderInfo>, i32), String> {
    fn read<P: Protocol>(frame: &Frame) -> Result<(MessageHeader, i32), String> {
        let mut r = P::reader(&frame.payload, DecodeLimits::default());
        let message = r.read_message_begin().map_err(|e| e.to_string())?;
        if message.kind != MessageType::Reply {
            return Err(format!("expected a REPLY, got {:?}", message.kind));
        }
        let value = Reply::<i32>::decode(&mut r).map_err(|e| e.to_string())?.0;
        Ok((message, value))
    }
    let (message, value) = match frame.dialect.protocol {
        ProtocolId::Binary => read::<Binary>(frame)?,
        ProtocolId::Compact => read::<Compact>(frame)?,
    };
    Ok((message, frame.header.clone(), value))
}

/// Calls `testI32(seq_id)` with sequence id `seq_id` and checks the reply echoes both.
fn echoes_sequence_id(target: &RawTarget, seq_id: i32) -> Result<(), String> {
    let mut conn = RawConnection::open(target)?;
    conn.send(
        "testI32",
        MessageType::Call,
        seq_id,
        &TestI32Args { thing: seq_id },
    )?;
    let (message, header, value) = read_i32_reply(&conn.receive()?)?;
    if message.seq_id != seq_id {
        return Err(format!(
            "sent sequence id {seq_id}, the reply has {}",
            message.seq_id
        ));
    }
    if let Some(header) = header {
        if header.seq_id != seq_id {
            return Err(format!(
                "sent sequence id {seq_id}, the reply's header has {}",
                header.seq_id
            ));
        }
    }
    // Multiplexed or not, the reply is named after the bare method (Apache's servers).
    if message.name != "testI32" {
        return Err(format!(
            "called {}, the reply is named {:?}, not testI32",
            target.name("testI32"),
            message.name
        ));
    }
    if value != seq_id {
        return Err(format!("sent {seq_id}, got {value} back"));
    }
    Ok(())
}

/// A oneway call followed by a normal one: the first reply must be the normal call's.
fn oneway_gets_no_reply(target: &RawTarget) -> Result<(), String> {
    let mut conn = RawConnection::open(target)?;
    conn.send(
        "testOneway",
        MessageType::Oneway,
        100,
        &TestOnewayArgs {
            seconds_to_sleep: 0,
        },
    )?;
    conn.send(
        "testI32",
        MessageType::Call,
        101,
        &TestI32Args { thing: 101 },
    )?;
    // Two calls after the oneway: a late, wrong reply to the oneway (a server answering in
    // completion order) would show up before the second call's.
    conn.send(
        "testI32",
        MessageType::Call,
        102,
        &TestI32Args { thing: 102 },
    )?;
    for expected in [101, 102] {
        let (message, _, value) = read_i32_reply(&conn.receive()?)?;
        if (message.seq_id, value) != (expected, expected) {
            return Err(format!(
                "expected testI32's reply (seq id {expected}), got seq id {} with {value}",
                message.seq_id
            ));
        }
    }
    Ok(())
}

/// Runs the raw checks (before any other connection is open: some peer servers serve one
/// connection at a time).
pub async fn run_checks<W: Write>(target: &RawTarget, report: &mut Report<W>) {
    for (name, seq_id) in [
        ("seqid.zero", 0),
        ("seqid.max", i32::MAX),
        ("seqid.wrap", i32::MIN),
        ("seqid.negative", -1),
    ] {
        report
            .check(name, async { echoes_sequence_id(target, seq_id) })
            .await;
    }
    report
        .check("oneway.no_reply", async { oneway_gets_no_reply(target) })
        .await;
}
