//! The `log` crate's records as records of this engine (feature `log`).
//!
//! [`LogBridge`] is a `log::Log`; `init()` installs it unless the builder
//! says `.log_bridge(false)`, and sets `log::max_level` to the most verbose
//! level the filter directives enable. Each `log` call site (level, target,
//! module, file, line and key names) becomes one interned call site of this
//! engine: the filter directives and the log sampler apply to it as to a
//! macro call site, its record carries the current span's trace ids and
//! correlation id, the message is formatted on the calling thread straight
//! into the ring, and the key-values (`log`'s `kv`) are typed fields
//! (integers, floats, booleans and strings as they are, errors captured
//! with `:err` as `exception.*`, anything else with `Display`). After a
//! call site's first record nothing is allocated.
//!
//! Memory is bounded: at most [`MAX_SITES`] call sites are interned; the
//! records of later ones go to one call site per level (target
//! `log`, no fields: their key-values are written into the message as
//! ` key=value` pairs after the text).

use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use log::kv::{self, Key, Source, VisitSource, VisitValue};

use crate::callsite::Callsite;
use crate::level::Level;
use crate::record::RecordBuf;
use crate::sampler::rate_limit::KeyHasher;
use crate::value::ValueList;

/// The most `log` call sites interned (their strings and statics leak, once
/// each: at most a few MiB).
pub const MAX_SITES: usize = 4096;

/// The most key-values of a `log` record kept as fields (more go into the
/// message, as for a call site beyond [`MAX_SITES`]).
const MAX_KEYS: usize = 64;

/// The `log::Log` that sends `log`'s records into the engine.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogBridge;

/// The bridge `init()` installs.
pub static LOG_BRIDGE: LogBridge = LogBridge;

fn level_of(l: log::Level) -> Level {
    match l {
        log::Level::Error => Level::Error,
        log::Level::Warn => Level::Warn,
        log::Level::Info => Level::Info,
        log::Level::Debug => Level::Debug,
        log::Level::Trace => Level::Trace,
    }
}

/// `log`'s filter for the most verbose level `max` enables.
pub(crate) fn log_filter(max: crate::LevelFilter) -> log::LevelFilter {
    match max.to_level() {
        None => log::LevelFilter::Off,
        Some(Level::Trace) => log::LevelFilter::Trace,
        Some(Level::Debug) => log::LevelFilter::Debug,
        Some(Level::Info) => log::LevelFilter::Info,
        Some(Level::Warn) => log::LevelFilter::Warn,
        Some(Level::Error | Level::Fatal) => log::LevelFilter::Error,
    }
}

impl log::Log for LogBridge {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        crate::engine::enables(metadata.target(), level_of(metadata.level()))
    }

    fn log(&self, record: &log::Record<'_>) {
        let source = record.key_values();
        let (cs, kept) = callsite_of(record);
        let plan = cs.log_plan();
        if plan == 0 {
            return;
        }
        let level = cs.metadata().level;
        if kept {
            let values = Kv {
                source,
                fields: cs.metadata().fields.len(),
            };
            crate::ring::dispatch(cs, plan, level, Some(*record.args()), &values);
        } else {
            let msg = format_args!("{}{}", record.args(), KvText(source));
            crate::ring::dispatch(cs, plan, level, Some(msg), &());
        }
    }

    fn flush(&self) {
        crate::flush();
    }
}

/// The interned call site of `record`, and whether its key-values are its
/// fields (false: an overflow call site, whose records carry them in the
/// message).
fn callsite_of(record: &log::Record<'_>) -> (&'static Callsite, bool) {
    let h = site_hash(record);
    let slot = (h as usize) % CACHE_SLOTS;
    let cached = CACHE
        .try_with(|c| c[slot].get())
        .ok()
        .flatten()
        .filter(|(hash, cs)| *hash == h && matches_cached(cs, record));
    if let Some((_, cs)) = cached {
        return (cs, true);
    }
    match intern(h, record) {
        Some(cs) => {
            let _ = CACHE.try_with(|c| c[slot].set(Some((h, cs))));
            (cs, true)
        }
        None => (overflow_site(level_of(record.level())), false),
    }
}

const CACHE_SLOTS: usize = 256;

