//! A YAML scalar's text, style and tag in, its config value out: YAML 1.2's core schema as serde_yaml
//! 0.9 resolved it (null, booleans, decimal/hex/octal/binary whole numbers, floats; everything else
//! text). What must stay true: a plain scalar is resolved the same way wherever it stands, and a quoted
//! or block scalar is always text.

use saphyr_parser::{ScalarStyle, Tag};

use super::super::tree::{Number, Value};

/// How a tag is written in the text.
fn written(tag: &Tag) -> String {
    if tag.is_yaml_core_schema() {
        format!("!!{}", tag.suffix)
    } else {
        format!("{}{}", tag.handle, tag.suffix)
    }
}

pub(super) fn unsupported(tag: &Tag) -> String {
    format!(
        "the YAML tag {} is not supported: a config value is text, a number, true or false, a list or a mapping",
        written(tag)
    )
}

/// The value of a scalar, from its text, how it is written, and its tag.
pub(super) fn resolve(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<Value, String> {
    let Some(tag) = tag else {
        return Ok(match style {
            ScalarStyle::Plain => plain(text)?,
            _ => Value::String(text.to_string()),
        });
    };
    // `! x`: the non-specific tag, which makes a scalar text.
    if tag.handle.is_empty() && tag.suffix == "!" {
        return Ok(Value::String(text.to_string()));
    }
    if !tag.is_yaml_core_schema() {
        return Err(unsupported(tag));
    }
    let not = |what: &str| format!("{text:?} is not {what} ({})", written(tag));
    match tag.suffix.as_str() {
        "str" => Ok(Value::String(text.to_string())),
        "null" if text.is_empty() || is_null(text) => Ok(Value::Null),
        "null" => Err(not("null")),
        "bool" => bool_of(text)
            .map(Value::Bool)
            .ok_or_else(|| not("true or false")),
        "int" => int(text)?
            .map(Value::Number)
            .ok_or_else(|| not("a whole number")),
        "float" => match int(text)? {
            Some(n) => Ok(Value::Number(Number::Float(n.as_f64()))),
            None => float(text)
                .map(|f| Value::Number(Number::Float(f)))
                .ok_or_else(|| not("a number")),
        },
        _ => Err(unsupported(tag)),
    }
}

fn is_null(text: &str) -> bool {
    matches!(text, "~" | "null" | "Null" | "NULL")
}

fn bool_of(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// A plain scalar: null, a boolean, a number, else text.
pub(super) fn plain(text: &str) -> Result<Value, String> {
    if text.is_empty() || is_null(text) {
        return Ok(Value::Null);
    }
    if let Some(b) = bool_of(text) {
        return Ok(Value::Bool(b));
    }
    if let Some(n) = int(text)? {
        return Ok(Value::Number(n));
    }
    if !leading_zero_digits(text) {
        if let Some(f) = float(text) {
            return Ok(Value::Number(Number::Float(f)));
        }
    }
    Ok(Value::String(text.to_string()))
}

/// A whole number (`12`, `-3`, `+4`, `0x1f`, `-0o17`, `0b101`), `None` if the text is not one; an error
/// if it is one that no config value can hold.
fn int(text: &str) -> Result<Option<Number>, String> {
    if let Some(n) = unsigned(text, u64::from_str_radix) {
        return Ok(Some(Number::Unsigned(n)));
    }
    if let Some(n) = negative(text, i64::from_str_radix) {
        return Ok(Some(Number::from_i64(n)));
    }
    if unsigned(text, u128::from_str_radix).is_some()
        || negative(text, i128::from_str_radix).is_some()
    {
        return Err(format!(
            "{text} is out of range: integers go from {} to {}; quote it if it is meant as text",
            i64::MIN,
            u64::MAX
        ));
    }
    Ok(None)
}

type Radix<T> = fn(&str, u32) -> Result<T, std::num::ParseIntError>;

/// `12`, `+12`, `0x1f`, `0o17`, `0b101`.
fn unsigned<T>(text: &str, parse: Radix<T>) -> Option<T> {
    let digits = text.strip_prefix('+').unwrap_or(text);
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(rest) = digits.strip_prefix(prefix) {
            // `from_str_radix` takes a sign of its own, which YAML does not put after the prefix.
            if rest.starts_with(['+', '-']) {
                return None;
            }
            if let Ok(n) = parse(rest, radix) {
                return Some(n);
            }
        }
    }
    if digits.starts_with(['+', '-']) || leading_zero_digits(text) {
        return None;
    }
    parse(digits, 10).ok()
}

/// `-12`, `-0x1f`, `-0o17`, `-0b101`.
fn negative<T>(text: &str, parse: Radix<T>) -> Option<T> {
    for (prefix, radix) in [("-0x", 16), ("-0o", 8), ("-0b", 2)] {
        if let Some(rest) = text.strip_prefix(prefix) {
            if let Ok(n) = parse(&format!("-{rest}"), radix) {
                return Some(n);
            }
        }
    }
    if leading_zero_digits(text) {
        return None;
    }
    parse(text, 10).ok()
}

/// `0640`, `-007`: digits after a leading zero, which YAML 1.2 reads as text, not as a number.
fn leading_zero_digits(text: &str) -> bool {
    let t = text.strip_prefix(['-', '+']).unwrap_or(text);
    t.len() > 1 && t.starts_with('0') && t[1..].bytes().all(|b| b.is_ascii_digit())
}

/// A float: decimal (`0.5`, `1e3`, `+2.`), `.inf`, `-.inf`, `.nan` (in YAML's capitalisations).
fn float(text: &str) -> Option<f64> {
    let unsigned = match text.strip_prefix('+') {
        Some(u) if u.starts_with(['+', '-']) => return None,
        Some(u) => u,
        None => text,
    };
    match unsigned {
        ".inf" | ".Inf" | ".INF" => return Some(f64::INFINITY),
        _ => {}
    }
    match text {
        "-.inf" | "-.Inf" | "-.INF" => return Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Some(f64::NAN),
        _ => {}
    }
    // Rust also reads `inf`, `NaN`, `infinity`: not YAML numbers, so text.
    unsigned.parse::<f64>().ok().filter(|f| f.is_finite())
}
