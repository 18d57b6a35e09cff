//! Context propagation across process boundaries: W3C Trace Context
//! (`traceparent`, `tracestate`, <https://www.w3.org/TR/trace-context/>),
//! W3C Baggage (`baggage`, <https://www.w3.org/TR/baggage/>) and a
//! correlation id, read from and written to any header carrier.
//!
//! ```
//! use std::collections::HashMap;
//! use datapunk_log::propagation::{extract, inject};
//!
//! let mut incoming = HashMap::new();
//! incoming.insert(
//!     "traceparent".to_string(),
//!     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_string(),
//! );
//! incoming.insert("baggage".to_string(), "user=alice,region=eu%20west".to_string());
//!
//! let mut p = extract(&incoming);
//! assert_eq!(p.parent.unwrap().trace_id, 0x4bf92f3577b34da6a3ce929d0e0e4736);
//! assert_eq!(p.baggage.get("region"), Some("eu west"));
//! let id = p.ensure_correlation_id().to_string(); // none came in: one is made here
//!
//! let mut outgoing = HashMap::new();
//! inject(&p, &mut outgoing);
//! assert_eq!(extract(&outgoing).correlation_id.as_deref(), Some(id.as_str()));
//! ```
//!
//! Bad input never panics and never fails a request: a malformed
//! `traceparent` starts a new trace (and its `tracestate` is ignored, as the
//! spec requires), a malformed `tracestate` is dropped whole, a malformed
//! baggage member is skipped on its own. Each case is counted in
//! [`counters()`].

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::BuildHasher;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};

/// Header name of the W3C `traceparent`.
pub const TRACEPARENT_HEADER: &str = "traceparent";
/// Header name of the W3C `tracestate`.
pub const TRACESTATE_HEADER: &str = "tracestate";
/// Header name of W3C Baggage.
pub const BAGGAGE_HEADER: &str = "baggage";
/// Header read for the correlation id when baggage has none.
pub const CORRELATION_ID_HEADER: &str = "x-correlation-id";
/// Header read for the correlation id when neither baggage nor
/// [`CORRELATION_ID_HEADER`] has a valid one.
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// Baggage member that carries the correlation id.
pub const CORRELATION_ID_KEY: &str = "correlation_id";
/// Most list-members a `tracestate` may hold (spec limit).
pub const MAX_TRACESTATE_MEMBERS: usize = 32;
/// Most baggage members [`inject`] writes.
pub const MAX_BAGGAGE_MEMBERS: usize = 64;
/// Most bytes of `baggage` header value [`inject`] writes.
pub const MAX_BAGGAGE_BYTES: usize = 8192;
pub use crate::corr::MAX_CORRELATION_ID_LEN;

// ---------------------------------------------------------------------------
// Carriers
// ---------------------------------------------------------------------------

/// Read side of a header carrier (header names are case-insensitive for
/// http; for maps, look up lowercase keys).
///
/// The map implementations look `key` up lowercased, so a map carrier must
/// hold its header names in lowercase (what [`Injector`] writes).
pub trait Extractor {
    /// The (first) value of header `key`, if present.
    fn get(&self, key: &str) -> Option<&str>;

    /// Every value of header `key`, in the order received: carriers that can
    /// hold a header several times (`http::HeaderMap`) return each field.
    /// The default returns [`get`](Extractor::get)'s value, if any.
    fn get_all(&self, key: &str) -> Vec<&str> {
        self.get(key).into_iter().collect()
    }
}

/// Write side of a header carrier.
pub trait Injector {
    /// Sets header `key` to `value`, replacing any previous value.
    fn set(&mut self, key: &str, value: String);
}

/// `key` in lowercase, borrowed when it already is.
fn lowercase(key: &str) -> Cow<'_, str> {
    if key.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(key.to_ascii_lowercase())
    } else {
        Cow::Borrowed(key)
    }
}

impl<S: BuildHasher> Extractor for HashMap<String, String, S> {
    fn get(&self, key: &str) -> Option<&str> {
        HashMap::get(self, lowercase(key).as_ref()).map(String::as_str)
    }
}

impl<S: BuildHasher> Injector for HashMap<String, String, S> {
    fn set(&mut self, key: &str, value: String) {
        self.insert(lowercase(key).into_owned(), value);
    }
}

