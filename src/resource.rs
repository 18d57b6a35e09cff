//! The OpenTelemetry *resource* of the process: who is logging (service name,
//! version, environment, instance), as typed attributes.
//!
//! ```
//! use datapunk_log::resource::{AttrValue, Resource};
//!
//! // `build_with` reads the environment through a closure; `build_from_env`
//! // reads the process environment.
//! let env = |name: &str| match name {
//!     "OTEL_RESOURCE_ATTRIBUTES" => Some("service.version=1.4.0,team=pay%20ments".to_string()),
//!     "OTEL_SERVICE_NAME" => Some("checkout".to_string()),
//!     _ => None,
//! };
//! let resource = Resource::builder()
//!     .service_version("1.4.1")
//!     .attribute("shard", 7)
//!     .build_with(env);
//!
//! assert_eq!(resource.service_name(), "checkout");
//! assert_eq!(resource.get("service.version"), Some(&AttrValue::from("1.4.1")));
//! assert_eq!(resource.get("team"), Some(&AttrValue::from("pay ments")));
//! assert_eq!(resource.get("shard"), Some(&AttrValue::I64(7)));
//! assert_eq!(resource.get("telemetry.sdk.name"), Some(&AttrValue::from("datapunk-log")));
//! ```
//!
//! # Precedence
//!
//! Three layers, each overriding the one before, key by key:
//!
//! 1. **Defaults.**
//!    - `service.name`: `unknown_service:<executable name>` (the OpenTelemetry
//!      SDK convention; `unknown_service` when the executable's name cannot be
//!      found);
//!    - `service.instance.id`: a random UUID-v4-formatted id (36 lowercase
//!      characters), generated once per process: every resource built in the
//!      same process gets the same one ([`generate_instance_id`] makes fresh ones);
//!    - `telemetry.sdk.name` = `datapunk-log`, `telemetry.sdk.language` =
//!      `rust`, `telemetry.sdk.version` = this crate's version;
//!    - `process.pid`: the process id (an integer).
//! 2. **Environment.**
//!    - `OTEL_RESOURCE_ATTRIBUTES`: `key1=value1,key2=value2`, see below;
//!    - then `OTEL_SERVICE_NAME`, which sets `service.name` and wins over a
//!      `service.name` in `OTEL_RESOURCE_ATTRIBUTES` (the specification's rule).
//!
//!    Values from the environment are always strings. A variable that is set
//!    but empty (or only whitespace) counts as unset, as the OpenTelemetry
//!    specification requires; `OTEL_SERVICE_NAME` is trimmed of whitespace.
//! 3. **Builder.** Values given to [`ResourceBuilder`]; for the same key, the
//!    last call wins.
//!
//! `service.name` is always present and always a string: an empty service
//! name from the environment or the builder is ignored (the layer below
//! stays), and a non-string value given for it through
//! [`ResourceBuilder::attribute`] is stored as its text (`7` as `"7"`).
//!
//! # `OTEL_RESOURCE_ATTRIBUTES`
//!
//! A comma-separated list of `key=value` entries, in the W3C Baggage style
//! the OpenTelemetry specification names:
//!
//! - Whitespace around each key and value is trimmed (as [`str::trim`]).
//! - Keys and values are percent-decoded (`%20` is a space, `%2C` a comma,
//!   `%3D` an equals sign, `%C3%A9` is `é`; hex digits in either case; `+` is
//!   a plus sign, not a space). Characters need not be encoded, except `,`
//!   and `%` (and `=` in keys): the entry is split at its first `=`, so an
//!   unencoded `=` in a value is taken literally (`a=b=c` sets `a` to `b=c`).
//! - When a key occurs several times, the last entry wins.
//! - Empty entries (`a=1,,b=2`, a trailing comma) are skipped silently.
//!
//! An **invalid entry** is skipped on its own and counted in
//! [`invalid_env_entries`]; it never panics and never fails the build. An
//! entry is invalid when it has no `=`, its key is empty, a `%` is not
//! followed by two hex digits, or the decoded bytes are not UTF-8.
//! `build_from_env` also counts a variable whose value is not valid Unicode
//! as one invalid entry, and ignores it whole.
//!
//! The specification says that on a decoding error the whole variable
//! SHOULD be discarded. This module deliberately skips only the bad entry: one
//! mistyped entry should not cost a service its other attributes, and the
//! counter makes the mistake visible.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Environment variable holding resource attributes (`key1=value1,key2=value2`).
pub const RESOURCE_ATTRIBUTES_ENV: &str = "OTEL_RESOURCE_ATTRIBUTES";
/// Environment variable holding the service name; wins over a `service.name`
/// in [`RESOURCE_ATTRIBUTES_ENV`].
pub const SERVICE_NAME_ENV: &str = "OTEL_SERVICE_NAME";

