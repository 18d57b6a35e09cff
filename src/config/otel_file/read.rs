//! Reading nodes: mappings whose unused keys are accounted for, and typed
//! scalars with errors that name the key path and the position.

use std::time::Duration;

use super::error::{ConfigFileError, ErrorKind, Position, Skipped, Warning};
use super::yaml::{Key, Kind, Node, Scalar, Value};

pub(crate) type R<T> = Result<T, ConfigFileError>;

/// The state of one load: where the file came from, how strict it is about
/// unknown properties, and what it has to say besides the model.
pub(crate) struct Ctx {
    pub origin: String,
    /// Unknown properties of closed nodes are errors (the file's
    /// `file_format` is one this engine knows); else they are skipped.
    pub strict: bool,
    /// A `1.0-rc` file: the pre-1.0 property names are accepted.
    pub legacy: bool,
    pub warnings: Vec<Warning>,
    pub skipped: Vec<Skipped>,
}

impl Ctx {
    pub(crate) fn new(origin: &str) -> Ctx {
        Ctx {
            origin: origin.to_owned(),
            strict: true,
            legacy: false,
            warnings: Vec::new(),
            skipped: Vec::new(),
        }
    }

    pub(crate) fn err(&self, pos: Position, path: &str, msg: impl Into<String>) -> ConfigFileError {
        ConfigFileError::new(ErrorKind::Invalid, &self.origin, Some(pos), path, msg)
    }

    pub(crate) fn warn(&mut self, pos: Position, path: &str, msg: impl Into<String>) {
        self.warnings.push(Warning {
            origin: self.origin.clone(),
            position: Some(pos),
            key_path: path.to_owned(),
            message: msg.into(),
        });
    }

    pub(crate) fn skip(&mut self, pos: Position, path: String, reason: impl Into<String>) {
        self.skipped.push(Skipped {
            key_path: path,
            position: pos,
            reason: reason.into(),
        });
    }
}

pub(crate) fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

pub(crate) fn index(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}

/// Experimental properties: `*/development`, `*/alpha`, `*/beta`.
pub(crate) fn is_experimental(key: &str) -> bool {
    ["/development", "/alpha", "/beta"]
        .iter()
        .any(|s| key.ends_with(s))
}

/// A mapping being read.
pub(crate) struct Obj<'a> {
    pub pos: Position,
    pub path: String,
    entries: &'a [(Key, Node)],
    used: Vec<bool>,
    asked: Vec<&'static str>,
}

/// The mapping at `node` (null reads as an empty mapping: the schema's
/// nullable objects).
pub(crate) fn obj<'a>(ctx: &Ctx, node: &'a Node, path: &str) -> R<Obj<'a>> {
    let entries: &'a [(Key, Node)] = match &node.kind {
        Kind::Map(e) => e,
        _ if node.is_null() => &[],
        _ => {
            return Err(ctx.err(
                node.pos,
                path,
                format!("expected a mapping, found {}", describe(node)),
            ));
        }
    };
    Ok(Obj {
        pos: node.pos,
        path: path.to_owned(),
        entries,
        used: vec![false; entries.len()],
        asked: Vec::new(),
    })
}

