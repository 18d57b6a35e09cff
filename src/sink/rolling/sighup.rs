//! `reopen()` on SIGHUP (opt-in: `Builder::reopen_on_sighup`), the signal
//! `logrotate` and most service managers send after moving a log file away.
//!
//! A thread waits for the signal through `signal-hook`'s iterator (the
//! handler itself only writes to a pipe, which is async-signal-safe) and
//! calls [`super::reopen`]. Once installed, SIGHUP no longer ends the
//! process; the handler stays for the life of the process.

use std::sync::Mutex;

/// Whether the handler is installed (once per process).
static INSTALLED: Mutex<bool> = Mutex::new(false);

/// Installs the handler and its thread, once.
#[cfg(unix)]
pub(crate) fn install() -> std::io::Result<()> {
    use signal_hook::consts::SIGHUP;
    use signal_hook::iterator::Signals;

    let mut installed = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
    if *installed {
        return Ok(());
    }
    let mut signals = Signals::new([SIGHUP])?;
    // A failed spawn drops the closure and with it `signals`, which
    // unregisters the action (signal-hook's own handler stays installed,
    // doing nothing for SIGHUP).
    std::thread::Builder::new()
        .name("datapunk-log-sighup".into())
        .spawn(move || {
            for _ in signals.forever() {
                super::reopen();
            }
        })?;
    *installed = true;
    Ok(())
}

/// SIGHUP is Unix only; elsewhere this does nothing.
#[cfg(not(unix))]
pub(crate) fn install() -> std::io::Result<()> {
    let _ = &INSTALLED;
    Ok(())
}
