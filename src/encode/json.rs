//! Allocation-free JSON fragment writers.
//!
//! Every function appends to a caller-owned `Vec<u8>`; the only allocation is
//! the Vec growing, so once the caller's buffer is warm nothing allocates.
//!
//! String escaping scans 16 bytes at a time (SSE2 on x86_64, SWAR on `u64`
//! elsewhere) and copies unescaped runs with `extend_from_slice`.

/// The UTF-8 encoding of U+FFFD REPLACEMENT CHARACTER.
const REPLACEMENT: &[u8] = "\u{FFFD}".as_bytes();

const HEX: &[u8; 16] = b"0123456789abcdef";

/// `HEX_PAIRS[b]` is the two lowercase hex digits of `b`.
static HEX_PAIRS: [[u8; 2]; 256] = {
    let mut t = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = [HEX[i >> 4], HEX[i & 0xf]];
        i += 1;
    }
    t
};

/// `DEC_PAIRS[n]` is the two decimal digits of `n` for `n < 100`.
static DEC_PAIRS: [[u8; 2]; 100] = {
    let mut t = [[0u8; 2]; 100];
    let mut i = 0;
    while i < 100 {
        t[i] = [b'0' + (i / 10) as u8, b'0' + (i % 10) as u8];
        i += 1;
    }
    t
};

// ---------------------------------------------------------------------------
// Strings
// ---------------------------------------------------------------------------

/// 16-byte scanners: return a mask with bit `k` set iff `chunk[k]` needs
/// escaping (`< 0x20`, `"`, `\` or `0x7f`).
#[cfg(target_arch = "x86_64")]
mod sse2 {
    use core::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };

    #[inline(always)]
    pub fn scan16(chunk: &[u8; 16]) -> u32 {
        // SAFETY: SSE2 is part of the x86_64 baseline, so these intrinsics are
        // always available; `_mm_loadu_si128` has no alignment requirement and
        // `chunk` is exactly 16 readable bytes.
        let bits = unsafe {
            let v = _mm_loadu_si128(chunk.as_ptr().cast());
            // Unsigned `v <= 0x1f`  <=>  `min(v, 0x1f) == v`.
            let ctrl = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);
            let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
            let bslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
            let del = _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f));
            _mm_movemask_epi8(_mm_or_si128(
                _mm_or_si128(ctrl, quote),
                _mm_or_si128(bslash, del),
            ))
        };
        bits as u32
    }
}

/// Portable SWAR scanner (the x86_64 build compiles it only for its tests).
#[cfg(any(not(target_arch = "x86_64"), test))]
mod swar {
    const fn rep(b: u8) -> u64 {
        u64::from_ne_bytes([b; 8])
    }
    const LO7: u64 = rep(0x7f);
    const HI: u64 = rep(0x80);

    /// High bit of each byte set iff that byte needs escaping. Exact per byte:
    /// no operation carries across byte boundaries.
    #[inline(always)]
    fn word(x: u64) -> u64 {
        let lo = x & LO7;
        // lo + 0x60 has its high bit set iff lo >= 0x20; `| x` adds bytes >= 0x80.
        let ctrl = !((lo + rep(0x60)) | x);
        // lo + 1 has its high bit set iff lo == 0x7f; `& !x` drops 0xff.
        let del = (lo + rep(0x01)) & !x;
        let q = x ^ rep(b'"');
        let quote = !(((q & LO7) + LO7) | q);
        let b = x ^ rep(b'\\');
        let bslash = !(((b & LO7) + LO7) | b);
        (ctrl | del | quote | bslash) & HI
    }

