//! The default sink is standard output, and `.stderr()` writes to standard
//! error. Each case runs this test binary again as a child process (one
//! engine per process) and parses what the child printed.

mod common;

use std::process::Command;

const CHILD_ENV: &str = "DATAPUNK_LOG_TEST_CHILD";

/// Runs only inside the child processes started below.
#[test]
fn child() {
    let Ok(mode) = std::env::var(CHILD_ENV) else {
        return;
    };
    let builder = datapunk_log::builder().ignore_env();
    let builder = match mode.as_str() {
        "default" => builder,
        "stderr" => builder.stderr(),
        "both" => builder.stdout().stderr(),
        m => panic!("unknown mode {m}"),
    };
    let guard = builder.init().expect("init");
    for i in 0..5u64 {
        datapunk_log::info!(target: "stdio", i, mode = mode.as_str(), "to {}", mode);
    }
    drop(guard);
}

/// JSON lines of our records in a child's output stream (libtest's own
/// lines are skipped; a record may follow libtest text on the same line).
fn records(stream: &[u8]) -> Vec<common::Line> {
    let text = String::from_utf8_lossy(stream);
    text.lines()
        .filter_map(|l| l.find("{\"timestamp\"").map(|at| &l[at..]))
        .map(common::parse_line)
        .collect()
}

fn run_child(mode: &str) -> (Vec<common::Line>, Vec<common::Line>) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, mode)
        .env_remove("DATAPUNK_LOG")
        .output()
        .expect("run child");
    assert!(
        out.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (records(&out.stdout), records(&out.stderr))
}

fn check(lines: &[common::Line], mode: &str) {
    let got: Vec<u64> = lines.iter().map(|l| l.u64("i")).collect();
    assert_eq!(got, [0, 1, 2, 3, 4], "{mode}");
    for l in lines {
        assert_eq!(l.target(), "stdio");
        assert_eq!(l.str("mode"), mode);
        assert_eq!(l.message(), format!("to {mode}"));
    }
}

#[test]
fn default_sink_is_stdout() {
    let (out, err) = run_child("default");
    check(&out, "default");
    assert!(err.is_empty());
}

#[test]
fn stderr_sink() {
    let (out, err) = run_child("stderr");
    assert!(out.is_empty());
    check(&err, "stderr");
}

#[test]
fn stdout_and_stderr_together() {
    let (out, err) = run_child("both");
    check(&out, "both");
    check(&err, "both");
}
