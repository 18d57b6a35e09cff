//! OpenTelemetry consistent probability sampling: the 56-bit rejection
//! threshold `T`, the 56-bit randomness value `R`, and the value of the `ot`
//! tracestate member that carries them (`th` and `rv` sub-keys).
//!
//! The specification is the final word; this module follows
//! (opentelemetry-specification, `specification/trace/`):
//!
//! - `tracestate-probability-sampling.md`: definitions of `T` and `R`, the
//!   decision `R >= T`, the "General requirements" (erase a threshold whose
//!   probability is unknown or apparently inconsistent), and the
//!   "Algorithms" section (probability to threshold with precision,
//!   threshold to probability and adjusted count).
//! - `tracestate-handling.md`: the `ot` value grammar
//!   (`list = list-member *( ";" list-member )`, `list-member = key ":" value`),
//!   the `th` encoding (1 to 14 lowercase hex digits, extended on the right
//!   with zeros) and the `rv` encoding (exactly 14 lowercase hex digits).
//! - `sdk.md`: randomness is `rv` when present, else the trace id's least
//!   significant 56 bits.
//!
//! Everything here uses only `std`, never allocates on the hot path
//! ([`Threshold::keeps`], [`randomness`], [`Threshold::encode`],
//! [`encode_rv`]) and never panics, whatever the input.

/// 2^56: the rejection threshold that keeps nothing.
pub const MAX_THRESHOLD: u64 = 1 << 56;

/// Hex digits of precision used when a probability becomes a threshold.
///
/// `tracestate-probability-sampling.md`, "Converting floating-point
/// probability to threshold value": "OpenTelemetry SDKs are recommended to
/// use 4 digits of precision by default."
pub const DEFAULT_PRECISION: u8 = 4;

/// The largest precision, in hex digits, that a threshold can carry (56 bits).
pub const MAX_PRECISION: u8 = 14;

/// Mask of the 56 bits that make up a randomness value.
pub const RANDOMNESS_MASK: u64 = MAX_THRESHOLD - 1;

/// 2^-56: the smallest sampling probability that a threshold can express.
pub const MIN_PROBABILITY: f64 = 1.0 / MAX_THRESHOLD as f64;

/// Longest `ot` value that the W3C tracestate rules allow (256 characters,
/// `tracestate-handling.md`, "the complete list length MUST NOT exceed 256
/// characters").
pub const MAX_OT_VALUE_LEN: usize = 256;

/// 2^56 as a float (exact).
const MAX_F: f64 = MAX_THRESHOLD as f64;
/// The 52 fraction bits of an IEEE 754 double.
const FRACTION_MASK: u64 = (1 << 52) - 1;
/// Lowercase hex digits.
const HEX: &[u8; 16] = b"0123456789abcdef";
/// Hex digits of a threshold or randomness value.
const DIGITS: usize = 14;

/// A consistent-sampling rejection threshold `T`, an integer in
/// `0..=MAX_THRESHOLD`: an item with randomness `R` is kept iff `R >= T`.
///
/// Ordering follows `T`: a greater threshold is a lower probability, which is
/// what downstream samplers compare (they may raise `T`, never lower it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Threshold(u64);

impl Threshold {
    /// `T = 0`: probability 1, keeps everything (encoded `th:0`).
    pub const ALWAYS: Threshold = Threshold(0);

    /// `T = 2^56`: probability 0, keeps nothing. "Never" is not a form of
    /// probability sampling, so it has no `th` encoding.
    pub const NEVER: Threshold = Threshold(MAX_THRESHOLD);

    /// The threshold with raw value `t`; `None` above [`MAX_THRESHOLD`].
    pub const fn from_raw(t: u64) -> Option<Threshold> {
        if t <= MAX_THRESHOLD {
            Some(Threshold(t))
        } else {
            None
        }
    }

    /// The raw threshold value, in `0..=MAX_THRESHOLD`.
    pub const fn raw(self) -> u64 {
        self.0
    }

    /// The threshold for sampling probability `p`, rounded to `precision`
    /// significant hex digits (clamped to `1..=14`).
    ///
    /// `p >= 1` gives [`Threshold::ALWAYS`], `p <= 0` gives
    /// [`Threshold::NEVER`], NaN gives `None`. A positive `p` below 2^-56
    /// gives the smallest probability, 2^-56 (the spec's valid range is
    /// 2^-56 through 1, and zero is not a probability).
    ///
    /// Rounding follows `tracestate-probability-sampling.md`, "Converting
    /// floating-point probability to threshold value": the precision is
    /// first raised by one digit per leading `f` of the threshold
    /// (`precision + exp // -4`, with `exp` from `frexp(p)`), then the
    /// rejection probability is rounded half up at that many hex digits and
    /// trailing zeros are dropped. While the raised precision is at most 12
    /// digits this is the spec's reference computation, bit for bit, in
    /// IEEE 754 doubles (`2 - p`, plus half a unit of the last digit, cut to
    /// the digits). The reference clamps at 12 digits because a double only
    /// holds 13; for 13 and 14 digits this uses the integer method the spec
    /// points to (the Collector's `pkg/sampling`: `round(p * 2^56)`, then
    /// round half up at the digit), so that small probabilities down to
    /// 2^-56 keep their precision.
    pub fn from_probability(p: f64, precision: u8) -> Option<Threshold> {
        if p.is_nan() {
            return None;
        }
        if p >= 1.0 {
            return Some(Self::ALWAYS);
        }
        if p <= 0.0 {
            return Some(Self::NEVER);
        }
        let precision = u32::from(precision.clamp(1, MAX_PRECISION));
        // frexp(p) = (m, exp) with m in [0.5, 1): for a normal double the
        // biased exponent field is exp + 1022. p < 1 so exp <= 0; a
        // subnormal counts as exp = -1022 (any value that deep saturates).
        let biased = ((p.to_bits() >> 52) & 0x7ff) as u32;
        let neg_exp = 1022u32.saturating_sub(biased);
        // Python's `exp // -4` is floor(-exp / 4), with -exp >= 0.
        let digits = (precision + neg_exp / 4).min(u32::from(MAX_PRECISION));
        let t = if digits <= 12 {
            spec_float_threshold(p, digits)
        } else {
            integer_threshold(p, digits)
        };
        Some(Threshold(t))
    }

    /// The sampling probability `(2^56 - T) / 2^56`, in `[0, 1]`.
    pub fn probability(self) -> f64 {
        (MAX_THRESHOLD - self.0) as f64 / MAX_F
    }

