//! The logging macros.
//!
//! Fields come first, then an optional message, as in `tracing`:
//! `key = value`, shorthand `ident`, `%` for Display, `?` for Debug, dotted
//! keys (`http.status = 200`), and `target: "..."` before everything.

/// Logs at an explicit level: `log!(Level::Info, target: "audit", user_id, "login")`.
/// The level must be a constant expression.
#[macro_export]
macro_rules! log {
    ($lvl:expr, target: $target:expr, $($rest:tt)+) => {
        $crate::__dp_fields!(($lvl, $target) [] $($rest)+)
    };
    ($lvl:expr, target: $target:expr $(,)?) => {
        $crate::__dp_fields!(($lvl, $target) [])
    };
    ($lvl:expr, $($rest:tt)+) => {
        $crate::__dp_fields!(($lvl, ::core::module_path!()) [] $($rest)+)
    };
}

/// Logs at TRACE.
#[macro_export]
macro_rules! trace {
    ($($t:tt)+) => { $crate::log!($crate::Level::Trace, $($t)+) };
}
/// Logs at DEBUG.
#[macro_export]
macro_rules! debug {
    ($($t:tt)+) => { $crate::log!($crate::Level::Debug, $($t)+) };
}
/// Logs at INFO.
#[macro_export]
macro_rules! info {
    ($($t:tt)+) => { $crate::log!($crate::Level::Info, $($t)+) };
}
/// Logs at WARN.
#[macro_export]
macro_rules! warn {
    ($($t:tt)+) => { $crate::log!($crate::Level::Warn, $($t)+) };
}
/// Logs at ERROR.
#[macro_export]
macro_rules! error {
    ($($t:tt)+) => { $crate::log!($crate::Level::Error, $($t)+) };
}
/// Logs at FATAL (OpenTelemetry severity 21). Only logs: the program goes on.
#[macro_export]
macro_rules! fatal {
    ($($t:tt)+) => { $crate::log!($crate::Level::Fatal, $($t)+) };
}

