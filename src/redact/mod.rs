//! Redaction of secrets, on by default, before every sink and every
//! exporter.
//!
//! - **By key** ([`Rule::Key`]): a field whose key names a secret
//!   (`password`, `token`, `authorization`, …) is replaced whatever its
//!   value. The decision is made once per call site and field; a field that
//!   is not redacted costs nothing per record.
//! - **By value**: secrets recognized by their shape in string values
//!   (fields, `%`/`?` values, formatted messages, error messages, span
//!   attributes and events): [`Rule::Bearer`], [`Rule::Jwt`],
//!   [`Rule::CloudKey`] (with [`DEFAULT_TOKEN_PREFIXES`]), [`Rule::Pem`],
//!   [`Rule::UrlCredentials`], [`Rule::Card`] on by default,
//!   [`Rule::Email`] off. Scanned on the writer and export threads, never on
//!   the calling thread; the JSON writer stays free of allocation.
//!
//! A match is replaced by [`MASK`], or by a keyed hash
//! ([`Replacement::Hmac`], feature `redact-hmac`):
//! `hmac-sha256:<key id>:<32 hex digits>`. [`crate::Stats::redacted`]
//! counts the values replaced, [`crate::Stats::redacted_by_rule`] by rule.

use std::fmt;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::encode::json;
use crate::record::Val;

pub(crate) mod hash;
mod patterns;

pub use crate::secret::MASK;
pub use patterns::Match;
pub(crate) use patterns::Patterns;

/// The environment variable that turns rules on and off, over the builder:
/// a comma-separated list applied in order, each a rule's name (on),
/// `-name` (off), `default` (by key and the default patterns), `all` or
/// `none`. `default,email,-card`.
pub const REDACT_ENV: &str = "DATAPUNK_LOG_REDACT";
/// The environment variable holding the key of the keyed-hash replacement:
/// hex, or `base64:` then base64; at least 16 bytes. Needs the feature
/// `redact-hmac` and [`HMAC_KEY_ID_ENV`]; wins over the builder's key.
pub const HMAC_KEY_ENV: &str = "DATAPUNK_LOG_REDACT_HMAC_KEY";
/// The environment variable naming the key of [`HMAC_KEY_ENV`] in the
/// output (1 to 32 bytes of `[A-Za-z0-9._-]`).
pub const HMAC_KEY_ID_ENV: &str = "DATAPUNK_LOG_REDACT_HMAC_KEY_ID";

/// The keys redacted by default (matched case-insensitively, `-` and `_`
/// alike, against each dot-separated part of a field's key, alone or as a
/// `_`-separated word at its start or end: `db_password`, `token_id`,
/// `http.request.header.authorization`).
pub const DEFAULT_KEYS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "secret",
    "client_secret",
    "api_key",
    "apikey",
    "x_api_key",
    "auth",
    "authorization",
    "proxy_authorization",
    "credentials",
    "credential",
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "bearer",
    "session",
    "sessionid",
    "session_id",
    "cookie",
    "set_cookie",
    "private_key",
    "privatekey",
    "secret_key",
    "secret_access_key",
    "csrf",
    "csrftoken",
    "xsrf_token",
    "x_auth_token",
];

/// [`DEFAULT_KEYS`], owned (what a builder starts with).
pub(crate) fn default_keys() -> Vec<String> {
    DEFAULT_KEYS.iter().map(|k| (*k).to_string()).collect()
}

/// The keys in force (normalized); empty: redaction by key is off.
static KEYS: RwLock<Vec<String>> = RwLock::new(Vec::new());
/// Set once the defaults or a configuration were installed.
static INSTALLED: std::sync::Once = std::sync::Once::new();
/// Values replaced, by rule (index `Rule as usize`).
static COUNTS: [AtomicU64; Rule::ALL.len()] = [const { AtomicU64::new(0) }; Rule::ALL.len()];