/// Attribute key `service.name`.
pub const SERVICE_NAME: &str = "service.name";
/// Attribute key `service.version`.
pub const SERVICE_VERSION: &str = "service.version";
/// Attribute key `service.instance.id`.
pub const SERVICE_INSTANCE_ID: &str = "service.instance.id";
/// Attribute key `deployment.environment.name`.
pub const DEPLOYMENT_ENVIRONMENT_NAME: &str = "deployment.environment.name";
/// Attribute key `telemetry.sdk.name`.
pub const TELEMETRY_SDK_NAME: &str = "telemetry.sdk.name";
/// Attribute key `telemetry.sdk.language`.
pub const TELEMETRY_SDK_LANGUAGE: &str = "telemetry.sdk.language";
/// Attribute key `telemetry.sdk.version`.
pub const TELEMETRY_SDK_VERSION: &str = "telemetry.sdk.version";
/// Attribute key `process.pid`.
pub const PROCESS_PID: &str = "process.pid";

// ---------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------

/// An attribute value, typed as OTLP needs (string, bool, i64, f64).
#[derive(Clone, Debug, PartialEq)]
pub enum AttrValue {
    /// A string.
    Str(String),
    /// A boolean.
    Bool(bool),
    /// A signed 64-bit integer.
    I64(i64),
    /// A 64-bit float.
    F64(f64),
}

impl AttrValue {
    /// The string, if this is [`AttrValue::Str`].
    pub fn as_str(&self) -> Option<&str> {
        match self {
            AttrValue::Str(s) => Some(s),
            _ => None,
        }
    }
    /// The boolean, if this is [`AttrValue::Bool`].
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            AttrValue::Bool(b) => Some(*b),
            _ => None,
        }
    }
    /// The integer, if this is [`AttrValue::I64`].
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            AttrValue::I64(x) => Some(*x),
            _ => None,
        }
    }
    /// The float, if this is [`AttrValue::F64`].
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            AttrValue::F64(x) => Some(*x),
            _ => None,
        }
    }
}

/// The value as text: strings as they are, numbers and booleans as Rust
/// prints them.
impl fmt::Display for AttrValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttrValue::Str(s) => f.write_str(s),
            AttrValue::Bool(b) => fmt::Display::fmt(b, f),
            AttrValue::I64(x) => fmt::Display::fmt(x, f),
            AttrValue::F64(x) => fmt::Display::fmt(x, f),
        }
    }
}

impl From<String> for AttrValue {
    fn from(s: String) -> Self {
        AttrValue::Str(s)
    }
}
impl From<&str> for AttrValue {
    fn from(s: &str) -> Self {
        AttrValue::Str(s.to_owned())
    }
}
impl From<&String> for AttrValue {
    fn from(s: &String) -> Self {
        AttrValue::Str(s.clone())
    }
}
impl From<Cow<'_, str>> for AttrValue {
    fn from(s: Cow<'_, str>) -> Self {
        AttrValue::Str(s.into_owned())
    }
}
impl From<bool> for AttrValue {
    fn from(b: bool) -> Self {
        AttrValue::Bool(b)
    }
}
impl From<f64> for AttrValue {
    fn from(x: f64) -> Self {
        AttrValue::F64(x)
    }
}
impl From<f32> for AttrValue {
    fn from(x: f32) -> Self {
        AttrValue::F64(f64::from(x))
    }
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for AttrValue {
            fn from(x: $t) -> Self {
                AttrValue::I64(i64::from(x))
            }
        }
    )*};
}
// Integer types that always fit an i64 (`u64`, `usize`, `i128` do not: convert
// them with `i64::try_from` first).
from_int!(i8, i16, i32, i64, u8, u16, u32);

// ---------------------------------------------------------------------------
// Resource
// ---------------------------------------------------------------------------

/// The resource: ordered attributes with unique, non-empty keys;
/// `service.name` is always present and a string.
///
/// Attributes are in the order their keys first appeared: the defaults
/// (`service.name`, `service.instance.id`, `telemetry.sdk.name`,
/// `telemetry.sdk.language`, `telemetry.sdk.version`, `process.pid`), then the
/// new keys of the environment in their order, then those of the builder. A
/// layer that overrides a key replaces its value in place.
#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    attrs: Vec<(String, AttrValue)>,
}

impl Resource {
    /// Starts building a resource (see the [module docs](self) for precedence).
    pub fn builder() -> ResourceBuilder {
        ResourceBuilder::default()
    }

    /// The defaults overridden by the process environment: the same as
    /// `Resource::builder().build_from_env()`.
    pub fn from_env() -> Resource {
        Resource::builder().build_from_env()
    }

