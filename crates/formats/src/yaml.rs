//! A YAML document as a tree of positioned nodes.
//!
//! The formats need more than serde gives them: the position of every node for diagnostics,
//! the source text of every scalar (`0644`, `yes` and `3.10` must stay as written), and the
//! freedom to report *every* problem instead of stopping at the first. So we build our own
//! small tree from the events of the YAML parser behind `serde-saphyr`, resolving aliases
//! and `<<` merge keys here.

use std::collections::HashMap;

use serde_saphyr::granit_parser::{Event, Marker, Parser, ScalarStyle};

use crate::diagnostic::{Pos, Sink};

/// How many nodes a document may expand to once aliases are resolved, against alias bombs.
const NODE_BUDGET: usize = 200_000;

/// One node of a document.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub(crate) pos: Pos,
    pub(crate) kind: NodeKind,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NodeKind {
    Scalar(Scalar),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

/// A scalar as written: its text after escapes and folding, and whether it was quoted.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Scalar {
    pub(crate) text: String,
    /// Plain (unquoted, not a block) scalars are the only ones that can mean null or a bool.
    pub(crate) plain: bool,
}

impl Node {
    /// Whether the node is YAML's null: an empty value, `~` or `null`.
    pub(crate) fn is_null(&self) -> bool {
        matches!(&self.kind, NodeKind::Scalar(s) if s.plain && matches!(s.text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// A short name of the node's type for messages: "a string", "a list", "a mapping".
    pub(crate) fn type_name(&self) -> &'static str {
        match &self.kind {
            _ if self.is_null() => "nothing (null)",
            NodeKind::Scalar(_) => "a scalar",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }

    pub(crate) fn as_scalar(&self) -> Option<&Scalar> {
        match &self.kind {
            NodeKind::Scalar(it) => Some(it),
            _ => None,
        }
    }
}

/// Parses one YAML document. Returns `None` (after reporting why) when the text is not YAML,
/// and `Some(None)`-like emptiness as a null scalar at 1:1 when the document is empty.
pub(crate) fn parse(text: &str, sink: &mut Sink) -> Option<Node> {
    let mut builder = Builder { anchors: HashMap::new(), budget: NODE_BUDGET, sink };
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut documents: Vec<Node> = Vec::new();
    loop {
        let (event, span) = match parser.next_event() {
            None => break,
            Some(Ok(it)) => it,
            Some(Err(err)) => {
                let pos = pos_of(err.marker());
                builder.sink.error(pos, format!("invalid YAML: {}", err.info()));
                return None;
            }
        };
        let pos = pos_of(&span.start);
        let node = match event {
            Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart(..)
            | Event::DocumentEnd => {
                continue;
            }
            Event::Scalar(value, style, anchor, _tag) => {
                let plain = matches!(style, ScalarStyle::Plain);
                let node = Node {
                    pos,
                    kind: NodeKind::Scalar(Scalar { text: value.into_owned(), plain }),
                };
                builder.remember(anchor, &node);
                node
            }
            Event::SequenceStart(_, anchor, _) => {
                stack.push(Frame { pos, anchor, items: Vec::new(), is_map: false });
                continue;
            }
            Event::MappingStart(_, anchor, _) => {
                stack.push(Frame { pos, anchor, items: Vec::new(), is_map: true });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let frame = stack.pop().expect("the parser balances start and end events");
                let node = if frame.is_map {
                    Node { pos: frame.pos, kind: NodeKind::Map(builder.mapping(frame.items)) }
                } else {
                    Node { pos: frame.pos, kind: NodeKind::Seq(frame.items) }
                };
                builder.remember(frame.anchor, &node);
                node
            }
            Event::Alias(id) => match builder.anchors.get(&id) {
                Some(target) => {
                    let size = count(target);
                    if size > builder.budget {
                        builder.sink.error(pos, "the document is too large once its aliases are expanded (an alias bomb?)");
                        return None;
                    }
                    builder.budget -= size;
                    Node { pos, kind: target.kind.clone() }
                }
                None => {
                    builder.sink.error(pos, "alias to an unknown anchor");
                    return None;
                }
            },
            _ => continue,
        };
        match stack.last_mut() {
            Some(frame) => frame.items.push(node),
            None => documents.push(node),
        }
    }
    let mut documents = documents.into_iter();
    let first = documents.next();
    if let Some(extra) = documents.next() {
        builder.sink.error(
            extra.pos,
            "a second YAML document in the file (after `---`); only one is allowed",
        );
    }
    Some(first.unwrap_or(Node {
        pos: Pos { line: 1, column: 1 },
        kind: NodeKind::Scalar(Scalar { text: String::new(), plain: true }),
    }))
}

struct Frame {
    pos: Pos,
    anchor: usize,
    /// For a mapping: keys and values alternating.
    items: Vec<Node>,
    is_map: bool,
}

struct Builder<'a> {
    anchors: HashMap<usize, Node>,
    budget: usize,
    sink: &'a mut Sink,
}

impl Builder<'_> {
    fn remember(&mut self, anchor: usize, node: &Node) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
    }

