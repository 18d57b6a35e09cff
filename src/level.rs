//! Severity levels, level filters, the compile-time maximum level and
//! runtime filter directives.
//!
//! * [`Level`] is the severity of one record (`Trace < Debug < Info < Warn < Error < Fatal`).
//! * [`LevelFilter`] is a maximum level, or off; it is a single `u8` so it can
//!   live in an `AtomicU8`, and [`LevelFilter::enables`] is one integer compare.
//! * [`STATIC_MAX_LEVEL`] is the compile-time ceiling chosen with cargo features.
//! * [`Directives`] parses `env_logger` / `EnvFilter`-style strings such as
//!   `"info,my_crate::db=debug,hyper=off"` into per-target filters.

use core::fmt;
use core::str::FromStr;

/// Severity of a record. `repr(u8)`, ordered `Trace < Debug < Info < Warn < Error < Fatal`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Level {
    /// Very fine-grained diagnostics.
    Trace = 0,
    /// Diagnostics useful while debugging.
    Debug = 1,
    /// Normal operational messages.
    Info = 2,
    /// Something unexpected that the program can cope with.
    Warn = 3,
    /// A failure.
    Error = 4,
    /// A failure the program does not survive, or should not (OpenTelemetry
    /// severity 21). Logging it does not stop the program.
    Fatal = 5,
}

/// Accepted level names, most verbose first, as shown in error messages.
const LEVEL_NAMES: &str = "trace, debug, info, warn, error, fatal";
/// Accepted filter names, least verbose first, as shown in error messages.
const FILTER_NAMES: &str = "off, fatal, error, warn, info, debug, trace";

impl Level {
    /// The upper-case name: `"TRACE"`, `"DEBUG"`, `"INFO"`, `"WARN"`, `"ERROR"` or `"FATAL"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "TRACE",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
            Level::Fatal => "FATAL",
        }
    }

    /// The level whose `repr(u8)` value is `v` (`0` = `Trace` … `5` = `Fatal`),
    /// or `None` if `v > 5`.
    #[must_use]
    pub const fn from_u8(v: u8) -> Option<Level> {
        match v {
            0 => Some(Level::Trace),
            1 => Some(Level::Debug),
            2 => Some(Level::Info),
            3 => Some(Level::Warn),
            4 => Some(Level::Error),
            5 => Some(Level::Fatal),
            _ => None,
        }
    }

    /// OpenTelemetry severity number: TRACE 1, DEBUG 5, INFO 9, WARN 13, ERROR 17,
    /// FATAL 21.
    #[must_use]
    pub const fn severity_number(self) -> u8 {
        1 + 4 * (self as u8)
    }

    /// Lower-case name, used when re-serializing directives.
    const fn as_lower_str(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
            Level::Fatal => "fatal",
        }
    }

    /// Case-insensitive name lookup; accepts `warning` as an alias of `warn`.
    fn from_name(s: &str) -> Option<Level> {
        const NAMES: [(&str, Level); 7] = [
            ("trace", Level::Trace),
            ("debug", Level::Debug),
            ("info", Level::Info),
            ("warn", Level::Warn),
            ("warning", Level::Warn),
            ("error", Level::Error),
            ("fatal", Level::Fatal),
        ];
        NAMES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(s))
            .map(|&(_, level)| level)
    }
}

impl fmt::Display for Level {
    /// Writes [`Level::as_str`], honouring width / alignment flags (`{:<5}`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for Level {
    type Err = ParseLevelError;

    /// Case-insensitive: `trace`, `debug`, `info`, `warn` | `warning`, `error`, `fatal`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Level::from_name(s).ok_or_else(|| ParseLevelError {
            input: s.to_owned(),
            accepts_off: false,
        })
    }
}

/// Error returned when parsing a [`Level`] or [`LevelFilter`] from a string fails.
///
/// Its `Display` names the rejected string and the accepted names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseLevelError {
    input: String,
    /// Whether the failed parse was for a [`LevelFilter`] (which also accepts `off`).
    accepts_off: bool,
}

impl ParseLevelError {
    /// The string that failed to parse.
    #[must_use]
    pub fn input(&self) -> &str {
        &self.input
    }
}

impl fmt::Display for ParseLevelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = if self.accepts_off {
            FILTER_NAMES
        } else {
            LEVEL_NAMES
        };
        write!(f, "invalid level {:?}; expected one of {names}", self.input)
    }
}

impl std::error::Error for ParseLevelError {}

