//! Query requests as typed inputs: the form's `Name.member.N`, `Name.entry.N.key/value` and
//! `Name.Field` keys become a tree, which a serde deserializer reads into the operation's
//! input struct (its fields carry the botocore member names). Numbers and booleans arrive as
//! text and are parsed where the struct asks for them.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};

use crate::ApiError;

/// A form's keys as a tree: `Tags.member.1.Key=a` is `Tags → member → 1 → Key → "a"`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Text(String),
    Tree(BTreeMap<String, Node>),
}

impl Node {
    fn insert(&mut self, path: &[&str], value: &str) {
        let Some((first, rest)) = path.split_first() else {
            if matches!(self, Node::Text(_)) {
                *self = Node::Text(value.to_owned());
            }
            return;
        };
        if matches!(self, Node::Text(_)) {
            // `Tags=` (an empty list) beside `Tags.member.1…`: the members win.
            *self = Node::Tree(BTreeMap::new());
        }
        if let Node::Tree(children) = self {
            let child = children.entry((*first).to_owned()).or_insert_with(|| {
                if rest.is_empty() {
                    Node::Text(String::new())
                } else {
                    Node::Tree(BTreeMap::new())
                }
            });
            child.insert(rest, value);
        }
    }
}

/// The members of a Query request (every pair but `Action` and `Version`) as the typed input
/// `T`. A member of the wrong form, or a missing required one, is IAM's `ValidationError`
/// naming the member as the request spells it (`Tags.member.2.Key`).
pub fn input<T: DeserializeOwned>(pairs: &[(String, String)]) -> Result<T, ApiError> {
    let mut root = Node::Tree(BTreeMap::new());
    for (key, value) in pairs {
        if key == "Action" || key == "Version" || key.is_empty() {
            continue;
        }
        let path: Vec<&str> = key.split('.').collect();
        root.insert(&path, value);
    }
    serde_path_to_error::deserialize(&root).map_err(|err| {
        let mut name = query_path(err.path());
        match err.into_inner() {
            DecodeError::Missing(field) => {
                if !name.is_empty() {
                    name.push('.');
                }
                name.push_str(field);
                validation_error(&format!(
                    "Value null at '{name}' failed to satisfy constraint: Member must not be null"
                ))
            }
            DecodeError::Invalid { value, expected } => validation_error(&format!(
                "Value '{value}' at '{name}' failed to satisfy constraint: Member must be {expected}"
            )),
            DecodeError::Other(message) => {
                validation_error(&format!("The member '{name}' is not valid: {message}"))
            }
        }
    })
}

/// IAM's error for input that does not satisfy the model.
fn validation_error(detail: &str) -> ApiError {
    ApiError::client("ValidationError", format!("1 validation error detected: {detail}"))
}

/// A deserializer's path as the request names it: `Tags[1].Key` is `Tags.member.2.Key`.
fn query_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut parts = Vec::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => parts.push(format!("member.{}", index + 1)),
            Segment::Map { key } => parts.push(key.clone()),
            Segment::Enum { variant } => parts.push(variant.clone()),
            Segment::Unknown => parts.push("?".to_owned()),
        }
    }
    parts.join(".")
}

/// Why a request's members do not make the input.
#[derive(Debug)]
enum DecodeError {
    /// A required member is absent.
    Missing(&'static str),
    /// A member's text is not what the model says it is (a number, a boolean, a list).
    Invalid { value: String, expected: &'static str },
    /// Anything else serde says (an unknown enum value, …).
    Other(String),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Missing(field) => write!(f, "missing member {field}"),
            DecodeError::Invalid { value, expected } => write!(f, "'{value}' is not {expected}"),
            DecodeError::Other(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for DecodeError {}

impl de::Error for DecodeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DecodeError::Other(msg.to_string())
    }

    fn missing_field(field: &'static str) -> Self {
        DecodeError::Missing(field)
    }
}

fn invalid(node: &Node, expected: &'static str) -> DecodeError {
    let value = match node {
        Node::Text(text) => text.clone(),
        Node::Tree(_) => "(a structure)".to_owned(),
    };
    DecodeError::Invalid { value, expected }
}

impl<'a> Node {
    fn text(&'a self, expected: &'static str) -> Result<&'a str, DecodeError> {
        match self {
            Node::Text(text) => Ok(text),
            Node::Tree(_) => Err(invalid(self, expected)),
        }
    }

    fn parse<T: std::str::FromStr>(&self, expected: &'static str) -> Result<T, DecodeError> {
        self.text(expected)?.trim().parse().map_err(|_| invalid(self, expected))
    }