    /// The adjusted count `2^56 / (2^56 - T)`, that is `1 / probability`.
    ///
    /// [`Threshold::NEVER`] gives 0.0: an item that was not kept by
    /// probability sampling represents no population (the spec leaves the
    /// adjusted count undefined for non-probabilistic sampling; the
    /// Collector's `pkg/sampling` reports zero there too).
    pub fn adjusted_count(self) -> f64 {
        if self.0 >= MAX_THRESHOLD {
            0.0
        } else {
            MAX_F / (MAX_THRESHOLD - self.0) as f64
        }
    }

    /// The decision: keep iff `randomness >= T`.
    ///
    /// Only the low 56 bits of `randomness` count, so [`Threshold::NEVER`]
    /// keeps nothing whatever is passed.
    #[inline(always)]
    pub fn keeps(self, randomness: u64) -> bool {
        (randomness & RANDOMNESS_MASK) >= self.0
    }

    /// Writes the `th` value into `buf` and returns it (no allocation):
    /// 14 hex digits with trailing zeros removed, `"0"` for
    /// [`Threshold::ALWAYS`], leading zeros kept (`T = 0x08000000000000` is
    /// `"08"`). `None` for [`Threshold::NEVER`], which has no encoding.
    pub fn encode(self, buf: &mut [u8; 14]) -> Option<&str> {
        if self.0 >= MAX_THRESHOLD {
            return None;
        }
        write_hex14(self.0, buf);
        let len = if self.0 == 0 {
            1
        } else {
            // T < 2^56 and T != 0, so at most 13 trailing zero digits.
            DIGITS - (self.0.trailing_zeros() / 4) as usize
        };
        buf.get(..len).and_then(|b| std::str::from_utf8(b).ok())
    }

    /// Parses a `th` value: 1 to 14 lowercase hex digits, extended on the
    /// right with zeros to 14 digits. Anything else gives `None`.
    pub fn parse(th: &str) -> Option<Threshold> {
        let len = th.len();
        if !(1..=DIGITS).contains(&len) {
            return None;
        }
        let v = parse_hex(th)?;
        Some(Threshold(v << (4 * (DIGITS - len))))
    }

    /// Whether this is [`Threshold::NEVER`].
    pub const fn is_never(self) -> bool {
        self.0 >= MAX_THRESHOLD
    }
}

/// The spec's reference computation ("Converting floating-point probability
/// to threshold value"), for `0 < p < 1` and `1 <= digits <= 12`: returns the
/// 56-bit threshold whose first `digits` hex digits are
/// `hex(2 - p + 0.5 * 16^-digits)` cut to `digits`.
fn spec_float_threshold(p: f64, digits: u32) -> u64 {
    // ldexp(0.5, -4 * digits) = 2^-(4 * digits + 1); with digits <= 12 the
    // biased exponent 1023 - 49 .. 1023 - 5 is a normal double.
    let half = f64::from_bits(u64::from(1023 - (4 * digits + 1)) << 52);
    let mut rejection = 2.0 - p;
    rejection += half;
    let fraction = if rejection >= 2.0 {
        FRACTION_MASK
    } else {
        // rejection is in [1, 2): its fraction bits are 13 hex digits.
        rejection.to_bits() & FRACTION_MASK
    };
    truncate_digits(fraction << 4, digits)
}

/// Integer rounding for `0 < p < 1` and `digits` of 13 or 14: `round(p *
/// 2^56)` (at least 1), then the threshold rounded half up at `digits`.
fn integer_threshold(p: f64, digits: u32) -> u64 {
    // p * 2^56 is exact (a power-of-two scale) and below 2^56.
    let kept = ((p * MAX_F).round() as u64).clamp(1, RANDOMNESS_MASK);
    let t = MAX_THRESHOLD - kept;
    let shift = 4 * (MAX_PRECISION as u32).saturating_sub(digits);
    if shift == 0 {
        return t;
    }
    let rounded = truncate_digits(t + (1 << (shift - 1)), digits);
    if rounded < MAX_THRESHOLD {
        rounded
    } else {
        truncate_digits(t, digits)
    }
}

/// Keeps the first `digits` (1..=14) of 14 hex digits, zeroing the rest.
fn truncate_digits(t: u64, digits: u32) -> u64 {
    let shift = 4 * (MAX_PRECISION as u32).saturating_sub(digits);
    (t >> shift) << shift
}

/// Writes the low 56 bits of `v` as 14 lowercase hex digits.
fn write_hex14(v: u64, buf: &mut [u8; 14]) {
    for (i, b) in buf.iter_mut().enumerate() {
        let shift = 4 * (DIGITS - 1 - i);
        *b = HEX[((v >> shift) & 0xf) as usize];
    }
}

/// The value of one lowercase hex digit.
fn hex_nibble(b: u8) -> Option<u64> {
    match b {
        b'0'..=b'9' => Some(u64::from(b - b'0')),
        b'a'..=b'f' => Some(u64::from(b - b'a' + 10)),
        _ => None,
    }
}

/// Parses lowercase hex digits (the caller bounds the length to 14).
fn parse_hex(s: &str) -> Option<u64> {
    s.bytes()
        .try_fold(0u64, |acc, b| Some((acc << 4) | hex_nibble(b)?))
}

/// The randomness value `R`: `rv` when present, else the trace id's least
/// significant 56 bits (its last 14 hex digits). Always below 2^56.
#[inline(always)]
pub fn randomness(trace_id: u128, rv: Option<u64>) -> u64 {
    match rv {
        Some(rv) => rv & RANDOMNESS_MASK,
        None => (trace_id as u64) & RANDOMNESS_MASK,
    }
}

/// Parses an `rv` value: exactly 14 lowercase hex digits, else `None`.
pub fn parse_rv(s: &str) -> Option<u64> {
    if s.len() != DIGITS {
        return None;
    }
    parse_hex(s)
}

/// Writes an `rv` value (the low 56 bits of `rv` as 14 lowercase hex digits)
/// into `buf` without allocating, and returns it.
pub fn encode_rv(rv: u64, buf: &mut [u8; 14]) -> &str {
    write_hex14(rv & RANDOMNESS_MASK, buf);
    std::str::from_utf8(buf).unwrap_or_default()
}

/// Whether an incoming `th` is consistent with the randomness `R` of a
/// sampled parent (`R >= T`): a parent-based sampler passes a consistent `th`
/// on and erases an inconsistent one (`tracestate-probability-sampling.md`,
/// "General requirements" and "Parent-based threshold").
pub fn th_consistent(th: Threshold, randomness: u64) -> bool {
    th.keeps(randomness)
}

