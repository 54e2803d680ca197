//! The config as a tree of values: what the YAML reader ([`super::yaml`]) builds, what the loader edits
//! (dotted keys, `${VAR}`, `-E`), what `RawConfig` is deserialized from (through serde, as from any other
//! format), and what `export config` prints back as YAML.
//!
//! Mapping keys are always text, as config keys are, and keep the order they were written in (so `export
//! config` prints them in the file's order, and a processor's one key is its name). Numbers keep their
//! kind (a whole number, a negative one, a float), so `add_fields` values and index settings keep the
//! types they were written with. Deserializing reads the tree in place: nothing is copied but the values
//! a struct keeps as a tree (`processors`, the ignored beats blocks).

use std::fmt;

use indexmap::IndexMap;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Unexpected, Visitor};
use serde::ser::{Serialize, Serializer};
use serde::Deserialize;

/// A mapping: text keys, in the order written.
pub type Mapping = IndexMap<String, Value>;

/// One value of the config.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Value {
    /// `null`, `~` or nothing.
    #[default]
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number.
    Number(Number),
    /// Text.
    String(String),
    /// A list.
    Sequence(Vec<Value>),
    /// A mapping of keys to values.
    Mapping(Mapping),
}

/// A number as written: whole numbers stay whole.
#[derive(Clone, Copy, Debug)]
pub enum Number {
    /// 0 or more.
    Unsigned(u64),
    /// Less than 0.
    Negative(i64),
    /// Anything with a fraction or an exponent, `.inf`, `.nan`.
    Float(f64),
}

impl Number {
    /// The number if it is a whole number of 0 or more.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Number::Unsigned(n) => Some(n),
            _ => None,
        }
    }

    /// The number if it is a whole number that fits an `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Number::Unsigned(n) => i64::try_from(n).ok(),
            Number::Negative(n) => Some(n),
            Number::Float(_) => None,
        }
    }

    /// The number as a float (whole numbers too).
    pub fn as_f64(&self) -> f64 {
        match *self {
            Number::Unsigned(n) => n as f64,
            Number::Negative(n) => n as f64,
            Number::Float(f) => f,
        }
    }

    /// A whole number from an `i64`, kept as `Unsigned` when it is not negative (one way to write each
    /// number, so equal numbers compare equal).
    pub fn from_i64(n: i64) -> Number {
        match u64::try_from(n) {
            Ok(u) => Number::Unsigned(u),
            Err(_) => Number::Negative(n),
        }
    }

    fn unexpected(&self) -> Unexpected<'static> {
        match *self {
            Number::Unsigned(n) => Unexpected::Unsigned(n),
            Number::Negative(n) => Unexpected::Signed(n),
            Number::Float(f) => Unexpected::Float(f),
        }
    }
}

impl PartialEq for Number {
    fn eq(&self, other: &Number) -> bool {
        match (*self, *other) {
            (Number::Unsigned(a), Number::Unsigned(b)) => a == b,
            (Number::Negative(a), Number::Negative(b)) => a == b,
            // `.nan` read twice is the same value written twice.
            (Number::Float(a), Number::Float(b)) => a == b || (a.is_nan() && b.is_nan()),
            _ => false,
        }
    }
}

/// As YAML writes it, so that it reads back as the same number: floats always with a `.` or an
/// exponent, and YAML's names for the values that are not finite.
impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Number::Unsigned(n) => write!(f, "{n}"),
            Number::Negative(n) => write!(f, "{n}"),
            Number::Float(x) if x.is_nan() => f.write_str(".nan"),
            Number::Float(x) if x.is_infinite() => {
                f.write_str(if x > 0.0 { ".inf" } else { "-.inf" })
            }
            Number::Float(x) => f.write_str(ryu::Buffer::new().format_finite(x)),
        }
    }
}

/// What an absent key reads as through `value["key"]`.
static NULL: Value = Value::Null;

impl Value {
    /// True for `Null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// True for a mapping.
    pub fn is_mapping(&self) -> bool {
        matches!(self, Value::Mapping(_))
    }

    /// True for a list.
    pub fn is_sequence(&self) -> bool {
        matches!(self, Value::Sequence(_))
    }

    /// True for text.
    pub fn is_string(&self) -> bool {
        matches!(self, Value::String(_))
    }

