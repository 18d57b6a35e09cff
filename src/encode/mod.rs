//! Line formats side by side, and their primitives.
//!
//! The writer drains, orders and ships; a [`LineFormat`] turns one decoded
//! record ([`RecordView`]) or one of the writer's own notices into one line.
//! Each sink has its own format: JSON ([`json_line`]) for machines, the
//! console format ([`console`]) for people.

pub(crate) mod console;
pub(crate) mod json;
mod json_line;
pub(crate) mod span_table;

use std::fmt;
use std::str::FromStr;

pub(crate) use console::ConsoleLine;
pub(crate) use json_line::JsonLine;

use crate::callsite::Callsite;
use crate::level::Level;
use crate::record::{RecordView, TraceContext, Val};
use crate::redact::Redactor;

/// Keys the engine writes itself; a user field with one of these names is
/// written as `fields.<name>` instead (see `record::view::output_keys`).
pub(crate) const RESERVED_KEYS: &[&str] = &[
    "timestamp",
    "level",
    "target",
    "message",
    "trace_id",
    "span_id",
    "parent_span_id",
    "trace_flags",
    "correlation_id",
    "thread",
    "truncated",
    "adjusted_count",
    "replayed",
    "exception.type",
    "exception.message",
    "exception.stacktrace",
];

/// The environment variable choosing the format of the stdout and stderr
/// sinks: `json`, `console` or `auto`.
pub const FORMAT_ENV: &str = "DATAPUNK_LOG_FORMAT";

/// How a sink's lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// The console format when the sink is a terminal (stdout or stderr
    /// attached to one), JSON otherwise (files, pipes, custom sinks).
    #[default]
    Auto,
    /// One JSON object per line.
    Json,
    /// The human-readable console format; coloured when the sink is a
    /// terminal, unless the environment says otherwise (`NO_COLOR`,
    /// `CLICOLOR`, `CLICOLOR_FORCE`, `TERM=dumb`).
    Console,
}

/// An unknown format name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatError(String);

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown format `{}` (expected json, console or auto)",
            self.0
        )
    }
}

impl std::error::Error for FormatError {}

impl FromStr for Format {
    type Err = FormatError;
    fn from_str(s: &str) -> Result<Format, FormatError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" | "" => Ok(Format::Auto),
            "json" => Ok(Format::Json),
            "console" | "text" | "pretty" => Ok(Format::Console),
            _ => Err(FormatError(s.to_string())),
        }
    }
}

/// A format resolved for one sink.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Resolved {
    Json,
    Console { color: bool },
}

/// The stream a sink writes to, as far as terminal detection goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stream {
    Stdout,
    Stderr,
    /// A file, memory, a custom sink: never a terminal.
    Other,
}

impl Stream {
    fn is_terminal(self) -> bool {
        use std::io::IsTerminal;
        match self {
            Stream::Stdout => std::io::stdout().is_terminal(),
            Stream::Stderr => std::io::stderr().is_terminal(),
            Stream::Other => false,
        }
    }
}

/// Resolves `format` for a sink writing to `stream`, the environment read
/// through `env`. Colours, in this order (as `anstream` does): `NO_COLOR`
/// set and not empty: off; `CLICOLOR_FORCE` set and not `0`: on;
/// `CLICOLOR=0`: off; `TERM=dumb`: off; otherwise on when the stream is a
/// terminal.
pub(crate) fn resolve(
    format: Format,
    stream: Stream,
    env: impl Fn(&str) -> Option<String>,
) -> Resolved {
    let tty = stream.is_terminal();
    resolve_with(format, tty, env)
}

fn resolve_with(format: Format, tty: bool, env: impl Fn(&str) -> Option<String>) -> Resolved {
    let console = match format {
        Format::Json => false,
        Format::Console => true,
        Format::Auto => tty,
    };
    if !console {
        return Resolved::Json;
    }
    let set = |k: &str| env(k).filter(|v| !v.is_empty());
    let color = if set("NO_COLOR").is_some() {
        false
    } else if set("CLICOLOR_FORCE").is_some_and(|v| v != "0") {
        true
    } else if set("CLICOLOR").is_some_and(|v| v == "0") || set("TERM").is_some_and(|v| v == "dumb")
    {
        false
    } else {
        tty
    };
    Resolved::Console { color }
}

/// What every format needs of a call site, worked out once.
pub(crate) struct Site {
    pub id: u32,
    pub level: Level,
    pub cs: &'static Callsite,
    /// The output key of each field (`record::view::output_keys` with
    /// [`RESERVED_KEYS`]).
    pub keys: Vec<String>,
    /// Bit `i`: field `i` is written as the replacement (its key names a
    /// secret).
    pub redact: u64,
}

