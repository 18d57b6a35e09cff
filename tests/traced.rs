//! `#[traced]`: the span around a function, its fields (typed values, Debug
//! and Display fallbacks, skip, skip_all, redact), the name / level / target
//! options, methods, generic and `impl Trait` arguments, `async fn` (the span
//! stays current across awaits and threads), `Err` returns and panics
//! (status and `exception` event), and nesting.

use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::{Pin, pin};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll, Waker};

use datapunk_log::export::{MemoryExporter, OwnedEvent, OwnedSpan, OwnedStatus, OwnedValue};
use datapunk_log::{Guard, Level, TraceContext, traced};

struct Setup {
    exporter: MemoryExporter,
    _guard: Guard,
}

fn setup() -> &'static Setup {
    static S: OnceLock<Setup> = OnceLock::new();
    S.get_or_init(|| {
        let exporter = MemoryExporter::new();
        let guard = datapunk_log::builder()
            .null()
            .filter("trace")
            .ignore_env()
            .exporter(exporter.clone())
            .init()
            .expect("init");
        Setup {
            exporter,
            _guard: guard,
        }
    })
}

/// Serializes the tests (panics in some of them must not poison the others).
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    let guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    setup();
    guard
}

/// Flushes, then the spans named `name`.
fn spans_named(name: &str) -> Vec<OwnedSpan> {
    datapunk_log::flush();
    setup()
        .exporter
        .spans()
        .into_iter()
        .filter(|s| s.name == name)
        .collect()
}

/// Flushes, then the one span named `name`.
fn one(name: &str) -> OwnedSpan {
    let mut v = spans_named(name);
    assert_eq!(v.len(), 1, "expected one span {name}: {v:#?}");
    v.pop().unwrap()
}

fn str_value(s: &str) -> OwnedValue {
    OwnedValue::Str(s.to_owned())
}

fn field_names(s: &OwnedSpan) -> Vec<&str> {
    s.fields.iter().map(|(k, _)| k.as_str()).collect()
}

fn event_field<'a>(e: &'a OwnedEvent, key: &str) -> Option<&'a OwnedValue> {
    e.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

fn exception(s: &OwnedSpan) -> &OwnedEvent {
    let ex: Vec<_> = s.events.iter().filter(|e| e.name == "exception").collect();
    assert_eq!(ex.len(), 1, "one exception event: {s:#?}");
    ex[0]
}

/// Pending once (waking itself), then ready.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

// --- sync functions and typed values -----------------------------------

#[traced]
fn typed_args(a: u64, b: i32, label: &str, owned: String, ratio: f64, on: bool) -> TraceContext {
    let _ = (a, b, label, owned, ratio, on);
    datapunk_log::current_context()
}

#[test]
fn sync_fn_records_typed_args_and_is_current_inside() {
    let _s = serial();
    let inside = typed_args(7, -3, "hello", "world".to_owned(), 0.5, true);
    assert_eq!(datapunk_log::current_context(), TraceContext::default());
    let s = one("typed_args");
    assert_eq!(s.context, inside);
    assert_eq!(s.target, module_path!());
    assert_eq!(s.level, Level::Info);
    assert_eq!(s.status, OwnedStatus::Unset);
    assert!(s.events.is_empty());
    assert_eq!(field_names(&s), ["a", "b", "label", "owned", "ratio", "on"]);
    assert_eq!(s.field("a"), Some(&OwnedValue::U64(7)));
    assert_eq!(s.field("b"), Some(&OwnedValue::I64(-3)));
    assert_eq!(s.field("label"), Some(&str_value("hello")));
    assert_eq!(s.field("owned"), Some(&str_value("world")));
    assert_eq!(s.field("ratio"), Some(&OwnedValue::F64(0.5)));
    assert_eq!(s.field("on"), Some(&OwnedValue::Bool(true)));
}

#[derive(Debug)]
struct Point {
    x: i32,
    y: i32,
}

struct OnlyDisplay;

impl fmt::Display for OnlyDisplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("only-display")
    }
}

struct Opaque;

