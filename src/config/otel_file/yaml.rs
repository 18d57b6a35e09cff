//! The YAML document as a small tree of marked nodes, built from
//! saphyr-parser's events, and the YAML 1.2 core schema's resolution of
//! plain scalars.
//!
//! Scalars keep their source text and style: environment substitution works
//! on the text, and only a *plain* scalar's type is resolved afterwards
//! (`"${INT}"` stays a string, `${INT}` becomes an integer), as the
//! configuration data model requires. The tree is built without recursion;
//! nesting deeper than [`MAX_DEPTH`] and documents (aliases expanded) of more
//! than [`MAX_NODES`] nodes are errors, so no input can exhaust the stack or
//! memory.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use super::error::Position;

/// Deepest nesting of sequences and mappings accepted.
pub(crate) const MAX_DEPTH: usize = 64;
/// Most nodes in a document, aliases expanded (a "billion laughs" guard).
pub(crate) const MAX_NODES: usize = 100_000;

/// A resolved scalar value (YAML 1.2 core schema).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

impl Value {
    /// What a message calls the value's type.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
        }
    }
}

/// The core-schema tag a scalar carries (`!!str`, `!!int`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CoreTag {
    Str,
    Int,
    Float,
    Bool,
    Null,
}

/// A scalar: its text (after substitution, once [`super::substitute`] ran),
/// whether it was plain, and its resolved value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Scalar {
    pub text: String,
    pub plain: bool,
    pub tag: Option<CoreTag>,
    pub value: Value,
}

/// A mapping key (always a scalar; its text).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Key {
    pub name: String,
    pub pos: Position,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Kind {
    Scalar(Scalar),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

/// A node and where it starts.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Node {
    pub pos: Position,
    pub kind: Kind,
}

impl Node {
    pub(crate) fn is_null(&self) -> bool {
        matches!(&self.kind, Kind::Scalar(s) if s.value == Value::Null)
    }

    /// What a message calls the node's type.
    pub(crate) fn type_name(&self) -> &'static str {
        match &self.kind {
            Kind::Scalar(s) => s.value.type_name(),
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }

    fn count(&self) -> usize {
        match &self.kind {
            Kind::Scalar(_) => 1,
            Kind::Seq(items) => 1 + items.iter().map(Node::count).sum::<usize>(),
            Kind::Map(entries) => 1 + entries.iter().map(|(_, v)| 1 + v.count()).sum::<usize>(),
        }
    }
}

/// A syntax error: where and what.
#[derive(Debug)]
pub(crate) struct SyntaxError {
    pub pos: Position,
    pub message: String,
}

fn pos_of(span: &Span) -> Position {
    Position {
        line: span.start.line(),
        column: span.start.col() + 1,
    }
}

enum Frame {
    Seq {
        pos: Position,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        pos: Position,
        anchor: usize,
        entries: Vec<(Key, Node)>,
        key: Option<Key>,
    },
}

struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Node, usize)>,
    root: Option<Node>,
    nodes: usize,
    documents: usize,
}

impl Builder {
    fn add_nodes(&mut self, n: usize, pos: Position) -> Result<(), SyntaxError> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > MAX_NODES {
            return Err(SyntaxError {
                pos,
                message: format!("the document has more than {MAX_NODES} nodes (aliases expanded)"),
            });
        }
        Ok(())
    }

    fn push_frame(&mut self, frame: Frame, pos: Position) -> Result<(), SyntaxError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(SyntaxError {
                pos,
                message: format!("nesting deeper than {MAX_DEPTH} levels"),
            });
        }
        self.add_nodes(1, pos)?;
        self.stack.push(frame);
        Ok(())
    }

    fn place(&mut self, node: Node, anchor: usize) -> Result<(), SyntaxError> {
        if anchor != 0 {
            let n = node.count();
            self.anchors.insert(anchor, (node.clone(), n));
        }
        match self.stack.last_mut() {
            None => {
                if self.root.is_some() {
                    return Err(SyntaxError {
                        pos: node.pos,
                        message: "more than one YAML document".into(),
                    });
                }
                self.root = Some(node);
            }
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                Some(k) => entries.push((k, node)),
                None => {
                    let Kind::Scalar(s) = &node.kind else {
                        return Err(SyntaxError {
                            pos: node.pos,
                            message: "a mapping key must be a scalar".into(),
                        });
                    };
                    if entries.iter().any(|(k, _)| k.name == s.text) {
                        return Err(SyntaxError {
                            pos: node.pos,
                            message: format!("duplicate key '{}'", s.text),
                        });
                    }
                    *key = Some(Key {
                        name: s.text.clone(),
                        pos: node.pos,
                    });
                }
            },
        }
        Ok(())
    }
}

fn core_tag(tag: &saphyr_parser::Tag, pos: Position) -> Result<Option<CoreTag>, SyntaxError> {
    if tag.is_yaml_core_schema() {
        let t = match tag.suffix.as_str() {
            "str" => CoreTag::Str,
            "int" => CoreTag::Int,
            "float" => CoreTag::Float,
            "bool" => CoreTag::Bool,
            "null" => CoreTag::Null,
            _ => {
                return Err(SyntaxError {
                    pos,
                    message: format!("unsupported tag '{tag}' on a scalar"),
                });
            }
        };
        return Ok(Some(t));
    }
    if tag.handle == "!" && tag.suffix.is_empty() {
        // The non-specific tag `!`: a string.
        return Ok(Some(CoreTag::Str));
    }
    Err(SyntaxError {
        pos,
        message: format!("unsupported tag '{tag}'"),
    })
}

