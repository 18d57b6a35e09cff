//! The OpenTelemetry configuration file drives the engine: what it sets
//! shows in the output, the precedence (builder > file > `OTEL_*`, which is
//! ignored; `DATAPUNK_LOG*` over both), a bad file fails `init()`, and the
//! file reloads (by call, on SIGHUP, by the watcher). Each scenario runs in
//! a child process of its own (one engine per process, its own
//! environment); the child checks and exits non-zero on failure.
#![cfg(all(feature = "config-file", unix))]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use datapunk_log::export::MemoryExporter;
use datapunk_log::sampler::{Sampler, Unsampled};
use datapunk_log::{InitError, Level, ReloadFileError};
use serde_json::Value;

const CHILD: &str = "DATAPUNK_CONFIG_FILE_TEST_CHILD";
const DIR: &str = "DATAPUNK_CONFIG_FILE_TEST_DIR";

fn out_path(dir: &Path) -> PathBuf {
    dir.join("out.jsonl")
}

fn cfg_path(dir: &Path) -> PathBuf {
    dir.join("otel.yaml")
}

/// A file with `body` under `distribution.datapunk_log`, after a sink
/// writing to `out.jsonl` in `dir`.
fn ext_file(dir: &Path, top: &str, body: &str) -> String {
    format!(
        "file_format: \"1.1\"\n{top}distribution:\n  datapunk_log:\n    sinks:\n      - file: {{ path: \"{}\", format: json }}\n{body}",
        out_path(dir).display()
    )
}

/// Writes the file through a rename, so a watcher never sees half of it.
fn write_cfg(dir: &Path, text: &str) {
    let tmp = dir.join("otel.yaml.tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, cfg_path(dir)).unwrap();
}

/// The JSON lines written so far.
fn lines(dir: &Path) -> Vec<Value> {
    datapunk_log::flush();
    std::fs::read_to_string(out_path(dir))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn with_message<'a>(lines: &'a [Value], m: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["message"] == m).collect()
}