    /// The text, if it is text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The boolean, if it is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The number, if it is a whole number of 0 or more.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Number(n) => n.as_u64(),
            _ => None,
        }
    }

    /// The number, if it is a whole number that fits an `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(n) => n.as_i64(),
            _ => None,
        }
    }

    /// The number as a float, if it is a number.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(n.as_f64()),
            _ => None,
        }
    }

    /// The list, if it is one.
    pub fn as_sequence(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Sequence(s) => Some(s),
            _ => None,
        }
    }

    /// The list, if it is one.
    pub fn as_sequence_mut(&mut self) -> Option<&mut Vec<Value>> {
        match self {
            Value::Sequence(s) => Some(s),
            _ => None,
        }
    }

    /// The mapping, if it is one.
    pub fn as_mapping(&self) -> Option<&Mapping> {
        match self {
            Value::Mapping(m) => Some(m),
            _ => None,
        }
    }

    /// The mapping, if it is one.
    pub fn as_mapping_mut(&mut self) -> Option<&mut Mapping> {
        match self {
            Value::Mapping(m) => Some(m),
            _ => None,
        }
    }

    /// The value of `key`, if this is a mapping that has it.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_mapping().and_then(|m| m.get(key))
    }

    fn unexpected(&self) -> Unexpected<'_> {
        match self {
            Value::Null => Unexpected::Unit,
            Value::Bool(b) => Unexpected::Bool(*b),
            Value::Number(n) => n.unexpected(),
            Value::String(s) => Unexpected::Str(s),
            Value::Sequence(_) => Unexpected::Seq,
            Value::Mapping(_) => Unexpected::Map,
        }
    }
}

impl std::ops::Index<&str> for Value {
    type Output = Value;
    /// The value of `key`, or `Null` when there is none.
    fn index(&self, key: &str) -> &Value {
        self.get(key).unwrap_or(&NULL)
    }
}

impl std::ops::Index<usize> for Value {
    type Output = Value;
    /// Entry `i` of a list, or `Null` when there is none.
    fn index(&self, i: usize) -> &Value {
        self.as_sequence().and_then(|s| s.get(i)).unwrap_or(&NULL)
    }
}

impl PartialEq<str> for Value {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == Some(other)
    }
}

impl PartialEq<&str> for Value {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}

impl PartialEq<bool> for Value {
    fn eq(&self, other: &bool) -> bool {
        self.as_bool() == Some(*other)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Number(Number::Unsigned(n)) => s.serialize_u64(*n),
            Value::Number(Number::Negative(n)) => s.serialize_i64(*n),
            Value::Number(Number::Float(f)) => s.serialize_f64(*f),
            Value::String(v) => s.serialize_str(v),
            Value::Sequence(items) => s.collect_seq(items),
            Value::Mapping(m) => s.collect_map(m),
        }
    }
}