/// The value of the `ot` tracestate member, parsed.
///
/// Invariant kept by [`OtValue::parse`]: `rest` holds only valid members
/// with unique keys other than `th` and `rv`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OtValue {
    /// The sampling threshold (`th` sub-key), when present and valid.
    pub th: Option<Threshold>,
    /// The explicit randomness value (`rv` sub-key), when present and valid.
    pub rv: Option<u64>,
    /// Other sub-keys, `key:value` joined by ';', as received, in order.
    pub rest: String,
}

/// What [`OtValue::parse`] found wrong, for counting. Each flag says that
/// something was dropped from the parsed value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct OtIssues {
    /// A `th` sub-key whose value was not 1 to 14 lowercase hex digits, or
    /// that was repeated with another value: the threshold is unknown, so it
    /// was erased (`th` is `None`).
    pub th_invalid: bool,
    /// An `rv` sub-key whose value was not exactly 14 lowercase hex digits,
    /// or that was repeated with another value: it was dropped (`rv` is
    /// `None`, so randomness comes from the trace id).
    pub rv_invalid: bool,
    /// A member that is not `key:value` by the grammar (no `:`, a key not
    /// `[a-z][a-z0-9]*`, a value with characters outside
    /// `[A-Za-z0-9._-]`, or an empty member): it was dropped.
    pub malformed: bool,
    /// A key that appeared more than once (keys MUST be unique): later
    /// copies were dropped (for `th` and `rv` a different value also sets
    /// `th_invalid` / `rv_invalid`).
    pub duplicate: bool,
    /// The value was longer than [`MAX_OT_VALUE_LEN`] characters; it was
    /// parsed all the same.
    pub too_long: bool,
}

impl OtIssues {
    /// Whether nothing was wrong.
    pub const fn is_empty(&self) -> bool {
        !(self.th_invalid || self.rv_invalid || self.malformed || self.duplicate || self.too_long)
    }
}

/// A `th` or `rv` sub-key seen while parsing.
enum Slot<T> {
    Absent,
    Valid(T),
    Invalid,
}

impl<T: PartialEq> Slot<T> {
    /// Records one occurrence (`None` when its value did not parse);
    /// returns whether the key had been seen before.
    fn offer(&mut self, parsed: Option<T>) -> bool {
        let seen = !matches!(self, Slot::Absent);
        *self = match (std::mem::replace(self, Slot::Invalid), parsed) {
            (Slot::Absent, Some(v)) => Slot::Valid(v),
            (Slot::Valid(old), Some(v)) if old == v => Slot::Valid(old),
            _ => Slot::Invalid,
        };
        seen
    }
}

/// `key = lcalpha *(lcalpha / DIGIT)`.
fn valid_key(key: &str) -> bool {
    match key.as_bytes().split_first() {
        Some((first, rest)) => {
            first.is_ascii_lowercase()
                && rest
                    .iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        }
        None => false,
    }
}

/// `value = *(chr)`, `chr = ucalpha / lcalpha / DIGIT / "." / "_" / "-"`.
fn valid_value(value: &str) -> bool {
    value
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}

/// Whether `rest` (valid members joined by ';') already has `key`.
fn rest_has_key(rest: &str, key: &str) -> bool {
    rest.split(';')
        .any(|m| m.split_once(':').is_some_and(|(k, _)| k == key))
}

impl OtValue {
    /// Parses the value of the `ot` tracestate member (what follows `ot=`).
    ///
    /// Sub-keys other than `th` and `rv` are kept verbatim, in order, in
    /// `rest`. The spec gives no explicit rule for a bad `th` or `rv`
    /// value, so this follows its general requirements: a threshold whose
    /// probability is unknown must be erased (`tracestate-probability-sampling.md`,
    /// "General requirements"), so an invalid `th` is treated as absent; an
    /// `rv` must be exactly 14 lowercase hex digits (`tracestate-handling.md`,
    /// "Explicit randomness value `rv`"), so an invalid one is not randomness
    /// and is dropped. Malformed members and later duplicates are dropped
    /// too, so the result never carries invalid data on. Everything dropped
    /// is reported in [`OtIssues`]. An empty value parses to an empty
    /// [`OtValue`] with no issues.
    pub fn parse(value: &str) -> (OtValue, OtIssues) {
        let mut out = OtValue::default();
        let mut issues = OtIssues {
            too_long: value.len() > MAX_OT_VALUE_LEN,
            ..OtIssues::default()
        };
        if value.is_empty() {
            return (out, issues);
        }
        let mut th = Slot::Absent;
        let mut rv = Slot::Absent;
        for member in value.split(';') {
            let Some((key, val)) = member.split_once(':') else {
                issues.malformed = true;
                continue;
            };
            if !valid_key(key) {
                issues.malformed = true;
                continue;
            }
            match key {
                "th" => issues.duplicate |= th.offer(Threshold::parse(val)),
                "rv" => issues.duplicate |= rv.offer(parse_rv(val)),
                _ => {
                    if !valid_value(val) {
                        issues.malformed = true;
                    } else if rest_has_key(&out.rest, key) {
                        issues.duplicate = true;
                    } else {
                        if !out.rest.is_empty() {
                            out.rest.push(';');
                        }
                        out.rest.push_str(member);
                    }
                }
            }
        }
        match th {
            Slot::Valid(t) => out.th = Some(t),
            Slot::Invalid => issues.th_invalid = true,
            Slot::Absent => {}
        }
        match rv {
            Slot::Valid(r) => out.rv = Some(r),
            Slot::Invalid => issues.rv_invalid = true,
            Slot::Absent => {}
        }
        (out, issues)
    }

    /// Appends the value to `out`: `th:..;rv:..;rest` (`th` first, then
    /// `rv`, then the rest), appending nothing when there is nothing. A `th`
    /// of [`Threshold::NEVER`] has no encoding and is left out.
    pub fn write(&self, out: &mut String) {
        let mut buf = [0u8; 14];
        let mut first = true;
        if let Some(th) = self.th.and_then(|t| t.encode(&mut buf)) {
            out.push_str("th:");
            out.push_str(th);
            first = false;
        }
        if let Some(rv) = self.rv {
            if !first {
                out.push(';');
            }
            out.push_str("rv:");
            out.push_str(encode_rv(rv, &mut buf));
            first = false;
        }
        if !self.rest.is_empty() {
            if !first {
                out.push(';');
            }
            out.push_str(&self.rest);
        }
    }

