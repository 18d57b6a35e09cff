//! Sampling in one process: `cargo run --example sampling`.
//!
//! 2 000 requests in a burst: a noisy tenant sends 1 960 of them, two quiet
//! tenants 20 each; one request in 20 fails (all the noisy tenant's). The sampler keeps every
//! failed request, 50 % of the rest (consistent probability), and at most
//! 20 a second per tenant, so the noisy tenant is capped and the quiet ones
//! keep their share (spans kept through a rate limit carry no `th`: their
//! probability is not exact). One request carries the debug override and is
//! kept whatever the rules say. Prints what was kept, per tenant.
//!
//! Then the debug buffer: with traces unsampled and `Unsampled::Buffer`, a
//! request that succeeds leaves no line, and a request that fails writes
//! its earlier lines (marked `"replayed":true`) before its error.

use std::collections::{BTreeMap, HashMap};

use datapunk_log::export::MemoryExporter;
use datapunk_log::propagation;
use datapunk_log::sampler::{self, Rule, Sampler, SamplingConfig, Unsampled};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let spans = MemoryExporter::spans_only();
    let lines = datapunk_log::MemorySink::new();
    let sampling = SamplingConfig::new(Sampler::parent_based(Sampler::rules(vec![
        Rule::new(Sampler::AlwaysOn).attribute_eq("error", "true"),
        Rule::new(Sampler::probability(0.5).rate_limited(20.0, 20, ["tenant"])),
    ])));
    let _guard = datapunk_log::builder()
        .memory(&lines)
        .ignore_env()
        .exporter(spans.clone())
        .sampling(sampling)
        .unsampled_logs(Unsampled::Buffer)
        .init()?;

    let mut sent: BTreeMap<&str, u32> = BTreeMap::new();
    for i in 0..2000u32 {
        let tenant = match i % 100 {
            0 => "quiet-a",
            50 => "quiet-b",
            _ => "noisy",
        };
        let error = i % 20 == 7;
        *sent.entry(tenant).or_default() += 1;
        let span = datapunk_log::span!("request", tenant, error, seq = i);
        let _e = span.enter();
        datapunk_log::info!("handled");
    }

    // A request from another service with the debug override on.
    let mut headers = HashMap::new();
    headers.insert(
        "traceparent".to_string(),
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00".to_string(),
    );
    headers.insert("x-datapunk-debug".to_string(), "1".to_string());
    let incoming = propagation::extract(&headers);
    drop(datapunk_log::span!(parent: &incoming, "request", tenant = "noisy", debug = true));

    datapunk_log::flush();
    let mut kept: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    for s in spans.spans() {
        let field = |k: &str| {
            s.fields
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
        };
        let tenant = match field("tenant") {
            Some(datapunk_log::export::OwnedValue::Str(t)) => t,
            _ => "?".into(),
        };
        let e = kept.entry(tenant).or_default();
        e.0 += 1;
        if matches!(
            field("error"),
            Some(datapunk_log::export::OwnedValue::Bool(true))
        ) {
            e.1 += 1;
        }
    }
    println!("tenant    sent  kept  errors kept");
    for (tenant, n) in &sent {
        let (k, e) = kept.get(*tenant).copied().unwrap_or_default();
        println!("{tenant:<8} {n:>5} {k:>5} {e:>12}");
    }
    let c = datapunk_log::sampler::counters();
    println!(
        "refused by the per-tenant limit: {}; kept by the debug override: {}",
        c.rate_limited, c.debug_kept
    );

    // The debug buffer: no trace is sampled now; the lines of unsampled
    // traces wait in the writer's buffer.
    sampler::update(SamplingConfig::new(Sampler::parent_based(
        Sampler::AlwaysOff,
    )));
    let before = lines.lines().len();
    for (order, fails) in [(41u32, false), (42, true)] {
        let span = datapunk_log::span!("checkout", order);
        let _e = span.enter();
        datapunk_log::info!(order, "cart loaded");
        datapunk_log::info!(order, card = "visa", "charging");
        if fails {
            datapunk_log::error!(order, reason = "card declined", "checkout failed");
        }
    }
    datapunk_log::flush();
    println!("\nlines written for the two unsampled requests (41 succeeded, 42 failed):");
    for line in &lines.lines()[before..] {
        println!("{line}");
    }
    let s = datapunk_log::stats();
    println!(
        "held in the debug buffer: {}; replayed: {}; sampled out so far: {}",
        s.buffered, s.replayed, s.sampled_out
    );
    Ok(())
}