/// A tree from any serde format: how `RawConfig` keeps the parts it does not type (`processors`, the
/// beats blocks it ignores). Keys must be text.
impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Value;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_unit<E>(self) -> Result<Value, E> {
                Ok(Value::Null)
            }
            fn visit_none<E>(self) -> Result<Value, E> {
                Ok(Value::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
                Value::deserialize(d)
            }
            fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
                Ok(Value::Bool(b))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
                Ok(Value::Number(Number::Unsigned(n)))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
                Ok(Value::Number(Number::from_i64(n)))
            }
            fn visit_f64<E>(self, f: f64) -> Result<Value, E> {
                Ok(Value::Number(Number::Float(f)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Value, E> {
                Ok(Value::String(s.to_string()))
            }
            fn visit_string<E>(self, s: String) -> Result<Value, E> {
                Ok(Value::String(s))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
                while let Some(v) = seq.next_element()? {
                    out.push(v);
                }
                Ok(Value::Sequence(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
                let mut out = Mapping::new();
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    out.insert(k, v);
                }
                Ok(Value::Mapping(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// A problem found while deserializing from a tree (a wrong type, an unknown key...): serde's message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Error {
        Error(msg.to_string())
    }
}

/// `T` read from the tree.
pub fn from_value<'de, T: Deserialize<'de>>(v: &'de Value) -> Result<T, Error> {
    T::deserialize(v)
}

/// Reads a tree as serde_yaml read its own: a value is taken for what it is (`deserialize_any`), except
/// that nothing (`key:` with no value) reads as `None`, as an empty list and as an empty mapping, so
/// that `setup.kibana:` or `processors:` written without a value mean "none".
impl<'de> Deserializer<'de> for &'de Value {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(Number::Unsigned(n)) => visitor.visit_u64(*n),
            Value::Number(Number::Negative(n)) => visitor.visit_i64(*n),
            Value::Number(Number::Float(f)) => visitor.visit_f64(*f),
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Sequence(items) => visit_seq(items, visitor),
            Value::Mapping(m) => visit_map(m, visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Value::Null => visitor.visit_unit(),
            _ => Err(de::Error::invalid_type(self.unexpected(), &visitor)),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Value::Sequence(items) => visit_seq(items, visitor),
            Value::Null => visit_seq(&[], visitor),
            _ => Err(de::Error::invalid_type(self.unexpected(), &visitor)),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        static EMPTY: std::sync::LazyLock<Mapping> = std::sync::LazyLock::new(Mapping::new);
        match self {
            Value::Mapping(m) => visit_map(m, visitor),
            Value::Null => visit_map(&EMPTY, visitor),
            _ => Err(de::Error::invalid_type(self.unexpected(), &visitor)),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_map(visitor)
    }

    /// Config enums are names (`type: sqs`): text picks the variant.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self {
            Value::String(s) => {
                visitor.visit_enum(de::value::BorrowedStrDeserializer::<Error>::new(s))
            }
            _ => Err(de::Error::invalid_type(self.unexpected(), &visitor)),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        identifier
    }
}

fn visit_seq<'de, V: Visitor<'de>>(items: &'de [Value], visitor: V) -> Result<V::Value, Error> {
    let mut access = Seq {
        items: items.iter(),
    };
    let out = visitor.visit_seq(&mut access)?;
    match access.items.len() {
        0 => Ok(out),
        _ => Err(de::Error::invalid_length(items.len(), &"fewer entries")),
    }
}

fn visit_map<'de, V: Visitor<'de>>(m: &'de Mapping, visitor: V) -> Result<V::Value, Error> {
    let mut access = Map {
        entries: m.iter(),
        value: None,
    };
    let out = visitor.visit_map(&mut access)?;
    match access.entries.len() {
        0 => Ok(out),
        _ => Err(de::Error::invalid_length(m.len(), &"fewer entries")),
    }
}

struct Seq<'de> {
    items: std::slice::Iter<'de, Value>,
}

impl<'de> SeqAccess<'de> for Seq<'de> {
    type Error = Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        self.items.next().map(|v| seed.deserialize(v)).transpose()
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct Map<'de> {
    entries: indexmap::map::Iter<'de, String, Value>,
    value: Option<&'de Value>,
}

impl<'de> MapAccess<'de> for Map<'de> {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.entries.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(de::value::BorrowedStrDeserializer::<Error>::new(k))
                    .map(Some)
            }
            None => Ok(None),
        }
    }
    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, Error> {
        match self.value.take() {
            Some(v) => seed.deserialize(v),
            None => Err(de::Error::custom("a value was asked for before its key")),
        }
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct S {
        #[serde(default)]
        list: Vec<u32>,
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        kind: Option<Kind>,
        #[serde(default)]
        inner: Inner,
    }

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        #[serde(default)]
        on: bool,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Kind {
        Sqs,
    }

    fn map(entries: &[(&str, Value)]) -> Value {
        Value::Mapping(
            entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn nothing_reads_as_none_an_empty_list_and_an_empty_mapping() {
        let v = map(&[
            ("list", Value::Null),
            ("name", Value::Null),
            ("kind", Value::Null),
            ("inner", Value::Null),
        ]);
        let s: S = from_value(&v).unwrap();
        assert_eq!(
            s,
            S {
                list: vec![],
                name: None,
                kind: None,
                inner: Inner { on: false }
            }
        );
    }

    #[test]
    fn serde_messages_are_those_the_loader_puts_in_plain_words() {
        let v = map(&[("list", Value::String("lots".into()))]);
        let e = from_value::<S>(&v).unwrap_err().to_string();
        assert_eq!(e, "invalid type: string \"lots\", expected a sequence");
        let v = map(&[(
            "list",
            Value::Sequence(vec![Value::Number(Number::Negative(-1))]),
        )]);
        let e = from_value::<S>(&v).unwrap_err().to_string();
        assert_eq!(e, "invalid value: integer `-1`, expected u32");
        let v = map(&[("kind", Value::String("sqss".into()))]);
        let e = from_value::<S>(&v).unwrap_err().to_string();
        assert_eq!(e, "unknown variant `sqss`, expected `sqs`");
        let v = map(&[("nmae", Value::Null)]);
        let e = from_value::<S>(&v).unwrap_err().to_string();
        assert!(
            e.starts_with("unknown field `nmae`, expected one of"),
            "{e}"
        );
        let v = map(&[("kind", Value::String("sqs".into()))]);
        assert_eq!(from_value::<S>(&v).unwrap().kind, Some(Kind::Sqs));
    }

    #[test]
    fn a_tree_goes_through_serde_unchanged() {
        let v = map(&[
            ("b", Value::Bool(true)),
            ("n", Value::Number(Number::Negative(-3))),
            ("f", Value::Number(Number::Float(0.5))),
            (
                "l",
                Value::Sequence(vec![Value::Null, Value::String("x".into())]),
            ),
            ("a", map(&[("z", Value::Number(Number::Unsigned(1)))])),
        ]);
        assert_eq!(from_value::<Value>(&v).unwrap(), v);
        let j = serde_json::to_value(&v).unwrap();
        assert_eq!(
            j,
            serde_json::json!({"b": true, "n": -3, "f": 0.5, "l": [null, "x"], "a": {"z": 1}})
        );
        assert_eq!(v["a"]["z"].as_u64(), Some(1));
        assert_eq!(v["l"][1], "x");
        assert!(v["missing"][3].is_null());
    }
}