    /// Gathers the 8 byte-high bits of `m` into the low 8 bits (byte k -> bit k).
    /// The partial products land on distinct bit positions, so nothing carries.
    #[inline(always)]
    fn compress(m: u64) -> u32 {
        ((m >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u32
    }

    #[inline(always)]
    pub fn scan16(chunk: &[u8; 16]) -> u32 {
        let (a, b) = chunk.split_at(8);
        let lo = u64::from_le_bytes(a.try_into().unwrap());
        let hi = u64::from_le_bytes(b.try_into().unwrap());
        compress(word(lo)) | (compress(word(hi)) << 8)
    }
}

#[cfg(target_arch = "x86_64")]
use sse2::scan16;
#[cfg(not(target_arch = "x86_64"))]
use swar::scan16;

/// `SHORT_ESCAPE[b]` is the character after `\` for bytes with a two-byte
/// escape, 0 for the other escapable bytes (which use `\u00xx`).
static SHORT_ESCAPE: [u8; 128] = {
    let mut t = [0u8; 128];
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t[b'\n' as usize] = b'n';
    t[b'\r' as usize] = b'r';
    t[b'\t' as usize] = b't';
    t[0x08] = b'b';
    t[0x0c] = b'f';
    t
};

/// Appends the escape sequence for a byte that needs one (always < 0x80).
#[inline(always)]
fn write_escape(out: &mut Vec<u8>, b: u8) {
    let short = SHORT_ESCAPE[usize::from(b & 0x7f)];
    if short != 0 {
        out.extend_from_slice(&[b'\\', short]);
    } else {
        let [h, l] = HEX_PAIRS[usize::from(b)];
        out.extend_from_slice(&[b'\\', b'u', b'0', b'0', h, l]);
    }
}

/// Emits the pending run `s[start..]` up to each escapable byte flagged in
/// `mask` (bit k <=> `s[base + k]`), then its escape. Returns the new run start.
#[inline(never)]
fn flush_escapes(
    out: &mut Vec<u8>,
    s: &[u8],
    mut start: usize,
    base: usize,
    mut mask: u32,
) -> usize {
    while mask != 0 {
        let j = base + mask.trailing_zeros() as usize;
        out.extend_from_slice(&s[start..j]);
        write_escape(out, s[j]);
        start = j + 1;
        mask &= mask - 1;
    }
    start
}

/// Loads `s` (`1..=15` bytes) into the low bytes of a zeroed 16-byte chunk
/// using two overlapping fixed-size reads instead of a variable-length copy.
#[inline(always)]
pub(crate) fn load_short(s: &[u8]) -> [u8; 16] {
    let n = s.len();
    let x = if n >= 8 {
        let lo = u64::from_le_bytes(s[..8].try_into().unwrap());
        let hi = u64::from_le_bytes(s[n - 8..].try_into().unwrap());
        u128::from(lo) | (u128::from(hi) << (8 * (n - 8)))
    } else if n >= 4 {
        let lo = u32::from_le_bytes(s[..4].try_into().unwrap());
        let hi = u32::from_le_bytes(s[n - 4..].try_into().unwrap());
        u128::from(lo) | (u128::from(hi) << (8 * (n - 4)))
    } else {
        // n in 1..=3: bytes 0, n/2 and n-1 cover every position.
        u128::from(s[0])
            | (u128::from(s[n / 2]) << (8 * (n / 2)))
            | (u128::from(s[n - 1]) << (8 * (n - 1)))
    };
    x.to_le_bytes()
}

#[inline(always)]
fn write_inner_with(out: &mut Vec<u8>, s: &[u8], scan: impl Fn(&[u8; 16]) -> u32) {
    let len = s.len();
    let mut start = 0;
    let mut chunks = s.chunks_exact(16);
    let mut base = 0;
    for chunk in chunks.by_ref() {
        let mask = scan(chunk.try_into().unwrap());
        if mask != 0 {
            start = flush_escapes(out, s, start, base, mask);
        }
        base += 16;
    }
    let rem = chunks.remainder().len();
    if rem != 0 {
        let mask = if len >= 16 {
            // Rescan the last 16 bytes (overlapping the previous chunk) and
            // drop the bits for bytes already handled.
            scan(s[len - 16..].try_into().unwrap()) >> (16 - rem)
        } else {
            // Bytes past `rem` are zero (which would flag), so mask them off.
            scan(&load_short(s)) & ((1 << rem) - 1)
        };
        if mask != 0 {
            start = flush_escapes(out, s, start, base, mask);
        }
    }
    out.extend_from_slice(&s[start..]);
}

/// Appends `s` JSON-escaped (RFC 8259), without surrounding quotes.
///
/// `s` is assumed to be valid UTF-8; bytes >= 0x80 are copied through. `"`,
/// `\`, `\b`, `\f`, `\n`, `\r`, `\t` get short escapes; other bytes < 0x20 and
/// 0x7f become `\u00xx`.
#[inline]
pub fn write_str_inner(out: &mut Vec<u8>, s: &[u8]) {
    write_inner_with(out, s, scan16);
}

/// Appends `"` + escaped `s` + `"`. See [`write_str_inner`].
#[inline]
pub fn write_str(out: &mut Vec<u8>, s: &[u8]) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    write_str_inner(out, s);
    out.push(b'"');
}

/// Like [`write_str`], but `s` may be any bytes: each maximal invalid UTF-8
/// sequence is replaced with U+FFFD, exactly as `String::from_utf8_lossy`
/// does. Returns true if anything was replaced.
pub fn write_str_lossy(out: &mut Vec<u8>, s: &[u8]) -> bool {
    write_str_lossy_with(out, s, write_str_inner)
}

/// [`write_str_lossy`] with `inner` writing each valid stretch (escaped,
/// without quotes) in place of [`write_str_inner`].
#[inline]
pub(crate) fn write_str_lossy_with(
    out: &mut Vec<u8>,
    s: &[u8],
    mut inner: impl FnMut(&mut Vec<u8>, &[u8]),
) -> bool {
    out.reserve(s.len() + 2);
    out.push(b'"');
    let mut rest = s;
    let mut replaced = false;
    loop {
        match core::str::from_utf8(rest) {
            Ok(_) => {
                inner(out, rest);
                break;
            }
            Err(e) => {
                let (valid, after) = rest.split_at(e.valid_up_to());
                inner(out, valid);
                out.extend_from_slice(REPLACEMENT);
                replaced = true;
                match e.error_len() {
                    Some(n) => rest = &after[n..],
                    // Truncated sequence at the end: one replacement for all of it.
                    None => break,
                }
            }
        }
    }
    out.push(b'"');
    replaced
}

// ---------------------------------------------------------------------------
// Numbers and booleans
// ---------------------------------------------------------------------------

#[inline]
pub fn write_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

#[inline]
pub fn write_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

#[inline]
pub fn write_u128(out: &mut Vec<u8>, v: u128) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

#[inline]
pub fn write_i128(out: &mut Vec<u8>, v: i128) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

#[cold]
fn write_non_finite(out: &mut Vec<u8>, nan: bool, negative: bool) {
    out.extend_from_slice(match (nan, negative) {
        (true, _) => b"\"NaN\"",
        (false, false) => b"\"inf\"",
        (false, true) => b"\"-inf\"",
    });
}

/// Finite values: zmij's shortest round-trip representation (always a valid
/// JSON number, e.g. `1.0`, `-0.0`, `1e30`, `5e-324`). NaN and infinities
/// become the JSON strings `"NaN"`, `"inf"`, `"-inf"`.
#[inline]
pub fn write_f64(out: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        out.extend_from_slice(zmij::Buffer::new().format_finite(v).as_bytes());
    } else {
        write_non_finite(out, v.is_nan(), v.is_sign_negative());
    }
}

