//! Flushing on SIGTERM / SIGINT (opt-in: `Builder::flush_on_signal`).
//!
//! A thread waits for the signals through `signal-hook` (the handler itself
//! only writes to a pipe, which is async-signal-safe). On a signal it flushes,
//! then emulates the signal's default action, so the process ends as it would
//! have without a handler: by the signal, with the records written.

use std::time::Duration;

#[cfg(unix)]
pub(crate) fn install(timeout: Duration) -> std::io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    use signal_hook::iterator::Signals;

    let mut signals = Signals::new([SIGTERM, SIGINT])?;
    std::thread::Builder::new()
        .name("datapunk-log-signal".into())
        .spawn(move || {
            if let Some(sig) = signals.forever().next() {
                crate::flush_timeout(timeout);
                // Back to the default disposition, then deliver it again.
                let _ = signal_hook::low_level::emulate_default_handler(sig);
                // Only reached if the default action does not end the process.
                std::process::exit(128 + sig);
            }
        })?;
    Ok(())
}

#[cfg(not(unix))]
pub(crate) fn install(_timeout: Duration) -> std::io::Result<()> {
    Ok(())
}
