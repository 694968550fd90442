//! Typed outputs as Query XML, as botocore parses it: a structure's members are elements
//! named as the model names them (`None` members are left out), lists are `<member>`
//! elements, maps `<entry><key>…</key><value>…</value></entry>`, booleans `true`/`false`
//! and dates ([`Timestamp`]) ISO 8601 in UTC.
//!
//! A small serde serializer rather than quick-xml's: quick-xml writes a `Vec` as repeated
//! elements named after the field, so every list would need a wrapper struct renamed to
//! `member`, and a `None` would still write its element; the Query protocol's rules are few
//! enough to write here once, and the output structs stay plain serde structs.

use std::fmt;

use quick_xml::escape::escape;
use serde::Serialize;
use serde::ser::{self, Impossible};

/// A date, in milliseconds since the epoch, written as `2026-12-03T10:00:00Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The date in ISO 8601, to the second, in UTC.
    pub fn iso8601(self) -> String {
        let format =
            time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
        time::OffsetDateTime::from_unix_timestamp(self.0.div_euclid(1000))
            .ok()
            .and_then(|date| date.format(&format).ok())
            .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: ser::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.iso8601())
    }
}

/// Why an output cannot be written (a shape the Query protocol has no form for).
#[derive(Debug)]
pub struct EncodeError(String);

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EncodeError {}

impl ser::Error for EncodeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        EncodeError(msg.to_string())
    }
}

/// The XML of `value`'s contents (a structure's member elements, a list's `<member>`s, a
/// scalar's escaped text); `None` when there is nothing to write (a `None` or a unit).
pub fn contents<T: Serialize + ?Sized>(value: &T) -> Result<Option<String>, EncodeError> {
    value.serialize(Contents)
}

/// Serializes a value into its contents: `Ok(None)` is "leave the element out".
struct Contents;