fn normalize(k: &str) -> String {
    k.trim()
        .chars()
        .map(|c| {
            if c == '-' {
                '_'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

/// Installs the keys of a configuration (`None`: off).
pub(crate) fn install(keys: Option<&[String]>) {
    INSTALLED.call_once(|| {});
    let keys = keys.map_or_else(Vec::new, |k| k.iter().map(|k| normalize(k)).collect());
    *KEYS.write().unwrap_or_else(|e| e.into_inner()) = keys;
}

/// Whether a field's key names a secret under the keys in force.
pub fn is_secret_key(key: &str) -> bool {
    if !INSTALLED.is_completed() {
        install(Some(&default_keys()));
    }
    let keys = KEYS.read().unwrap_or_else(|e| e.into_inner());
    if keys.is_empty() {
        return false;
    }
    // No allocation: runs for attributes recorded at run time on the
    // export path.
    key.split('.').map(str::trim).any(|part| {
        let part = part.as_bytes();
        keys.iter().any(|k| {
            let k = k.as_bytes();
            let n = part.len();
            let m = k.len();
            n >= m
                && ((n == m && same(part, k))
                    || (n > m && same(&part[n - m..], k) && norm(part[n - m - 1]) == b'_')
                    || (n > m && same(&part[..m], k) && norm(part[m]) == b'_'))
        })
    })
}

/// A key byte as the list holds it: ASCII lower case, `-` as `_`.
#[inline]
fn norm(b: u8) -> u8 {
    if b == b'-' {
        b'_'
    } else {
        b.to_ascii_lowercase()
    }
}

/// `part` equals the normalized `k`, byte by normalized byte.
fn same(part: &[u8], k: &[u8]) -> bool {
    part.len() == k.len() && part.iter().zip(k).all(|(a, b)| norm(*a) == *b)
}

/// Bit `i` set when field `i` of `fields` names a secret.
pub(crate) fn mask_of(fields: &[&'static str]) -> u64 {
    fields
        .iter()
        .take(64)
        .enumerate()
        .filter(|(_, f)| is_secret_key(crate::callsite::field_key(f)))
        .fold(0, |m, (i, _)| m | 1 << i)
}

/// Counts `n` values replaced by `rule`.
#[inline]
pub(crate) fn count(rule: Rule, n: u64) {
    if n != 0 {
        COUNTS[rule as usize].fetch_add(n, Relaxed);
    }
}

/// Values replaced so far, by rule.
pub(crate) fn counts() -> RedactCounts {
    let c = |r: Rule| COUNTS[r as usize].load(Relaxed);
    RedactCounts {
        key: c(Rule::Key),
        bearer: c(Rule::Bearer),
        jwt: c(Rule::Jwt),
        cloud_key: c(Rule::CloudKey),
        pem: c(Rule::Pem),
        url_credentials: c(Rule::UrlCredentials),
        card: c(Rule::Card),
        email: c(Rule::Email),
    }
}

/// A redaction rule. Each has a stable snake_case [`Rule::name`], used by
/// [`REDACT_ENV`] and in [`RedactCounts`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Rule {
    /// `key`: a field whose key names a secret ([`DEFAULT_KEYS`]), whatever
    /// its value. Default on.
    Key = 0,
    /// `bearer`: the credential of `Bearer <token>` and `Basic <base64>`
    /// (the scheme in any case; the scheme itself is kept). Default on.
    Bearer,
    /// `jwt`: a JSON Web Token, base64url segments joined by `.`, the first
    /// starting `eyJ`. Default on.
    Jwt,
    /// `cloud_key`: AWS access key ids (`AKIA`, `ASIA`, … + 16), Google API
    /// keys (`AIza` + 35), and tokens that start with a known prefix
    /// ([`DEFAULT_TOKEN_PREFIXES`], extendable). Default on.
    CloudKey,
    /// `pem`: a PEM private key block, `-----BEGIN … PRIVATE KEY-----`
    /// through its `-----END` line (or the end of the text). Default on.
    Pem,
    /// `url_credentials`: the user info of `scheme://user:password@host`,
    /// user name and password (a URL with a user name alone is left).
    /// Default on.
    UrlCredentials,
    /// `card`: a payment card number, 13 to 19 digits (groups of 3 to 6
    /// joined by single spaces or dashes allowed), Luhn-valid. Default on.
    Card,
    /// `email`: an e-mail address. Default off.
    Email,
}

impl Rule {
    /// Every rule.
    pub const ALL: [Rule; 8] = [
        Rule::Key,
        Rule::Bearer,
        Rule::Jwt,
        Rule::CloudKey,
        Rule::Pem,
        Rule::UrlCredentials,
        Rule::Card,
        Rule::Email,
    ];
    /// The value patterns on by default (all but [`Rule::Email`]).
    pub const DEFAULT_PATTERNS: [Rule; 6] = [
        Rule::Bearer,
        Rule::Jwt,
        Rule::CloudKey,
        Rule::Pem,
        Rule::UrlCredentials,
        Rule::Card,
    ];

    /// The rule's stable name: `key`, `bearer`, `jwt`, `cloud_key`, `pem`,
    /// `url_credentials`, `card`, `email`.
    pub const fn name(self) -> &'static str {
        match self {
            Rule::Key => "key",
            Rule::Bearer => "bearer",
            Rule::Jwt => "jwt",
            Rule::CloudKey => "cloud_key",
            Rule::Pem => "pem",
            Rule::UrlCredentials => "url_credentials",
            Rule::Card => "card",
            Rule::Email => "email",
        }
    }

    /// The rule of a [`Rule::name`].
    pub fn from_name(name: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.name() == name)
    }

    const fn bit(self) -> u16 {
        1 << self as u16
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Bits of [`Rule::DEFAULT_PATTERNS`].
pub(crate) const DEFAULT_PATTERN_BITS: u16 = {
    let mut m = 0;
    let mut i = 0;
    while i < Rule::DEFAULT_PATTERNS.len() {
        m |= Rule::DEFAULT_PATTERNS[i].bit();
        i += 1;
    }
    m
};

/// Token prefixes of [`Rule::CloudKey`] by default: a token is the prefix
/// then at least 8 bytes of `[A-Za-z0-9_-]` (and `.` between them), not
/// inside a longer word. GitHub (`ghp_` personal, `gho_` OAuth, `ghu_`
/// user-to-server, `ghs_` server-to-server, `ghr_` refresh,
/// `github_pat_` fine-grained), GitLab (`glpat-`), Slack (`xoxb-` bot,
/// `xoxp-` user, `xoxa-`, `xoxr-`, `xoxe-`, `xapp-`), Stripe (`sk_live_`,
/// `rk_live_`), npm (`npm_`), PyPI (`pypi-`), Hugging Face (`hf_`),
/// OpenAI (`sk-proj-`), Anthropic (`sk-ant-`), SendGrid (`SG.`),
/// Shopify (`shpat_`), DigitalOcean (`dop_v1_`).
pub const DEFAULT_TOKEN_PREFIXES: &[&str] = &[
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "glpat-",
    "xoxb-",
    "xoxp-",
    "xoxa-",
    "xoxr-",
    "xoxe-",
    "xapp-",
    "sk_live_",
    "rk_live_",
    "npm_",
    "pypi-",
    "hf_",
    "sk-proj-",
    "sk-ant-",
    "SG.",
    "shpat_",
    "dop_v1_",
];

/// Values replaced, by rule ([`crate::Stats::redacted_by_rule`]), counted
/// once per output: a value written to the JSON sinks and exported counts
/// twice.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RedactCounts {
    /// [`Rule::Key`].
    pub key: u64,
    /// [`Rule::Bearer`].
    pub bearer: u64,
    /// [`Rule::Jwt`].
    pub jwt: u64,
    /// [`Rule::CloudKey`].
    pub cloud_key: u64,
    /// [`Rule::Pem`].
    pub pem: u64,
    /// [`Rule::UrlCredentials`].
    pub url_credentials: u64,
    /// [`Rule::Card`].
    pub card: u64,
    /// [`Rule::Email`].
    pub email: u64,
}

impl RedactCounts {
    /// The count of one rule.
    pub fn get(&self, rule: Rule) -> u64 {
        match rule {
            Rule::Key => self.key,
            Rule::Bearer => self.bearer,
            Rule::Jwt => self.jwt,
            Rule::CloudKey => self.cloud_key,
            Rule::Pem => self.pem,
            Rule::UrlCredentials => self.url_credentials,
            Rule::Card => self.card,
            Rule::Email => self.email,
        }
    }

    /// All rules together ([`crate::Stats::redacted`]).
    pub fn total(&self) -> u64 {
        Rule::ALL.iter().map(|r| self.get(*r)).sum()
    }
}

/// What a redacted value is written as.
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Replacement {
    /// [`MASK`], `[REDACTED]` (the default).
    #[default]
    Mask,
    /// `hmac-sha256:<key_id>:<hex>`: the first 16 bytes of
    /// HMAC-SHA256(`key`, value) in lower-case hex (feature `redact-hmac`).
    /// Equal values under one key give equal text; the key id (1 to 32
    /// bytes of `[A-Za-z0-9._-]`) tells keys apart. The key has at least
    /// 16 bytes; give it from a secret store or [`HMAC_KEY_ENV`], never
    /// from a file in the repository.
    #[cfg(feature = "redact-hmac")]
    Hmac {
        /// Names the key in the output.
        key_id: String,
        /// The key.
        key: Vec<u8>,
    },
}

impl fmt::Debug for Replacement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Replacement::Mask => f.write_str("Mask"),
            #[cfg(feature = "redact-hmac")]
            Replacement::Hmac { key_id, key } => f
                .debug_struct("Hmac")
                .field("key_id", key_id)
                .field("key", &format_args!("<{} bytes>", key.len()))
                .finish(),
        }
    }
}

