//! Appending JSON-lines file sink, with rotation by size and by time,
//! retention and compression (see [`super::rolling`] and [`FileConfig`]).
//!
//! The writer hands the sink whole lines. A rotation happens only between
//! two lines: when the next line would take the live file past its size
//! limit, `write` takes the lines before it and returns a short count; the
//! slot calls again with the rest, and that call rotates first. A rotation
//! renames the live file to its rotated name and creates a new one; the
//! rotated file goes to the sink's file thread (compression, retention)
//! with `try_send`, never waiting. Per batch the sink does one relaxed load
//! (the reopen generation) and, with rotation by time, one monotonic clock
//! read compared with a deadline (and one load of the time a test may
//! set, `rolling::time::set_file_clock`): no system call beyond the
//! write.

use std::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use super::Sink;
use super::rolling::naming::{self, Key, Pattern};
use super::rolling::time::{mono_now, next_boundary, offset_at, period_start, unix_now};
use super::rolling::{Compression, Ctx, FileConfig, Job, Worker, open_append};
use crate::stats::{Counters, SinkCounters};

const RETRY_MIN: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(30);

/// Appends JSON lines to a file, creating it and its parent directories;
/// optionally rotates, keeps and compresses the rotated files
/// ([`FileSink::with_config`]).
pub struct FileSink {
    config: FileConfig,
    pattern: Pattern,
    /// The live file; `None` after a failed open (retried at the next write).
    file: Option<File>,
    /// Bytes in the live file.
    size: u64,
    /// The last byte written was not a newline (a short write tore a line):
    /// no rotation until the line is complete.
    mid_line: bool,
    /// When the live file's content starts (UTC seconds): its rotated
    /// name's stamp.
    start: i64,
    /// Rotation by time: the next boundary (UTC seconds) and when the
    /// monotonic clock reaches it.
    boundary: i64,
    deadline: Option<Instant>,
    /// The reopen generation at the last open.
    generation: u64,
    /// The key of the last rotated name used, so that a later rotation in
    /// the same second gets a higher `.N`.
    last: Option<Key>,
    /// After a failed rename: no new attempt before this.
    retry_at: Option<Instant>,
    backoff: Duration,
    worker: Option<Worker>,
    /// A job was refused (queue full): a retention pass is owed, queued at
    /// the next write with room (or when the sink is dropped).
    owed: bool,
    counters: Arc<SinkCounters>,
    /// Renames still to fail (unit tests of the failure path).
    #[cfg(test)]
    fail_renames: u32,
}

impl fmt::Debug for FileSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileSink")
            .field("path", &self.config.path)
            .field("size", &self.size)
            .field("rotate_size", &self.config.rotate_size)
            .field("rotation", &self.config.rotation)
            .finish_non_exhaustive()
    }
}

impl FileSink {
    /// Opens `path` for appending (no rotation; a created file gets mode
    /// `0o640`, see [`FileConfig::mode`]).
    pub fn open(path: impl AsRef<Path>) -> io::Result<FileSink> {
        FileSink::with_config(FileConfig::new(path.as_ref()))
    }

    /// Opens the live file of `config`, and starts the sink's file thread
    /// when it compresses or has a retention bound. The settings are checked
    /// (an invalid one is an `InvalidInput` error). Its figures reach
    /// `sink_stats()` when it is added with `Builder::file`.
    pub fn with_config(config: FileConfig) -> io::Result<FileSink> {
        let name = config.path.display().to_string();
        FileSink::build(config, Arc::new(SinkCounters::new(name)))
    }

    pub(crate) fn build(config: FileConfig, counters: Arc<SinkCounters>) -> io::Result<FileSink> {
        config
            .check()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        if let Some(dir) = config.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let pattern = Pattern::new(&config.path);
        let worker = if config.needs_worker() {
            let w = Worker::start(Ctx {
                pattern: pattern.clone(),
                compression: config.compression,
                retention: config.retention,
                mode: config.mode,
                counters: counters.clone(),
            })?;
            w.submit(Job::Sweep);
            Some(w)
        } else {
            None
        };
        let mut sink = FileSink {
            config,
            pattern,
            file: None,
            size: 0,
            mid_line: false,
            start: 0,
            boundary: 0,
            deadline: None,
            generation: super::rolling::reopen_generation(),
            last: None,
            retry_at: None,
            backoff: RETRY_MIN,
            worker,
            owed: false,
            counters,
            #[cfg(test)]
            fail_renames: 0,
        };
        sink.open_live(unix_now())?;
        Ok(sink)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.config.path
    }

