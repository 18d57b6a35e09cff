//! Rotation, retention and compression of file sinks.
//!
//! * [`FileConfig`]: what a rotating file sink does (the builder's
//!   `Builder::file`).
//! * `time`: civil time, UTC by hand and the local offset from libc.
//! * `naming`: the rotated files' names, and reading them back.
//! * `retention`: which rotated files to delete.
//! * `compress`: the sink's file thread (compression, retention).
//! * `parse`: the settings as text (`100MiB`, `daily`, `gzip`, `7d`).
//! * `sighup`: `reopen()` on SIGHUP.

mod compress;
pub(crate) mod naming;
mod parse;
pub(crate) mod retention;
mod sighup;
pub(crate) mod time;

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub use compress::{CompressionHold, hold_compression};
pub(crate) use compress::{Ctx, Job, Worker};
pub use parse::{ByteSize, HumanDuration, ParseError};
pub(crate) use retention::Retention;
pub(crate) use sighup::{OnSighup, install as install_sighup};

/// Default mode of the log files a file sink creates: owner read-write,
/// group read.
pub const DEFAULT_MODE: u32 = 0o640;

/// When a file sink starts a new file by the clock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rotation {
    /// Not by the clock (the default).
    #[default]
    Never,
    /// At the start of every hour (of UTC, or of local time with
    /// [`FileConfig::local_time`]).
    Hourly,
    /// At midnight (UTC, or local time with [`FileConfig::local_time`]).
    Daily,
}

/// How rotated files are compressed, on the sink's file thread.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Compression {
    /// Left as they are (the default).
    #[default]
    None,
    /// gzip (`.gz`, flate2's default level); cargo feature `gzip`.
    Gzip,
    /// zstd (`.zst`, level 3); cargo feature `zstd`.
    Zstd,
}

/// A JSON-lines file sink with rotation, retention and compression, for
/// `Builder::file`.
///
/// ```no_run
/// use std::time::Duration;
/// use datapunk_log::sink::{Compression, FileConfig, Rotation};
///
/// let _guard = datapunk_log::builder()
///     .file(
///         FileConfig::new("/var/log/app/app.jsonl")
///             .rotate_size(100 << 20)
///             .rotate_every(Rotation::Daily)
///             .keep_files(14)
///             .max_age(Duration::from_secs(7 * 86_400))
///             .compress(Compression::Gzip),
///     )
///     .init()
///     .unwrap();
/// ```
///
/// The live file keeps its name; a rotation renames it to
/// `app.<stamp>.jsonl` and creates a new `app.jsonl` (never copy and
/// truncate), always between two lines. The stamp is the time the file's
/// content starts: when the file was created (or when the sink opened it,
/// where the file system does not tell), and for a file started by a
/// rotation by time, the start of its period. So sorting the files by stamp
/// sorts them by content; see the README for the exact rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileConfig {
    pub(crate) path: PathBuf,
    pub(crate) rotate_size: Option<u64>,
    pub(crate) rotation: Rotation,
    pub(crate) local_time: bool,
    pub(crate) retention: Retention,
    pub(crate) compression: Compression,
    pub(crate) mode: u32,
}

impl FileConfig {
    /// A file sink appending to `path` (parent directories are created),
    /// without rotation.
    pub fn new(path: impl Into<PathBuf>) -> FileConfig {
        FileConfig {
            path: path.into(),
            rotate_size: None,
            rotation: Rotation::Never,
            local_time: false,
            retention: Retention::default(),
            compression: Compression::None,
            mode: DEFAULT_MODE,
        }
    }

    /// Rotates before a batch's next line would take the live file past
    /// `bytes` (at least 1). A single line longer than that goes alone into
    /// a file.
    pub fn rotate_size(mut self, bytes: u64) -> FileConfig {
        self.rotate_size = Some(bytes);
        self
    }

    /// Rotates at the start of every hour or day (default
    /// [`Rotation::Never`]). Both this and [`FileConfig::rotate_size`] can
    /// be set: whichever comes first rotates.
    pub fn rotate_every(mut self, rotation: Rotation) -> FileConfig {
        self.rotation = rotation;
        self
    }

    /// Hours, days and the stamps in rotated names in local time
    /// (`2026-12-03T14-00-00+0100`) rather than UTC
    /// (`2026-12-03T13-00-00Z`, the default). The zone is the process's
    /// (`TZ`, else the system's), read with `localtime_r`.
    pub fn local_time(mut self, on: bool) -> FileConfig {
        self.local_time = on;
        self
    }

    /// Keeps at most `n` rotated files; the oldest go first.
    pub fn keep_files(mut self, n: usize) -> FileConfig {
        self.retention.keep_files = Some(n);
        self
    }

    /// Deletes rotated files last modified longer than `age` ago (the
    /// oldest run of them).
    pub fn max_age(mut self, age: Duration) -> FileConfig {
        self.retention.max_age = Some(age);
        self
    }

