//! Flushing on SIGTERM / SIGINT (`Builder::flush_on_signal`).
//!
//! Each test re-runs this binary as a child (one test, selected with
//! `--exact`, told its part by `CHILD_ENV`) that gets the signal. The child
//! holds its records back (a 120 s ordering window with two rings), so only
//! a flush writes them: what the parent finds in the file before the child's
//! own shutdown is the signal's flush. Parent and child synchronise through
//! the child's stdout lines and stdin pipe; every wait has a deadline.
#![cfg(unix)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use datapunk_log::SignalFlush;
use libc::{SIGINT, SIGTERM};

const CHILD_ENV: &str = "DATAPUNK_SIGNAL_TEST_CHILD";
const FILE_ENV: &str = "DATAPUNK_SIGNAL_TEST_FILE";
const RECORDS: u64 = 1000;
const SHUTDOWN_RECORDS: u64 = 20;
/// Exit status of a child whose own handler ended it.
const APP_EXIT: i32 = 7;
/// Bound of every wait (generous: a loaded machine).
const DEADLINE: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------- child side

/// The application's own handler, through signal-hook-registry (as
/// `signal-hook` and `tokio::signal` register theirs): a byte on a socket.
fn app_handler(signal: i32) -> std::os::unix::net::UnixStream {
    let (read, write) = std::os::unix::net::UnixStream::pair().expect("socket pair");
    signal_hook::low_level::pipe::register(signal, write).expect("register");
    read
}

fn engine(path: &str, mode: Option<SignalFlush>) -> datapunk_log::Guard {
    let mut b = datapunk_log::builder()
        .json_file(path)
        .order_window(Duration::from_secs(120))
        .ignore_env();
    if let Some(m) = mode {
        b = b.flush_on_signal(m);
    }
    b.init().expect("init")
}

/// Logs the records the signal must not lose, checks none is written yet,
/// and tells the parent to send the signal.
fn log_then_ready(path: &str) {
    common::second_ring();
    let held = std::fs::read(path).expect("log file").len();
    for seq in 0..RECORDS {
        datapunk_log::info!(seq, "before the signal");
    }
    // Control: the ordering window holds them; only a flush writes them.
    assert_eq!(std::fs::read(path).expect("log file").len(), held);
    println!("ready");
    std::io::stdout().flush().expect("stdout");
}

/// Blocks until the parent closes stdin (it never does while the child
/// lives): a process with no handler of its own, waiting for the signal.
fn wait_forever() -> ! {
    let _ = std::io::stdin().read(&mut [0u8; 1]);
    std::process::exit(3);
}

/// The application's shutdown after its handler saw the signal: the
/// engine's flush has written the records before the signal (the child
/// waits for them, up to the deadline), then the shutdown is logged and the
/// guard dropped; the application ends the process by its own choice.
fn app_shutdown(path: &str, guard: datapunk_log::Guard) -> ! {
    let flushed = common::wait_until(DEADLINE, || {
        std::fs::read_to_string(path)
            .map(|t| t.matches("before the signal").count() as u64 == RECORDS)
            .unwrap_or(false)
    });
    if !flushed {
        eprintln!("the signal did not flush the queued records");
        std::process::exit(4);
    }
    for seq in 0..SHUTDOWN_RECORDS {
        datapunk_log::info!(seq, "application shutdown");
    }
    drop(guard);
    std::process::exit(APP_EXIT);
}

/// A sink that, once armed, says so on stdout at its first write and then
/// blocks for good: a flush that cannot finish.
struct StuckSink {
    armed: std::sync::Arc<std::sync::atomic::AtomicBool>,
    file: std::fs::File,
}

impl datapunk_log::Sink for StuckSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.armed.load(std::sync::atomic::Ordering::SeqCst) {
            println!("flushing");
            std::io::stdout().flush()?;
            loop {
                std::thread::park();
            }
        }
        self.file.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

