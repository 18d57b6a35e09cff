//! Names of rotated files.
//!
//! The live file `app.jsonl` is rotated to `app.<stamp>.jsonl`, where the
//! stamp is the time the file's content starts (see [`super::FileConfig`]):
//! `2026-12-03T13-00-00Z` in UTC, `2026-12-03T14-00-00+0100` in local time
//! (no colons, so the names are valid everywhere and need no quoting). A
//! second file with the same stamp (several rotations within one second)
//! gets `.1`, `.2`, … before the extension. Compression appends `.gz` or
//! `.zst`, and `.tmp` while the compressed file is being written.

use std::path::{Path, PathBuf};

use super::time::{civil, days_from_civil};

/// Where a rotated file sits in time: its stamp, then its collision number
/// (0 for none). Ordering keys orders files by age, oldest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Key {
    /// The stamp, as seconds since the Unix epoch (UTC).
    pub unix: i64,
    /// The `.N` suffix, 0 when there is none.
    pub n: u32,
}

/// Which form of a rotated file a name holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// As rotated, uncompressed.
    Plain,
    /// Compressed with gzip (`.gz`).
    Gzip,
    /// Compressed with zstd (`.zst`).
    Zstd,
    /// A compressed file being written (`.gz.tmp`, `.zst.tmp`).
    Temp,
}

/// The suffixes a rotated file's name may end with, after the extension.
const SUFFIXES: [(&str, Kind); 5] = [
    ("", Kind::Plain),
    (".gz", Kind::Gzip),
    (".zst", Kind::Zstd),
    (".gz.tmp", Kind::Temp),
    (".zst.tmp", Kind::Temp),
];

/// The stamp of `unix` in UTC (`offset == None`) or at a UTC offset in
/// seconds: `2026-12-03T13-00-00Z`, `2026-12-03T14-00-00+0100`.
pub(crate) fn stamp(unix: i64, offset: Option<i32>) -> String {
    let off = offset.unwrap_or(0);
    let c = civil(unix + i64::from(off));
    let mut s = format!(
        "{:04}-{:02}-{:02}T{:02}-{:02}-{:02}",
        c.y, c.mo, c.d, c.h, c.mi, c.s
    );
    match offset {
        None => s.push('Z'),
        Some(o) => {
            let sign = if o < 0 { '-' } else { '+' };
            let m = o.unsigned_abs() / 60;
            s.push_str(&format!("{sign}{:02}{:02}", m / 60, m % 60));
        }
    }
    s
}