    /// This sink's figures (the same as its entry in `sink_stats()` when it
    /// was added with `Builder::file`).
    pub fn stats(&self) -> crate::SinkStats {
        self.counters.snapshot()
    }

    /// Opens (or creates) the live file. `start` is the content's start for
    /// a file created now.
    fn open_live(&mut self, start: i64) -> io::Result<()> {
        self.file = None;
        let opened = match open_append(&self.config.path, self.config.mode) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // The directory went away (a cleanup): make it again.
                match self
                    .config
                    .path
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                {
                    Some(dir) => std::fs::create_dir_all(dir)
                        .and_then(|()| open_append(&self.config.path, self.config.mode)),
                    None => Err(e),
                }
            }
            r => r,
        };
        let (file, created) = opened?;
        let meta = file.metadata()?;
        self.size = meta.len();
        self.mid_line = false;
        self.start = if created || self.size == 0 {
            start
        } else {
            // A file found with content: it started when it was created,
            // where the file system tells.
            meta.created()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(start, |d| (d.as_secs() as i64).min(start))
        };
        self.file = Some(file);
        self.set_deadline();
        Ok(())
    }

    /// The next rotation by time after the live file's start.
    fn set_deadline(&mut self) {
        let (rotation, local) = (self.config.rotation, self.config.local_time);
        self.deadline = next_boundary(self.start, rotation, local).map(|b| {
            self.boundary = b;
            let wait = (b - unix_now()).max(0) as u64;
            mono_now() + Duration::from_secs(wait)
        });
    }

    /// Whether the clock has reached the next boundary. A wall clock set
    /// back makes the deadline move rather than rotate early.
    fn time_due(&mut self) -> bool {
        let Some(d) = self.deadline else { return false };
        if mono_now() < d {
            return false;
        }
        let now = unix_now();
        if now < self.boundary {
            self.deadline = Some(mono_now() + Duration::from_secs((self.boundary - now) as u64));
            return false;
        }
        true
    }

    /// The rotated name for the live file, free of any existing file.
    fn rotated_path(&self) -> io::Result<(PathBuf, Key)> {
        let local = self.config.local_time;
        let offset = local.then(|| offset_at(self.start, true));
        let stamp = naming::stamp(self.start, offset);
        let unix = naming::parse_stamp(&stamp).map_or(self.start, |(u, _)| u);
        let first = match self.last {
            Some(k) if k.unix == unix => k.n + 1,
            _ => 0,
        };
        for n in first..first.saturating_add(10_000) {
            if !self.pattern.variants(&stamp, n).any(|p| p.exists()) {
                let path = self.pattern.dir.join(self.pattern.name(&stamp, n));
                return Ok((path, Key { unix, n }));
            }
        }
        Err(io::Error::other("no free name for the rotated file"))
    }

    /// Rotates: renames the live file, creates a new one starting at
    /// `start`. `Ok(false)`: put off (a rename that failed, counted, and
    /// retried after a backoff; the live file goes on). An error: the new
    /// file could not be created (the slot retries the batch).
    fn rotate(&mut self, start: i64) -> io::Result<bool> {
        if self.retry_at.is_some_and(|t| Instant::now() < t) {
            return Ok(false);
        }
        if self.size == 0 {
            // Nothing to keep: the live file just starts anew.
            self.start = start;
            self.set_deadline();
            return Ok(true);
        }
        let renamed = self.rotated_path().and_then(|(path, key)| {
            #[cfg(test)]
            if self.fail_renames > 0 {
                self.fail_renames -= 1;
                return Err(io::Error::other("rename failed (injected)"));
            }
            std::fs::rename(&self.config.path, &path).map(|()| (path, key))
        });
        match renamed {
            Ok((path, key)) => {
                self.retry_at = None;
                self.backoff = RETRY_MIN;
                self.last = Some(key);
                Counters::add(&self.counters.rotations, 1);
                self.hand_over(path);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // The live file was moved or deleted by someone else: its
                // lines are theirs; a new one starts.
            }
            Err(_) => {
                Counters::add(&self.counters.rotate_errors, 1);
                self.retry_at = Some(Instant::now() + self.backoff);
                self.backoff = (self.backoff * 2).min(RETRY_MAX);
                return Ok(false);
            }
        }
        self.open_live(start)?;
        Ok(true)
    }

    /// Gives a rotated file to the file thread, never waiting.
    fn hand_over(&mut self, path: PathBuf) {
        let Some(w) = &self.worker else { return };
        if !w.submit(Job::Rotated(path)) {
            self.owed = true;
            if self.config.compression != Compression::None {
                Counters::add(&self.counters.compress_skipped, 1);
            }
        }
    }

    /// How much of `buf` (whole lines) goes into the live file now,
    /// rotating first when the file is due.
    fn plan(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.mid_line {
            // Complete the torn line first, whatever the limits.
            return Ok(buf
                .iter()
                .position(|&b| b == b'\n')
                .map_or(buf.len(), |i| i + 1));
        }
        if self.time_due() {
            let start = period_start(unix_now(), self.config.rotation, self.config.local_time);
            if !self.rotate(start)? {
                return Ok(buf.len());
            }
        }
        let Some(limit) = self.config.rotate_size else {
            return Ok(buf.len());
        };
        let fits = |size: u64| -> usize {
            let room = limit.saturating_sub(size).min(buf.len() as u64) as usize;
            if room == buf.len() {
                return room;
            }
            buf[..room]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1)
        };
        let mut take = fits(self.size);
        if take == 0 && self.size > 0 {
            // The next line does not fit: a new file.
            if !self.rotate(unix_now())? {
                return Ok(buf.len());
            }
            take = fits(self.size);
        }
        if take == 0 {
            // A line longer than the limit goes alone into a file.
            take = buf
                .iter()
                .position(|&b| b == b'\n')
                .map_or(buf.len(), |i| i + 1);
        }
        Ok(take)
    }

    /// Forces the next write to rotate by time (unit tests; integration
    /// tests set the sinks' clock with `set_file_clock`).
    #[cfg(test)]
    fn expire_deadline(&mut self) {
        self.boundary = unix_now();
        self.deadline = Some(mono_now());
    }
}