    /// The value of attribute `key`.
    pub fn get(&self, key: &str) -> Option<&AttrValue> {
        self.attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The attributes, in order (see [`Resource`]).
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &AttrValue)> {
        self.attrs.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The number of attributes.
    pub fn len(&self) -> usize {
        self.attrs.len()
    }

    /// Always false: `service.name` is always present.
    pub fn is_empty(&self) -> bool {
        self.attrs.is_empty()
    }

    /// The `service.name` attribute (always present).
    pub fn service_name(&self) -> &str {
        self.get(SERVICE_NAME)
            .and_then(AttrValue::as_str)
            .unwrap_or("unknown_service")
    }
}

/// Builds a [`Resource`]. Its values win over the environment and the
/// defaults; for the same key, the last call wins.
#[derive(Clone, Debug, Default)]
#[must_use = "a builder does nothing until built"]
pub struct ResourceBuilder {
    attrs: Vec<(String, AttrValue)>,
}

impl ResourceBuilder {
    /// Sets `service.name` (an empty name is ignored).
    pub fn service_name(self, name: impl Into<String>) -> Self {
        self.attribute(SERVICE_NAME, name.into())
    }

    /// Sets `service.version`.
    pub fn service_version(self, version: impl Into<String>) -> Self {
        self.attribute(SERVICE_VERSION, version.into())
    }

    /// Sets `deployment.environment.name` (`production`, `staging`, …).
    pub fn deployment_environment(self, environment: impl Into<String>) -> Self {
        self.attribute(DEPLOYMENT_ENVIRONMENT_NAME, environment.into())
    }

    /// Sets `service.instance.id`, replacing the generated one.
    pub fn service_instance_id(self, id: impl Into<String>) -> Self {
        self.attribute(SERVICE_INSTANCE_ID, id.into())
    }

    /// Sets attribute `key`, replacing an earlier value for it. An empty key
    /// is ignored.
    pub fn attribute(mut self, key: impl Into<String>, value: impl Into<AttrValue>) -> Self {
        let key = key.into();
        if key.is_empty() {
            return self;
        }
        let value = value.into();
        match self.attrs.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.attrs.push((key, value)),
        }
        self
    }

    /// Puts `lower` (a lower source's attributes, such as the
    /// configuration file's) under this builder's: a key set here wins.
    pub(crate) fn under(mut self, lower: ResourceBuilder) -> Self {
        let mine = std::mem::take(&mut self.attrs);
        for (k, v) in lower.attrs.into_iter().chain(mine) {
            self = self.attribute(k, v);
        }
        self
    }

    /// Builds the resource from the defaults, the process environment
    /// (`OTEL_RESOURCE_ATTRIBUTES`, `OTEL_SERVICE_NAME`) and this builder's
    /// values, in that order of precedence. A variable whose value is not
    /// valid Unicode is ignored and counted in [`invalid_env_entries`].
    pub fn build_from_env(self) -> Resource {
        self.build_with(|name| match std::env::var(name) {
            Ok(v) => Some(v),
            Err(std::env::VarError::NotPresent) => None,
            Err(std::env::VarError::NotUnicode(_)) => {
                INVALID_ENV_ENTRIES.fetch_add(1, Relaxed);
                None
            }
        })
    }

    /// Like [`build_from_env`](Self::build_from_env), reading each variable
    /// through `env` (`None`: unset) instead of the process environment.
    /// `build_with(|_| None)` ignores the environment.
    pub fn build_with(self, env: impl Fn(&str) -> Option<String>) -> Resource {
        let mut m = Merge::default();
        // Defaults.
        m.set(SERVICE_NAME.into(), default_service_name().into());
        m.set(SERVICE_INSTANCE_ID.into(), process_instance_id().into());
        m.set(TELEMETRY_SDK_NAME.into(), "datapunk-log".into());
        m.set(TELEMETRY_SDK_LANGUAGE.into(), "rust".into());
        m.set(
            TELEMETRY_SDK_VERSION.into(),
            env!("CARGO_PKG_VERSION").into(),
        );
        m.set(PROCESS_PID.into(), i64::from(std::process::id()).into());

        // Environment.
        if let Some(value) = env(RESOURCE_ATTRIBUTES_ENV) {
            let (attrs, invalid) = parse_resource_attributes(&value);
            INVALID_ENV_ENTRIES.fetch_add(invalid as u64, Relaxed);
            for (k, v) in attrs {
                m.set(k, AttrValue::Str(v));
            }
        }
        if let Some(name) = env(SERVICE_NAME_ENV) {
            m.set(SERVICE_NAME.into(), name.trim().into());
        }

        // Builder.
        for (k, v) in self.attrs {
            m.set(k, v);
        }
        Resource { attrs: m.attrs }
    }
}

/// Attributes with an index, so a long `OTEL_RESOURCE_ATTRIBUTES` merges in
/// linear time.
#[derive(Default)]
struct Merge {
    attrs: Vec<(String, AttrValue)>,
    index: HashMap<String, usize>,
}

