//! The file thread of one file sink: compresses rotated files and applies
//! retention, so the writer never waits on either.
//!
//! The writer hands it jobs over a bounded channel with `try_send`; when the
//! channel is full the job is not queued and the rotated file stays
//! uncompressed (counted in `compress_skipped`); retention, which looks at
//! the whole directory, still covers it at the next job. A file is
//! compressed to `<name>.gz.tmp` (or `.zst.tmp`), given the original's
//! modification time, synced, renamed to `<name>.gz`, and only then is the
//! original deleted: a crash at any point leaves the lines in at least one
//! complete file (a left-over `.tmp` is removed when the sink next starts).

use std::fs::{self, File};
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use super::naming::Pattern;
use super::retention::{self, Retention};
use super::{Compression, create_file};
use crate::stats::{Counters, SinkCounters};

/// Jobs the channel holds; beyond it `submit` refuses (and counts).
pub(crate) const QUEUE: usize = 8;
/// How long dropping the sink waits for its file thread to finish the jobs
/// queued (at shutdown); past it the thread is left to finish alone.
pub(crate) const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// A job for the file thread.
#[derive(Debug)]
pub(crate) enum Job {
    /// At start: remove left-over `.tmp` files, apply retention.
    Sweep,
    /// A file was rotated to this path: compress it, apply retention.
    Rotated(PathBuf),
    /// Apply retention (owed since a job was refused by a full queue).
    Retain,
}

/// What the file thread works with.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub pattern: Pattern,
    pub compression: Compression,
    pub retention: Retention,
    pub mode: u32,
    pub counters: Arc<SinkCounters>,
}

/// The handle of a sink's file thread.
#[derive(Debug)]
pub(crate) struct Worker {
    tx: Option<SyncSender<Job>>,
    handle: Option<JoinHandle<()>>,
    exited: Arc<(Mutex<bool>, Condvar)>,
    counters: Arc<SinkCounters>,
}

impl Worker {
    /// Starts the thread.
    pub(crate) fn start(ctx: Ctx) -> io::Result<Worker> {
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        let exited = Arc::new((Mutex::new(false), Condvar::new()));
        let counters = ctx.counters.clone();
        let done = exited.clone();
        let handle = crate::thread_role::spawn("datapunk-log-files", move || {
            // Its own records (none are made) would be discarded, never
            // looped back through the writer.
            crate::thread_role::mute_this_thread();
            run(rx, &ctx);
            let (m, cv) = &*done;
            *m.lock().unwrap_or_else(|e| e.into_inner()) = true;
            cv.notify_all();
        })?;
        Ok(Worker {
            tx: Some(tx),
            handle: Some(handle),
            exited,
            counters,
        })
    }

    /// Queues a job without waiting; false when the queue is full (or the
    /// thread is gone).
    pub(crate) fn submit(&self, job: Job) -> bool {
        let Some(tx) = &self.tx else { return false };
        Counters::add(&self.counters.compress_backlog, 1);
        match tx.try_send(job) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.counters
                    .compress_backlog
                    .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                false
            }
        }
    }
}