    /// Keeps the rotated files at most `bytes` in all (the live file not
    /// counted); the oldest go first.
    pub fn max_total_bytes(mut self, bytes: u64) -> FileConfig {
        self.retention.max_total_bytes = Some(bytes);
        self
    }

    /// Compresses rotated files on the sink's file thread (default
    /// [`Compression::None`]).
    pub fn compress(mut self, compression: Compression) -> FileConfig {
        self.compression = compression;
        self
    }

    /// The permission bits of the files the sink creates (default
    /// [`DEFAULT_MODE`], `0o640`), set exactly, whatever the umask. Files
    /// that already exist keep theirs. Unix only; ignored elsewhere.
    pub fn mode(mut self, mode: u32) -> FileConfig {
        self.mode = mode;
        self
    }

    /// The live file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Checks the settings (`init()` reports what is wrong).
    pub(crate) fn check(&self) -> Result<(), String> {
        let p = self.path.display();
        if self.path.file_name().is_none() {
            return Err(format!("file sink {p}: the path names no file"));
        }
        if self.rotate_size == Some(0) {
            return Err(format!(
                "file sink {p}: rotate_size must be at least 1 byte"
            ));
        }
        if self.mode > 0o7777 {
            return Err(format!(
                "file sink {p}: mode {:o} has bits beyond 0o7777",
                self.mode
            ));
        }
        let missing = match self.compression {
            Compression::Gzip if !cfg!(feature = "gzip") => Some("gzip"),
            Compression::Zstd if !cfg!(feature = "zstd") => Some("zstd"),
            _ => None,
        };
        if let Some(f) = missing {
            return Err(format!(
                "file sink {p}: {f} compression needs datapunk-log's `{f}` cargo feature"
            ));
        }
        Ok(())
    }

    /// Whether the sink needs a file thread.
    pub(crate) fn needs_worker(&self) -> bool {
        self.compression != Compression::None || self.retention.is_set()
    }
}

/// Bumped by [`reopen`]; each file sink compares it with the value it saw
/// at its last open, once per batch.
static REOPEN: AtomicU64 = AtomicU64::new(0);

/// Makes every file sink close and reopen its path before its next write
/// (for external rotation: after `logrotate` renamed `app.jsonl`, the next
/// lines go to a new `app.jsonl`). Cheap and safe to call from any thread;
/// `Builder::reopen_on_sighup` calls it on SIGHUP.
pub fn reopen() {
    REOPEN.fetch_add(1, Ordering::Release);
}

/// The reopen generation (tests: has a SIGHUP been seen?). Not a stable API.
#[doc(hidden)]
pub fn reopen_generation() -> u64 {
    REOPEN.load(Ordering::Acquire)
}

/// Sets a file's permission bits exactly (the umask only applies at
/// creation).
fn set_mode(file: &File, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(mode))
    }
    #[cfg(not(unix))]
    {
        let _ = (file, mode);
        Ok(())
    }
}

fn with_mode(o: &mut OpenOptions, mode: u32) -> &mut OpenOptions {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = mode;
        o
    }
}

/// Creates (or truncates) a file for writing with exactly `mode`.
pub(crate) fn create_file(path: &Path, mode: u32, truncate: bool) -> io::Result<File> {
    let f = with_mode(
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(truncate),
        mode,
    )
    .open(path)?;
    set_mode(&f, mode)?;
    Ok(f)
}

/// Opens `path` for appending; a file it creates gets exactly `mode`.
/// Returns the file and whether it was created.
pub(crate) fn open_append(path: &Path, mode: u32) -> io::Result<(File, bool)> {
    let mut last = None;
    // Created, or found: a file removed between the two attempts is
    // created on the next round.
    for _ in 0..3 {
        match with_mode(OpenOptions::new().append(true).create_new(true), mode).open(path) {
            Ok(f) => {
                set_mode(&f, mode)?;
                return Ok((f, true));
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        match OpenOptions::new().append(true).open(path) {
            Ok(f) => return Ok((f, false)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("cannot open the log file")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks() {
        assert!(FileConfig::new("a/b.jsonl").check().is_ok());
        let e = FileConfig::new("b.jsonl")
            .rotate_size(0)
            .check()
            .unwrap_err();
        assert!(e.contains("rotate_size"), "{e}");
        let e = FileConfig::new("b.jsonl")
            .mode(0o17777)
            .check()
            .unwrap_err();
        assert!(e.contains("mode"), "{e}");
        assert!(FileConfig::new("/").check().is_err());
        assert!(!FileConfig::new("b").needs_worker());
        assert!(FileConfig::new("b").keep_files(3).needs_worker());
        assert!(
            FileConfig::new("b")
                .compress(Compression::Gzip)
                .needs_worker()
        );
    }
}
