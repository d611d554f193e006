//! [`Metadata`]: the key/value headers carried by TTHeader and THeader frames, with Kitex's
//! metainfo conventions (`RPC_TRANSIT_`, `RPC_PERSIST_`, `RPC_BACKWARD_`) and its integer
//! keys ([`int_key`]).

use crate::bytes_str::BytesStr;
use smallvec::SmallVec;

/// Prefix of a transient value: delivered to the next hop only.
pub const TRANSIT_PREFIX: &str = "RPC_TRANSIT_";
/// Prefix of a persistent value: forwarded by every hop.
pub const PERSIST_PREFIX: &str = "RPC_PERSIST_";
/// Prefix of a backward value: sent by a server to its caller in the reply.
pub const BACKWARD_PREFIX: &str = "RPC_BACKWARD_";
/// Prefix of a transient value a server received (internal; never forwarded).
pub const TRANSIT_UPSTREAM_PREFIX: &str = "RPC_TRANSIT_UPSTREAM_";
/// The key under which a TTHeader ACL token (info block `0x11`) is exposed by Kitex.
pub const ACL_TOKEN_KEY: &str = "RPC_TRANSIT_gdpr-token";

/// Kitex's TTHeader integer keys (`INTKEYVALUE` info block).
pub mod int_key {
    /// Mesh version.
    pub const MESH_VERSION: u16 = 0;
    /// `framed` / `unframed`.
    pub const TRANSPORT_TYPE: u16 = 1;
    /// Log id.
    pub const LOG_ID: u16 = 2;
    /// Caller service.
    pub const FROM_SERVICE: u16 = 3;
    /// Caller cluster.
    pub const FROM_CLUSTER: u16 = 4;
    /// Caller IDC.
    pub const FROM_IDC: u16 = 5;
    /// Callee service.
    pub const TO_SERVICE: u16 = 6;
    /// Callee cluster.
    pub const TO_CLUSTER: u16 = 7;
    /// Callee IDC.
    pub const TO_IDC: u16 = 8;
    /// Callee method.
    pub const TO_METHOD: u16 = 9;
    /// Environment.
    pub const ENV: u16 = 10;
    /// Destination address.
    pub const DEST_ADDRESS: u16 = 11;
    /// RPC timeout, milliseconds.
    pub const RPC_TIMEOUT: u16 = 12;
    /// Read timeout.
    pub const READ_TIMEOUT: u16 = 13;
    /// Ring-hash key.
    pub const RING_HASH_KEY: u16 = 14;
    /// Dye tag.
    pub const DDP_TAG: u16 = 15;
    /// With mesh header.
    pub const WITH_MESH_HEADER: u16 = 16;
    /// Connect timeout, milliseconds.
    pub const CONNECT_TIMEOUT: u16 = 17;
    /// Span context.
    pub const SPAN_CONTEXT: u16 = 18;
    /// Short connection.
    pub const SHORT_CONNECTION: u16 = 19;
    /// Caller method.
    pub const FROM_METHOD: u16 = 20;
    /// Stress-test tag.
    pub const STRESS_TAG: u16 = 21;
    /// Message type.
    pub const MSG_TYPE: u16 = 22;
    /// HTTP content type.
    pub const HTTP_CONTENT_TYPE: u16 = 23;
    /// Raw ring-hash key.
    pub const RAW_RING_HASH_KEY: u16 = 24;
    /// Load-balancer type.
    pub const LB_TYPE: u16 = 25;
    /// Cluster shard id.
    pub const CLUSTER_SHARD_ID: u16 = 26;
    /// Frame type.
    pub const FRAME_TYPE: u16 = 27;
}

/// Header key/values of one frame, in wire order.
///
/// Keys and values are [`BytesStr`] views into the received frame. String keys are kept as
/// sent (with their `RPC_*` prefixes); the prefix helpers strip them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    strs: Vec<(BytesStr, BytesStr)>,
    /// Inline up to two: a ringrpc caller sends one (its timeout), so decoding its header
    /// allocates nothing.
    ints: SmallVec<[(u16, BytesStr); 2]>,
    persistent: Vec<(BytesStr, BytesStr)>,
    acl_token: Option<BytesStr>,
}

