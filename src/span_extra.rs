//! The optional part of a span's context: its correlation id, the debug
//! override of its request, and its tracestate beyond `th` (the incoming
//! `rv`, other `ot` sub-keys, other vendors' members). Spans of a plain
//! trace have none; spans of a request that came with one share it by
//! reference count. The span's `th` is carried inline (a `u64`), since a
//! probability-sampled root has one and nothing else.

use crate::corr::CorrId;
use crate::propagation::{Propagated, TraceState};
use crate::sampler::{Threshold, threshold::OtValue};

/// "No `th`": outside the valid range (at most 2^56).
pub(crate) const NO_TH: u64 = u64::MAX;

/// Longest value of a tracestate member (W3C).
const MAX_VALUE_LEN: usize = 256;

/// The tracestate key OpenTelemetry's sampling sub-keys live under.
pub(crate) const OT_KEY: &str = "ot";

/// See the module documentation.
#[derive(Debug, Default, Clone)]
pub(crate) struct SpanExtra {
    pub corr: Option<CorrId>,
    /// The request switched the debug override on.
    pub debug: bool,
    /// The `rv` of the incoming `ot` entry: never overwritten.
    pub rv: Option<u64>,
    /// `ot` sub-keys after `th`: `rv:…` and unknown ones, `;`-joined.
    pub ot_tail: Box<str>,
    /// Members other than `ot`, as received (`a=1,b=2`).
    pub others: Box<str>,
}

impl SpanExtra {
    /// The part of an incoming request, and its `th` (or [`NO_TH`]).
    /// `None` when the request carries nothing of it.
    pub(crate) fn from_propagated(p: &Propagated) -> (u64, Option<SpanExtra>) {
        let corr = p.correlation_id.as_deref().and_then(CorrId::new);
        let mut th = NO_TH;
        let mut rv = None;
        let mut ot_tail = String::new();
        let mut others = String::new();
        for (k, v) in p.tracestate.iter() {
            if k == OT_KEY {
                let (ot, issues) = OtValue::parse(v);
                if !issues.is_empty() {
                    crate::sampler::count_invalid_ot();
                }
                th = ot.th.map_or(NO_TH, Threshold::raw);
                rv = ot.rv;
                let tail = OtValue {
                    th: None,
                    rv: ot.rv,
                    rest: ot.rest,
                };
                tail.write(&mut ot_tail);
            } else {
                if !others.is_empty() {
                    others.push(',');
                }
                others.push_str(k);
                others.push('=');
                others.push_str(v);
            }
        }
        if corr.is_none() && !p.debug && ot_tail.is_empty() && others.is_empty() {
            return (th, None);
        }
        let extra = SpanExtra {
            corr,
            debug: p.debug,
            rv,
            ot_tail: ot_tail.into(),
            others: others.into(),
        };
        (th, Some(extra))
    }

    /// What a new trace started inside this request keeps: the correlation
    /// id and the debug override, not the tracestate.
    pub(crate) fn for_new_trace(&self) -> Option<SpanExtra> {
        (self.corr.is_some() || self.debug).then(|| SpanExtra {
            corr: self.corr,
            debug: self.debug,
            ..SpanExtra::default()
        })
    }

    /// Whether it holds tracestate members.
    pub(crate) fn has_tracestate(&self) -> bool {
        !self.ot_tail.is_empty() || !self.others.is_empty()
    }
}

/// A span's tracestate in pieces, written into records without a heap string.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TsParts<'a> {
    th: [u8; 14],
    th_len: u8,
    ot_tail: &'a str,
    others: &'a str,
}

impl<'a> TsParts<'a> {
    /// The tracestate of a span with `th` and `extra`; `None` when empty.
    #[inline]
    pub(crate) fn new(th: u64, extra: Option<&'a SpanExtra>) -> Option<TsParts<'a>> {
        if th == NO_TH && extra.is_none_or(|e| !e.has_tracestate()) {
            return None;
        }
        let (ot_tail, others) = extra.map_or(("", ""), |e| (&*e.ot_tail, &*e.others));
        let mut buf = [0u8; 14];
        let mut th_len = Threshold::from_raw(th)
            .and_then(|t| t.encode(&mut buf).map(str::len))
            .unwrap_or(0);
        if th_len > 0 && 3 + th_len + 1 + ot_tail.len() > MAX_VALUE_LEN {
            // `th:` before a long incoming tail would make the value longer
            // than a tracestate value may be: the tail (which came in
            // valid) is kept and `th` left out, as for an inexact decision.
            th_len = 0;
        }
        if th_len == 0 && ot_tail.is_empty() && others.is_empty() {
            return None;
        }
        let mut th_buf = [0u8; 14];
        th_buf[..th_len].copy_from_slice(&buf[..th_len]);
        Some(TsParts {
            th: th_buf,
            th_len: th_len as u8,
            ot_tail,
            others,
        })
    }

    /// The pieces of `ot=th:<th>;<tail>,<others>`, in order (some empty).
    pub(crate) fn pieces(&self) -> [&[u8]; 7] {
        let th = &self.th[..usize::from(self.th_len)];
        let has_ot = !th.is_empty() || !self.ot_tail.is_empty();
        let ot: &[u8] = if has_ot { b"ot=" } else { b"" };
        let th_key: &[u8] = if th.is_empty() { b"" } else { b"th:" };
        let semi: &[u8] = if !th.is_empty() && !self.ot_tail.is_empty() {
            b";"
        } else {
            b""
        };
        let comma: &[u8] = if has_ot && !self.others.is_empty() {
            b","
        } else {
            b""
        };
        [
            ot,
            th_key,
            th,
            semi,
            self.ot_tail.as_bytes(),
            comma,
            self.others.as_bytes(),
        ]
    }

    /// Length of the rendered tracestate.
    pub(crate) fn len(&self) -> usize {
        self.pieces().iter().map(|p| p.len()).sum()
    }

    /// The tracestate as a header value.
    pub(crate) fn render(&self) -> String {
        let mut s = Vec::with_capacity(self.len());
        for p in self.pieces() {
            s.extend_from_slice(p);
        }
        String::from_utf8(s).unwrap_or_default()
    }
}

/// The tracestate of a span with `th` and `extra`, for [`Propagated`].
pub(crate) fn tracestate(th: u64, extra: Option<&SpanExtra>) -> TraceState {
    TsParts::new(th, extra)
        .and_then(|t| TraceState::parse(&t.render()).ok())
        .unwrap_or_default()
}