/// A maximum level, or off.
///
/// # Encoding
///
/// The filter is one `u8` (so it fits an `AtomicU8`; see [`LevelFilter::as_u8`] /
/// [`LevelFilter::from_u8`]) counting how many levels are enabled:
///
/// | filter  | `OFF` | `FATAL` | `ERROR` | `WARN` | `INFO` | `DEBUG` | `TRACE` |
/// |---------|-------|---------|---------|--------|--------|---------|---------|
/// | `as_u8` | 0     | 1       | 2       | 3      | 4      | 5       | 6       |
///
/// So `0` enables nothing, and the derived ordering is by verbosity:
/// `OFF < FATAL < ERROR < WARN < INFO < DEBUG < TRACE`. A level `l` maps to
/// the filter value `6 - l as u8` ([`LevelFilter::from_level`]), and
/// `filter.enables(l)` is `filter.as_u8() >= 6 - l as u8`. At a call site the
/// level is a constant, so the right-hand side folds away and the check is a
/// single integer compare of the filter byte against an immediate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LevelFilter(u8);

impl LevelFilter {
    /// Nothing is enabled. Encoded as `0`.
    pub const OFF: LevelFilter = LevelFilter(0);
    /// Only [`Level::Fatal`] is enabled. Encoded as `1`.
    pub const FATAL: LevelFilter = LevelFilter::from_level(Level::Fatal);
    /// [`Level::Error`] and above are enabled. Encoded as `2`.
    pub const ERROR: LevelFilter = LevelFilter::from_level(Level::Error);
    /// [`Level::Warn`] and above are enabled. Encoded as `3`.
    pub const WARN: LevelFilter = LevelFilter::from_level(Level::Warn);
    /// [`Level::Info`] and above are enabled. Encoded as `4`.
    pub const INFO: LevelFilter = LevelFilter::from_level(Level::Info);
    /// [`Level::Debug`] and above are enabled. Encoded as `5`.
    pub const DEBUG: LevelFilter = LevelFilter::from_level(Level::Debug);
    /// Everything is enabled. Encoded as `6`.
    pub const TRACE: LevelFilter = LevelFilter::from_level(Level::Trace);

    /// The filter that enables `l` and everything more severe.
    #[must_use]
    pub const fn from_level(l: Level) -> Self {
        LevelFilter(6 - l as u8)
    }

    /// Whether a record at level `l` passes this filter.
    ///
    /// One integer compare once `l` is a constant (see the type-level docs).
    #[inline(always)]
    #[must_use]
    #[allow(
        clippy::inline_always,
        reason = "hot-path check; must fold to one compare"
    )]
    pub const fn enables(self, l: Level) -> bool {
        self.0 >= LevelFilter::from_level(l).0
    }

    /// The raw encoding: `0` = `OFF`, `1` = `FATAL` … `6` = `TRACE`.
    #[must_use]
    pub const fn as_u8(self) -> u8 {
        self.0
    }

    /// Inverse of [`LevelFilter::as_u8`]; `None` if `v > 6`.
    #[must_use]
    pub const fn from_u8(v: u8) -> Option<Self> {
        if v <= 6 { Some(LevelFilter(v)) } else { None }
    }

    /// The upper-case name: `"OFF"`, `"FATAL"`, `"ERROR"`, `"WARN"`, `"INFO"`,
    /// `"DEBUG"` or `"TRACE"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self.to_level() {
            Some(l) => l.as_str(),
            None => "OFF",
        }
    }

    /// The most verbose level this filter enables, or `None` for `OFF`.
    pub(crate) const fn to_level(self) -> Option<Level> {
        match self.0 {
            0 => None,
            v => Level::from_u8(6 - v),
        }
    }

    /// Lower-case name, used when re-serializing directives.
    const fn as_lower_str(self) -> &'static str {
        match self.to_level() {
            Some(l) => l.as_lower_str(),
            None => "off",
        }
    }

    /// Case-insensitive name lookup: `off` or any [`Level`] name.
    fn from_name(s: &str) -> Option<LevelFilter> {
        if s.eq_ignore_ascii_case("off") {
            Some(LevelFilter::OFF)
        } else {
            Level::from_name(s).map(LevelFilter::from_level)
        }
    }
}

impl From<Level> for LevelFilter {
    /// Same as [`LevelFilter::from_level`].
    fn from(l: Level) -> Self {
        LevelFilter::from_level(l)
    }
}

impl fmt::Display for LevelFilter {
    /// Writes [`LevelFilter::as_str`], honouring width / alignment flags.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for LevelFilter {
    type Err = ParseLevelError;

    /// Case-insensitive: `off`, `fatal`, `error`, `warn` | `warning`, `info`, `debug`, `trace`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LevelFilter::from_name(s).ok_or_else(|| ParseLevelError {
            input: s.to_owned(),
            accepts_off: true,
        })
    }
}