/// The redaction settings of a builder.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    /// The keys redacted (`None`: redaction by key is off).
    pub keys: Option<Vec<String>>,
    /// Value patterns on (bit `Rule as u16`; never `Rule::Key`).
    pub patterns: u16,
    pub prefixes: Vec<String>,
    pub replacement: Replacement,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            keys: Some(default_keys()),
            patterns: DEFAULT_PATTERN_BITS,
            prefixes: DEFAULT_TOKEN_PREFIXES
                .iter()
                .map(|p| (*p).to_string())
                .collect(),
            replacement: Replacement::Mask,
        }
    }
}

impl Config {
    /// Replaces the redacted keys (and turns redaction by key on).
    pub(crate) fn set_keys(&mut self, keys: Vec<String>) {
        self.keys = Some(keys);
    }

    /// Adds a key to those redacted (and turns redaction by key on, with
    /// the default keys if it was off).
    pub(crate) fn add_key(&mut self, key: String) {
        self.set(Rule::Key, true);
        if let Some(keys) = self.keys.as_mut() {
            keys.push(key);
        }
    }

    /// The value patterns in force, exactly these; `Rule::Key` is ignored.
    pub(crate) fn set_patterns(&mut self, rules: impl IntoIterator<Item = Rule>) {
        self.patterns = 0;
        for r in rules {
            if r != Rule::Key {
                self.set(r, true);
            }
        }
    }

