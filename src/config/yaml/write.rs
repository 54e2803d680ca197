//! A config tree in, YAML text out (`export config`): block style, keys in their order, text quoted
//! wherever reading it back plain would change it. What must stay true: the YAML reader reads the text
//! back as the same tree (the round-trip tests of every shipped config hold it).

use super::super::tree::Value;
use super::scalar::plain;

/// The tree as YAML text (block style, keys in their order), which [`read`] reads back as the same tree.
pub fn to_string(v: &Value) -> String {
    let mut out = String::new();
    if is_block(v) {
        block(&mut out, v, 0);
    } else {
        inline(&mut out, v);
    }
    out.push('\n');
    out
}

/// A collection written over several lines (an empty one is written `{}` or `[]`).
fn is_block(v: &Value) -> bool {
    match v {
        Value::Mapping(m) => !m.is_empty(),
        Value::Sequence(s) => !s.is_empty(),
        _ => false,
    }
}

fn newline(out: &mut String, indent: usize) {
    out.push('\n');
    out.extend(std::iter::repeat_n(' ', indent));
}

/// A non-empty collection whose first line starts where `out` ends, the others at `indent`.
fn block(out: &mut String, v: &Value, indent: usize) {
    match v {
        Value::Mapping(m) => {
            for (i, (k, child)) in m.iter().enumerate() {
                if i > 0 {
                    newline(out, indent);
                }
                write_text(out, k);
                out.push(':');
                if is_block(child) {
                    newline(out, indent + 2);
                    block(out, child, indent + 2);
                } else {
                    out.push(' ');
                    inline(out, child);
                }
            }
        }
        Value::Sequence(items) => {
            for (i, child) in items.iter().enumerate() {
                if i > 0 {
                    newline(out, indent);
                }
                out.push_str("- ");
                if is_block(child) {
                    block(out, child, indent + 2);
                } else {
                    inline(out, child);
                }
            }
        }
        other => inline(out, other),
    }
}

/// A scalar, or an empty collection.
fn inline(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_text(out, s),
        Value::Sequence(_) => out.push_str("[]"),
        Value::Mapping(_) => out.push_str("{}"),
    }
}

/// Text as a plain scalar when it reads back as the same text, else double-quoted.
fn write_text(out: &mut String, s: &str) {
    if plain_is_safe(s) {
        out.push_str(s);
        return;
    }
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if printable(c) => out.push(c),
            c => out.push_str(&format!("\\u{:04x}", c as u32)),
        }
    }
    out.push('"');
}

/// Characters YAML allows unescaped in a double-quoted scalar, less the ones that some readers take for
/// line breaks or a byte order mark.
fn printable(c: char) -> bool {
    matches!(c, ' '..='~' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
        && !matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}')
}

/// True when `s` written plain, in block context, is read back as the text `s`: not empty, not null, a
/// boolean or a number, no indicator at its start (nor a document marker, `---` or `...`), no `: ` or
/// ` #` inside, no space at either end, nothing that needs escaping.
fn plain_is_safe(s: &str) -> bool {
    let (Some(first), Some(last)) = (s.chars().next(), s.chars().last()) else {
        return false;
    };
    !"-?:,[]{}#&*!|>'\"%@`".contains(first)
        && !first.is_whitespace()
        && !last.is_whitespace()
        && last != ':'
        && !s.contains(": ")
        && !s.contains(" #")
        && !s.starts_with("---")
        && !s.starts_with("...")
        && s.chars().all(|c| c != '\t' && printable(c))
        && matches!(plain(s), Ok(Value::String(_)))
}