impl Extractor for BTreeMap<String, String> {
    fn get(&self, key: &str) -> Option<&str> {
        BTreeMap::get(self, lowercase(key).as_ref()).map(String::as_str)
    }
}

impl Injector for BTreeMap<String, String> {
    fn set(&mut self, key: &str, value: String) {
        self.insert(lowercase(key).into_owned(), value);
    }
}

/// A map holding every field of a header, in the order received (header
/// names in lowercase): several `tracestate` or `baggage` fields are
/// combined, two `traceparent` fields make the context invalid. (Read side
/// only: `inject` writes one field per header, into a
/// `HashMap<String, String>` or any `Injector`, so that
/// `inject(&p, &mut HashMap::new())` still needs no type annotation.)
impl<S: BuildHasher> Extractor for HashMap<String, Vec<String>, S> {
    fn get(&self, key: &str) -> Option<&str> {
        HashMap::get(self, lowercase(key).as_ref())
            .and_then(|v| v.first())
            .map(String::as_str)
    }

    fn get_all(&self, key: &str) -> Vec<&str> {
        HashMap::get(self, lowercase(key).as_ref())
            .map(|v| v.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }
}

/// As the `HashMap` of several fields.
impl Extractor for BTreeMap<String, Vec<String>> {
    fn get(&self, key: &str) -> Option<&str> {
        BTreeMap::get(self, lowercase(key).as_ref())
            .and_then(|v| v.first())
            .map(String::as_str)
    }

    fn get_all(&self, key: &str) -> Vec<&str> {
        BTreeMap::get(self, lowercase(key).as_ref())
            .map(|v| v.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }
}

#[cfg(feature = "http")]
mod http_carrier {
    use super::{Extractor, Injector};
    use http::{HeaderMap, HeaderName, HeaderValue};

    /// What a header value that is not visible ASCII reads as: a character
    /// no parser here accepts, so the header counts as present but malformed.
    const NOT_TEXT: &str = "\u{FFFD}";

    fn text(value: &HeaderValue) -> &str {
        value.to_str().unwrap_or(NOT_TEXT)
    }

    /// Header names are case-insensitive. A value that is not visible ASCII
    /// (obs-text, non-UTF-8 bytes) reads as `"\u{FFFD}"`, which every parser
    /// here rejects: it is treated as malformed, never as text.
    impl Extractor for HeaderMap {
        fn get(&self, key: &str) -> Option<&str> {
            HeaderMap::get(self, key).map(text)
        }

        fn get_all(&self, key: &str) -> Vec<&str> {
            HeaderMap::get_all(self, key).iter().map(text).collect()
        }
    }

    /// Replaces every field of `key`. A name or value `http` rejects is
    /// skipped (this module only writes valid ones).
    impl Injector for HeaderMap {
        fn set(&mut self, key: &str, value: String) {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(key.as_bytes()),
                HeaderValue::try_from(value),
            ) {
                self.insert(name, value);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Errors and counters
// ---------------------------------------------------------------------------

/// Why a header value was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PropagationError {
    header: &'static str,
    reason: Cow<'static, str>,
}

impl PropagationError {
    fn new(header: &'static str, reason: impl Into<Cow<'static, str>>) -> Self {
        PropagationError {
            header,
            reason: reason.into(),
        }
    }

    /// The header (or item) that was malformed: `"traceparent"`,
    /// `"tracestate"`, `"baggage"`.
    pub fn header(&self) -> &'static str {
        self.header
    }

