//! stdout, stderr and null sinks.

use std::io::{self, Write};

use super::Sink;

/// Writes to the process's standard output.
#[derive(Debug, Default)]
pub(crate) struct StdoutSink;
/// Writes to the process's standard error.
#[derive(Debug, Default)]
pub(crate) struct StderrSink;
/// Discards everything (for benchmarks).
#[derive(Debug, Default)]
pub(crate) struct NullSink;

impl Sink for StdoutSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        io::stdout().lock().write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        io::stdout().lock().flush()
    }
}

impl Sink for StderrSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        io::stderr().lock().write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        io::stderr().lock().flush()
    }
}

impl Sink for NullSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
