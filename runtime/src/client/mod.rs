//! The client: `Client::builder("tcp://127.0.0.1:9090").connect().await?` opens a
//! multiplexed connection on the current worker and implements
//! [`Channel`](crate::Channel), so a generated `Client::new(channel)` calls through it.
//! Clients live on one core (`!Send`); make one per worker. Each call waits at most its
//! method's `@control_plane` `timeout_ms`, else the builder's timeout.

mod conn;

use std::io;
use std::rc::Rc;
use std::time::Duration;

use ringrpc_codec::frame::{Dialect, Frame, Framing};
use ringrpc_codec::{
    ApplicationException, Binary, Compact, Decode, DecodeLimits, Encode, MessageType, Protocol,
    ProtocolId, ProtocolReader,
};

use crate::call::{CallError, Channel, MethodInfo, OnewayResult, PolicyConst};
use crate::transport::{Address, AddressError};
use conn::Connection;

/// Builds a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    address: Result<Address, AddressError>,
    dialect: Dialect,
    timeout: Duration,
    connect_timeout: Duration,
    limits: DecodeLimits,
}

/// A connection to one server, shared by clones on the same core.
#[derive(Debug, Clone)]
pub struct Client {
    conn: Rc<Connection>,
    timeout: Duration,
}

impl Client {
    /// A client of `address` (`tcp://host:port`, `unix:///path` or `host:port`) speaking
    /// TTHeader with the Binary protocol (Kitex's default), with a 1 s call timeout.
    pub fn builder(address: &str) -> ClientBuilder {
        ClientBuilder {
            address: address.parse(),
            dialect: Dialect::new(Framing::TTHeader, ProtocolId::Binary),
            timeout: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(1),
            limits: DecodeLimits::default(),
        }
    }

    /// Calls waiting for their replies.
    pub fn in_flight(&self) -> usize {
        self.conn.in_flight()
    }
}

impl ClientBuilder {
    /// The framing (default TTHeader; `Framed` for Apache/volo peers).
    pub fn framing(mut self, framing: Framing) -> Self {
        self.dialect.framing = framing;
        self
    }

    /// The payload protocol (default Binary).
    pub fn protocol(mut self, protocol: ProtocolId) -> Self {
        self.dialect.protocol = protocol;
        self
    }

    /// The timeout of calls whose method sets no `timeout_ms` (default 1 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long connecting may take (default 1 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Connects on the current worker.
    pub async fn connect(self) -> io::Result<Client> {
        let address = self
            .address
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let connect = async {
            Ok::<_, io::Error>(match &address {
                Address::Tcp(addr) => {
                    let stream = monoio::net::TcpStream::connect_addr(*addr).await?;
                    stream.set_nodelay(true)?;
                    Connection::start(stream, self.dialect, self.limits)
                }
                Address::Unix(path) => {
                    let stream = monoio::net::UnixStream::connect(path).await?;
                    Connection::start(stream, self.dialect, self.limits)
                }
            })
        };
        let conn = monoio::time::timeout(self.connect_timeout, connect)
            .await
            .map_err(|_| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "connecting to {address} took over {:?}",
                        self.connect_timeout
                    ),
                )
            })?
            .map_err(|e| io::Error::new(e.kind(), format!("cannot connect to {address}: {e}")))?;
        Ok(Client {
            conn,
            timeout: self.timeout,
        })
    }
}

impl Channel for Client {
    async fn call<A, R>(&self, method: &'static MethodInfo, args: &A) -> Result<R, CallError>
    where
        A: Encode,
        R: Decode + OnewayResult,
    {
        let Some((slot, seq_id)) = self.conn.send(method.name, method.oneway, args)? else {
            return R::oneway().ok_or_else(|| {
                CallError::Transport("a oneway call has no result to decode".into())
            });
        };
        let timeout = match method.policy("timeout_ms") {
            Some(PolicyConst::Int(ms)) => Duration::from_millis(ms),
            _ => self.timeout,
        };
        let frame = monoio::time::timeout(timeout, self.conn.reply(slot, seq_id))
            .await
            .map_err(|_| CallError::Timeout(timeout))??;
        match frame.dialect.protocol {
            ProtocolId::Binary => decode_reply::<Binary, R>(&frame),
            ProtocolId::Compact => decode_reply::<Compact, R>(&frame),
        }
    }
}

fn decode_reply<P: Protocol, R: Decode>(frame: &Frame) -> Result<R, CallError> {
    let mut r = P::reader(&frame.payload, DecodeLimits::default());
    let header = r.read_message_begin().map_err(CallError::Decode)?;
    match header.kind {
        MessageType::Exception => Err(CallError::Application(
            ApplicationException::decode(&mut r).map_err(CallError::Decode)?,
        )),
        _ => R::decode(&mut r).map_err(CallError::Decode),
    }
}
