//! `http::HeaderMap` as a propagation carrier, with the header names that
//! propagation reads and writes made once: the `HeaderMap` carrier of
//! [`propagation`](crate::propagation) parses (validates and lowercases) a
//! `&str` name at every lookup, and the server layer looks up six names per
//! request. Any other name takes that carrier's path; values read as there.

use http::header::{HeaderMap, HeaderName, HeaderValue};

use crate::propagation::{
    BAGGAGE_HEADER, CORRELATION_ID_HEADER, Extractor, Injector, REQUEST_ID_HEADER,
    TRACEPARENT_HEADER, TRACESTATE_HEADER,
};
use crate::sampler::DEBUG_HEADER;

static TRACEPARENT: HeaderName = HeaderName::from_static(TRACEPARENT_HEADER);
static TRACESTATE: HeaderName = HeaderName::from_static(TRACESTATE_HEADER);
static BAGGAGE: HeaderName = HeaderName::from_static(BAGGAGE_HEADER);
static DEBUG: HeaderName = HeaderName::from_static(DEBUG_HEADER);
static CORRELATION_ID: HeaderName = HeaderName::from_static(CORRELATION_ID_HEADER);
static REQUEST_ID: HeaderName = HeaderName::from_static(REQUEST_ID_HEADER);

/// The made name of `key`, when it is one of propagation's.
#[inline]
fn known(key: &str) -> Option<&'static HeaderName> {
    Some(match key {
        TRACEPARENT_HEADER => &TRACEPARENT,
        TRACESTATE_HEADER => &TRACESTATE,
        BAGGAGE_HEADER => &BAGGAGE,
        DEBUG_HEADER => &DEBUG,
        CORRELATION_ID_HEADER => &CORRELATION_ID,
        REQUEST_ID_HEADER => &REQUEST_ID,
        _ => return None,
    })
}

/// A value that is not visible ASCII reads as a character no parser of
/// propagation accepts (as with the `HeaderMap` carrier): malformed, never
/// text.
#[inline]
fn text(value: &HeaderValue) -> &str {
    value.to_str().unwrap_or("\u{FFFD}")
}

/// Read side.
pub(crate) struct Headers<'a>(pub(crate) &'a HeaderMap);

impl Extractor for Headers<'_> {
    #[inline]
    fn get(&self, key: &str) -> Option<&str> {
        match known(key) {
            Some(name) => self.0.get(name).map(text),
            None => Extractor::get(self.0, key),
        }
    }

    #[inline]
    fn get_all(&self, key: &str) -> Vec<&str> {
        match known(key) {
            Some(name) => self.0.get_all(name).iter().map(text).collect(),
            None => Extractor::get_all(self.0, key),
        }
    }
}

/// Write side.
pub(crate) struct HeadersMut<'a>(pub(crate) &'a mut HeaderMap);

impl Injector for HeadersMut<'_> {
    #[inline]
    fn set(&mut self, key: &str, value: String) {
        match known(key) {
            Some(name) => {
                if let Ok(value) = HeaderValue::try_from(value) {
                    self.0.insert(name.clone(), value);
                }
            }
            None => Injector::set(self.0, key, value),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::propagation::{Baggage, Propagated, TraceParent, TraceState, extract, inject};

    fn map(headers: &[(&str, &[u8])]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in headers {
            m.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_bytes(v).unwrap(),
            );
        }
        m
    }

    #[test]
    fn reads_as_the_header_map_carrier() {
        let tp: &[u8] = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let cases = [
            map(&[]),
            map(&[
                ("traceparent", tp),
                ("tracestate", b"a=1"),
                ("tracestate", b"b=2"),
            ]),
            map(&[("traceparent", tp), ("traceparent", tp)]),
            map(&[("traceparent", b"00-\xff")]),
            map(&[
                ("baggage", b"correlation_id=c-1,k=v"),
                ("baggage", b"x=y"),
                ("x-datapunk-debug", b"1"),
            ]),
            map(&[("x-correlation-id", b"\xe9t\xe9"), ("x-request-id", b"r-2")]),
            map(&[("x-request-id", b" r-3 "), ("other", b"o")]),
        ];
        for m in &cases {
            assert_eq!(extract(&Headers(m)), extract(m), "{m:?}");
            for key in ["traceparent", "Baggage", "other", "x-request-id"] {
                assert_eq!(
                    Headers(m).get(key),
                    Extractor::get(m, key),
                    "{key} in {m:?}"
                );
                assert_eq!(Headers(m).get_all(key), Extractor::get_all(m, key));
            }
        }
    }

    #[test]
    fn writes_as_the_header_map_carrier() {
        let mut ts = TraceState::new();
        ts.insert("k", "v").unwrap();
        let mut baggage = Baggage::new();
        baggage.insert("user", "alice").unwrap();
        let p = Propagated {
            parent: Some(TraceParent {
                trace_id: 7,
                span_id: 9,
                flags: 1,
            }),
            tracestate: ts,
            baggage,
            correlation_id: Some("c-9".into()),
            debug: true,
        };
        let mut ours = map(&[("traceparent", b"old"), ("accept", b"*/*")]);
        let mut theirs = ours.clone();
        inject(&p, &mut HeadersMut(&mut ours));
        inject(&p, &mut theirs);
        assert_eq!(ours, theirs);
        assert_eq!(ours.get_all("traceparent").iter().count(), 1, "replaced");
        HeadersMut(&mut ours).set("X-Other", "o".into());
        assert_eq!(ours["x-other"], "o");
    }
}