thread_local! {
    /// This thread's recent call sites, by hash (direct-mapped).
    static CACHE: [Cell<Option<(u64, &'static Callsite)>>; CACHE_SLOTS] =
        const { [const { Cell::new(None) }; CACHE_SLOTS] };
}

/// What identifies a `log` call site: level, target, module, file, line and
/// the key names in order.
fn site_hash(record: &log::Record<'_>) -> u64 {
    let mut h = KeyHasher::new();
    h.write_u64(record.level() as u64);
    h.write(record.target().as_bytes());
    // A static module path or file (what `log`'s macros give) by address,
    // the interned call site keeps that very string; a dynamic one by text.
    match record.module_path_static() {
        Some(m) => h.write_u64(m.as_ptr() as u64 ^ (m.len() as u64) << 48),
        None => h.write(record.module_path().unwrap_or("").as_bytes()),
    }
    match record.file_static() {
        Some(f) => h.write_u64(f.as_ptr() as u64 ^ (f.len() as u64) << 48),
        None => h.write(record.file().unwrap_or("").as_bytes()),
    }
    h.write_u64(u64::from(record.line().unwrap_or(0)));
    struct Keys<'h>(&'h mut KeyHasher, usize);
    impl<'kvs> VisitSource<'kvs> for Keys<'_> {
        fn visit_pair(&mut self, key: Key<'kvs>, _: kv::Value<'kvs>) -> Result<(), kv::Error> {
            self.0.write(key.as_str().as_bytes());
            self.1 += 1;
            Ok(())
        }
    }
    let mut keys = Keys(&mut h, 0);
    let _ = record.key_values().visit(&mut keys);
    let n = keys.1;
    h.write_u64(n as u64);
    h.finish()
}

/// [`matches`] for a call site found in the thread's cache under the same
/// 64-bit hash, which covers the key names: everything but the names is
/// compared (the names' count too), the names themselves are not visited
/// again.
#[inline]
fn matches_cached(cs: &Callsite, record: &log::Record<'_>) -> bool {
    let m = cs.metadata();
    m.level == level_of(record.level())
        && m.line == record.line().unwrap_or(0)
        && m.target == record.target()
        && same_str(m.module_path, record.module_path().unwrap_or(""))
        && same_str(m.file, record.file().unwrap_or(""))
        && m.fields.len() == record.key_values().count()
}

/// Whether `cs` is `record`'s call site (what [`site_hash`] covers): what
/// [`matches_cached`] compares, and the key names one by one.
fn matches(cs: &Callsite, record: &log::Record<'_>) -> bool {
    if !matches_cached(cs, record) {
        return false;
    }
    struct Same<'f> {
        fields: &'f [&'static str],
        at: usize,
        same: bool,
    }
    impl<'kvs> VisitSource<'kvs> for Same<'_> {
        fn visit_pair(&mut self, key: Key<'kvs>, _: kv::Value<'kvs>) -> Result<(), kv::Error> {
            self.same &= self.fields.get(self.at) == Some(&key.as_str());
            self.at += 1;
            Ok(())
        }
    }
    let mut same = Same {
        fields: cs.metadata().fields,
        at: 0,
        same: true,
    };
    let _ = record.key_values().visit(&mut same);
    same.same && same.at == same.fields.len()
}

/// String equality, by address first (the interned call site keeps the
/// static strings it was given).
#[inline]
fn same_str(a: &str, b: &str) -> bool {
    (a.len() == b.len() && std::ptr::eq(a.as_ptr(), b.as_ptr())) || a == b
}

struct Interned {
    by_hash: HashMap<u64, Vec<&'static Callsite>>,
    count: usize,
}

static SITES: Mutex<Option<Interned>> = Mutex::new(None);

/// Finds or makes `record`'s call site; `None` once [`MAX_SITES`] are
/// interned (or the record has more than [`MAX_KEYS`] key-values).
#[cold]
fn intern(h: u64, record: &log::Record<'_>) -> Option<&'static Callsite> {
    let mut sites = SITES.lock().unwrap_or_else(|e| e.into_inner());
    let sites = sites.get_or_insert_with(|| Interned {
        by_hash: HashMap::new(),
        count: 0,
    });
    if let Some(cs) = sites
        .by_hash
        .get(&h)
        .and_then(|v| v.iter().find(|cs| matches(cs, record)))
    {
        return Some(cs);
    }
    if sites.count >= MAX_SITES || record.key_values().count() > MAX_KEYS {
        return None;
    }
    struct Names(Vec<&'static str>);
    impl<'kvs> VisitSource<'kvs> for Names {
        fn visit_pair(&mut self, key: Key<'kvs>, _: kv::Value<'kvs>) -> Result<(), kv::Error> {
            self.0.push(leak(key.as_str()));
            Ok(())
        }
    }
    let mut names = Names(Vec::new());
    let _ = record.key_values().visit(&mut names);
    let cs: &'static Callsite = Box::leak(Box::new(Callsite::new(
        level_of(record.level()),
        leak(record.target()),
        record
            .module_path_static()
            .unwrap_or_else(|| leak(record.module_path().unwrap_or(""))),
        record
            .file_static()
            .unwrap_or_else(|| leak(record.file().unwrap_or(""))),
        record.line().unwrap_or(0),
        "",
        Box::leak(names.0.into_boxed_slice()),
        true,
    )));
    sites.by_hash.entry(h).or_default().push(cs);
    sites.count += 1;
    Some(cs)
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_owned().into_boxed_str())
}