    /// Whether [`OtValue::write`] would write nothing.
    pub fn is_empty(&self) -> bool {
        !matches!(self.th, Some(t) if !t.is_never()) && self.rv.is_none() && self.rest.is_empty()
    }

    /// The randomness value for this context: `rv` when present, else the
    /// low 56 bits of `trace_id` (see [`randomness`]).
    pub fn randomness(&self, trace_id: u128) -> u64 {
        randomness(trace_id, self.rv)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::sampler::test_rng::SplitMix;

    fn th_of(p: f64, precision: u8) -> String {
        let t = Threshold::from_probability(p, precision).expect("not NaN");
        let mut buf = [0u8; 14];
        t.encode(&mut buf).expect("encodable").to_string()
    }

    fn enc(t: Threshold) -> Option<String> {
        let mut buf = [0u8; 14];
        t.encode(&mut buf).map(str::to_string)
    }

    fn th(s: &str) -> Threshold {
        Threshold::parse(s).expect("valid th")
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-15 * b.abs().max(1.0)
    }

    /// The table in tracestate-probability-sampling.md, "Algorithms" >
    /// "Converting floating-point probability to threshold value" (1-in-N
    /// probability, thresholds at precision 3, 4, 5, actual probability and
    /// exact adjusted count for each).
    #[allow(clippy::type_complexity)]
    const SPEC_TABLE: &[(f64, [&str; 3], [f64; 3], [f64; 3])] = &[
        (1.0, ["0", "0", "0"], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0]),
        (0.5, ["8", "8", "8"], [0.5, 0.5, 0.5], [2.0, 2.0, 2.0]),
        (
            0.3333333333333333,
            ["aab", "aaab", "aaaab"],
            [0.333251953125, 0.3333282470703125, 0.33333301544189453],
            [3.0007326007326007, 3.00004577706569, 3.0000028610256777],
        ),
        (0.25, ["c", "c", "c"], [0.25, 0.25, 0.25], [4.0, 4.0, 4.0]),
        (
            0.2,
            ["ccd", "cccd", "ccccd"],
            [0.199951171875, 0.1999969482421875, 0.19999980926513672],
            [5.001221001221001, 5.0000762951094835, 5.0000047683761295],
        ),
        (
            0.125,
            ["e", "e", "e"],
            [0.125, 0.125, 0.125],
            [8.0, 8.0, 8.0],
        ),
        (
            0.1,
            ["e66", "e666", "e6666"],
            [0.10009765625, 0.100006103515625, 0.10000038146972656],
            [9.990243902439024, 9.99938968568813, 9.999961853172863],
        ),
        (
            0.0625,
            ["f", "f", "f"],
            [0.0625, 0.0625, 0.0625],
            [16.0, 16.0, 16.0],
        ),
        (
            0.01,
            ["fd71", "fd70a", "fd70a4"],
            [
                0.0099945068359375,
                0.010000228881835938,
                0.009999990463256836,
            ],
            [100.05496183206107, 99.99771123402633, 100.00009536752259],
        ),
        (
            0.001,
            ["ffbe7", "ffbe77", "ffbe76d"],
            [
                0.0010004043579101562,
                0.0009999871253967285,
                0.000999998301267624,
            ],
            [999.5958055290753, 1000.012874769029, 1000.0016987352618],
        ),
        (
            0.0001,
            ["fff972", "fff9724", "fff97247"],
            [
                0.00010001659393310547,
                0.00010000169277191162,
                0.00010000006295740604,
            ],
            [9998.340882002383, 9999.830725674266, 9999.99370426336],
        ),
        (
            0.00001,
            ["ffff584", "ffff583a", "ffff583a5"],
            [
                9.998679161071777e-06,
                1.00000761449337e-05,
                1.0000003385357559e-05,
            ],
            [100013.21013412817, 99999.238556461, 99999.96614643588],
        ),
        (
            0.000001,
            ["ffffef4", "ffffef39", "ffffef391"],
            [
                9.98377799987793e-07,
                1.00000761449337e-06,
                9.999930625781417e-07,
            ],
            [
                1.0016248358208955e+06,
                999992.38556461,
                1.0000069374699865e+06,
            ],
        ),
    ];

    #[test]
    fn spec_table_thresholds_probabilities_and_adjusted_counts() {
        for &(p, ths, probs, counts) in SPEC_TABLE {
            for (i, precision) in [3u8, 4, 5].into_iter().enumerate() {
                let t = Threshold::from_probability(p, precision).expect("not NaN");
                assert_eq!(
                    enc(t).as_deref(),
                    Some(ths[i]),
                    "p={p} precision={precision}"
                );
                assert_eq!(t, th(ths[i]));
                assert!(close(t.probability(), probs[i]), "p={p} prec={precision}");
                assert!(
                    close(t.adjusted_count(), counts[i]),
                    "p={p} prec={precision}"
                );
            }
        }
    }

    /// tracestate-probability-sampling.md, "Rejection Threshold (`T`)": 1%
    /// with 5 digits of precision is 71337018784743424 = 0xfd70a400000000,
    /// encoded `th:fd70a4` "because trailing zeros are removed".
    #[test]
    fn spec_one_percent_example() {
        let t = Threshold::from_probability(0.01, 5).expect("not NaN");
        assert_eq!(t.raw(), 71_337_018_784_743_424);
        assert_eq!(t.raw(), 0x00fd_70a4_0000_0000);
        assert_eq!(enc(t).as_deref(), Some("fd70a4"));
        // "if the sampling probability is 100% (keep all spans), the
        // rejection threshold is 0."
        assert_eq!(Threshold::from_probability(1.0, 5), Some(Threshold::ALWAYS));
    }

