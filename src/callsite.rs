//! Per-call-site statics.
//!
//! Every logging macro expands to one `static Callsite` holding everything that
//! never changes between calls: level, target, module, file, line, message and
//! field names. The ring carries the call site's id (a `u32`), never the strings.
//! The call site also caches whether it is enabled, so a disabled call costs one
//! load of [`Callsite::interest`].

use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};

use crate::level::Level;
use crate::sampler::logs::SiteCounter;

const UNKNOWN: u8 = 0;
const NEVER: u8 = 1;
/// Enabled, and no log sampling stage applies to this call site's level:
/// the call is captured as it is. Any value above also means enabled, with
/// the stages its `PLAN_*` bits name.
pub(crate) const ALWAYS: u8 = 2;
/// [`Callsite::log_plan`] of a call captured as it is (`ALWAYS`).
#[doc(hidden)]
pub const PLAN_CAPTURE: u8 = ALWAYS;
/// Plan bit: the call site's level has a per-call-site policy (not keep-all).
pub(crate) const PLAN_SITE: u8 = 4;
/// Plan bit: below ERROR, records of unsampled traces are dropped.
pub(crate) const PLAN_DROP: u8 = 8;
/// Plan bit: below ERROR, records of unsampled traces are buffered.
pub(crate) const PLAN_BUFFER: u8 = 16;

/// The plan of an enabled call site at `level` under the log sampler's
/// stages now (`ALWAYS`, with the `PLAN_*` bits that apply).
fn plan_of(level: Level) -> u8 {
    use crate::sampler::{ERROR_INDEX, MODE_BUFFER, MODE_DROP, log_mode, mode_site_level};
    let (mode, level) = (log_mode(), level as usize);
    let mut plan = ALWAYS;
    if mode & mode_site_level(level) != 0 {
        plan |= PLAN_SITE;
    }
    if level < ERROR_INDEX {
        if mode & MODE_DROP != 0 {
            plan |= PLAN_DROP;
        } else if mode & MODE_BUFFER != 0 {
            plan |= PLAN_BUFFER;
        }
    }
    plan
}

/// The static description of one logging call site.
#[derive(Debug)]
pub struct Metadata {
    /// Severity of the records this call site produces.
    pub level: Level,
    /// Target, by default the module path of the call site.
    pub target: &'static str,
    /// `module_path!()` of the call site.
    pub module_path: &'static str,
    /// `file!()` of the call site.
    pub file: &'static str,
    /// `line!()` of the call site.
    pub line: u32,
    /// The message, or the format string when `fmt_message` is true.
    pub message: &'static str,
    /// Field names in the order the values are recorded.
    pub fields: &'static [&'static str],
    /// The message is formatted at the call site from format arguments.
    pub fmt_message: bool,
}

/// A logging call site: its metadata plus the cached filter decision and id.
#[derive(Debug)]
pub struct Callsite {
    interest: AtomicU8,
    id: AtomicU32,
    /// The log sampler's counters (see `sampler::logs`); untouched while
    /// the level's policy keeps everything.
    sampler: SiteCounter,
    /// How the trace sampler decides this call site's roots, in the form
    /// of its shortcut word (see `sampler::trace`); 0: not worked out for
    /// the configuration in force.
    roots: AtomicU64,
    /// Bit `i`: field `i` is written as the mask (its key names a secret);
    /// `u64::MAX` until worked out.
    redact: AtomicU64,
    meta: Metadata,
}