impl Worker {
    /// Waits (up to the drain timeout) for room to queue `job`: at
    /// shutdown only, never on the writer's path.
    pub(crate) fn submit_waiting(&self, job: Job, deadline: std::time::Instant) -> bool {
        let mut job = job;
        let Some(tx) = &self.tx else { return false };
        loop {
            Counters::add(&self.counters.compress_backlog, 1);
            match tx.try_send(job) {
                Ok(()) => return true,
                Err(e) => {
                    self.counters
                        .compress_backlog
                        .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                    match e {
                        TrySendError::Full(j) if std::time::Instant::now() < deadline => job = j,
                        _ => return false,
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Finishes: queues `last` (if any) within the drain timeout, closes
    /// the queue and waits (within the same timeout) for the thread to
    /// finish it.
    pub(crate) fn finish(mut self, last: Option<Job>) {
        let deadline = std::time::Instant::now() + DRAIN_TIMEOUT;
        if let Some(job) = last {
            self.submit_waiting(job, deadline);
        }
        self.close(deadline);
    }

    fn close(&mut self, deadline: std::time::Instant) {
        // Closing the channel ends the thread once the queue is empty.
        drop(self.tx.take());
        let (m, cv) = &*self.exited;
        let mut exited = m.lock().unwrap_or_else(|e| e.into_inner());
        while !*exited {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return;
            }
            exited = cv
                .wait_timeout(exited, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        drop(exited);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Not closed yet (`finish` closes, waiting at most once).
        if self.tx.is_some() {
            self.close(std::time::Instant::now() + DRAIN_TIMEOUT);
        }
    }
}

fn run(rx: Receiver<Job>, ctx: &Ctx) {
    let c = &ctx.counters;
    while let Ok(job) = rx.recv() {
        wait_while_held();
        match job {
            Job::Sweep => {
                if let Ok(scan) = retention::scan(&ctx.pattern) {
                    for t in scan.temps {
                        if fs::remove_file(&t).is_err() {
                            Counters::add(&c.compress_errors, 1);
                        }
                    }
                }
            }
            Job::Retain => {}
            Job::Rotated(path) => {
                if ctx.compression != Compression::None {
                    match compress(&path, ctx.compression, ctx.mode) {
                        Ok(true) => Counters::add(&c.compressed, 1),
                        // Retention deleted it while it waited in the queue.
                        Ok(false) => {}
                        Err(_) => Counters::add(&c.compress_errors, 1),
                    }
                }
            }
        }
        if ctx.retention.is_set() {
            apply_retention(ctx);
        }
        c.compress_backlog
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Deletes the oldest rotated files beyond the retention bounds.
fn apply_retention(ctx: &Ctx) {
    let c = &ctx.counters;
    let Ok(scan) = retention::scan(&ctx.pattern) else {
        Counters::add(&c.compress_errors, 1);
        return;
    };
    let n = retention::expired(&scan.entries, &ctx.retention, SystemTime::now());
    for e in &scan.entries[..n] {
        let mut ok = true;
        for (p, _) in &e.paths {
            match fs::remove_file(p) {
                Ok(()) => {}
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(_) => ok = false,
            }
        }
        if ok {
            Counters::add(&c.files_deleted, 1);
        } else {
            Counters::add(&c.compress_errors, 1);
        }
    }
}

/// `path` with `.ext` added to its name.
fn with_ext(path: &Path, ext: &str) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

/// Compresses `src` to `src.gz` / `src.zst` through a `.tmp` file, then
/// deletes `src`. `Ok(false)`: `src` is gone, nothing to do.
pub(crate) fn compress(src: &Path, kind: Compression, mode: u32) -> io::Result<bool> {
    let ext = match kind {
        Compression::None => return Ok(false),
        Compression::Gzip => "gz",
        Compression::Zstd => "zst",
    };
    let dst = with_ext(src, ext);
    let tmp = with_ext(&dst, "tmp");
    let input = match File::open(src) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    let modified = input.metadata()?.modified().ok();
    let out = create_file(&tmp, mode, true)?;
    let written = (|| {
        let out = encode(kind, BufReader::with_capacity(64 * 1024, input), out)?;
        if let Some(m) = modified {
            // Retention by age reads the time of the content, not of the
            // compression.
            out.set_modified(m)?;
        }
        out.sync_all()?;
        drop(out);
        fs::rename(&tmp, &dst)
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    fs::remove_file(src).map(|()| true)
}

#[allow(unused_mut, unused_variables)]
fn encode(kind: Compression, mut input: impl io::Read, out: File) -> io::Result<File> {
    match kind {
        #[cfg(feature = "gzip")]
        Compression::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(out, flate2::Compression::default());
            io::copy(&mut input, &mut enc)?;
            enc.finish()
        }
        #[cfg(feature = "zstd")]
        Compression::Zstd => {
            let mut enc = zstd::stream::write::Encoder::new(out, 0)?;
            io::copy(&mut input, &mut enc)?;
            enc.finish()
        }
        _ => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this compression's cargo feature is off",
        )),
    }
}

/// Holds of the test gate (see [`hold_compression`]).
static HELD: Mutex<u32> = Mutex::new(0);
static HELD_CV: Condvar = Condvar::new();

/// While alive, every file thread waits before its next job (a test hook:
/// a compressor that never keeps up). Not a stable API.
#[doc(hidden)]
#[derive(Debug)]
#[must_use = "the file threads go on when this is dropped"]
pub struct CompressionHold(());

/// Makes every file thread wait before its next job until the returned
/// hold is dropped (a test hook for a slow compressor). Not a stable API.
#[doc(hidden)]
pub fn hold_compression() -> CompressionHold {
    *HELD.lock().unwrap_or_else(|e| e.into_inner()) += 1;
    CompressionHold(())
}

impl Drop for CompressionHold {
    fn drop(&mut self) {
        let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
        *held = held.saturating_sub(1);
        HELD_CV.notify_all();
    }
}

fn wait_while_held() {
    let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
    while *held > 0 {
        held = HELD_CV
            .wait_timeout(held, Duration::from_millis(100))
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
}
