//! The keyed-hash replacement: a redacted value is written as
//! `hmac-sha256:<key id>:<32 hex digits>`, the first 16 bytes of
//! HMAC-SHA256(key, value) in lower-case hex. Equal values under one key
//! give equal text, so records can still be correlated by a secret they
//! share (a session, a card) without showing it; the key id says which key
//! made a hash, so hashes of different keys are known not to compare.
//!
//! What is hashed: the secret's bytes as they were logged (for a card
//! number its digits only, so `4111 1111 1111 1111` and `4111111111111111`
//! agree); for a field redacted by its key, a string's bytes, and any
//! other value's JSON text (`42`, `true`, `null`), an error's message.
//!
//! The key comes from the builder or the environment, never from a file;
//! the hashing itself is behind the `redact-hmac` feature (RustCrypto's
//! `hmac` and `sha2`).

/// How every keyed hash starts.
pub(crate) const PREFIX: &str = "hmac-sha256:";
/// Shortest key accepted: 128 bits (the values hashed may have little
/// entropy, a card number or a short token: the key is what keeps a
/// dictionary of them from being hashed by anyone).
pub(crate) const MIN_KEY_BYTES: usize = 16;
/// Longest key id.
pub(crate) const MAX_KEY_ID: usize = 32;
/// Longest hash text: the prefix, a key id, `:`, 32 hex digits.
pub(crate) const MAX_LEN: usize = PREFIX.len() + MAX_KEY_ID + 1 + 32;

/// Checks a key id (1 to 32 bytes of `[A-Za-z0-9._-]`, so it is written
/// without escaping and cannot hold a `:`) and a key's length.
pub(crate) fn check(key_id: &str, key: &[u8]) -> Result<(), String> {
    if key_id.is_empty()
        || key_id.len() > MAX_KEY_ID
        || !key_id
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
    {
        return Err(format!(
            "key id {key_id:?}: 1 to {MAX_KEY_ID} bytes of ASCII letters, digits, '.', '_', '-'"
        ));
    }
    if key.len() < MIN_KEY_BYTES {
        return Err(format!(
            "key of {} bytes: at least {MIN_KEY_BYTES} bytes (128 bits) are needed",
            key.len()
        ));
    }
    Ok(())
}

/// A key as the environment gives it: hex (`00ff…`, an even number of
/// digits), or `base64:` then standard or URL-safe base64, padding
/// optional. The error does not repeat the value.
pub(crate) fn parse_key(text: &str) -> Result<Vec<u8>, String> {
    let text = text.trim();
    if let Some(b64) = text.strip_prefix("base64:") {
        return base64(b64.trim()).ok_or_else(|| "not valid base64 after 'base64:'".to_string());
    }
    hex(text).ok_or_else(|| {
        "not hex (an even number of hex digits); use 'base64:…' for base64".to_string()
    })
}

fn hex(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if b.is_empty() || !b.len().is_multiple_of(2) {
        return None;
    }
    let nib = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    b.chunks(2)
        .map(|p| Some(nib(p[0])? << 4 | nib(p[1])?))
        .collect()
}

fn base64(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        } as u32)
    };
    if s.is_empty() || s.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    for chunk in s.as_bytes().chunks(4) {
        let mut acc = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            acc |= val(*c)? << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

#[cfg(feature = "redact-hmac")]
pub(crate) use keyed::Keyed;

#[cfg(feature = "redact-hmac")]
mod keyed {
    use hmac::{Hmac, KeyInit, Mac};
    use sha2::Sha256;

    const HEX: &[u8; 16] = b"0123456789abcdef";

    /// A key, ready: its HMAC state after the key (cloned for each value,
    /// so a value costs the two compressions of its own bytes, not the
    /// key's), and `hmac-sha256:<key id>:`.
    #[derive(Clone)]
    pub(crate) struct Keyed {
        head: Box<[u8]>,
        mac: Hmac<Sha256>,
    }

    impl std::fmt::Debug for Keyed {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Keyed")
                .field("head", &String::from_utf8_lossy(&self.head))
                .finish_non_exhaustive()
        }
    }

    impl Keyed {
        /// `key_id` and `key` passed [`super::check`].
        pub(crate) fn new(key_id: &str, key: &[u8]) -> Keyed {
            let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
                .expect("HMAC takes a key of any length");
            let head = format!("{}{key_id}:", super::PREFIX).into_bytes().into();
            Keyed { head, mac }
        }

        /// Appends the hash of `value` (its digits only when `digits`).
        pub(crate) fn write(&self, out: &mut Vec<u8>, value: &[u8], digits: bool) {
            let mut buf = [0u8; super::MAX_LEN];
            let n = self.write_to(&mut buf, value, digits);
            out.extend_from_slice(&buf[..n]);
        }

        /// Writes the hash of `value` into `buf`; returns its length.
        pub(crate) fn write_to(
            &self,
            buf: &mut [u8; super::MAX_LEN],
            value: &[u8],
            digits: bool,
        ) -> usize {
            let mut mac = self.mac.clone();
            if digits {
                for part in value.split(|c| !c.is_ascii_digit()) {
                    mac.update(part);
                }
            } else {
                mac.update(value);
            }
            let tag = mac.finalize().into_bytes();
            let h = self.head.len();
            buf[..h].copy_from_slice(&self.head);
            for (i, b) in tag[..16].iter().enumerate() {
                buf[h + 2 * i] = HEX[usize::from(b >> 4)];
                buf[h + 2 * i + 1] = HEX[usize::from(b & 15)];
            }
            h + 32
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_from_hex_and_base64() {
        assert_eq!(parse_key("00ff10Ab").unwrap(), vec![0, 255, 16, 0xab]);
        assert_eq!(
            parse_key(" base64:AP8Qqw== ").unwrap(),
            vec![0, 255, 16, 0xab]
        );
        assert_eq!(parse_key("base64:AP8Qqw").unwrap(), vec![0, 255, 16, 0xab]);
        assert_eq!(parse_key("base64:_-8").unwrap(), vec![0xff, 0xef]);
        for bad in ["", "0", "0g", "base64:", "base64:A", "base64:a*bc", "zz"] {
            assert!(parse_key(bad).is_err(), "{bad:?}");
        }
        // The error never repeats the key.
        assert!(!parse_key("s3cr3t-key").unwrap_err().contains("s3cr3t"));
    }

    #[test]
    fn key_ids_and_lengths_are_checked() {
        let key = [7u8; 16];
        assert!(check("k1", &key).is_ok());
        assert!(check("2026-01.prod_a", &key).is_ok());
        for id in ["", "a:b", "a b", "ключ", &"k".repeat(33)] {
            assert!(check(id, &key).is_err(), "{id:?}");
        }
        assert!(check("k1", &key[..15]).is_err());
    }

    #[cfg(feature = "redact-hmac")]
    #[test]
    fn hashes_are_rfc_4231_hmac_sha256_cut_to_16_bytes() {
        // RFC 4231 test case 2 ("Jefe"), with the key padded past the
        // minimum length check (which `Keyed::new` does not repeat).
        let k = Keyed::new("t", b"Jefe");
        let mut out = Vec::new();
        k.write(&mut out, b"what do ya want for nothing?", false);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "hmac-sha256:t:5bdcc146bf60754e6a042426089575c7"
        );
        // Digits only: separators do not change the hash.
        let (mut a, mut b) = (Vec::new(), Vec::new());
        k.write(&mut a, b"4111 1111-1111 1111", true);
        k.write(&mut b, b"4111111111111111", true);
        assert_eq!(a, b);
    }
}
