//! Redaction of secrets by field name: a field whose key names a secret
//! (`password`, `token`, `authorization`, …) is written as [`MASK`] in the
//! JSON output and in every exporter, whatever its value. The decision is
//! made once per call site and field; a field that is not redacted costs
//! nothing per record.

use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

pub use crate::secret::MASK;

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
/// Field values written as the mask because of their key.
static REDACTED: AtomicU64 = AtomicU64::new(0);

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

/// Counts `n` values written as the mask.
pub(crate) fn count(n: u64) {
    if n != 0 {
        REDACTED.fetch_add(n, Relaxed);
    }
}

/// Field values redacted by key so far.
pub(crate) fn redacted() -> u64 {
    REDACTED.load(Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

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
