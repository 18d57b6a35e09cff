//! OpenTelemetry's own configuration files (tests/data/otel-config, copied
//! from open-telemetry/opentelemetry-configuration) start the engine: each
//! example and snippet is given to `init()` in a child process (one engine
//! per process), which must come up, write a record and shut down. What the
//! engine does not implement is skipped with WARN records, never an error.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const CHILD: &str = "DATAPUNK_EXAMPLE_FILE";
const OUT: &str = "DATAPUNK_EXAMPLE_OUT";

fn data(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/otel-config")
        .join(dir)
}

#[test]
fn child_entry() {
    let (Some(file), Some(out)) = (std::env::var_os(CHILD), std::env::var_os(OUT)) else {
        return;
    };
    let guard = datapunk_log::builder()
        .config_file(PathBuf::from(file))
        // The builder's sink wins over the file's: the record goes here.
        .json_file(PathBuf::from(out))
        // A collector that is not there must not hold the shutdown up.
        .shutdown_timeout(std::time::Duration::from_secs(2))
        .init()
        .unwrap_or_else(|e| panic!("init: {e}"));
    datapunk_log::warn!(target: "example", "started");
    drop(guard);
    println!("example ok");
}

#[test]
fn every_example_and_snippet_starts_the_engine() {
    let dir = std::env::temp_dir().join(format!("dp-otel-examples-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut n = 0;
    for sub in ["examples", "snippets"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(data(sub))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
            .collect();
        files.sort();
        for file in files {
            let out = dir.join(format!("{n}.jsonl"));
            let mut cmd = Command::new(std::env::current_exe().unwrap());
            cmd.args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
                .env(CHILD, &file)
                .env(OUT, &out)
                .stdin(Stdio::null());
            for (k, _) in std::env::vars() {
                if k.starts_with("DATAPUNK_LOG") || k.starts_with("OTEL_") {
                    cmd.env_remove(k);
                }
            }
            let o = cmd.output().expect("child runs");
            assert!(
                o.status.success() && String::from_utf8_lossy(&o.stdout).contains("example ok"),
                "{} does not start the engine: {:?}\n{}\n{}",
                file.display(),
                o.status,
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            let text = std::fs::read_to_string(&out).unwrap();
            let started = text
                .lines()
                .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a JSON line"))
                .filter(|v| v["target"] == "example" && v["message"] == "started")
                .count();
            // Some snippets' filters turn WARN off (a `logger_configurator`
            // with a higher minimum severity): then no line, but the engine ran.
            assert!(started <= 1, "{}: {text}", file.display());
            n += 1;
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(n >= 35, "only {n} files");
}