    /// The children of `wrapper` (`member`, `entry`) in their numeric order; an empty text is
    /// an empty list.
    fn numbered(
        &'a self,
        wrapper: &str,
        expected: &'static str,
    ) -> Result<Vec<&'a Node>, DecodeError> {
        match self {
            Node::Text(text) if text.is_empty() => Ok(Vec::new()),
            Node::Tree(children) => {
                let Some(Node::Tree(items)) = children.get(wrapper) else {
                    return Err(invalid(self, expected));
                };
                let mut numbered = Vec::new();
                for (index, item) in items {
                    let index: usize = index.parse().map_err(|_| invalid(self, expected))?;
                    numbered.push((index, item));
                }
                numbered.sort_by_key(|(index, _)| *index);
                Ok(numbered.into_iter().map(|(_, item)| item).collect())
            }
            Node::Text(_) => Err(invalid(self, expected)),
        }
    }
}

macro_rules! parsed {
    ($($method:ident $visit:ident $ty:ty, $what:literal;)*) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
            visitor.$visit(self.parse::<$ty>($what)?)
        })*
    };
}

impl<'de> de::Deserializer<'de> for &'de Node {
    type Error = DecodeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self {
            Node::Text(text) => visitor.visit_borrowed_str(text),
            Node::Tree(children) => {
                visitor.visit_map(Fields { iter: children.iter(), value: None })
            }
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.text("a boolean")?.trim() {
            "true" => visitor.visit_bool(true),
            "false" => visitor.visit_bool(false),
            _ => Err(invalid(self, "a boolean")),
        }
    }

    parsed! {
        deserialize_i8 visit_i8 i8, "an integer";
        deserialize_i16 visit_i16 i16, "an integer";
        deserialize_i32 visit_i32 i32, "an integer";
        deserialize_i64 visit_i64 i64, "an integer";
        deserialize_u8 visit_u8 u8, "a non-negative integer";
        deserialize_u16 visit_u16 u16, "a non-negative integer";
        deserialize_u32 visit_u32 u32, "a non-negative integer";
        deserialize_u64 visit_u64 u64, "a non-negative integer";
        deserialize_f32 visit_f32 f32, "a number";
        deserialize_f64 visit_f64 f64, "a number";
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        visitor.visit_char(self.parse("a character")?)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        visitor.visit_borrowed_str(self.text("a string")?)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        let text = self.text("base64 text")?;
        let bytes = crate::base64::decode(text).ok_or_else(|| invalid(self, "base64 text"))?;
        visitor.visit_byte_buf(bytes)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        visitor.visit_some(self)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        let items = self.numbered("member", "a list (Name.member.N)")?;
        visitor.visit_seq(de::value::SeqDeserializer::new(items.into_iter()))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        let entries = self.numbered("entry", "a map (Name.entry.N.key and .value)")?;
        let mut pairs = Vec::with_capacity(entries.len());
        for entry in entries {
            let (Node::Tree(parts), Some(key)) = (entry, entry_part(entry, "key")) else {
                return Err(invalid(entry, "a map entry with a key"));
            };
            let value =
                parts.get("value").ok_or_else(|| invalid(entry, "a map entry with a value"))?;
            pairs.push((key.text("a map key")?, value));
        }
        visitor.visit_map(de::value::MapDeserializer::new(pairs.into_iter()))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        match self {
            Node::Tree(children) => {
                visitor.visit_map(Fields { iter: children.iter(), value: None })
            }
            Node::Text(text) if text.is_empty() => {
                visitor.visit_map(Fields { iter: NO_FIELDS.iter(), value: None })
            }
            Node::Text(_) => Err(invalid(self, "a structure (Name.Field)")),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        let text = self.text("one of the model's values")?;
        visitor.visit_enum(text.into_deserializer())
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        visitor.visit_unit()
    }
}

/// The members of a structure sent as `Name=` (none).
static NO_FIELDS: BTreeMap<String, Node> = BTreeMap::new();

fn entry_part<'a>(entry: &'a Node, part: &str) -> Option<&'a Node> {
    match entry {
        Node::Tree(parts) => parts.get(part),
        Node::Text(_) => None,
    }
}

impl<'de> IntoDeserializer<'de, DecodeError> for &'de Node {
    type Deserializer = &'de Node;

    fn into_deserializer(self) -> &'de Node {
        self
    }
}

/// A structure's members, by name.
struct Fields<'a, I: Iterator<Item = (&'a String, &'a Node)>> {
    iter: I,
    value: Option<&'a Node>,
}

impl<'de, I: Iterator<Item = (&'de String, &'de Node)>> de::MapAccess<'de> for Fields<'de, I> {
    type Error = DecodeError;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DecodeError> {
        let Some((key, value)) = self.iter.next() else { return Ok(None) };
        self.value = Some(value);
        seed.deserialize(key.as_str().into_deserializer()).map(Some)
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, DecodeError> {
        let value =
            self.value.take().ok_or_else(|| DecodeError::Other("a value without a key".into()))?;
        seed.deserialize(value)
    }
}
