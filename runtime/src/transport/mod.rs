//! Transports: TCP and Unix domain sockets, chosen by address (`tcp://host:port`,
//! `unix:///path`, or a plain `host:port`). Listeners are bound on the caller's thread
//! (every worker's TCP listener on the same port with `SO_REUSEPORT`) and handed to the
//! workers, which accept on their own core.

use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use socket2::{Domain, Socket, Type};

mod outbox;
mod read;

pub(crate) use outbox::{Outbox, Writer, split_socket, split_stream, write_loop};
pub(crate) use read::ReadBuffer;

/// Where a server listens or a client connects.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Address {
    /// A TCP address.
    Tcp(SocketAddr),
    /// A Unix domain socket path.
    Unix(PathBuf),
}

/// An address that does not parse or resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressError {
    /// The text given.
    pub input: String,
    /// What is wrong with it.
    pub reason: String,
}

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "bad address `{}`: {} (expected `tcp://host:port`, `unix:///path` or `host:port`)",
            self.input, self.reason
        )
    }
}

impl std::error::Error for AddressError {}

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, AddressError> {
        let error = |reason: String| AddressError {
            input: s.to_string(),
            reason,
        };
        if let Some(path) = s
            .strip_prefix("unix://")
            .or_else(|| s.strip_prefix("unix:"))
        {
            if path.is_empty() {
                return Err(error("the socket path is empty".into()));
            }
            return Ok(Address::Unix(PathBuf::from(path)));
        }
        let host_port = s.strip_prefix("tcp://").unwrap_or(s);
        if let Some((scheme, _)) = host_port.split_once("://") {
            return Err(error(format!("unknown scheme `{scheme}`")));
        }
        let mut addrs = host_port
            .to_socket_addrs()
            .map_err(|e| error(e.to_string()))?;
        addrs
            .next()
            .map(Address::Tcp)
            .ok_or_else(|| error("the host name resolves to no address".into()))
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Tcp(a) => write!(f, "tcp://{a}"),
            Address::Unix(p) => write!(f, "unix://{}", p.display()),
        }
    }
}

impl From<SocketAddr> for Address {
    fn from(a: SocketAddr) -> Self {
        Address::Tcp(a)
    }
}

/// A bound listener not yet attached to a runtime.
#[derive(Debug)]
pub(crate) enum StdListener {
    Tcp(std::net::TcpListener),
    Unix(std::os::unix::net::UnixListener),
}

/// Binds `count` listeners for `address`: TCP ones all on the same port with
/// `SO_REUSEPORT` (the kernel spreads connections over them; port 0 picks one free port
/// for all), a Unix socket once and shared. Returns them with the address actually bound.
pub(crate) fn bind(address: &Address, count: usize) -> io::Result<(Vec<StdListener>, Address)> {
    match address {
        Address::Tcp(addr) => {
            let mut bound = *addr;
            let mut listeners = Vec::with_capacity(count);
            for _ in 0..count.max(1) {
                let socket = Socket::new(Domain::for_address(bound), Type::STREAM, None)?;
                socket.set_reuse_address(true)?;
                socket.set_reuse_port(true)?;
                socket.set_nodelay(true)?;
                // monoio's epoll driver needs non-blocking sockets (io_uring does not mind).
                socket.set_nonblocking(true)?;
                socket.bind(&bound.into())?;
                socket.listen(1024)?;
                let listener: std::net::TcpListener = socket.into();
                bound = listener.local_addr()?;
                listeners.push(StdListener::Tcp(listener));
            }
            Ok((listeners, Address::Tcp(bound)))
        }
        Address::Unix(path) => {
            remove_stale_socket(path)?;
            let listener = std::os::unix::net::UnixListener::bind(path)?;
            listener.set_nonblocking(true)?;
            let mut listeners = Vec::with_capacity(count);
            for _ in 1..count.max(1) {
                listeners.push(StdListener::Unix(listener.try_clone()?));
            }
            listeners.push(StdListener::Unix(listener));
            Ok((listeners, address.clone()))
        }
    }
}

/// Removes a socket file left by a server that is gone (nothing accepts on it); refuses to
/// remove anything else, or a socket that is live.
pub(crate) fn remove_stale_socket(path: &std::path::Path) -> io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("{} is in use by a live server", path.display()),
                ));
            }
            std::fs::remove_file(path)
        }
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} exists and is not a socket", path.display()),
        )),
        Err(_) => Ok(()),
    }
}

/// Turns on TCP keepalive probes for a connected socket: the first after `idle` without
/// traffic, then every `idle / 3` (at least 1 s), three unanswered ones closing it. This is
/// the clients' heartbeat: a peer that vanished without a FIN is noticed.
pub(crate) fn set_keepalive(stream: &impl std::os::fd::AsRawFd, idle: Duration) -> io::Result<()> {
    // SAFETY: the descriptor belongs to `stream`, which is borrowed for this whole call, so
    // it stays open while the `BorrowedFd` exists.
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(stream.as_raw_fd()) };
    let probes = socket2::TcpKeepalive::new()
        .with_time(idle)
        .with_interval((idle / 3).max(Duration::from_secs(1)))
        .with_retries(3);
    socket2::SockRef::from(&fd).set_tcp_keepalive(&probes)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A connected pair of loopback TCP streams.
    pub(crate) async fn pair() -> (monoio::net::TcpStream, monoio::net::TcpStream) {
        let listener = monoio::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (client, accepted) = monoio::join!(
            monoio::net::TcpStream::connect_addr(addr),
            listener.accept()
        );
        (client.unwrap(), accepted.unwrap().0)
    }

    #[test]
    fn keepalive_probes_are_set_on_the_socket() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let stream = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        set_keepalive(&stream, Duration::from_secs(30)).unwrap();
        let socket = socket2::SockRef::from(&stream);
        assert!(socket.keepalive().unwrap());
        assert_eq!(socket.keepalive_time().unwrap(), Duration::from_secs(30));
        assert_eq!(
            socket.keepalive_interval().unwrap(),
            Duration::from_secs(10)
        );
        assert_eq!(socket.keepalive_retries().unwrap(), 3);
    }

    #[test]
    fn addresses_parse_by_scheme() {
        assert_eq!(
            "tcp://127.0.0.1:80".parse::<Address>().unwrap(),
            Address::Tcp("127.0.0.1:80".parse().unwrap())
        );
        assert_eq!(
            "127.0.0.1:81".parse::<Address>().unwrap().to_string(),
            "tcp://127.0.0.1:81"
        );
        assert_eq!(
            "unix:///tmp/x.sock".parse::<Address>().unwrap(),
            Address::Unix("/tmp/x.sock".into())
        );
        let err = "http://x:1".parse::<Address>().unwrap_err();
        assert!(err.to_string().contains("unknown scheme `http`"), "{err}");
        assert!("127.0.0.1".parse::<Address>().is_err());
    }

    #[test]
    fn tcp_listeners_share_one_port() {
        let (listeners, bound) = bind(&"127.0.0.1:0".parse().unwrap(), 3).unwrap();
        assert_eq!(listeners.len(), 3);
        let Address::Tcp(addr) = bound else { panic!() };
        assert_ne!(addr.port(), 0);
        for l in &listeners {
            let StdListener::Tcp(l) = l else { panic!() };
            assert_eq!(l.local_addr().unwrap(), addr);
        }
    }
}
