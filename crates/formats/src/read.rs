//! Reading typed values out of YAML nodes, reporting every mismatch as a diagnostic.
//!
//! Each helper returns `None` after reporting a problem, so format parsers can carry on and
//! find the next one.

use crate::diagnostic::Sink;
use crate::yaml::{Node, NodeKind, key_text};

/// The entries of a mapping, or `None` (reported) when the node is something else.
/// A null node is an empty mapping.
pub(crate) fn map<'a>(node: &'a Node, what: &str, sink: &mut Sink) -> Option<&'a [(Node, Node)]> {
    match &node.kind {
        NodeKind::Map(entries) => Some(entries),
        _ if node.is_null() => Some(&[]),
        _ => {
            sink.error(node.pos, format!("`{what}` must be a mapping, found {}", node.type_name()));
            None
        }
    }
}

/// A scalar's text, whatever its YAML type (`9`, `true` and `0.2` become "9", "true", "0.2").
pub(crate) fn string(node: &Node, what: &str, sink: &mut Sink) -> Option<String> {
    match &node.kind {
        NodeKind::Scalar(it) => Some(it.text.clone()),
        _ => {
            sink.error(node.pos, format!("`{what}` must be a string, found {}", node.type_name()));
            None
        }
    }
}

/// A scalar that must not be empty or null.
pub(crate) fn required_string(node: &Node, what: &str, sink: &mut Sink) -> Option<String> {
    if node.is_null() {
        sink.error(node.pos, format!("`{what}` must not be empty"));
        return None;
    }
    string(node, what, sink)
}

/// A yes/no value: `yes`, `no`, `true`, `false` (any case, quoted or not), as CodeBuild accepts.
pub(crate) fn boolean(node: &Node, what: &str, sink: &mut Sink) -> Option<bool> {
    let text = string(node, what, sink)?;
    match text.trim().to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" => Some(true),
        "no" | "false" | "off" => Some(false),
        _ => {
            sink.error(
                node.pos,
                format!("`{what}` must be yes or no (or true or false), found `{text}`"),
            );
            None
        }
    }
}

/// A list of strings. A single scalar is accepted as a list of one when `allow_scalar` is set;
/// null items are skipped with a warning.
pub(crate) fn string_list(
    node: &Node,
    what: &str,
    allow_scalar: bool,
    sink: &mut Sink,
) -> Option<Vec<String>> {
    match &node.kind {
        _ if node.is_null() => Some(Vec::new()),
        NodeKind::Seq(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                if item.is_null() {
                    sink.warning(item.pos, format!("empty item in `{what}` is ignored"));
                    continue;
                }
                if let NodeKind::Map(_) = item.kind {
                    // `- echo a: b` is a mapping to YAML; the classic buildspec mistake.
                    sink.error(
                        item.pos,
                        format!("an item of `{what}` is a mapping, not a string: quote it if it holds `: ` (a colon and a space)"),
                    );
                    continue;
                }
                if let Some(text) = string(item, &format!("{what}[]"), sink) {
                    out.push(text);
                }
            }
            Some(out)
        }
        NodeKind::Scalar(it) if allow_scalar => Some(vec![it.text.clone()]),
        _ => {
            sink.error(node.pos, format!("`{what}` must be a list, found {}", node.type_name()));
            None
        }
    }
}

/// Walks a mapping's keys, calling `on_key` for each known key and warning about the others.
pub(crate) fn fields<'a>(
    entries: &'a [(Node, Node)],
    what: &str,
    known: &[&str],
    sink: &mut Sink,
    mut on_key: impl FnMut(&str, &'a Node, &'a Node, &mut Sink),
) {
    for (key, value) in entries {
        let name = key_text(key);
        if known.contains(&name.as_str()) {
            on_key(&name, key, value, sink);
        } else {
            sink.warning(key.pos, unknown_key_message(&name, what, known));
        }
    }
}

/// "unknown key `bulid` in `phases`; expected one of install, pre_build, build, post_build
/// (did you mean `build`?)"
pub(crate) fn unknown_key_message(name: &str, what: &str, known: &[&str]) -> String {
    let place =
        if what.is_empty() { "at the top level".to_owned() } else { format!("in `{what}`") };
    let mut message =
        format!("unknown key `{name}` {place} (ignored); expected one of {}", known.join(", "));
    if let Some(best) = closest(name, known) {
        message.push_str(&format!("; did you mean `{best}`?"));
    }
    message
}

/// The known name closest to `name`, when it is close enough to be a likely typo.
pub(crate) fn closest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    let lower = name.to_ascii_lowercase();
    known
        .iter()
        .map(|it| (edit_distance(&lower, &it.to_ascii_lowercase()), *it))
        .filter(|(d, it)| *d <= 2.max(it.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, it)| it)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == *cb { diagonal } else { 1 + diagonal.min(above).min(row[j]) };
            diagonal = above;
        }
    }
    row[b.len()]
}
