//! The `tracing` crate's events and spans as records and spans of this
//! engine (feature `tracing`).
//!
//! [`TracingLayer`] is a `tracing_subscriber::Layer`; [`subscriber()`] is it
//! on a `tracing_subscriber::Registry`, a plain `Subscriber` that `init()`
//! installs as `tracing`'s global default unless the builder says
//! `.tracing_bridge(false)` (then add [`TracingLayer`] to a stack of your
//! own).
//!
//! - Each `tracing` call site (a `&'static Metadata`) becomes one interned
//!   call site of this engine: the filter directives and the log sampler
//!   apply to it as to a macro call site. Memory is bounded: at most
//!   [`MAX_SITES`] are interned; events of later ones go to one call site
//!   per level (target `tracing`, no fields: their fields are written into
//!   the message as ` key=value` pairs after the text).
//! - An event is a log record: its `message` is formatted on the calling
//!   thread straight into the ring, its other fields are typed (`u64`,
//!   `i64`, `f64`, `bool`, `i128`/`u128`, `str`, errors as `exception.*`,
//!   anything else with `Debug`), and it carries the current span's trace
//!   ids and correlation id. After a call site's first event nothing is
//!   allocated.
//! - A span is a native span ([`crate::Span`]): it takes its parent from
//!   the thread's current context (a `tracing` span entered, or one of this
//!   engine's) or from its explicit `parent:`, the trace sampler decides it
//!   as any other, entering it makes it current for both APIs, `record`
//!   adds attributes, `follows_from` an attribute `follows_from` (the other
//!   span as `trace_id-span_id`), and closing it ends it.
//! - Filtering: the layer enables what the engine's directives enable (as
//!   `EnvFilter` does, this filters for the whole subscriber stack): once
//!   the engine runs, a call site's interest (always or never) is cached by
//!   `tracing` at the call site, and the layer's `max_level_hint` is the
//!   directives' most verbose level, so `tracing`'s own checks drop what
//!   the directives disable before any of this runs. (A change of the
//!   directives at run time must call
//!   `tracing_core::callsite::rebuild_interest_cache`, as `init()` does.)

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use tracing_core::field::{Field, Visit};
use tracing_core::span::{Attributes, Id, Record};
use tracing_core::subscriber::Interest;
use tracing_core::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::{LookupSpan, Registry};

use crate::callsite::Callsite;
use crate::level::Level;
use crate::record::RecordBuf;
use crate::span::{Parent, Span};
use crate::value::{Value, ValueList};

/// The most `tracing` call sites interned (the field-name slice of each
/// leaks, once).
pub const MAX_SITES: usize = 4096;

/// The most fields of a `tracing` call site kept as fields (a call site with
/// more is not interned: its events write their fields into the message).
const MAX_FIELDS: usize = 64;

/// No `message` field.
const NO_MESSAGE: usize = usize::MAX;

/// The `tracing_subscriber::Layer` that sends `tracing`'s events and spans
/// into the engine.
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingLayer;

/// The plain `Subscriber`: [`TracingLayer`] on a `Registry`.
pub type TracingSubscriber = tracing_subscriber::layer::Layered<TracingLayer, Registry>;

/// [`TracingLayer`] on a `Registry`: what `init()` installs as `tracing`'s
/// global default.
pub fn subscriber() -> TracingSubscriber {
    use tracing_subscriber::layer::SubscriberExt as _;
    Registry::default().with(TracingLayer)
}

fn level_of(l: &tracing_core::Level) -> Level {
    match *l {
        tracing_core::Level::ERROR => Level::Error,
        tracing_core::Level::WARN => Level::Warn,
        tracing_core::Level::INFO => Level::Info,
        tracing_core::Level::DEBUG => Level::Debug,
        _ => Level::Trace,
    }
}

/// `tracing`'s filter for the most verbose level `max` enables.
pub(crate) fn tracing_filter(max: crate::LevelFilter) -> tracing_core::LevelFilter {
    use tracing_core::LevelFilter as F;
    match max.to_level() {
        None => F::OFF,
        Some(Level::Trace) => F::TRACE,
        Some(Level::Debug) => F::DEBUG,
        Some(Level::Info) => F::INFO,
        Some(Level::Warn) => F::WARN,
        Some(Level::Error | Level::Fatal) => F::ERROR,
    }
}