fn run_child(part: &str, path: &str) -> ! {
    match part {
        "default" => {
            let _guard = engine(path, None);
            log_then_ready(path);
            wait_forever();
        }
        "off" => {
            let _guard = engine(path, Some(SignalFlush::Off));
            log_then_ready(path);
            wait_forever();
        }
        "app-after" => {
            let guard = engine(path, Some(SignalFlush::Flush));
            let mut app = app_handler(SIGTERM);
            log_then_ready(path);
            app.read_exact(&mut [0u8; 1])
                .expect("the application's signal");
            app_shutdown(path, guard);
        }
        "app-before" => {
            let mut app = app_handler(SIGTERM);
            let guard = engine(path, Some(SignalFlush::Flush));
            log_then_ready(path);
            app.read_exact(&mut [0u8; 1])
                .expect("the application's signal");
            app_shutdown(path, guard);
        }
        "tokio" => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let guard = engine(path, None);
                // Registered now (`ctrl_c()` registers at its first poll).
                let mut ctrl_c =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
                        .expect("tokio signal");
                log_then_ready(path);
                ctrl_c.recv().await.expect("SIGINT");
                app_shutdown(path, guard);
            })
        }
        "flush-and-exit" => {
            let _guard = engine(path, Some(SignalFlush::FlushAndExit));
            let mut app = app_handler(SIGTERM);
            log_then_ready(path);
            // The application's handler runs, but the process ends first.
            app.read_exact(&mut [0u8; 1])
                .expect("the application's signal");
            wait_forever();
        }
        "second-signal" => {
            let armed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let sink = StuckSink {
                armed: armed.clone(),
                file: std::fs::File::create(path).expect("log file"),
            };
            let _guard = datapunk_log::builder()
                .sink(Box::new(sink))
                .order_window(Duration::from_secs(120))
                .shutdown_timeout(Duration::from_secs(3600))
                .ignore_env()
                .init()
                .expect("init");
            common::second_ring();
            datapunk_log::info!("stuck in the flush");
            armed.store(true, std::sync::atomic::Ordering::SeqCst);
            println!("ready");
            std::io::stdout().flush().expect("stdout");
            wait_forever();
        }
        "fork" => {
            let guard = engine(path, None);
            let mut app = app_handler(SIGINT);
            common::second_ring();
            for seq in 0..RECORDS {
                datapunk_log::info!(seq, "before the signal");
            }
            // SAFETY: the forked child calls only async-signal-safe
            // functions (alarm, pause, _exit) before it ends.
            let pid = unsafe { libc::fork() };
            if pid == 0 {
                // SAFETY: as above; SIGALRM's default action bounds its life.
                unsafe {
                    libc::alarm(60);
                    loop {
                        libc::pause();
                    }
                }
            }
            assert!(pid > 0, "fork");
            let mut status = 0;
            // SAFETY: kill and waitpid on the child just forked.
            let waited = unsafe {
                libc::kill(pid, SIGTERM);
                libc::waitpid(pid, &mut status, 0)
            };
            if waited != pid || !libc::WIFSIGNALED(status) || libc::WTERMSIG(status) != SIGTERM {
                eprintln!("the forked child did not end by SIGTERM: {status:#x}");
                std::process::exit(5);
            }
            // Had the forked child's signal reached this process's signal
            // thread, its SIGTERM (no handler here) would end this process
            // before the SIGINT below is handled.
            // SAFETY: raise(3) on this process.
            unsafe { libc::raise(SIGINT) };
            app.read_exact(&mut [0u8; 1])
                .expect("the application's signal");
            app_shutdown(path, guard);
        }
        other => panic!("unknown child part {other}"),
    }
}

/// In the child, runs its part and never returns.
fn child_entry() {
    if let (Ok(part), Ok(path)) = (std::env::var(CHILD_ENV), std::env::var(FILE_ENV)) {
        run_child(&part, &path);
    }
}

// --------------------------------------------------------------- parent side

struct Child {
    pid: i32,
    /// Held open: a child in `wait_forever` blocks on it.
    _stdin: std::process::ChildStdin,
    stdout: mpsc::Receiver<String>,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
    exit: mpsc::Receiver<ExitStatus>,
    path: std::path::PathBuf,
}