    /// Everything on (the default keys if none were given) or off.
    pub(crate) fn set_all(&mut self, on: bool) {
        if on {
            if self.keys.is_none() {
                self.keys = Some(default_keys());
            }
            if self.patterns == 0 {
                self.patterns = DEFAULT_PATTERN_BITS;
            }
        } else {
            self.keys = None;
            self.patterns = 0;
        }
    }

    /// One rule on or off (`Rule::Key` on: the default keys if none).
    pub(crate) fn set(&mut self, rule: Rule, on: bool) {
        match (rule, on) {
            (Rule::Key, true) => {
                if self.keys.is_none() {
                    self.keys = Some(default_keys());
                }
            }
            (Rule::Key, false) => self.keys = None,
            (r, true) => self.patterns |= r.bit(),
            (r, false) => self.patterns &= !r.bit(),
        }
    }

    /// Applies [`REDACT_ENV`], [`HMAC_KEY_ENV`] and [`HMAC_KEY_ID_ENV`] (a
    /// set-but-empty variable counts as unset). The error names the
    /// variable and the bad part.
    pub(crate) fn apply_env(
        &mut self,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<(), (&'static str, String)> {
        let get = |name| var(name).filter(|v| !v.trim().is_empty());
        if let Some(v) = get(REDACT_ENV) {
            self.apply_rules(&v).map_err(|e| (REDACT_ENV, e))?;
        }
        match (get(HMAC_KEY_ENV), get(HMAC_KEY_ID_ENV)) {
            (None, None) => {}
            (None, Some(_)) => {
                return Err((HMAC_KEY_ID_ENV, format!("set without {HMAC_KEY_ENV}")));
            }
            (Some(_), None) => {
                return Err((HMAC_KEY_ENV, format!("set without {HMAC_KEY_ID_ENV}")));
            }
            (Some(key), Some(key_id)) => {
                let key = hash::parse_key(&key).map_err(|e| (HMAC_KEY_ENV, e))?;
                let key_id = key_id.trim().to_string();
                hash::check(&key_id, &[0; hash::MIN_KEY_BYTES])
                    .map_err(|e| (HMAC_KEY_ID_ENV, e))?;
                hash::check(&key_id, &key).map_err(|e| (HMAC_KEY_ENV, e))?;
                self.replacement = hmac_replacement(key_id, key).map_err(|e| (HMAC_KEY_ENV, e))?;
            }
        }
        Ok(())
    }

    /// The items of [`REDACT_ENV`], in order.
    fn apply_rules(&mut self, v: &str) -> Result<(), String> {
        for item in v.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (on, name) = match item.strip_prefix('-') {
                Some(n) => (false, n.trim()),
                None => (true, item),
            };
            match (name, on) {
                ("none", true) => self.set_all(false),
                ("all", true) => {
                    self.set_all(true);
                    self.patterns = Rule::ALL.iter().fold(0, |m, r| m | r.bit()) & !Rule::Key.bit();
                }
                ("default", true) => {
                    self.set(Rule::Key, true);
                    self.patterns = DEFAULT_PATTERN_BITS;
                }
                _ => {
                    let rule = Rule::from_name(name).ok_or_else(|| {
                        format!(
                            "unknown rule '{name}' (rules: {}; also default, all, none; '-' turns one off)",
                            Rule::ALL.map(Rule::name).join(", ")
                        )
                    })?;
                    self.set(rule, on);
                }
            }
        }
        Ok(())
    }

