//! Two services on 127.0.0.1: a gateway calls a payments service over HTTP,
//! passing `traceparent` and `baggage` (with the correlation id). Both write
//! JSON lines to stdout; the lines of one request share its `trace_id` and
//! `correlation_id`, and the payments span is a child of the gateway's
//! client span.
//!
//! ```text
//! cargo run --example mesh
//! OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4317 cargo run --example mesh
//! ```
//!
//! Each service is its own process (the gateway starts this same executable
//! again as `mesh payments <port-file>`), so each has its own resource
//! (`service.name` = `gateway` / `payments`). When
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (or a signal-specific endpoint) is set, both
//! also export their logs and spans over OTLP, configured by the `OTEL_*`
//! variables.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use datapunk_log::propagation::{self, Propagated};
use datapunk_log::{Guard, Status, info, span, warn};

const REQUESTS: u64 = 3;

fn engine(service: &str) -> Guard {
    let mut b = datapunk_log::builder()
        .stdout()
        .service_name(service)
        .service_version(env!("CARGO_PKG_VERSION"))
        .deployment_environment("example");
    // Exports over OTLP only when an OTEL_EXPORTER_OTLP_*ENDPOINT is set.
    b = b.otlp_if_configured().unwrap_or_else(|e| {
        eprintln!("{service}: {e}");
        std::process::exit(2)
    });
    b.init().unwrap_or_else(|e| {
        eprintln!("{service}: cannot start logging: {e}");
        std::process::exit(2)
    })
}

/// Header names lowercased, every value as sent: a header sent several
/// times keeps each field (several `tracestate` fields are joined, two
/// `traceparent` fields make the context invalid).
fn header_map(req: &tiny_http::Request) -> HashMap<String, Vec<String>> {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for h in req.headers() {
        map.entry(h.field.as_str().as_str().to_ascii_lowercase())
            .or_default()
            .push(h.value.as_str().to_owned());
    }
    map
}

fn payments(port_file: &str) {
    let _guard = engine("payments");
    let server = match tiny_http::Server::http("127.0.0.1:0") {
        Ok(s) => s,
        Err(e) => {
            eprintln!("payments: cannot listen: {e}");
            std::process::exit(2)
        }
    };
    let port = server.server_addr().to_ip().map_or(0, |a| a.port());
    info!(port, "payments listening");
    datapunk_log::flush();
    if let Err(e) = std::fs::write(port_file, port.to_string()) {
        eprintln!("payments: cannot write {port_file}: {e}");
        std::process::exit(2)
    }
    for mut req in server.incoming_requests() {
        let headers = header_map(&req);
        let incoming = propagation::extract(&headers);
        if req.url() == "/shutdown" {
            let _ = req.respond(tiny_http::Response::from_string("bye"));
            break;
        }
        let span = span!(parent: &incoming, "payments.charge", http.route = "/charge");
        let _e = span.enter();
        let mut body = String::new();
        let _ = req.as_reader().read_to_string(&mut body);
        let amount: f64 = body.trim().parse().unwrap_or(0.0);
        info!(amount, "charging card");
        let approved = amount < 100.0;
        span.record("payment.approved", &approved);
        let response = if approved {
            info!(amount, "charge approved");
            span.set_status(Status::Ok);
            tiny_http::Response::from_string("approved")
        } else {
            warn!(amount, "charge declined: over the limit");
            span.set_status(Status::Error("declined"));
            tiny_http::Response::from_string("declined").with_status_code(402)
        };
        if let Err(e) = req.respond(response) {
            warn!(error = %e, "cannot answer");
        }
    }
    info!("payments stopping");
}

// The child is handed to the caller, which waits for it.
#[allow(clippy::zombie_processes)]
fn start_payments() -> (Child, u16, std::path::PathBuf) {
    let port_file = std::env::temp_dir().join(format!("datapunk-mesh-{}.port", std::process::id()));
    let _ = std::fs::remove_file(&port_file);
    let exe = std::env::current_exe().expect("own executable");
    let mut child = Command::new(exe)
        .arg("payments")
        .arg(&port_file)
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the payments service");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(p) = std::fs::read_to_string(&port_file)
            && let Ok(port) = p.trim().parse::<u16>()
        {
            return (child, port, port_file);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("payments did not start within 10 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn gateway() {
    let guard = engine("gateway");
    let (mut child, port, port_file) = start_payments();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into();
    let mut summary = Vec::new();
    for order in 1..=REQUESTS {
        // The edge of the system: a new trace and a new correlation id.
        let mut edge = Propagated::default();
        edge.ensure_correlation_id();
        let request = span!(parent: &edge, "gateway.checkout", order);
        let _e = request.enter();
        let amount = if order == REQUESTS {
            250.0
        } else {
            20.0 * order as f64
        };
        info!(order, amount, "checkout received");
        let outcome = {
            let client = span!("http.client POST /charge", http.method = "POST");
            let _c = client.enter();
            let mut headers: HashMap<String, String> = HashMap::new();
            propagation::inject(&Propagated::current(), &mut headers);
            let mut call = agent.post(format!("http://127.0.0.1:{port}/charge"));
            for (k, v) in &headers {
                call = call.header(k, v);
            }
            match call.send(amount.to_string()) {
                Ok(mut resp) => {
                    let status = resp.status().as_u16();
                    client.record("http.status_code", &status);
                    let body = resp.body_mut().read_to_string().unwrap_or_default();
                    info!(status, body = body.as_str(), "payments answered");
                    body
                }
                Err(e) => {
                    client.set_status(Status::Error("request failed"));
                    warn!(error = %e, "payments unreachable");
                    "error".to_owned()
                }
            }
        };
        info!(order, outcome = outcome.as_str(), "checkout done");
        let ctx = request.context();
        summary.push(format!(
            "order {order}: trace_id={:032x} correlation_id={} outcome={outcome}",
            ctx.trace_id,
            request.correlation_id().unwrap_or("-")
        ));
    }
    let _ = agent
        .get(format!("http://127.0.0.1:{port}/shutdown"))
        .call();
    let _ = child.wait();
    let _ = std::fs::remove_file(port_file);
    drop(guard);
    eprintln!("\nEach request's lines above, from both services, share these ids:");
    for s in summary {
        eprintln!("  {s}");
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // Each service runs on a thread named after it: its lines say `"thread":"<service>"`.
    let (name, body): (&str, Box<dyn FnOnce() + Send>) = match args.get(1).map(String::as_str) {
        Some("payments") => {
            let port_file = args
                .get(2)
                .cloned()
                .unwrap_or_else(|| "payments.port".into());
            ("payments", Box::new(move || payments(&port_file)))
        }
        _ => ("gateway", Box::new(gateway)),
    };
    let t = std::thread::Builder::new()
        .name(name.into())
        .spawn(body)
        .expect("spawn");
    if t.join().is_err() {
        std::process::exit(1);
    }
}