    /// tracestate-handling.md, "Sampling threshold value `th`" and
    /// "Explicit randomness value `rv`".
    #[test]
    fn spec_tracestate_handling_examples() {
        // `ot=th:0`: 100% sampling.
        assert_eq!(th("0"), Threshold::ALWAYS);
        assert_eq!(th("0").probability(), 1.0);
        // `ot=th:c`: extended to c0000000000000, rejection 75%, probability 25%.
        let c = th("c");
        assert_eq!(c.raw(), 0xc0_0000_0000_0000);
        assert_eq!(c.raw() as f64 / MAX_THRESHOLD as f64, 0.75);
        assert_eq!(c.probability(), 0.25);
        assert_eq!(c.adjusted_count(), 4.0);
        // `ot=rv:6e6d1a75832a2f` is R = 0x6e6d1a75832a2f, 43.1% of 2^56; it
        // is kept for thresholds 0x6e6d1a75832a2f through 0 (probabilities
        // 56.9% through 100%), the same as a trace id ending in those digits.
        let (ot, issues) = OtValue::parse("rv:6e6d1a75832a2f");
        assert!(issues.is_empty());
        assert_eq!(ot.rv, Some(0x6e_6d1a_7583_2a2f));
        let r = ot.randomness(0);
        assert_eq!(
            r,
            randomness(0x1234_5678_9abc_de00_006e_6d1a_7583_2a2f, None)
        );
        assert!((r as f64 / MAX_THRESHOLD as f64 - 0.431).abs() < 0.0005);
        let edge = Threshold::from_raw(0x6e_6d1a_7583_2a2f).expect("in range");
        assert!(edge.keeps(r));
        assert!(Threshold::ALWAYS.keeps(r));
        assert!(
            !Threshold::from_raw(edge.raw() + 1)
                .expect("in range")
                .keeps(r)
        );
        assert!((edge.probability() - 0.569).abs() < 0.0005);
    }

    /// sdk.md, "Root samplers set explicit randomness for non-random
    /// TraceIDs": `tracestate: ot=rv:7479cfb506891d`.
    #[test]
    fn spec_sdk_rv_example() {
        assert_eq!(parse_rv("7479cfb506891d"), Some(0x74_79cf_b506_891d));
        let mut buf = [0u8; 14];
        assert_eq!(encode_rv(0x74_79cf_b506_891d, &mut buf), "7479cfb506891d");
    }

    #[test]
    fn encode_leading_trailing_and_zero() {
        // Leading zeros stay: th:08 is p = 1 - 8/256 = 0.96875.
        let t = th("08");
        assert_eq!(t.raw(), 0x08_0000_0000_0000);
        assert_eq!(t.probability(), 0.96875);
        assert_eq!(enc(t).as_deref(), Some("08"));
        assert_eq!(Threshold::from_probability(0.96875, 4), Some(t));
        assert_ne!(th("8"), t);
        // Trailing zeros are removed; zero is "0".
        assert_eq!(enc(th("80")).as_deref(), Some("8"));
        assert_eq!(enc(th("c000")).as_deref(), Some("c"));
        assert_eq!(enc(th("00000000000000")).as_deref(), Some("0"));
        assert_eq!(enc(Threshold::ALWAYS).as_deref(), Some("0"));
        assert_eq!(enc(th("00000000000001")).as_deref(), Some("00000000000001"));
        assert_eq!(th("00000000000001").raw(), 1);
        assert_eq!(enc(th("ffffffffffffff")).as_deref(), Some("ffffffffffffff"));
        assert_eq!(th("ffffffffffffff").raw(), MAX_THRESHOLD - 1);
        assert_eq!(enc(th("0a0b0c")).as_deref(), Some("0a0b0c"));
        // NEVER has no encoding.
        assert_eq!(enc(Threshold::NEVER), None);
    }

    #[test]
    fn parse_rejects_bad_th() {
        for bad in [
            "",
            "000000000000000",
            "fffffffffffffff",
            "C",
            "8C",
            "g",
            "0x8",
            " 8",
            "8 ",
            "+8",
            "-1",
            "é",
            "8;",
            "８",
        ] {
            assert_eq!(Threshold::parse(bad), None, "{bad:?}");
        }
        assert_eq!(
            Threshold::parse("0123456789abcd").map(Threshold::raw),
            Some(0x01_2345_6789_abcd)
        );
    }

    #[test]
    fn round_trip_for_every_digit_count() {
        let mut rng = SplitMix(7);
        for digits in 1..=14u32 {
            for _ in 0..500 {
                let t = truncate_digits(rng.next56(), digits);
                let t = Threshold::from_raw(t).expect("below 2^56");
                let s = enc(t).expect("encodable");
                assert!(s.len() <= digits as usize, "{s} for {digits} digits");
                assert!(!s.ends_with('0') || s == "0");
                assert_eq!(Threshold::parse(&s), Some(t), "{s}");
            }
        }
    }

    #[test]
    fn from_probability_cases() {
        assert_eq!(th_of(0.5, 4), "8");
        assert_eq!(th_of(0.25, 4), "c");
        assert_eq!(th_of(0.1, 4), "e666");
        assert_eq!(th_of(1.0 / 3.0, 4), "aaab");
        assert_eq!(th_of(1.0, 4), "0");
        assert_eq!(Threshold::from_probability(1.0, 4), Some(Threshold::ALWAYS));
        // 2^-56, the smallest probability: T = 2^56 - 1, kept only by R = 2^56 - 1.
        let min = Threshold::from_probability(MIN_PROBABILITY, 4).expect("not NaN");
        assert_eq!(min.raw(), MAX_THRESHOLD - 1);
        assert_eq!(enc(min).as_deref(), Some("ffffffffffffff"));
        assert_eq!(min.probability(), MIN_PROBABILITY);
        assert_eq!(min.adjusted_count(), MAX_THRESHOLD as f64);
        assert!(min.keeps(RANDOMNESS_MASK));
        assert!(!min.keeps(RANDOMNESS_MASK - 1));
        // Below the smallest probability: still the smallest probability.
        assert_eq!(Threshold::from_probability(1e-300, 4), Some(min));
        assert_eq!(Threshold::from_probability(f64::from_bits(1), 4), Some(min));
        // Zero and below: never. NaN: none. Above one: always.
        assert_eq!(Threshold::from_probability(0.0, 4), Some(Threshold::NEVER));
        assert_eq!(Threshold::from_probability(-0.0, 4), Some(Threshold::NEVER));
        assert_eq!(Threshold::from_probability(-0.5, 4), Some(Threshold::NEVER));
        assert_eq!(
            Threshold::from_probability(f64::NEG_INFINITY, 4),
            Some(Threshold::NEVER)
        );
        assert_eq!(Threshold::from_probability(f64::NAN, 4), None);
        assert_eq!(Threshold::from_probability(1.5, 4), Some(Threshold::ALWAYS));
        assert_eq!(
            Threshold::from_probability(f64::INFINITY, 4),
            Some(Threshold::ALWAYS)
        );
        // Near one there is no extra precision (the spec's note): rounds to 0.
        assert_eq!(th_of(1.0 - 1e-10, 4), "0");
        assert_eq!(th_of(0.99999, 4), "0001");
    }

