//! The console format end to end, in child processes (this binary re-run)
//! whose stderr is a pseudo-terminal or a pipe: `Format::Auto` picks the
//! console format on a terminal and JSON on a pipe; colours follow the
//! terminal, `NO_COLOR`, `CLICOLOR_FORCE` and `TERM=dumb`; hostile values
//! (newlines, ANSI escapes, bidi controls, quotes) come out escaped, one
//! record per line, and unescape back to what was logged.
#![cfg(unix)]

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::{Command, Stdio};

const CHILD_ENV: &str = "DATAPUNK_CONSOLE_TEST_CHILD";
const HOSTILE: &str = "line\nforged \u{1b}[2J\u{1b}]0;title\u{7} \u{202e}rtl \"q\" \\ end";

fn child() -> ! {
    let guard = datapunk_log::builder().stderr().init().expect("init");
    datapunk_log::info!(n = 42u64, word = "plain", text = HOSTILE, "first {}", 1);
    let e = std::io::Error::other("boom\nforged line");
    let span = datapunk_log::span!("work");
    let entered = span.enter();
    datapunk_log::error!(err = &e as &dyn std::error::Error, "failed \u{1b}[31m");
    drop(entered);
    drop(span);
    drop(guard);
    std::process::exit(0);
}

/// Runs the child with stderr on `stderr` and the given environment
/// (the colour variables are cleared first); returns its stderr bytes.
fn run(stderr: Target, env: &[(&str, &str)]) -> Vec<u8> {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .stdout(Stdio::null())
        .stdin(Stdio::null());
    for k in [
        "NO_COLOR",
        "CLICOLOR",
        "CLICOLOR_FORCE",
        "TERM",
        "DATAPUNK_LOG_FORMAT",
        "DATAPUNK_LOG",
    ] {
        cmd.env_remove(k);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    match stderr {
        Target::Pipe => {
            let out = cmd.stderr(Stdio::piped()).output().expect("child runs");
            assert!(out.status.success(), "child failed: {:?}", out.status);
            out.stderr
        }
        Target::Pty => {
            let (master, slave) = open_pty();
            cmd.stderr(Stdio::from(slave));
            let mut child = cmd.spawn().expect("child runs");
            // Drop our copy of the slave (moved into the command): reads on
            // the master end with EIO once the child has closed its end.
            drop(cmd);
            let mut master = std::fs::File::from(master);
            // The output is small (well under the pty's buffer), but read
            // on a thread anyway so a full buffer could never block the child.
            let reader = std::thread::spawn(move || {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    match master.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                buf
            });
            let status = child.wait().expect("child exits");
            assert!(status.success(), "child failed: {status:?}");
            let out = reader.join().expect("reader");
            // The terminal turns `\n` into `\r\n`.
            let mut clean = Vec::with_capacity(out.len());
            for (i, &b) in out.iter().enumerate() {
                if !(b == b'\r' && out.get(i + 1) == Some(&b'\n')) {
                    clean.push(b);
                }
            }
            clean
        }
    }
}

#[derive(Clone, Copy)]
enum Target {
    Pipe,
    Pty,
}

/// A pseudo-terminal pair: (master, slave).
fn open_pty() -> (OwnedFd, OwnedFd) {
    // SAFETY: posix_openpt returns a new descriptor or -1; checked.
    let m = unsafe { libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY) };
    assert!(m >= 0, "posix_openpt failed");
    // SAFETY: `m` is a descriptor we own from here on.
    let master = unsafe { OwnedFd::from_raw_fd(m) };
    // SAFETY: grantpt/unlockpt take the master descriptor; results checked.
    unsafe {
        assert_eq!(libc::grantpt(master.as_raw_fd()), 0);
        assert_eq!(libc::unlockpt(master.as_raw_fd()), 0);
    }
    let mut name = [0 as libc::c_char; 128];
    // SAFETY: the buffer and its length are valid; the result is checked.
    let r = unsafe { libc::ptsname_r(master.as_raw_fd(), name.as_mut_ptr(), name.len()) };
    assert_eq!(r, 0, "ptsname_r failed");
    // SAFETY: ptsname_r wrote a NUL-terminated path into `name`.
    let path = unsafe { std::ffi::CStr::from_ptr(name.as_ptr()) }
        .to_str()
        .unwrap()
        .to_string();
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .expect("open the pty's slave");
    (master, OwnedFd::from(slave))
}

/// Removes the SGR colour sequences (`ESC [ digits ; m`) the format writes;
/// any other escape byte is left in place (and fails the checks below).
fn strip_sgr(s: &str) -> (String, usize) {
    let re = regex::Regex::new(r"\x1b\[[0-9;]*m").unwrap();
    let n = re.find_iter(s).count();
    (re.replace_all(s, "").into_owned(), n)
}