    /// What is wrong with it.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for PropagationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {}: {}", self.header, self.reason)
    }
}

impl std::error::Error for PropagationError {}

static MALFORMED_TRACEPARENT: AtomicU64 = AtomicU64::new(0);
static MALFORMED_TRACESTATE: AtomicU64 = AtomicU64::new(0);
static MALFORMED_BAGGAGE_MEMBERS: AtomicU64 = AtomicU64::new(0);
static BAGGAGE_OVER_LIMIT: AtomicU64 = AtomicU64::new(0);
static TRACESTATE_DUPLICATE_KEYS: AtomicU64 = AtomicU64::new(0);

/// Process-wide counts of what [`extract`] and [`inject`] rejected or dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PropagationCounters {
    /// `traceparent` headers present but malformed (a new trace started);
    /// several `traceparent` fields in one carrier count once.
    pub malformed_traceparent: u64,
    /// `tracestate` headers dropped whole as malformed (only parsed, and so
    /// only counted, when the `traceparent` was valid).
    pub malformed_tracestate: u64,
    /// Baggage list-members skipped on extract as malformed.
    pub malformed_baggage_members: u64,
    /// Baggage members left out by [`inject`] to stay within
    /// [`MAX_BAGGAGE_MEMBERS`] and [`MAX_BAGGAGE_BYTES`].
    pub baggage_over_limit: u64,
    /// `tracestate` list-members dropped because their key came earlier.
    pub tracestate_duplicate_keys: u64,
}

/// The counters so far (relaxed loads: each is exact, together they are not
/// a snapshot).
pub fn counters() -> PropagationCounters {
    PropagationCounters {
        malformed_traceparent: MALFORMED_TRACEPARENT.load(Relaxed),
        malformed_tracestate: MALFORMED_TRACESTATE.load(Relaxed),
        malformed_baggage_members: MALFORMED_BAGGAGE_MEMBERS.load(Relaxed),
        baggage_over_limit: BAGGAGE_OVER_LIMIT.load(Relaxed),
        tracestate_duplicate_keys: TRACESTATE_DUPLICATE_KEYS.load(Relaxed),
    }
}

/// Optional white space (RFC 7230 `OWS`: spaces and horizontal tabs) trimmed
/// from both ends.
fn trim_ows(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

// ---------------------------------------------------------------------------
// traceparent
// ---------------------------------------------------------------------------

/// A W3C `traceparent`: the caller's trace id, its span (the parent of ours)
/// and the trace flags.
///
/// Written as `00-<32 hex>-<16 hex>-<2 hex>`, lowercase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TraceParent {
    /// The trace id; zero is invalid.
    pub trace_id: u128,
    /// The caller's span id (`parent-id`); zero is invalid.
    pub span_id: u64,
    /// Trace flags: [`TraceParent::FLAG_SAMPLED`] and
    /// [`TraceParent::FLAG_RANDOM`] are defined.
    pub flags: u8,
}

impl TraceParent {
    /// The `sampled` trace flag.
    pub const FLAG_SAMPLED: u8 = 0x01;
    /// The `random` trace flag (W3C Trace Context level 2): the trace id's
    /// right-most 7 bytes are random. Propagated unchanged.
    pub const FLAG_RANDOM: u8 = 0x02;
    /// The flags this version defines; others are cleared.
    pub const KNOWN_FLAGS: u8 = Self::FLAG_SAMPLED | Self::FLAG_RANDOM;

    /// Parses a `traceparent` header value.
    ///
    /// Optional white space around the value is ignored. Version `00` must be
    /// exactly 55 characters; version `ff` is invalid; a higher version is
    /// read for its first four fields when the value is at least 55
    /// characters and the 56th, if any, is `-`. Every field is lowercase hex;
    /// an all-zero trace id or span id is invalid. Flags other than
    /// `sampled` and `random` are cleared (the spec: "Vendors MUST set
    /// those to zero").
    pub fn parse(value: &str) -> Result<Self, PropagationError> {
        let err = |reason: &'static str| PropagationError::new(TRACEPARENT_HEADER, reason);
        let b = trim_ows(value).as_bytes();
        if b.is_empty() {
            return Err(err("empty value"));
        }
        let version = match b {
            [v0, v1, b'-', ..] => {
                hex(&[*v0, *v1]).ok_or_else(|| err("version is not 2 lowercase hex digits"))?
            }
            _ => return Err(err("version is not 2 lowercase hex digits followed by '-'")),
        };
        if version == 0xff {
            return Err(err("version ff is forbidden"));
        }
        if b.len() < 55 {
            return Err(err("shorter than 55 characters"));
        }
        if version == 0 && b.len() != 55 {
            return Err(err("version 00 must be exactly 55 characters"));
        }
        if b.len() > 55 && b[55] != b'-' {
            return Err(err("flags are not followed by '-' or the end of the value"));
        }
        if b[35] != b'-' || b[52] != b'-' {
            return Err(err("fields are not separated by '-'"));
        }
        let trace_id =
            hex(&b[3..35]).ok_or_else(|| err("trace-id is not 32 lowercase hex digits"))?;
        let span_id =
            hex(&b[36..52]).ok_or_else(|| err("parent-id is not 16 lowercase hex digits"))?;
        let flags =
            hex(&b[53..55]).ok_or_else(|| err("trace-flags are not 2 lowercase hex digits"))?;
        if trace_id == 0 {
            return Err(err("trace-id is all zeros"));
        }
        if span_id == 0 {
            return Err(err("parent-id is all zeros"));
        }
        Ok(TraceParent {
            trace_id,
            span_id: span_id as u64,
            flags: flags as u8 & Self::KNOWN_FLAGS,
        })
    }