/// The sole entry of a "one of" node (a sampler, an exporter, a processor,
/// a propagator, a sink): a mapping with exactly one key.
pub(crate) fn one_of<'a>(ctx: &Ctx, node: &'a Node, path: &str) -> R<(&'a Key, &'a Node)> {
    match &node.kind {
        Kind::Map(e) if e.len() == 1 => Ok((&e[0].0, &e[0].1)),
        Kind::Map(e) if e.is_empty() => {
            Err(ctx.err(node.pos, path, "expected one entry, found none"))
        }
        Kind::Map(e) => Err(ctx.err(
            e[1].0.pos,
            path,
            format!(
                "expected exactly one entry, found {} ({})",
                e.len(),
                e.iter()
                    .map(|(k, _)| k.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
        _ => Err(ctx.err(
            node.pos,
            path,
            format!(
                "expected a mapping with one entry, found {}",
                describe(node)
            ),
        )),
    }
}

impl<'a> Obj<'a> {
    /// The value of `key`, if present (null included).
    pub(crate) fn get(&mut self, key: &'static str) -> Option<&'a Node> {
        self.asked.push(key);
        let i = self.entries.iter().position(|(k, _)| k.name == key)?;
        self.used[i] = true;
        Some(&self.entries[i].1)
    }

    /// The key's position, if present (without marking it used).
    pub(crate) fn key_pos(&self, key: &str) -> Option<Position> {
        self.entries
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(k, _)| k.pos)
    }

    /// The path of a child.
    pub(crate) fn at(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// The value of a required key: an error when absent or null.
    pub(crate) fn required(&mut self, ctx: &Ctx, key: &'static str) -> R<&'a Node> {
        match self.get(key) {
            Some(n) if !n.is_null() => Ok(n),
            Some(n) => Err(ctx.err(n.pos, &self.at(key), "a value is required")),
            None => Err(ctx.err(
                self.pos,
                &self.path,
                format!("missing required property '{key}'"),
            )),
        }
    }

    /// The entries not read, in order.
    pub(crate) fn rest(&self) -> impl Iterator<Item = &'a (Key, Node)> + '_ {
        self.entries
            .iter()
            .zip(&self.used)
            .filter(|(_, u)| !**u)
            .map(|(e, _)| e)
    }

    /// Accounts for the keys not read: `unsupported` ones (known to the
    /// schema, not implemented) and experimental ones are skipped; any other
    /// is an error when the file is strict (and `closed` is the schema's
    /// `additionalProperties: false`), else skipped.
    pub(crate) fn finish(self, ctx: &mut Ctx, unsupported: &[&str]) -> R<()> {
        self.finish_with(ctx, unsupported, ctx.strict)
    }

    /// [`Obj::finish`] that always rejects unknown keys (the engine's own
    /// extension node).
    pub(crate) fn finish_strict(self, ctx: &mut Ctx) -> R<()> {
        self.finish_with(ctx, &[], true)
    }

    fn finish_with(self, ctx: &mut Ctx, unsupported: &[&str], strict: bool) -> R<()> {
        for (k, _) in self.rest() {
            let path = self.at(&k.name);
            if unsupported.contains(&k.name.as_str()) {
                ctx.skip(k.pos, path, "not implemented by datapunk-log");
            } else if is_experimental(&k.name) && !strict_own(&self.path) {
                ctx.skip(
                    k.pos,
                    path,
                    "development feature not implemented by datapunk-log",
                );
            } else if strict {
                let mut expected: Vec<&str> = self.asked.clone();
                expected.extend(unsupported.iter().copied());
                expected.sort_unstable();
                expected.dedup();
                return Err(ctx.err(
                    k.pos,
                    &path,
                    format!(
                        "unknown property '{}' (expected one of: {})",
                        k.name,
                        expected.join(", ")
                    ),
                ));
            } else {
                ctx.skip(
                    k.pos,
                    path,
                    "unknown property (the file's format is newer than this reader)",
                );
            }
        }
        Ok(())
    }
}

/// Inside the engine's own node, `*/development` keys are not special.
fn strict_own(path: &str) -> bool {
    path.starts_with("distribution.datapunk_log")
}

/// `a string ("abc")`, `an integer (42)`, `a mapping`.
pub(crate) fn describe(node: &Node) -> String {
    match &node.kind {
        Kind::Scalar(s) if s.value != Value::Null => {
            let mut text: String = s.text.chars().take(40).collect();
            if text.len() < s.text.len() {
                text.push('…');
            }
            format!("{} ({text:?})", s.value.type_name())
        }
        _ => node.type_name().to_owned(),
    }
}

/// The scalar at `node`; `None` for null; an error for a collection.
pub(crate) fn scalar<'a>(
    ctx: &Ctx,
    node: &'a Node,
    path: &str,
    want: &str,
) -> R<Option<&'a Scalar>> {
    match &node.kind {
        Kind::Scalar(s) if s.value == Value::Null => Ok(None),
        Kind::Scalar(s) => Ok(Some(s)),
        _ => Err(ctx.err(
            node.pos,
            path,
            format!("expected {want}, found {}", node.type_name()),
        )),
    }
}

/// A string property: any non-null scalar's text (a plain `1234` is the
/// string "1234", as an API key from `${API_KEY}` should be).
pub(crate) fn opt_string(ctx: &Ctx, node: Option<&Node>, path: &str) -> R<Option<String>> {
    let Some(node) = node else { return Ok(None) };
    Ok(
        scalar(ctx, node, path, "a string")?.map(|s| match &s.value {
            Value::Str(v) => v.clone(),
            _ => s.text.clone(),
        }),
    )
}

pub(crate) fn opt_bool(ctx: &Ctx, node: Option<&Node>, path: &str) -> R<Option<bool>> {
    let Some(node) = node else { return Ok(None) };
    match scalar(ctx, node, path, "a boolean")? {
        None => Ok(None),
        Some(Scalar {
            value: Value::Bool(b),
            ..
        }) => Ok(Some(*b)),
        Some(_) => Err(ctx.err(
            node.pos,
            path,
            format!(
                "expected a boolean (true or false), found {}",
                describe(node)
            ),
        )),
    }
}

/// An integer ≥ `min`.
pub(crate) fn opt_int(ctx: &Ctx, node: Option<&Node>, path: &str, min: i64) -> R<Option<i64>> {
    let Some(node) = node else { return Ok(None) };
    let what = match min {
        0 => "a non-negative integer".to_owned(),
        1 => "a positive integer".to_owned(),
        m => format!("an integer ≥ {m}"),
    };
    match scalar(ctx, node, path, &what)? {
        None => Ok(None),
        Some(Scalar {
            value: Value::Int(i),
            ..
        }) if *i >= min => Ok(Some(*i)),
        Some(_) => Err(ctx.err(
            node.pos,
            path,
            format!("expected {what}, found {}", describe(node)),
        )),
    }
}

pub(crate) fn opt_u64(ctx: &Ctx, node: Option<&Node>, path: &str) -> R<Option<u64>> {
    Ok(opt_int(ctx, node, path, 0)?.map(|i| i.unsigned_abs()))
}

pub(crate) fn opt_positive(ctx: &Ctx, node: Option<&Node>, path: &str) -> R<Option<u64>> {
    Ok(opt_int(ctx, node, path, 1)?.map(|i| i.unsigned_abs()))
}

pub(crate) fn opt_usize(ctx: &Ctx, node: Option<&Node>, path: &str, min: i64) -> R<Option<usize>> {
    match opt_int(ctx, node, path, min)? {
        None => Ok(None),
        Some(i) => match usize::try_from(i) {
            Ok(u) => Ok(Some(u)),
            Err(_) => Err(ctx.err(node.map(|n| n.pos).unwrap_or_default(), path, "too large")),
        },
    }
}

/// Milliseconds (≥ 0) as a duration.
pub(crate) fn opt_millis(ctx: &Ctx, node: Option<&Node>, path: &str) -> R<Option<Duration>> {
    Ok(opt_u64(ctx, node, path)?.map(Duration::from_millis))
}

/// A number in [0, 1].
pub(crate) fn opt_ratio(ctx: &Ctx, node: Option<&Node>, path: &str) -> R<Option<f64>> {
    let Some(node) = node else { return Ok(None) };
    let want = "a number in [0, 1]";
    let v = match scalar(ctx, node, path, want)? {
        None => return Ok(None),
        Some(s) => match s.value {
            Value::Int(i) => i as f64,
            Value::Float(f) => f,
            _ => f64::NAN,
        },
    };
    if (0.0..=1.0).contains(&v) {
        Ok(Some(v))
    } else {
        Err(ctx.err(
            node.pos,
            path,
            format!("expected {want}, found {}", describe(node)),
        ))
    }
}

/// One of the names in `table` (exact match).
pub(crate) fn opt_enum<T: Copy>(
    ctx: &Ctx,
    node: Option<&Node>,
    path: &str,
    table: &[(&str, T)],
) -> R<Option<T>> {
    let Some(node) = node else { return Ok(None) };
    let names = || table.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ");
    let Some(s) = scalar(ctx, node, path, "a name")? else {
        return Ok(None);
    };
    match table.iter().find(|(n, _)| *n == s.text) {
        Some((_, v)) => Ok(Some(*v)),
        None => Err(ctx.err(
            node.pos,
            path,
            format!("unknown value {:?} (expected one of: {})", s.text, names()),
        )),
    }
}

/// A list of strings (null: `None`).
pub(crate) fn opt_str_list(ctx: &Ctx, node: Option<&Node>, path: &str) -> R<Option<Vec<String>>> {
    let Some(node) = node else { return Ok(None) };
    match &node.kind {
        _ if node.is_null() => Ok(None),
        Kind::Seq(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let p = index(path, i);
                match opt_string(ctx, Some(item), &p)? {
                    Some(s) => out.push(s),
                    None => return Err(ctx.err(item.pos, &p, "expected a string, found null")),
                }
            }
            Ok(Some(out))
        }
        _ => Err(ctx.err(
            node.pos,
            path,
            format!("expected a list of strings, found {}", describe(node)),
        )),
    }
}

/// The items of a list (null: none).
pub(crate) fn seq<'a>(ctx: &Ctx, node: Option<&'a Node>, path: &str) -> R<&'a [Node]> {
    match node {
        None => Ok(&[]),
        Some(n) if n.is_null() => Ok(&[]),
        Some(Node {
            kind: Kind::Seq(items),
            ..
        }) => Ok(items),
        Some(n) => Err(ctx.err(
            n.pos,
            path,
            format!("expected a list, found {}", describe(n)),
        )),
    }
}