    /// Precision 1..=14 for p = 1/3 (no leading `f`, so no raised
    /// precision): the rejection probability 0.aaaa... rounds up in the last
    /// digit. At 14 digits it is exact: 1/3 as a double is
    /// 0x15555555555555 * 2^-54, so T = 2^56 - 0x55555555555554.
    #[test]
    fn precision_one_to_fourteen() {
        for precision in 1..=14u8 {
            let expected = if precision == 14 {
                "aaaaaaaaaaaaac".to_string()
            } else {
                format!("{}b", "a".repeat(usize::from(precision) - 1))
            };
            assert_eq!(
                th_of(1.0 / 3.0, precision),
                expected,
                "precision {precision}"
            );
        }
        // Clamped to 1..=14.
        assert_eq!(th_of(1.0 / 3.0, 0), "b");
        assert_eq!(th_of(1.0 / 3.0, 200), "aaaaaaaaaaaaac");
        // 0.1 at full precision: 2^56 - 0x1999999999999a.
        assert_eq!(th_of(0.1, 14), "e6666666666666");
        assert_eq!(th_of(0.1, 12), "e66666666666");
        assert_eq!(th_of(0.1, 1), "e");
        assert_eq!(th_of(0.5, 14), "8");
        // Raised precision: 0.01 at 4 digits gets one more digit for the
        // leading f (table above); 2^-40 at 4 digits gets 10 more (clamped
        // to 14): T = 2^56 - 2^16.
        assert_eq!(th_of(0.01, 4), "fd70a");
        assert_eq!(th_of(2f64.powi(-40), 4), "ffffffffff");
        assert_eq!(th_of(2f64.powi(-40) * 1.5, 4), "fffffffffe8");
    }

    /// The spec's Python reference, transliterated ("Converting
    /// floating-point probability to threshold value"), as a string.
    fn spec_reference(probability: f64, precision: i32) -> String {
        if probability == 1.0 {
            return "0".to_string();
        }
        // math.frexp: probability = m * 2^exp, m in [0.5, 1).
        let mut m = probability;
        let mut exp = 0i32;
        while m < 0.5 {
            m *= 2.0;
            exp -= 1;
        }
        // Python's floor division `exp // -4`.
        let q = (f64::from(exp) / -4.0).floor() as i32;
        let precision = (precision + q).clamp(1, 12);
        let mut rejection_prob = 2.0 - probability;
        rejection_prob += 0.5 * 2f64.powi(-4 * precision);
        let digits = if rejection_prob >= 2.0 {
            "fffffffffffff".to_string()
        } else {
            format!("{:013x}", rejection_prob.to_bits() & ((1u64 << 52) - 1))
        };
        assert_eq!(digits.len(), 13);
        let out = digits[..precision as usize].trim_end_matches('0');
        // The reference returns "" when every digit rounds to zero; that
        // threshold is 0, encoded "0".
        if out.is_empty() { "0" } else { out }.to_string()
    }

    #[test]
    fn matches_spec_reference_where_it_applies() {
        let mut rng = SplitMix(42);
        let mut compared = 0;
        for _ in 0..200_000 {
            let p = rng.unit() * 2f64.powi(-(rng.below(48) as i32));
            let precision = 1 + rng.below(14) as u8;
            if p == 0.0 {
                continue;
            }
            let exp = ((p.to_bits() >> 52) & 0x7ff) as i32 - 1022;
            if i32::from(precision) + (-exp) / 4 > 12 {
                continue; // the reference clamps to 12 digits there
            }
            compared += 1;
            assert_eq!(
                th_of(p, precision),
                spec_reference(p, i32::from(precision)),
                "p={p:e} ({:#x}) precision={precision}",
                p.to_bits()
            );
        }
        assert!(compared > 50_000, "{compared}");
        for &(p, ths, _, _) in SPEC_TABLE {
            for (i, precision) in [3, 4, 5].into_iter().enumerate() {
                assert_eq!(spec_reference(p, precision), ths[i]);
            }
        }
    }

    /// Where the raised precision is 13 or 14 digits the threshold is
    /// within half a unit of the last digit of the exact 2^56 * (1 - p).
    #[test]
    fn integer_rounding_is_within_half_a_digit() {
        let mut rng = SplitMix(9);
        for _ in 0..100_000 {
            let (p, precision) = if rng.below(2) == 0 {
                (rng.unit() * 2f64.powi(-36 - rng.below(20) as i32), 4)
            } else {
                (rng.unit() * 2f64.powi(-8), 13 + rng.below(2) as u8)
            };
            if p == 0.0 {
                continue;
            }
            let t = Threshold::from_probability(p, precision).expect("not NaN");
            let kept = MAX_THRESHOLD - t.raw(); // < 2^53: exact as f64
            let exact_kept = (p * MAX_F).max(1.0);
            let exp = ((p.to_bits() >> 52) & 0x7ff) as i32 - 1022;
            let digits = (i32::from(precision) + (-exp) / 4).min(14);
            let half_unit = if digits == 14 {
                0.5
            } else {
                f64::from(1u32 << (4 * (14 - digits) - 1)) + 0.5
            };
            assert!(
                (kept as f64 - exact_kept).abs() <= half_unit,
                "p={p:e} precision={precision} kept={kept}"
            );
            assert_eq!(truncate_digits(t.raw(), digits as u32), t.raw());
        }
    }

    #[test]
    fn thresholds_fall_as_probability_rises() {
        for precision in [1u8, 2, 4, 12, 13, 14] {
            let mut p = MIN_PROBABILITY;
            let mut prev = Threshold::NEVER;
            while p < 1.0 {
                let t = Threshold::from_probability(p, precision).expect("not NaN");
                assert!(t <= prev, "p={p:e} precision={precision}");
                assert!(t < Threshold::NEVER);
                prev = t;
                p *= 1.0009;
            }
        }
    }

    #[test]
    fn keeps_boundary() {
        let t = th("8");
        assert!(t.keeps(t.raw()));
        assert!(!t.keeps(t.raw() - 1));
        assert!(t.keeps(RANDOMNESS_MASK));
        assert!(Threshold::ALWAYS.keeps(0));
        assert!(!Threshold::NEVER.keeps(RANDOMNESS_MASK));
        assert!(!Threshold::NEVER.keeps(u64::MAX));
        // Bits above 56 are not randomness.
        assert!(!t.keeps((1 << 56) | 1));
        assert!(th_consistent(t, t.raw()));
        assert!(!th_consistent(t, t.raw() - 1));
        assert!(!th_consistent(Threshold::NEVER, RANDOMNESS_MASK));
    }