/// Compile-time maximum level, from cargo features.
///
/// * If `debug_assertions` are off and any `release_max_level_*` feature is on,
///   the most restrictive of those wins.
/// * Otherwise the most restrictive `max_level_*` feature wins.
/// * Otherwise [`LevelFilter::TRACE`] (everything).
///
/// Features: `max_level_off`, `max_level_fatal`, `max_level_error`,
/// `max_level_warn`, `max_level_info`, `max_level_debug`, `max_level_trace`,
/// and the same seven
/// prefixed with `release_`. Logging macros test
/// `STATIC_MAX_LEVEL.enables(level)`, which is a constant, so disabled calls
/// compile to nothing.
pub const STATIC_MAX_LEVEL: LevelFilter = {
    let release_any = cfg!(feature = "release_max_level_off")
        || cfg!(feature = "release_max_level_fatal")
        || cfg!(feature = "release_max_level_error")
        || cfg!(feature = "release_max_level_warn")
        || cfg!(feature = "release_max_level_info")
        || cfg!(feature = "release_max_level_debug")
        || cfg!(feature = "release_max_level_trace");
    if !cfg!(debug_assertions) && release_any {
        if cfg!(feature = "release_max_level_off") {
            LevelFilter::OFF
        } else if cfg!(feature = "release_max_level_fatal") {
            LevelFilter::FATAL
        } else if cfg!(feature = "release_max_level_error") {
            LevelFilter::ERROR
        } else if cfg!(feature = "release_max_level_warn") {
            LevelFilter::WARN
        } else if cfg!(feature = "release_max_level_info") {
            LevelFilter::INFO
        } else if cfg!(feature = "release_max_level_debug") {
            LevelFilter::DEBUG
        } else {
            LevelFilter::TRACE
        }
    } else if cfg!(feature = "max_level_off") {
        LevelFilter::OFF
    } else if cfg!(feature = "max_level_fatal") {
        LevelFilter::FATAL
    } else if cfg!(feature = "max_level_error") {
        LevelFilter::ERROR
    } else if cfg!(feature = "max_level_warn") {
        LevelFilter::WARN
    } else if cfg!(feature = "max_level_info") {
        LevelFilter::INFO
    } else if cfg!(feature = "max_level_debug") {
        LevelFilter::DEBUG
    } else {
        LevelFilter::TRACE
    }
};

/// Parsed runtime filter directives, in the `env_logger` / `tracing-subscriber`
/// `EnvFilter` syntax, e.g. `"info,my_crate::db=debug,hyper=off"`.
///
/// # Syntax
///
/// Parts are separated by `,`; whitespace around a part (and around its `=`)
/// is ignored, and empty parts are ignored. A part is one of:
///
/// * `LEVEL` — sets the default filter (`off`, `fatal`, `error`, `warn` | `warning`,
///   `info`, `debug`, `trace`; case-insensitive). If several are given the last wins.
/// * `TARGET=LEVEL` — sets the filter for `TARGET` and the modules below it.
/// * `TARGET` — same as `TARGET=trace`. A bare word that is a level name is
///   always read as a level; write `info=trace` for a target named `info`.
///
/// **When no bare level is given, the default is [`LevelFilter::ERROR`].**
///
/// A target is non-empty and made of alphanumerics, `_`, `:`, `-`, `.` and `/`.
/// It is a case-sensitive module-path prefix: `my_crate::db` matches the
/// targets `my_crate::db` and `my_crate::db::pool` but not `my_crate::dbx`.
/// The most specific (longest) matching target wins regardless of order; for
/// equal targets the later directive wins.
///
/// # Equality
///
/// Values are normalized on parse (duplicate targets collapse to the last one,
/// rules are kept sorted by target), so `==` ignores order, whitespace, case
/// of level names and overridden duplicates: `"a=info,b=warn"` equals
/// `"b = WARN,a=debug,a=info"`. (It does not detect redundant rules:
/// `"a=info"` and `"a=info,a::b=info"` are unequal.)
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Directives {
    default: LevelFilter,
    /// Sorted by target, targets unique.
    rules: Vec<(Box<str>, LevelFilter)>,
}

impl Directives {
    /// Parses a directive string; see the type-level docs for the syntax.
    /// The empty string gives the default [`LevelFilter::ERROR`] with no rules.
    ///
    /// # Errors
    ///
    /// A [`DirectiveError`] naming the first invalid part: an unknown or missing
    /// level, an empty target before `=`, more than one `=`, or a target
    /// character other than alphanumerics, `_`, `:`, `-`, `.` and `/`.
    pub fn parse(s: &str) -> Result<Directives, DirectiveError> {
        let mut out = Directives::new(LevelFilter::ERROR);
        for (i, raw) in s.split(',').enumerate() {
            let part = raw.trim();
            if part.is_empty() {
                continue;
            }
            let err = |reason| DirectiveError {
                part: part.to_owned(),
                index: i + 1,
                reason,
            };
            match part.split_once('=') {
                None => {
                    if let Some(level) = LevelFilter::from_name(part) {
                        out.default = level;
                    } else {
                        check_target(part).map_err(err)?;
                        out.insert(part, LevelFilter::TRACE);
                    }
                }
                Some((target, level)) => {
                    if level.contains('=') {
                        return Err(err(Reason::MultipleEquals));
                    }
                    let (target, level) = (target.trim(), level.trim());
                    check_target(target).map_err(err)?;
                    if level.is_empty() {
                        return Err(err(Reason::MissingLevel));
                    }
                    let level = LevelFilter::from_name(level)
                        .ok_or_else(|| err(Reason::UnknownLevel(level.to_owned())))?;
                    out.insert(target, level);
                }
            }
        }
        Ok(out)
    }

