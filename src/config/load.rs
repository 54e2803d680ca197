//! From the YAML text to [`RawConfig`]: dotted keys, `${VAR}` references and `-E` overrides, with
//! errors that name the file, the key and (when it can be found) the line.

use std::path::Path;

use serde_yaml::{Mapping, Value};

use super::raw::RawConfig;
use super::ConfigError;

/// Reads and parses `path`, applying `-E key=value` overrides.
pub fn load_file(path: &Path, overrides: &[String]) -> Result<(RawConfig, Value), ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: path.display().to_string(),
        key: None,
        line: None,
        message: format!("cannot read the config file: {e}"),
    })?;
    load_str(&text, &path.display().to_string(), overrides)
}

/// Parses config text; `file` is used in error messages. Returns the typed config and the merged YAML
/// tree (what `export config` prints).
pub fn load_str(
    text: &str,
    file: &str,
    overrides: &[String],
) -> Result<(RawConfig, Value), ConfigError> {
    let err = |key: Option<String>, message: String| ConfigError {
        file: file.to_string(),
        line: key.as_deref().and_then(|k| find_line(text, k)),
        key,
        message,
    };
    let mut tree: Value = if text.trim().is_empty() {
        Value::Mapping(Mapping::new())
    } else {
        serde_yaml::from_str(text).map_err(|e| ConfigError {
            file: file.to_string(),
            key: None,
            line: e.location().map(|l| l.line()),
            message: format!("not valid YAML: {e}"),
        })?
    };
    if !tree.is_mapping() {
        return Err(err(None, "the top level must be a mapping of keys".into()));
    }
    tree = expand_dotted(tree).map_err(|(k, m)| err(Some(k), m))?;
    for o in overrides {
        apply_override(&mut tree, o).map_err(|m| ConfigError {
            file: file.to_string(),
            key: Some(o.split('=').next().unwrap_or(o).to_string()),
            line: None,
            message: format!("-E {o}: {m}"),
        })?;
    }
    expand_env(&mut tree, "").map_err(|(k, m)| err(Some(k), m))?;
    let raw: RawConfig = serde_path_to_error::deserialize(tree.clone()).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        // serde says "unknown field `x`, expected one of ..." at the path of the map holding it.
        let (key, message) = match inner.strip_prefix("unknown field `") {
            Some(rest) => {
                let name = rest.split('`').next().unwrap_or("");
                let key = join_key(&path, name);
                let expected = rest.split_once(", ").map(|(_, e)| e).unwrap_or("");
                (key.clone(), format!("unknown key {key} ({expected})"))
            }
            None if inner.starts_with("missing field `") => {
                let name = inner.split('`').nth(1).unwrap_or("");
                let key = join_key(&path, name);
                (key.clone(), format!("missing required key {key}"))
            }
            None => (dotted(&path), format!("{}: {inner}", dotted(&path))),
        };
        err(Some(key), message)
    })?;
    Ok((raw, tree))
}

/// `a.b[0].c` (serde_path_to_error) as `a.b.0.c` (the form `-E` takes).
fn dotted(path: &str) -> String {
    path.replace('[', ".").replace(']', "")
}

fn join_key(path: &str, name: &str) -> String {
    let d = dotted(path);
    if d == name || d.ends_with(&format!(".{name}")) {
        // serde_path_to_error already put the unknown key at the end of the path.
        d
    } else if path == "." || path.is_empty() {
        name.to_string()
    } else {
        format!("{}.{name}", dotted(path))
    }
}

/// The 1-based line where the last segment of `key` is written as a key, if exactly one line does.
fn find_line(text: &str, key: &str) -> Option<usize> {
    let last = key.rsplit('.').find(|s| s.parse::<usize>().is_err())?;
    let hits: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| {
            let t = l.trim_start().trim_start_matches("- ").trim_start();
            t.strip_prefix(last)
                .or_else(|| {
                    t.split_once('.')
                        .and_then(|_| t.rsplit_once(last).map(|(_, r)| r))
                })
                .is_some_and(|r| r.trim_start().starts_with(':'))
        })
        .map(|(i, _)| i + 1)
        .collect();
    (hits.len() == 1).then(|| hits[0])
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

/// Replaces `${VAR}` and `${VAR:default}` in string values with the environment, as libbeat does.
fn expand_env(v: &mut Value, key: &str) -> Result<(), (String, String)> {
    match v {
        Value::String(s) if s.contains("${") => {
            let mut out = String::new();
            let mut rest = s.as_str();
            while let Some(start) = rest.find("${") {
                out.push_str(&rest[..start]);
                let after = &rest[start + 2..];
                let end = after
                    .find('}')
                    .ok_or_else(|| (key.to_string(), format!("unclosed ${{ in {s:?}")))?;
                let spec = &after[..end];
                let (name, default) = match spec.split_once(':') {
                    Some((n, d)) => (n, Some(d)),
                    None => (spec, None),
                };
                match (std::env::var(name), default) {
                    (Ok(val), _) => out.push_str(&val),
                    (Err(_), Some(d)) => out.push_str(d),
                    (Err(_), None) => {
                        return Err((
                            key.to_string(),
                            format!("{key}: environment variable {name} is not set (write ${{{name}:default}} for a default)"),
                        ))
                    }
                }
                rest = &after[end + 1..];
            }
            out.push_str(rest);
            // A value that was only a reference is re-read as YAML, so `${PORT}` can be a number.
            *v = if s.trim().starts_with("${")
                && s.trim().ends_with('}')
                && s.matches("${").count() == 1
            {
                serde_yaml::from_str(&out).unwrap_or(Value::String(out))
            } else {
                Value::String(out)
            };
            Ok(())
        }
        Value::Mapping(m) => {
            for (k, v) in m.iter_mut() {
                let name = k.as_str().unwrap_or_default();
                let child = if key.is_empty() {
                    name.to_string()
                } else {
                    format!("{key}.{name}")
                };
                expand_env(v, &child)?;
            }
            Ok(())
        }
        Value::Sequence(s) => {
            for (i, v) in s.iter_mut().enumerate() {
                expand_env(v, &format!("{key}.{i}"))?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
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
        expand_env(&mut v, "").unwrap();
        assert_eq!(v["a"].as_u64(), Some(9201));
        assert_eq!(v["b"].as_str(), Some("http://h:9201/"));
        assert_eq!(v["c"].as_str(), Some("dflt"));
        let mut v: Value = serde_yaml::from_str("x:\n  y: ${S3LB_TEST_UNSET}\n").unwrap();
        let (k, m) = expand_env(&mut v, "").unwrap_err();
        assert_eq!(k, "x.y");
        assert!(m.contains("S3LB_TEST_UNSET is not set"));
    }

    #[test]
    fn lines_are_found_for_keys() {
        let text = "s3logsbeat:\n  inputs:\n    - type: sqs\n      log_fromat: alb\n";
        assert_eq!(find_line(text, "s3logsbeat.inputs.0.log_fromat"), Some(4));
        assert_eq!(
            find_line(
                "output.elasticsearch.hostz: [a]\n",
                "output.elasticsearch.hostz"
            ),
            Some(1)
        );
        assert_eq!(find_line("a: 1\n", "zzz"), None);
    }
}
