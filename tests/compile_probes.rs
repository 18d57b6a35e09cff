//! Macro forms that must (or must not) compile, checked by compiling small
//! snippets against the freshly built library with `rustc --emit=metadata`.
//!
//! A form that fails to compile cannot be tested in an ordinary test file
//! without breaking the build of the whole suite, hence this harness.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The directory holding this test binary and the library's rlib.
fn deps_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    exe.parent().expect("deps dir").to_path_buf()
}

/// The newest `libdatapunk_log-*.rlib` next to this binary.
fn library_rlib(deps: &Path) -> PathBuf {
    std::fs::read_dir(deps)
        .expect("read deps dir")
        .filter_map(|e| e.ok())
        .filter(|e| {
            let n = e.file_name();
            let n = n.to_string_lossy();
            n.starts_with("libdatapunk_log-") && n.ends_with(".rlib")
        })
        .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())
        .map(|e| e.path())
        .expect("libdatapunk_log rlib next to the test binary")
}

/// The rustc of the toolchain that built this test.
fn rustc() -> PathBuf {
    if let Ok(r) = std::env::var("RUSTC") {
        return r.into();
    }
    let cargo = PathBuf::from(env!("CARGO"));
    let sibling = cargo.with_file_name(format!("rustc{}", std::env::consts::EXE_SUFFIX));
    if sibling.exists() {
        sibling
    } else {
        "rustc".into()
    }
}

/// Type-checks `body` inside a function of a library crate that depends on
/// datapunk_log; returns rustc's stderr on failure.
fn check(name: &str, body: &str) -> Result<(), String> {
    let deps = deps_dir();
    let rlib = library_rlib(&deps);
    let dir = std::env::temp_dir().join(format!(
        "datapunk-log-probe-{}-{name}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("probe.rs");
    std::fs::write(
        &src,
        format!("#![allow(unused)]\npub fn probe() {{\n{body}\n}}\n"),
    )
    .unwrap();
    let out = Command::new(rustc())
        .args(["--edition", "2024", "--crate-type", "lib", "--crate-name"])
        .arg(format!("probe_{name}"))
        .arg("--emit=metadata")
        .arg("-o")
        .arg(dir.join("probe.rmeta"))
        .arg("-L")
        .arg(format!("dependency={}", deps.display()))
        .arg("--extern")
        .arg(format!("datapunk_log={}", rlib.display()))
        .arg(&src)
        .output()
        .expect("run rustc");
    let _ = std::fs::remove_dir_all(&dir);
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn fields(n: usize) -> String {
    (0..n)
        .map(|i| format!("f{i} = {i}u32"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[test]
fn harness_accepts_valid_and_rejects_invalid_code() {
    // Guards the harness itself: a passing probe must mean "compiles".
    check("sanity_ok", r#"datapunk_log::info!(a = 1, "ok");"#).unwrap();
    let err = check("sanity_err", "let x: u32 = \"not a number\";").unwrap_err();
    assert!(err.contains("mismatched types"), "{err}");
}

#[test]
fn documented_maximum_of_64_fields_compiles() {
    assert_eq!(datapunk_log::__private::MAX_FIELDS, 64);
    let body = format!(r#"datapunk_log::info!({}, "sixty-four");"#, fields(64));
    if let Err(e) = check("fields64", &body) {
        panic!("a call with MAX_FIELDS (64) fields does not compile:\n{e}");
    }
    let body = format!(r#"datapunk_log::warn!(target: "t", {});"#, fields(64));
    if let Err(e) = check("fields64_no_msg", &body) {
        panic!("a call with 64 fields and no message does not compile:\n{e}");
    }
}

#[test]
fn more_than_64_fields_is_rejected_with_a_clear_error() {
    let body = format!(r#"datapunk_log::info!({}, "too many");"#, fields(65));
    let err = check("fields65", &body).expect_err("65 fields must not compile");
    assert!(
        err.contains("too many fields in one log call") || err.contains("recursion limit"),
        "{err}"
    );
}

#[test]
fn message_with_inline_captures_only_compiles() {
    // `info!("... {x}")`: a literal message whose format arguments are all
    // inline captures, with and without fields before it.
    for (name, body) in [
        ("capture", r#"let x = 5; datapunk_log::info!("x is {x}");"#),
        (
            "capture_debug",
            r#"let v = vec![1]; datapunk_log::info!("v is {v:?}");"#,
        ),
        (
            "capture_fields",
            r#"let x = 5; datapunk_log::info!(a = 1, "x is {x}");"#,
        ),
        (
            "capture_target",
            r#"let x = 5; datapunk_log::warn!(target: "t", "x is {x:>4}");"#,
        ),
    ] {
        if let Err(e) = check(name, body) {
            panic!("`{body}` does not compile:\n{e}");
        }
    }
}

#[test]
fn every_supported_form_compiles() {
    let body = r#"
        use datapunk_log::{Level, log, trace, debug, info, warn, error};
        let (a, b) = (1u8, "s");
        struct S { f: u32 }
        let s = S { f: 1 };
        trace!(a); debug!(a, b); info!(%a); warn!(?b); error!(s.f);
        info!(a = 1, b = %2, c = ?3, d.e = 4, %s.f, ?s.f,);
        info!("m"); info!("m",); info!("m {}", 1); info!("m {}", 1,);
        info!("{{}}"); info!(a, "m {} {}", 1, 2);
        log!(Level::Info, target: "t"); log!(Level::Info, target: "t",);
        log!(Level::Info, target: "t", a, "m");
        const L: Level = Level::Warn;
        log!(L, "m");
        let e = std::io::Error::other("x");
        error!(error = e, "failed");
        let d: &dyn std::error::Error = &e;
        error!(error = d);
        info!(o = Some(1u8), n = None::<u8>, bytes = &b"x"[..], v = vec![1u8]);
    "#;
    if let Err(e) = check("forms", body) {
        panic!("supported forms do not compile:\n{e}");
    }
}

#[test]
fn runtime_level_is_rejected() {
    let err = check(
        "runtime_level",
        r#"let l = datapunk_log::Level::Info; datapunk_log::log!(l, "x");"#,
    )
    .expect_err("a runtime level must not compile");
    assert!(err.contains("error"), "{err}");
}