fn element(out: &mut String, name: &str, contents: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    out.push_str(contents);
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

impl ser::Serializer for Contents {
    type Ok = Option<String>;
    type Error = EncodeError;
    type SerializeSeq = List;
    type SerializeTuple = List;
    type SerializeTupleStruct = List;
    type SerializeTupleVariant = Impossible<Option<String>, EncodeError>;
    type SerializeMap = Entries;
    type SerializeStruct = Members;
    type SerializeStructVariant = Impossible<Option<String>, EncodeError>;

    fn serialize_bool(self, v: bool) -> Result<Self::Ok, EncodeError> {
        Ok(Some(if v { "true" } else { "false" }.to_owned()))
    }
    fn serialize_i8(self, v: i8) -> Result<Self::Ok, EncodeError> {
        Ok(Some(v.to_string()))
    }
    fn serialize_i16(self, v: i16) -> Result<Self::Ok, EncodeError> {
        Ok(Some(v.to_string()))
    }
    fn serialize_i32(self, v: i32) -> Result<Self::Ok, EncodeError> {
        Ok(Some(v.to_string()))
    }
    fn serialize_i64(self, v: i64) -> Result<Self::Ok, EncodeError> {
        Ok(Some(v.to_string()))
    }
    fn serialize_u8(self, v: u8) -> Result<Self::Ok, EncodeError> {
        Ok(Some(v.to_string()))
    }
    fn serialize_u16(self, v: u16) -> Result<Self::Ok, EncodeError> {
        Ok(Some(v.to_string()))
    }
    fn serialize_u32(self, v: u32) -> Result<Self::Ok, EncodeError> {
        Ok(Some(v.to_string()))
    }
    fn serialize_u64(self, v: u64) -> Result<Self::Ok, EncodeError> {
        Ok(Some(v.to_string()))
    }
    fn serialize_f32(self, v: f32) -> Result<Self::Ok, EncodeError> {
        Ok(Some(v.to_string()))
    }
    fn serialize_f64(self, v: f64) -> Result<Self::Ok, EncodeError> {
        Ok(Some(v.to_string()))
    }
    fn serialize_char(self, v: char) -> Result<Self::Ok, EncodeError> {
        Ok(Some(escape(v.to_string().as_str()).into_owned()))
    }
    fn serialize_str(self, v: &str) -> Result<Self::Ok, EncodeError> {
        Ok(Some(escape(v).into_owned()))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Self::Ok, EncodeError> {
        Ok(Some(crate::base64::encode(v)))
    }
    fn serialize_none(self) -> Result<Self::Ok, EncodeError> {
        Ok(None)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Self::Ok, EncodeError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Self::Ok, EncodeError> {
        Ok(None)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<Self::Ok, EncodeError> {
        Ok(None)
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Self::Ok, EncodeError> {
        Ok(Some(escape(variant).into_owned()))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<Self::Ok, EncodeError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Self::Ok, EncodeError> {
        let mut out = String::new();
        if let Some(inner) = value.serialize(Contents)? {
            element(&mut out, variant, &inner);
        }
        Ok(Some(out))
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<List, EncodeError> {
        Ok(List(String::new()))
    }
    fn serialize_tuple(self, _len: usize) -> Result<List, EncodeError> {
        Ok(List(String::new()))
    }
    fn serialize_tuple_struct(self, _name: &'static str, _len: usize) -> Result<List, EncodeError> {
        Ok(List(String::new()))
    }
    fn serialize_tuple_variant(
        self,
        name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, EncodeError> {
        Err(EncodeError(format!("{name}: the Query protocol has no tuple variants")))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Entries, EncodeError> {
        Ok(Entries { out: String::new(), key: None })
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Members, EncodeError> {
        Ok(Members(String::new()))
    }
    fn serialize_struct_variant(
        self,
        name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, EncodeError> {
        Err(EncodeError(format!("{name}: the Query protocol has no struct variants")))
    }
}

/// A list's `<member>` elements.
struct List(String);

impl ser::SerializeSeq for List {
    type Ok = Option<String>;
    type Error = EncodeError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
        let inner = value.serialize(Contents)?.unwrap_or_default();
        element(&mut self.0, "member", &inner);
        Ok(())
    }

    fn end(self) -> Result<Option<String>, EncodeError> {
        Ok(Some(self.0))
    }
}

impl ser::SerializeTuple for List {
    type Ok = Option<String>;
    type Error = EncodeError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
        ser::SerializeSeq::serialize_element(self, value)
    }

    fn end(self) -> Result<Option<String>, EncodeError> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for List {
    type Ok = Option<String>;
    type Error = EncodeError;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
        ser::SerializeSeq::serialize_element(self, value)
    }

    fn end(self) -> Result<Option<String>, EncodeError> {
        ser::SerializeSeq::end(self)
    }
}

/// A map's `<entry>` elements.
struct Entries {
    out: String,
    key: Option<String>,
}

impl ser::SerializeMap for Entries {
    type Ok = Option<String>;
    type Error = EncodeError;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), EncodeError> {
        self.key = Some(key.serialize(Contents)?.unwrap_or_default());
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
        let key = self.key.take().ok_or_else(|| EncodeError("a map value without a key".into()))?;
        let mut entry = String::new();
        element(&mut entry, "key", &key);
        if let Some(value) = value.serialize(Contents)? {
            element(&mut entry, "value", &value);
        }
        element(&mut self.out, "entry", &entry);
        Ok(())
    }

    fn end(self) -> Result<Option<String>, EncodeError> {
        Ok(Some(self.out))
    }
}

/// A structure's member elements.
struct Members(String);

impl ser::SerializeStruct for Members {
    type Ok = Option<String>;
    type Error = EncodeError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), EncodeError> {
        if let Some(inner) = value.serialize(Contents)? {
            element(&mut self.0, key, &inner);
        }
        Ok(())
    }

    fn end(self) -> Result<Option<String>, EncodeError> {
        Ok(Some(self.0))
    }
}