/// A `tracing` call site's counterpart.
struct Site {
    cs: &'static Callsite,
    /// The index of `tracing`'s `message` field among the call site's
    /// fields ([`NO_MESSAGE`]: none), which is not one of ours.
    message: usize,
    /// False for an overflow site: the fields go into the message.
    kept: bool,
}

impl Site {
    /// Our field index of `tracing`'s field `i`, `None` for the message.
    #[inline]
    fn index(&self, i: usize) -> Option<usize> {
        match i.cmp(&self.message) {
            std::cmp::Ordering::Less => Some(i),
            std::cmp::Ordering::Equal => None,
            std::cmp::Ordering::Greater => Some(i - 1),
        }
    }
}

const CACHE_SLOTS: usize = 256;

thread_local! {
    /// This thread's recent call sites, by metadata address (direct-mapped).
    static CACHE: [Cell<Option<(usize, &'static Site)>>; CACHE_SLOTS] =
        const { [const { Cell::new(None) }; CACHE_SLOTS] };
}

/// The interned site of `meta`.
#[inline]
fn site_of(meta: &'static Metadata<'static>) -> &'static Site {
    if let Some(site) = cached(meta) {
        return site;
    }
    let key = std::ptr::from_ref(meta) as usize;
    let site = intern(key, meta);
    let _ = CACHE.try_with(|c| c[slot_of(key)].set(Some((key, site))));
    site
}

/// The cache slot of a metadata address.
#[inline]
fn slot_of(key: usize) -> usize {
    (key >> 4) % CACHE_SLOTS
}

/// The site of the metadata at `meta`'s address, if this thread's cache
/// holds it (a site is only made for static metadata, so an address names
/// one for good).
#[inline]
fn cached(meta: &Metadata<'_>) -> Option<&'static Site> {
    let key = std::ptr::from_ref(meta) as usize;
    CACHE
        .try_with(|c| c[slot_of(key)].get())
        .ok()
        .flatten()
        .filter(|(k, _)| *k == key)
        .map(|(_, site)| site)
}

struct Interned {
    by_meta: HashMap<usize, &'static Site>,
    count: usize,
}

static SITES: Mutex<Option<Interned>> = Mutex::new(None);

#[cold]
fn intern(key: usize, meta: &'static Metadata<'static>) -> &'static Site {
    let mut sites = SITES.lock().unwrap_or_else(|e| e.into_inner());
    let sites = sites.get_or_insert_with(|| Interned {
        by_meta: HashMap::new(),
        count: 0,
    });
    if let Some(site) = sites.by_meta.get(&key) {
        return site;
    }
    let level = level_of(meta.level());
    let fields = meta.fields();
    let message = if meta.is_event() {
        fields.field("message").map_or(NO_MESSAGE, |f| f.index())
    } else {
        NO_MESSAGE
    };
    if sites.count >= MAX_SITES || fields.len() > MAX_FIELDS + 1 {
        // Not remembered: an overflow site is one lookup away.
        return overflow_site(level, meta.is_span());
    }
    let names: Vec<&'static str> = fields
        .iter()
        .filter(|f| f.index() != message)
        .map(|f| f.name())
        .take(MAX_FIELDS)
        .collect();
    let cs: &'static Callsite = Box::leak(Box::new(Callsite::new(
        level,
        meta.target(),
        meta.module_path().unwrap_or(""),
        meta.file().unwrap_or(""),
        meta.line().unwrap_or(0),
        if meta.is_span() { meta.name() } else { "" },
        Box::leak(names.into_boxed_slice()),
        message != NO_MESSAGE,
    )));
    let site: &'static Site = Box::leak(Box::new(Site {
        cs,
        message,
        kept: true,
    }));
    sites.by_meta.insert(key, site);
    sites.count += 1;
    site
}