#[allow(clippy::too_many_arguments, clippy::toplevel_ref_arg)]
#[traced]
fn patterns(
    p: Point,
    d: &OnlyDisplay,
    o: Opaque,
    maybe: Option<u8>,
    mut count: u32,
    (t1, t2): (u8, u8),
    _: u8,
    ref by_ref: u16,
) -> u32 {
    count += u32::from(t1) + u32::from(t2) + u32::from(*by_ref);
    let _ = (p.x + p.y, d, o, maybe);
    count
}

#[test]
fn debug_display_and_unrecordable_fallbacks_and_patterns() {
    let _s = serial();
    assert_eq!(
        patterns(
            Point { x: 1, y: 2 },
            &OnlyDisplay,
            Opaque,
            Some(4),
            10,
            (1, 2),
            9,
            100
        ),
        113
    );
    let s = one("patterns");
    // Tuple and `_` patterns are left out.
    assert_eq!(field_names(&s), ["p", "d", "o", "maybe", "count", "by_ref"]);
    assert_eq!(s.field("p"), Some(&str_value("Point { x: 1, y: 2 }")));
    assert_eq!(s.field("d"), Some(&str_value("only-display")));
    assert_eq!(s.field("o"), Some(&OwnedValue::None));
    assert_eq!(s.field("maybe"), Some(&OwnedValue::U64(4)));
    // Recorded when the call starts.
    assert_eq!(s.field("count"), Some(&OwnedValue::U64(10)));
    assert_eq!(s.field("by_ref"), Some(&OwnedValue::U64(100)));
}

// --- methods -------------------------------------------------------------

#[derive(Debug)]
struct Counter {
    n: u64,
    name: String,
}

impl Counter {
    #[traced]
    fn get(&self, plus: u64) -> u64 {
        self.n + plus
    }

    /// Returns a reference into `self`: the body's closure must be `FnOnce`.
    #[traced]
    fn bump(&mut self, by: u64) -> &mut u64 {
        self.n += by;
        &mut self.n
    }

    #[traced]
    fn name(&self) -> &str {
        &self.name
    }

    #[traced]
    fn into_parts(self, tag: char) -> (u64, String, char) {
        (self.n, self.name, tag)
    }

    #[traced]
    fn make(n: u64) -> Self {
        Counter {
            n,
            name: "made".into(),
        }
    }
}

#[test]
fn methods_with_self_ref_mut_and_value() {
    let _s = serial();
    let mut c = Counter::make(1);
    assert_eq!(c.get(2), 3);
    *c.bump(5) += 100;
    assert_eq!(c.n, 106);
    assert_eq!(c.name(), "made");
    assert_eq!(c.into_parts('z'), (106, "made".to_owned(), 'z'));

    assert_eq!(one("make").field("n"), Some(&OwnedValue::U64(1)));
    let get = one("get");
    assert_eq!(field_names(&get), ["plus"]);
    assert_eq!(get.field("plus"), Some(&OwnedValue::U64(2)));
    assert_eq!(field_names(&one("bump")), ["by"]);
    assert!(one("name").fields.is_empty());
    let parts = one("into_parts");
    assert_eq!(field_names(&parts), ["tag"]);
    assert_eq!(parts.field("tag"), Some(&OwnedValue::Char('z')));
}

// --- generics --------------------------------------------------------------

#[traced]
fn generic_debug<T: fmt::Debug>(item: T) -> String {
    format!("{item:?}")
}

#[traced]
fn generic_where<'a, T, U>(text: &'a T, extra: U) -> &'a str
where
    T: AsRef<str> + fmt::Display + ?Sized,
    U: Copy,
{
    let _ = extra;
    text.as_ref()
}

#[traced]
fn impl_args(shown: impl fmt::Display, opaque: impl Into<u64>) -> u64 {
    let _ = shown.to_string();
    opaque.into()
}

#[traced]
fn impl_return(n: u32) -> impl Iterator<Item = u32> {
    0..n
}