/// Reads a stamp at the start of `s`: its time (UTC seconds) and length.
pub(crate) fn parse_stamp(s: &str) -> Option<(i64, usize)> {
    let b = s.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = b.get(r)?;
        if part.iter().all(u8::is_ascii_digit) {
            Some(part.iter().fold(0, |a, &d| a * 10 + u32::from(d - b'0')))
        } else {
            None
        }
    };
    let seps = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b'-'), (16, b'-')];
    if seps.iter().any(|&(i, c)| b[i] != c) {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let (offset, len) = match b[19] {
        b'Z' => (0i64, 20),
        sign @ (b'+' | b'-') => {
            let (oh, om) = (num(20..22)?, num(22..24)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let o = i64::from(oh * 3600 + om * 60);
            (if sign == b'-' { -o } else { o }, 24)
        }
        _ => return None,
    };
    let local = days_from_civil(i64::from(y), mo, d) * 86_400 + i64::from(h * 3600 + mi * 60 + sec);
    Some((local - offset, len))
}

/// The names of one file sink's rotated files.
#[derive(Clone, Debug)]
pub(crate) struct Pattern {
    /// The live file's directory (`.` for a bare file name).
    pub dir: PathBuf,
    /// The live file's name up to its extension, with the dot: `app.`.
    prefix: String,
    /// The live file's extension with its dot (`.jsonl`), or empty.
    ext: String,
}

impl Pattern {
    /// The pattern of the live file `live`.
    pub(crate) fn new(live: &Path) -> Pattern {
        let dir = match live.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = live
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // `app.jsonl` -> (`app`, `.jsonl`); `app` and `.hidden` have none.
        let (stem, ext) = match name.rfind('.') {
            Some(i) if i > 0 => (name[..i].to_string(), name[i..].to_string()),
            _ => (name, String::new()),
        };
        Pattern {
            dir,
            prefix: format!("{stem}."),
            ext,
        }
    }

    /// The name of a rotated file: `app.<stamp>[.N].jsonl`.
    pub(crate) fn name(&self, stamp: &str, n: u32) -> String {
        if n == 0 {
            format!("{}{stamp}{}", self.prefix, self.ext)
        } else {
            format!("{}{stamp}.{n}{}", self.prefix, self.ext)
        }
    }

    /// Every name a rotated file of this stamp and number may have.
    pub(crate) fn variants(&self, stamp: &str, n: u32) -> impl Iterator<Item = PathBuf> + '_ {
        let base = self.name(stamp, n);
        SUFFIXES
            .iter()
            .map(move |(suffix, _)| self.dir.join(format!("{base}{suffix}")))
    }

    /// Whether `name` is one of this sink's rotated files, and which.
    pub(crate) fn parse(&self, name: &str) -> Option<(Key, Kind)> {
        let rest = name.strip_prefix(&self.prefix)?;
        let (unix, len) = parse_stamp(rest)?;
        let rest = &rest[len..];
        let tail = |rest: &str| {
            let r = rest.strip_prefix(&self.ext)?;
            SUFFIXES.iter().find(|(s, _)| *s == r).map(|&(_, k)| k)
        };
        if let Some(kind) = tail(rest) {
            return Some((Key { unix, n: 0 }, kind));
        }
        let digits = rest.strip_prefix('.')?;
        let end = digits
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(digits.len());
        let (n, rest) = digits.split_at(end);
        if n.is_empty() || n.starts_with('0') {
            return None;
        }
        let n: u32 = n.parse().ok()?;
        tail(rest).map(|kind| (Key { unix, n }, kind))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(y: i64, mo: u32, d: u32, h: u32) -> i64 {
        days_from_civil(y, mo, d) * 86_400 + i64::from(h) * 3600
    }

    #[test]
    fn stamps_utc_and_local() {
        let u = t(2026, 12, 3, 13);
        assert_eq!(stamp(u, None), "2026-12-03T13-00-00Z");
        assert_eq!(stamp(u, Some(3600)), "2026-12-03T14-00-00+0100");
        assert_eq!(
            stamp(u, Some(-(5 * 3600 + 30 * 60))),
            "2026-12-03T07-30-00-0530"
        );
        assert_eq!(stamp(u, Some(0)), "2026-12-03T13-00-00+0000");
        for s in [
            "2026-12-03T13-00-00Z",
            "2026-12-03T14-00-00+0100",
            "2026-12-03T07-30-00-0530",
        ] {
            assert_eq!(parse_stamp(s), Some((u, s.len())), "{s}");
        }
    }

    #[test]
    fn bad_stamps_are_rejected() {
        for s in [
            "",
            "2026-12-03T13-00-00",
            "2026-12-03T13:00:00Z",
            "2026-13-03T13-00-00Z",
            "2026-12-00T13-00-00Z",
            "2026-12-03T24-00-00Z",
            "2026-12-03T13-00-00X",
            "2026-12-03T13-00-00+01",
            "2026-12-03T13-00-00+2400",
            "2026-1a-03T13-00-00Z",
        ] {
            assert_eq!(parse_stamp(s), None, "{s:?}");
        }
    }

    #[test]
    fn names_and_parsing() {
        let p = Pattern::new(Path::new("/var/log/app.jsonl"));
        assert_eq!(p.dir, Path::new("/var/log"));
        let s = stamp(t(2026, 12, 3, 13), None);
        assert_eq!(p.name(&s, 0), "app.2026-12-03T13-00-00Z.jsonl");
        assert_eq!(p.name(&s, 2), "app.2026-12-03T13-00-00Z.2.jsonl");
        let k0 = Key {
            unix: t(2026, 12, 3, 13),
            n: 0,
        };
        let k2 = Key { n: 2, ..k0 };
        assert_eq!(
            p.parse("app.2026-12-03T13-00-00Z.jsonl"),
            Some((k0, Kind::Plain))
        );
        assert_eq!(
            p.parse("app.2026-12-03T13-00-00Z.2.jsonl"),
            Some((k2, Kind::Plain))
        );
        assert_eq!(
            p.parse("app.2026-12-03T13-00-00Z.jsonl.gz"),
            Some((k0, Kind::Gzip))
        );
        assert_eq!(
            p.parse("app.2026-12-03T13-00-00Z.2.jsonl.zst"),
            Some((k2, Kind::Zstd))
        );
        assert_eq!(
            p.parse("app.2026-12-03T13-00-00Z.jsonl.gz.tmp"),
            Some((k0, Kind::Temp))
        );
        assert_eq!(
            p.parse("app.2026-12-03T14-00-00+0100.jsonl"),
            Some((k0, Kind::Plain))
        );
        // Not this sink's rotated files.
        for other in [
            "app.jsonl",
            "app.jsonl.1",
            "app.2026-12-03T13-00-00Z.jsonl.bak",
            "app.2026-12-03T13-00-00Z.log",
            "app.2026-12-03T13-00-00Z.02.jsonl",
            "app.2026-12-03T13-00-00Z..jsonl",
            "apps.2026-12-03T13-00-00Z.jsonl",
            "other.2026-12-03T13-00-00Z.jsonl",
            "app.2026-12-03T13-00-00Z.x.jsonl",
        ] {
            assert_eq!(p.parse(other), None, "{other}");
        }
    }

    #[test]
    fn names_without_extension() {
        let p = Pattern::new(Path::new("app"));
        assert_eq!(p.dir, Path::new("."));
        assert_eq!(
            p.name("2026-12-03T13-00-00Z", 0),
            "app.2026-12-03T13-00-00Z"
        );
        assert_eq!(
            p.name("2026-12-03T13-00-00Z", 3),
            "app.2026-12-03T13-00-00Z.3"
        );
        let k = p.parse("app.2026-12-03T13-00-00Z.3.gz").unwrap();
        assert_eq!((k.0.n, k.1), (3, Kind::Gzip));
        assert_eq!(p.parse("app.2026-12-03T13-00-00Z").unwrap().0.n, 0);
        let hidden = Pattern::new(Path::new("d/.log"));
        assert_eq!(hidden.name("S", 0), ".log.S");
    }

    #[test]
    fn keys_sort_by_time_then_collision_number() {
        let p = Pattern::new(Path::new("app.jsonl"));
        let mut names = vec![
            "app.2026-12-03T14-00-00Z.jsonl",
            "app.2026-12-03T13-00-00Z.10.jsonl.gz",
            "app.2026-12-03T13-00-00Z.2.jsonl",
            "app.2026-12-03T13-00-00Z.jsonl",
            "app.2026-12-03T12-30-00-0100.jsonl",
            "app.2026-12-02T23-59-59Z.jsonl.zst",
        ];
        names.sort_by_key(|n| p.parse(n).unwrap().0);
        assert_eq!(
            names,
            vec![
                "app.2026-12-02T23-59-59Z.jsonl.zst",
                "app.2026-12-03T13-00-00Z.jsonl",
                "app.2026-12-03T13-00-00Z.2.jsonl",
                "app.2026-12-03T13-00-00Z.10.jsonl.gz",
                "app.2026-12-03T12-30-00-0100.jsonl",
                "app.2026-12-03T14-00-00Z.jsonl",
            ]
        );
        // UTC stamps of different seconds sort as text too.
        let a = p.name(&stamp(t(2026, 12, 3, 9), None), 0);
        let b = p.name(&stamp(t(2026, 12, 3, 10), None), 0);
        assert!(a < b);
    }

    proptest::proptest! {
        // From 1970-01-02 to 9999-12-30: the stamps' four-digit years, and
        // no local time before the epoch (taken as the epoch).
        #[test]
        fn stamps_round_trip(unix in 86_400i64..253_402_214_400, off_min in -1439i32..=1439, utc: bool) {
            let offset = (!utc).then_some(off_min * 60);
            let s = stamp(unix, offset);
            proptest::prop_assert_eq!(parse_stamp(&s), Some((unix, s.len())));
            let p = Pattern::new(Path::new("d/app.jsonl"));
            let (key, kind) = p.parse(&p.name(&s, 7)).unwrap();
            proptest::prop_assert_eq!((key, kind), (Key { unix, n: 7 }, Kind::Plain));
        }

        #[test]
        fn any_name_parses_or_not_without_panic(name in "\\PC{0,40}") {
            let _ = Pattern::new(Path::new("app.jsonl")).parse(&name);
            let _ = parse_stamp(&name);
        }
    }

    #[test]
    fn variants_cover_every_form() {
        let p = Pattern::new(Path::new("/l/app.jsonl"));
        let v: Vec<_> = p.variants("S", 1).collect();
        assert_eq!(v.len(), 5);
        assert!(v.contains(&PathBuf::from("/l/app.S.1.jsonl.zst.tmp")));
        assert!(v.contains(&PathBuf::from("/l/app.S.1.jsonl")));
    }
}