/// As [`write_f64`], with the shortest representation that round-trips as f32.
#[inline]
pub fn write_f32(out: &mut Vec<u8>, v: f32) {
    if v.is_finite() {
        out.extend_from_slice(zmij::Buffer::new().format_finite(v).as_bytes());
    } else {
        write_non_finite(out, v.is_nan(), v.is_sign_negative());
    }
}

#[inline]
pub fn write_bool(out: &mut Vec<u8>, v: bool) {
    out.extend_from_slice(if v { b"true" } else { b"false" });
}

// ---------------------------------------------------------------------------
// Hex
// ---------------------------------------------------------------------------

/// Writes `"` + the bytes of `bytes` as lowercase hex + `"` into `buf`
/// (`buf.len() == 2 * bytes.len() + 2`).
#[inline(always)]
fn hex_quoted(buf: &mut [u8], bytes: &[u8]) {
    let last = buf.len() - 1;
    buf[0] = b'"';
    buf[last] = b'"';
    for (dst, &b) in buf[1..last].chunks_exact_mut(2).zip(bytes) {
        dst.copy_from_slice(&HEX_PAIRS[b as usize]);
    }
}

/// `"` + 32 lowercase hex digits (big-endian, zero-padded) + `"`.
#[inline]
pub fn write_hex_u128(out: &mut Vec<u8>, v: u128) {
    let mut buf = [0u8; 34];
    hex_quoted(&mut buf, &v.to_be_bytes());
    out.extend_from_slice(&buf);
}

/// `"` + 16 lowercase hex digits (big-endian, zero-padded) + `"`.
#[inline]
pub fn write_hex_u64(out: &mut Vec<u8>, v: u64) {
    let mut buf = [0u8; 18];
    hex_quoted(&mut buf, &v.to_be_bytes());
    out.extend_from_slice(&buf);
}

/// `"` + 2 lowercase hex digits + `"`.
#[inline]
pub fn write_hex_u8(out: &mut Vec<u8>, v: u8) {
    let [h, l] = HEX_PAIRS[v as usize];
    out.extend_from_slice(&[b'"', h, l, b'"']);
}

// ---------------------------------------------------------------------------
// Timestamps
// ---------------------------------------------------------------------------

/// Last second representable with a 4-digit year: 9999-12-31T23:59:59Z.
const MAX_SECS: u64 = 253_402_300_799;
/// Length of `"YYYY-MM-DDTHH:MM:SS.` (opening quote included).
const PREFIX_LEN: usize = 21;

/// Howard Hinnant's `civil_from_days` for days since 1970-01-01, restricted
/// to non-negative day counts (years 1970..=9999 fit comfortably in u32).
#[inline]
pub(crate) fn civil_from_days(days: u32) -> (u32, u32, u32) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097; // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365], March-based
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let d = doy - (153 * mp + 2) / 5 + 1; // [1, 31]
    let m = if mp < 10 { mp + 3 } else { mp - 9 }; // [1, 12]
    let y = yoe + era * 400 + u32::from(m <= 2);
    (y, m, d)
}