    /// Whether both ids are non-zero (what [`inject`] requires to write it).
    pub fn is_valid(&self) -> bool {
        self.trace_id != 0 && self.span_id != 0
    }

    /// Whether the `sampled` flag is set.
    pub fn is_sampled(&self) -> bool {
        self.flags & Self::FLAG_SAMPLED != 0
    }
}

/// Lowercase hex digits (at most 32) as a number.
fn hex(digits: &[u8]) -> Option<u128> {
    let mut v = 0u128;
    for &c in digits {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => return None,
        };
        v = (v << 4) | u128::from(d);
    }
    Some(v)
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{:032x}-{:016x}-{:02x}",
            self.trace_id, self.span_id, self.flags
        )
    }
}

impl FromStr for TraceParent {
    type Err = PropagationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

// ---------------------------------------------------------------------------
// tracestate
// ---------------------------------------------------------------------------

/// A W3C `tracestate`: an ordered list of at most 32 vendor entries, the
/// most recently updated first.
///
/// Keys are `(lcalpha / DIGIT) 0*255(lcalpha / DIGIT / "_" / "-" / "*" /
/// "/" / "@")`. Values are 1 to 256 printable ASCII characters other than
/// `,` and `=`, not ending in a space.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TraceState {
    entries: Vec<(String, String)>,
}

impl TraceState {
    /// An empty tracestate.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses one `tracestate` header value.
    ///
    /// Empty and white-space-only list-members are skipped. A repeated key
    /// keeps its first member (the repeat is dropped and counted in
    /// [`PropagationCounters::tracestate_duplicate_keys`]). Any invalid
    /// list-member or more than 32 list-members makes the whole value
    /// invalid (the spec: the tracestate is then discarded).
    pub fn parse(value: &str) -> Result<Self, PropagationError> {
        Self::parse_fields([value])
    }

    /// Parses a `tracestate` sent as several header fields, combined in order
    /// as if joined by commas (RFC 7230 §3.2.2).
    pub fn parse_fields<'a>(
        fields: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, PropagationError> {
        let err = |reason: String| PropagationError::new(TRACESTATE_HEADER, reason);
        let mut entries: Vec<(String, String)> = Vec::new();
        for member in fields.into_iter().flat_map(|f| f.split(',')) {
            let member = trim_ows(member);
            if member.is_empty() {
                continue;
            }
            let n = entries.len() + 1;
            if n > MAX_TRACESTATE_MEMBERS {
                return Err(err(format!(
                    "more than {MAX_TRACESTATE_MEMBERS} list-members"
                )));
            }
            let Some((key, value)) = member.split_once('=') else {
                return Err(err(format!("list-member {n} has no '='")));
            };
            if !valid_tracestate_key(key) {
                return Err(err(format!("list-member {n} has an invalid key")));
            }
            if !valid_tracestate_value(value) {
                return Err(err(format!("list-member {n} has an invalid value")));
            }
            if entries.iter().any(|(k, _)| k == key) {
                // The first member of a key wins; the repeat is dropped
                // (not the whole header), and counted.
                TRACESTATE_DUPLICATE_KEYS.fetch_add(1, Relaxed);
                continue;
            }
            entries.push((key.to_owned(), value.to_owned()));
        }
        Ok(TraceState { entries })
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Sets `key` to `value` and moves it to the front (the spec: modified
    /// and new keys go to the left). When that makes 33 entries, the last one
    /// is dropped. An invalid key or value is refused and nothing changes.
    pub fn insert(&mut self, key: &str, value: &str) -> Result<(), PropagationError> {
        if !valid_tracestate_key(key) {
            return Err(PropagationError::new(TRACESTATE_HEADER, "invalid key"));
        }
        if !valid_tracestate_value(value) {
            return Err(PropagationError::new(TRACESTATE_HEADER, "invalid value"));
        }
        self.entries.retain(|(k, _)| k != key);
        self.entries.insert(0, (key.to_owned(), value.to_owned()));
        self.entries.truncate(MAX_TRACESTATE_MEMBERS);
        Ok(())
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let i = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.remove(i).1)
    }

    /// The entries, first (most recent) first.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl fmt::Display for TraceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (k, v)) in self.entries.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{k}={v}")?;
        }
        Ok(())
    }
}

