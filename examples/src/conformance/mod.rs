//! Apache Thrift's cross-language conformance suite for ringrpc: the standard `ThriftTest`
//! server semantics ([`handler`]), the client checks ([`checks`], [`raw`]) and the command
//! line both `thrift-test-server` and `thrift-test-client` share ([`Wire`]).

pub mod checks;
pub mod handler;
pub mod raw;

use ringrpc::codec::ProtocolId;
use ringrpc::codec::frame::{Dialect, Framing};

/// Every dialect a ringrpc server accepts (TTHeader carries binary only), by name.
pub const DIALECTS: [(&str, Dialect); 7] = [
    (
        "framed-binary",
        Dialect::new(Framing::Framed, ProtocolId::Binary),
    ),
    (
        "framed-compact",
        Dialect::new(Framing::Framed, ProtocolId::Compact),
    ),
    (
        "buffered-binary",
        Dialect::new(Framing::Unframed, ProtocolId::Binary),
    ),
    (
        "buffered-compact",
        Dialect::new(Framing::Unframed, ProtocolId::Compact),
    ),
    (
        "theader-binary",
        Dialect::new(Framing::THeader, ProtocolId::Binary),
    ),
    (
        "theader-compact",
        Dialect::new(Framing::THeader, ProtocolId::Compact),
    ),
    (
        "ttheader-binary",
        Dialect::new(Framing::TTHeader, ProtocolId::Binary),
    ),
];

/// Where a binary listens or connects.
#[derive(Debug, Clone, clap::Args)]
pub struct Endpoint {
    /// The host: the address to listen on, or the server's.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// The port (a server's 0: any free port).
    #[arg(long, default_value_t = 9090)]
    pub port: u16,
}

/// `--protocol`, as in Apache's cross runner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProtocolArg {
    /// TBinaryProtocol (strict).
    Binary,
    /// TCompactProtocol.
    Compact,
    /// Apache THeader around TBinaryProtocol.
    Header,
    /// Binary with `Service:method` names (TMultiplexedProtocol).
    Multi,
    /// Compact with `Service:method` names.
    Multic,
    /// THeader with `Service:method` names.
    Multih,
}

/// `--transport`, as in Apache's cross runner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TransportArg {
    /// A 4-byte length before each message.
    Framed,
    /// No framing ("buffered"): messages back to back.
    Buffered,
}

/// The wire options both binaries take.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct Wire {
    /// binary, compact or header (Apache THeader); multi, multic, multih: the same with
    /// `Service:method` names (Apache's multiplexed protocol).
    #[arg(long, value_enum, default_value = "binary")]
    pub protocol: ProtocolArg,
    /// framed or buffered (ignored with THeader and `--ttheader`).
    #[arg(long, value_enum, default_value = "buffered")]
    pub transport: TransportArg,
    /// Kitex TTHeader framing (with `--protocol binary` or `multi`).
    #[arg(long)]
    pub ttheader: bool,
}

/// Why a combination of wire options cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "--ttheader carries `--protocol binary` or `multi` only (Kitex TTHeader has no compact or THeader payloads)"
)]
pub struct WireError;

impl Wire {
    /// The dialect these options select.
    pub fn dialect(&self) -> Result<Dialect, WireError> {
        use ProtocolArg::*;
        let protocol = match self.protocol {
            Binary | Header | Multi | Multih => ProtocolId::Binary,
            Compact | Multic => ProtocolId::Compact,
        };
        let framing = match (self.ttheader, self.protocol, self.transport) {
            (true, Binary | Multi, _) => Framing::TTHeader,
            (true, _, _) => return Err(WireError),
            (false, Header | Multih, _) => Framing::THeader,
            (false, _, TransportArg::Framed) => Framing::Framed,
            (false, _, TransportArg::Buffered) => Framing::Unframed,
        };
        Ok(Dialect::new(framing, protocol))
    }

    /// Whether calls are named `Service:method`.
    pub fn multiplexed(&self) -> bool {
        matches!(
            self.protocol,
            ProtocolArg::Multi | ProtocolArg::Multic | ProtocolArg::Multih
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(protocol: ProtocolArg, transport: TransportArg, ttheader: bool) -> Wire {
        Wire {
            protocol,
            transport,
            ttheader,
        }
    }

    #[test]
    fn the_options_select_the_dialect() {
        use ProtocolArg::*;
        use TransportArg::*;
        let d = |p, t, tt| wire(p, t, tt).dialect();
        assert_eq!(
            d(Binary, Framed, false),
            Ok(Dialect::new(Framing::Framed, ProtocolId::Binary))
        );
        assert_eq!(
            d(Compact, Buffered, false),
            Ok(Dialect::new(Framing::Unframed, ProtocolId::Compact))
        );
        assert_eq!(
            d(Header, Framed, false),
            Ok(Dialect::new(Framing::THeader, ProtocolId::Binary))
        );
        assert_eq!(
            d(Binary, Framed, true),
            Ok(Dialect::new(Framing::TTHeader, ProtocolId::Binary))
        );
        assert_eq!(d(Compact, Framed, true), Err(WireError));
        assert_eq!(d(Header, Buffered, true), Err(WireError));
        assert_eq!(
            d(Multih, Framed, false),
            Ok(Dialect::new(Framing::THeader, ProtocolId::Binary))
        );
        assert_eq!(
            d(Multic, Framed, false),
            Ok(Dialect::new(Framing::Framed, ProtocolId::Compact))
        );
        assert!(
            wire(Multi, Framed, false).multiplexed() && !wire(Binary, Framed, false).multiplexed()
        );
    }
}
