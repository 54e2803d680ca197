//! From the YAML text to [`RawConfig`]: dotted keys, `${VAR}` references and `-E` overrides, with
//! errors that name the key and where its value came from (the file's line, or the `-E` that set it).
//!
//! Structural mistakes (an unknown key, a wrong type, an unknown variant) are all collected, not only
//! the first: the offending value is taken out of the tree, the tree read again, and so on, so `test
//! config` lists every problem at once. Semantic checks then run on what is left and skip the keys that
//! were taken out (their problem is already reported).

use std::path::Path;

use serde_yaml::{Mapping, Value};

use super::positions::Positions;
use super::raw::RawConfig;
use super::ConfigError;

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
    /// A problem with `key`, placed at the `-E` that set it, else at its line in the file.
    pub fn error(&self, key: Option<&str>, message: impl Into<String>) -> ConfigError {
        let over = key.and_then(|k| {
            self.overrides
                .iter()
                .rev()
                .find(|(o, _)| under(k, o))
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
    let mut source = Source {
        file: file.to_string(),
        positions: Positions::of(text),
        ..Source::default()
    };
    super::positions::check_aliases(text).map_err(|m| vec![ConfigError::in_file(file, m)])?;
    let mut tree: Value = if text.trim().is_empty() {
        Value::Mapping(Mapping::new())
    } else {
        serde_yaml::from_str(text).map_err(|e| {
            let mut err = ConfigError::in_file(file, format!("not valid YAML: {e}"));
            err.line = e.location().map(|l| l.line());
            vec![err]
        })?
    };
    if !tree.is_mapping() {
        return Err(vec![
            source.error(None, "the top level must be a mapping of keys")
        ]);
    }
    tree = expand_dotted(tree).map_err(|(k, m)| vec![source.error(Some(&k), m)])?;
    let mut errors = Vec::new();
    for o in overrides {
        let key = o.split('=').next().unwrap_or(o).trim().to_string();
        source.overrides.push((key.clone(), format!("-E {o}")));
        if let Err(m) = apply_override(&mut tree, o) {
            errors.push(source.error(Some(&key), m));
        }
    }
    match expand_env(&mut tree, "") {
        Ok(keys) => source.from_env = keys,
        Err(list) => {
            for (k, m) in list {
                errors.push(source.error(Some(&k), m));
            }
        }
    }
    // Read, take out what is wrong, read again: every structural problem is found in one run. Each round
    // removes one value, so this ends; the bound is only a guard.
    for _ in 0..200 {
        match serde_path_to_error::deserialize::<_, RawConfig>(tree.clone()) {
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
        let name = rest.split('`').next().unwrap_or("");
        let key = join_key(path, name);
        let expected = rest.split_once(", ").map(|(_, e)| e).unwrap_or("");
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
    (path.to_string(), format!("{path}: {inner}"), remove)
}

/// `a.b[0].c` (serde_path_to_error) as `a.b.0.c` (the form `-E` takes).
fn dotted(path: &str) -> String {
    path.replace('[', ".").replace(']', "")
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
        Value::Mapping(m) => m.remove(*last).is_some(),
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

/// Turns `a.b: 1` into `a: {b: 1}` at every level, merging with keys already there, as libbeat does.
fn expand_dotted(v: Value) -> Result<Value, (String, String)> {
    match v {
        Value::Mapping(m) => {
            let mut out = Mapping::new();
            for (k, v) in m {
                let v = expand_dotted(v)?;
                let key = match &k {
                    Value::String(s) => s.clone(),
                    other => {
                        // Numbers or booleans as keys: keep them as their text.
                        serde_yaml::to_string(other)
                            .unwrap_or_default()
                            .trim()
                            .to_string()
                    }
                };
                let parts: Vec<&str> = key.split('.').collect();
                insert_path(&mut out, &parts, v).map_err(|m| (key.clone(), m))?;
            }
            Ok(Value::Mapping(out))
        }
        Value::Sequence(s) => Ok(Value::Sequence(
            s.into_iter().map(expand_dotted).collect::<Result<_, _>>()?,
        )),
        other => Ok(other),
    }
}

fn insert_path(m: &mut Mapping, parts: &[&str], v: Value) -> Result<(), String> {
    let k = Value::String(parts[0].to_string());
    if parts.len() == 1 {
        match (m.get_mut(&k), v) {
            (Some(Value::Mapping(existing)), Value::Mapping(new)) => {
                for (nk, nv) in new {
                    let nk = nk.as_str().unwrap_or_default().to_string();
                    insert_path(existing, &[nk.as_str()], nv)?;
                }
            }
            (Some(_), _) => return Err(format!("key {} is set twice", parts[0])),
            (None, v) => {
                m.insert(k, v);
            }
        }
        return Ok(());
    }
    let child = m.entry(k).or_insert_with(|| Value::Mapping(Mapping::new()));
    match child {
        Value::Mapping(cm) => insert_path(cm, &parts[1..], v),
        _ => Err(format!(
            "key {} is both a value and a section",
            parts.join(".")
        )),
    }
}

/// Applies `key=value`: the key is dotted (a number indexes a list), the value is YAML
/// (`-E output.elasticsearch.hosts=["es:9200"]`).
pub fn apply_override(tree: &mut Value, o: &str) -> Result<(), String> {
    let (key, value) = o
        .split_once('=')
        .ok_or_else(|| "expected key=value".to_string())?;
    let key = key.trim();
    if key.is_empty() {
        return Err("the key is empty".into());
    }
    let value: Value = if value.trim().is_empty() {
        Value::String(String::new())
    } else {
        serde_yaml::from_str(value).unwrap_or_else(|_| Value::String(value.to_string()))
    };
    let value = expand_dotted(value).map_err(|(_, m)| m)?;
    let parts: Vec<&str> = key.split('.').collect();
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
        let k = Value::String(p.to_string());
        if last {
            m.insert(k, value);
            return Ok(());
        }
        cur = m.entry(k).or_insert_with(|| Value::Mapping(Mapping::new()));
    }
    Ok(())
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
    expand_env_into(v, key, &lookup, &mut errors, &mut from_env);
    if errors.is_empty() {
        Ok(from_env)
    } else {
        Err(errors)
    }
}

type Lookup<'a> = dyn Fn(&str) -> Option<(String, bool)> + 'a;

fn expand_env_into(
    v: &mut Value,
    key: &str,
    lookup: &Lookup<'_>,
    errors: &mut Vec<(String, String)>,
    from_env: &mut Vec<String>,
) {
    match v {
        Value::String(s) if s.contains("${") => match expand_str(s, key, lookup) {
            Ok((out, env)) => {
                if env {
                    from_env.push(key.to_string());
                }
                // A value that was only a reference is re-read as YAML, so `${PORT}` can be a number.
                *v = if s.trim().starts_with("${")
                    && s.trim().ends_with('}')
                    && s.matches("${").count() == 1
                {
                    serde_yaml::from_str(&out).unwrap_or(Value::String(out))
                } else {
                    Value::String(out)
                };
            }
            Err(m) => errors.push((key.to_string(), m)),
        },
        Value::Mapping(m) => {
            for (k, v) in m.iter_mut() {
                let name = k.as_str().unwrap_or_default();
                let child = if key.is_empty() {
                    name.to_string()
                } else {
                    format!("{key}.{name}")
                };
                expand_env_into(v, &child, lookup, errors, from_env);
            }
        }
        Value::Sequence(s) => {
            for (i, v) in s.iter_mut().enumerate() {
                expand_env_into(v, &format!("{key}.{i}"), lookup, errors, from_env);
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

    #[test]
    fn dotted_keys_nest_and_merge() {
        let v: Value =
            serde_yaml::from_str("output.elasticsearch.hosts: [a]\noutput:\n  elasticsearch:\n    index: x\nqueue.mem.flush.min_events: 5\n")
                .unwrap();
        let e = expand_dotted(v).unwrap();
        assert_eq!(e["output"]["elasticsearch"]["hosts"][0].as_str(), Some("a"));
        assert_eq!(e["output"]["elasticsearch"]["index"].as_str(), Some("x"));
        assert_eq!(e["queue"]["mem"]["flush"]["min_events"].as_u64(), Some(5));
        let v: Value = serde_yaml::from_str("a.b: 1\na: {b: 2}\n").unwrap();
        assert!(expand_dotted(v).unwrap_err().1.contains("set twice"));
    }

    #[test]
    fn overrides_set_paths_and_list_entries() {
        let mut v: Value =
            serde_yaml::from_str("s3logsbeat:\n  inputs:\n    - type: sqs\n").unwrap();
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
        let mut v: Value = serde_yaml::from_str(
            "a: ${S3LB_TEST_PORT}\nb: http://h:${S3LB_TEST_PORT}/\nc: ${S3LB_TEST_UNSET:dflt}\n",
        )
        .unwrap();
        let from_env = expand_env(&mut v, "").unwrap();
        assert_eq!(from_env, vec!["a", "b"], "c took its default");
        assert_eq!(v["a"].as_u64(), Some(9201));
        assert_eq!(v["b"].as_str(), Some("http://h:9201/"));
        assert_eq!(v["c"].as_str(), Some("dflt"));
        let mut v: Value =
            serde_yaml::from_str("x:\n  y: ${S3LB_TEST_UNSET}\n  z: ${S3LB_TEST_UNSET2}\n")
                .unwrap();
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
}