    /// Checks the prefixes and the key; the redactor of these settings.
    pub(crate) fn build(&self) -> Result<Redactor, String> {
        for p in &self.prefixes {
            patterns::check_prefix(p)?;
        }
        Redactor::new(self.patterns, &self.prefixes, &self.replacement)
    }
}

#[cfg(feature = "redact-hmac")]
fn hmac_replacement(key_id: String, key: Vec<u8>) -> Result<Replacement, String> {
    Ok(Replacement::Hmac { key_id, key })
}

#[cfg(not(feature = "redact-hmac"))]
fn hmac_replacement(_: String, _: Vec<u8>) -> Result<Replacement, String> {
    Err(
        "this build of datapunk-log lacks the feature `redact-hmac` (keyed-hash replacement)"
            .into(),
    )
}

/// The redaction in force, compiled: value patterns and the replacement.
/// Held by the engine; used by the writer and the export thread.
#[derive(Debug)]
pub(crate) struct Redactor {
    patterns: Patterns,
    #[cfg(feature = "redact-hmac")]
    keyed: Option<hash::Keyed>,
}

impl Redactor {
    /// `prefixes` already checked.
    pub(crate) fn new(
        patterns: u16,
        prefixes: &[String],
        replacement: &Replacement,
    ) -> Result<Redactor, String> {
        #[cfg(not(feature = "redact-hmac"))]
        let Replacement::Mask = replacement;
        Ok(Redactor {
            patterns: Patterns::new(patterns, prefixes),
            #[cfg(feature = "redact-hmac")]
            keyed: match replacement {
                Replacement::Mask => None,
                Replacement::Hmac { key_id, key } => {
                    hash::check(key_id, key)?;
                    Some(hash::Keyed::new(key_id, key))
                }
            },
        })
    }

    /// The value patterns in force.
    pub(crate) fn patterns(&self) -> &Patterns {
        &self.patterns
    }

    /// Redacted values are written as the mask (not hashed).
    #[inline]
    pub(crate) fn masks(&self) -> bool {
        #[cfg(feature = "redact-hmac")]
        {
            self.keyed.is_none()
        }
        #[cfg(not(feature = "redact-hmac"))]
        {
            true
        }
    }

    /// Appends the replacement of `secret` found by `rule` (no quotes; it
    /// needs no escaping).
    fn replace(&self, out: &mut Vec<u8>, secret: &[u8], rule: Rule) {
        #[cfg(feature = "redact-hmac")]
        if let Some(k) = &self.keyed {
            k.write(out, secret, rule == Rule::Card);
            return;
        }
        let _ = (secret, rule);
        out.extend_from_slice(MASK.as_bytes());
    }