fn config_warnings(lines: &[Value]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l["target"] == "datapunk_log::config" && l["level"] == "WARN")
        .map(|l| l["message"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Runs scenario `name` in a child with `env` (the engine's variables
/// cleared first); panics with its stderr when it fails.
fn run(name: &str, dir: &Path, env: &[(&str, &str)]) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env(CHILD, name)
        .env(DIR, dir)
        .stdin(Stdio::null());
    for (k, _) in std::env::vars() {
        if k.starts_with("DATAPUNK_LOG") || k.starts_with("OTEL_") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("child runs");
    assert!(
        out.status.success(),
        "scenario {name} failed: {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("scenario {name} ok")),
        "scenario {name} did not run"
    );
}

fn new_dir(name: &str) -> common::TempDir {
    let d = common::temp_path(name);
    std::fs::create_dir_all(&d).unwrap();
    common::TempDir(d)
}

#[test]
fn child_entry() {
    let Some(name) = std::env::var_os(CHILD) else {
        return;
    };
    let dir = PathBuf::from(std::env::var_os(DIR).expect("dir"));
    match name.to_str().unwrap() {
        "applies" => applies(&dir),
        "builder_wins" => builder_wins(&dir),
        "operator_env_wins" => operator_env_wins(&dir),
        "reload" => reload(&dir),
        "reload_pins" => reload_pins(&dir),
        "sighup" => sighup(&dir),
        "watch" => watch(&dir),
        other => panic!("unknown scenario {other}"),
    }
    println!("scenario {} ok", name.to_str().unwrap());
}

// ---------------------------------------------------------------------------
// What the file sets
// ---------------------------------------------------------------------------

const APPLIES_TOP: &str = "resource:
  attributes:
    - name: service.name
      value: from-file
    - name: deployment.environment.name
      value: staging
tracer_provider:
  processors:
    - simple: { exporter: { console: } }
  sampler:
    always_off:
meter_provider:
  readers: []
logger_provider:
  processors:
    - simple: { exporter: { console: } }
  logger_configurator/development:
    loggers:
      - name: app::noisy
        config: { minimum_severity: error }
";

const APPLIES_BODY: &str = "    filter: warn,app::db=debug
    ring: { capacity: 64KiB, max_record_bytes: 4KiB, overflow: drop }
    redaction:
      keys: [customer_email]
      patterns: { email: on }
    log_sampling:
      levels:
        debug: \"first=2,thereafter=0,period=1h\"
      unsampled: drop
";

fn applies(dir: &Path) {
    let exporter = MemoryExporter::new();
    let _g = datapunk_log::builder()
        .exporter(exporter.clone())
        // Reads nothing with a file in use: a bad OTEL_* value is no error.
        .otlp_if_configured()
        .expect("OTEL_* ignored with a file")
        .init()
        .expect("init with the file");
    // Sampler and log sampling from the file; OTEL_TRACES_SAMPLER ignored.
    assert_eq!(
        datapunk_log::sampler::current().sampler(),
        &Sampler::AlwaysOff
    );
    assert_eq!(datapunk_log::sampler::unsampled(), Unsampled::Drop);
    assert_eq!(datapunk_log::sampler::log_policy(Level::Debug).first, 2);
    for i in 0..5u64 {
        datapunk_log::debug!(target: "app::db", i, "db step");
    }
    datapunk_log::info!(target: "app", "hidden info");
    datapunk_log::warn!(
        target: "app",
        customer_email = "a@b.example",
        note = "write to bob@example.com",
        "visible warn"
    );
    datapunk_log::warn!(target: "app::noisy", "noisy warn");
    datapunk_log::error!(target: "app::noisy", "noisy error");
    let l = lines(dir);
    assert_eq!(with_message(&l, "db step").len(), 2, "log sampling: {l:#?}");
    assert!(with_message(&l, "hidden info").is_empty(), "filter warn");
    assert!(
        with_message(&l, "noisy warn").is_empty(),
        "logger minimum_severity"
    );
    assert_eq!(with_message(&l, "noisy error").len(), 1);
    let v = with_message(&l, "visible warn");
    assert_eq!(v.len(), 1);
    assert_eq!(v[0]["customer_email"], "[REDACTED]");
    let note = v[0]["note"].as_str().unwrap();
    assert!(!note.contains("bob@example.com"), "email pattern: {note}");
    // The skipped part becomes a WARN record.
    let w = config_warnings(&l);
    assert!(
        w.iter().any(|m| m.contains("meter_provider")),
        "warnings: {w:?}"
    );
    // The resource: the file's, not OTEL_SERVICE_NAME.
    datapunk_log::flush();
    let found = common::wait_until(Duration::from_secs(5), || !exporter.resource().is_empty());
    assert!(found, "no resource");
    let r = exporter.resource();
    let get = |k: &str| r.iter().find(|(n, _)| n == k).map(|(_, v)| v.to_string());
    assert_eq!(get("service.name").as_deref(), Some("from-file"), "{r:?}");
    assert_eq!(
        get("deployment.environment.name").as_deref(),
        Some("staging")
    );
    // The file sink is the only sink.
    let s = datapunk_log::sink_stats();
    assert_eq!(s.len(), 1);
    assert!(s[0].name.ends_with("out.jsonl"), "{}", s[0].name);
}

#[test]
fn the_file_sets_the_engine_and_wins_over_otel_variables() {
    let d = new_dir("cfg-applies");
    write_cfg(&d.0, &ext_file(&d.0, APPLIES_TOP, APPLIES_BODY));
    let cfg = cfg_path(&d.0);
    run(
        "applies",
        &d.0,
        &[
            ("OTEL_CONFIG_FILE", cfg.to_str().unwrap()),
            ("OTEL_TRACES_SAMPLER", "always_on"),
            ("OTEL_SERVICE_NAME", "from-env"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment.name=env",
            ),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "not-a-protocol"),
        ],
    );
}

// ---------------------------------------------------------------------------
// Precedence
// ---------------------------------------------------------------------------

fn builder_wins(dir: &Path) {
    let _g = datapunk_log::builder()
        .config_file(cfg_path(dir))
        .ignore_env()
        .filter("error")
        .redact_keys(["secret_a"])
        .unsampled_logs(Unsampled::Buffer)
        .init()
        .expect("init");
    datapunk_log::warn!(target: "app", "hidden warn");
    datapunk_log::error!(target: "app", secret_a = "a", secret_b = "b", "shown");
    assert_eq!(datapunk_log::sampler::unsampled(), Unsampled::Buffer);
    // The file's policy where the builder set none.
    assert_eq!(datapunk_log::sampler::log_policy(Level::Info).first, 7);
    let l = lines(dir);
    assert!(with_message(&l, "hidden warn").is_empty(), "{l:#?}");
    let s = with_message(&l, "shown");
    assert_eq!(s.len(), 1, "{l:#?}");
    assert_eq!(s[0]["secret_a"], "[REDACTED]");
    assert_eq!(
        s[0]["secret_b"], "b",
        "the builder's keys replace the file's"
    );
}

#[test]
fn the_builder_wins_over_the_file() {
    let d = new_dir("cfg-builder");
    write_cfg(
        &d.0,
        &ext_file(
            &d.0,
            "",
            "    filter: debug
    redaction: { keys: [secret_b] }
    log_sampling:
      below_error: { first: 7, thereafter: 0 }
      unsampled: drop
",
        ),
    );
    run("builder_wins", &d.0, &[]);
}

fn operator_env_wins(dir: &Path) {
    let _g = datapunk_log::builder().init().expect("init");
    datapunk_log::warn!(target: "app", "hidden warn");
    datapunk_log::error!(target: "app", "shown");
    assert_eq!(datapunk_log::sampler::unsampled(), Unsampled::Keep);
    let l = lines(dir);
    assert!(with_message(&l, "hidden warn").is_empty(), "{l:#?}");
    assert_eq!(with_message(&l, "shown").len(), 1);
}

#[test]
fn datapunk_log_variables_win_over_the_file() {
    let d = new_dir("cfg-operator");
    write_cfg(
        &d.0,
        &ext_file(
            &d.0,
            "",
            "    filter: debug\n    log_sampling: { unsampled: drop }\n",
        ),
    );
    let cfg = cfg_path(&d.0);
    run(
        "operator_env_wins",
        &d.0,
        &[
            ("OTEL_CONFIG_FILE", cfg.to_str().unwrap()),
            ("DATAPUNK_LOG", "error"),
            ("DATAPUNK_LOG_UNSAMPLED", "keep"),
        ],
    );
}

#[test]
fn a_bad_file_fails_init_naming_file_line_and_key() {
    // No engine is installed by a failed init: safe in the parent.
    let d = new_dir("cfg-bad");
    write_cfg(
        &d.0,
        "file_format: \"1.1\"\ndistribution:\n  datapunk_log:\n    ring:\n      capacity: lots\n",
    );
    let err = datapunk_log::builder()
        .config_file(cfg_path(&d.0))
        .ignore_env()
        .init()
        .expect_err("a bad file");
    let InitError::ConfigFile(e) = &err else {
        panic!("expected InitError::ConfigFile, got {err:?}");
    };
    assert_eq!(e.line(), Some(5));
    assert_eq!(e.key_path, "distribution.datapunk_log.ring.capacity");
    let text = err.to_string();
    assert!(
        text.contains(&cfg_path(&d.0).display().to_string()),
        "{text}"
    );
    assert!(text.contains(":5:"), "{text}");
    assert!(
        text.contains("distribution.datapunk_log.ring.capacity"),
        "{text}"
    );
    // A missing file too.
    let err = datapunk_log::builder()
        .config_file(d.0.join("missing.yaml"))
        .ignore_env()
        .init()
        .expect_err("a missing file");
    assert!(matches!(err, InitError::ConfigFile(_)), "{err:?}");
}

// ---------------------------------------------------------------------------
// Reload
// ---------------------------------------------------------------------------

fn reload(dir: &Path) {
    let _g = datapunk_log::builder()
        .config_file(cfg_path(dir))
        .ignore_env()
        .init()
        .expect("init");
    datapunk_log::debug!(target: "app", k1 = "x", k2 = "y", "before");
    datapunk_log::info!(target: "app", k1 = "x", k2 = "y", "before info");
    write_cfg(
        dir,
        &ext_file(
            dir,
            "",
            "    filter: debug\n    ring: { capacity: 128KiB }\n    redaction: { keys: [k2] }\n",
        ),
    );
    datapunk_log::reload_config_file().expect("reload");
    datapunk_log::debug!(target: "app", k1 = "x", k2 = "y", "after");
    // An invalid file: the configuration in force stays.
    write_cfg(
        dir,
        &ext_file(dir, "", "    filter: debug\n    ring: { capacity: lots }\n"),
    );
    let err = datapunk_log::reload_config_file().expect_err("invalid file");
    let ReloadFileError::File(e) = &err else {
        panic!("expected a file error, got {err:?}");
    };
    assert_eq!(e.key_path, "distribution.datapunk_log.ring.capacity");
    datapunk_log::debug!(target: "app", k1 = "x", k2 = "y", "still");
    let l = lines(dir);
    assert!(with_message(&l, "before").is_empty(), "{l:#?}");
    let b = with_message(&l, "before info");
    assert_eq!(b[0]["k1"], "[REDACTED]");
    assert_eq!(b[0]["k2"], "y");
    let a = with_message(&l, "after");
    assert_eq!(a.len(), 1, "{l:#?}");
    assert_eq!(a[0]["k1"], "x");
    assert_eq!(a[0]["k2"], "[REDACTED]");
    let s = with_message(&l, "still");
    assert_eq!(s.len(), 1, "old configuration kept: {l:#?}");
    assert_eq!(s[0]["k2"], "[REDACTED]");
    let w = config_warnings(&l);
    assert!(
        w.iter()
            .any(|m| m.contains("restart") && m.contains("distribution.datapunk_log.ring")),
        "{w:?}"
    );
    let bad: Vec<_> = w
        .iter()
        .filter(|m| m.contains("not reloaded") && m.contains("ring.capacity"))
        .collect();
    assert_eq!(bad.len(), 1, "{w:?}");
    assert!(bad[0].contains("otel.yaml:"), "{}", bad[0]);
}

#[test]
fn reload_applies_filter_and_redaction_and_keeps_the_old_on_a_bad_file() {
    let d = new_dir("cfg-reload");
    write_cfg(
        &d.0,
        &ext_file(
            &d.0,
            "",
            "    filter: info\n    redaction: { keys: [k1] }\n",
        ),
    );
    run("reload", &d.0, &[]);
}

fn reload_pins(dir: &Path) {
    let _g = datapunk_log::builder()
        .config_file(cfg_path(dir))
        .unsampled_logs(Unsampled::Buffer)
        .init()
        .expect("init");
    assert_eq!(datapunk_log::sampler::unsampled(), Unsampled::Buffer);
    assert_eq!(datapunk_log::sampler::log_policy(Level::Info).first, 3);
    datapunk_log::info!(target: "app", "hidden info 1");
    datapunk_log::error!(target: "app", k1 = "x", k2 = "y", mail = "ann@example.com", "one");
    write_cfg(
        dir,
        &ext_file(
            dir,
            "",
            "    filter: trace
    redaction: { keys: [k2] }
    log_sampling:
      levels: { info: \"first=5,thereafter=0,period=1h\" }
      unsampled: keep
",
        ),
    );
    datapunk_log::reload_config_file().expect("reload");
    // The builder's setting stays; the file's own settings follow the file.
    assert_eq!(datapunk_log::sampler::unsampled(), Unsampled::Buffer);
    assert_eq!(datapunk_log::sampler::log_policy(Level::Info).first, 5);
    datapunk_log::info!(target: "app", "hidden info 2");
    datapunk_log::error!(target: "app", k1 = "x", k2 = "y", mail = "ann@example.com", "two");
    let l = lines(dir);
    // DATAPUNK_LOG=warn stays over the file's `trace`.
    assert!(with_message(&l, "hidden info 1").is_empty(), "{l:#?}");
    assert!(with_message(&l, "hidden info 2").is_empty(), "{l:#?}");
    let one = with_message(&l, "one");
    let two = with_message(&l, "two");
    assert_eq!((one.len(), two.len()), (1, 1), "{l:#?}");
    assert_eq!(
        (&one[0]["k1"], &one[0]["k2"]),
        (&"[REDACTED]".into(), &"y".into())
    );
    assert_eq!(
        (&two[0]["k1"], &two[0]["k2"]),
        (&"x".into(), &"[REDACTED]".into())
    );
    // DATAPUNK_LOG_REDACT=email applies over the file's redaction, before
    // and after the reload.
    for r in [one[0], two[0]] {
        let mail = r["mail"].as_str().expect("a string");
        assert!(!mail.contains("ann@example.com"), "{r}");
    }
}

#[test]
fn a_file_reload_leaves_what_the_operator_and_the_builder_decided() {
    let d = new_dir("cfg-reload-pins");
    write_cfg(
        &d.0,
        &ext_file(
            &d.0,
            "",
            "    filter: debug
    redaction: { keys: [k1] }
    log_sampling:
      levels: { info: \"first=3,thereafter=0,period=1h\" }
      unsampled: drop
",
        ),
    );
    let cfg = cfg_path(&d.0);
    run(
        "reload_pins",
        &d.0,
        &[
            ("OTEL_CONFIG_FILE", cfg.to_str().unwrap()),
            ("DATAPUNK_LOG", "warn"),
            ("DATAPUNK_LOG_REDACT", "email"),
        ],
    );
}

/// Logs a DEBUG probe until it comes out (the reload turned DEBUG on),
/// for at most 10 s.
fn debug_comes_out(dir: &Path) -> bool {
    common::wait_until(Duration::from_secs(10), || {
        datapunk_log::debug!(target: "app", "probe");
        !with_message(&lines(dir), "probe").is_empty()
    })
}

fn sighup(dir: &Path) {
    let _g = datapunk_log::builder()
        .config_file(cfg_path(dir))
        .ignore_env()
        .reopen_on_sighup(true)
        .reload_on_sighup(true)
        .init()
        .expect("init");
    datapunk_log::debug!(target: "app", "probe");
    assert!(with_message(&lines(dir), "probe").is_empty());
    write_cfg(dir, &ext_file(dir, "", "    filter: debug\n"));
    let reopened = datapunk_log::__private::reopen_generation();
    // SAFETY: raising a signal the engine handles (SIGHUP: signal-hook's
    // handler writes to a pipe) has no memory-safety requirements.
    assert_eq!(unsafe { libc::raise(libc::SIGHUP) }, 0);
    assert!(debug_comes_out(dir), "SIGHUP did not reload");
    // And the same signal reopened the file sinks.
    assert!(datapunk_log::__private::reopen_generation() > reopened);
}

#[test]
fn sighup_reloads_the_file_and_still_reopens() {
    let d = new_dir("cfg-sighup");
    write_cfg(&d.0, &ext_file(&d.0, "", "    filter: info\n"));
    run("sighup", &d.0, &[]);
}

fn watch(dir: &Path) {
    let _g = datapunk_log::builder()
        .config_file(cfg_path(dir))
        .ignore_env()
        .watch_config_file(Duration::from_millis(20))
        .init()
        .expect("init");
    datapunk_log::debug!(target: "app", "probe");
    assert!(with_message(&lines(dir), "probe").is_empty());
    // A different size: seen even where mtimes are coarse.
    write_cfg(dir, &ext_file(dir, "", "    filter: debug,app=trace\n"));
    assert!(debug_comes_out(dir), "the watcher did not reload");
}

#[test]
fn the_watcher_reloads_a_changed_file() {
    let d = new_dir("cfg-watch");
    write_cfg(&d.0, &ext_file(&d.0, "", "    filter: info\n"));
    run("watch", &d.0, &[]);
}