    /// Pairs up keys and values, applies `<<` merge keys (explicit keys win over merged ones,
    /// earlier merged mappings over later ones) and reports duplicate keys.
    fn mapping(&mut self, items: Vec<Node>) -> Vec<(Node, Node)> {
        let mut explicit: Vec<(Node, Node)> = Vec::new();
        let mut merged: Vec<(Node, Node)> = Vec::new();
        let mut items = items.into_iter();
        while let (Some(key), Some(value)) = (items.next(), items.next()) {
            let is_merge = key.as_scalar().is_some_and(|it| it.plain && it.text == "<<");
            if !is_merge {
                if let Some((first, _)) = explicit.iter().find(|(k, _)| same_key(k, &key)) {
                    let line = first.pos.line;
                    self.sink.error(
                        key.pos,
                        format!(
                            "duplicate key `{}` (first defined on line {line})",
                            key_text(&key)
                        ),
                    );
                    continue;
                }
                explicit.push((key, value));
                continue;
            }
            let sources = match value.kind {
                NodeKind::Map(entries) => vec![entries],
                NodeKind::Seq(nodes) => {
                    let mut sources = Vec::new();
                    for node in nodes {
                        match node.kind {
                            NodeKind::Map(entries) => sources.push(entries),
                            _ => self
                                .sink
                                .error(node.pos, "a `<<` merge list may only hold mappings"),
                        }
                    }
                    sources
                }
                _ => {
                    self.sink.error(
                        value.pos,
                        "the value of a `<<` merge key must be a mapping or a list of mappings",
                    );
                    continue;
                }
            };
            for entries in sources {
                for (k, v) in entries {
                    if !merged.iter().any(|(m, _)| same_key(m, &k)) {
                        merged.push((k, v));
                    }
                }
            }
        }
        for (k, v) in merged {
            if !explicit.iter().any(|(e, _)| same_key(e, &k)) {
                explicit.push((k, v));
            }
        }
        explicit
    }
}

fn same_key(a: &Node, b: &Node) -> bool {
    match (&a.kind, &b.kind) {
        (NodeKind::Scalar(x), NodeKind::Scalar(y)) => x.text == y.text,
        _ => false,
    }
}

/// The key's text for messages.
pub(crate) fn key_text(node: &Node) -> String {
    match &node.kind {
        NodeKind::Scalar(it) => it.text.clone(),
        _ => format!("<{}>", node.type_name()),
    }
}

fn count(node: &Node) -> usize {
    match &node.kind {
        NodeKind::Scalar(_) => 1,
        NodeKind::Seq(items) => 1 + items.iter().map(count).sum::<usize>(),
        NodeKind::Map(entries) => {
            1 + entries.iter().map(|(k, v)| count(k) + count(v)).sum::<usize>()
        }
    }
}

fn pos_of(marker: &Marker) -> Pos {
    Pos { line: marker.line() as u32, column: marker.col() as u32 + 1 }
}
