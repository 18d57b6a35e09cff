//! The file sink's settings as an operator writes them: sizes (`100MiB`,
//! `1GB`), periods (`hourly`, `daily`), compression (`gzip`, `zstd`,
//! `none`) and ages (`7d`, `12h`). Environment variables and configuration
//! files parse them with `str::parse`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::{Compression, Rotation};

/// Why a setting's text could not be read: names the setting's kind, the
/// text, and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    what: &'static str,
    input: String,
    reason: String,
}

impl ParseError {
    fn new(what: &'static str, input: &str, reason: impl Into<String>) -> ParseError {
        ParseError {
            what,
            input: input.to_string(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {} {:?}: {}", self.what, self.input, self.reason)
    }
}

impl std::error::Error for ParseError {}

/// A number of bytes, read from text such as `100MiB`, `1GB`, `512k`,
/// `1.5 GiB` or `4096`.
///
/// Units (case does not matter): `B`; decimal `KB`, `MB`, `GB`, `TB`
/// (powers of 1000); binary `KiB`, `MiB`, `GiB`, `TiB` and the one-letter
/// `K`, `M`, `G`, `T` (powers of 1024). No unit means bytes. A fraction is
/// allowed with a unit and rounded down to whole bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// The number of bytes.
    pub fn bytes(self) -> u64 {
        self.0
    }
}

impl From<ByteSize> for u64 {
    fn from(b: ByteSize) -> u64 {
        b.0
    }
}

const SIZE_UNITS: &str = "B, KB, MB, GB, TB (1000), KiB, MiB, GiB, TiB or K, M, G, T (1024)";

impl FromStr for ByteSize {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<ByteSize, ParseError> {
        let err = |r: String| ParseError::new("size", s, r);
        let t = s.trim();
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (num, unit) = (&t[..split], t[split..].trim());
        if num.is_empty() {
            return Err(err(format!(
                "expected a number, then a unit ({SIZE_UNITS})"
            )));
        }
        let mult: u64 = match unit.to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "kb" => 1000,
            "mb" => 1000_u64.pow(2),
            "gb" => 1000_u64.pow(3),
            "tb" => 1000_u64.pow(4),
            "k" | "kib" => 1 << 10,
            "m" | "mib" => 1 << 20,
            "g" | "gib" => 1 << 30,
            "t" | "tib" => 1 << 40,
            _ => return Err(err(format!("unknown unit {unit:?} (use {SIZE_UNITS})"))),
        };
        let too_large = || err("too large".into());
        if num.contains('.') {
            let (whole, frac) = num.split_once('.').unwrap_or((num, ""));
            if whole.is_empty() || frac.is_empty() || frac.contains('.') {
                return Err(err(format!("{num:?} is not a number")));
            }
            let x: f64 = num
                .parse()
                .map_err(|_| err(format!("{num:?} is not a number")))?;
            let v = x * mult as f64;
            if !v.is_finite() || v >= u64::MAX as f64 {
                return Err(too_large());
            }
            return Ok(ByteSize(v as u64));
        }
        let n: u64 = num.parse().map_err(|_| too_large())?;
        n.checked_mul(mult).map(ByteSize).ok_or_else(too_large)
    }
}

impl fmt::Display for ByteSize {
    /// The largest binary unit that divides the size exactly: `100MiB`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let units = [
            (1u64 << 40, "TiB"),
            (1 << 30, "GiB"),
            (1 << 20, "MiB"),
            (1 << 10, "KiB"),
        ];
        for (m, u) in units {
            if self.0 != 0 && self.0.is_multiple_of(m) {
                return write!(f, "{}{u}", self.0 / m);
            }
        }
        write!(f, "{}B", self.0)
    }
}

/// A duration read from text such as `7d`, `12h`, `30m`, `45s`, `2w` or
/// `1h30m`: whole numbers, each with a unit `s`, `m`, `h`, `d` (24 h) or
/// `w` (7 d). A unit is required.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HumanDuration(pub Duration);

impl From<HumanDuration> for Duration {
    fn from(d: HumanDuration) -> Duration {
        d.0
    }
}

impl FromStr for HumanDuration {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<HumanDuration, ParseError> {
        let err = |r: String| ParseError::new("duration", s, r);
        let mut rest = s.trim();
        if rest.is_empty() {
            return Err(err("expected a number and a unit (s, m, h, d, w)".into()));
        }
        let mut total: u64 = 0;
        while !rest.is_empty() {
            let end = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            if end == 0 {
                return Err(err(format!("expected a number at {rest:?}")));
            }
            let n: u64 = rest[..end].parse().map_err(|_| err("too large".into()))?;
            rest = &rest[end..];
            let uend = rest
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(rest.len());
            let unit = &rest[..uend];
            let mult = match unit.trim() {
                "s" => 1,
                "m" => 60,
                "h" => 3600,
                "d" => 86_400,
                "w" => 7 * 86_400,
                "" => return Err(err(format!("{n} needs a unit (s, m, h, d, w)"))),
                u => return Err(err(format!("unknown unit {u:?} (use s, m, h, d, w)"))),
            };
            rest = &rest[uend..];
            total = n
                .checked_mul(mult)
                .and_then(|x| total.checked_add(x))
                .ok_or_else(|| err("too large".into()))?;
        }
        Ok(HumanDuration(Duration::from_secs(total)))
    }
}

