//! After the guard is dropped, no call takes the call-site registry's lock:
//! a disabled call stays one load, an enabled one is counted as discarded
//! without the lock, and call sites first reached after the shutdown behave
//! the same.
//!
//! One engine for the whole binary (one engine per process).

use datapunk_log::__private::registry_locks;

fn enabled_site(i: u64) {
    datapunk_log::info!(i, "after shutdown");
}

fn disabled_site(i: u64) {
    datapunk_log::debug!(i, "never written");
}

#[test]
fn no_call_after_the_shutdown_takes_the_registry_lock() {
    let guard = datapunk_log::builder()
        .null()
        .ignore_env()
        .filter("info")
        .init()
        .expect("init");
    enabled_site(0);
    disabled_site(0);
    datapunk_log::flush();
    drop(guard);
    let before = datapunk_log::stats();
    let locks = registry_locks();
    for i in 0..1000 {
        enabled_site(i);
        disabled_site(i);
        // Call sites no call reached before the shutdown.
        datapunk_log::warn!(i, "first reached after shutdown");
        datapunk_log::trace!(i, "first reached after shutdown, disabled");
        drop(datapunk_log::span!("after-shutdown-span"));
    }
    assert_eq!(
        registry_locks(),
        locks,
        "a call after the shutdown took the registry lock"
    );
    let after = datapunk_log::stats();
    // The enabled calls are counted (two log call sites and the span's).
    assert_eq!(after.discarded - before.discarded, 3 * 1000);
    assert_eq!(after.written, before.written);
}