/// The key of the current span's name and fields on a line
/// (`Builder::span_fields`): reserved only while span fields are on.
pub(crate) const SPAN_KEY: &str = "span";

impl Site {
    /// `span_key`: lines carry [`SPAN_KEY`], so a field of that name is
    /// renamed too.
    pub(crate) fn new(id: u32, cs: &'static Callsite, span_key: bool) -> Site {
        let m = cs.metadata();
        let keys = if span_key {
            let mut reserved = RESERVED_KEYS.to_vec();
            reserved.push(SPAN_KEY);
            crate::record::output_keys(m.fields, &reserved)
        } else {
            crate::record::output_keys(m.fields, RESERVED_KEYS)
        };
        Site {
            id,
            level: m.level,
            cs,
            keys,
            redact: cs.redact_mask(),
        }
    }
}

/// The rest of what a record's line needs.
pub(crate) struct LineCx<'a> {
    /// The record's time, Unix nanoseconds.
    pub unix_nanos: u64,
    /// The thread's piece of this format ([`LineFormat::thread_piece`]).
    pub thread: &'a [u8],
    /// The record was held in the debug buffer and is written late.
    pub replayed: bool,
    pub redactor: &'a Redactor,
    /// The current span's piece of this format ([`LineFormat::span_open`]
    /// to [`LineFormat::span_close`]), empty when the line carries none.
    pub span: &'a [u8],
}

/// A span's status as its records set it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SpanStatus<'a> {
    Unset,
    Ok,
    /// Failed, with a description (may be empty).
    Error(&'a [u8]),
}

/// What a span-end line says besides its span's piece (in [`LineCx`]).
pub(crate) struct SpanEnd<'a> {
    pub level: Level,
    pub target: &'a str,
    pub ctx: TraceContext,
    /// The span's start, Unix nanoseconds; `None` when the writer did not
    /// see it (its table of live spans was full).
    pub start_unix_nanos: Option<u64>,
    pub status: SpanStatus<'a>,
    /// The last exception recorded on the span (`Span::record_error`):
    /// type and message.
    pub exception: Option<(&'a [u8], &'a [u8])>,
}

/// A value of one of the writer's own notices.
#[derive(Clone, Copy, Debug)]
pub(crate) enum NoteVal<'a> {
    U64(u64),
    Str(&'a str),
}

/// One of the writer's own lines (records dropped, sampled out, export
/// failing or recovered).
pub(crate) struct Notice<'a> {
    pub unix_nanos: u64,
    pub level: Level,
    pub target: &'a str,
    pub message: &'a str,
    pub fields: &'a [(&'a str, NoteVal<'a>)],
}