impl FromStr for TraceState {
    type Err = PropagationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// `keychar = lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@"`.
fn is_tracestate_keychar(b: u8) -> bool {
    matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'*' | b'/' | b'@')
}

/// `key = (lcalpha / DIGIT) 0*255(keychar)` (W3C Trace Context, current
/// grammar: the level-1 split into simple and multi-tenant keys is gone).
fn valid_tracestate_key(key: &str) -> bool {
    match key.as_bytes() {
        [first, rest @ ..] => {
            key.len() <= 256
                && (first.is_ascii_lowercase() || first.is_ascii_digit())
                && rest.iter().all(|&b| is_tracestate_keychar(b))
        }
        [] => false,
    }
}

/// `0*255(chr) nblk-chr`.
fn valid_tracestate_value(value: &str) -> bool {
    let b = value.as_bytes();
    (1..=256).contains(&b.len())
        && b.iter()
            .all(|&c| matches!(c, 0x20..=0x7e) && c != b',' && c != b'=')
        && b.last() != Some(&b' ')
}

// ---------------------------------------------------------------------------
// Baggage
// ---------------------------------------------------------------------------

/// One baggage list-member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaggageMember {
    key: String,
    value: String,
    properties: String,
}

impl BaggageMember {
    /// The key (an RFC 7230 `token`).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The value, percent-decoded (invalid UTF-8 after decoding becomes
    /// U+FFFD, as the spec requires).
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The properties after the value, as received but for optional white
    /// space: `;`-separated `key` or `key=value` items, e.g. `"k1=v1;flag"`;
    /// empty when there are none. They are opaque: not percent-decoded.
    pub fn properties(&self) -> &str {
        &self.properties
    }
}

/// W3C Baggage: ordered key/value members, each with optional properties.
///
/// Keys are unique: inserting (or parsing) a key again replaces the earlier
/// member's value and properties in place. [`Display`](fmt::Display) writes
/// every member, values percent-encoded; [`inject`] writes at most
/// [`MAX_BAGGAGE_MEMBERS`] members and [`MAX_BAGGAGE_BYTES`] bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Baggage {
    members: Vec<BaggageMember>,
}

/// Bytes written percent-encoded in values: everything but `baggage-octet`,
/// and `%` itself. Non-ASCII is always encoded.
const BAGGAGE_VALUE_ENCODE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b',')
    .add(b';')
    .add(b'\\')
    .add(b'%');

impl Baggage {
    /// Empty baggage.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a `baggage` header value strictly: any malformed list-member
    /// is an error. Empty list-members (`a=1,,b=2`) are skipped, as RFC 7230
    /// lists allow.
    pub fn parse(value: &str) -> Result<Self, PropagationError> {
        let mut b = Baggage::new();
        for (i, member) in value.split(',').enumerate() {
            match parse_baggage_member(member) {
                Ok(Some(m)) => b.put(m),
                Ok(None) => {}
                Err(reason) => {
                    return Err(PropagationError::new(
                        BAGGAGE_HEADER,
                        format!("list-member {}: {reason}", i + 1),
                    ));
                }
            }
        }
        Ok(b)
    }

    /// Parses a `baggage` header value leniently, as [`extract`] does: each
    /// malformed list-member is skipped on its own. Returns the valid members
    /// and how many were skipped.
    pub fn parse_lenient(value: &str) -> (Self, usize) {
        let mut b = Baggage::new();
        let skipped = b.merge_lenient(value);
        (b, skipped)
    }

    /// Adds the valid members of `value` (later keys replace earlier ones),
    /// returning how many malformed ones were skipped.
    fn merge_lenient(&mut self, value: &str) -> usize {
        let mut skipped = 0;
        for member in value.split(',') {
            match parse_baggage_member(member) {
                Ok(Some(m)) => self.put(m),
                Ok(None) => {}
                Err(_) => skipped += 1,
            }
        }
        skipped
    }