    /// Appends `s` (UTF-8) JSON-escaped in quotes, each secret replaced
    /// and counted.
    #[inline]
    pub(crate) fn write_json(&self, out: &mut Vec<u8>, s: &[u8]) {
        out.reserve(s.len() + 2);
        out.push(b'"');
        self.write_json_inner(out, s, true);
        out.push(b'"');
    }

    /// [`Redactor::write_json`] without the quotes; `counted` false for a
    /// second copy of a value in the same output (an error's message in
    /// its stack trace).
    #[inline]
    pub(crate) fn write_json_inner(&self, out: &mut Vec<u8>, s: &[u8], counted: bool) {
        self.write_escaped(out, s, counted, json::write_str_inner);
    }

    /// Appends `s` (UTF-8) through `escape` (a line format's escaping of a
    /// stretch of text), each secret replaced and, when `counted`, counted.
    /// The replacement (the mask or a hash) is plain ASCII: it needs no
    /// escaping in any format.
    #[inline(always)]
    pub(crate) fn write_escaped(
        &self,
        out: &mut Vec<u8>,
        s: &[u8],
        counted: bool,
        escape: impl Fn(&mut Vec<u8>, &[u8]),
    ) {
        let mut last = 0;
        while let Some(m) = self.patterns.find(s, last) {
            escape(out, &s[last..m.start]);
            self.replace(out, &s[m.start..m.end], m.rule);
            if counted {
                count(m.rule, 1);
            }
            last = m.end;
        }
        escape(out, &s[last..]);
    }

    /// Like [`Redactor::write_json`] for any bytes: invalid UTF-8 sequences
    /// become U+FFFD as in `json::write_str_lossy`. True if any did.
    pub(crate) fn write_json_lossy(&self, out: &mut Vec<u8>, s: &[u8]) -> bool {
        json::write_str_lossy_with(out, s, |out, valid| self.write_json_inner(out, valid, true))
    }

    /// Appends `s` with each secret replaced (no escaping), counted, when
    /// it holds one; false (and nothing appended) otherwise. For the export
    /// thread.
    pub(crate) fn scrub(&self, out: &mut Vec<u8>, s: &[u8]) -> bool {
        let Some(mut m) = self.patterns.find(s, 0) else {
            return false;
        };
        let mut last = 0;
        loop {
            out.extend_from_slice(&s[last..m.start]);
            self.replace(out, &s[m.start..m.end], m.rule);
            count(m.rule, 1);
            last = m.end;
            match self.patterns.find(s, last) {
                Some(next) => m = next,
                None => break,
            }
        }
        out.extend_from_slice(&s[last..]);
        true
    }

    /// Appends the replacement of a value redacted by its key (no quotes),
    /// counted: the mask, or the hash of its text (a string's bytes, an
    /// error's message, any other value's JSON text).
    pub(crate) fn write_key_replacement(&self, out: &mut Vec<u8>, v: &Val<'_>) {
        count(Rule::Key, 1);
        if self.masks() {
            out.extend_from_slice(MASK.as_bytes());
            return;
        }
        // The value's text goes where the hash will, is hashed, and is
        // overwritten: no scratch buffer.
        let start = out.len();
        match *v {
            Val::Str(s) | Val::Bytes(s) => out.extend_from_slice(s),
            Val::Error { message, .. } => out.extend_from_slice(message),
            Val::Char(c) => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
            Val::None => out.extend_from_slice(b"null"),
            Val::Bool(b) => json::write_bool(out, b),
            Val::U64(x) => json::write_u64(out, x),
            Val::I64(x) => json::write_i64(out, x),
            Val::U128(x) => json::write_u128(out, x),
            Val::I128(x) => json::write_i128(out, x),
            Val::F64(x) => json::write_f64(out, x),
            Val::F32(x) => json::write_f32(out, x),
        }
        let mut hashed = [0u8; hash::MAX_LEN];
        let n = self.hash_into(&mut hashed, &out[start..]);
        out.truncate(start);
        out.extend_from_slice(&hashed[..n]);
    }