/// Formats RFC 3339 UTC timestamps with nanosecond precision, e.g.
/// `"2026-11-21T09:36:12.123456789Z"` (quotes included, 32 bytes).
///
/// The `"YYYY-MM-DDTHH:MM:SS.` prefix of the last second seen is cached, so a
/// call within the same second only formats the nine fractional digits.
#[derive(Clone, Debug)]
pub struct TimestampWriter {
    /// The second (since the Unix epoch, as passed in) that `buf` holds.
    secs: u64,
    /// The whole output; bytes `PREFIX_LEN..PREFIX_LEN + 9` are rewritten
    /// on every call, the prefix only when the second changes.
    buf: [u8; 32],
}

impl TimestampWriter {
    pub fn new() -> Self {
        Self {
            secs: 0,
            buf: *b"\"1970-01-01T00:00:00.000000000Z\"",
        }
    }

    /// Appends the timestamp for `unix_nanos` nanoseconds since the Unix
    /// epoch (u64 nanoseconds reach 2554-07-21T23:34:33.709551615Z).
    #[inline]
    pub fn write(&mut self, out: &mut Vec<u8>, unix_nanos: u64) {
        let secs = unix_nanos / 1_000_000_000;
        let nanos = (unix_nanos % 1_000_000_000) as u32;
        self.write_secs(out, secs, nanos);
    }

    /// Appends the timestamp for `secs` seconds plus `subsec_nanos`
    /// nanoseconds since the Unix epoch. Covers the whole 1970..=9999 range:
    /// `secs` past 9999-12-31T23:59:59 is clamped to it, and `subsec_nanos`
    /// is clamped to 999_999_999.
    #[inline]
    pub fn write_secs(&mut self, out: &mut Vec<u8>, secs: u64, subsec_nanos: u32) {
        if secs != self.secs {
            self.set_second(secs);
        }
        let n = subsec_nanos.min(999_999_999);
        let (hi, lo) = (n / 100_000_000, n % 100_000_000);
        let (a, b) = (lo / 10_000, lo % 10_000);
        let f = &mut self.buf[PREFIX_LEN..PREFIX_LEN + 9];
        f[0] = b'0' + hi as u8;
        f[1..3].copy_from_slice(&DEC_PAIRS[(a / 100) as usize]);
        f[3..5].copy_from_slice(&DEC_PAIRS[(a % 100) as usize]);
        f[5..7].copy_from_slice(&DEC_PAIRS[(b / 100) as usize]);
        f[7..9].copy_from_slice(&DEC_PAIRS[(b % 100) as usize]);
        out.extend_from_slice(&self.buf);
    }

    #[inline(never)]
    fn set_second(&mut self, secs: u64) {
        self.secs = secs;
        let clamped = secs.min(MAX_SECS);
        let (y, m, d) = civil_from_days((clamped / 86_400) as u32);
        let sod = (clamped % 86_400) as u32;
        let b = &mut self.buf;
        // Separators (`"`, `-`, `T`, `:`, `.`) never change; fill the digits.
        b[1..3].copy_from_slice(&DEC_PAIRS[(y / 100) as usize]);
        b[3..5].copy_from_slice(&DEC_PAIRS[(y % 100) as usize]);
        b[6..8].copy_from_slice(&DEC_PAIRS[m as usize]);
        b[9..11].copy_from_slice(&DEC_PAIRS[d as usize]);
        b[12..14].copy_from_slice(&DEC_PAIRS[(sod / 3600) as usize]);
        b[15..17].copy_from_slice(&DEC_PAIRS[(sod / 60 % 60) as usize]);
        b[18..20].copy_from_slice(&DEC_PAIRS[(sod % 60) as usize]);
    }
}

impl Default for TimestampWriter {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::Value;

    fn json_str(s: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_str(&mut out, s);
        out
    }

    /// Parses `out` with serde_json and returns the string value.
    fn parse_str(out: &[u8]) -> String {
        match serde_json::from_slice::<Value>(out) {
            Ok(Value::String(s)) => s,
            other => panic!(
                "not a JSON string: {other:?} from {:?}",
                String::from_utf8_lossy(out)
            ),
        }
    }

    fn roundtrip(s: &str) {
        assert_eq!(parse_str(&json_str(s.as_bytes())), s, "input {s:?}");
        // Same result through the portable scanner.
        let mut swar_out = vec![b'"'];
        write_inner_with(&mut swar_out, s.as_bytes(), swar::scan16);
        swar_out.push(b'"');
        assert_eq!(swar_out, json_str(s.as_bytes()), "swar differs for {s:?}");
    }

