//! Environment variable substitution, as the configuration data model
//! specifies it (`specification/configuration/data-model.md`, "Environment
//! variable substitution"):
//!
//! * `${NAME}` and `${env:NAME}` are replaced by the variable's value;
//!   `${NAME:-default}` by `default` when the variable is undefined or
//!   empty; an undefined variable without a default becomes the empty
//!   string (so a plain `key: ${UNSET}` resolves to null);
//! * `NAME` is `[A-Za-z_][A-Za-z0-9_]*`; a reference whose content does not
//!   follow the syntax (`${1API}`, `${API_$KEY}`, `${NAME:?err}`, an
//!   unknown prefix) is an error, never a partial result;
//! * `$$` is an escape for `$`; the `$` it yields is never the start of a
//!   reference (`$${NAME}` is the text `${NAME}`);
//! * values are inserted verbatim: a value holding `${OTHER}` or `$$` is not
//!   substituted again, and no YAML structure can be injected (only
//!   scalars are substituted, and their type is resolved afterwards).

use std::borrow::Cow;

/// Substitutes the references in one scalar's text. `Err` carries a
/// message naming the bad reference.
pub(crate) fn substitute<'a>(
    input: &'a str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Cow<'a, str>, String> {
    if !input.contains('$') {
        return Ok(Cow::Borrowed(input));
    }
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    loop {
        match rest.find("$$") {
            Some(i) => {
                refs(&rest[..i], env, &mut out)?;
                out.push('$');
                rest = &rest[i + 2..];
            }
            None => {
                refs(rest, env, &mut out)?;
                return Ok(Cow::Owned(out));
            }
        }
    }
}

/// Replaces the references of a stretch without escapes.
fn refs(mut s: &str, env: &dyn Fn(&str) -> Option<String>, out: &mut String) -> Result<(), String> {
    while let Some(start) = s.find("${") {
        out.push_str(&s[..start]);
        let after = &s[start + 2..];
        let Some(end) = after.find('}') else {
            // No closing brace: not a reference, the text stays.
            out.push_str(&s[start..]);
            return Ok(());
        };
        let content = &after[..end];
        if content.is_empty() || content.chars().any(|c| c.is_control() && c != '\t') {
            // Not a SUBSTITUTION-REF (it needs one or more printable
            // characters or blanks): the text stays as it is.
            out.push_str(&s[start..start + 2]);
            s = after;
            continue;
        }
        out.push_str(&resolve(content, env)?);
        s = &after[end + 1..];
    }
    out.push_str(s);
    Ok(())
}