    #[test]
    fn raw_bounds_probability_and_adjusted_count() {
        assert_eq!(Threshold::from_raw(MAX_THRESHOLD), Some(Threshold::NEVER));
        assert_eq!(Threshold::from_raw(MAX_THRESHOLD + 1), None);
        assert_eq!(Threshold::from_raw(u64::MAX), None);
        assert_eq!(Threshold::from_raw(0), Some(Threshold::ALWAYS));
        assert_eq!(Threshold::NEVER.raw(), 1 << 56);
        assert!(Threshold::NEVER.is_never());
        assert!(!th("f").is_never());
        assert_eq!(Threshold::NEVER.probability(), 0.0);
        assert_eq!(Threshold::NEVER.adjusted_count(), 0.0);
        assert_eq!(Threshold::ALWAYS.probability(), 1.0);
        assert_eq!(Threshold::ALWAYS.adjusted_count(), 1.0);
        assert_eq!(th("e").probability(), 0.125);
        assert_eq!(th("e").adjusted_count(), 8.0);
        assert_eq!(th("f").adjusted_count(), 16.0);
        assert!(th("c") > th("8"), "higher threshold, lower probability");
    }

    #[test]
    fn kept_fraction_matches_probability() {
        const N: u64 = 1_000_000;
        let mut rng = SplitMix(0x5eed);
        let values: Vec<u64> = (0..N).map(|_| rng.next56()).collect();
        for p in [0.1, 0.5, 0.01] {
            let t = Threshold::from_probability(p, DEFAULT_PRECISION).expect("not NaN");
            let kept = values.iter().filter(|&&r| t.keeps(r)).count() as f64;
            let n = N as f64;
            let sd = (n * p * (1.0 - p)).sqrt();
            let dev = (kept - n * p).abs();
            assert!(dev <= 5.0 * sd, "p={p} kept={kept} sd={sd}");
            let dev = (kept - n * t.probability()).abs();
            assert!(dev <= 5.0 * sd, "p={p} kept={kept} sd={sd}");
        }
    }

    #[test]
    fn kept_sets_are_nested() {
        let mut rng = SplitMix(3);
        let lo = Threshold::from_probability(0.1, DEFAULT_PRECISION).expect("not NaN");
        let hi = Threshold::from_probability(0.5, DEFAULT_PRECISION).expect("not NaN");
        let mut kept_lo = 0;
        for _ in 0..200_000 {
            let r = rng.next56();
            if lo.keeps(r) {
                kept_lo += 1;
                assert!(hi.keeps(r), "r={r:#x}");
            }
        }
        assert!(kept_lo > 15_000, "{kept_lo}");
    }

    #[test]
    fn randomness_and_rv() {
        // W3C trace id example 4bf92f3577b34da6a3ce929d0e0e4736: R is its
        // last 14 hex digits.
        let id = 0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736u128;
        assert_eq!(randomness(id, None), 0xce_929d_0e0e_4736);
        assert_eq!(randomness(id, Some(0x12)), 0x12);
        assert_eq!(randomness(id, Some(u64::MAX)), RANDOMNESS_MASK);
        assert_eq!(randomness(u128::MAX, None), RANDOMNESS_MASK);
        assert_eq!(parse_rv("00000000000000"), Some(0));
        assert_eq!(parse_rv("ffffffffffffff"), Some(RANDOMNESS_MASK));
        for bad in [
            "",
            "7479cfb506891",
            "7479cfb506891d0",
            "7479CFB506891D",
            "7479cfb506891g",
            "7479cfb50689é",
        ] {
            assert_eq!(parse_rv(bad), None, "{bad:?}");
        }
        let mut buf = [0u8; 14];
        assert_eq!(encode_rv(0, &mut buf), "00000000000000");
        assert_eq!(encode_rv(0xab, &mut buf), "000000000000ab");
        assert_eq!(encode_rv(u64::MAX, &mut buf), "ffffffffffffff");
        let mut rng = SplitMix(11);
        for _ in 0..1000 {
            let r = rng.next56();
            let mut buf = [0u8; 14];
            let s = encode_rv(r, &mut buf);
            assert_eq!(parse_rv(s), Some(r));
        }
    }

    fn written(v: &OtValue) -> String {
        let mut s = String::new();
        v.write(&mut s);
        s
    }

    #[test]
    fn ot_value_round_trip_keeps_unknown_keys_in_order() {
        // tracestate-handling.md examples `ot=p:8;r:62` and `ot=foo:bar;k1:13`.
        let (v, issues) = OtValue::parse("p:8;r:62");
        assert!(issues.is_empty());
        assert_eq!(
            v,
            OtValue {
                th: None,
                rv: None,
                rest: "p:8;r:62".into()
            }
        );
        assert_eq!(written(&v), "p:8;r:62");
        let (v, issues) = OtValue::parse("foo:bar;th:c0;k1:13;rv:6e6d1a75832a2f;z9:A.b_c-D;e:");
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(v.th, Some(th("c")));
        assert_eq!(v.rv, Some(0x6e_6d1a_7583_2a2f));
        assert_eq!(v.rest, "foo:bar;k1:13;z9:A.b_c-D;e:");
        let s = written(&v);
        assert_eq!(s, "th:c;rv:6e6d1a75832a2f;foo:bar;k1:13;z9:A.b_c-D;e:");
        assert_eq!(OtValue::parse(&s), (v.clone(), OtIssues::default()));
        // Each part alone, and leading zeros in th.
        let (v, _) = OtValue::parse("th:08");
        assert_eq!(written(&v), "th:08");
        let (v, _) = OtValue::parse("rv:00000000000001");
        assert_eq!(written(&v), "rv:00000000000001");
        let (v, _) = OtValue::parse("th:0;x:1");
        assert_eq!(v.th, Some(Threshold::ALWAYS));
        assert_eq!(written(&v), "th:0;x:1");
        // write appends.
        let mut s = String::from("ot=");
        v.write(&mut s);
        assert_eq!(s, "ot=th:0;x:1");
    }

    #[test]
    fn ot_value_empty() {
        let (v, issues) = OtValue::parse("");
        assert!(v.is_empty());
        assert!(issues.is_empty());
        assert_eq!(written(&v), "");
        let never = OtValue {
            th: Some(Threshold::NEVER),
            ..OtValue::default()
        };
        assert!(never.is_empty());
        assert_eq!(written(&never), "");
        let always = OtValue {
            th: Some(Threshold::ALWAYS),
            ..OtValue::default()
        };
        assert!(!always.is_empty());
        assert!(
            !OtValue {
                rv: Some(0),
                ..OtValue::default()
            }
            .is_empty()
        );
        assert!(
            !OtValue {
                rest: "a:b".into(),
                ..OtValue::default()
            }
            .is_empty()
        );
    }

