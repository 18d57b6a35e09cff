//! The answer to an OTLP/gRPC or OTLP/HTTP protobuf export comes from the
//! collector (or whatever answers in its place): any bytes give the
//! `partial_success`'s rejected count and message, or a refusal, never a
//! panic. The reader's verdict is prost's on the same bytes, as an
//! `ExportLogsServiceResponse` and as an `ExportTraceServiceResponse` (the
//! two are the same on the wire), but for a negative count, which prost
//! takes and the reader refuses.
#![no_main]
use libfuzzer_sys::fuzz_target;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message as _;

fuzz_target!(|body: &[u8]| {
    let ours = datapunk_log::__fuzz::otlp_proto_response(body);
    let logs = ExportLogsServiceResponse::decode(body).ok().map(|r| {
        let p = r.partial_success.unwrap_or_default();
        (p.rejected_log_records, p.error_message)
    });
    let spans = ExportTraceServiceResponse::decode(body).ok().map(|r| {
        let p = r.partial_success.unwrap_or_default();
        (p.rejected_spans, p.error_message)
    });
    assert_eq!(logs, spans, "the two responses read alike");
    let expected = logs.and_then(|(n, m)| u64::try_from(n).ok().map(|n| (n, m)));
    assert_eq!(ours, expected);
});
