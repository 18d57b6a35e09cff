//! Helpers of the file sink tests: a fresh directory, the rotated files of
//! a live file in age order (read from their names), their content
//! (decompressed), and the lines of all of them parsed as JSON.
//!
//! Included with `#[path = "common/files.rs"] mod files;`.
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};

/// A fresh, empty directory under the temp dir, removed when dropped.
pub struct Dir(pub PathBuf);

impl Dir {
    pub fn new(name: &str) -> Dir {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let p = std::env::temp_dir().join(format!(
            "datapunk-log-files-{name}-{}-{nanos}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).unwrap();
        Dir(p)
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// The names in the directory, sorted as text.
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A rotated file: `stem.<stamp>[.N]ext[.gz|.zst]`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rotated {
    /// The UTC stamp (`2026-12-03T13-00-00Z`), which sorts as text.
    pub stamp: String,
    /// The collision number (0: none).
    pub n: u32,
    /// `""`, `".gz"` or `".zst"`.
    pub compressed: String,
    pub path: PathBuf,
}

/// Reads a rotated name of `stem` + `ext` (`app`, `.jsonl`) with a UTC
/// stamp; `None` for any other name.
pub fn parse_rotated(dir: &Path, name: &str, stem: &str, ext: &str) -> Option<Rotated> {
    let rest = name.strip_prefix(stem)?.strip_prefix('.')?;
    if rest.len() < 20 || !rest.is_char_boundary(20) {
        return None;
    }
    let (stamp, rest) = rest.split_at(20);
    let b = stamp.as_bytes();
    let shape_ok = b[19] == b'Z'
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 | 13 | 16 => *c == b'-',
            10 => *c == b'T',
            19 => true,
            _ => c.is_ascii_digit(),
        });
    if !shape_ok {
        return None;
    }
    let (n, rest) = match rest.strip_prefix('.') {
        Some(r) if r.starts_with(|c: char| c.is_ascii_digit()) => {
            let end = r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len());
            (r[..end].parse().ok()?, &r[end..])
        }
        _ => (0, rest),
    };
    let compressed = rest.strip_prefix(ext)?;
    if !["", ".gz", ".zst"].contains(&compressed) {
        return None;
    }
    Some(Rotated {
        stamp: stamp.to_string(),
        n,
        compressed: compressed.to_string(),
        path: dir.join(name),
    })
}

/// The rotated files of `live` (`dir/app.jsonl`), oldest first.
pub fn rotated(live: &Path) -> Vec<Rotated> {
    let dir = live.parent().unwrap();
    let name = live.file_name().unwrap().to_string_lossy().into_owned();
    let (stem, ext) = name.split_at(name.rfind('.').unwrap());
    let mut v: Vec<Rotated> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let n = e.unwrap().file_name().to_string_lossy().into_owned();
            parse_rotated(dir, &n, stem, ext)
        })
        .collect();
    v.sort();
    v
}

/// A file's content, decompressed by its extension.
pub fn content(path: &Path) -> Vec<u8> {
    let raw = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let name = path.to_string_lossy();
    let mut out = Vec::new();
    if name.ends_with(".gz") {
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .unwrap();
    } else if name.ends_with(".zst") {
        out = zstd::stream::decode_all(&raw[..]).unwrap();
    } else {
        out = raw;
    }
    out
}

/// Each line of `bytes` parsed as one JSON object (every line must be one,
/// and the text must end with a newline).
pub fn json_lines(bytes: &[u8]) -> Vec<serde_json::Value> {
    if bytes.is_empty() {
        return Vec::new();
    }
    assert_eq!(bytes.last(), Some(&b'\n'), "a torn last line");
    let text = std::str::from_utf8(bytes).expect("UTF-8");
    text.lines()
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            assert!(v.is_object(), "{l}");
            v
        })
        .collect()
}

/// The rotated files of `live` oldest first, then `live`: each with its
/// (decompressed) content.
pub fn all_in_order(live: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut v: Vec<(PathBuf, Vec<u8>)> = rotated(live)
        .into_iter()
        .map(|r| {
            let c = content(&r.path);
            (r.path, c)
        })
        .collect();
    if live.exists() {
        v.push((live.to_path_buf(), content(live)));
    }
    v
}

/// The permission bits of a file.
#[cfg(unix)]
pub fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}