    #[test]
    fn ot_value_invalid_th_and_rv_are_dropped_and_reported() {
        for bad_th in [
            "th:",
            "th:C",
            "th:0x8",
            "th:fffffffffffffff",
            "th:8.0",
            "th:g",
            "th:8=1",
        ] {
            let input = format!("a:1;{bad_th};b:2");
            let (v, issues) = OtValue::parse(&input);
            assert_eq!(v.th, None, "{input}");
            assert!(issues.th_invalid, "{input}");
            assert!(!issues.rv_invalid && !issues.malformed && !issues.duplicate);
            assert_eq!(v.rest, "a:1;b:2");
            assert_eq!(written(&v), "a:1;b:2");
        }
        for bad_rv in [
            "rv:",
            "rv:6E6D1A75832A2F",
            "rv:6e6d1a75832a2",
            "rv:6e6d1a75832a2f0",
            "rv:xyz",
        ] {
            let input = format!("th:8;{bad_rv}");
            let (v, issues) = OtValue::parse(&input);
            assert_eq!(v.rv, None, "{input}");
            assert_eq!(v.th, Some(th("8")));
            assert!(issues.rv_invalid && !issues.th_invalid, "{input}");
            assert_eq!(written(&v), "th:8");
        }
        // Both invalid at once.
        let (v, issues) = OtValue::parse("th:Z;rv:1");
        assert_eq!(v, OtValue::default());
        assert!(issues.th_invalid && issues.rv_invalid);
    }

    #[test]
    fn ot_value_malformed_duplicate_and_long() {
        for bad in [
            "x", "K:1", "1a:2", ":v", "a:b:c", "a:b c", "a-b:1", "a:é", "é:1", "",
        ] {
            let input = format!("th:8;{bad};k:v");
            let (v, issues) = OtValue::parse(&input);
            assert!(issues.malformed, "{input:?}");
            assert!(!issues.th_invalid && !issues.duplicate, "{input:?}");
            assert_eq!(v.th, Some(th("8")));
            assert_eq!(v.rest, "k:v", "{input:?}");
        }
        let (v, issues) = OtValue::parse(";");
        assert!(issues.malformed);
        assert!(v.is_empty());
        // Same th twice (same value, even spelled differently): kept, reported.
        let (v, issues) = OtValue::parse("th:8;th:80");
        assert_eq!(v.th, Some(th("8")));
        assert!(issues.duplicate && !issues.th_invalid);
        // Conflicting th: the probability is unknown, so it is erased.
        let (v, issues) = OtValue::parse("th:8;th:c");
        assert_eq!(v.th, None);
        assert!(issues.duplicate && issues.th_invalid);
        let (v, issues) = OtValue::parse("th:C;th:c");
        assert_eq!(v.th, None);
        assert!(issues.duplicate && issues.th_invalid);
        let (v, issues) = OtValue::parse("rv:00000000000001;rv:00000000000002");
        assert_eq!(v.rv, None);
        assert!(issues.duplicate && issues.rv_invalid);
        // Other duplicate keys: the first is kept.
        let (v, issues) = OtValue::parse("a:1;b:2;a:3;ab:4");
        assert_eq!(v.rest, "a:1;b:2;ab:4");
        assert!(issues.duplicate && !issues.malformed);
        // Too long: reported, parsed all the same.
        let long = format!("th:8;x:{}", "y".repeat(300));
        let (v, issues) = OtValue::parse(&long);
        assert!(issues.too_long && !issues.malformed);
        assert_eq!(v.th, Some(th("8")));
        assert_eq!(v.rest.len(), 302);
        let exact = format!("x:{}", "y".repeat(MAX_OT_VALUE_LEN - 2));
        assert!(OtValue::parse(&exact).1.is_empty());
    }

    /// Arbitrary strings over an alphabet of separators, hex, uppercase,
    /// sub-key names and multibyte UTF-8: nothing panics, and what parses
    /// writes back to a value that parses to itself with no issues.
    #[test]
    fn arbitrary_input_never_panics_and_rewrites_cleanly() {
        const TOKENS: &[&str] = &[
            ";",
            ";",
            ":",
            ":",
            "th:",
            "rv:",
            "th",
            "rv",
            "0",
            "1",
            "8",
            "9",
            "a",
            "c",
            "f",
            "e",
            "00000000000",
            "fffffff",
            "A",
            "F",
            "Z",
            "g",
            "-",
            ".",
            "_",
            "=",
            ",",
            " ",
            "é",
            "→",
            "😀",
            "\u{0}",
            "ÿ",
            "ｆ",
            "k",
            "k1",
        ];
        let mut rng = SplitMix(2024);
        let mut with_th = 0;
        for _ in 0..50_000 {
            let mut s = String::new();
            for _ in 0..rng.below(24) {
                s.push_str(TOKENS[rng.below(TOKENS.len() as u64) as usize]);
            }
            let _ = Threshold::parse(&s);
            let _ = parse_rv(&s);
            let (v, _) = OtValue::parse(&s);
            with_th += usize::from(v.th.is_some());
            let out = written(&v);
            assert_eq!(out.is_empty(), v.is_empty(), "{s:?}");
            let (again, issues) = OtValue::parse(&out);
            assert_eq!(again, v, "{s:?} -> {out:?}");
            assert!(issues.is_empty(), "{s:?} -> {out:?}: {issues:?}");
            assert_eq!(written(&again), out);
            // Raw bytes as (lossy) UTF-8 as well.
            let bytes: Vec<u8> = (0..rng.below(20)).map(|_| rng.next() as u8).collect();
            let lossy = String::from_utf8_lossy(&bytes);
            let _ = OtValue::parse(&lossy);
            let _ = Threshold::parse(&lossy);
            let _ = parse_rv(&lossy);
        }
        assert!(with_th > 100, "{with_th}");
        for precision in [0u8, 1, 4, 13, 14, 15, 255] {
            for p in [
                f64::MIN_POSITIVE,
                f64::EPSILON,
                1.0 - f64::EPSILON,
                0.5 + f64::EPSILON,
                f64::MAX,
                -f64::MAX,
            ] {
                let t = Threshold::from_probability(p, precision).expect("not NaN");
                assert!(t.raw() <= MAX_THRESHOLD);
            }
        }
    }
}