    fn needs_escape(b: u8) -> bool {
        b < 0x20 || b == b'"' || b == b'\\' || b == 0x7f
    }

    fn oracle_mask(chunk: &[u8; 16]) -> u32 {
        (0..16)
            .filter(|&k| needs_escape(chunk[k]))
            .fold(0, |m, k| m | (1 << k))
    }

    #[test]
    fn every_ascii_byte() {
        for b in 0u8..=0x7f {
            let s = String::from(b as char);
            roundtrip(&s);
            let out = json_str(s.as_bytes());
            // Escaped output contains no raw control characters or DEL.
            assert!(out.iter().all(|&c| c >= 0x20 && c != 0x7f), "{b:#x}");
            // Embedded within text of various lengths too.
            roundtrip(&format!("ab{s}cd"));
            roundtrip(&format!("0123456789abcdef{s}0123456789abcdef{s}"));
        }
        assert_eq!(json_str(b"\x08\x0c\n\r\t\"\\"), br#""\b\f\n\r\t\"\\""#);
        assert_eq!(json_str(b"\x00\x1f\x7f"), br#""\u0000\u001f\u007f""#);
    }

    #[test]
    fn quotes_backslashes_multibyte() {
        for s in [
            "",
            "\"",
            "\\",
            "\"\"\\\\\"",
            r#"C:\path\to\"file""#,
            "é",
            "naïve café",
            "€ ह 한",
            "𝄞 😀 🦀 👨‍👩‍👧‍👦",
            "mixed é\n€\t😀\"\\\u{7f}\u{0}ok",
            "\u{80}\u{7ff}\u{800}\u{ffff}\u{10000}\u{10ffff}",
            "😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀\"",
        ] {
            roundtrip(s);
        }
    }

    #[test]
    fn escapable_at_every_position() {
        for esc in [
            '"', '\\', '\n', '\u{0}', '\u{1f}', '\u{7f}', '\u{8}', '\u{c}',
        ] {
            for len in 0..=70 {
                roundtrip(&"a".repeat(len));
                roundtrip(&"é".repeat(len));
                for pos in 0..len {
                    let s: String = (0..len).map(|k| if k == pos { esc } else { 'a' }).collect();
                    roundtrip(&s);
                    // A second escape at every later position.
                    for pos2 in pos + 1..len.min(40) {
                        let s: String = (0..len)
                            .map(|k| if k == pos || k == pos2 { esc } else { 'x' })
                            .collect();
                        roundtrip(&s);
                    }
                }
                // Every byte escapable.
                roundtrip(&String::from(esc).repeat(len));
            }
        }
    }

    #[test]
    fn inner_has_no_quotes_and_appends() {
        let mut out = b"prefix:".to_vec();
        write_str_inner(&mut out, b"a\"b");
        write_str_inner(&mut out, b"\n");
        assert_eq!(out, br#"prefix:a\"b\n"#);
    }

    #[test]
    fn scanners_match_oracle_exhaustive_single_byte() {
        for b in 0..=255u8 {
            for pos in 0..16 {
                let mut chunk = [b'a'; 16];
                chunk[pos] = b;
                assert_eq!(scan16(&chunk), oracle_mask(&chunk), "{b:#x}@{pos}");
                assert_eq!(swar::scan16(&chunk), oracle_mask(&chunk), "{b:#x}@{pos}");
                let mut chunk = [b; 16];
                chunk[pos] = 0xff;
                assert_eq!(scan16(&chunk), oracle_mask(&chunk), "{b:#x} bg");
                assert_eq!(swar::scan16(&chunk), oracle_mask(&chunk), "{b:#x} bg");
            }
        }
    }

    #[test]
    fn lossy_known() {
        let cases: &[(&[u8], bool)] = &[
            (b"", false),
            (b"plain", false),
            ("é😀".as_bytes(), false),
            (b"\xff", true),
            (b"a\xffb\"", true),
            (b"\xe2\x82", true),              // truncated at end
            (b"\xe2\x82x\xf0\x9f\x98", true), // truncated in middle and at end
            (b"\xed\xa0\x80", true),          // surrogate
            (b"\xc0\xaf\n", true),            // overlong
            (b"\xf4\x90\x80\x80", true),      // > U+10FFFF
        ];
        for &(input, expect) in cases {
            let mut out = Vec::new();
            assert_eq!(write_str_lossy(&mut out, input), expect, "{input:?}");
            assert_eq!(parse_str(&out), String::from_utf8_lossy(input), "{input:?}");
        }
    }

    #[test]
    fn integers_extremes() {
        for v in [0, 1, 9, 10, u64::MAX / 2, u64::MAX] {
            let mut out = Vec::new();
            write_u64(&mut out, v);
            assert_eq!(serde_json::from_slice::<u64>(&out).unwrap(), v);
        }
        for v in [0, -1, 1, i64::MIN, i64::MAX] {
            let mut out = Vec::new();
            write_i64(&mut out, v);
            assert_eq!(serde_json::from_slice::<i64>(&out).unwrap(), v);
        }
        for v in [0, 1, u64::MAX as u128 + 1, u128::MAX] {
            let mut out = Vec::new();
            write_u128(&mut out, v);
            assert_eq!(serde_json::from_slice::<u128>(&out).unwrap(), v);
        }
        for v in [0, -1, i64::MIN as i128 - 1, i128::MIN, i128::MAX] {
            let mut out = Vec::new();
            write_i128(&mut out, v);
            assert_eq!(serde_json::from_slice::<i128>(&out).unwrap(), v);
        }
    }

    /// Checks `out` is a JSON number and returns (serde_json's f64, exact f64
    /// parsed by std from the same text).
    ///
    /// serde_json without its `float_roundtrip` feature is best-effort (about
    /// 30% of random f64s come back 1-2 ULP off), so exactness is checked with
    /// std's correctly rounded parser on the same text and serde_json's value
    /// is held to within 4 ULP.
    fn parse_num(out: &[u8]) -> (f64, f64) {
        let v: Value = serde_json::from_slice(out).unwrap();
        let Value::Number(n) = v else {
            panic!("not a number: {v:?}")
        };
        let text = core::str::from_utf8(out).unwrap();
        (n.as_f64().unwrap(), text.parse().unwrap())
    }

    fn ulp_close(a: f64, b: f64) -> bool {
        a == b || (a.to_bits() as i64 - b.to_bits() as i64).abs() <= 4
    }

    fn check_f64(v: f64) {
        let mut out = Vec::new();
        write_f64(&mut out, v);
        let (serde, exact) = parse_num(&out);
        assert_eq!(
            exact.to_bits(),
            v.to_bits(),
            "{v:e} -> {:?}",
            String::from_utf8_lossy(&out)
        );
        assert!(ulp_close(serde, v), "{v:e}: serde_json gave {serde:e}");
    }

    fn check_f32(v: f32) {
        let mut out = Vec::new();
        write_f32(&mut out, v);
        parse_num(&out);
        let exact: f32 = core::str::from_utf8(&out).unwrap().parse().unwrap();
        assert_eq!(exact.to_bits(), v.to_bits(), "{v:e}");
    }

    #[test]
    fn floats_known() {
        for v in [
            0.0,
            -0.0,
            1.0,
            -1.5,
            0.1,
            1e30,
            1e-7,
            123456789.0,
            f64::MAX,
            f64::MIN,
            f64::MIN_POSITIVE,
            5e-324,
            f64::EPSILON,
        ] {
            check_f64(v);
        }
        for v in [
            0.0,
            -0.0,
            1.0,
            0.1,
            3.4e38,
            f32::MIN_POSITIVE,
            1e-45,
            16777217.0,
        ] {
            check_f32(v);
        }
        let mut out = Vec::new();
        write_f64(&mut out, 1.0);
        assert_eq!(serde_json::from_slice::<f64>(&out).unwrap(), 1.0);
        for (v, s) in [
            (f64::NAN, "NaN"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
        ] {
            let mut out = Vec::new();
            write_f64(&mut out, v);
            assert_eq!(parse_str(&out), s);
            let mut out = Vec::new();
            write_f32(&mut out, v as f32);
            assert_eq!(parse_str(&out), s);
        }
        let mut out = Vec::new();
        write_f64(&mut out, -f64::NAN);
        assert_eq!(parse_str(&out), "NaN");
    }

    #[test]
    fn bools() {
        for v in [true, false] {
            let mut out = Vec::new();
            write_bool(&mut out, v);
            assert_eq!(serde_json::from_slice::<bool>(&out).unwrap(), v);
        }
    }

    #[test]
    fn hex_known() {
        let mut out = Vec::new();
        write_hex_u128(&mut out, 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210);
        assert_eq!(parse_str(&out), "0123456789abcdeffedcba9876543210");
        out.clear();
        write_hex_u128(&mut out, 1);
        assert_eq!(parse_str(&out), format!("{:032x}", 1));
        out.clear();
        write_hex_u64(&mut out, 0xdead_beef);
        assert_eq!(parse_str(&out), "00000000deadbeef");
        out.clear();
        write_hex_u8(&mut out, 0x0a);
        assert_eq!(parse_str(&out), "0a");
        for b in 0..=255u8 {
            out.clear();
            write_hex_u8(&mut out, b);
            assert_eq!(parse_str(&out), format!("{b:02x}"));
        }
    }

    // --- timestamps ---

    fn is_leap(y: u64) -> bool {
        (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400)
    }

    /// Slow, independent reference: walk years and months from 1970.
    fn reference_ts(secs: u64, nanos: u32) -> String {
        let mut days = secs / 86_400;
        let sod = secs % 86_400;
        let mut y = 1970;
        loop {
            let len = if is_leap(y) { 366 } else { 365 };
            if days < len {
                break;
            }
            days -= len;
            y += 1;
        }
        let feb = if is_leap(y) { 29 } else { 28 };
        let months = [31, feb, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        let mut m = 0;
        while days >= months[m] {
            days -= months[m];
            m += 1;
        }
        format!(
            "{y:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
            m + 1,
            days + 1,
            sod / 3600,
            sod / 60 % 60,
            sod % 60
        )
    }

    fn ts(w: &mut TimestampWriter, nanos: u64) -> String {
        let mut out = Vec::new();
        w.write(&mut out, nanos);
        assert_eq!(out.len(), 32);
        parse_str(&out)
    }

    fn ts_secs(w: &mut TimestampWriter, secs: u64, nanos: u32) -> String {
        let mut out = Vec::new();
        w.write_secs(&mut out, secs, nanos);
        parse_str(&out)
    }

    #[test]
    fn timestamps_known() {
        let mut w = TimestampWriter::new();
        assert_eq!(ts(&mut w, 0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            ts(&mut w, 1_000_000_000_123_456_789),
            "2001-09-09T01:46:40.123456789Z"
        );
        // 2024-02-29T12:34:56.000000001Z = 1709210096 s
        assert_eq!(
            ts(&mut w, 1_709_210_096_000_000_001),
            "2024-02-29T12:34:56.000000001Z"
        );
        assert_eq!(
            ts(&mut w, 1_709_251_199_999_999_999),
            "2024-02-29T23:59:59.999999999Z"
        );
        assert_eq!(
            ts(&mut w, 1_709_251_200_000_000_000),
            "2024-03-01T00:00:00.000000000Z"
        );
        assert_eq!(
            ts(&mut w, 951_782_400_000_000_000),
            "2000-02-29T00:00:00.000000000Z"
        );
        assert_eq!(ts(&mut w, u64::MAX), "2554-07-21T23:34:33.709551615Z");
        assert_eq!(
            ts_secs(&mut w, MAX_SECS, 999_999_999),
            "9999-12-31T23:59:59.999999999Z"
        );
        assert_eq!(
            ts_secs(&mut w, 253_402_214_400, 0),
            "9999-12-31T00:00:00.000000000Z"
        );
        // Clamping.
        assert_eq!(
            ts_secs(&mut w, u64::MAX, u32::MAX),
            "9999-12-31T23:59:59.999999999Z"
        );
        assert_eq!(
            ts_secs(&mut w, 0, 1_000_000_000),
            "1970-01-01T00:00:00.999999999Z"
        );
        let mut out = Vec::new();
        TimestampWriter::default().write(&mut out, 0);
        assert_eq!(out, b"\"1970-01-01T00:00:00.000000000Z\"");
    }

    #[test]
    fn timestamp_cache_back_and_forth() {
        let mut w = TimestampWriter::new();
        let base = 1_763_717_772u64; // 2025-11-21T09:36:12Z
        let seq = [
            0, 0, 1, 1, 0, 5, 4, 4, 86_400, 0, 59, 60, 3_599, 3_600, 0, 31_536_000, 1, 1,
        ];
        for (i, &d) in seq.iter().enumerate() {
            for secs in [base + d, d] {
                let nanos = (i as u64 * 123_456_789) % 1_000_000_000;
                let got = ts(&mut w, secs * 1_000_000_000 + nanos);
                assert_eq!(got, reference_ts(secs, nanos as u32));
                assert_eq!(
                    got,
                    ts(&mut TimestampWriter::new(), secs * 1_000_000_000 + nanos)
                );
            }
        }
    }

    #[test]
    fn civil_from_days_every_day_to_9999() {
        // Walk day by day against an incrementing calendar.
        let (mut y, mut m, mut d) = (1970u32, 1u32, 1u32);
        for days in 0..=(MAX_SECS / 86_400) as u32 {
            assert_eq!(civil_from_days(days), (y, m, d), "day {days}");
            let feb = if is_leap(y.into()) { 29 } else { 28 };
            let len = [31, feb, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m as usize - 1];
            d += 1;
            if d > len {
                d = 1;
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                }
            }
        }
        assert_eq!((y, m, d), (10000, 1, 1));
    }

    fn chars_biased() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                (0u8..0x80).prop_map(char::from),
                prop::sample::select(vec!['"', '\\', '\n', '\u{0}', '\u{7f}', 'é', '€', '😀']),
                any::<char>(),
            ],
            0..80,
        )
        .prop_map(|v| v.into_iter().collect())
    }

    fn bytes_mixed() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            prop_oneof![
                any::<String>().prop_map(String::into_bytes),
                chars_biased().prop_map(String::into_bytes),
                proptest::collection::vec(any::<u8>(), 0..8),
                proptest::collection::vec(0x80u8.., 0..6),
            ],
            0..6,
        )
        .prop_map(|v| v.concat())
    }