    /// Writes the keyed hash of `text` into `buf`; returns its length.
    fn hash_into(&self, buf: &mut [u8; hash::MAX_LEN], text: &[u8]) -> usize {
        #[cfg(feature = "redact-hmac")]
        if let Some(k) = &self.keyed {
            return k.write_to(buf, text, false);
        }
        let _ = text;
        buf[..MASK.len()].copy_from_slice(MASK.as_bytes());
        MASK.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redactor(c: &Config) -> Redactor {
        c.build().expect("valid")
    }

    /// `s` as the writer writes a string field, parsed back.
    fn json_of(r: &Redactor, s: &str) -> String {
        let mut out = Vec::new();
        r.write_json(&mut out, s.as_bytes());
        serde_json::from_slice(&out).expect("a JSON string")
    }

    #[test]
    fn strings_are_written_escaped_with_their_secrets_replaced() {
        let r = redactor(&Config::default());
        assert_eq!(
            json_of(&r, "a \"Bearer abcdefgh12345678\"\n\u{1}é"),
            "a \"Bearer [REDACTED]\"\n\u{1}é"
        );
        assert_eq!(
            json_of(
                &r,
                "db=postgres://app:hunter2@db/x card=4111 1111 1111 1111"
            ),
            "db=postgres://[REDACTED]@db/x card=[REDACTED]"
        );
        assert_eq!(json_of(&r, "nothing here 12345"), "nothing here 12345");
        // Invalid UTF-8: U+FFFD, and the secrets around it still found.
        let mut out = Vec::new();
        assert!(r.write_json_lossy(&mut out, b"\xffAKIAIOSFODNN7EXAMPLE\xfe ok"));
        let back: String = serde_json::from_slice(&out).unwrap();
        assert_eq!(back, "\u{FFFD}[REDACTED]\u{FFFD} ok");
        // The export side: unescaped, and nothing when there is no secret.
        let mut raw = Vec::new();
        assert!(!r.scrub(&mut raw, b"plain \"text\""));
        assert!(raw.is_empty());
        assert!(r.scrub(&mut raw, b"k=\"AKIAIOSFODNN7EXAMPLE\""));
        assert_eq!(raw, b"k=\"[REDACTED]\"");
    }

    #[test]
    fn rules_turn_on_and_off() {
        let mut c = Config::default();
        c.set(Rule::Email, true);
        c.set(Rule::Card, false);
        let r = redactor(&c);
        assert_eq!(
            json_of(&r, "bob@example.com 4111111111111111"),
            "[REDACTED] 4111111111111111"
        );
        c.set_all(false);
        assert_eq!(c.keys, None);
        assert_eq!(
            json_of(&redactor(&c), "Bearer abcdefgh12345678"),
            "Bearer abcdefgh12345678"
        );
        c.set_all(true);
        assert_eq!(c.keys.as_ref().map(Vec::len), Some(DEFAULT_KEYS.len()));
        assert_eq!(c.patterns, DEFAULT_PATTERN_BITS);
    }

    #[test]
    fn token_prefixes_can_be_added_and_are_checked() {
        let mut c = Config::default();
        c.prefixes.push("acme_live_".into());
        assert_eq!(
            json_of(&redactor(&c), "key acme_live_0123456789abcdef."),
            "key [REDACTED]."
        );
        for bad in ["x", "nosep", "bad prefix_", &"a_".repeat(17)] {
            let mut c = Config::default();
            c.prefixes.push(bad.into());
            assert!(c.build().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_environment_turns_rules_on_and_off() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_string())
            }
        };
        let mut c = Config::default();
        c.apply_env(env(&[(REDACT_ENV, "email, -card,-key")]))
            .unwrap();
        assert_eq!(c.keys, None);
        assert_eq!(
            c.patterns,
            DEFAULT_PATTERN_BITS & !Rule::Card.bit() | Rule::Email.bit()
        );
        c.apply_env(env(&[(REDACT_ENV, "none,jwt")])).unwrap();
        assert_eq!((c.keys.is_none(), c.patterns), (true, Rule::Jwt.bit()));
        c.apply_env(env(&[(REDACT_ENV, "default")])).unwrap();
        assert_eq!((c.keys.is_some(), c.patterns), (true, DEFAULT_PATTERN_BITS));
        c.apply_env(env(&[(REDACT_ENV, "all")])).unwrap();
        assert_eq!(c.patterns, DEFAULT_PATTERN_BITS | Rule::Email.bit());
        // Set but empty: unset.
        c.apply_env(env(&[(REDACT_ENV, "  ")])).unwrap();
        let e = c.apply_env(env(&[(REDACT_ENV, "jwt,cards")])).unwrap_err();
        assert_eq!(e.0, REDACT_ENV);
        assert!(e.1.contains("unknown rule 'cards'"), "{}", e.1);
        for (pairs, var, part) in [
            (
                &[(HMAC_KEY_ENV, "00112233445566778899aabbccddeeff")][..],
                HMAC_KEY_ENV,
                "without",
            ),
            (&[(HMAC_KEY_ID_ENV, "k1")][..], HMAC_KEY_ID_ENV, "without"),
            (
                &[(HMAC_KEY_ENV, "zz"), (HMAC_KEY_ID_ENV, "k1")][..],
                HMAC_KEY_ENV,
                "not hex",
            ),
            (
                &[(HMAC_KEY_ENV, "0011"), (HMAC_KEY_ID_ENV, "k1")][..],
                HMAC_KEY_ENV,
                "at least 16",
            ),
            (
                &[
                    (HMAC_KEY_ENV, "00112233445566778899aabbccddeeff"),
                    (HMAC_KEY_ID_ENV, "k:1"),
                ][..],
                HMAC_KEY_ID_ENV,
                "key id",
            ),
        ] {
            let pairs: &'static [(&'static str, &'static str)] = pairs;
            let e = Config::default().apply_env(env(pairs)).unwrap_err();
            assert_eq!(e.0, var, "{pairs:?}");
            assert!(e.1.contains(part), "{pairs:?}: {}", e.1);
        }
    }