/// Turns records and notices into lines.
pub(crate) trait LineFormat {
    /// Appends the thread part of this format's lines for a thread named
    /// `name` (built once per thread).
    fn thread_piece(&self, out: &mut Vec<u8>, name: &str);
    /// Appends one record as a line. `None` when the record is malformed:
    /// `out` may then hold part of a line, which the caller cuts off.
    /// `Some(n)`: `n` values held invalid UTF-8 (replaced, counted).
    fn record(
        &mut self,
        out: &mut Vec<u8>,
        site: &Site,
        view: &mut RecordView<'_>,
        cx: &LineCx<'_>,
    ) -> Option<u64>;
    /// Appends one of the writer's own lines; `thread`: the piece of the
    /// thread it is about.
    fn notice(&mut self, out: &mut Vec<u8>, n: &Notice<'_>, thread: Option<&[u8]>);
    /// Drops what the format keeps per call site (after a reload changed
    /// which fields are redacted).
    fn forget_sites(&mut self) {}
    /// Begins a span's piece (the span's name and fields, built once per
    /// span and appended to each line inside it): its name.
    fn span_open(&mut self, out: &mut Vec<u8>, name: &str);
    /// Appends one field to a span's piece; `first`: no field before it;
    /// `secret`: the key names a secret (the value is replaced). True when
    /// the value held invalid UTF-8 (replaced).
    fn span_field(
        &mut self,
        out: &mut Vec<u8>,
        first: bool,
        key: &str,
        v: Val<'_>,
        secret: bool,
        r: &Redactor,
    ) -> bool;
    /// Ends a span's piece; `fields`: at least one field was appended.
    fn span_close(&mut self, out: &mut Vec<u8>, fields: bool);
    /// Appends the line of an ended span: `cx.span` holds its piece,
    /// `cx.unix_nanos` its end.
    fn span_end(&mut self, out: &mut Vec<u8>, end: &SpanEnd<'_>, cx: &LineCx<'_>);
}

/// The formats in one type (static dispatch).
pub(crate) enum Line {
    Json(JsonLine),
    Console(ConsoleLine),
}

impl Line {
    pub(crate) fn new(r: Resolved) -> Line {
        match r {
            Resolved::Json => Line::Json(JsonLine::new()),
            Resolved::Console { color } => Line::Console(ConsoleLine::new(color)),
        }
    }
}

impl LineFormat for Line {
    fn thread_piece(&self, out: &mut Vec<u8>, name: &str) {
        match self {
            Line::Json(f) => f.thread_piece(out, name),
            Line::Console(f) => f.thread_piece(out, name),
        }
    }
    #[inline]
    fn record(
        &mut self,
        out: &mut Vec<u8>,
        site: &Site,
        view: &mut RecordView<'_>,
        cx: &LineCx<'_>,
    ) -> Option<u64> {
        match self {
            Line::Json(f) => f.record(out, site, view, cx),
            Line::Console(f) => f.record(out, site, view, cx),
        }
    }
    fn notice(&mut self, out: &mut Vec<u8>, n: &Notice<'_>, thread: Option<&[u8]>) {
        match self {
            Line::Json(f) => f.notice(out, n, thread),
            Line::Console(f) => f.notice(out, n, thread),
        }
    }
    fn forget_sites(&mut self) {
        match self {
            Line::Json(f) => f.forget_sites(),
            Line::Console(f) => f.forget_sites(),
        }
    }
    fn span_open(&mut self, out: &mut Vec<u8>, name: &str) {
        match self {
            Line::Json(f) => f.span_open(out, name),
            Line::Console(f) => f.span_open(out, name),
        }
    }
    fn span_field(
        &mut self,
        out: &mut Vec<u8>,
        first: bool,
        key: &str,
        v: Val<'_>,
        secret: bool,
        r: &Redactor,
    ) -> bool {
        match self {
            Line::Json(f) => f.span_field(out, first, key, v, secret, r),
            Line::Console(f) => f.span_field(out, first, key, v, secret, r),
        }
    }
    fn span_close(&mut self, out: &mut Vec<u8>, fields: bool) {
        match self {
            Line::Json(f) => f.span_close(out, fields),
            Line::Console(f) => f.span_close(out, fields),
        }
    }
    fn span_end(&mut self, out: &mut Vec<u8>, end: &SpanEnd<'_>, cx: &LineCx<'_>) {
        match self {
            Line::Json(f) => f.span_end(out, end, cx),
            Line::Console(f) => f.span_end(out, end, cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn auto_is_console_on_a_terminal_only() {
        assert_eq!(resolve_with(Format::Auto, false, env(&[])), Resolved::Json);
        assert_eq!(
            resolve_with(Format::Auto, true, env(&[])),
            Resolved::Console { color: true }
        );
        assert_eq!(resolve_with(Format::Json, true, env(&[])), Resolved::Json);
        assert_eq!(
            resolve_with(Format::Console, false, env(&[])),
            Resolved::Console { color: false }
        );
    }

    #[test]
    fn colour_variables_in_their_order() {
        let c = |tty, vars: &[(&str, &str)]| match resolve_with(Format::Console, tty, env(vars)) {
            Resolved::Console { color } => color,
            Resolved::Json => panic!("console asked"),
        };
        assert!(!c(true, &[("NO_COLOR", "1")]));
        assert!(c(true, &[("NO_COLOR", "")]), "an empty NO_COLOR is unset");
        assert!(!c(true, &[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")]));
        assert!(c(false, &[("CLICOLOR_FORCE", "1")]));
        assert!(!c(false, &[("CLICOLOR_FORCE", "0")]));
        assert!(!c(true, &[("CLICOLOR", "0")]));
        assert!(c(true, &[("CLICOLOR", "1")]));
        assert!(!c(true, &[("TERM", "dumb")]));
        assert!(c(true, &[("TERM", "dumb"), ("CLICOLOR_FORCE", "1")]));
    }

    #[test]
    fn format_names() {
        assert_eq!("JSON".parse::<Format>(), Ok(Format::Json));
        assert_eq!(" console ".parse::<Format>(), Ok(Format::Console));
        assert_eq!("auto".parse::<Format>(), Ok(Format::Auto));
        let e = "yaml".parse::<Format>().unwrap_err();
        assert!(e.to_string().contains("yaml"));
    }
}