    /// Directives with the given default and no per-target rules.
    #[must_use]
    pub fn new(default: LevelFilter) -> Self {
        Directives {
            default,
            rules: Vec::new(),
        }
    }

    /// The filter for records with this target: the level of the longest
    /// matching directive target, or [`Directives::default_level`] if none matches.
    #[must_use]
    pub fn level_for(&self, target: &str) -> LevelFilter {
        self.rules
            .iter()
            .filter(|(rule, _)| target_matches(rule, target))
            .max_by_key(|(rule, _)| rule.len())
            .map_or(self.default, |&(_, level)| level)
    }

    /// The most verbose filter any directive (or the default) sets; nothing
    /// outside it can be enabled for any target, so it serves as a global fast check.
    #[must_use]
    pub fn max_level(&self) -> LevelFilter {
        self.rules
            .iter()
            .map(|&(_, level)| level)
            .fold(self.default, Ord::max)
    }

    /// The filter for targets that no directive matches.
    #[must_use]
    pub fn default_level(&self) -> LevelFilter {
        self.default
    }

    /// Adds or replaces the rule for `target`, keeping `rules` sorted.
    fn insert(&mut self, target: &str, level: LevelFilter) {
        match self.rules.binary_search_by(|(t, _)| (**t).cmp(target)) {
            Ok(i) => self.rules[i].1 = level,
            Err(i) => self.rules.insert(i, (target.into(), level)),
        }
    }
}

impl FromStr for Directives {
    type Err = DirectiveError;

    /// Same as [`Directives::parse`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Directives::parse(s)
    }
}

impl fmt::Display for Directives {
    /// Writes the default level followed by every `target=level` rule,
    /// lower-case and comma separated (e.g. `info,hyper=off,my_crate::db=debug`);
    /// the output parses back to an equal value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.default.as_lower_str())?;
        for (target, level) in &self.rules {
            write!(f, ",{target}={}", level.as_lower_str())?;
        }
        Ok(())
    }
}

/// Whether `rule` is `target` or a `::`-bounded module-path prefix of it.
fn target_matches(rule: &str, target: &str) -> bool {
    target
        .strip_prefix(rule)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
}

/// Checks that a (trimmed) target is non-empty and uses only allowed characters.
fn check_target(target: &str) -> Result<(), Reason> {
    if target.is_empty() {
        return Err(Reason::EmptyTarget);
    }
    match target
        .chars()
        .find(|&c| !(c.is_alphanumeric() || matches!(c, '_' | ':' | '-' | '.' | '/')))
    {
        Some(c) => Err(Reason::InvalidChar(c)),
        None => Ok(()),
    }
}

/// An invalid part of a directive string.
///
/// Its `Display` names the part, its position and the reason, e.g.
/// `invalid filter directive "my_crate=loud" (part 2): unknown level "loud"; expected one of off, fatal, error, warn, info, debug, trace`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectiveError {
    /// The offending part, trimmed.
    part: String,
    /// 1-based index among the comma-separated parts (empty parts count).
    index: usize,
    reason: Reason,
}

/// Why a directive part was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Reason {
    UnknownLevel(String),
    MissingLevel,
    EmptyTarget,
    MultipleEquals,
    InvalidChar(char),
}

impl DirectiveError {
    /// The offending part, with surrounding whitespace trimmed.
    #[must_use]
    pub fn part(&self) -> &str {
        &self.part
    }

    /// 1-based position of the offending part among the comma-separated parts
    /// of the input (empty parts are counted).
    #[must_use]
    pub fn index(&self) -> usize {
        self.index
    }
}

impl fmt::Display for DirectiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid filter directive {:?} (part {}): ",
            self.part, self.index
        )?;
        match &self.reason {
            Reason::UnknownLevel(level) => {
                write!(f, "unknown level {level:?}; expected one of {FILTER_NAMES}")
            }
            Reason::MissingLevel => {
                write!(f, "missing level after '='; expected one of {FILTER_NAMES}")
            }
            Reason::EmptyTarget => f.write_str("empty target before '='"),
            Reason::MultipleEquals => f.write_str("more than one '='"),
            Reason::InvalidChar(c) => write!(
                f,
                "invalid character {c:?} in target; targets may contain only \
                 alphanumerics, '_', ':', '-', '.' and '/'"
            ),
        }
    }
}