/// The site of `level` for call sites beyond [`MAX_SITES`].
fn overflow_site(level: Level, span: bool) -> &'static Site {
    const fn site(cs: &'static Callsite) -> Site {
        Site {
            cs,
            message: NO_MESSAGE,
            kept: false,
        }
    }
    macro_rules! sites {
        ($name:literal, $fmt:literal) => {{
            static CS: [Callsite; 6] = [
                Callsite::new(Level::Trace, "tracing", "tracing", "", 0, $name, &[], $fmt),
                Callsite::new(Level::Debug, "tracing", "tracing", "", 0, $name, &[], $fmt),
                Callsite::new(Level::Info, "tracing", "tracing", "", 0, $name, &[], $fmt),
                Callsite::new(Level::Warn, "tracing", "tracing", "", 0, $name, &[], $fmt),
                Callsite::new(Level::Error, "tracing", "tracing", "", 0, $name, &[], $fmt),
                Callsite::new(Level::Fatal, "tracing", "tracing", "", 0, $name, &[], $fmt),
            ];
            static SITES: [Site; 6] = [
                site(&CS[0]),
                site(&CS[1]),
                site(&CS[2]),
                site(&CS[3]),
                site(&CS[4]),
                site(&CS[5]),
            ];
            &SITES[level as usize]
        }};
    }
    if span {
        sites!("tracing_span", false)
    } else {
        sites!("", true)
    }
}

/// What a span of `tracing` holds in the registry: its native span.
struct Data {
    span: Span,
}

thread_local! {
    /// The spans of `tracing` entered on this thread, innermost last, with
    /// the context each replaced.
    static ENTERED: RefCell<Vec<(u64, Option<crate::ring::Prev>)>> = const { RefCell::new(Vec::new()) };
}

impl<S> Layer<S> for TracingLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        // With the engine running, the call site's interest is the
        // directives' word, cached by `tracing` at the call site: a disabled
        // call costs one load there, an enabled one skips `enabled`. Before
        // `init()` it is decided per call (`init()` rebuilds the cache).
        let site = site_of(meta);
        match crate::engine::get() {
            Some(e) if e.is_running() => {
                if site.cs.is_enabled() {
                    Interest::always()
                } else {
                    Interest::never()
                }
            }
            _ => Interest::sometimes(),
        }
    }

    fn enabled(&self, meta: &Metadata<'_>, _: Context<'_, S>) -> bool {
        // The metadata of a call site that reaches a subscriber is static,
        // but `enabled` is given a shorter lifetime: its interned site is
        // found by address (a site is only made for static metadata, so an
        // address names one for good), else the directives decide by level
        // and target.
        if let Some(site) = cached(meta) {
            return site.cs.is_enabled();
        }
        crate::engine::enables(meta.target(), level_of(meta.level()))
    }

    fn max_level_hint(&self) -> Option<tracing_core::LevelFilter> {
        crate::engine::get().map(|e| tracing_filter(e.directives.load().max_level()))
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span_ref) = ctx.span(id) else { return };
        let site = site_of(attrs.metadata());
        let span = if site.cs.is_enabled() {
            let values = Values {
                site,
                source: Source::Attrs(attrs),
            };
            if attrs.is_root() {
                Span::start(site.cs, Parent::Root, &values)
            } else if let Some(parent) = attrs.parent() {
                match ctx.span(parent) {
                    Some(p) => match p.extensions().get::<Data>() {
                        Some(d) => Span::start(site.cs, Parent::Span(&d.span), &values),
                        None => Span::start(site.cs, Parent::Current, &values),
                    },
                    None => Span::start(site.cs, Parent::Current, &values),
                }
            } else {
                Span::start(site.cs, Parent::Current, &values)
            }
        } else {
            Span::none()
        };
        span_ref.extensions_mut().insert(Data { span });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span_ref) = ctx.span(id) else { return };
        let ext = span_ref.extensions();
        if let Some(d) = ext.get::<Data>() {
            values.record(&mut Attrs { span: &d.span });
        }
    }

    fn on_follows_from(&self, id: &Id, follows: &Id, ctx: Context<'_, S>) {
        let (Some(a), Some(b)) = (ctx.span(id), ctx.span(follows)) else {
            return;
        };
        let other = match b.extensions().get::<Data>() {
            Some(d) => d.span.context(),
            None => return,
        };
        if let Some(d) = a.extensions().get::<Data>()
            && other.is_some()
        {
            d.span.record(
                "follows_from",
                &crate::value::display(format_args!(
                    "{:032x}-{:016x}",
                    other.trace_id, other.span_id
                )),
            );
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let site = site_of(event.metadata());
        let plan = site.cs.log_plan();
        if plan == 0 {
            return;
        }
        // An explicit parent is entered for the record (and left after).
        let parent = event.parent().and_then(|id| ctx.span(id));
        let ext = parent.as_ref().map(|p| p.extensions());
        let _entered = ext
            .as_ref()
            .and_then(|e| e.get::<Data>())
            .map(|d| d.span.enter());
        emit(site, plan, event);
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        let Some(span_ref) = ctx.span(id) else { return };
        let prev = span_ref
            .extensions()
            .get::<Data>()
            .and_then(|d| d.span.enter_raw());
        let _ = ENTERED.try_with(|s| s.borrow_mut().push((id.into_u64(), prev)));
    }

    fn on_exit(&self, id: &Id, _: Context<'_, S>) {
        let _ = ENTERED.try_with(|s| exit(&mut s.borrow_mut(), id.into_u64()));
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span_ref) = ctx.span(&id) else {
            return;
        };
        // Dropped here: the native span ends.
        drop(span_ref.extensions_mut().remove::<Data>());
    }
}

