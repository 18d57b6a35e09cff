//! Helpers shared by the integration tests: a strict reader for the engine's
//! JSON lines (key order, duplicate keys, raw number text), timestamp parsing,
//! bounded polling and temp paths, engine setup (one engine per test binary),
//! and a sink that can be made to fail.
//!
//! Each test binary compiles this module on its own and uses only part of it.
#![allow(dead_code)]

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use datapunk_log::{Builder, Guard, MemorySink, Sink};
use serde_json::Value;

/// One output line: the parsed value plus its top-level keys in output order
/// with the raw JSON text of each value.
#[derive(Debug, Clone)]
pub struct Line {
    pub raw: String,
    pub value: Value,
    pub pairs: Vec<(String, String)>,
}

impl Line {
    /// The value of `key`; panics (naming the line) when absent.
    pub fn get(&self, key: &str) -> &Value {
        self.value
            .get(key)
            .unwrap_or_else(|| panic!("key {key:?} missing in {}", self.raw))
    }

    /// The value of `key` as a string; panics when absent or not a string.
    pub fn str(&self, key: &str) -> &str {
        self.get(key)
            .as_str()
            .unwrap_or_else(|| panic!("key {key:?} is not a string in {}", self.raw))
    }

    /// The value of `key` as a u64; panics when absent or not a u64.
    pub fn u64(&self, key: &str) -> u64 {
        self.get(key)
            .as_u64()
            .unwrap_or_else(|| panic!("key {key:?} is not a u64 in {}", self.raw))
    }

    /// Whether the line has `key`.
    pub fn has(&self, key: &str) -> bool {
        self.value.get(key).is_some()
    }

    /// The raw JSON text of the value of `key`.
    pub fn raw_value(&self, key: &str) -> &str {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("key {key:?} missing in {}", self.raw))
    }

    /// The keys in output order.
    pub fn keys(&self) -> Vec<&str> {
        self.pairs.iter().map(|(k, _)| k.as_str()).collect()
    }

    /// The message.
    pub fn message(&self) -> &str {
        self.str("message")
    }

    /// The target.
    pub fn target(&self) -> &str {
        self.str("target")
    }

    /// The timestamp as Unix nanoseconds (checked to be RFC 3339 UTC with
    /// nine fractional digits).
    pub fn timestamp_nanos(&self) -> u64 {
        parse_timestamp(self.str("timestamp"))
    }
}

/// Parses one line strictly: valid JSON, a top-level object, no duplicate
/// keys. Panics with the line on any violation.
pub fn parse_line(raw: &str) -> Line {
    let value: Value =
        serde_json::from_str(raw).unwrap_or_else(|e| panic!("invalid JSON line ({e}): {raw:?}"));
    assert!(value.is_object(), "line is not an object: {raw}");
    let pairs = scan_object(raw);
    let mut seen = std::collections::HashSet::new();
    for (k, _) in &pairs {
        assert!(seen.insert(k.clone()), "duplicate key {k:?} in {raw}");
    }
    assert_eq!(
        pairs.len(),
        value.as_object().unwrap().len(),
        "scanner and serde_json disagree on {raw}"
    );
    Line {
        raw: raw.to_owned(),
        value,
        pairs,
    }
}

/// Parses every line of a byte buffer (which must be valid UTF-8, every line
/// terminated by '\n').
pub fn parse_bytes(bytes: &[u8]) -> Vec<Line> {
    let text = std::str::from_utf8(bytes).expect("output is valid UTF-8");
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "output does not end with a newline"
    );
    text.lines().map(parse_line).collect()
}

/// Parses every line the sink holds.
pub fn lines_of(sink: &MemorySink) -> Vec<Line> {
    parse_bytes(&sink.contents())
}

/// Flushes, then returns the lines whose `key` is the string `value`, in
/// output order.
pub fn lines_where(sink: &MemorySink, key: &str, value: &str) -> Vec<Line> {
    datapunk_log::flush();
    lines_of(sink)
        .into_iter()
        .filter(|l| l.value[key] == value)
        .collect()
}

/// Flushes, then returns the lines with this target, in output order.
pub fn lines_for(sink: &MemorySink, target: &str) -> Vec<Line> {
    lines_where(sink, "target", target)
}