impl std::error::Error for DirectiveError {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const LEVELS: [Level; 6] = [
        Level::Trace,
        Level::Debug,
        Level::Info,
        Level::Warn,
        Level::Error,
        Level::Fatal,
    ];
    const FILTERS: [LevelFilter; 7] = [
        LevelFilter::OFF,
        LevelFilter::FATAL,
        LevelFilter::ERROR,
        LevelFilter::WARN,
        LevelFilter::INFO,
        LevelFilter::DEBUG,
        LevelFilter::TRACE,
    ];

    #[test]
    fn level_basics() {
        let names = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
        let sev = [1, 5, 9, 13, 17, 21];
        for (i, (&l, v)) in LEVELS.iter().zip(0u8..).enumerate() {
            assert_eq!(l as u8, v);
            assert_eq!(Level::from_u8(v), Some(l));
            assert_eq!(l.as_str(), names[i]);
            assert_eq!(l.to_string(), names[i]);
            assert_eq!(l.severity_number(), sev[i]);
            // Display round trip, in several cases.
            assert_eq!(l.to_string().parse::<Level>(), Ok(l));
            assert_eq!(names[i].to_lowercase().parse::<Level>(), Ok(l));
            assert_eq!(l.as_lower_str().parse::<Level>(), Ok(l));
        }
        assert_eq!(Level::from_u8(6), None);
        assert_eq!(Level::from_u8(255), None);
        assert!(Level::Trace < Level::Debug && Level::Warn < Level::Error);
        assert!(Level::Error < Level::Fatal);
        assert_eq!("Warning".parse::<Level>(), Ok(Level::Warn));
        assert_eq!("wArN".parse::<Level>(), Ok(Level::Warn));
        assert_eq!(format!("[{:<5}]", Level::Info), "[INFO ]");
        assert_eq!(core::mem::size_of::<Level>(), 1);
    }

    #[test]
    fn level_parse_errors() {
        for bad in ["", "off", "inf", " info", "verbose", "warn "] {
            let e = bad.parse::<Level>().unwrap_err();
            assert_eq!(e.input(), bad);
            let msg = e.to_string();
            assert!(msg.contains(&format!("{bad:?}")), "{msg}");
            assert!(msg.contains(LEVEL_NAMES), "{msg}");
            assert!(!msg.contains(FILTER_NAMES), "{msg}");
        }
    }

    #[test]
    fn filter_basics() {
        let names = ["OFF", "FATAL", "ERROR", "WARN", "INFO", "DEBUG", "TRACE"];
        for (i, (&f, v)) in FILTERS.iter().zip(0u8..).enumerate() {
            assert_eq!(f.as_u8(), v);
            assert_eq!(LevelFilter::from_u8(v), Some(f));
            assert_eq!(f.as_str(), names[i]);
            assert_eq!(f.to_string(), names[i]);
            assert_eq!(f.to_string().parse::<LevelFilter>(), Ok(f));
            assert_eq!(f.as_lower_str().parse::<LevelFilter>(), Ok(f));
        }
        assert_eq!(LevelFilter::from_u8(7), None);
        assert_eq!("Off".parse::<LevelFilter>(), Ok(LevelFilter::OFF));
        assert_eq!("WARNING".parse::<LevelFilter>(), Ok(LevelFilter::WARN));
        for w in FILTERS.windows(2) {
            assert!(w[0] < w[1]);
        }
        for l in LEVELS {
            assert_eq!(LevelFilter::from(l), LevelFilter::from_level(l));
            assert_eq!(LevelFilter::from_level(l).as_str(), l.as_str());
        }
        let e = "loud".parse::<LevelFilter>().unwrap_err();
        assert_eq!(e.input(), "loud");
        assert_eq!(
            e.to_string(),
            "invalid level \"loud\"; expected one of off, fatal, error, warn, info, debug, trace"
        );
    }

    #[test]
    fn enables_table() {
        use Level::*;
        // Usable in const context.
        const E: bool = LevelFilter::INFO.enables(Level::Warn);
        const _: () = assert!(E);
        // Rows: filters OFF..TRACE; columns: Trace, Debug, Info, Warn, Error, Fatal.
        let (n, y) = (false, true);
        let table: [(LevelFilter, [bool; 6]); 7] = [
            (LevelFilter::OFF, [n, n, n, n, n, n]),
            (LevelFilter::FATAL, [n, n, n, n, n, y]),
            (LevelFilter::ERROR, [n, n, n, n, y, y]),
            (LevelFilter::WARN, [n, n, n, y, y, y]),
            (LevelFilter::INFO, [n, n, y, y, y, y]),
            (LevelFilter::DEBUG, [n, y, y, y, y, y]),
            (LevelFilter::TRACE, [y, y, y, y, y, y]),
        ];
        for (f, row) in table {
            for (l, want) in [Trace, Debug, Info, Warn, Error, Fatal]
                .into_iter()
                .zip(row)
            {
                assert_eq!(f.enables(l), want, "{f}.enables({l})");
            }
        }
    }