impl FromStr for Rotation {
    type Err = ParseError;

    /// `hourly`, `daily` or `never` (case does not matter).
    fn from_str(s: &str) -> Result<Rotation, ParseError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "hourly" => Ok(Rotation::Hourly),
            "daily" => Ok(Rotation::Daily),
            "never" | "none" => Ok(Rotation::Never),
            _ => Err(ParseError::new(
                "rotation period",
                s,
                "use hourly, daily or never",
            )),
        }
    }
}

impl FromStr for Compression {
    type Err = ParseError;

    /// `gzip` (or `gz`), `zstd` (or `zst`) or `none` (case does not
    /// matter). A kind whose cargo feature is off parses; `init()` rejects
    /// it.
    fn from_str(s: &str) -> Result<Compression, ParseError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "gzip" | "gz" => Ok(Compression::Gzip),
            "zstd" | "zst" => Ok(Compression::Zstd),
            "none" | "off" => Ok(Compression::None),
            _ => Err(ParseError::new("compression", s, "use gzip, zstd or none")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        let ok = [
            ("4096", 4096),
            ("0", 0),
            ("100MiB", 100 << 20),
            ("100 MiB", 100 << 20),
            ("1GB", 1_000_000_000),
            ("1gb", 1_000_000_000),
            ("512k", 512 << 10),
            ("512K", 512 << 10),
            ("2KB", 2000),
            ("1.5GiB", 3 << 29),
            ("7B", 7),
            ("1TiB", 1 << 40),
            (" 3M ", 3 << 20),
        ];
        for (s, n) in ok {
            assert_eq!(s.parse::<ByteSize>(), Ok(ByteSize(n)), "{s}");
        }
        for s in [
            "",
            "MiB",
            "-1",
            "1XB",
            "1.",
            ".5M",
            "1.2.3M",
            "99999999999999999999",
            "20000000TiB",
            "1e3",
        ] {
            let e = s.parse::<ByteSize>().unwrap_err();
            assert!(e.to_string().starts_with("invalid size"), "{s}: {e}");
        }
        let e = "10XB".parse::<ByteSize>().unwrap_err().to_string();
        assert!(e.contains("unknown unit \"XB\""), "{e}");
        assert_eq!(ByteSize(100 << 20).to_string(), "100MiB");
        assert_eq!(ByteSize(1000).to_string(), "1000B");
        assert_eq!(ByteSize(3 << 29).to_string(), "1536MiB");
    }

    #[test]
    fn durations() {
        let ok = [
            ("7d", 7 * 86_400),
            ("12h", 12 * 3600),
            ("30m", 1800),
            ("45s", 45),
            ("2w", 14 * 86_400),
            ("1h30m", 5400),
            (" 1d ", 86_400),
        ];
        for (s, n) in ok {
            assert_eq!(
                s.parse::<HumanDuration>(),
                Ok(HumanDuration(Duration::from_secs(n))),
                "{s}"
            );
        }
        for s in [
            "",
            "7",
            "d",
            "7x",
            "1.5h",
            "-1d",
            "99999999999999999999w",
            "h7",
        ] {
            let e = s.parse::<HumanDuration>().unwrap_err();
            assert!(e.to_string().starts_with("invalid duration"), "{s}: {e}");
        }
        let e = "7".parse::<HumanDuration>().unwrap_err().to_string();
        assert!(e.contains("needs a unit"), "{e}");
    }

    proptest::proptest! {
        #[test]
        fn any_text_parses_or_errs_without_panic(s in "\\PC{0,24}") {
            let _ = s.parse::<ByteSize>();
            let _ = s.parse::<HumanDuration>();
            let _ = s.parse::<Rotation>();
            let _ = s.parse::<Compression>();
        }

        #[test]
        fn sizes_round_trip_through_display(n in 0u64..(1 << 50)) {
            proptest::prop_assert_eq!(ByteSize(n).to_string().parse::<ByteSize>(), Ok(ByteSize(n)));
        }
    }

    #[test]
    fn rotation_and_compression() {
        assert_eq!("hourly".parse(), Ok(Rotation::Hourly));
        assert_eq!("Daily".parse(), Ok(Rotation::Daily));
        assert_eq!("never".parse(), Ok(Rotation::Never));
        let e = "weekly".parse::<Rotation>().unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid rotation period \"weekly\": use hourly, daily or never"
        );
        assert_eq!("gzip".parse(), Ok(Compression::Gzip));
        assert_eq!("ZSTD".parse(), Ok(Compression::Zstd));
        assert_eq!("none".parse(), Ok(Compression::None));
        let e = "lz4".parse::<Compression>().unwrap_err().to_string();
        assert_eq!(e, "invalid compression \"lz4\": use gzip, zstd or none");
    }
}
