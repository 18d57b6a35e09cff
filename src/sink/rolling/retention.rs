//! Which rotated files to keep: at most N files, none older than an age,
//! at most so many bytes in all. Only the sink's own rotated files count
//! (those its name pattern matches; the live file is never touched), and
//! only the oldest are deleted.

use std::io;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use super::naming::{Key, Kind, Pattern};

/// The retention settings of one file sink.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Retention {
    /// Keep at most this many rotated files.
    pub keep_files: Option<usize>,
    /// Delete rotated files last modified longer ago than this.
    pub max_age: Option<Duration>,
    /// Keep the rotated files' sizes at most this in all.
    pub max_total_bytes: Option<u64>,
}

impl Retention {
    /// Whether any bound is set.
    pub(crate) fn is_set(&self) -> bool {
        self.keep_files.is_some() || self.max_age.is_some() || self.max_total_bytes.is_some()
    }
}

/// One rotated file, in all the forms it has on disk now (`app.S.jsonl`
/// and `app.S.jsonl.gz` while its compression finishes).
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub key: Key,
    pub paths: Vec<(PathBuf, Kind)>,
    /// Bytes of all its forms.
    pub bytes: u64,
    /// The latest modification time of its forms.
    pub modified: Option<SystemTime>,
}

/// What a look at the directory found.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    /// The rotated files, oldest first.
    pub entries: Vec<Entry>,
    /// Compressed files left half-written (`.tmp`).
    pub temps: Vec<PathBuf>,
}

/// Lists the sink's rotated files.
pub(crate) fn scan(pattern: &Pattern) -> io::Result<Scan> {
    let mut scan = Scan::default();
    for item in std::fs::read_dir(&pattern.dir)? {
        let Ok(item) = item else { continue };
        let name = item.file_name();
        let Some((key, kind)) = pattern.parse(&name.to_string_lossy()) else {
            continue;
        };
        let path = item.path();
        if kind == Kind::Temp {
            scan.temps.push(path);
            continue;
        }
        // Not a plain file (a directory, a dangling link): not ours.
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        let modified = meta.modified().ok();
        match scan.entries.iter_mut().find(|e| e.key == key) {
            Some(e) => {
                e.paths.push((path, kind));
                e.bytes += meta.len();
                e.modified = e.modified.max(modified);
            }
            None => scan.entries.push(Entry {
                key,
                paths: vec![(path, kind)],
                bytes: meta.len(),
                modified,
            }),
        }
    }
    scan.entries.sort_by_key(|e| e.key);
    Ok(scan)
}

/// How many of `entries` (oldest first) to delete: the most any bound asks
/// for, always a run of the oldest.
pub(crate) fn expired(entries: &[Entry], r: &Retention, now: SystemTime) -> usize {
    let by_count = r.keep_files.map_or(0, |k| entries.len().saturating_sub(k));
    let by_bytes = r.max_total_bytes.map_or(0, |max| {
        let mut total: u64 = entries.iter().map(|e| e.bytes).sum();
        let mut n = 0;
        while total > max && n < entries.len() {
            total -= entries[n].bytes;
            n += 1;
        }
        n
    });
    // The oldest files past the age, up to the first that is not: a file
    // whose time was set forward keeps the older ones after it.
    let by_age = r.max_age.map_or(0, |max| {
        entries
            .iter()
            .take_while(|e| {
                e.modified
                    .and_then(|m| now.duration_since(m).ok())
                    .is_some_and(|age| age > max)
            })
            .count()
    });
    by_count.max(by_bytes).max(by_age)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(spec: &[(u64, u64)]) -> (Vec<Entry>, SystemTime) {
        // (bytes, age in seconds), oldest first.
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let v = spec
            .iter()
            .enumerate()
            .map(|(i, &(bytes, age))| Entry {
                key: Key {
                    unix: i as i64,
                    n: 0,
                },
                paths: Vec::new(),
                bytes,
                modified: Some(now - Duration::from_secs(age)),
            })
            .collect();
        (v, now)
    }

    #[test]
    fn nothing_set_keeps_all() {
        let (e, now) = entries(&[(10, 100), (10, 50)]);
        assert_eq!(expired(&e, &Retention::default(), now), 0);
        assert!(!Retention::default().is_set());
    }

    #[test]
    fn by_count() {
        let (e, now) = entries(&[(1, 5), (1, 4), (1, 3), (1, 2), (1, 1)]);
        let r = |k| Retention {
            keep_files: Some(k),
            ..Retention::default()
        };
        assert_eq!(expired(&e, &r(3), now), 2);
        assert_eq!(expired(&e, &r(5), now), 0);
        assert_eq!(expired(&e, &r(9), now), 0);
        assert_eq!(expired(&e, &r(0), now), 5);
    }

    #[test]
    fn by_total_bytes() {
        let (e, now) = entries(&[(100, 5), (50, 4), (30, 3), (20, 2)]);
        let r = |b| Retention {
            max_total_bytes: Some(b),
            ..Retention::default()
        };
        assert_eq!(expired(&e, &r(200), now), 0);
        assert_eq!(expired(&e, &r(199), now), 1);
        assert_eq!(expired(&e, &r(100), now), 1);
        assert_eq!(expired(&e, &r(50), now), 2);
        assert_eq!(expired(&e, &r(19), now), 4);
    }

    #[test]
    fn by_age_only_the_oldest_run() {
        let (e, now) = entries(&[(1, 500), (1, 400), (1, 10), (1, 900), (1, 1)]);
        let r = Retention {
            max_age: Some(Duration::from_secs(300)),
            ..Retention::default()
        };
        // The fourth is old too, but newer files come before it.
        assert_eq!(expired(&e, &r, now), 2);
    }

    #[test]
    fn the_strictest_bound_wins() {
        let (e, now) = entries(&[(100, 500), (100, 400), (100, 300), (100, 1)]);
        let r = Retention {
            keep_files: Some(3),
            max_age: Some(Duration::from_secs(350)),
            max_total_bytes: Some(150),
        };
        assert_eq!(expired(&e, &r, now), 3);
    }
}