    #[test]
    fn static_max_level_without_features() {
        let any_feature = cfg!(feature = "max_level_off")
            || cfg!(feature = "max_level_fatal")
            || cfg!(feature = "max_level_error")
            || cfg!(feature = "max_level_warn")
            || cfg!(feature = "max_level_info")
            || cfg!(feature = "max_level_debug")
            || cfg!(feature = "max_level_trace")
            || cfg!(feature = "release_max_level_off")
            || cfg!(feature = "release_max_level_fatal")
            || cfg!(feature = "release_max_level_error")
            || cfg!(feature = "release_max_level_warn")
            || cfg!(feature = "release_max_level_info")
            || cfg!(feature = "release_max_level_debug")
            || cfg!(feature = "release_max_level_trace");
        // Only meaningful in a build without level features (e.g. not `--all-features`).
        if !any_feature {
            assert_eq!(STATIC_MAX_LEVEL, LevelFilter::TRACE);
        }
    }

    #[test]
    #[allow(clippy::too_many_lines)]
    fn directive_table() {
        use LevelFilter as F;
        #[allow(clippy::type_complexity)]
        let cases: &[(&str, LevelFilter, LevelFilter, &[(&str, LevelFilter)])] = &[
            // (input, default, max, [(target, expected)])
            ("", F::ERROR, F::ERROR, &[("a", F::ERROR), ("", F::ERROR)]),
            ("  ,, , ", F::ERROR, F::ERROR, &[("x::y", F::ERROR)]),
            ("off", F::OFF, F::OFF, &[("a", F::OFF)]),
            ("OFF", F::OFF, F::OFF, &[("a", F::OFF)]),
            ("info", F::INFO, F::INFO, &[("a", F::INFO)]),
            ("Warning", F::WARN, F::WARN, &[("a", F::WARN)]),
            ("info,debug", F::DEBUG, F::DEBUG, &[("a", F::DEBUG)]),
            (
                "info,my_crate::db=debug,hyper=off",
                F::INFO,
                F::DEBUG,
                &[
                    ("my_crate", F::INFO),
                    ("my_crate::db", F::DEBUG),
                    ("my_crate::db::pool", F::DEBUG),
                    ("my_crate::dbx", F::INFO),
                    ("my_crate::d", F::INFO),
                    ("hyper", F::OFF),
                    ("hyper::client", F::OFF),
                    ("hyperx", F::INFO),
                    ("other", F::INFO),
                ],
            ),
            // Prefix boundaries: a::b vs a::bc.
            (
                "a::b=warn,a::bc=trace",
                F::ERROR,
                F::TRACE,
                &[
                    ("a::b", F::WARN),
                    ("a::b::c", F::WARN),
                    ("a::bc", F::TRACE),
                    ("a::bc::d", F::TRACE),
                    ("a::bcd", F::ERROR),
                    ("a", F::ERROR),
                    ("a::", F::ERROR),
                    ("a::b:", F::ERROR),
                    ("a::b:c", F::ERROR),
                    ("A::b", F::ERROR),
                ],
            ),
            // Specificity beats order, in both orders.
            (
                "a::b::c=debug,a=warn,a::b=off",
                F::ERROR,
                F::DEBUG,
                &[
                    ("a", F::WARN),
                    ("a::x", F::WARN),
                    ("a::b", F::OFF),
                    ("a::b::x", F::OFF),
                    ("a::b::c", F::DEBUG),
                    ("a::b::c::d", F::DEBUG),
                ],
            ),
            (
                "a=warn,a::b=off,a::b::c=debug",
                F::ERROR,
                F::DEBUG,
                &[
                    ("a::q", F::WARN),
                    ("a::b::z", F::OFF),
                    ("a::b::c", F::DEBUG),
                ],
            ),
            // Equal targets: the later wins.
            ("a=info,a=debug", F::ERROR, F::DEBUG, &[("a", F::DEBUG)]),
            ("a=debug,a=info", F::ERROR, F::INFO, &[("a", F::INFO)]),
            ("a,a=warn", F::ERROR, F::WARN, &[("a::b", F::WARN)]),
            // Bare target = TRACE; the default position doesn't matter.
            (
                "my_crate,warn",
                F::WARN,
                F::TRACE,
                &[
                    ("my_crate", F::TRACE),
                    ("my_crate::x", F::TRACE),
                    ("b", F::WARN),
                ],
            ),
            // Whitespace around parts and around '='.
            (
                "  info ,  a::b = debug\t,\n c=OFF  ",
                F::INFO,
                F::DEBUG,
                &[("a::b", F::DEBUG), ("c", F::OFF), ("d", F::INFO)],
            ),
            // A level name is a target when written as TARGET=LEVEL.
            (
                "info=trace,off",
                F::OFF,
                F::TRACE,
                &[("info", F::TRACE), ("info::x", F::TRACE), ("x", F::OFF)],
            ),
            // Allowed target characters.
            (
                "a-b.c/d::é_1=debug",
                F::ERROR,
                F::DEBUG,
                &[("a-b.c/d::é_1", F::DEBUG), ("a-b.c/d::é_1::z", F::DEBUG)],
            ),
            // `off` everywhere.
            ("trace,noisy=off", F::TRACE, F::TRACE, &[("noisy", F::OFF)]),
        ];
        for &(input, default, max, checks) in cases {
            let d = Directives::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(d.default_level(), default, "{input:?}");
            assert_eq!(d.max_level(), max, "{input:?}");
            for &(target, want) in checks {
                assert_eq!(d.level_for(target), want, "{input:?} target {target:?}");
            }
            let shown = d.to_string();
            assert_eq!(
                Directives::parse(&shown),
                Ok(d.clone()),
                "{input:?} -> {shown:?}"
            );
            assert_eq!(input.parse::<Directives>(), Ok(d));
        }
    }

