//! Flushing on SIGTERM / SIGINT (`Builder::flush_on_signal`, default
//! [`SignalFlush::Flush`]).
//!
//! The engine installs its own handler with `sigaction`, remembering the
//! disposition it replaced. The handler only writes the signal's number to a
//! socket (async-signal-safe) and calls the replaced handler, if any; a
//! thread of the engine, `datapunk-log-signal`, reads the socket and flushes.
//!
//! What happens after the flush is what would have happened without the
//! engine's handler, decided when the signal arrives:
//!
//! - Another handler is in force: one installed before `init()` (the engine
//!   calls it from its own), or one installed after it (`tokio::signal`,
//!   `signal-hook`, `ctrlc`: signal-hook-registry, which the first two use,
//!   chains the engine's handler; `ctrlc::set_handler` replaces it). The
//!   process is the application's: the engine keeps running, so the
//!   application's shutdown records are written, and the guard's drop
//!   flushes them.
//! - No other handler (the disposition was the default and is still the
//!   engine's handler): the signal's default action, as if no handler had
//!   been installed: the process ends by the signal, with its records
//!   written. A second signal of the same kind during that flush ends the
//!   process at once.
//! - An ignored signal (`SIG_IGN`, as under `nohup`) stays ignored: no
//!   handler is installed for it.
//! - In a child forked without `exec` (the handler, not the thread): what
//!   the signal would do there without the engine's handler, at once.
//!
//! [`SignalFlush::FlushAndExit`] takes the default action after the flush
//! whatever other handlers there are.

/// What the engine does on SIGTERM and SIGINT (Unix; elsewhere nothing).
/// Set with [`Builder::flush_on_signal`](crate::Builder::flush_on_signal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignalFlush {
    /// No handler is installed: the signal does what it would do without
    /// the engine. Records still queued when the default action ends the
    /// process are lost; an application that handles the signal itself
    /// loses nothing as long as it drops the guard.
    Off,
    /// The default. On the signal, flush every queued record (up to the
    /// shutdown timeout), then leave the process to what would have
    /// happened without the engine's handler: the application's own handler
    /// when it has one (`tokio::signal`, `signal-hook`, `ctrlc`, installed
    /// before or after `init()`), the engine running on so that its
    /// shutdown is logged; the signal's default action (the process ends by
    /// the signal) when it has none. Never ends a process that handles the
    /// signal itself.
    #[default]
    Flush,
    /// On the signal, flush, then the signal's default action whatever
    /// other handlers there are: the process ends by the signal even when
    /// the application handles it (its own shutdown does not run).
    FlushAndExit,
}

#[cfg(unix)]
pub(crate) use imp::install;

#[cfg(not(unix))]
pub(crate) fn install(_mode: SignalFlush, _timeout: std::time::Duration) -> std::io::Result<()> {
    Ok(())
}

