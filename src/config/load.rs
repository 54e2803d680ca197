//! From the YAML text to `RawConfig`: dotted keys, `${VAR}` references and `-E` overrides, with
//! errors that name the key and where its value came from (the file's line, or the `-E` that set it).
//!
//! Structural mistakes (an unknown key, a wrong type, an unknown variant) are all collected, not only
//! the first: the offending value is taken out of the tree, the tree read again, and so on, so `test
//! config` lists every problem at once. Semantic checks then run on what is left and skip the keys that
//! were taken out (their problem is already reported).
//!
//! Every YAML text read here (the file, each `-E` value, a `${VAR}` that is a whole value) is held to
//! the same bounds, by the one YAML reader ([`super::yaml`]): its aliases are counted as they expand
//! ([`super::yaml::MAX_EXPANDED_NODES`]); and here no value may sit more than [`MAX_DEPTH`] levels deep,
//! dotted keys included, so the recursive walks over the tree (here, in serde and in the validators)
//! stay shallow.

use std::borrow::Cow;
use std::path::Path;

use super::positions::Positions;
use super::raw::RawConfig;
use super::tree::{Mapping, Value};
use super::yaml::{self, Refusal};
use super::ConfigError;

pub use super::yaml::MAX_DEPTH;

/// Longest `-E key=value`, in bytes. A setting written on a command line is a word or a short list;
/// the file is where long values belong. The value is also held to the file's alias budget and depth.
pub const MAX_OVERRIDE_BYTES: usize = 64 * 1024;

/// How much of a key or an `-E` an error message quotes: enough to recognise it.
const QUOTED_CHARS: usize = 60;

/// `s` cut to `max` characters, with `…` when cut.
fn shorten(s: &str, max: usize) -> Cow<'_, str> {
    match s.char_indices().nth(max) {
        Some((at, _)) => Cow::Owned(format!("{}…", &s[..at])),
        None => Cow::Borrowed(s),
    }
}

/// Where the values of a config came from: the file's lines and the `-E` overrides.
#[derive(Clone, Debug, Default)]
pub struct Source {
    /// The config file, as named on the command line.
    pub file: String,
    positions: Positions,
    /// `(dotted key, "key=value")` of each `-E`, in order.
    overrides: Vec<(String, String)>,
    /// Keys whose values were taken out because they were wrong.
    removed: Vec<String>,
    /// Keys whose values came from an environment variable (`${VAR}`).
    pub from_env: Vec<String>,
}

impl Source {
    /// A problem with `key`, placed at the `-E` that set it (or that made it, when the file does not
    /// write it: `-E outptu.elasticsearch.index=x` makes `outptu`), else at its line in the file.
    pub fn error(&self, key: Option<&str>, message: impl Into<String>) -> ConfigError {
        let over = key.and_then(|k| {
            self.overrides
                .iter()
                .rev()
                .find(|(o, _)| under(k, o))
                .or_else(|| {
                    (!self.positions.has(k))
                        .then(|| self.overrides.iter().rev().find(|(o, _)| under(o, k)))
                        .flatten()
                })
                .map(|(_, text)| text.clone())
        });
        ConfigError {
            file: self.file.clone(),
            key: key.map(str::to_string),
            line: match (&over, key) {
                (None, Some(k)) => self.positions.line(k),
                _ => None,
            },
            set_by: over,
            message: message.into(),
        }
    }

    /// True if `key`'s own value was wrong and taken out (so a later "missing" is no news).
    pub fn was_removed(&self, key: &str) -> bool {
        self.removed.iter().any(|r| under(key, r))
    }
}

/// `key` is `parent` or inside it.
fn under(key: &str, parent: &str) -> bool {
    key == parent
        || key
            .strip_prefix(parent)
            .is_some_and(|rest| rest.starts_with('.'))
}

/// The config as read: typed (defaults applied), as a tree (what `export config` prints), where each
/// value came from, and the structural problems found.
#[derive(Debug)]
pub struct Loaded {
    /// The typed config; wrong values were taken out, so their defaults apply.
    pub raw: RawConfig,
    /// The merged tree.
    pub tree: Value,
    /// Where values came from.
    pub source: Source,
    /// Unknown keys, wrong types.
    pub errors: Vec<ConfigError>,
}

/// Reads and parses `path`, applying `-E key=value` overrides. `Err` when nothing typed can be made of
/// it (unreadable, not YAML, a required section missing).
pub fn load_file(path: &Path, overrides: &[String]) -> Result<Loaded, Vec<ConfigError>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![ConfigError::in_file(
            &path.display().to_string(),
            format!("cannot read the config file: {e}"),
        )]
    })?;
    load_str(&text, &path.display().to_string(), overrides)
}