impl Sink for FileSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let generation = super::rolling::reopen_generation();
        if generation != self.generation && !self.mid_line {
            self.generation = generation;
            self.file = None;
        }
        if self.file.is_none() {
            self.open_live(unix_now())?;
        }
        if self.owed
            && let Some(w) = &self.worker
        {
            self.owed = !w.submit(Job::Retain);
        }
        let take = self.plan(buf)?;
        let Some(file) = self.file.as_mut() else {
            return Err(io::Error::other("the log file is not open"));
        };
        let n = file.write(&buf[..take])?;
        self.size += n as u64;
        if n > 0 {
            self.mid_line = buf[n - 1] != b'\n';
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for FileSink {
    fn drop(&mut self) {
        // The file thread finishes its queue, with the retention pass owed
        // (bounded wait); the live file closes after.
        if let Some(w) = self.worker.take() {
            w.finish(self.owed.then_some(Job::Retain));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::Rotation;
    use crate::sink::rolling::naming::Kind;

    fn now_secs() -> i64 {
        unix_now()
    }

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "datapunk-log-unit-{name}-{}-{}",
            std::process::id(),
            now_secs()
        ));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn files(d: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    /// Writes like the slot does: until all is taken.
    fn write_all(s: &mut FileSink, mut buf: &[u8]) {
        while !buf.is_empty() {
            let n = s.write(buf).unwrap();
            assert!(n > 0);
            buf = &buf[n..];
        }
    }

    #[test]
    fn size_rotation_cuts_at_line_boundaries() {
        let d = dir("size");
        let live = d.join("app.jsonl");
        let mut s = FileSink::with_config(FileConfig::new(&live).rotate_size(20)).unwrap();
        // 8-byte lines: two per file (16), the third would make 24.
        let batch: Vec<u8> = (0..7)
            .flat_map(|i| format!("{{\"a\":{i}}}\n").into_bytes())
            .collect();
        write_all(&mut s, &batch);
        drop(s);
        let p = Pattern::new(&live);
        let mut rotated: Vec<(Key, String)> = files(&d)
            .into_iter()
            .filter_map(|n| {
                p.parse(&n).map(|(k, kind)| {
                    assert_eq!(kind, Kind::Plain);
                    (k, n)
                })
            })
            .collect();
        rotated.sort();
        assert_eq!(rotated.len(), 3, "{rotated:?}");
        let mut all = Vec::new();
        for (_, n) in &rotated {
            let text = std::fs::read(d.join(n)).unwrap();
            assert_eq!(text.len(), 16);
            all.extend(text);
        }
        all.extend(std::fs::read(&live).unwrap());
        assert_eq!(all, batch);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_long_line_goes_alone_into_a_file() {
        let d = dir("long");
        let live = d.join("app.jsonl");
        let mut s = FileSink::with_config(FileConfig::new(&live).rotate_size(10)).unwrap();
        write_all(&mut s, b"{\"a\":1}\n{\"long\":\"0123456789\"}\n{\"a\":2}\n");
        drop(s);
        let mut contents: Vec<(Key, Vec<u8>)> = files(&d)
            .iter()
            .filter_map(|n| {
                Pattern::new(&live)
                    .parse(n)
                    .map(|(k, _)| (k, std::fs::read(d.join(n)).unwrap()))
            })
            .collect();
        contents.sort();
        let contents: Vec<Vec<u8>> = contents.into_iter().map(|(_, c)| c).collect();
        assert_eq!(
            contents,
            vec![
                b"{\"a\":1}\n".to_vec(),
                b"{\"long\":\"0123456789\"}\n".to_vec()
            ]
        );
        assert_eq!(std::fs::read(&live).unwrap(), b"{\"a\":2}\n");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn time_rotation_names_the_file_by_its_start() {
        let d = dir("time");
        let live = d.join("app.jsonl");
        let mut s =
            FileSink::with_config(FileConfig::new(&live).rotate_every(Rotation::Hourly)).unwrap();
        let started = s.start;
        write_all(&mut s, b"{\"a\":1}\n");
        s.expire_deadline();
        write_all(&mut s, b"{\"a\":2}\n");
        let expected = Pattern::new(&live).name(&naming::stamp(started, None), 0);
        assert_eq!(std::fs::read(d.join(&expected)).unwrap(), b"{\"a\":1}\n");
        assert_eq!(std::fs::read(&live).unwrap(), b"{\"a\":2}\n");
        // The new file starts at its period's start.
        assert_eq!(s.start, period_start(unix_now(), Rotation::Hourly, false));
        assert_eq!(
            s.counters
                .rotations
                .load(std::sync::atomic::Ordering::Relaxed),
            1
        );
        drop(s);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn collisions_get_increasing_suffixes() {
        let d = dir("collide");
        let live = d.join("app.jsonl");
        let mut s = FileSink::with_config(FileConfig::new(&live).rotate_size(8)).unwrap();
        // Pin the start so every rotation has the same stamp.
        for i in 0..4 {
            s.start = 1_800_000_000;
            write_all(&mut s, format!("{{\"a\":{i}}}\n").as_bytes());
        }
        s.start = 1_800_000_000;
        write_all(&mut s, b"{\"a\":9}\n");
        let names = files(&d);
        assert_eq!(
            names,
            vec![
                "app.2027-01-15T08-00-00Z.1.jsonl",
                "app.2027-01-15T08-00-00Z.2.jsonl",
                "app.2027-01-15T08-00-00Z.3.jsonl",
                "app.2027-01-15T08-00-00Z.jsonl",
                "app.jsonl",
            ]
        );
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_failed_rename_keeps_writing_counts_and_retries() {
        let d = dir("rename");
        let live = d.join("app.jsonl");
        let mut s = FileSink::with_config(FileConfig::new(&live).rotate_size(8)).unwrap();
        write_all(&mut s, b"{\"a\":1}\n");
        s.fail_renames = 1;
        // The rotation fails: the line goes to the live file all the same.
        write_all(&mut s, b"{\"a\":2}\n");
        assert_eq!(std::fs::read(&live).unwrap(), b"{\"a\":1}\n{\"a\":2}\n");
        assert_eq!(
            s.counters
                .rotate_errors
                .load(std::sync::atomic::Ordering::Relaxed),
            1
        );
        assert_eq!(
            s.counters
                .rotations
                .load(std::sync::atomic::Ordering::Relaxed),
            0
        );
        // After the backoff the rotation is tried again, and works.
        s.retry_at = Some(Instant::now());
        write_all(&mut s, b"{\"a\":3}\n");
        assert_eq!(std::fs::read(&live).unwrap(), b"{\"a\":3}\n");
        assert_eq!(
            s.counters
                .rotations
                .load(std::sync::atomic::Ordering::Relaxed),
            1
        );
        assert_eq!(files(&d).len(), 2);
        let _ = std::fs::remove_dir_all(&d);
    }
}
