//! In-memory sink that tests (and users) can read back.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use super::Sink;

/// A shared in-memory buffer of JSON lines. Clone it, give one clone to
/// [`crate::Builder::memory`], and read the lines from the other.
///
/// It grows without bound: meant for tests and short diagnostics.
#[derive(Clone, Debug, Default)]
pub struct MemorySink {
    buf: Arc<Mutex<Vec<u8>>>,
}

impl MemorySink {
    /// An empty sink.
    pub fn new() -> MemorySink {
        MemorySink::default()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<u8>> {
        self.buf.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A copy of everything written so far.
    pub fn contents(&self) -> Vec<u8> {
        self.lock().clone()
    }

    /// Everything written so far, as lines (lossy UTF-8, which never happens
    /// for this engine's output).
    pub fn lines(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.lock())
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Takes everything written so far, leaving the sink empty.
    pub fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.lock())
    }
}

impl Sink for MemorySink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.lock().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