impl Callsite {
    /// Builds a call site; used by the macros in a `static`.
    #[doc(hidden)]
    #[allow(clippy::too_many_arguments)]
    pub const fn new(
        level: Level,
        target: &'static str,
        module_path: &'static str,
        file: &'static str,
        line: u32,
        message: &'static str,
        fields: &'static [&'static str],
        fmt_message: bool,
    ) -> Self {
        Callsite {
            interest: AtomicU8::new(UNKNOWN),
            id: AtomicU32::new(0),
            sampler: SiteCounter::new(),
            roots: AtomicU64::new(0),
            redact: AtomicU64::new(u64::MAX),
            meta: Metadata {
                level,
                target,
                module_path,
                file,
                line,
                message,
                fields,
                fmt_message,
            },
        }
    }

    /// The call site's static metadata.
    pub fn metadata(&self) -> &Metadata {
        &self.meta
    }

    /// Whether a call should be captured: one load once the call site is registered.
    #[inline(always)]
    pub fn is_enabled(&'static self) -> bool {
        match self.interest.load(Ordering::Acquire) {
            NEVER => false,
            UNKNOWN => crate::engine::register_callsite(self),
            _ => true,
        }
    }

    /// What a log call does, from the same one load as
    /// [`Callsite::is_enabled`]: 0 when the call site is disabled, else its
    /// plan (`ALWAYS`: capture; more: the log sampler's stages that apply to
    /// its level, kept in the call site so that a call needs no other load
    /// to know them).
    #[doc(hidden)]
    #[inline(always)]
    pub fn log_plan(&'static self) -> u8 {
        match self.interest.load(Ordering::Acquire) {
            NEVER => 0,
            UNKNOWN => self.register_plan(),
            plan => plan,
        }
    }

    #[cold]
    #[inline(never)]
    fn register_plan(&'static self) -> u8 {
        if crate::engine::register_callsite(self) {
            plan_of(self.meta.level)
        } else {
            0
        }
    }

    /// The log sampler's counters of this call site.
    #[inline(always)]
    pub(crate) fn sampler(&self) -> &SiteCounter {
        &self.sampler
    }

    /// The trace sampler's word for this call site's roots (0: none).
    #[inline(always)]
    pub(crate) fn roots_word(&self) -> u64 {
        self.roots.load(Ordering::Relaxed)
    }

    /// Publishes `word` for this call site's roots, then takes it back if
    /// `still_current` says the configuration it came from was replaced
    /// meanwhile (whose update may have cleared the words before this
    /// store). Sequentially consistent with [`Callsite::clear_roots_word`]
    /// and the configuration's generation, so a stale word never outlives
    /// the update that replaced its configuration.
    pub(crate) fn publish_roots_word(&self, word: u64, still_current: impl FnOnce() -> bool) {
        self.roots.store(word, Ordering::SeqCst);
        if !still_current() {
            let _ = self
                .roots
                .compare_exchange(word, 0, Ordering::SeqCst, Ordering::Relaxed);
        }
    }

    /// Forgets the roots word (a new sampling configuration is in force).
    pub(crate) fn clear_roots_word(&self) {
        self.roots.store(0, Ordering::SeqCst);
    }

    /// Which fields are written as the mask ([`crate::redact`]), worked
    /// out at the first call and kept.
    pub(crate) fn redact_mask(&self) -> u64 {
        match self.redact.load(Ordering::Relaxed) {
            u64::MAX => {
                let m = crate::redact::mask_of(self.meta.fields);
                self.redact.store(m, Ordering::Relaxed);
                m
            }
            m => m,
        }
    }

    /// Forgets which fields are redacted (a reload changed the keys): the
    /// mask is worked out again at its next use.
    pub(crate) fn forget_redact_mask(&self) {
        self.redact.store(u64::MAX, Ordering::Relaxed);
    }

    /// The registry id of the call site (0 before registration).
    #[inline(always)]
    pub(crate) fn id(&self) -> u32 {
        self.id.load(Ordering::Relaxed)
    }

    pub(crate) fn set_id(&self, id: u32) {
        self.id.store(id, Ordering::Relaxed);
    }

    pub(crate) fn set_enabled(&self, enabled: bool) {
        let interest = if enabled {
            plan_of(self.meta.level)
        } else {
            NEVER
        };
        self.interest.store(interest, Ordering::Release);
    }

    /// Brings an enabled call site's plan up to the log sampler's stages
    /// now (called for every call site after they change); a disabled or
    /// unregistered one is left as it is.
    pub(crate) fn refresh_plan(&self) {
        let plan = plan_of(self.meta.level);
        let _ = self
            .interest
            .fetch_update(Ordering::Release, Ordering::Acquire, |i| {
                (i >= ALWAYS && i != plan).then_some(plan)
            });
    }

    /// Forgets the cached decision of an enabled call site (its next call
    /// takes the slow path again); a disabled one stays disabled.
    pub(crate) fn forget_if_enabled(&self) {
        let _ = self
            .interest
            .fetch_update(Ordering::Release, Ordering::Acquire, |i| {
                (i >= ALWAYS).then_some(UNKNOWN)
            });
    }
}

/// The key a field name from a call site is written under, in JSON and in
/// every exporter alike: each dot-separated part without surrounding
/// whitespace and without the raw-identifier prefix `r#` (`r#type` →
/// `type`, `a.r#loop` → `a.loop`). A name already in that form (the common
/// case, found by one scan) is returned as it is; the others are worked out
/// once per process and kept.
pub(crate) fn field_key(name: &'static str) -> &'static str {
    // The common name (ASCII, no `#`, no space) in one short loop: this runs
    // for every field of every exported record.
    if name
        .bytes()
        .all(|b| b != b'#' && b.is_ascii() && !b.is_ascii_whitespace())
    {
        return name;
    }
    field_key_slow(name)
}

#[cold]
fn field_key_slow(name: &'static str) -> &'static str {
    if !name.contains("r#") && !name.contains(char::is_whitespace) {
        return name;
    }
    use std::collections::HashMap;
    use std::sync::Mutex;
    static KEYS: Mutex<Option<HashMap<&'static str, &'static str>>> = Mutex::new(None);
    let mut keys = KEYS.lock().unwrap_or_else(|e| e.into_inner());
    keys.get_or_insert_with(HashMap::new)
        .entry(name)
        .or_insert_with(|| {
            let key: Vec<&str> = name
                .split('.')
                .map(|part| {
                    let part = part.trim();
                    part.strip_prefix("r#").unwrap_or(part)
                })
                .collect();
            // Field names are static and few: one string per distinct name.
            Box::leak(key.join(".").into_boxed_str())
        })
}

/// True when a string literal holds `{` or `}`: then the macros hand it to
/// `format_args!` (it may capture variables or escape braces).
#[doc(hidden)]
pub const fn has_braces(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'{' || b[i] == b'}' {
            return true;
        }
        i += 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::field_key;

    #[test]
    fn field_keys_with_and_without_the_fast_path() {
        for (name, key) in [
            ("user_id", "user_id"),
            ("http.route", "http.route"),
            ("r#type", "type"),
            ("r#loop.r#in", "loop.in"),
            ("r#loop . r#in", "loop.in"),
            ("a b", "a b"),
            ("a.b ", "a.b"),
            ("c#", "c#"),
            ("prénom", "prénom"),
            ("r#été", "été"),
            ("a\u{2003}.b", "a.b"),
            ("", ""),
        ] {
            assert_eq!(field_key(name), key, "{name:?}");
        }
    }
}
