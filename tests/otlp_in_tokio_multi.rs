//! An application running a multi-thread tokio runtime: the engine with OTLP
//! export starts, flushes and shuts down from inside it, with no "no reactor
//! running" panic and no deadlock.

#[path = "common/otlp_receiver.rs"]
mod otlp_receiver;
#[path = "common/tokio_app.rs"]
mod tokio_app;

#[test]
fn otlp_inside_a_multi_thread_runtime() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    tokio_app::run_inside(rt, "tokio-multi");
}