/// Undoes the console format's escaping of one quoted or bare value.
fn unescape(v: &str) -> String {
    datapunk_log::__fuzz::console_unescape(v).unwrap_or_else(|| panic!("not an escaped value: {v}"))
}

/// `key=value` pairs of a console line after its message, quote-aware.
fn fields(line: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() {
        // A key starts after a space and runs to `=`.
        let Some(eq) = line[i..].find('=').map(|e| i + e) else {
            break;
        };
        let key_start = line[..eq].rfind(' ').map_or(0, |s| s + 1);
        let key = &line[key_start..eq];
        let mut j = eq + 1;
        if b.get(j) == Some(&b'"') {
            j += 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            j += 1;
        } else {
            while j < b.len() && b[j] != b' ' {
                j += 1;
            }
        }
        out.push((key.to_string(), line[eq + 1..j.min(b.len())].to_string()));
        i = j;
    }
    out
}

fn get<'a>(f: &'a [(String, String)], k: &str) -> &'a str {
    f.iter()
        .find(|(key, _)| key == k)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no field {k} in {f:?}"))
}

/// Checks the child's console output: three lines (the info record, the
/// error record, its exception) and no control byte but the newlines.
fn check_console(text: &str) {
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        text.bytes().all(|b| b == b'\n' || b >= 0x20 && b != 0x7f),
        "a control byte in {text:?}"
    );
    assert!(!text.contains('\u{202e}'), "a bidi control in {text:?}");
    assert_eq!(lines.len(), 3, "{text:?}");
    let info = lines[0];
    let (time, rest) = info.split_once(' ').unwrap();
    assert!(time.ends_with('Z') && time.len() == 27, "time {time}");
    let rest = rest.trim_start();
    assert!(rest.starts_with("INFO console_format: first 1 "), "{rest}");
    let f = fields(rest);
    assert_eq!(get(&f, "n"), "42");
    assert_eq!(get(&f, "word"), "plain");
    assert_eq!(unescape(get(&f, "text")), HOSTILE);
    let error = lines[1];
    let rest = error.split_once(' ').unwrap().1;
    assert!(
        rest.starts_with("ERROR console_format: failed \\u{1b}[31m"),
        "{rest}"
    );
    let f = fields(rest);
    let trace = get(&f, "trace");
    assert_eq!(trace.len(), 8);
    assert!(trace.bytes().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(get(&f, "span").len(), 8);
    assert_eq!(lines[2], "    error: Custom: boom\\nforged line");
}

#[test]
fn child_entry() {
    if std::env::var_os(CHILD_ENV).is_some() {
        child();
    }
}

#[test]
fn terminal_gets_the_console_format_in_colour() {
    let out = String::from_utf8(run(Target::Pty, &[])).unwrap();
    let (plain, sgr) = strip_sgr(&out);
    assert!(sgr > 0, "no colour on a terminal: {out:?}");
    check_console(&plain);
}

#[test]
fn no_color_turns_colours_off_on_a_terminal() {
    let out = String::from_utf8(run(Target::Pty, &[("NO_COLOR", "1")])).unwrap();
    assert!(!out.contains('\u{1b}'), "{out:?}");
    check_console(&out);
    let out = String::from_utf8(run(Target::Pty, &[("TERM", "dumb")])).unwrap();
    assert!(!out.contains('\u{1b}'), "{out:?}");
    check_console(&out);
}

#[test]
fn a_pipe_gets_json() {
    let out = String::from_utf8(run(Target::Pipe, &[])).unwrap();
    let recs: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(recs.len(), 2, "{out}");
    assert_eq!(recs[0]["text"], HOSTILE);
    assert_eq!(recs[1]["exception.message"], "boom\nforged line");
}

#[test]
fn a_pipe_gets_the_console_format_when_asked_without_colours_unless_forced() {
    let out = String::from_utf8(run(Target::Pipe, &[("DATAPUNK_LOG_FORMAT", "console")])).unwrap();
    assert!(!out.contains('\u{1b}'), "{out:?}");
    check_console(&out);
    let out = String::from_utf8(run(
        Target::Pipe,
        &[("DATAPUNK_LOG_FORMAT", "console"), ("CLICOLOR_FORCE", "1")],
    ))
    .unwrap();
    let (plain, sgr) = strip_sgr(&out);
    assert!(sgr > 0, "CLICOLOR_FORCE gave no colour: {out:?}");
    check_console(&plain);
}

#[test]
fn json_forced_on_a_terminal() {
    let out = String::from_utf8(run(Target::Pty, &[("DATAPUNK_LOG_FORMAT", "json")])).unwrap();
    for l in out.lines() {
        serde_json::from_str::<serde_json::Value>(l).expect("a JSON line");
    }
    assert_eq!(out.lines().count(), 2);
}