#[test]
fn generic_fns_record_by_their_bounds() {
    let _s = serial();
    // `u32` is a `Value`, but in the generic body only `Debug` is known.
    assert_eq!(generic_debug(7u32), "7");
    assert_eq!(generic_debug(vec![1, 2]), "[1, 2]");
    assert_eq!(generic_where("abc", 5u8), "abc");
    assert_eq!(impl_args("disp", 9u8), 9);
    assert_eq!(impl_return(3).sum::<u32>(), 3);

    let g = spans_named("generic_debug");
    assert_eq!(g.len(), 2);
    assert_eq!(g[0].field("item"), Some(&str_value("7")));
    assert_eq!(g[1].field("item"), Some(&str_value("[1, 2]")));
    let w = one("generic_where");
    assert_eq!(w.field("text"), Some(&str_value("abc")));
    assert_eq!(w.field("extra"), Some(&OwnedValue::None));
    let i = one("impl_args");
    assert_eq!(i.field("shown"), Some(&str_value("disp")));
    assert_eq!(i.field("opaque"), Some(&OwnedValue::None));
    assert_eq!(one("impl_return").field("n"), Some(&OwnedValue::U64(3)));
}

// --- options ---------------------------------------------------------------

#[traced(name = "custom.name", level = "debug", target = "traced_tests")]
fn renamed(x: u8) -> u8 {
    x
}

#[traced(level = Level::Warn)]
fn warn_level() {}

#[traced(skip(a, big), redact(password, token))]
fn login(a: u64, user: &str, password: &str, token: String, big: Vec<u8>) -> usize {
    a as usize + user.len() + password.len() + token.len() + big.len()
}

#[traced(skip_all)]
fn quiet(a: u64, secret: &str) -> usize {
    a as usize + secret.len()
}

#[test]
fn name_level_target_skip_skip_all_and_redact() {
    let _s = serial();
    assert_eq!(renamed(4), 4);
    warn_level();
    assert_eq!(
        login(1, "ann", "hunter2-secret", "tok-secret".into(), vec![1]),
        1 + 3 + 14 + 10 + 1
    );
    assert_eq!(quiet(2, "quiet-secret"), 14);

    assert!(spans_named("renamed").is_empty());
    let r = one("custom.name");
    assert_eq!(r.level, Level::Debug);
    assert_eq!(r.target, "traced_tests");
    assert_eq!(r.field("x"), Some(&OwnedValue::U64(4)));
    assert_eq!(one("warn_level").level, Level::Warn);

    let l = one("login");
    assert_eq!(field_names(&l), ["user", "password", "token"]);
    assert_eq!(l.field("user"), Some(&str_value("ann")));
    assert_eq!(l.field("password"), Some(&str_value("[REDACTED]")));
    assert_eq!(l.field("token"), Some(&str_value("[REDACTED]")));
    assert!(one("quiet").fields.is_empty());

    // No secret anywhere in what was exported.
    let all = format!("{:?}", setup().exporter.spans());
    for secret in ["hunter2", "tok-secret", "quiet-secret"] {
        assert!(!all.contains(secret), "{secret} leaked: {all}");
    }
}

// --- errors ------------------------------------------------------------------

#[traced]
fn parse_num(s: &str) -> Result<u32, std::num::ParseIntError> {
    s.parse()
}

#[traced]
fn parse_boxed(s: &str) -> Result<u32, Box<dyn std::error::Error + Send + Sync>> {
    if s.is_empty() {
        return Err("empty input".into());
    }
    let v: u32 = s.parse()?;
    Ok(v)
}

#[traced]
fn io_alias(fail: bool) -> std::io::Result<()> {
    if fail {
        Err(std::io::Error::other("disk on fire"))
    } else {
        Ok(())
    }
}

#[traced]
fn display_only_err(code: u8) -> Result<(), String> {
    if code > 0 {
        return Err(format!("code {code}"));
    }
    Ok(())
}

#[derive(Debug)]
enum DebugOnly {
    Nope,
}

#[traced]
fn debug_only_err() -> Result<(), DebugOnly> {
    Err(DebugOnly::Nope)
}

#[traced(no_err)]
fn not_inspected() -> Result<(), String> {
    Err("fine".into())
}