impl Merge {
    fn set(&mut self, key: String, value: AttrValue) {
        let value = if key == SERVICE_NAME {
            // Always a non-empty string; an empty one leaves the layer below.
            let text = match value {
                AttrValue::Str(s) => s,
                other => other.to_string(),
            };
            if text.is_empty() {
                return;
            }
            AttrValue::Str(text)
        } else {
            value
        };
        match self.index.get(&key) {
            Some(&i) => self.attrs[i].1 = value,
            None => {
                self.index.insert(key.clone(), self.attrs.len());
                self.attrs.push((key, value));
            }
        }
    }
}

// ---------------------------------------------------------------------------
// OTEL_RESOURCE_ATTRIBUTES
// ---------------------------------------------------------------------------

static INVALID_ENV_ENTRIES: AtomicU64 = AtomicU64::new(0);

/// How many invalid `OTEL_RESOURCE_ATTRIBUTES` entries (and non-Unicode
/// variables) building resources has skipped, process-wide, since start.
pub fn invalid_env_entries() -> u64 {
    INVALID_ENV_ENTRIES.load(Relaxed)
}

/// Parses an `OTEL_RESOURCE_ATTRIBUTES` value as the builder does (see the
/// [module docs](self)): the valid entries as decoded `(key, value)` pairs, in
/// order and with repeated keys kept (the builder lets the last one win), and
/// how many entries were invalid. Touches no counter.
pub fn parse_resource_attributes(value: &str) -> (Vec<(String, String)>, usize) {
    let mut out = Vec::new();
    let mut invalid = 0;
    for entry in value.split(',') {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        match parse_entry(entry) {
            Some(kv) => out.push(kv),
            None => invalid += 1,
        }
    }
    (out, invalid)
}

/// One non-empty, trimmed entry; `None` when invalid.
fn parse_entry(entry: &str) -> Option<(String, String)> {
    let (key, value) = entry.split_once('=')?;
    let key = percent_decode(key.trim())?;
    if key.is_empty() {
        return None;
    }
    let value = percent_decode(value.trim())?;
    Some((key, value))
}

/// Strict percent-decoding: `None` when a `%` is not followed by two hex
/// digits or the result is not UTF-8. (Also used for OTLP header values.)
pub(crate) fn percent_decode(s: &str) -> Option<String> {
    let escapes_valid = s.split('%').skip(1).all(|rest| {
        rest.as_bytes()
            .get(..2)
            .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
    });
    if !escapes_valid {
        return None;
    }
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(std::borrow::Cow::into_owned)
}

// ---------------------------------------------------------------------------
// Defaults
// ---------------------------------------------------------------------------

/// `unknown_service:<executable name>`, or `unknown_service`.
fn default_service_name() -> String {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        let exe = std::env::current_exe()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .or_else(|| {
                let arg0 = std::env::args_os().next()?;
                let name = std::path::Path::new(&arg0).file_name()?;
                Some(name.to_string_lossy().into_owned())
            })
            .filter(|n| !n.is_empty());
        match exe {
            Some(n) => format!("unknown_service:{n}"),
            None => "unknown_service".to_owned(),
        }
    })
    .clone()
}

/// This process's default `service.instance.id`, generated on first use.
fn process_instance_id() -> String {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(generate_instance_id).clone()
}

/// A new random id in the UUID version 4 format: 36 lowercase characters,
/// `xxxxxxxx-xxxx-4xxx-Yxxx-xxxxxxxxxxxx` with `Y` one of `8 9 a b`.
///
/// From a fast, non-cryptographic generator (SipHash with a fresh random key
/// over a counter, the time and the process id): distinct ids, not secret
/// ones. The default `service.instance.id` is one of these, made once per
/// process.
pub fn generate_instance_id() -> String {
    let mut x = crate::id::random_u128();
    // Version 4 (bits 76..80) and the RFC 4122 variant `10` (bits 62..64).
    x = (x & !(0xF << 76)) | (0x4 << 76);
    x = (x & !(0x3 << 62)) | (0x2 << 62);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        x >> 96,
        (x >> 80) & 0xFFFF,
        (x >> 64) & 0xFFFF,
        (x >> 48) & 0xFFFF,
        x & 0xFFFF_FFFF_FFFF
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_strict() {
        assert_eq!(percent_decode("a%20b").as_deref(), Some("a b"));
        assert_eq!(percent_decode("%e2%82%AC").as_deref(), Some("€"));
        assert_eq!(percent_decode("a+b").as_deref(), Some("a+b"));
        assert_eq!(percent_decode("%"), None);
        assert_eq!(percent_decode("%2"), None);
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%FF"), None);
        assert_eq!(percent_decode("%C3"), None);
    }

    #[test]
    fn uuid_layout() {
        let id = generate_instance_id();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "{id}");
    }
}