    #[test]
    fn directive_display_and_eq() {
        let d = Directives::parse("hyper=off, info ,my_crate::db=debug").unwrap();
        assert_eq!(d.to_string(), "info,hyper=off,my_crate::db=debug");
        assert_eq!(Directives::parse("").unwrap().to_string(), "error");
        assert_eq!(
            Directives::parse("").unwrap(),
            Directives::new(LevelFilter::ERROR)
        );
        assert_eq!(
            Directives::parse("a=info,b=warn").unwrap(),
            Directives::parse("b = WARN,a=debug,a=info").unwrap()
        );
        let n = Directives::new(LevelFilter::DEBUG);
        assert_eq!(n.default_level(), LevelFilter::DEBUG);
        assert_eq!(n.max_level(), LevelFilter::DEBUG);
        assert_eq!(n.level_for("anything"), LevelFilter::DEBUG);
        assert_eq!(n.to_string(), "debug");
    }

    #[test]
    fn directive_errors() {
        // (input, bad part, 1-based index, substring of the reason)
        let cases: &[(&str, &str, usize, &str)] = &[
            (
                "info,my_crate=loud",
                "my_crate=loud",
                2,
                "unknown level \"loud\"",
            ),
            ("a=", "a=", 1, "missing level"),
            ("a = ", "a =", 1, "missing level"),
            ("=info", "=info", 1, "empty target"),
            ("info, =debug", "=debug", 2, "empty target"),
            ("=", "=", 1, "empty target"),
            ("a=b=c", "a=b=c", 1, "more than one '='"),
            ("x,,a==info", "a==info", 3, "more than one '='"),
            ("my crate=info", "my crate=info", 1, "invalid character ' '"),
            ("my crate", "my crate", 1, "invalid character ' '"),
            ("warn,foo!", "foo!", 2, "invalid character '!'"),
            ("a*b=info", "a*b=info", 1, "invalid character '*'"),
            ("a=inf o", "a=inf o", 1, "unknown level \"inf o\""),
            (
                "ok=info, bad\"=warn",
                "bad\"=warn",
                2,
                "invalid character '\"'",
            ),
        ];
        for &(input, part, index, reason) in cases {
            let e = Directives::parse(input).expect_err(input);
            assert_eq!(e.part(), part, "{input:?}");
            assert_eq!(e.index(), index, "{input:?}");
            let msg = e.to_string();
            assert!(
                msg.starts_with(&format!(
                    "invalid filter directive {part:?} (part {index}): "
                )),
                "{msg}"
            );
            assert!(msg.contains(reason), "{input:?}: {msg}");
            let _: &dyn std::error::Error = &e;
        }
        assert_eq!(
            Directives::parse("info,my_crate=loud")
                .unwrap_err()
                .to_string(),
            "invalid filter directive \"my_crate=loud\" (part 2): unknown level \"loud\"; \
             expected one of off, fatal, error, warn, info, debug, trace"
        );
    }

    /// Targets built from a few segments so that prefixes and near-prefixes collide.
    fn target_strategy() -> impl Strategy<Value = String> {
        let seg = prop::sample::select(vec!["a", "b", "ab", "a_b", "x-y", "c.d", "é"]);
        let sep = prop::sample::select(vec!["::", "::", "::", ":", "/"]);
        (seg.clone(), prop::collection::vec((sep, seg), 0..3)).prop_map(|(first, rest)| {
            let mut s = first.to_owned();
            for (sep, seg) in rest {
                s.push_str(sep);
                s.push_str(seg);
            }
            s
        })
    }