#[cfg(unix)]
mod imp {
    use std::io::Read;
    use std::os::fd::IntoRawFd;
    use std::os::raw::{c_int, c_void};
    use std::os::unix::net::UnixStream;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU8, AtomicUsize, Ordering};
    use std::time::Duration;

    use libc::{SIG_DFL, SIG_IGN, SIGINT, SIGTERM, siginfo_t};

    use super::SignalFlush;

    /// One handled signal: the disposition the engine's handler replaced,
    /// and whether a flush that ends in the default action is under way.
    struct Slot {
        signal: c_int,
        /// `sa_sigaction` of the replaced disposition (`SIG_DFL`, or a
        /// handler the engine's handler calls).
        prev: AtomicUsize,
        /// The replaced handler takes `(sig, info, context)` (`SA_SIGINFO`).
        prev_siginfo: AtomicBool,
        /// The engine's handler is installed for this signal.
        installed: AtomicBool,
        /// The signal thread decided on the default action and is flushing:
        /// a second signal ends the process at once.
        exit_pending: AtomicBool,
    }

    impl Slot {
        const fn new(signal: c_int) -> Slot {
            Slot {
                signal,
                prev: AtomicUsize::new(SIG_DFL),
                prev_siginfo: AtomicBool::new(false),
                installed: AtomicBool::new(false),
                exit_pending: AtomicBool::new(false),
            }
        }
    }

    static SLOTS: [Slot; 2] = [Slot::new(SIGTERM), Slot::new(SIGINT)];
    /// The write end of the socket the signal thread reads (-1: none).
    static WAKE_FD: AtomicI32 = AtomicI32::new(-1);
    /// The process that owns the signal thread. A child forked without
    /// `exec` keeps the handler and the socket but not the thread: its
    /// signals must not reach the parent's thread.
    static OWNER_PID: AtomicI32 = AtomicI32::new(0);
    /// The mode of the last `init()` that asked for signal flushing.
    static MODE: AtomicU8 = AtomicU8::new(SignalFlush::Flush as u8);
    /// The flush's time limit (the shutdown timeout); the thread reads it.
    static TIMEOUT: Mutex<Duration> = Mutex::new(Duration::from_secs(5));
    /// The signal thread runs (once per process); held while installing.
    static THREAD_STARTED: Mutex<bool> = Mutex::new(false);

    fn slot(signal: c_int) -> Option<&'static Slot> {
        SLOTS.iter().find(|s| s.signal == signal)
    }

    fn handler_addr() -> usize {
        handler as extern "C" fn(c_int, *mut siginfo_t, *mut c_void) as *const () as usize
    }

    /// The engine's handler: async-signal-safe (atomics, `getpid`, `write`,
    /// and to end the process `sigaction`/`sigprocmask`/`raise`), errno
    /// preserved.
    extern "C" fn handler(signal: c_int, info: *mut siginfo_t, context: *mut c_void) {
        let saved = errno::errno();
        if let Some(slot) = slot(signal) {
            // SAFETY: getpid(2) has no preconditions and is async-signal-safe.
            if unsafe { libc::getpid() } != OWNER_PID.load(Ordering::SeqCst) {
                forked_child(slot, info, context);
            } else {
                if slot.exit_pending.load(Ordering::SeqCst) {
                    // The impatient second Ctrl-C: the flush is given up.
                    let _ = signal_hook::low_level::emulate_default_handler(signal);
                }
                let fd = WAKE_FD.load(Ordering::SeqCst);
                if fd >= 0 {
                    let byte = signal as u8;
                    // SAFETY: `fd` is the write end of the signal thread's
                    // socket, never closed once stored; `byte` is a live
                    // 1-byte buffer. A full socket (EAGAIN: signals already
                    // pending) loses nothing.
                    let _ = unsafe { libc::write(fd, (&raw const byte).cast(), 1) };
                }
                call_prev(slot, info, context);
            }
        }
        errno::set_errno(saved);
    }

    /// Calls the handler the engine's replaced, if there was one; false
    /// when the replaced disposition was the default.
    fn call_prev(slot: &Slot, info: *mut siginfo_t, context: *mut c_void) -> bool {
        let prev = slot.prev.load(Ordering::SeqCst);
        if prev == SIG_DFL || prev == SIG_IGN {
            return false;
        }
        let prev = prev as *const ();
        if slot.prev_siginfo.load(Ordering::SeqCst) {
            type Action = extern "C" fn(c_int, *mut siginfo_t, *mut c_void);
            // SAFETY: `prev` is the `sa_sigaction` of the disposition the
            // engine replaced, neither SIG_DFL nor SIG_IGN, so a handler;
            // with SA_SIGINFO it takes these three arguments, which the
            // kernel just gave to the engine's handler.
            let action = unsafe { std::mem::transmute::<*const (), Action>(prev) };
            action(slot.signal, info, context);
        } else {
            type Handler = extern "C" fn(c_int);
            // SAFETY: as above; without SA_SIGINFO a handler takes only the
            // signal number.
            let action = unsafe { std::mem::transmute::<*const (), Handler>(prev) };
            action(slot.signal);
        }
        true
    }

    /// In a child forked without `exec` (no signal thread, no writer): what
    /// the signal would do without the engine's handler, at once.
    fn forked_child(slot: &Slot, info: *mut siginfo_t, context: *mut c_void) {
        if call_prev(slot, info, context) {
            return;
        }
        // No handler before the engine's; one installed since (which chains
        // this one) has the signal.
        let ours = query(slot.signal).is_ok_and(|now| now.sa_sigaction == handler_addr());
        if ours {
            let _ = signal_hook::low_level::emulate_default_handler(slot.signal);
        }
    }

    /// The disposition of `signal` now.
    fn query(signal: c_int) -> std::io::Result<libc::sigaction> {
        // SAFETY: an all-zero `sigaction` is a valid value of the C struct.
        let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: a null new action only reads the disposition into `old`,
        // a valid, writable `sigaction`.
        if unsafe { libc::sigaction(signal, std::ptr::null(), &mut old) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(old)
    }

    /// Installs the engine's handler for `slot`'s signal unless the signal
    /// is ignored; remembers the replaced disposition.
    fn install_handler(slot: &Slot) -> std::io::Result<()> {
        let current = query(slot.signal)?;
        if current.sa_sigaction == SIG_IGN {
            return Ok(());
        }
        let remember = |old: &libc::sigaction| {
            slot.prev_siginfo
                .store(old.sa_flags & libc::SA_SIGINFO != 0, Ordering::SeqCst);
            slot.prev.store(old.sa_sigaction, Ordering::SeqCst);
        };
        // Before the handler is in force, so it never reads a stale one.
        remember(&current);
        // SAFETY: an all-zero `sigaction` is a valid value of the C struct.
        let mut new: libc::sigaction = unsafe { std::mem::zeroed() };
        new.sa_sigaction = handler_addr();
        new.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
        // SAFETY: `sa_mask` is a valid `sigset_t` to initialise.
        unsafe { libc::sigemptyset(&mut new.sa_mask) };
        // SAFETY: an all-zero `sigaction` is a valid value of the C struct.
        let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: both pointers are to valid `sigaction`s; `handler` is an
        // `extern "C"` function with the SA_SIGINFO signature that stays
        // valid for the life of the process.
        if unsafe { libc::sigaction(slot.signal, &new, &mut old) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if old.sa_sigaction != current.sa_sigaction || old.sa_flags != current.sa_flags {
            // Changed by another thread between the two calls.
            remember(&old);
        }
        slot.installed.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Whether a handler other than the engine's would have the signal:
    /// the one it replaced, or one installed over it since.
    fn others_handle(slot: &Slot) -> bool {
        if slot.prev.load(Ordering::SeqCst) != SIG_DFL {
            return true;
        }
        match query(slot.signal) {
            Ok(now) => now.sa_sigaction != handler_addr(),
            // Cannot tell: leave the process to whoever may have it.
            Err(_) => true,
        }
    }

    fn on_signal(signal: c_int) {
        let Some(slot) = slot(signal) else { return };
        // (`Off` reaches here only when an earlier `init()` installed the
        // handler: it acts as `Flush`, which keeps the signal's meaning.)
        let exit =
            MODE.load(Ordering::SeqCst) == SignalFlush::FlushAndExit as u8 || !others_handle(slot);
        if exit {
            slot.exit_pending.store(true, Ordering::SeqCst);
        }
        let timeout = *TIMEOUT.lock().unwrap_or_else(|e| e.into_inner());
        crate::flush_timeout(timeout);
        if exit {
            // Back to the default disposition, then deliver it again.
            let _ = signal_hook::low_level::emulate_default_handler(signal);
            // Only reached if the default action does not end the process.
            std::process::exit(128 + signal);
        }
    }

    fn run(mut socket: UnixStream) {
        let mut buf = [0u8; 64];
        loop {
            match socket.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    // One flush per kind of signal that came in.
                    for s in &SLOTS {
                        if buf[..n].contains(&(s.signal as u8)) {
                            on_signal(s.signal);
                        }
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }

    /// Sets up signal flushing in `mode` (not `Off`): the first call starts
    /// the thread and installs the handlers (a call after a failed one
    /// installs what is missing); later ones only change the mode and
    /// timeout.
    pub(crate) fn install(mode: SignalFlush, timeout: Duration) -> std::io::Result<()> {
        MODE.store(mode as u8, Ordering::SeqCst);
        *TIMEOUT.lock().unwrap_or_else(|e| e.into_inner()) = timeout;
        let mut started = THREAD_STARTED.lock().unwrap_or_else(|e| e.into_inner());
        if !*started {
            // SAFETY: getpid(2) has no preconditions.
            OWNER_PID.store(unsafe { libc::getpid() }, Ordering::SeqCst);
            let (read, write) = UnixStream::pair()?;
            write.set_nonblocking(true)?;
            std::thread::Builder::new()
                .name("datapunk-log-signal".into())
                .spawn(move || run(read))?;
            // Never closed: the handler may use it at any time.
            WAKE_FD.store(write.into_raw_fd(), Ordering::SeqCst);
            *started = true;
        }
        for slot in &SLOTS {
            if !slot.installed.load(Ordering::SeqCst) {
                install_handler(slot)?;
            }
        }
        Ok(())
    }
}
