//! `init()` failures leave no engine behind and name what is wrong; the file
//! sink appends to an existing file; a running engine refuses a second init.

mod common;

use std::time::Duration;

use datapunk_log::{InitError, Overflow};

#[test]
fn init_errors_then_success() {
    let dir = common::TempDir(common::temp_path("init-errors"));
    std::fs::create_dir_all(&dir.0).unwrap();

    // Settings out of range.
    match datapunk_log::builder()
        .ring_capacity(4095)
        .ignore_env()
        .init()
    {
        Err(e @ InitError::Config(_)) => {
            let shown = e.to_string();
            assert!(shown.contains("ring_capacity"), "{shown}");
            assert!(shown.contains("4095"), "{shown}");
        }
        other => panic!("ring_capacity(4095): {other:?}"),
    }
    match datapunk_log::builder().batch_bytes(0).ignore_env().init() {
        Err(InitError::Config(m)) => assert!(m.contains("batch_bytes"), "{m}"),
        other => panic!("batch_bytes(0): {other:?}"),
    }

    // A file that cannot be opened: its parent is a regular file.
    let blocker = dir.0.join("not-a-dir");
    std::fs::write(&blocker, b"x").unwrap();
    let bad = blocker.join("app.json");
    match datapunk_log::builder().json_file(&bad).ignore_env().init() {
        Err(e @ InitError::File { .. }) => {
            let InitError::File { path, .. } = &e else {
                unreachable!()
            };
            assert_eq!(path, &bad);
            assert!(e.to_string().contains("app.json"), "{e}");
            assert!(std::error::Error::source(&e).is_some());
        }
        other => panic!("unopenable file: {other:?}"),
    }
    // A bad filter.
    assert!(matches!(
        datapunk_log::builder().filter("x=y").ignore_env().init(),
        Err(InitError::Filter { .. })
    ));

    // None of these installed anything.
    assert!(!datapunk_log::flush_timeout(Duration::from_millis(10)));
    datapunk_log::info!("not captured");
    let s = datapunk_log::stats();
    assert_eq!(s.produced, 0);
    assert_eq!(s.discarded, 1);

    // The builder is printable.
    let b = datapunk_log::builder()
        .ring_capacity(1 << 16)
        .overflow(Overflow::Drop);
    let shown = format!("{b:?}");
    assert!(shown.contains("65536") && shown.contains("Drop"), "{shown}");

    // The file sink appends to what is there.
    let path = dir.0.join("app.json");
    std::fs::write(&path, "{\"pre\":\"existing\"}\n").unwrap();
    let guard = datapunk_log::builder()
        .json_file(&path)
        .ignore_env()
        .init()
        .expect("init");
    assert!(matches!(
        datapunk_log::builder().ignore_env().init(),
        Err(InitError::AlreadyInitialized)
    ));
    for i in 0..3u64 {
        datapunk_log::info!(i, "appended");
    }
    drop(guard);
    let lines = common::parse_bytes(&std::fs::read(&path).unwrap());
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0].str("pre"), "existing");
    for (i, l) in lines[1..].iter().enumerate() {
        assert_eq!(l.u64("i"), i as u64);
        assert_eq!(l.message(), "appended");
    }
    // The call before init is still counted, once.
    assert_eq!(datapunk_log::stats().discarded, 1);
}