impl Child {
    fn spawn(test: &str, part: &str) -> Child {
        let path = common::temp_path(part).join("app.jsonl");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, b"").unwrap();
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", test, "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, part)
            .env(FILE_ENV, &path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the child");
        let pid = child.id() as i32;
        let (line_tx, stdout) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { return };
                if line_tx.send(line).is_err() {
                    return;
                }
            }
        });
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let mut err = child.stderr.take().unwrap();
        let into = stderr.clone();
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            into.lock().unwrap().push_str(&s);
        });
        let _stdin = child.stdin.take().unwrap();
        let (exit_tx, exit) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = exit_tx.send(child.wait().expect("wait"));
        });
        Child {
            pid,
            _stdin,
            stdout,
            stderr,
            exit,
            path,
        }
    }

    /// Waits for a line of the child's stdout that ends with `want` (the
    /// harness's `test name ... ` may precede it; other lines are skipped).
    fn expect_line(&self, want: &str) {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(line) if line.trim_end().ends_with(want) => return,
                Ok(_) => {}
                Err(_) => self.fail(&format!("no {want:?} line from the child")),
            }
        }
    }

    fn signal(&self, signal: i32) {
        // SAFETY: kill(2) with a pid of a child of this process that has not
        // been reaped (its exit is read only through `self.exit`).
        assert_eq!(unsafe { libc::kill(self.pid, signal) }, 0, "kill");
    }

    fn wait(&self) -> ExitStatus {
        match self.exit.recv_timeout(DEADLINE) {
            Ok(status) => status,
            Err(_) => self.fail("the child did not end"),
        }
    }

    fn fail(&self, what: &str) -> ! {
        // SAFETY: as in `signal`.
        unsafe { libc::kill(self.pid, libc::SIGKILL) };
        let _ = self.exit.recv_timeout(DEADLINE);
        panic!("{what}; stderr:\n{}", self.stderr.lock().unwrap());
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// The messages of the file's lines (each parsed as JSON), and checks
    /// the `seq` of each run of one message counts up from 0.
    fn messages(&self) -> Vec<String> {
        let lines = common::parse_bytes(&std::fs::read(&self.path).expect("log file"));
        let mut out: Vec<String> = Vec::new();
        let mut next = std::collections::HashMap::<String, u64>::new();
        for l in lines.iter().filter(|l| l.target() != common::HOLD_TARGET) {
            let m = l.message().to_owned();
            if l.has("seq") {
                let n = next.entry(m.clone()).or_insert(0);
                assert_eq!(l.u64("seq"), *n, "{m}: a record lost or out of order");
                *n += 1;
            }
            out.push(m);
        }
        out
    }
}

fn count(messages: &[String], m: &str) -> u64 {
    messages.iter().filter(|x| *x == m).count() as u64
}

/// How a child must end.
#[derive(Clone, Copy, Debug)]
enum Ends {
    /// By this signal (its default action).
    BySignal(i32),
    /// With this exit code (the application's shutdown).
    WithCode(i32),
}

/// Checks how `child` ended and how many records of each message its file
/// holds (`before the signal`, `application shutdown`; each in order).
fn check(child: &Child, status: ExitStatus, ends: Ends, before: u64, shutdown: u64) -> Vec<String> {
    let (got, want) = match ends {
        Ends::BySignal(s) => (status.signal(), s),
        Ends::WithCode(c) => (status.code(), c),
    };
    assert_eq!(got, Some(want), "{ends:?}: {status:?}: {}", child.stderr());
    let m = child.messages();
    assert_eq!(count(&m, "before the signal"), before);
    assert_eq!(count(&m, "application shutdown"), shutdown);
    m
}