    fn put(&mut self, m: BaggageMember) {
        match self.members.iter_mut().find(|e| e.key == m.key) {
            Some(e) => *e = m,
            None => self.members.push(m),
        }
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.member(key).map(BaggageMember::value)
    }

    /// The member of `key`, with its properties.
    pub fn member(&self, key: &str) -> Option<&BaggageMember> {
        self.members.iter().find(|m| m.key == key)
    }

    /// Sets `key` to `value` (any text: it is percent-encoded when written),
    /// without properties. An existing member keeps its place; a new one goes
    /// last. A key that is not an RFC 7230 `token` is refused.
    pub fn insert(&mut self, key: &str, value: &str) -> Result<(), PropagationError> {
        self.insert_with_properties(key, value, "")
    }

    /// Like [`insert`](Baggage::insert), with properties: `;`-separated
    /// `key` or `key=value` items (`"k1=v1;flag"`), keys `token`s, values
    /// `baggage-octet`s (write them percent-encoded if needed). Optional white
    /// space around items is removed.
    pub fn insert_with_properties(
        &mut self,
        key: &str,
        value: &str,
        properties: &str,
    ) -> Result<(), PropagationError> {
        if !is_token(key) {
            return Err(PropagationError::new(
                BAGGAGE_HEADER,
                "key is not an RFC 7230 token",
            ));
        }
        let properties = if trim_ows(properties).is_empty() {
            String::new()
        } else {
            normalize_properties(properties)
                .map_err(|reason| PropagationError::new(BAGGAGE_HEADER, reason))?
        };
        self.put(BaggageMember {
            key: key.to_owned(),
            value: value.to_owned(),
            properties,
        });
        Ok(())
    }

    /// Removes `key`, returning its member.
    pub fn remove(&mut self, key: &str) -> Option<BaggageMember> {
        let i = self.members.iter().position(|m| m.key == key)?;
        Some(self.members.remove(i))
    }

    /// The members in order.
    pub fn iter(&self) -> std::slice::Iter<'_, BaggageMember> {
        self.members.iter()
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether there is no member.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

impl<'a> IntoIterator for &'a Baggage {
    type Item = &'a BaggageMember;
    type IntoIter = std::slice::Iter<'a, BaggageMember>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl fmt::Display for BaggageMember {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}={}",
            self.key,
            utf8_percent_encode(&self.value, BAGGAGE_VALUE_ENCODE)
        )?;
        if !self.properties.is_empty() {
            write!(f, ";{}", self.properties)?;
        }
        Ok(())
    }
}

impl fmt::Display for Baggage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, m) in self.members.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{m}")?;
        }
        Ok(())
    }
}

impl FromStr for Baggage {
    type Err = PropagationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// RFC 7230 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// RFC 7230 `token`: one or more `tchar`s.
fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// `baggage-octet`: ASCII but controls, white space, `"`, `,`, `;` and `\`.
fn is_baggage_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e)
}

/// One list-member; `Ok(None)` for an empty one.
fn parse_baggage_member(member: &str) -> Result<Option<BaggageMember>, &'static str> {
    let member = trim_ows(member);
    if member.is_empty() {
        return Ok(None);
    }
    let (head, properties) = match member.split_once(';') {
        Some((head, props)) => (head, normalize_properties(props)?),
        None => (member, String::new()),
    };
    let (key, value) = head.split_once('=').ok_or("no '=' after the key")?;
    let (key, value) = (trim_ows(key), trim_ows(value));
    if !is_token(key) {
        return Err("key is not an RFC 7230 token");
    }
    if !value.bytes().all(is_baggage_octet) {
        return Err("value holds a character that must be percent-encoded");
    }
    Ok(Some(BaggageMember {
        key: key.to_owned(),
        value: percent_decode_str(value).decode_utf8_lossy().into_owned(),
        properties,
    }))
}