    #[cfg(feature = "redact-hmac")]
    #[test]
    fn keyed_hashes_are_stable_per_key_and_differ_across_keys() {
        let keyed = |id: &str, key: &[u8]| {
            redactor(&Config {
                replacement: Replacement::Hmac {
                    key_id: id.into(),
                    key: key.to_vec(),
                },
                ..Config::default()
            })
        };
        let a = keyed("k1", &[1; 32]);
        let s = "Bearer abcdefgh12345678 and 4111-1111-1111-1111";
        let out = json_of(&a, s);
        assert_eq!(out, json_of(&keyed("k1", &[1; 32]), s));
        assert!(!out.contains("abcdefgh12345678") && !out.contains("4111"));
        let hashes: Vec<&str> = out
            .split(' ')
            .filter(|w| w.starts_with("hmac-sha256:k1:"))
            .collect();
        assert_eq!(hashes.len(), 2, "{out}");
        for h in &hashes {
            let hex = h.strip_prefix("hmac-sha256:k1:").unwrap();
            assert_eq!(hex.len(), 32);
            assert!(
                hex.bytes()
                    .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
            );
        }
        // A card's digits are hashed, whatever the separators.
        assert_eq!(
            json_of(&a, "4111111111111111"),
            json_of(&a, "4111 1111 1111 1111")
        );
        let b = json_of(&keyed("k2", &[2; 32]), s);
        assert!(b.contains("hmac-sha256:k2:") && !b.contains(hashes[0]));
        // By key: a number's JSON text, a string's bytes.
        let mut x = Vec::new();
        a.write_key_replacement(&mut x, &Val::U64(42));
        let mut y = Vec::new();
        a.write_key_replacement(&mut y, &Val::Str(b"42"));
        assert_eq!(x, y);
        assert!(x.starts_with(b"hmac-sha256:k1:") && x.len() == 15 + 32);
        // Hashes are left alone when seen again.
        assert_eq!(json_of(&a, &out), out);
        assert!(
            Config {
                replacement: Replacement::Hmac {
                    key_id: "k1".into(),
                    key: vec![0; 15],
                },
                ..Config::default()
            }
            .build()
            .is_err()
        );
    }

    #[test]
    fn keys_match_whole_words_of_any_part() {
        for k in [
            "password",
            "Password",
            "db_password",
            "PASSWORD_HASH",
            "set-cookie",
            "Set-Cookie",
            "X-Api-Key",
            "http.request.header.authorization",
            "user.session_id",
            "github_token",
            "apiKey",
        ] {
            assert!(is_secret_key(k), "{k}");
        }
        for k in [
            "author",
            "user_id",
            "passive",
            "tokenizer",
            "route",
            "cookies_enabled_count",
        ] {
            assert!(!is_secret_key(k), "{k}");
        }
    }
}
