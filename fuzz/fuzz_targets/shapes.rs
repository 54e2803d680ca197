//! What the structured fuzz targets build from their input: field names and dotted paths, JSON values
//! and event documents (deep ones, and JSON inside strings, layers deep), and the YAML text that carries
//! them into a config. In: an `Unstructured` over the input's bytes; out: values valid by construction
//! (UTF-8 strings, every key once, every YAML scalar quoted). What must stay true: the same bytes give
//! the same shapes, nothing here panics, and every size and depth is bounded by constants below, so a
//! target's cost follows its input.
// Each target uses the part it needs; the rest is not dead, only unused by that binary.
#![allow(dead_code)]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use serde_json::{Map, Value};

/// Names the documents, processors and index patterns draw from, so that a generated path meets a
/// generated document often: the fields s3logsbeat writes itself, dotted and empty names, non-ASCII.
pub const NAMES: &[&str] = &[
    "a",
    "b",
    "c",
    "message",
    "msg",
    "user",
    "name",
    "tags",
    "error",
    "fields",
    "@timestamp",
    "@metadata",
    "log",
    "beat",
    "event",
    "json",
    "a.b",
    "x.y.z",
    "",
    "0",
    "É",
    "elb_status_code",
    "client_ip",
    "action",
    "httpRequest",
];

/// Strings values are drawn from besides arbitrary ones: numbers as text (`range` and `equals` read
/// them), JSON that is almost an object, escapes, an address with colons.
const TEXTS: &[&str] = &[
    "",
    "x",
    "200",
    "-1.5e3",
    "true",
    "{",
    "{}",
    "[]",
    "{\"a\":",
    "null",
    "\\u0000",
    "2001:db8::1",
    "Prod",
    "ÉTÉ",
];

/// The most members an object or array is given; with [`MAX_NEST`], what bounds a value's size.
const MAX_MEMBERS: u32 = 4;
/// The most levels a generated value nests by recursion (deep chains are built apart, without it).
const MAX_NEST: u32 = 6;
/// The longest deep chain: past serde_json's 128 levels, so that unreadable documents are made too.
pub const MAX_CHAIN: usize = 200;

/// A field name: mostly from [`NAMES`], sometimes arbitrary text.
pub fn name(u: &mut Unstructured<'_>) -> Result<String> {
    if u.ratio(3, 4)? {
        Ok(u.choose(NAMES)?.to_string())
    } else {
        short_text(u, 12)
    }
}

/// Arbitrary text of at most `max` characters.
pub fn short_text(u: &mut Unstructured<'_>, max: usize) -> Result<String> {
    let s: String = u.arbitrary()?;
    Ok(s.chars().take(max).collect())
}

/// A dotted path of one to three names.
pub fn path(u: &mut Unstructured<'_>) -> Result<String> {
    let n = u.int_in_range(1..=3)?;
    let mut parts = Vec::new();
    for _ in 0..n {
        parts.push(name(u)?);
    }
    Ok(parts.join("."))
}

/// `levels` objects `{"a": ...}` around `inner`, built without recursion.
pub fn chain(levels: usize, inner: Value) -> Value {
    let mut v = inner;
    for _ in 0..levels {
        let mut m = Map::new();
        m.insert("a".into(), v);
        v = Value::Object(m);
    }
    v
}

/// A JSON value: scalars, strings holding JSON (up to three layers of strings), arrays, objects, and
/// now and then a chain up to `chains` levels deep (at most [`MAX_CHAIN`]).
pub fn value(u: &mut Unstructured<'_>, nest: u32, chains: usize) -> Result<Value> {
    let pick = if nest >= MAX_NEST {
        u.int_in_range(0..=5)?
    } else {
        u.int_in_range(0..=10)?
    };
    Ok(match pick {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => Value::from(u.arbitrary::<i64>()?),
        3 => serde_json::Number::from_f64(u.arbitrary()?).map_or(Value::Null, Value::Number),
        4 => Value::String(u.choose(TEXTS)?.to_string()),
        5 => Value::String(short_text(u, 24)?),
        6 | 7 => {
            // JSON inside a string, inside a string...: what decode_json_fields unwraps.
            let mut v = value(u, nest + 1, chains)?;
            for _ in 0..u.int_in_range(1..=3)? {
                v = Value::String(v.to_string());
            }
            v
        }
        8 => {
            let n = u.int_in_range(0..=MAX_MEMBERS)?;
            let mut a = Vec::new();
            for _ in 0..n {
                a.push(value(u, nest + 1, chains)?);
            }
            Value::Array(a)
        }
        9 => object(u, nest + 1, chains)?,
        _ => {
            // Mostly deeper than a document may be (20) yet readable; now and then past what serde_json
            // reads (128), which makes the whole case about an unreadable document.
            let most = if u.ratio(1, 8)? {
                chains
            } else {
                chains.min(40)
            };
            let levels = u.int_in_range(0..=most.min(MAX_CHAIN))?;
            chain(levels, value(u, MAX_NEST, 0)?)
        }
    })
}

/// A JSON object of up to [`MAX_MEMBERS`] members (chains as in [`value`]).
pub fn object(u: &mut Unstructured<'_>, nest: u32, chains: usize) -> Result<Value> {
    let mut m = Map::new();
    for _ in 0..u.int_in_range(0..=MAX_MEMBERS)? {
        let k = name(u)?;
        let v = value(u, nest, chains)?;
        m.insert(k, v);
    }
    Ok(Value::Object(m))
}

/// An event document as the builders write one: an object whose `@timestamp` is `time`, with fields,
/// and whatever depth the input asks for (a chain can make it deeper than a builder would, or deeper
/// than serde_json reads).
pub fn document(u: &mut Unstructured<'_>, time: &str) -> Result<String> {
    let Value::Object(mut m) = object(u, 0, MAX_CHAIN)? else {
        unreachable!("object() makes an object")
    };
    m.insert("@timestamp".into(), Value::String(time.to_string()));
    // `@metadata` is never part of a document (outputs splice it in).
    m.remove("@metadata");
    Ok(Value::Object(m).to_string())
}

/// `s` as a YAML double-quoted scalar: every character outside printable ASCII escaped, so that any
/// text is read back as itself.
pub fn yaml_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(c),
            c if (c as u32) <= 0xffff => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// A JSON value as YAML flow text that reads back as the same value.
pub fn yaml_value(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => yaml_str(s),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(yaml_value).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{}: {}", yaml_str(k), yaml_value(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A list of strings as YAML flow text.
pub fn yaml_list(items: &[String]) -> String {
    format!(
        "[{}]",
        items
            .iter()
            .map(|s| yaml_str(s))
            .collect::<Vec<_>>()
            .join(", ")
    )
}