#[test]
fn err_returns_set_status_and_record_an_exception() {
    let _s = serial();
    assert_eq!(parse_num("12"), Ok(12));
    assert!(parse_num("x1").is_err());
    let p = spans_named("parse_num");
    assert_eq!(p.len(), 2);
    assert_eq!(p[0].status, OwnedStatus::Unset);
    assert!(p[0].events.is_empty());
    assert_eq!(
        p[1].status,
        OwnedStatus::Error("invalid digit found in string".into())
    );
    let ex = exception(&p[1]);
    assert_eq!(
        event_field(ex, "exception.message"),
        Some(&str_value("invalid digit found in string"))
    );
    assert_eq!(
        event_field(ex, "exception.type"),
        Some(&str_value("ParseIntError"))
    );

    // `?` and `return` inside the body, a boxed error.
    assert!(parse_boxed("").is_err());
    assert!(parse_boxed("zz").is_err());
    let b = spans_named("parse_boxed");
    assert_eq!(b[0].status, OwnedStatus::Error("empty input".into()));
    assert_eq!(
        b[1].status,
        OwnedStatus::Error("invalid digit found in string".into())
    );
    assert_eq!(
        event_field(exception(&b[1]), "exception.type"),
        Some(&str_value("ParseIntError"))
    );

    assert!(io_alias(false).is_ok());
    assert!(io_alias(true).is_err());
    let io = spans_named("io_alias");
    assert_eq!(io[0].status, OwnedStatus::Unset);
    assert_eq!(io[1].status, OwnedStatus::Error("disk on fire".into()));
    assert_eq!(
        event_field(exception(&io[1]), "exception.message"),
        Some(&str_value("disk on fire"))
    );

    assert_eq!(display_only_err(3), Err("code 3".to_owned()));
    let d = one("display_only_err");
    assert_eq!(d.status, OwnedStatus::Error("code 3".into()));
    let ex = exception(&d);
    assert_eq!(
        event_field(ex, "exception.message"),
        Some(&str_value("code 3"))
    );
    assert_eq!(
        event_field(ex, "exception.type"),
        Some(&str_value("alloc::string::String"))
    );

    assert!(debug_only_err().is_err());
    assert_eq!(
        one("debug_only_err").status,
        OwnedStatus::Error("Nope".into())
    );

    assert!(not_inspected().is_err());
    let n = one("not_inspected");
    assert_eq!(n.status, OwnedStatus::Unset);
    assert!(n.events.is_empty());
}

// --- panics ------------------------------------------------------------------

#[traced]
fn boom(n: u32) -> u32 {
    if n > 0 {
        panic!("boom {n}");
    }
    n
}

#[traced]
fn boom_static() {
    panic!("static message");
}

#[test]
fn panics_set_status_record_an_event_and_unwind_on() {
    let _s = serial();
    let err = catch_unwind(|| boom(3)).expect_err("the panic resumes");
    assert_eq!(
        err.downcast_ref::<String>().map(String::as_str),
        Some("boom 3")
    );
    assert!(catch_unwind(boom_static).is_err());
    assert_eq!(boom(0), 0);
    // The span was left on the way out.
    assert_eq!(datapunk_log::current_context(), TraceContext::default());

    let b = spans_named("boom");
    assert_eq!(b.len(), 2);
    assert_eq!(b[0].status, OwnedStatus::Error("panic: boom 3".into()));
    let ex = exception(&b[0]);
    assert_eq!(event_field(ex, "exception.type"), Some(&str_value("panic")));
    assert_eq!(
        event_field(ex, "exception.message"),
        Some(&str_value("boom 3"))
    );
    assert_eq!(b[1].status, OwnedStatus::Unset);
    assert_eq!(
        one("boom_static").status,
        OwnedStatus::Error("panic: static message".into())
    );
}

// --- nesting -------------------------------------------------------------------

#[traced]
fn outer_fn(depth: u8) -> (TraceContext, TraceContext) {
    (datapunk_log::current_context(), inner_fn(depth + 1))
}

#[traced]
fn inner_fn(depth: u8) -> TraceContext {
    let _ = depth;
    datapunk_log::current_context()
}

