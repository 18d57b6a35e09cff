//! An OpenTelemetry SDK span exporter that discards, shared by the benches
//! that time the SDK's spans.

use std::hint::black_box;

/// Takes every batch and drops it.
#[derive(Debug)]
pub struct NoopSpanExporter;

impl opentelemetry_sdk::trace::SpanExporter for NoopSpanExporter {
    async fn export(
        &self,
        batch: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        black_box(batch.len());
        Ok(())
    }
}