fn is_name_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_name_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// The value of one reference's content (between `${` and `}`).
fn resolve(content: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let bad = |why: &str| format!("invalid substitution reference '${{{content}}}': {why}");
    // PREFIX ":" — but `NAME:-default` is the default form, not a prefix.
    let body = match content.split_once(':') {
        Some((prefix, body))
            if !body.starts_with('-')
                && prefix
                    .bytes()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic())
                && prefix.bytes().all(is_name_char) =>
        {
            if prefix != "env" {
                return Err(bad(&format!(
                    "unknown prefix '{prefix}' (only 'env:' is supported; a default is \
                     written ${{NAME:-default}})"
                )));
            }
            body
        }
        _ => content,
    };
    let b = body.as_bytes();
    if b.is_empty() || !is_name_start(b[0]) {
        return Err(bad(
            "a variable name starts with a letter or '_' (then letters, digits, '_')",
        ));
    }
    let n = b.iter().position(|c| !is_name_char(*c)).unwrap_or(b.len());
    let (name, tail) = body.split_at(n);
    let default = if tail.is_empty() {
        None
    } else if let Some(d) = tail.strip_prefix(":-") {
        Some(d)
    } else {
        return Err(bad(&format!(
            "unexpected '{tail}' after the variable name (expected '}}' or ':-default')"
        )));
    };
    match (env(name).filter(|v| !v.is_empty()), default) {
        (Some(v), _) => Ok(v),
        (None, Some(d)) => Ok(d.to_owned()),
        (None, None) => Ok(String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        let v = match name {
            "STRING_VALUE" => "value",
            "BOOL_VALUE" => "true",
            "INT_VALUE" => "1",
            "FLOAT_VALUE" => "1.1",
            "HEX_VALUE" => "0xdeadbeef",
            "INVALID_MAP_VALUE" => "value\nkey:value",
            "DO_NOT_REPLACE_ME" => "Never use this value",
            "REPLACE_ME" => "${DO_NOT_REPLACE_ME}",
            "VALUE_WITH_ESCAPE" => "value$$",
            "EMPTY" => "",
            _ => return None,
        };
        Some(v.to_owned())
    }

    fn sub(s: &str) -> Result<String, String> {
        substitute(s, &env).map(Cow::into_owned)
    }

    /// The table of `data-model.md` (the text; types are tested in the
    /// module's tests).
    #[test]
    fn specification_examples() {
        let cases = [
            ("${STRING_VALUE}", "value"),
            ("${BOOL_VALUE}", "true"),
            ("${INT_VALUE}", "1"),
            ("${FLOAT_VALUE}", "1.1"),
            ("${HEX_VALUE}", "0xdeadbeef"),
            ("${env:STRING_VALUE}", "value"),
            ("${INVALID_MAP_VALUE}", "value\nkey:value"),
            ("foo ${STRING_VALUE} ${FLOAT_VALUE}", "foo value 1.1"),
            ("${UNDEFINED_KEY}", ""),
            ("${UNDEFINED_KEY:-fallback}", "fallback"),
            ("${REPLACE_ME}", "${DO_NOT_REPLACE_ME}"),
            ("${UNDEFINED_KEY:-${STRING_VALUE}}", "${STRING_VALUE}"),
            ("$${STRING_VALUE}", "${STRING_VALUE}"),
            ("$$${STRING_VALUE}", "$value"),
            ("$$$${STRING_VALUE}", "$${STRING_VALUE}"),
            ("$${STRING_VALUE:-fallback}", "${STRING_VALUE:-fallback}"),
            (
                "$${STRING_VALUE:-${STRING_VALUE}}",
                "${STRING_VALUE:-value}",
            ),
            (
                "${UNDEFINED_KEY:-$${UNDEFINED_KEY}}",
                "${UNDEFINED_KEY:-${UNDEFINED_KEY}}",
            ),
            ("${VALUE_WITH_ESCAPE}", "value$$"),
            ("a $$ b", "a $ b"),
            ("a $ b", "a $ b"),
            // The pseudocode example.
            ("$${FOO} ${STRING_VALUE} $${BAZ}", "${FOO} value ${BAZ}"),
        ];
        for (input, want) in cases {
            assert_eq!(sub(input).as_deref(), Ok(want), "{input:?}");
        }
    }

    #[test]
    fn invalid_references_are_errors() {
        for input in [
            "${STRING_VALUE:?error}",
            "${1API_KEY}",
            "${API_$KEY}",
            "${sys:otel.service.name}",
            "x ${env:} y",
            "${-x}",
        ] {
            let e = sub(input).unwrap_err();
            assert!(
                e.contains("invalid substitution reference"),
                "{input:?}: {e}"
            );
        }
    }

    #[test]
    fn defaults_and_edges() {
        assert_eq!(sub("${EMPTY:-d}").as_deref(), Ok("d"));
        assert_eq!(sub("${EMPTY}").as_deref(), Ok(""));
        assert_eq!(sub("${env:UNSET:-a b}").as_deref(), Ok("a b"));
        assert_eq!(sub("${UNSET:-}").as_deref(), Ok(""));
        assert_eq!(sub("${env:-x}").as_deref(), Ok("x"));
        assert_eq!(sub("no refs").as_deref(), Ok("no refs"));
        assert_eq!(sub("${").as_deref(), Ok("${"));
        assert_eq!(sub("${}").as_deref(), Ok("${}"));
        assert_eq!(sub("${STRING_VALUE").as_deref(), Ok("${STRING_VALUE"));
        assert_eq!(sub("$").as_deref(), Ok("$"));
        assert_eq!(sub("$$$").as_deref(), Ok("$$"));
        assert_eq!(sub("é${STRING_VALUE}é").as_deref(), Ok("évalueé"));
        assert_eq!(sub("${UNSET:-café}").as_deref(), Ok("café"));
    }
}