    fn level_name_strategy() -> impl Strategy<Value = (String, LevelFilter)> {
        let names = prop::sample::select(vec![
            ("off", LevelFilter::OFF),
            ("error", LevelFilter::ERROR),
            ("warn", LevelFilter::WARN),
            ("warning", LevelFilter::WARN),
            ("info", LevelFilter::INFO),
            ("debug", LevelFilter::DEBUG),
            ("trace", LevelFilter::TRACE),
        ]);
        (names, any::<u8>()).prop_map(|((name, f), mask)| {
            // Randomize the case of the first few letters.
            let s = name
                .chars()
                .enumerate()
                .map(|(i, c)| {
                    if i < 8 && mask & (1 << i) != 0 {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    }
                })
                .collect();
            (s, f)
        })
    }

    /// One directive: `None` target = bare level; `Some((t, true))` = bare target `t`.
    type Part = (Option<(String, bool)>, (String, LevelFilter));

    fn part_strategy() -> impl Strategy<Value = Part> {
        (
            prop::option::of((target_strategy(), any::<bool>())),
            level_name_strategy(),
        )
    }

    fn ws() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec!["", "", " ", "\t", "  "])
    }

    /// Builds the directive text and the reference model from the parts.
    fn render(parts: &[Part], spaces: &[(&str, &str)]) -> String {
        let mut out = Vec::new();
        for (i, (target, (level, _))) in parts.iter().enumerate() {
            let (l, r) = spaces.get(i).copied().unwrap_or(("", ""));
            let text = match target {
                None => level.clone(),
                Some((t, true)) => t.clone(),
                Some((t, false)) => format!("{t}{l}={r}{level}"),
            };
            out.push(format!("{l}{text}{r}"));
        }
        out.join(",")
    }

    /// Reference semantics, straight from the spec: scan in order, keep the
    /// longest matching target, a later equal-length match replaces an earlier one.
    fn model(parts: &[Part], target: &str) -> LevelFilter {
        let mut default = LevelFilter::ERROR;
        let mut best: Option<(usize, LevelFilter)> = None;
        for (t, (_, level)) in parts {
            match t {
                None => default = *level,
                Some((t, bare)) => {
                    let level = if *bare { LevelFilter::TRACE } else { *level };
                    let matches = target == t
                        || (target.starts_with(t.as_str()) && target[t.len()..].starts_with("::"));
                    if matches && best.is_none_or(|(len, _)| t.len() >= len) {
                        best = Some((t.len(), level));
                    }
                }
            }
        }
        best.map_or(default, |(_, l)| l)
    }

    proptest! {
        #[test]
        fn generated_directives_match_model_and_round_trip(
            parts in prop::collection::vec(part_strategy(), 0..8),
            spaces in prop::collection::vec((ws(), ws()), 8),
            queries in prop::collection::vec(target_strategy(), 1..8),
        ) {
            let text = render(&parts, &spaces);
            let d = Directives::parse(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
            for q in queries.iter().map(String::as_str).chain(["", "zzz", "a::"]) {
                prop_assert_eq!(d.level_for(q), model(&parts, q), "text {:?} target {:?}", text, q);
            }
            // Each target's own (last) rule is what the model gives for it.
            let max = parts
                .iter()
                .filter_map(|(t, _)| t.as_ref())
                .map(|(t, _)| model(&parts, t))
                .fold(model(&parts, "zzz"), Ord::max);
            prop_assert_eq!(d.max_level(), max);
            let shown = d.to_string();
            prop_assert_eq!(Directives::parse(&shown), Ok(d), "{:?} -> {:?}", text, shown);
        }

        #[test]
        fn parse_never_panics_and_round_trips(s in ".*") {
            if let Ok(d) = Directives::parse(&s) {
                prop_assert_eq!(Directives::parse(&d.to_string()), Ok(d));
            }
        }

        #[test]
        fn parse_edge_alphabet(s in "[aAbB:=, \t.é!oOfFiInN-]{0,24}") {
            match Directives::parse(&s) {
                Ok(d) => prop_assert_eq!(Directives::parse(&d.to_string()), Ok(d)),
                Err(e) => {
                    prop_assert!(!e.part().is_empty());
                    prop_assert!(e.index() >= 1);
                    prop_assert_eq!(s.split(',').nth(e.index() - 1).map(str::trim), Some(e.part()));
                    let quoted = format!("{:?}", e.part());
                    prop_assert!(e.to_string().contains(&quoted));
                }
            }
        }
    }
}