/// Leaves span `id` on this thread: restores the context it replaced when
/// it is the innermost; otherwise (spans left out of order) hands that
/// context to the span entered after it, so the chain stays whole.
fn exit(stack: &mut Vec<(u64, Option<crate::ring::Prev>)>, id: u64) {
    let Some(pos) = stack.iter().rposition(|(i, _)| *i == id) else {
        return;
    };
    let (_, prev) = stack.remove(pos);
    let Some(prev) = prev else { return };
    match stack[pos..].iter_mut().find_map(|(_, p)| p.as_mut()) {
        // A later entry saved this span's context: it takes the older one.
        Some(later) => crate::ring::discard(std::mem::replace(later, prev)),
        None => crate::ring::leave(prev),
    }
}

/// Writes the record of `event` at `site`.
#[inline]
fn emit(site: &'static Site, plan: u8, event: &Event<'_>) {
    let level = site.cs.metadata().level;
    if !site.kept {
        crate::ring::dispatch(
            site.cs,
            plan,
            level,
            Some(format_args!("{}", AllText(event))),
            &(),
        );
        return;
    }
    let values = Values {
        site,
        source: Source::Event(event),
    };
    if site.message == NO_MESSAGE || site.message == 0 {
        // No message, or the message first (as `tracing`'s macros put it):
        // one visit writes the message, then the fields.
        crate::ring::dispatch(site.cs, plan, level, None, &values);
    } else {
        crate::ring::dispatch(
            site.cs,
            plan,
            level,
            Some(format_args!("{}", Message(event))),
            &values,
        );
    }
}

/// Where a record's values come from.
enum Source<'a> {
    Event(&'a Event<'a>),
    Attrs(&'a Attributes<'a>),
}

/// The values of an event or a new span, as the fields of its call site.
struct Values<'a> {
    site: &'static Site,
    source: Source<'a>,
}

impl ValueList for Values<'_> {
    fn record_all(&self, buf: &mut RecordBuf<'_>) {
        let mut rec = Fields {
            site: self.site,
            buf,
            next: 0,
            len: self.site.cs.metadata().fields.len(),
            message: matches!(self.source, Source::Event(_)) && self.site.message == 0,
        };
        match self.source {
            Source::Event(e) => e.record(&mut rec),
            Source::Attrs(a) => a.record(&mut rec),
        }
        rec.message_done();
        for _ in rec.next..rec.len {
            rec.buf.none();
        }
    }

    fn encoded_len(&self) -> Option<usize> {
        None
    }
}

/// Writes visited values in the call site's field order: a field not
/// visited is `null` (a span's `Empty` field), one visited out of order or
/// twice is dropped (and counted as misrecorded).
struct Fields<'b, 'c> {
    site: &'static Site,
    buf: &'b mut RecordBuf<'c>,
    next: usize,
    len: usize,
    /// The message is the call site's first field and is written by this
    /// visit (before any value); true until it is.
    message: bool,
}

impl Fields<'_, '_> {
    /// Writes the message now (empty when the event has none) if it is
    /// this visit's to write and not written yet.
    #[inline]
    fn message_done(&mut self) {
        if self.message {
            self.message = false;
            self.buf.message(format_args!(""));
        }
    }

    /// Writes the message if `field` is it and this visit writes it.
    #[inline]
    fn message(&mut self, field: &Field, text: fmt::Arguments<'_>) -> bool {
        if self.message && field.index() == self.site.message {
            self.message = false;
            self.buf.message(text);
            return true;
        }
        false
    }