/// `property *( OWS ";" OWS property )` with optional white space removed.
fn normalize_properties(props: &str) -> Result<String, &'static str> {
    let mut out = String::with_capacity(props.len());
    for prop in props.split(';') {
        let (key, value) = match prop.split_once('=') {
            Some((k, v)) => (trim_ows(k), Some(trim_ows(v))),
            None => (trim_ows(prop), None),
        };
        if !is_token(key) {
            return Err("property key is not an RFC 7230 token");
        }
        if !out.is_empty() {
            out.push(';');
        }
        out.push_str(key);
        if let Some(value) = value {
            if !value.bytes().all(is_baggage_octet) {
                return Err("property value holds a character that must be percent-encoded");
            }
            out.push('=');
            out.push_str(value);
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Correlation id
// ---------------------------------------------------------------------------

/// Whether `id` is a usable correlation id: 1 to 128 visible ASCII
/// characters (`!` to `~`).
pub fn is_valid_correlation_id(id: &str) -> bool {
    (1..=MAX_CORRELATION_ID_LEN).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic())
}

/// A new correlation id: 32 lowercase hex digits from a fast, non-crypto
/// generator (SipHash with a per-process random key over a counter and the
/// time). Distinct ids, not secret ones.
pub fn generate_correlation_id() -> String {
    format!("{:032x}", crate::id::random_u128())
}

// ---------------------------------------------------------------------------
// Extract / inject
// ---------------------------------------------------------------------------

/// What came in with a request (or goes out with one).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Propagated {
    /// The caller's trace context; `None` starts a new trace.
    pub parent: Option<TraceParent>,
    /// Vendor trace state (only kept with a valid `parent`).
    pub tracestate: TraceState,
    /// Baggage. [`extract`] moves a member `correlation_id` that is a valid
    /// id out of it into `correlation_id`; [`inject`] puts it back.
    pub baggage: Baggage,
    /// The correlation id; carried as baggage member `correlation_id`.
    pub correlation_id: Option<String>,
    /// The debug override: every span of this request is kept. Read from
    /// the header [`DEBUG_HEADER`](crate::sampler::DEBUG_HEADER) or the
    /// baggage member [`DEBUG_BAGGAGE_KEY`](crate::sampler::DEBUG_BAGGAGE_KEY)
    /// (`1`, `true`, `on`, `yes`); [`inject`] writes the header.
    pub debug: bool,
}

impl Propagated {
    /// The calling thread's context (its current span and correlation id),
    /// to send with an outgoing request through [`inject`].
    ///
    /// It carries the span's trace flags (sampled, random), its tracestate
    /// (`ot=th:…` and what came in with the request: a received tracestate
    /// is sent on), the correlation id and the debug override.
    pub fn current() -> Propagated {
        let ctx = crate::ring::current_ctx();
        let extra = crate::ring::current_extra();
        let th = crate::ring::current_th();
        Propagated {
            parent: ctx.is_some().then_some(TraceParent {
                trace_id: ctx.trace_id,
                span_id: ctx.span_id,
                flags: ctx.trace_flags,
            }),
            tracestate: if ctx.is_some() {
                crate::span_extra::tracestate(th, extra.as_deref())
            } else {
                TraceState::default()
            },
            correlation_id: crate::ring::current_correlation_id(),
            debug: extra.is_some_and(|e| e.debug),
            ..Propagated::default()
        }
    }

    /// The correlation id, generated here (32 lowercase hex digits) and
    /// stored when there is none or it is invalid: call it at the edge of
    /// the system.
    pub fn ensure_correlation_id(&mut self) -> &str {
        if !self
            .correlation_id
            .as_deref()
            .is_some_and(is_valid_correlation_id)
        {
            self.correlation_id = Some(generate_correlation_id());
        }
        self.correlation_id.as_deref().unwrap_or_default()
    }
}