fn set(list: &mut Vec<(BytesStr, BytesStr)>, key: BytesStr, value: BytesStr) {
    match list.iter_mut().find(|(k, _)| *k == key) {
        Some(slot) => slot.1 = value,
        None => list.push((key, value)),
    }
}

fn with_prefix<'a>(
    list: &'a [(BytesStr, BytesStr)],
    prefix: &'static str,
) -> impl Iterator<Item = (&'a str, &'a BytesStr)> + 'a {
    list.iter()
        .filter_map(move |(k, v)| k.strip_prefix(prefix).map(|k| (k, v)))
}

impl Metadata {
    /// Empty metadata (no allocation).
    pub const fn new() -> Self {
        Metadata {
            strs: Vec::new(),
            ints: SmallVec::new_const(),
            persistent: Vec::new(),
            acl_token: None,
        }
    }

    /// Whether there is nothing to send.
    pub fn is_empty(&self) -> bool {
        self.strs.is_empty()
            && self.ints.is_empty()
            && self.persistent.is_empty()
            && self.acl_token.is_none()
    }

    /// Removes everything, keeping the allocations.
    pub fn clear(&mut self) {
        self.strs.clear();
        self.ints.clear();
        self.persistent.clear();
        self.acl_token = None;
    }

    /// The string value under `key` (exact match).
    pub fn get(&self, key: &str) -> Option<&BytesStr> {
        self.strs.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Sets a string key/value, replacing an existing value.
    pub fn insert(&mut self, key: impl Into<BytesStr>, value: impl Into<BytesStr>) {
        set(&mut self.strs, key.into(), value.into());
    }

    /// Removes a string key, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<BytesStr> {
        let i = self.strs.iter().position(|(k, _)| k == key)?;
        Some(self.strs.remove(i).1)
    }

    /// All string key/values in wire order.
    pub fn iter(&self) -> impl Iterator<Item = (&BytesStr, &BytesStr)> {
        self.strs.iter().map(|(k, v)| (k, v))
    }

    /// Number of string key/values.
    pub fn len(&self) -> usize {
        self.strs.len()
    }

    /// The value under integer key `key` (TTHeader only; see [`int_key`]).
    pub fn get_int(&self, key: u16) -> Option<&BytesStr> {
        self.ints.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// Sets an integer key/value (TTHeader only).
    pub fn insert_int(&mut self, key: u16, value: impl Into<BytesStr>) {
        let value = value.into();
        match self.ints.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.ints.push((key, value)),
        }
    }

    /// All integer key/values in wire order.
    pub fn iter_int(&self) -> impl Iterator<Item = (u16, &BytesStr)> {
        self.ints.iter().map(|(k, v)| (*k, v))
    }

    /// THeader persistent key/values (`INFO_PKEYVALUE`, id 2).
    pub fn iter_persistent_header(&self) -> impl Iterator<Item = (&BytesStr, &BytesStr)> {
        self.persistent.iter().map(|(k, v)| (k, v))
    }

    /// Sets a THeader persistent key/value (`INFO_PKEYVALUE`).
    pub fn insert_persistent_header(
        &mut self,
        key: impl Into<BytesStr>,
        value: impl Into<BytesStr>,
    ) {
        set(&mut self.persistent, key.into(), value.into());
    }

    /// The TTHeader ACL token (info block `0x11`), which Kitex exposes as
    /// [`ACL_TOKEN_KEY`].
    pub fn acl_token(&self) -> Option<&BytesStr> {
        self.acl_token.as_ref()
    }

    /// Sets the TTHeader ACL token.
    pub fn set_acl_token(&mut self, token: Option<BytesStr>) {
        self.acl_token = token;
    }

    /// Transient values (`RPC_TRANSIT_<key>`), keys without the prefix. Values a server
    /// received from upstream (`RPC_TRANSIT_UPSTREAM_`) are not included.
    pub fn transit(&self) -> impl Iterator<Item = (&str, &BytesStr)> {
        with_prefix(&self.strs, TRANSIT_PREFIX).filter(|(k, _)| !k.starts_with("UPSTREAM_"))
    }