/// Parses one YAML document into a tree (scalars unresolved: their value
/// is set by [`resolve`] after substitution). `Ok(None)` for an empty
/// document.
pub(crate) fn parse(text: &str) -> Result<Option<Node>, SyntaxError> {
    let mut b = Builder {
        stack: Vec::new(),
        anchors: HashMap::new(),
        root: None,
        nodes: 0,
        documents: 0,
    };
    for ev in Parser::new_from_str(text) {
        let (ev, span) = ev.map_err(|e| SyntaxError {
            pos: Position {
                line: e.marker().line(),
                column: e.marker().col() + 1,
            },
            message: e.info().to_owned(),
        })?;
        let pos = pos_of(&span);
        match ev {
            Event::DocumentStart(_) => {
                b.documents += 1;
                if b.documents > 1 {
                    return Err(SyntaxError {
                        pos,
                        message: "more than one YAML document".into(),
                    });
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                let tag = match tag {
                    Some(t) => core_tag(&t, pos)?,
                    None => None,
                };
                b.add_nodes(1, pos)?;
                let node = Node {
                    pos,
                    kind: Kind::Scalar(Scalar {
                        text: text.into_owned(),
                        plain: style == ScalarStyle::Plain,
                        tag,
                        value: Value::Null,
                    }),
                };
                b.place(node, anchor)?;
            }
            Event::SequenceStart(anchor, _) => b.push_frame(
                Frame::Seq {
                    pos,
                    anchor,
                    items: Vec::new(),
                },
                pos,
            )?,
            Event::MappingStart(anchor, _) => b.push_frame(
                Frame::Map {
                    pos,
                    anchor,
                    entries: Vec::new(),
                    key: None,
                },
                pos,
            )?,
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match b.stack.pop() {
                    Some(Frame::Seq { pos, anchor, items }) => (
                        Node {
                            pos,
                            kind: Kind::Seq(items),
                        },
                        anchor,
                    ),
                    Some(Frame::Map {
                        pos,
                        anchor,
                        entries,
                        ..
                    }) => (
                        Node {
                            pos,
                            kind: Kind::Map(entries),
                        },
                        anchor,
                    ),
                    None => {
                        return Err(SyntaxError {
                            pos,
                            message: "unbalanced end of a collection".into(),
                        });
                    }
                };
                b.place(node, anchor)?;
            }
            Event::Alias(id) => {
                let Some(n) = b.anchors.get(&id).map(|(_, n)| *n) else {
                    return Err(SyntaxError {
                        pos,
                        message: "alias to an unknown anchor".into(),
                    });
                };
                b.add_nodes(n, pos)?;
                if let Some((node, _)) = b.anchors.get(&id).cloned() {
                    b.place(node, 0)?;
                }
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
        }
    }
    Ok(b.root)
}

/// Resolves a scalar's text to a value: a plain scalar by the YAML 1.2
/// core schema (null, booleans, decimal/octal/hexadecimal integers,
/// floats, else a string), a quoted or block scalar to a string, a tagged
/// one by its tag (an error message when the text does not fit the tag).
pub(crate) fn resolve(text: &str, plain: bool, tag: Option<CoreTag>) -> Result<Value, String> {
    match tag {
        Some(CoreTag::Str) => return Ok(Value::Str(text.to_owned())),
        None if !plain => return Ok(Value::Str(text.to_owned())),
        None => return Ok(resolve_plain(text)),
        Some(_) => {}
    }
    let v = resolve_plain(text);
    let ok = match (tag, &v) {
        (Some(CoreTag::Int), Value::Int(_))
        | (Some(CoreTag::Float), Value::Float(_))
        | (Some(CoreTag::Bool), Value::Bool(_))
        | (Some(CoreTag::Null), Value::Null) => true,
        (Some(CoreTag::Float), Value::Int(i)) => return Ok(Value::Float(*i as f64)),
        _ => false,
    };
    if ok {
        Ok(v)
    } else {
        Err(format!("'{text}' does not match its tag"))
    }
}

/// The YAML 1.2 core schema's resolution of a plain scalar.
pub(crate) fn resolve_plain(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    if let Some(oct) = s.strip_prefix("0o")
        && !oct.is_empty()
        && oct.bytes().all(|b| (b'0'..=b'7').contains(&b))
    {
        return radix(oct, 8, s);
    }
    if let Some(hex) = s.strip_prefix("0x")
        && !hex.is_empty()
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return radix(hex, 16, s);
    }
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return match s.parse::<i64>() {
            Ok(i) => Value::Int(i),
            Err(_) => s
                .parse::<f64>()
                .map_or_else(|_| Value::Str(s.to_owned()), Value::Float),
        };
    }
    if is_core_float(s)
        && let Ok(f) = s.parse::<f64>()
    {
        return Value::Float(f);
    }
    Value::Str(s.to_owned())
}

fn radix(digits: &str, radix: u32, s: &str) -> Value {
    match u64::from_str_radix(digits, radix) {
        Ok(u) => i64::try_from(u).map_or(Value::Float(u as f64), Value::Int),
        Err(_) => Value::Str(s.to_owned()),
    }
}

/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`
fn is_core_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - int_start;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let frac_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if int_digits == 0 && i == frac_start {
            return false;
        }
    } else if int_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        let exp_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == exp_start {
            return false;
        }
    }
    i == b.len()
}