/// Reads the propagation headers of `carrier`.
///
/// - `traceparent`: a malformed value (or several `traceparent` fields)
///   gives `parent: None` and is counted; `tracestate` is then ignored, as
///   the spec requires.
/// - `tracestate` (all fields, combined): malformed → empty, counted; a
///   repeated key keeps its first member (the repeat is dropped, counted).
/// - the debug override: header `x-datapunk-debug` or baggage member
///   `datapunk.debug` with `1`, `true`, `on` or `yes`.
/// - `baggage` (all fields, combined): malformed members are skipped one by
///   one and counted; the valid ones are kept.
/// - correlation id: baggage member `correlation_id`, else header
///   `x-correlation-id`, else `x-request-id`, the first that is valid
///   ([`is_valid_correlation_id`]), else `None`. A baggage member used so is
///   moved out of `baggage` into `correlation_id`.
pub fn extract(carrier: &impl Extractor) -> Propagated {
    let mut p = Propagated::default();

    match carrier.get_all(TRACEPARENT_HEADER).as_slice() {
        [] => {}
        [one] => match TraceParent::parse(one) {
            Ok(tp) => p.parent = Some(tp),
            Err(_) => {
                MALFORMED_TRACEPARENT.fetch_add(1, Relaxed);
            }
        },
        _ => {
            MALFORMED_TRACEPARENT.fetch_add(1, Relaxed);
        }
    }

    if p.parent.is_some() {
        let fields = carrier.get_all(TRACESTATE_HEADER);
        if !fields.is_empty() {
            match TraceState::parse_fields(fields) {
                Ok(ts) => p.tracestate = ts,
                Err(_) => {
                    MALFORMED_TRACESTATE.fetch_add(1, Relaxed);
                }
            }
        }
    }

    let mut skipped = 0;
    for field in carrier.get_all(BAGGAGE_HEADER) {
        skipped += p.baggage.merge_lenient(field);
    }
    if skipped > 0 {
        MALFORMED_BAGGAGE_MEMBERS.fetch_add(skipped as u64, Relaxed);
    }

    p.debug = carrier
        .get(crate::sampler::DEBUG_HEADER)
        .is_some_and(crate::sampler::is_truthy)
        || p.baggage
            .get(crate::sampler::DEBUG_BAGGAGE_KEY)
            .is_some_and(crate::sampler::is_truthy);

    if p.baggage
        .get(CORRELATION_ID_KEY)
        .is_some_and(is_valid_correlation_id)
    {
        p.correlation_id = p.baggage.remove(CORRELATION_ID_KEY).map(|m| m.value);
    } else {
        p.correlation_id = [CORRELATION_ID_HEADER, REQUEST_ID_HEADER]
            .into_iter()
            .filter_map(|h| carrier.get(h).map(trim_ows))
            .find(|id| is_valid_correlation_id(id))
            .map(str::to_owned);
    }
    p
}

/// Writes `p` into `carrier`.
///
/// - `traceparent` when `parent` is valid (non-zero ids), as version `00`
///   with only the defined flag bits (sampled, random); `tracestate` then
///   too, when not empty.
/// - `x-datapunk-debug: 1` when `debug` is set.
/// - `baggage` when there is anything to carry: a valid `correlation_id`
///   first, as member `correlation_id` (replacing any such member of
///   `baggage`), then `baggage`'s members in order. At most
///   [`MAX_BAGGAGE_MEMBERS`] members and [`MAX_BAGGAGE_BYTES`] bytes are
///   written: members beyond are dropped whole, from the end, and counted.
pub fn inject(p: &Propagated, carrier: &mut impl Injector) {
    if let Some(tp) = p.parent.filter(TraceParent::is_valid) {
        let tp = TraceParent {
            flags: tp.flags & TraceParent::KNOWN_FLAGS,
            ..tp
        };
        carrier.set(TRACEPARENT_HEADER, tp.to_string());
        if !p.tracestate.is_empty() {
            carrier.set(TRACESTATE_HEADER, p.tracestate.to_string());
        }
    }

    if p.debug {
        carrier.set(crate::sampler::DEBUG_HEADER, "1".to_owned());
    }

    let correlation = p
        .correlation_id
        .as_deref()
        .filter(|id| is_valid_correlation_id(id))
        .map(|id| BaggageMember {
            key: CORRELATION_ID_KEY.to_owned(),
            value: id.to_owned(),
            properties: String::new(),
        });
    let members = correlation.iter().chain(
        p.baggage
            .iter()
            .filter(|m| correlation.is_none() || m.key != CORRELATION_ID_KEY),
    );
    let mut header = String::new();
    let (mut written, mut dropped) = (0usize, 0u64);
    let mut member_text = String::new();
    for m in members {
        if dropped == 0 {
            member_text.clear();
            use fmt::Write as _;
            let _ = write!(member_text, "{m}");
            let sep = usize::from(written > 0);
            if written < MAX_BAGGAGE_MEMBERS
                && header.len() + sep + member_text.len() <= MAX_BAGGAGE_BYTES
            {
                if sep == 1 {
                    header.push(',');
                }
                header.push_str(&member_text);
                written += 1;
                continue;
            }
        }
        dropped += 1;
    }
    if dropped > 0 {
        BAGGAGE_OVER_LIMIT.fetch_add(dropped, Relaxed);
    }
    if written > 0 {
        carrier.set(BAGGAGE_HEADER, header);
    }
}