    /// Whether `field`'s value is to be written now (after the `null`s of
    /// the fields it skipped).
    #[inline]
    fn slot(&mut self, field: &Field) -> bool {
        let Some(j) = self.site.index(field.index()) else {
            return false;
        };
        self.message_done();
        if j < self.next || j >= self.len {
            if j < self.len {
                crate::record::count_misrecorded(1);
            }
            return false;
        }
        while self.next < j {
            self.buf.none();
            self.next += 1;
        }
        self.next += 1;
        true
    }
}

impl Visit for Fields<'_, '_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        if self.slot(field) {
            self.buf.f64(value);
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        if self.slot(field) {
            self.buf.i64(value);
        }
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        if self.slot(field) {
            self.buf.u64(value);
        }
    }
    fn record_i128(&mut self, field: &Field, value: i128) {
        if self.slot(field) {
            self.buf.i128(value);
        }
    }
    fn record_u128(&mut self, field: &Field, value: u128) {
        if self.slot(field) {
            self.buf.u128(value);
        }
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        if self.slot(field) {
            self.buf.bool(value);
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if !self.message(field, format_args!("{value}")) && self.slot(field) {
            self.buf.str(value);
        }
    }
    fn record_bytes(&mut self, field: &Field, value: &[u8]) {
        if self.slot(field) {
            self.buf.bytes(value);
        }
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if self.slot(field) {
            value.record(self.buf);
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if !self.message(field, format_args!("{value:?}")) && self.slot(field) {
            self.buf.fmt(format_args!("{value:?}"));
        }
    }
}

/// `span.record(...)` values as attributes of the native span.
struct Attrs<'a> {
    span: &'a Span,
}

impl Visit for Attrs<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.span.record(field.name(), &value);
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.span.record(field.name(), &value);
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.span.record(field.name(), &value);
    }
    fn record_i128(&mut self, field: &Field, value: i128) {
        self.span.record(field.name(), &value);
    }
    fn record_u128(&mut self, field: &Field, value: u128) {
        self.span.record(field.name(), &value);
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.span.record(field.name(), &value);
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.span.record(field.name(), value);
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.span.record(field.name(), value);
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.span
            .record(field.name(), &crate::value::debug(DebugRef(value)));
    }
}

/// A `&dyn Debug` as a `Debug` value.
struct DebugRef<'a>(&'a dyn fmt::Debug);

impl fmt::Debug for DebugRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An event's `message` field, as text.
struct Message<'a>(&'a Event<'a>);

impl fmt::Display for Message<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Text<'f, 'g> {
            f: &'f mut fmt::Formatter<'g>,
            result: fmt::Result,
        }
        impl Visit for Text<'_, '_> {
            fn record_str(&mut self, field: &Field, value: &str) {
                if field.name() == "message" {
                    self.result = self.f.write_str(value);
                }
            }
            fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
                if field.name() == "message" {
                    // `format_args!`'s Debug is its text.
                    self.result = write!(self.f, "{value:?}");
                }
            }
        }
        let mut t = Text { f, result: Ok(()) };
        self.0.record(&mut t);
        t.result
    }
}

/// An event of an overflow site: the message, then ` key=value` per field.
struct AllText<'a>(&'a Event<'a>);

impl fmt::Display for AllText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Message(self.0).fmt(f)?;
        struct Text<'f, 'g>(&'f mut fmt::Formatter<'g>);
        impl Visit for Text<'_, '_> {
            fn record_str(&mut self, field: &Field, value: &str) {
                if field.name() != "message" {
                    let _ = write!(self.0, " {}={value}", field.name());
                }
            }
            fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
                if field.name() != "message" {
                    let _ = write!(self.0, " {}={value:?}", field.name());
                }
            }
        }
        self.0.record(&mut Text(f));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_field_is_not_one_of_ours() {
        let site = Site {
            cs: overflow_site(Level::Info, false).cs,
            message: 1,
            kept: true,
        };
        assert_eq!(site.index(0), Some(0));
        assert_eq!(site.index(1), None);
        assert_eq!(site.index(2), Some(1));
        let none = Site {
            message: NO_MESSAGE,
            ..site
        };
        assert_eq!(none.index(5), Some(5));
    }

    #[test]
    fn tracing_filter_is_the_most_verbose_level_enabled() {
        use crate::LevelFilter;
        assert_eq!(
            tracing_filter(LevelFilter::from(Level::Info)),
            tracing_core::LevelFilter::INFO
        );
        assert_eq!(
            tracing_filter(LevelFilter::OFF),
            tracing_core::LevelFilter::OFF
        );
    }
}