/// Starts a span: `span!("name", field = value, ...)`, with optional
/// `level: Level::Debug`, `target: "..."` and `parent: <&Span | &Propagated |
/// TraceContext | Option<TraceContext>>` first (in that order). The name is a
/// string literal; fields use the log macros' syntax. A span disabled by the
/// filter is [`Span::none`](crate::Span::none).
#[macro_export]
macro_rules! span {
    (level: $lvl:expr, $($rest:tt)+) => {
        $crate::__dp_span!(($lvl) $($rest)+)
    };
    ($($rest:tt)+) => {
        $crate::__dp_span!(($crate::Level::Info) $($rest)+)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __dp_span {
    (($lvl:expr) target: $target:expr, $($rest:tt)+) => {
        $crate::__dp_span_parent!(($lvl, $target) $($rest)+)
    };
    (($lvl:expr) $($rest:tt)+) => {
        $crate::__dp_span_parent!(($lvl, ::core::module_path!()) $($rest)+)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __dp_span_parent {
    (($lvl:expr, $target:expr) parent: $parent:expr, $name:literal $(, $($f:tt)*)?) => {
        $crate::__dp_fields!((@span $lvl, $target, $name, $crate::Parent::from($parent)) [] $($($f)*)?)
    };
    (($lvl:expr, $target:expr) $name:literal $(, $($f:tt)*)?) => {
        $crate::__dp_fields!((@span $lvl, $target, $name, $crate::Parent::Current) [] $($($f)*)?)
    };
}

/// Field muncher: normalizes each field to `(name tokens) (value expression)`
/// and ends at the message.
#[doc(hidden)]
#[macro_export]
macro_rules! __dp_fields {
    // The message: a literal, maybe with format arguments.
    ($cx:tt [$($f:tt)*] $msg:literal $(,)?) => {
        $crate::__dp_emit!($cx [$($f)*] ($msg))
    };
    ($cx:tt [$($f:tt)*] $msg:literal, $($arg:tt)+) => {
        $crate::__dp_emit!($cx [$($f)*] ($msg, $($arg)+))
    };
    // No message.
    ($cx:tt [$($f:tt)*] $(,)?) => {
        $crate::__dp_emit!($cx [$($f)*] ())
    };
    // key = %value
    ($cx:tt [$($f:tt)*] $($k:ident).+ = %$v:expr, $($rest:tt)*) => {
        $crate::__dp_fields!($cx [$($f)* (($($k).+) ($crate::__private::display(&$v)))] $($rest)*)
    };
    ($cx:tt [$($f:tt)*] $($k:ident).+ = %$v:expr) => {
        $crate::__dp_fields!($cx [$($f)* (($($k).+) ($crate::__private::display(&$v)))])
    };
    // key = ?value
    ($cx:tt [$($f:tt)*] $($k:ident).+ = ?$v:expr, $($rest:tt)*) => {
        $crate::__dp_fields!($cx [$($f)* (($($k).+) ($crate::__private::debug(&$v)))] $($rest)*)
    };
    ($cx:tt [$($f:tt)*] $($k:ident).+ = ?$v:expr) => {
        $crate::__dp_fields!($cx [$($f)* (($($k).+) ($crate::__private::debug(&$v)))])
    };
    // key = value
    ($cx:tt [$($f:tt)*] $($k:ident).+ = $v:expr, $($rest:tt)*) => {
        $crate::__dp_fields!($cx [$($f)* (($($k).+) (&$v))] $($rest)*)
    };
    ($cx:tt [$($f:tt)*] $($k:ident).+ = $v:expr) => {
        $crate::__dp_fields!($cx [$($f)* (($($k).+) (&$v))])
    };
    // %ident, ?ident, ident
    ($cx:tt [$($f:tt)*] %$($k:ident).+ $(, $($rest:tt)*)?) => {
        $crate::__dp_fields!($cx [$($f)* (($($k).+) ($crate::__private::display(&$($k).+)))] $($($rest)*)?)
    };
    ($cx:tt [$($f:tt)*] ?$($k:ident).+ $(, $($rest:tt)*)?) => {
        $crate::__dp_fields!($cx [$($f)* (($($k).+) ($crate::__private::debug(&$($k).+)))] $($($rest)*)?)
    };
    ($cx:tt [$($f:tt)*] $($k:ident).+ $(, $($rest:tt)*)?) => {
        $crate::__dp_fields!($cx [$($f)* (($($k).+) (&$($k).+))] $($($rest)*)?)
    };
}

/// Expands one call site: its static, the enabled check, and the capture.
#[doc(hidden)]
#[macro_export]
macro_rules! __dp_emit {
    ((@span $lvl:expr, $target:expr, $name:literal, $parent:expr) [$( (($($k:tt)+) ($v:expr)) )*] ()) => {{
        const __DP_LEVEL: $crate::Level = $lvl;
        if $crate::__private::STATIC_MAX_LEVEL.enables(__DP_LEVEL) {
            $crate::__dp_callsite!(
                __DP_CS, __DP_LEVEL, $target, $name, false, [$( ($($k)+) )*], "too many fields in one span"
            );
            if __DP_CS.is_enabled() {
                $crate::Span::start(&__DP_CS, $parent, &$crate::__dp_cons!($($v),*))
            } else {
                $crate::Span::none()
            }
        } else {
            $crate::Span::none()
        }
    }};
    (($lvl:expr, $target:expr) [$( (($($k:tt)+) ($v:expr)) )*] ($($msg:tt)*)) => {{
        const __DP_LEVEL: $crate::Level = $lvl;
        if $crate::__private::STATIC_MAX_LEVEL.enables(__DP_LEVEL) {
            $crate::__dp_callsite!(
                __DP_CS,
                __DP_LEVEL,
                $target,
                $crate::__dp_msg_str!($($msg)*),
                $crate::__dp_msg_fmt!($($msg)*),
                [$( ($($k)+) )*],
                "too many fields in one log call"
            );
            // Two branches, each with its own values: a call the log
            // sampler drops stores nothing for the capture first.
            let __dp_plan = __DP_CS.log_plan();
            if __dp_plan == $crate::__private::PLAN_CAPTURE {
                $crate::__private::capture_plain(
                    &__DP_CS,
                    $crate::__dp_msg_args!($($msg)*),
                    &$crate::__dp_cons!($($v),*),
                );
            } else if __dp_plan != 0 {
                if let ::core::option::Option::Some(__dp_kept) =
                    $crate::__private::sample(&__DP_CS, __dp_plan, __DP_LEVEL)
                {
                    $crate::__private::capture_kept(
                        &__DP_CS,
                        __dp_kept,
                        $crate::__dp_msg_args!($($msg)*),
                        &$crate::__dp_cons!($($v),*),
                    );
                }
            }
        }
    }};
}

/// A call site's static `$cs`, with its field names checked at compile time.
#[doc(hidden)]
#[macro_export]
macro_rules! __dp_callsite {
    ($cs:ident, $lvl:ident, $target:expr, $msg:expr, $fmt:expr, [$( ($($k:tt)+) )*], $too_many:literal) => {
        const __DP_FIELDS: &[&str] = &[$(::core::stringify!($($k)+)),*];
        const _: () = ::core::assert!(__DP_FIELDS.len() <= $crate::__private::MAX_FIELDS, $too_many);
        static $cs: $crate::__private::Callsite = $crate::__private::Callsite::new(
            $lvl,
            $target,
            ::core::module_path!(),
            ::core::file!(),
            ::core::line!(),
            $msg,
            __DP_FIELDS,
            $fmt,
        );
    };
}

/// Builds the cons list `(v1, (v2, ()))` of a call's values.
#[doc(hidden)]
#[macro_export]
macro_rules! __dp_cons {
    () => { () };
    ($a:expr, $b:expr, $c:expr, $d:expr $(, $tail:expr)*) => {
        ($a, ($b, ($c, ($d, $crate::__dp_cons!($($tail),*)))))
    };
    ($head:expr $(, $tail:expr)*) => { ($head, $crate::__dp_cons!($($tail),*)) };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __dp_msg_str {
    () => {
        ""
    };
    ($msg:literal $(, $($arg:tt)*)?) => {
        $msg
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __dp_msg_fmt {
    () => {
        false
    };
    ($msg:literal) => {
        $crate::__private::has_braces($msg)
    };
    ($msg:literal, $($arg:tt)+) => {
        true
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __dp_msg_args {
    () => {
        ::core::option::Option::None
    };
    ($msg:literal) => {
        $crate::__private::fmt_if($crate::__private::has_braces($msg), ::core::format_args!($msg))
    };
    ($msg:literal, $($arg:tt)+) => {
        ::core::option::Option::Some(::core::format_args!($msg, $($arg)+))
    };
}
