//! Modes of the files a file sink creates: 0640 by default, the configured
//! mode exactly (bits the umask would strip included), for the live file,
//! the files rotation creates and the compressed files; a file that already
//! exists keeps its mode.
#![cfg(unix)]

#[path = "common/files.rs"]
mod files;

use datapunk_log::Sink;
use datapunk_log::sink::{Compression, FileConfig};
use files::{Dir, mode_of, rotated};

fn write_all(sink: &mut dyn Sink, mut buf: &[u8]) {
    while !buf.is_empty() {
        let n = sink.write(buf).unwrap();
        assert!(n > 0);
        buf = &buf[n..];
    }
}

#[test]
fn default_mode_is_0640() {
    let dir = Dir::new("mode-default");
    let live = dir.join("app.jsonl");
    let mut s =
        datapunk_log::FileSink::with_config(FileConfig::new(&live).rotate_size(10)).unwrap();
    assert_eq!(mode_of(&live), 0o640);
    write_all(&mut s, b"{\"a\":1}\n{\"a\":2}\n");
    drop(s);
    assert_eq!(mode_of(&live), 0o640);
    let rot = rotated(&live);
    assert_eq!(rot.len(), 1);
    assert_eq!(mode_of(&rot[0].path), 0o640);
    let plain = dir.join("plain.jsonl");
    drop(datapunk_log::FileSink::open(&plain).unwrap());
    assert_eq!(mode_of(&plain), 0o640);
}

#[test]
fn configured_mode_is_exact_for_every_created_file() {
    let dir = Dir::new("mode-set");
    let live = dir.join("app.jsonl");
    // Group write: the usual umask (022) would strip it.
    let mut s = datapunk_log::FileSink::with_config(
        FileConfig::new(&live)
            .rotate_size(10)
            .compress(Compression::Gzip)
            .mode(0o664),
    )
    .unwrap();
    write_all(&mut s, b"{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n");
    drop(s);
    assert_eq!(mode_of(&live), 0o664);
    let rot = rotated(&live);
    assert_eq!(rot.len(), 2);
    for r in rot {
        assert_eq!(r.compressed, ".gz");
        assert_eq!(mode_of(&r.path), 0o664);
    }
    let private = dir.join("private.jsonl");
    drop(datapunk_log::FileSink::with_config(FileConfig::new(&private).mode(0o600)).unwrap());
    assert_eq!(mode_of(&private), 0o600);
}

#[test]
fn an_existing_file_keeps_its_mode() {
    use std::os::unix::fs::PermissionsExt;
    let dir = Dir::new("mode-keep");
    let live = dir.join("app.jsonl");
    std::fs::write(&live, b"{\"old\":1}\n").unwrap();
    std::fs::set_permissions(&live, std::fs::Permissions::from_mode(0o604)).unwrap();
    let mut s = datapunk_log::FileSink::open(&live).unwrap();
    write_all(&mut s, b"{\"a\":1}\n");
    drop(s);
    assert_eq!(mode_of(&live), 0o604);
    assert_eq!(std::fs::read(&live).unwrap(), b"{\"old\":1}\n{\"a\":1}\n");
}

#[test]
fn builder_file_sinks_get_their_modes() {
    let dir = Dir::new("mode-engine");
    let a = dir.join("a.jsonl");
    let b = dir.join("b.jsonl");
    let guard = datapunk_log::builder()
        .json_file(&a)
        .file(FileConfig::new(&b).mode(0o600))
        .ignore_env()
        .init()
        .expect("init");
    datapunk_log::info!(target: "modes", "hello");
    datapunk_log::flush();
    drop(guard);
    assert_eq!(mode_of(&a), 0o640);
    assert_eq!(mode_of(&b), 0o600);
    let names: Vec<String> = datapunk_log::sink_stats()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert!(names.is_empty() || names == [a.display().to_string(), b.display().to_string()]);
}