#[test]
fn nested_traced_fns_are_parent_and_child() {
    let _s = serial();
    let (outer, inner) = outer_fn(0);
    let o = one("outer_fn");
    let i = one("inner_fn");
    assert_eq!(o.context, outer);
    assert_eq!(i.context, inner);
    assert_eq!(i.context.parent_span_id, o.context.span_id);
    assert_eq!(i.context.trace_id, o.context.trace_id);
    assert_eq!(o.context.parent_span_id, 0);
    assert_eq!(i.field("depth"), Some(&OwnedValue::U64(1)));
}

// --- async -----------------------------------------------------------------------

#[traced]
async fn fetch(id: u64, label: &str) -> (TraceContext, TraceContext, String) {
    let before = datapunk_log::current_context();
    YieldOnce(false).await;
    let after = datapunk_log::current_context();
    (before, after, format!("{label}-{id}"))
}

#[test]
fn async_fn_span_stays_current_across_awaits_and_threads() {
    let _s = serial();
    let label = String::from("item");
    let mut fut = Box::pin(fetch(42, &label));
    let mut cx = Context::from_waker(Waker::noop());
    assert!(fut.as_mut().poll(&mut cx).is_pending());
    // Not current between polls.
    assert_eq!(datapunk_log::current_context(), TraceContext::default());
    // The second poll runs on another thread.
    let (before, after, text) = std::thread::scope(|s| {
        s.spawn(|| {
            let mut cx = Context::from_waker(Waker::noop());
            match fut.as_mut().poll(&mut cx) {
                Poll::Ready(v) => v,
                Poll::Pending => panic!("ready on the second poll"),
            }
        })
        .join()
        .unwrap()
    });
    drop(fut);
    assert_eq!(text, "item-42");
    let s = one("fetch");
    assert_eq!(before, s.context);
    assert_eq!(after, s.context);
    assert_eq!(s.field("id"), Some(&OwnedValue::U64(42)));
    assert_eq!(s.field("label"), Some(&str_value("item")));
    assert_eq!(s.status, OwnedStatus::Unset);
}

struct Store {
    items: Vec<u64>,
}

#[derive(Debug, PartialEq)]
struct Missing(usize);

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no item {}", self.0)
    }
}

impl std::error::Error for Missing {}

impl Store {
    #[traced(name = "store.get")]
    async fn get(&self, index: usize) -> Result<&u64, Missing> {
        YieldOnce(false).await;
        let item = self.items.get(index).ok_or(Missing(index))?;
        Ok(item)
    }

    #[traced]
    async fn push(&mut self, v: u64) -> usize {
        YieldOnce(false).await;
        self.items.push(v);
        self.items.len()
    }

    #[traced]
    async fn into_sum(self) -> u64 {
        self.items.iter().sum()
    }
}

#[traced]
async fn async_outer() -> TraceContext {
    let mut store = Store { items: vec![1] };
    store.push(2).await;
    let _ = store.get(0).await;
    datapunk_log::current_context()
}

#[traced]
async fn async_panics(after_await: bool) -> u8 {
    if after_await {
        YieldOnce(false).await;
    }
    panic!("async boom");
}