/// Flushes, then returns the one line with this target (panics unless there
/// is exactly one).
pub fn single(sink: &MemorySink, target: &str) -> Line {
    let mut lines = lines_for(sink, target);
    assert_eq!(lines.len(), 1, "expected one line for {target}: {lines:?}");
    lines.pop().unwrap()
}

/// The `seq` values of the lines of thread `t` (their `t` field), in output
/// order.
pub fn seqs_of<'a>(lines: impl IntoIterator<Item = &'a Line>, t: u64) -> Vec<u64> {
    lines
        .into_iter()
        .filter(|l| l.u64("t") == t)
        .map(|l| l.u64("seq"))
        .collect()
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// End (exclusive) of the string token starting at `i` (which is `"`).
fn string_end(b: &[u8], mut i: usize) -> usize {
    assert_eq!(b[i], b'"');
    i += 1;
    while b[i] != b'"' {
        if b[i] == b'\\' {
            i += 1;
        }
        i += 1;
    }
    i + 1
}

/// End (exclusive) of the value token starting at `i`.
fn value_end(b: &[u8], i: usize) -> usize {
    match b[i] {
        b'"' => string_end(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match b[j] {
                    b'"' => {
                        j = string_end(b, j);
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return j + 1;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b'}' | b' ' | b'\t' | b'\n' | b'\r') {
                j += 1;
            }
            j
        }
    }
}

/// The top-level keys (decoded) with raw value text, in order. The input is
/// already known to be a valid JSON object.
fn scan_object(s: &str) -> Vec<(String, String)> {
    let b = s.as_bytes();
    let mut i = skip_ws(b, 0);
    assert_eq!(b[i], b'{');
    i = skip_ws(b, i + 1);
    let mut out = Vec::new();
    if b[i] == b'}' {
        return out;
    }
    loop {
        let kend = string_end(b, i);
        let key: String = serde_json::from_str(&s[i..kend]).expect("key decodes");
        i = skip_ws(b, kend);
        assert_eq!(b[i], b':');
        i = skip_ws(b, i + 1);
        let vend = value_end(b, i);
        out.push((key, s[i..vend].to_owned()));
        i = skip_ws(b, vend);
        match b[i] {
            b',' => i = skip_ws(b, i + 1),
            b'}' => return out,
            c => panic!("unexpected byte {c:?} in {s}"),
        }
    }
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's days_from_civil).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ` (exactly this shape) into Unix
/// nanoseconds; panics on any other shape.
pub fn parse_timestamp(ts: &str) -> u64 {
    let b = ts.as_bytes();
    assert_eq!(b.len(), 30, "timestamp {ts:?} has the wrong length");
    let digits = |r: std::ops::Range<usize>| -> i64 {
        let part = &ts[r];
        assert!(
            part.bytes().all(|c| c.is_ascii_digit()),
            "timestamp {ts:?}: {part:?} is not digits"
        );
        part.parse().unwrap()
    };
    for (at, sep) in [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
        (29, b'Z'),
    ] {
        assert_eq!(
            b[at], sep,
            "timestamp {ts:?}: expected {:?} at {at}",
            sep as char
        );
    }
    let (y, mo, d) = (digits(0..4), digits(5..7), digits(8..10));
    let (h, mi, s) = (digits(11..13), digits(14..16), digits(17..19));
    let frac = digits(20..29);
    assert!((1..=12).contains(&mo), "month in {ts:?}");
    assert!((1..=31).contains(&d), "day in {ts:?}");
    assert!(h < 24 && mi < 60 && s < 60, "time of day in {ts:?}");
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + h * 3600 + mi * 60 + s;
    assert!(secs >= 0);
    secs as u64 * 1_000_000_000 + frac as u64
}

/// Unix nanoseconds now.
pub fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// Polls `cond` until it holds or `limit` passes; returns whether it held.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A fresh path under the temp dir, unique to this process and call.
pub fn temp_path(name: &str) -> std::path::PathBuf {
    use std::sync::atomic::AtomicU64;
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!(
        "datapunk-log-test-{}-{}-{}-{n}",
        name,
        std::process::id(),
        now_nanos()
    ))
}

/// Removes a directory tree when dropped.
pub struct TempDir(pub std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Installs the process's engine with a new memory sink: `builder` gets the
/// sink, then `configure`'s options, and ignores the environment. `builder` is
/// a fresh `datapunk_log::builder()`, or one with other sinks added first.
pub fn memory_engine_on(
    builder: Builder,
    configure: impl FnOnce(Builder) -> Builder,
) -> (MemorySink, Guard) {
    let sink = MemorySink::new();
    let guard = configure(builder.memory(&sink))
        .ignore_env()
        .init()
        .expect("init");
    (sink, guard)
}

/// [`memory_engine_on`] a fresh builder.
pub fn memory_engine(configure: impl FnOnce(Builder) -> Builder) -> (MemorySink, Guard) {
    memory_engine_on(datapunk_log::builder(), configure)
}

/// The memory sink of the engine the tests of this binary share (one engine
/// per process), installed by the first call with `configure`'s options; the
/// engine stays up for the rest of the process.
pub fn shared_sink(configure: fn(Builder) -> Builder) -> &'static MemorySink {
    static ENGINE: OnceLock<(MemorySink, Guard)> = OnceLock::new();
    &ENGINE.get_or_init(|| memory_engine(configure)).0
}

/// The sink and span exporter of the engine the tests of this binary share.
pub struct SharedEngine {
    pub sink: MemorySink,
    pub exporter: datapunk_log::export::MemoryExporter,
    _guard: Guard,
}

impl SharedEngine {
    /// The first exported log record of `target`.
    pub fn exported_log(&self, target: &str) -> datapunk_log::export::OwnedLog {
        self.exporter
            .logs()
            .into_iter()
            .find(|l| l.target == target)
            .unwrap_or_else(|| panic!("no exported log record of target {target:?}"))
    }

    /// The first exported span named `name`.
    pub fn exported_span(&self, name: &str) -> datapunk_log::export::OwnedSpan {
        self.exporter
            .spans()
            .into_iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no exported span named {name:?}"))
    }
}

/// The engine the tests of this binary share, with a memory sink and a
/// memory exporter, installed by the first call with `configure`'s options
/// (applied after the exporter); it stays up for the rest of the process.
/// A binary uses this or [`shared_sink`], not both (one engine per process).
pub fn shared_with_exporter(configure: fn(Builder) -> Builder) -> &'static SharedEngine {
    static ENGINE: OnceLock<SharedEngine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let exporter = datapunk_log::export::MemoryExporter::new();
        let (sink, guard) = memory_engine(|b| configure(b.exporter(exporter.clone())));
        SharedEngine {
            sink,
            exporter,
            _guard: guard,
        }
    })
}

