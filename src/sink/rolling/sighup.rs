//! What SIGHUP does, once asked: `reopen()` (opt-in:
//! `Builder::reopen_on_sighup`), the signal `logrotate` and most service
//! managers send after moving a log file away, and reloading the
//! configuration file (`Builder::reload_on_sighup`). Both share one
//! handler and one thread.
//!
//! The thread waits for the signal through `signal-hook`'s iterator (the
//! handler itself only writes to a pipe, which is async-signal-safe) and
//! does what was asked: reopen first, then reload. Once installed, SIGHUP
//! no longer ends the process; the handler stays for the life of the
//! process.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether the handler is installed (once per process).
static INSTALLED: Mutex<bool> = Mutex::new(false);
/// SIGHUP reopens the file sinks.
static REOPEN: AtomicBool = AtomicBool::new(false);
/// What SIGHUP runs to reload the configuration (None: nothing).
static RELOAD: Mutex<Option<fn()>> = Mutex::new(None);

/// What to do on SIGHUP.
#[derive(Clone, Copy, Debug)]
pub(crate) enum OnSighup {
    /// `super::reopen()`.
    Reopen,
    /// Run this (the configuration file's reload).
    #[cfg_attr(not(feature = "config-file"), allow(dead_code))]
    Reload(fn()),
}

/// Adds `action` to what SIGHUP does, installing the handler and its
/// thread once.
#[cfg(unix)]
pub(crate) fn install(action: OnSighup) -> std::io::Result<()> {
    use signal_hook::consts::SIGHUP;
    use signal_hook::iterator::Signals;

    let mut installed = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
    if !*installed {
        let mut signals = Signals::new([SIGHUP])?;
        // A failed spawn drops the closure and with it `signals`, which
        // unregisters the action (signal-hook's own handler stays installed,
        // doing nothing for SIGHUP).
        std::thread::Builder::new()
            .name("datapunk-log-sighup".into())
            .spawn(move || {
                for _ in signals.forever() {
                    if REOPEN.load(Ordering::Acquire) {
                        super::reopen();
                    }
                    let reload = *RELOAD.lock().unwrap_or_else(|e| e.into_inner());
                    if let Some(f) = reload {
                        f();
                    }
                }
            })?;
        *installed = true;
    }
    match action {
        OnSighup::Reopen => REOPEN.store(true, Ordering::Release),
        OnSighup::Reload(f) => *RELOAD.lock().unwrap_or_else(|e| e.into_inner()) = Some(f),
    }
    Ok(())
}

/// SIGHUP is Unix only; elsewhere this does nothing.
#[cfg(not(unix))]
pub(crate) fn install(action: OnSighup) -> std::io::Result<()> {
    let _ = (&INSTALLED, &REOPEN, &RELOAD, action);
    Ok(())
}
