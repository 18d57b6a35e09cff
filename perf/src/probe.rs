//! `--probe SUBJECT [--calls N] [--disabled]`: makes N calls, each through
//! a non-inlined function, for instruction counting under
//! `valgrind --tool=callgrind` (inclusive cost of `probe_call` / N) or
//! `perf stat` (difference between two N). Calls go in chunks of 10 000
//! with an untimed settle between chunks, so a ring never fills (no
//! blocking or dropping inside the probe). No timing is done here.

use std::hint::black_box;
use std::path::PathBuf;

use crate::profile::OverflowKind;
use crate::scenario::ROUTE;
use crate::subject::{Logger, LoggerFn, Setup, SubjectKind, with_logger};

#[inline(never)]
pub fn probe_call<L: Logger>(l: &L, user_id: u64, latency: f64, route: &str) {
    l.log(user_id, latency, route);
}

#[inline(never)]
pub fn probe_disabled<L: Logger>(l: &L, user_id: u64, latency: f64, route: &str) {
    l.log_disabled(user_id, latency, route);
}

struct Probe {
    calls: u64,
    disabled: bool,
}

impl LoggerFn<Result<(), String>> for Probe {
    fn call<L: Logger>(self, l: L) -> Result<(), String> {
        const CHUNK: u64 = 10_000;
        // One call first, so the thread's first-call setup is not in the chunks.
        probe_call(&l, 0, 0.5, ROUTE);
        let mut made = 1;
        l.settle(made);
        let mut done = 0;
        while done < self.calls {
            let end = (done + CHUNK).min(self.calls);
            for i in done..end {
                let lat = (i & 1023) as f64 * 0.25 + 0.5;
                if self.disabled {
                    probe_disabled(&l, black_box(i), black_box(lat), black_box(ROUTE));
                } else {
                    probe_call(&l, black_box(i), black_box(lat), black_box(ROUTE));
                    made += 1;
                }
            }
            done = end;
            l.settle(made);
        }
        l.finish(made).map(|_| ())
    }
}

pub fn run(kind: SubjectKind, calls: u64, disabled: bool, log_dir: &str) -> Result<(), String> {
    let setup = Setup {
        path: PathBuf::from(log_dir).join(format!("probe-{}.log", kind.name())),
        overflow: OverflowKind::Block,
        ring_capacity: Some(64 << 20),
        batch_bytes: None,
        peer_queue: Some(1 << 16),
    };
    let r = with_logger(kind, &setup, Probe { calls, disabled })?;
    let _ = std::fs::remove_file(&setup.path);
    r
}