#[test]
fn async_methods_errors_panics_and_nesting() {
    let _s = serial();
    let mut store = Store { items: vec![5] };
    assert_eq!(block_on(store.get(0)), Ok(&5));
    assert_eq!(block_on(store.push(6)), 2);
    assert!(block_on(store.get(7)).is_err());
    assert_eq!(block_on(store.into_sum()), 11);

    let g = spans_named("store.get");
    assert_eq!(g.len(), 2);
    assert_eq!(g[0].status, OwnedStatus::Unset);
    assert_eq!(g[1].status, OwnedStatus::Error("no item 7".into()));
    assert_eq!(
        event_field(exception(&g[1]), "exception.type"),
        Some(&str_value("Missing"))
    );
    assert_eq!(g[1].field("index"), Some(&OwnedValue::U64(7)));
    assert_eq!(one("into_sum").status, OwnedStatus::Unset);

    // Nested async: the inner spans are children of the outer one.
    setup().exporter.clear();
    let outer_ctx = block_on(async_outer());
    let o = one("async_outer");
    assert_eq!(o.context, outer_ctx);
    for inner in [one("push"), one("store.get")] {
        assert_eq!(inner.context.parent_span_id, o.context.span_id);
        assert_eq!(inner.context.trace_id, o.context.trace_id);
    }

    // A panic in a poll: status, event, and the panic goes on.
    for after_await in [false, true] {
        let r = catch_unwind(AssertUnwindSafe(|| block_on(async_panics(after_await))));
        let payload = r.expect_err("the panic resumes");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"async boom"));
        assert_eq!(datapunk_log::current_context(), TraceContext::default());
    }
    let p = spans_named("async_panics");
    assert_eq!(p.len(), 2);
    for s in &p {
        assert_eq!(s.status, OwnedStatus::Error("panic: async boom".into()));
        assert_eq!(
            event_field(exception(s), "exception.message"),
            Some(&str_value("async boom"))
        );
    }
}

// --- signatures kept ---------------------------------------------------------------

/// # Safety
/// None needed; checks that `unsafe fn` keeps working.
#[traced]
unsafe fn unsafe_fn(p: *const u8) -> u8 {
    // SAFETY: the caller passes a valid pointer.
    unsafe { *p }
}

#[traced]
#[must_use]
pub(crate) fn with_lifetimes<'a, 'b: 'a>(a: &'a str, b: &'b str) -> Vec<&'a str> {
    vec![a, b]
}

#[traced]
fn inner_attr(x: u8) -> u8 {
    #![allow(clippy::identity_op)]
    x + 0
}

#[traced]
fn unit_early_return(n: u8) {
    if n == 0 {
        return;
    }
    datapunk_log::info!(n, "not zero");
}

trait Greeter {
    fn prefix(&self) -> &str;

    #[traced]
    fn greet(&self, who: &str) -> String {
        format!("{} {who}", self.prefix())
    }

    async fn greet_later(&self, who: &str) -> String;
}

struct Wrapper<T>(T);

impl<T: fmt::Debug + Send + Sync> Greeter for Wrapper<T> {
    fn prefix(&self) -> &str {
        "hi"
    }

    #[traced]
    async fn greet_later(&self, who: &str) -> String {
        YieldOnce(false).await;
        self.greet(who)
    }
}

impl<T: fmt::Debug> Wrapper<T> {
    #[traced]
    fn replace(&mut self, value: T) -> T
    where
        T: Clone,
    {
        std::mem::replace(&mut self.0, value)
    }
}

fn assert_send<T: Send>(t: T) -> T {
    t
}

#[test]
fn traits_generic_impls_and_send_futures() {
    let _s = serial();
    let mut w = Wrapper(1u8);
    assert_eq!(w.replace(2), 1);
    assert_eq!(w.greet("bob"), "hi bob");
    // The future of a traced async fn is `Send` when the body's is.
    let fut = assert_send(w.greet_later("ann"));
    assert_eq!(block_on(fut), "hi ann");
    // `T: Debug` in the impl: recorded with Debug.
    assert_eq!(one("replace").field("value"), Some(&str_value("2")));
    let g = spans_named("greet");
    assert_eq!(g.len(), 2);
    let later = one("greet_later");
    assert_eq!(g[1].context.parent_span_id, later.context.span_id);
    assert_eq!(later.field("who"), Some(&str_value("ann")));
}

#[test]
fn signatures_are_kept() {
    let _s = serial();
    let x = 5u8;
    // SAFETY: a valid pointer.
    assert_eq!(unsafe { unsafe_fn(&x) }, 5);
    assert_eq!(with_lifetimes("a", "b"), ["a", "b"]);
    assert_eq!(inner_attr(3), 3);
    unit_early_return(0);
    unit_early_return(1);
    assert_eq!(one("unsafe_fn").field("p").map(|_| ()), Some(()));
    assert_eq!(one("with_lifetimes").field("b"), Some(&str_value("b")));
    assert_eq!(spans_named("unit_early_return").len(), 2);
}