/// Parses config text; `file` names it in messages.
pub fn load_str(text: &str, file: &str, overrides: &[String]) -> Result<Loaded, Vec<ConfigError>> {
    let doc = yaml::read(text).map_err(|e| {
        let mut err = ConfigError::in_file(file, e.message);
        err.line = Some(e.line);
        vec![err]
    })?;
    let mut source = Source {
        file: file.to_string(),
        positions: doc.positions,
        ..Source::default()
    };
    let mut tree = if text.trim().is_empty() {
        Value::Mapping(Mapping::new())
    } else {
        doc.value
    };
    if !tree.is_mapping() {
        return Err(vec![
            source.error(None, "the top level must be a mapping of keys")
        ]);
    }
    tree = expand_dotted(tree, 0).map_err(|(k, m)| vec![source.error(Some(&k), m)])?;
    let mut errors = Vec::new();
    for o in overrides {
        let key = o.split('=').next().unwrap_or(o).trim().to_string();
        source
            .overrides
            .push((key.clone(), format!("-E {}", shorten(o, 2 * QUOTED_CHARS))));
        if let Err(m) = apply_override(&mut tree, o) {
            errors.push(source.error(Some(&key), m));
        }
    }
    match expand_env(&mut tree, "") {
        Ok(keys) => source.from_env = keys,
        Err(list) => {
            for (k, m) in list {
                errors.push(source.error(Some(&k), m));
                // Its reference is its problem: the text left in its place would only add a type error.
                if remove_path(&mut tree, &k) {
                    source.removed.push(k);
                }
            }
        }
    }
    // Read, take out what is wrong, read again: every structural problem is found in one run. Each round
    // removes one value, so this ends; the bound is only a guard.
    for _ in 0..200 {
        match serde_path_to_error::deserialize::<_, RawConfig>(&tree) {
            Ok(raw) => {
                return Ok(Loaded {
                    raw,
                    tree,
                    source,
                    errors,
                })
            }
            Err(e) => {
                let path = dotted(&e.path().to_string());
                let inner = e.into_inner().to_string();
                let (key, message, remove) = describe(&path, &inner);
                errors.push(source.error(Some(&key), message));
                let Some(remove) = remove else { break };
                if !remove_path(&mut tree, &remove) {
                    break;
                }
                source.removed.push(remove);
            }
        }
    }
    Err(errors)
}

/// A serde error at `path` as (the key concerned, the message, the value to take out to go on).
fn describe(path: &str, inner: &str) -> (String, String, Option<String>) {
    // serde says "unknown field `x`, expected one of ..." at the path of the map holding it.
    if let Some(rest) = inner.strip_prefix("unknown field `") {
        // The name ends at serde's "`, expected ..." (or "`, there are no fields"), not at the first
        // backtick: a key may hold one (fuzz finding of the overrides target).
        let (name, expected) = rest
            .rsplit_once("`, expected ")
            .map(|(n, e)| (n, format!("expected {e}")))
            .or_else(|| {
                rest.rsplit_once("`, there are no fields")
                    .map(|(n, _)| (n, "there are no fields".to_string()))
            })
            .unwrap_or_else(|| (rest.split('`').next().unwrap_or(""), String::new()));
        let key = join_key(path, name);
        return (
            key.clone(),
            format!("unknown key {key} ({expected})"),
            Some(key),
        );
    }
    if inner.starts_with("missing field `") {
        let name = inner.split('`').nth(1).unwrap_or("");
        let key = join_key(path, name);
        return (key.clone(), format!("missing required key {key}"), None);
    }
    let remove = (!path.is_empty() && path != ".").then(|| path.to_string());
    (
        path.to_string(),
        format!("{path}: {}", plain_words(inner)),
        remove,
    )
}

/// A serde message in a config user's words: `invalid type: string "lots", expected usize` becomes
/// `expected a whole number (0 or more), got the text "lots"`, `unknown variant `x`, expected one of
/// `a`, `b`` becomes `unknown value "x": expected one of a, b`. Messages it does not know are kept.
fn plain_words(inner: &str) -> String {
    fn expected(e: &str) -> String {
        let e = e.trim();
        let words = match e {
            "usize" | "u8" | "u16" | "u32" | "u64" | "u128" => "a whole number (0 or more)",
            "isize" | "i8" | "i16" | "i32" | "i64" | "i128" => "a whole number",
            "f32" | "f64" => "a number",
            "a sequence" => "a list",
            "a map" => "a mapping (key: value)",
            "a string" | "a borrowed string" | "a string or a map" => "a text",
            "a boolean" => "true or false",
            _ if e.starts_with("struct ") => "a mapping (key: value)",
            _ => return e.replace('`', ""),
        };
        words.to_string()
    }
    fn got(g: &str) -> String {
        let g = g.trim();
        if let Some(t) = g.strip_prefix("string ") {
            return format!("the text {t}");
        }
        for (serde, ours) in [
            ("integer `", "the number "),
            ("floating point `", "the number "),
            ("boolean `", ""),
        ] {
            if let Some(v) = g.strip_prefix(serde) {
                return format!("{ours}{}", v.trim_end_matches('`'));
            }
        }
        match g {
            "sequence" => "a list".into(),
            "map" => "a mapping".into(),
            "unit value" => "nothing (an empty value)".into(),
            other => other.replace('`', ""),
        }
    }
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = inner.strip_prefix(prefix) {
            if let Some((g, e)) = rest.rsplit_once(", expected ") {
                return format!("expected {}, got {}", expected(e), got(g));
            }
        }
    }
    if let Some(rest) = inner.strip_prefix("unknown variant `") {
        if let Some((v, e)) = rest.split_once("`, expected ") {
            return format!("unknown value \"{v}\": expected {}", e.replace('`', ""));
        }
    }
    inner.to_string()
}