    /// Persistent values (`RPC_PERSIST_<key>`), keys without the prefix.
    pub fn persistent(&self) -> impl Iterator<Item = (&str, &BytesStr)> {
        with_prefix(&self.strs, PERSIST_PREFIX)
    }

    /// Backward values (`RPC_BACKWARD_<key>`), keys without the prefix.
    pub fn backward(&self) -> impl Iterator<Item = (&str, &BytesStr)> {
        with_prefix(&self.strs, BACKWARD_PREFIX)
    }

    /// Sets a transient value (`RPC_TRANSIT_<key>`). Empty keys or values are ignored, as in
    /// Kitex.
    pub fn insert_transit(&mut self, key: &str, value: impl Into<BytesStr>) {
        self.insert_prefixed(TRANSIT_PREFIX, key, value.into());
    }

    /// Sets a persistent value (`RPC_PERSIST_<key>`). Empty keys or values are ignored.
    pub fn insert_persistent(&mut self, key: &str, value: impl Into<BytesStr>) {
        self.insert_prefixed(PERSIST_PREFIX, key, value.into());
    }

    /// Sets a backward value (`RPC_BACKWARD_<key>`). Empty keys or values are ignored.
    pub fn insert_backward(&mut self, key: &str, value: impl Into<BytesStr>) {
        self.insert_prefixed(BACKWARD_PREFIX, key, value.into());
    }

    fn insert_prefixed(&mut self, prefix: &str, key: &str, value: BytesStr) {
        if key.is_empty() || value.is_empty() {
            return;
        }
        set(&mut self.strs, format!("{prefix}{key}").into(), value);
    }

    /// The metadata a service forwards on its own outgoing calls after receiving `self`:
    /// persistent values only (transient values travel one hop).
    pub fn to_forward(&self) -> Metadata {
        Metadata {
            strs: self
                .strs
                .iter()
                .filter(|(k, _)| k.starts_with(PERSIST_PREFIX))
                .cloned()
                .collect(),
            ..Metadata::new()
        }
    }

    pub(crate) fn strs(&self) -> &[(BytesStr, BytesStr)] {
        &self.strs
    }

    pub(crate) fn ints(&self) -> &[(u16, BytesStr)] {
        &self.ints
    }

    pub(crate) fn persistent_header(&self) -> &[(BytesStr, BytesStr)] {
        &self.persistent
    }

    pub(crate) fn push_str(&mut self, key: BytesStr, value: BytesStr) {
        self.strs.push((key, value));
    }

    pub(crate) fn push_int(&mut self, key: u16, value: BytesStr) {
        self.ints.push((key, value));
    }

    pub(crate) fn push_persistent_header(&mut self, key: BytesStr, value: BytesStr) {
        self.persistent.push((key, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_and_forwarding() {
        let mut md = Metadata::new();
        md.insert_transit("user", "alice");
        md.insert_persistent("trace", "t-1");
        md.insert_backward("cost", "3");
        md.insert("RPC_TRANSIT_UPSTREAM_old", "x");
        md.insert_transit("", "ignored");
        md.insert_persistent("empty", "");
        assert_eq!(
            md.transit().collect::<Vec<_>>(),
            [("user", &BytesStr::from("alice"))]
        );
        assert_eq!(
            md.persistent().map(|(k, _)| k).collect::<Vec<_>>(),
            ["trace"]
        );
        assert_eq!(md.backward().map(|(k, _)| k).collect::<Vec<_>>(), ["cost"]);
        let fwd = md.to_forward();
        assert_eq!(fwd.len(), 1);
        assert_eq!(fwd.get("RPC_PERSIST_trace").unwrap(), "t-1");
        md.insert("RPC_PERSIST_trace", "t-2");
        assert_eq!(md.get("RPC_PERSIST_trace").unwrap(), "t-2");
        assert_eq!(md.remove("RPC_PERSIST_trace").unwrap(), "t-2");
        md.insert_int(int_key::TO_METHOD, "echo");
        assert_eq!(md.get_int(int_key::TO_METHOD).unwrap(), "echo");
    }
}