/// The call site of `level` for records beyond [`MAX_SITES`].
fn overflow_site(level: Level) -> &'static Callsite {
    const fn site(level: Level) -> Callsite {
        Callsite::new(level, "log", "log", "", 0, "", &[], true)
    }
    static SITES: [Callsite; 6] = [
        site(Level::Trace),
        site(Level::Debug),
        site(Level::Info),
        site(Level::Warn),
        site(Level::Error),
        site(Level::Fatal),
    ];
    &SITES[level as usize]
}

/// A record's key-values as the fields of its call site (as many as it
/// has names; a missing value is `null`).
struct Kv<'a> {
    source: &'a dyn Source,
    fields: usize,
}

impl ValueList for Kv<'_> {
    fn record_all(&self, buf: &mut RecordBuf<'_>) {
        struct Rec<'b, 'c> {
            buf: &'b mut RecordBuf<'c>,
            left: usize,
        }
        impl<'kvs> VisitSource<'kvs> for Rec<'_, '_> {
            fn visit_pair(&mut self, _: Key<'kvs>, v: kv::Value<'kvs>) -> Result<(), kv::Error> {
                if self.left == 0 {
                    return Ok(());
                }
                self.left -= 1;
                record_value(&v, self.buf);
                Ok(())
            }
        }
        let mut rec = Rec {
            buf,
            left: self.fields,
        };
        let _ = self.source.visit(&mut rec);
        for _ in 0..rec.left {
            rec.buf.none();
        }
    }

    fn encoded_len(&self) -> Option<usize> {
        None
    }
}

/// One key-value's value, typed where `log` can tell its type: one visit
/// of the value (a cast per type tried would cost a visit each).
fn record_value(v: &kv::Value<'_>, buf: &mut RecordBuf<'_>) {
    struct Typed<'b, 'c> {
        buf: &'b mut RecordBuf<'c>,
        done: bool,
    }
    impl Typed<'_, '_> {
        #[inline]
        fn put(&mut self, f: impl FnOnce(&mut RecordBuf<'_>)) -> Result<(), kv::Error> {
            if !self.done {
                self.done = true;
                f(self.buf);
            }
            Ok(())
        }
    }
    impl<'v> VisitValue<'v> for Typed<'_, '_> {
        fn visit_any(&mut self, value: kv::Value<'_>) -> Result<(), kv::Error> {
            self.put(|b| b.fmt(format_args!("{value}")))
        }
        fn visit_null(&mut self) -> Result<(), kv::Error> {
            self.put(|b| b.none())
        }
        fn visit_u64(&mut self, v: u64) -> Result<(), kv::Error> {
            self.put(|b| b.u64(v))
        }
        fn visit_i64(&mut self, v: i64) -> Result<(), kv::Error> {
            // A non-negative integer is a u64 whatever its Rust type.
            match u64::try_from(v) {
                Ok(u) => self.put(|b| b.u64(u)),
                Err(_) => self.put(|b| b.i64(v)),
            }
        }
        fn visit_u128(&mut self, v: u128) -> Result<(), kv::Error> {
            self.put(|b| b.u128(v))
        }
        fn visit_i128(&mut self, v: i128) -> Result<(), kv::Error> {
            self.put(|b| b.i128(v))
        }
        fn visit_f64(&mut self, v: f64) -> Result<(), kv::Error> {
            self.put(|b| b.f64(v))
        }
        fn visit_bool(&mut self, v: bool) -> Result<(), kv::Error> {
            self.put(|b| b.bool(v))
        }
        fn visit_str(&mut self, v: &str) -> Result<(), kv::Error> {
            self.put(|b| b.str(v))
        }
        fn visit_char(&mut self, v: char) -> Result<(), kv::Error> {
            self.put(|b| b.char(v))
        }
        fn visit_error(&mut self, e: &(dyn std::error::Error + 'static)) -> Result<(), kv::Error> {
            // `key:err = e`: `exception.type`, `exception.message`, the chain.
            self.put(|b| crate::value::Value::record(e, b))
        }
        fn visit_borrowed_error(
            &mut self,
            e: &'v (dyn std::error::Error + 'static),
        ) -> Result<(), kv::Error> {
            self.visit_error(e)
        }
    }
    let mut typed = Typed { buf, done: false };
    let _ = v.visit(&mut typed);
    if !typed.done {
        typed.buf.none();
    }
}

/// Key-values written after a message, ` key=value` each.
struct KvText<'a>(&'a dyn Source);

impl fmt::Display for KvText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Text<'f, 'g>(&'f mut fmt::Formatter<'g>);
        impl<'kvs> VisitSource<'kvs> for Text<'_, '_> {
            fn visit_pair(&mut self, k: Key<'kvs>, v: kv::Value<'kvs>) -> Result<(), kv::Error> {
                write!(self.0, " {k}={v}").map_err(|_| kv::Error::msg("formatter failed"))
            }
        }
        let _ = self.0.visit(&mut Text(f));
        Ok(())
    }
}