/// Runs child part `part` of test `test` to its `ready` line, sends
/// `signal`, waits for its end and checks it (see [`check`]).
fn signalled(
    test: &str,
    part: &str,
    signal: i32,
    ends: Ends,
    before: u64,
    shutdown: u64,
) -> Vec<String> {
    let child = Child::spawn(test, part);
    child.expect_line("ready");
    child.signal(signal);
    let status = child.wait();
    check(&child, status, ends, before, shutdown)
}

// --------------------------------------------------------------------- tests

#[test]
fn by_default_sigterm_without_an_app_handler_flushes_then_ends_by_the_signal() {
    child_entry();
    let test = "by_default_sigterm_without_an_app_handler_flushes_then_ends_by_the_signal";
    let m = signalled(
        test,
        "default",
        SIGTERM,
        Ends::BySignal(SIGTERM),
        RECORDS,
        0,
    );
    assert_eq!(m.len() as u64, RECORDS);
}

#[test]
fn by_default_sigint_without_an_app_handler_flushes_then_ends_by_the_signal() {
    child_entry();
    let test = "by_default_sigint_without_an_app_handler_flushes_then_ends_by_the_signal";
    signalled(test, "default", SIGINT, Ends::BySignal(SIGINT), RECORDS, 0);
}

/// The control: without the handler the same child loses what was queued.
#[test]
fn off_installs_no_handler_so_queued_records_are_lost() {
    child_entry();
    let test = "off_installs_no_handler_so_queued_records_are_lost";
    signalled(test, "off", SIGTERM, Ends::BySignal(SIGTERM), 0, 0);
}

#[test]
fn with_an_app_handler_registered_after_init_the_application_shuts_down() {
    child_entry();
    let test = "with_an_app_handler_registered_after_init_the_application_shuts_down";
    let app = Ends::WithCode(APP_EXIT);
    signalled(test, "app-after", SIGTERM, app, RECORDS, SHUTDOWN_RECORDS);
}

#[test]
fn with_an_app_handler_registered_before_init_the_application_shuts_down() {
    child_entry();
    let test = "with_an_app_handler_registered_before_init_the_application_shuts_down";
    let app = Ends::WithCode(APP_EXIT);
    signalled(test, "app-before", SIGTERM, app, RECORDS, SHUTDOWN_RECORDS);
}

/// The new user's case: a tokio service that shuts down on Ctrl-C.
#[test]
fn with_tokio_signal_the_application_shuts_down_on_sigint() {
    child_entry();
    let test = "with_tokio_signal_the_application_shuts_down_on_sigint";
    let app = Ends::WithCode(APP_EXIT);
    signalled(test, "tokio", SIGINT, app, RECORDS, SHUTDOWN_RECORDS);
}

#[test]
fn flush_and_exit_ends_the_process_by_the_signal_even_with_an_app_handler() {
    child_entry();
    let test = "flush_and_exit_ends_the_process_by_the_signal_even_with_an_app_handler";
    let ends = Ends::BySignal(SIGTERM);
    signalled(test, "flush-and-exit", SIGTERM, ends, RECORDS, 0);
}

/// No app handler, a flush that cannot finish: the second SIGTERM ends the
/// process at once instead of after the (one hour) shutdown timeout.
#[test]
fn a_second_signal_during_the_flush_ends_the_process_at_once() {
    child_entry();
    let test = "a_second_signal_during_the_flush_ends_the_process_at_once";
    let child = Child::spawn(test, "second-signal");
    child.expect_line("ready");
    child.signal(SIGTERM);
    child.expect_line("flushing");
    child.signal(SIGTERM);
    let status = child.wait();
    assert_eq!(
        status.signal(),
        Some(SIGTERM),
        "{status:?}: {}",
        child.stderr()
    );
}

/// A child forked without exec keeps the handler but not the signal thread:
/// its SIGTERM ends it by the signal and never reaches its parent's thread.
#[test]
fn a_forked_child_gets_its_own_signals() {
    child_entry();
    let child = Child::spawn("a_forked_child_gets_its_own_signals", "fork");
    let status = child.wait();
    let app = Ends::WithCode(APP_EXIT);
    check(&child, status, app, RECORDS, SHUTDOWN_RECORDS);
}