    proptest! {
        #[test]
        fn prop_str_roundtrip(s in any::<String>()) {
            roundtrip(&s);
        }

        #[test]
        fn prop_str_roundtrip_biased(s in chars_biased()) {
            roundtrip(&s);
        }

        #[test]
        fn prop_scanners_match_oracle(chunk in any::<[u8; 16]>()) {
            prop_assert_eq!(scan16(&chunk), oracle_mask(&chunk));
            prop_assert_eq!(swar::scan16(&chunk), oracle_mask(&chunk));
        }

        #[test]
        fn prop_lossy(input in bytes_mixed()) {
            let mut out = b"x".to_vec();
            let replaced = write_str_lossy(&mut out, &input);
            let expect = String::from_utf8_lossy(&input);
            prop_assert_eq!(parse_str(&out[1..]), expect.as_ref());
            prop_assert_eq!(replaced, core::str::from_utf8(&input).is_err());
        }

        #[test]
        fn prop_lossy_random_bytes(input in proptest::collection::vec(any::<u8>(), 0..100)) {
            let mut out = Vec::new();
            let replaced = write_str_lossy(&mut out, &input);
            let expect = String::from_utf8_lossy(&input);
            prop_assert_eq!(parse_str(&out), expect.as_ref());
            prop_assert_eq!(replaced, core::str::from_utf8(&input).is_err());
        }

        #[test]
        fn prop_integers(a in any::<u64>(), b in any::<i64>(), c in any::<u128>(), d in any::<i128>()) {
            let mut out = Vec::new();
            write_u64(&mut out, a);
            prop_assert_eq!(serde_json::from_slice::<u64>(&out).unwrap(), a);
            out.clear();
            write_i64(&mut out, b);
            prop_assert_eq!(serde_json::from_slice::<i64>(&out).unwrap(), b);
            out.clear();
            write_u128(&mut out, c);
            prop_assert_eq!(serde_json::from_slice::<u128>(&out).unwrap(), c);
            out.clear();
            write_i128(&mut out, d);
            prop_assert_eq!(serde_json::from_slice::<i128>(&out).unwrap(), d);
        }

        #[test]
        fn prop_f64_bits(bits in any::<u64>()) {
            let v = f64::from_bits(bits);
            if v.is_finite() {
                check_f64(v);
            } else {
                let mut out = Vec::new();
                write_f64(&mut out, v);
                prop_assert!(matches!(parse_str(&out).as_str(), "NaN" | "inf" | "-inf"));
            }
        }

        #[test]
        fn prop_f64_values(v in any::<f64>()) {
            check_f64(v);
        }

        #[test]
        fn prop_f32_bits(bits in any::<u32>()) {
            let v = f32::from_bits(bits);
            if v.is_finite() {
                check_f32(v);
            }
        }

        #[test]
        fn prop_hex(a in any::<u128>(), b in any::<u64>()) {
            let mut out = Vec::new();
            write_hex_u128(&mut out, a);
            prop_assert_eq!(parse_str(&out), format!("{a:032x}"));
            out.clear();
            write_hex_u64(&mut out, b);
            prop_assert_eq!(parse_str(&out), format!("{b:016x}"));
        }

        #[test]
        fn prop_timestamp_nanos(nanos in any::<u64>(), prev in any::<u64>()) {
            let mut w = TimestampWriter::new();
            ts(&mut w, prev);
            let expect = reference_ts(nanos / 1_000_000_000, (nanos % 1_000_000_000) as u32);
            prop_assert_eq!(ts(&mut w, nanos), expect.clone());
            // Same second again (cache hit) with different nanos.
            let again = nanos - nanos % 1_000_000_000 + 7;
            prop_assert_eq!(
                ts(&mut w, again),
                reference_ts(nanos / 1_000_000_000, 7)
            );
        }

        #[test]
        fn prop_timestamp_secs(secs in 0..=MAX_SECS, nanos in 0u32..1_000_000_000) {
            let mut w = TimestampWriter::new();
            prop_assert_eq!(ts_secs(&mut w, secs, nanos), reference_ts(secs, nanos));
        }
    }
}