/// `a.b[0].c` (serde_path_to_error) as `a.b.0.c` (the form `-E` takes). Only a list index is rewritten:
/// a key may itself hold `[` or `]` (`-E "p]ocessors=1"`), and must come out as it was written so that
/// its error names it (fuzz finding of the `overrides` target).
fn dotted(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        out.push_str(&rest[..open]);
        if digits > 0 && after.as_bytes().get(digits) == Some(&b']') {
            out.push('.');
            out.push_str(&after[..digits]);
            rest = &after[digits + 1..];
        } else {
            out.push('[');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

fn join_key(path: &str, name: &str) -> String {
    if path == name || path.ends_with(&format!(".{name}")) {
        // serde_path_to_error already put the unknown key at the end of the path.
        path.to_string()
    } else if path == "." || path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// Takes the value at a dotted path out of the tree; false if there is none.
fn remove_path(tree: &mut Value, path: &str) -> bool {
    let parts: Vec<&str> = path.split('.').collect();
    let Some((last, parents)) = parts.split_last() else {
        return false;
    };
    let mut cur = tree;
    for p in parents {
        cur = match cur {
            Value::Mapping(m) => match m.get_mut(*p) {
                Some(v) => v,
                None => return false,
            },
            Value::Sequence(s) => match p.parse::<usize>().ok().and_then(|i| s.get_mut(i)) {
                Some(v) => v,
                None => return false,
            },
            _ => return false,
        };
    }
    match cur {
        Value::Mapping(m) => m.shift_remove(*last).is_some(),
        Value::Sequence(s) => match last.parse::<usize>() {
            Ok(i) if i < s.len() => {
                // Keep the indices of the other entries: a null entry reads as a default or its own error.
                s[i] = Value::Null;
                true
            }
            _ => false,
        },
        _ => false,
    }
}

/// Refuses a key (of the file, an `-E` or a value) that would put a value past [`MAX_DEPTH`] levels
/// when `depth` levels are above it, or that has an empty part (`.name`, `a..b`): such a key names no
/// setting, and its error would name an empty key.
fn check_key(key: &str, parts: &[&str], depth: usize) -> Result<(), String> {
    if parts.len() > MAX_DEPTH {
        return Err(format!(
            "key {:?} has {} dots; at most {MAX_DEPTH} levels of nesting are allowed",
            shorten(key, QUOTED_CHARS),
            parts.len() - 1
        ));
    }
    if depth + parts.len() > MAX_DEPTH {
        return Err(format!(
            "key {:?} is nested {} levels deep; at most {MAX_DEPTH} levels of nesting are allowed",
            shorten(key, QUOTED_CHARS),
            depth + parts.len()
        ));
    }
    if parts.len() > 1 && parts.iter().any(|p| p.is_empty()) {
        return Err(format!(
            "key {:?} has an empty part: a dotted key is written a.b.c",
            shorten(key, QUOTED_CHARS)
        ));
    }
    Ok(())
}

/// Turns `a.b: 1` into `a: {b: 1}` at every level, merging with keys already there, as libbeat does.
/// `depth` is the number of levels above `v`: a key that would take a value past [`MAX_DEPTH`] is
/// refused before its value is walked, so the recursion is never deeper than that (and the YAML reader
/// already stops at 128 nested collections). Errors are (the dotted key under `v`, the message).
fn expand_dotted(v: Value, depth: usize) -> Result<Value, (String, String)> {
    match v {
        Value::Mapping(m) => {
            let mut out = Mapping::new();
            for (key, v) in m {
                let parts: Vec<&str> = key.split('.').collect();
                check_key(&key, &parts, depth).map_err(|m| (key.clone(), m))?;
                // The path of a deeper problem is only spelt out when there is one.
                let v = expand_dotted(v, depth + parts.len())
                    .map_err(|(inner, m)| (format!("{key}.{inner}"), m))?;
                insert_path(&mut out, &parts, v).map_err(|m| (key.clone(), m))?;
            }
            Ok(Value::Mapping(out))
        }
        Value::Sequence(s) => {
            if depth >= MAX_DEPTH && !s.is_empty() {
                return Err((
                    "0".into(),
                    format!(
                        "a list entry is nested {} levels deep; at most {MAX_DEPTH} levels of nesting are allowed",
                        depth + 1
                    ),
                ));
            }
            let mut out = Vec::with_capacity(s.len());
            for (i, v) in s.into_iter().enumerate() {
                out.push(
                    expand_dotted(v, depth + 1)
                        .map_err(|(inner, m)| (format!("{i}.{inner}"), m))?,
                );
            }
            Ok(Value::Sequence(out))
        }
        other => Ok(other),
    }
}

fn insert_path(m: &mut Mapping, parts: &[&str], v: Value) -> Result<(), String> {
    if parts.len() == 1 {
        match (m.get_mut(parts[0]), v) {
            (Some(Value::Mapping(existing)), Value::Mapping(new)) => {
                for (nk, nv) in new {
                    insert_path(existing, &[nk.as_str()], nv)?;
                }
            }
            (Some(_), _) => return Err(format!("key {} is set twice", parts[0])),
            (None, v) => {
                m.insert(parts[0].to_string(), v);
            }
        }
        return Ok(());
    }
    let child = m
        .entry(parts[0].to_string())
        .or_insert_with(|| Value::Mapping(Mapping::new()));
    match child {
        Value::Mapping(cm) => insert_path(cm, &parts[1..], v),
        _ => Err(format!(
            "key {} is both a value and a section",
            parts.join(".")
        )),
    }
}

/// Applies `key=value`: the key is dotted (a number indexes a list), the value is YAML
/// (`-E output.elasticsearch.hosts=["es:9200"]`), held to the file's bounds: at most
/// [`MAX_OVERRIDE_BYTES`], its aliases counted before they expand, no value past [`MAX_DEPTH`] levels.
pub fn apply_override(tree: &mut Value, o: &str) -> Result<(), String> {
    if o.len() > MAX_OVERRIDE_BYTES {
        return Err(format!(
            "this -E is {} bytes; at most {MAX_OVERRIDE_BYTES} bytes are allowed (put long values in the file)",
            o.len()
        ));
    }
    let (key, value) = o
        .split_once('=')
        .ok_or_else(|| "expected key=value".to_string())?;
    let key = key.trim();
    if key.is_empty() {
        return Err("the key is empty".into());
    }
    let parts: Vec<&str> = key.split('.').collect();
    check_key(key, &parts, 0)?;
    let value: Value = if value.trim().is_empty() {
        Value::String(String::new())
    } else {
        read_value(value, parts.len())?
    };
    let mut cur = tree;
    for (i, p) in parts.iter().enumerate() {
        let last = i == parts.len() - 1;
        let index = p.parse::<usize>().ok().filter(|_| cur.is_sequence());
        if let Some(idx) = index {
            let seq = cur.as_sequence_mut().expect("checked");
            if idx >= seq.len() {
                return Err(format!(
                    "{} has {} entries, there is no entry {idx}",
                    parts[..i].join("."),
                    seq.len()
                ));
            }
            if last {
                seq[idx] = value;
                return Ok(());
            }
            cur = &mut seq[idx];
            continue;
        }
        if !cur.is_mapping() {
            *cur = Value::Mapping(Mapping::new());
        }
        let m = cur.as_mapping_mut().expect("just made a mapping");
        if last {
            m.insert(p.to_string(), value);
            return Ok(());
        }
        cur = m
            .entry(p.to_string())
            .or_insert_with(|| Value::Mapping(Mapping::new()));
    }
    Ok(())
}

/// YAML text given as one value (an `-E` value, a `${VAR}` that is a whole value) at `depth` levels:
/// read as YAML when it is (`[a, b]`, `5`, `{a.b: 1}`), else kept as the string it is (`a*[b` is a
/// password, not broken YAML); held to the bounds of the file, so aliases that expand too far are an
/// error wherever they come from.
fn read_value(text: &str, depth: usize) -> Result<Value, String> {
    let value = match yaml::read(text) {
        Ok(doc) => doc.value,
        Err(e) if e.kind == Refusal::Aliases => return Err(e.message),
        Err(_) => Value::String(text.to_string()),
    };
    // The error is placed at the -E or the key of the reference, which is where to look.
    expand_dotted(value, depth).map_err(|(_, m)| m)
}

/// Replaces `${NAME}` and `${NAME:default}` in string values, as libbeat does: a dotted name that is a
/// key of the config (`${path.home}`) takes that key's value, `path.*` their defaults, anything else the
/// environment. Every unresolved name is reported. Returns the keys whose values came from the
/// environment (secrets, as far as `export config` is concerned).
fn expand_env(v: &mut Value, key: &str) -> Result<Vec<String>, Vec<(String, String)>> {
    let snapshot = v.clone();
    let lookup = |name: &str| -> Option<(String, bool)> {
        if name.contains('.') {
            let mut cur = Some(&snapshot);
            for part in name.split('.') {
                cur = cur.and_then(|c| c.get(part));
            }
            match cur {
                Some(Value::String(s)) if !s.contains("${") => return Some((s.clone(), false)),
                Some(Value::Number(n)) => return Some((n.to_string(), false)),
                Some(Value::Bool(b)) => return Some((b.to_string(), false)),
                _ => {}
            }
            if let Some(p) = super::paths::default_for(name, &snapshot) {
                return Some((p, false));
            }
        }
        std::env::var(name).ok().map(|v| (v, true))
    };
    let mut errors = Vec::new();
    let mut from_env = Vec::new();
    let depth = if key.is_empty() {
        0
    } else {
        key.split('.').count()
    };
    expand_env_into(
        v,
        &mut key.to_string(),
        depth,
        &lookup,
        &mut errors,
        &mut from_env,
    );
    if errors.is_empty() {
        Ok(from_env)
    } else {
        Err(errors)
    }
}

type Lookup<'a> = dyn Fn(&str) -> Option<(String, bool)> + 'a;

/// Resolves the references under `v`, whose dotted key is `path` (`depth` parts). The path is one
/// buffer, grown and cut back as the walk goes, so the work is linear in the tree however long its keys.
fn expand_env_into(
    v: &mut Value,
    path: &mut String,
    depth: usize,
    lookup: &Lookup<'_>,
    errors: &mut Vec<(String, String)>,
    from_env: &mut Vec<String>,
) {
    match v {
        Value::String(s) if s.contains("${") => match expand_str(s, path, lookup) {
            Ok((out, env)) => {
                if env {
                    from_env.push(path.clone());
                }
                // A value that was only a reference is re-read as YAML, so `${PORT}` can be a number;
                // it is held to the bounds of the file like any other YAML text.
                if s.trim().starts_with("${")
                    && s.trim().ends_with('}')
                    && s.matches("${").count() == 1
                {
                    match read_value(&out, depth) {
                        Ok(value) => *v = value,
                        Err(m) => errors.push((
                            path.clone(),
                            format!("{path}: the value of {}: {m}", s.trim()),
                        )),
                    }
                } else {
                    *v = Value::String(out);
                }
            }
            Err(m) => errors.push((path.clone(), m)),
        },
        Value::Mapping(m) => {
            for (k, v) in m.iter_mut() {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                expand_env_into(v, path, depth + 1, lookup, errors, from_env);
                path.truncate(len);
            }
        }
        Value::Sequence(s) => {
            for (i, v) in s.iter_mut().enumerate() {
                let len = path.len();
                path.push('.');
                path.push_str(&i.to_string());
                expand_env_into(v, path, depth + 1, lookup, errors, from_env);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

/// One string's references resolved; true if any came from the environment.
fn expand_str(s: &str, key: &str, lookup: &Lookup<'_>) -> Result<(String, bool), String> {
    let mut out = String::new();
    let mut env = false;
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("{key}: unclosed ${{ in {s:?}"))?;
        let spec = &after[..end];
        let (name, default) = match spec.split_once(':') {
            Some((n, d)) => (n, Some(d)),
            None => (spec, None),
        };
        match (lookup(name), default) {
            (Some((val, from_env)), _) => {
                out.push_str(&val);
                env |= from_env;
            }
            (None, Some(d)) => out.push_str(d),
            (None, None) => {
                return Err(format!(
                    "{key}: environment variable {name} is not set (write ${{{name}:default}} for a default)"
                ))
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok((out, env))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(text: &str) -> Value {
        yaml::read(text).unwrap().value
    }

    #[test]
    fn dotted_keys_nest_and_merge() {
        let v: Value =
            tree("output.elasticsearch.hosts: [a]\noutput:\n  elasticsearch:\n    index: x\nqueue.mem.flush.min_events: 5\n");
        let e = expand_dotted(v, 0).unwrap();
        assert_eq!(e["output"]["elasticsearch"]["hosts"][0].as_str(), Some("a"));
        assert_eq!(e["output"]["elasticsearch"]["index"].as_str(), Some("x"));
        assert_eq!(e["queue"]["mem"]["flush"]["min_events"].as_u64(), Some(5));
        let v: Value = tree("a.b: 1\na: {b: 2}\n");
        assert!(expand_dotted(v, 0).unwrap_err().1.contains("set twice"));
    }

    #[test]
    fn overrides_set_paths_and_list_entries() {
        let mut v: Value = tree("s3logsbeat:\n  inputs:\n    - type: sqs\n");
        apply_override(&mut v, "s3logsbeat.inputs.0.enabled=false").unwrap();
        apply_override(&mut v, "output.elasticsearch.hosts=[\"es:9200\"]").unwrap();
        apply_override(&mut v, "name=my shipper").unwrap();
        assert_eq!(
            v["s3logsbeat"]["inputs"][0]["enabled"].as_bool(),
            Some(false)
        );
        assert_eq!(
            v["output"]["elasticsearch"]["hosts"][0].as_str(),
            Some("es:9200")
        );
        assert_eq!(v["name"].as_str(), Some("my shipper"));
        assert!(apply_override(&mut v, "s3logsbeat.inputs.3.enabled=false")
            .unwrap_err()
            .contains("no entry 3"));
        assert!(apply_override(&mut v, "novalue").is_err());
    }

    #[test]
    fn env_references() {
        std::env::set_var("S3LB_TEST_PORT", "9201");
        let mut v: Value = tree(
            "a: ${S3LB_TEST_PORT}\nb: http://h:${S3LB_TEST_PORT}/\nc: ${S3LB_TEST_UNSET:dflt}\n",
        );
        let from_env = expand_env(&mut v, "").unwrap();
        assert_eq!(from_env, vec!["a", "b"], "c took its default");
        assert_eq!(v["a"].as_u64(), Some(9201));
        assert_eq!(v["b"].as_str(), Some("http://h:9201/"));
        assert_eq!(v["c"].as_str(), Some("dflt"));
        let mut v: Value = tree("x:\n  y: ${S3LB_TEST_UNSET}\n  z: ${S3LB_TEST_UNSET2}\n");
        let errs = expand_env(&mut v, "").unwrap_err();
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert_eq!(errs[0].0, "x.y");
        assert!(errs[0].1.contains("S3LB_TEST_UNSET is not set"));
    }

    #[test]
    fn every_structural_problem_is_reported_at_its_line_or_its_override() {
        let text = "\
s3logsbeat:
  inputs:
    - type: sqs
      queues_url: [https://q]
      log_fromat: alb
      wait_time: soon
queue.mem.events: 10
output.console: {}
logging.levle: debug
";
        let errs = load_str(text, "f.yml", &["queue.mem.events=many".to_string()])
            .unwrap()
            .errors;
        let shown: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert_eq!(errs.len(), 4, "{shown:#?}");
        assert!(
            shown
                .iter()
                .any(|e| e.starts_with("f.yml:5: unknown key s3logsbeat.inputs.0.log_fromat")),
            "{shown:#?}"
        );
        assert!(
            shown
                .iter()
                .any(|e| e.starts_with("f.yml:6: s3logsbeat.inputs.0.wait_time")),
            "{shown:#?}"
        );
        assert!(
            shown
                .iter()
                .any(|e| e.starts_with("f.yml:9: unknown key logging.levle")),
            "{shown:#?}"
        );
        // The value came from -E, not from line 7.
        assert!(
            shown
                .iter()
                .any(|e| e.starts_with("f.yml: -E queue.mem.events=many: queue.mem.events")),
            "{shown:#?}"
        );
    }

    /// The one error of a config, as `test config` prints it.
    fn only_error(text: &str, overrides: &[&str]) -> String {
        let o: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        let errs = match load_str(text, "f.yml", &o) {
            Ok(l) => l.errors,
            Err(e) => e,
        };
        let shown: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert_eq!(shown.len(), 1, "{shown:#?}");
        shown[0].clone()
    }

    #[test]
    fn a_key_of_many_dots_is_refused_at_its_line_not_expanded() {
        // Fuzz finding G6 (2026-12-07): a key of 30,000 dots was expanded level by level, recursively,
        // until the stack overflowed; under a processor's `when` it nested conditions as deep.
        let dots = ".".repeat(30_000);
        let e = only_error(&format!("s3logsbeat: {{}}\n? \"{dots}\"\n: 1\n"), &[]);
        assert!(
            e.starts_with("f.yml:2: key \"....")
                && e.ends_with("…\" has 30000 dots; at most 64 levels of nesting are allowed"),
            "{e}"
        );
        let nots = "not.".repeat(30_000);
        let text = format!("s3logsbeat: {{}}\nprocessors:\n  - drop_event:\n      when:\n        ? {nots}equals\n        : {{a: 1}}\n");
        let e = only_error(&text, &[]);
        assert!(
            e.starts_with("f.yml:5: key \"not.not.not.")
                && e.ends_with("has 30000 dots; at most 64 levels of nesting are allowed"),
            "{e}"
        );
        // The same from -E, in its key or in its value.
        let nots = "not.".repeat(10_000);
        let e = only_error(
            "s3logsbeat: {}\n",
            &[&format!("processors.0.drop_event.when.{nots}equals.a=1")],
        );
        assert!(
            e.starts_with("f.yml: -E processors.0.drop_event.when.not.not.")
                && e.ends_with("has 10005 dots; at most 64 levels of nesting are allowed"),
            "{e}"
        );
        let e = only_error(
            "s3logsbeat: {}\n",
            &[&format!(
                "processors=[{{drop_event: {{when: {{? {nots}equals : {{a: 1}}}}}}}}]"
            )],
        );
        assert!(
            e.starts_with("f.yml: -E processors=[{drop_event: {when: {? not.not.")
                && e.ends_with("has 10000 dots; at most 64 levels of nesting are allowed"),
            "{e}"
        );
        // Levels add up: nesting and dots together.
        let deep = format!("{}k: 1", "k.".repeat(61));
        let e = only_error(
            &format!("s3logsbeat: {{}}\nfields:\n  a:\n    b:\n      {deep}\n"),
            &[],
        );
        assert!(e.starts_with("f.yml:5: key \"k.k."), "{e}");
        assert!(
            e.ends_with("is nested 65 levels deep; at most 64 levels of nesting are allowed"),
            "{e}"
        );
        // What a config does write is well inside.
        let ok = format!(
            "s3logsbeat: {{}}\nfields:\n  {}: 1\n",
            "k.".repeat(MAX_DEPTH - 2) + "k"
        );
        assert!(load_str(&ok, "f.yml", &[]).is_ok());
    }

    #[test]
    fn overrides_are_held_to_the_bounds_of_the_file() {
        // Fuzz finding G7 (2026-12-07): -E values skipped the alias check, and this 3.2 KB one
        // expanded to gigabytes.
        let bomb = include_str!("../../tests/data/fuzz-findings/G7_E_alias_value.txt").trim_end();
        let e = only_error("s3logsbeat: {}\n", &[bomb]);
        assert!(
            e.starts_with("f.yml: -E fields={a: &a [x,x,")
                && e.contains("…: the YAML aliases (*name) expand to more than 100000 values"),
            "{e}"
        );
        let long = format!("name={}", "x".repeat(MAX_OVERRIDE_BYTES));
        let e = only_error("s3logsbeat: {}\n", &[&long]);
        assert!(
            e.starts_with("f.yml: -E name=xxx")
                && e.ends_with(&format!(
                    ": this -E is {} bytes; at most 65536 bytes are allowed (put long values in the file)",
                    MAX_OVERRIDE_BYTES + 5
                )),
            "{e}"
        );
        // A value the alias check cannot read is a string, as any value that is not YAML.
        let mut tree = Value::Mapping(Mapping::new());
        apply_override(&mut tree, "output.elasticsearch.password=a*[b").unwrap();
        assert_eq!(
            tree["output"]["elasticsearch"]["password"].as_str(),
            Some("a*[b")
        );
        // A ${VAR} that is a whole value is read as YAML too, within the same bounds.
        std::env::set_var("S3LB_TEST_ALIAS_BOMB", &bomb["fields=".len()..]);
        let e = only_error("s3logsbeat: {}\nfields: ${S3LB_TEST_ALIAS_BOMB}\n", &[]);
        assert!(
            e.starts_with(
                "f.yml:2: fields: the value of ${S3LB_TEST_ALIAS_BOMB}: the YAML aliases"
            ),
            "{e}"
        );
    }

    #[test]
    fn an_override_is_named_by_the_errors_it_causes() {
        // Fuzz finding of the overrides target (fuzz-ci, seed 1): a key with `]` lost it in the error's
        // key, which then named neither its -E nor a line.
        let e = only_error("s3logsbeat: {}\n", &["s3logsbe`t.x=1"]);
        assert!(
            e.starts_with(
                "f.yml: -E s3logsbe`t.x=1: unknown key s3logsbe`t (expected one of `s3logsbeat`"
            ),
            "{e}"
        );
        let e = only_error("s3logsbeat: {}\n", &["p]ocessors=[{drop_event: {}}]"]);
        assert!(
            e.starts_with("f.yml: -E p]ocessors=[{drop_event: {}}]: unknown key p]ocessors "),
            "{e}"
        );
        assert_eq!(dotted("a.b[0].c[12]"), "a.b.0.c.12");
        assert_eq!(dotted("p]o[x].q[1"), "p]o[x].q[1");
        // Fuzz finding G8 (2026-12-07): an unknown key made by a dotted -E named neither the -E nor a
        // line, and a key with an empty part was blamed on a line of the file as an empty key.
        let e = only_error("s3logsbeat: {}\n", &["outptu.elasticsearch.index=x"]);
        assert!(
            e.starts_with("f.yml: -E outptu.elasticsearch.index=x: unknown key outptu"),
            "{e}"
        );
        let e = only_error("s3logsbeat: {}\n", &[".name=${NOPE"]);
        assert_eq!(
            e,
            "f.yml: -E .name=${NOPE: key \".name\" has an empty part: a dotted key is written a.b.c"
        );
        // A key the file writes keeps its line although an -E sets something under it.
        let e = only_error(
            "s3logsbeat: {}\noutptu:\n  x: 1\n",
            &["outptu.elasticsearch.index=x"],
        );
        assert!(e.starts_with("f.yml:2: unknown key outptu"), "{e}");
    }

    #[test]
    fn yaml_errors_are_placed_at_their_line_and_say_what_is_wrong() {
        // Fuzz finding G10 (2026-12-07): the line of some YAML errors was only in the message, a number
        // too large was "not valid YAML", and a key written twice was placed at its mapping.
        let e = only_error("s3logsbeat: &x {}\nb: [*x, \n", &[]);
        assert!(e.starts_with("f.yml:3: not valid YAML: "), "{e}");
        let e = only_error(
            "s3logsbeat: {}\nqueue.mem.events: 99999999999999999999999\n",
            &[],
        );
        assert_eq!(
            e,
            "f.yml:2: queue.mem.events: 99999999999999999999999 is out of range: integers go from \
             -9223372036854775808 to 18446744073709551615; quote it if it is meant as text"
        );
        let e = only_error("s3logsbeat: {}\nname: x\nname: y\n", &[]);
        assert_eq!(e, "f.yml:3: key \"name\" is written twice in one mapping");
        let e = only_error(
            &format!(
                "s3logsbeat: {{}}\na: {}{}\n",
                "[".repeat(200),
                "]".repeat(200)
            ),
            &[],
        );
        assert!(
            e.starts_with("f.yml:2: the YAML is nested too deeply to be read (more than 128 collections); at most 64 levels"),
            "{e}"
        );
    }

    /// The configs the project ships, and the original's.
    const SHIPPED: &[(&str, &str)] = &[
        ("s3logsbeat.yml", include_str!("../../s3logsbeat.yml")),
        (
            "s3logsbeat.reference.yml",
            include_str!("../../s3logsbeat.reference.yml"),
        ),
        ("alb.yml", include_str!("../../config/alb.yml")),
        (
            "alb_connection.yml",
            include_str!("../../config/alb_connection.yml"),
        ),
        (
            "cloudfront.yml",
            include_str!("../../config/cloudfront.yml"),
        ),
        (
            "cloudtrail.yml",
            include_str!("../../config/cloudtrail.yml"),
        ),
        (
            "cloudwatch.yml",
            include_str!("../../config/cloudwatch.yml"),
        ),
        ("custom.yml", include_str!("../../config/custom.yml")),
        ("elb.yml", include_str!("../../config/elb.yml")),
        ("json.yml", include_str!("../../config/json.yml")),
        ("mixed.yml", include_str!("../../config/mixed.yml")),
        ("nlb.yml", include_str!("../../config/nlb.yml")),
        ("s3access.yml", include_str!("../../config/s3access.yml")),
        ("vpcflow.yml", include_str!("../../config/vpcflow.yml")),
        ("waf.yml", include_str!("../../config/waf.yml")),
        (
            "original s3logsbeat.yml",
            include_str!("../../tests/data/original-config/s3logsbeat.yml"),
        ),
        (
            "original s3logsbeat.reference.yml",
            include_str!("../../tests/data/original-config/s3logsbeat.reference.yml"),
        ),
    ];

    /// `export config` prints the tree as YAML: read back, it is the same config, for every config
    /// shipped, redacted or not.
    #[test]
    fn an_exported_config_reads_back_as_the_same_config() {
        for (name, text) in SHIPPED {
            let loaded = load_str(text, name, &[]).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            assert!(
                loaded.tree.as_mapping().is_some_and(|m| !m.is_empty()),
                "{name}"
            );
            let exported = yaml::to_string(&loaded.tree);
            let again = load_str(&exported, name, &[])
                .unwrap_or_else(|e| panic!("{name}: {e:?}\n{exported}"));
            assert_eq!(again.tree, loaded.tree, "{name}:\n{exported}");
            let problems = |l: &Loaded| -> Vec<(Option<String>, String)> {
                l.errors
                    .iter()
                    .map(|e| (e.key.clone(), e.message.clone()))
                    .collect()
            };
            assert_eq!(
                problems(&again),
                problems(&loaded),
                "{name}: the same problems, if any"
            );
            let redacted = super::super::redact::redact(&loaded.tree, &loaded.source.from_env);
            let text = yaml::to_string(&redacted);
            assert_eq!(
                yaml::read(&text).unwrap().value,
                redacted,
                "{name}:\n{text}"
            );
        }
    }

    /// Issue 23: Rust's words (`expected usize`, `unknown variant`) reached users.
    #[test]
    fn serde_messages_are_put_in_plain_words() {
        for (serde, ours) in [
            (
                "invalid type: string \"lots\", expected usize",
                "expected a whole number (0 or more), got the text \"lots\"",
            ),
            (
                "invalid value: integer `-1`, expected u32",
                "expected a whole number (0 or more), got the number -1",
            ),
            (
                "invalid type: sequence, expected a string",
                "expected a text, got a list",
            ),
            (
                "invalid type: boolean `true`, expected struct Raw",
                "expected a mapping (key: value), got true",
            ),
            (
                "unknown variant `sqss`, expected `sqs` or `s3`",
                "unknown value \"sqss\": expected sqs or s3",
            ),
            ("something else", "something else"),
        ] {
            assert_eq!(plain_words(serde), ours, "{serde}");
        }
    }
}
