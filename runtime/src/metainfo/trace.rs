//! W3C Trace Context (`traceparent` / `tracestate`, <https://www.w3.org/TR/trace-context/>):
//! parsing and formatting of the `traceparent` header, and the child context a client call
//! sends (same trace id, a fresh span id). A server that receives a valid `traceparent`
//! keeps it (and `tracestate`) in the call's [`MetaInfo`](super::MetaInfo); calls made in
//! that scope carry the trace on.

use std::cell::Cell;
use std::fmt;

/// The `traceparent` header key.
pub const TRACEPARENT: &str = "traceparent";
/// The `tracestate` header key.
pub const TRACESTATE: &str = "tracestate";

/// The trace-flags bits version `00` defines: sampled (0x01) and random (0x02, Level 2).
const KNOWN_FLAGS: u8 = 0x03;

/// A parsed `traceparent`: which trace a call belongs to and which span is its parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceContext {
    /// The trace id (never all zeros).
    pub trace_id: [u8; 16],
    /// The id of the span that made the call (never all zeros).
    pub parent_id: [u8; 8],
    /// Trace flags (bit 0: sampled).
    pub flags: u8,
}

/// Why a `traceparent` value was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceParentError {
    /// Not `version-traceid-parentid-flags` with the right lengths and separators.
    Malformed,
    /// A field holds something other than lowercase hex.
    NotLowercaseHex,
    /// Version `ff`, which the specification forbids.
    ForbiddenVersion,
    /// The trace id or parent id is all zeros.
    ZeroId,
}

impl fmt::Display for TraceParentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TraceParentError::Malformed => {
                "traceparent is not `version-traceid-parentid-flags` (2-32-16-2 hex digits)"
            }
            TraceParentError::NotLowercaseHex => {
                "traceparent has a field that is not lowercase hex"
            }
            TraceParentError::ForbiddenVersion => "traceparent version ff is forbidden",
            TraceParentError::ZeroId => "traceparent has an all-zero trace id or parent id",
        })
    }
}

impl std::error::Error for TraceParentError {}

/// `s` as lowercase hex into `out` (whose length is half of `s`'s).
fn hex_into(s: &str, out: &mut [u8]) -> Result<(), TraceParentError> {
    let digit = |c: u8| match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        _ => Err(TraceParentError::NotLowercaseHex),
    };
    for (byte, pair) in out.iter_mut().zip(s.as_bytes().chunks_exact(2)) {
        *byte = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Ok(())
}

impl TraceContext {
    /// Parses a `traceparent` value. Version `00` must be exactly 55 characters; a later
    /// version may carry more fields after a `-`, which are ignored, as the specification
    /// asks.
    pub fn parse(value: &str) -> Result<Self, TraceParentError> {
        let bytes = value.as_bytes();
        if bytes.len() < 55 || [2, 35, 52].iter().any(|&i| bytes[i] != b'-') {
            return Err(TraceParentError::Malformed);
        }
        let mut version = [0u8];
        hex_into(&value[0..2], &mut version)?;
        match version[0] {
            0xff => return Err(TraceParentError::ForbiddenVersion),
            0 if bytes.len() != 55 => return Err(TraceParentError::Malformed),
            _ if bytes.len() > 55 && bytes[55] != b'-' => return Err(TraceParentError::Malformed),
            _ => {}
        }
        let mut context = TraceContext {
            trace_id: [0; 16],
            parent_id: [0; 8],
            flags: 0,
        };
        hex_into(&value[3..35], &mut context.trace_id)?;
        hex_into(&value[36..52], &mut context.parent_id)?;
        let mut flags = [0u8];
        hex_into(&value[53..55], &mut flags)?;
        context.flags = flags[0];
        if context.trace_id == [0; 16] || context.parent_id == [0; 8] {
            return Err(TraceParentError::ZeroId);
        }
        Ok(context)
    }

    /// Whether the caller sampled (recorded) this trace.
    pub fn sampled(&self) -> bool {
        self.flags & 1 == 1
    }

    /// The context a call made from here sends: the same trace, a fresh span id as the
    /// parent, and the flags version `00` defines (sampled, and Level 2's random); other
    /// bits, which a later version may have set, are cleared as `00` requires.
    pub fn child(&self) -> Self {
        TraceContext {
            parent_id: new_span_id(),
            flags: self.flags & KNOWN_FLAGS,
            ..*self
        }
    }
}

impl fmt::Display for TraceContext {
    /// The version `00` `traceparent` form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("00-")?;
        for b in self.trace_id {
            write!(f, "{b:02x}")?;
        }
        f.write_str("-")?;
        for b in self.parent_id {
            write!(f, "{b:02x}")?;
        }
        write!(f, "-{:02x}", self.flags)
    }
}

/// A random, non-zero span id (splitmix64 over a per-thread state seeded from the clock and
/// the thread: unique enough for span ids, no dependency).
pub fn new_span_id() -> [u8; 8] {
    thread_local! {
        static STATE: Cell<u64> = Cell::new({
            use std::hash::{BuildHasher, RandomState};
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            RandomState::new().hash_one(std::thread::current().id()) ^ nanos
        });
    }
    loop {
        let id = STATE.with(|state| {
            let mut s = state.get();
            let id = crate::governance::splitmix64(&mut s);
            state.set(s);
            id
        });
        if id != 0 {
            return id.to_be_bytes();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn the_specification_example_round_trips() {
        let context = TraceContext::parse(EXAMPLE).unwrap();
        assert_eq!(context.trace_id[0], 0x4b);
        assert_eq!(
            context.parent_id,
            [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7]
        );
        assert!(context.sampled());
        assert_eq!(context.to_string(), EXAMPLE);
    }

    #[test]
    fn invalid_values_are_refused_with_the_reason() {
        use TraceParentError::*;
        let cases = [
            ("", Malformed),
            (&EXAMPLE[..54], Malformed),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",
                Malformed,
            ),
            (
                "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                NotLowercaseHex,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
                NotLowercaseHex,
            ),
            (
                "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                ForbiddenVersion,
            ),
            (
                "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                ZeroId,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                ZeroId,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
                Malformed,
            ),
            (
                "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
                Malformed,
            ),
        ];
        for (value, why) in cases {
            assert_eq!(TraceContext::parse(value), Err(why), "{value:?}");
        }
        // A later version may append fields.
        let future = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-ever";
        assert!(TraceContext::parse(future).is_ok());
    }

    #[test]
    fn a_child_keeps_the_trace_and_gets_a_fresh_span() {
        let parent = TraceContext::parse(EXAMPLE).unwrap();
        let (a, b) = (parent.child(), parent.child());
        assert_eq!((a.trace_id, a.flags), (parent.trace_id, parent.flags));
        assert_ne!(a.parent_id, parent.parent_id);
        assert_ne!(a.parent_id, b.parent_id);
        assert_ne!(a.parent_id, [0; 8]);
        assert_eq!(TraceContext::parse(&a.to_string()), Ok(a));
        let future =
            TraceContext::parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff").unwrap();
        assert_eq!(
            future.child().flags,
            0x03,
            "a 00 child carries only the 00 flags"
        );
    }
}
