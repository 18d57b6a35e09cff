//! After a call site's first call, an enabled call allocates nothing on the
//! logging thread (the writer thread's allocations are not counted), and a
//! disabled call allocates nothing at all.

mod common;

use datapunk_log::TraceContext;

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::allocations;

#[derive(Debug)]
#[allow(dead_code)] // read through Debug
struct Small {
    a: u8,
    b: &'static str,
}

fn enabled_call(i: u64, route: &str) {
    let latency = i as f64 * 0.5;
    let status = 200u16;
    let small = Small { a: 1, b: "b" };
    datapunk_log::info!(
        target: "na",
        i,
        latency,
        route,
        neg = -(i as i64),
        ok = true,
        c = 'x',
        opt = Some(3u8),
        shown = %status,
        dbg = ?small,
        "request {} took {:.1} ms",
        i,
        latency
    );
}

fn direct_call(i: u64, route: &str) {
    // Only size-known values and a static message.
    datapunk_log::info!(target: "na.direct", i, route, big = u128::MAX, f = 1.5f32, "static");
}

fn disabled_call(i: u64) {
    datapunk_log::debug!(target: "na", i, shown = %i, "disabled {}", i);
}

#[test]
fn hot_path_does_not_allocate() {
    // The counter works: an allocation on this thread is seen.
    assert_eq!(
        allocations(|| drop(std::hint::black_box(Box::new(1u64)))),
        1
    );

    let (sink, _guard) = common::memory_engine(|b| b);
    let route = String::from("/api/v1/items");

    // First calls register call sites and create the ring: they may allocate.
    enabled_call(0, &route);
    direct_call(0, &route);
    disabled_call(0);

    const N: u64 = 2000;
    let n = allocations(|| {
        for i in 1..=N {
            enabled_call(i, &route);
            direct_call(i, &route);
            disabled_call(i);
        }
    });
    assert_eq!(n, 0, "{n} allocations in {N} enabled + {N} disabled calls");

    // The same with a trace context set.
    datapunk_log::set_context(TraceContext {
        trace_id: 7,
        span_id: 8,
        parent_span_id: 9,
        trace_flags: 1,
    });
    let n = allocations(|| {
        for i in N + 1..=N + 100 {
            enabled_call(i, &route);
            direct_call(i, &route);
        }
    });
    assert_eq!(n, 0, "{n} allocations with a trace context");

    // A Display impl that panics mid-record: the panic propagates to the
    // caller, and the thread keeps its scratch buffer (no allocation after).
    struct Panicky;
    impl std::fmt::Display for Panicky {
        fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            panic!("display failed");
        }
    }
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let caught = std::panic::catch_unwind(|| {
        datapunk_log::info!(target: "na.panic", v = %Panicky, "never written");
    });
    std::panic::set_hook(hook);
    assert!(caught.is_err());
    let n = allocations(|| {
        for i in N + 101..=N + 200 {
            enabled_call(i, &route);
        }
    });
    assert_eq!(n, 0, "{n} allocations after a panicking Display impl");

    // And the calls were real: everything arrives intact (the panicked
    // call's record is not among them).
    datapunk_log::flush();
    let lines = common::lines_of(&sink);
    assert_eq!(lines.len() as u64, 2 * (N + 101) + 100);
    assert!(lines.iter().all(|l| l.target() != "na.panic"));
    let main: Vec<_> = lines.iter().filter(|l| l.target() == "na").collect();
    assert_eq!(main.len() as u64, N + 201);
    for (i, l) in main.iter().enumerate() {
        let i = i as u64;
        assert_eq!(l.u64("i"), i);
        assert_eq!(
            l.message(),
            format!("request {i} took {:.1} ms", i as f64 * 0.5)
        );
        assert_eq!(l.str("route"), "/api/v1/items");
        assert_eq!(l.get("neg").as_i64(), Some(-(i as i64)));
        assert_eq!(l.str("shown"), "200");
        assert_eq!(l.str("dbg"), "Small { a: 1, b: \"b\" }");
        assert_eq!(l.has("trace_id"), i > N);
    }
    let direct: Vec<_> = lines.iter().filter(|l| l.target() == "na.direct").collect();
    assert_eq!(direct.len() as u64, N + 101);
    for l in direct {
        assert_eq!(l.raw_value("big"), u128::MAX.to_string());
        assert_eq!(l.get("f").as_f64(), Some(1.5));
    }
}