/// Serializes the tests that compare global counters.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Spawns `threads` threads named `{prefix}-{t}`, each running `body(t)`, and
/// joins them all.
pub fn run_named_threads(prefix: &str, threads: u64, body: fn(u64)) {
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            std::thread::Builder::new()
                .name(format!("{prefix}-{t}"))
                .spawn(move || body(t))
                .unwrap()
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

/// A sink that fails every write with "broken pipe" while `failing` is set,
/// and otherwise appends what it gets to `out`.
#[derive(Clone, Default)]
pub struct FailingSink {
    pub failing: Arc<AtomicBool>,
    pub out: Arc<Mutex<Vec<u8>>>,
}

impl Sink for FailingSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(io::Error::other("broken pipe"));
        }
        self.out.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Target of the record [`second_ring`] logs; tests that count lines skip it.
pub const HOLD_TARGET: &str = "common.hold";

/// Registers a second thread's ring that stays alive for the rest of the
/// process. The writer holds records back for its ordering window only when
/// records of several threads can interleave: with one live ring nothing is
/// held. Tests that rely on the window to keep records out of the sinks until
/// a flush call this first. It logs one record under [`HOLD_TARGET`].
#[allow(dead_code)]
pub fn second_ring() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("second-ring".into())
            .spawn(move || {
                datapunk_log::info!(target: "common.hold", "second ring");
                tx.send(()).expect("test thread waits");
                loop {
                    std::thread::park();
                }
            })
            .expect("spawn");
        rx.recv().expect("second ring registered");
        // Its record goes out now, so later checks see only theirs held back.
        datapunk_log::flush();
    });
}
