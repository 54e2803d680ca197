//! `processors:`, compiled once: the YAML list in, [`Processors`] out (regexes compiled, fields and
//! conditions checked), with errors that name `processors.N.…`. The processors beats configs use most:
//! `add_fields`, `drop_fields`, `rename`, `add_tags`, `drop_event` and `decode_json_fields`, each with an
//! optional `when` (`equals`, `contains`, `regexp`, `range`, `has_fields`, `and`, `or`, `not`). Any other
//! processor is an error: ignoring it would change what is delivered. `event/processors.rs` applies them.

use super::tree::{Mapping, Value};
use regex::Regex;
use serde_json::{Map, Value as J};

use super::Problems;

/// The compiled processors, in order.
#[derive(Clone, Debug, Default)]
pub struct Processors(pub Vec<Processor>);

impl Processors {
    /// True if there is none (events go out untouched, without being parsed).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One processor.
#[derive(Clone, Debug)]
pub struct Processor {
    /// What it does.
    pub action: Action,
    /// When it applies; always when `None`.
    pub when: Option<Condition>,
}

/// What a processor does.
#[derive(Clone, Debug)]
pub enum Action {
    /// Adds `fields` under `target` (`fields` by default; the top level when `target: ""`).
    AddFields {
        /// Dotted path, or empty for the top level.
        target: String,
        /// The fields.
        fields: Map<String, J>,
    },
    /// Removes fields (dotted paths); `@timestamp` and `@metadata` are never removed.
    DropFields {
        /// The fields.
        fields: Vec<String>,
    },
    /// Renames fields: `(from, to)`, dotted paths.
    Rename {
        /// The renames, in order.
        fields: Vec<(String, String)>,
    },
    /// Adds tags to `target` (`tags` by default).
    AddTags {
        /// The tags.
        tags: Vec<String>,
        /// The list field.
        target: String,
    },
    /// Drops the event (counted).
    DropEvent,
    /// Decodes JSON strings in place (or under `target`).
    DecodeJsonFields {
        /// The string fields to decode.
        fields: Vec<String>,
        /// Where the decoded value goes: `None` in place, `Some("")` the top level.
        target: Option<String>,
        /// Decoded keys replace existing ones at the top level.
        overwrite_keys: bool,
        /// Decode JSON inside arrays too.
        process_array: bool,
        /// Nested strings decoded down to this depth.
        max_depth: usize,
        /// On a decoding error, write it to `error.message`.
        add_error_key: bool,
    },
}

/// A `when` condition.
#[derive(Clone, Debug)]
pub enum Condition {
    /// Every field equals its value (numbers compare as numbers).
    Equals(Vec<(String, J)>),
    /// Every string field contains its text.
    Contains(Vec<(String, String)>),
    /// Every string field matches its regex.
    Regexp(Vec<(String, Regex)>),
    /// Every numeric field is in its bounds.
    Range(Vec<(String, Bounds)>),
    /// Every field exists.
    HasFields(Vec<String>),
    /// All hold.
    And(Vec<Condition>),
    /// One holds.
    Or(Vec<Condition>),
    /// It does not hold.
    Not(Box<Condition>),
}

/// `range` bounds of one field.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Bounds {
    /// Greater than.
    pub gt: Option<f64>,
    /// Greater than or equal.
    pub gte: Option<f64>,
    /// Less than.
    pub lt: Option<f64>,
    /// Less than or equal.
    pub lte: Option<f64>,
}

/// Compiles the `processors` list; problems go to `p`.
/// Compiles the list found at `at` (`processors`, or `s3logsbeat.inputs.N.processors`).
pub(super) fn compile(list: &[Value], at: &str, p: &mut Problems) -> Processors {
    let mut out = Vec::new();
    for (i, v) in list.iter().enumerate() {
        let key = format!("{at}.{i}");
        let Some(m) = v.as_mapping().filter(|m| m.len() == 1) else {
            p.push(key.clone(), format!("{key}: a processor is a mapping with one name, such as `drop_fields: {{fields: [a]}}`"));
            continue;
        };
        let (name, body) = m.iter().next().expect("one entry");
        let key = format!("{key}.{name}");
        let empty = Mapping::new();
        let body = match body {
            Value::Mapping(b) => b,
            Value::Null => &empty,
            _ => {
                p.push(key.clone(), format!("{key}: expected a mapping of options"));
                continue;
            }
        };
        let when = match body.get("when") {
            None => None,
            Some(w) => match condition(w, &format!("{key}.when")) {
                Ok(c) => Some(c),
                Err((k, m)) => {
                    p.push(k, m);
                    continue;
                }
            },
        };
        match action(name, body, &key) {
            Ok(action) => out.push(Processor { action, when }),
            Err((k, m)) => p.push(k, m),
        }
    }
    Processors(out)
}

type Problem = (String, String);

fn strings(body: &Mapping, field: &str, key: &str) -> Result<Vec<String>, Problem> {
    let k = format!("{key}.{field}");
    match body.get(field) {
        Some(Value::Sequence(s)) => s
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| (k.clone(), format!("{k}: expected a list of strings")))
            })
            .collect(),
        // Beats take a list here; a string would be one name, and `fields: "a, b"` silently none.
        Some(Value::String(s)) => Err((
            k.clone(),
            format!("{k}: expected a list, such as [{s}] (a string is not read as one)"),
        )),
        Some(_) => Err((k.clone(), format!("{k}: expected a list of strings"))),
        None => Err((k.clone(), format!("{k} is required"))),
    }
}

fn boolean(body: &Mapping, field: &str, default: bool) -> bool {
    body.get(field).and_then(Value::as_bool).unwrap_or(default)
}

fn known(body: &Mapping, allowed: &[&str], key: &str) -> Result<(), Problem> {
    for k in body.keys() {
        let k = k.as_str();
        if k != "when" && !allowed.contains(&k) {
            return Err((
                format!("{key}.{k}"),
                format!(
                    "unknown key {key}.{k} (expected one of {})",
                    allowed.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

fn to_json(v: &Value) -> J {
    serde_json::to_value(v).unwrap_or(J::Null)
}

fn action(name: &str, body: &Mapping, key: &str) -> Result<Action, Problem> {
    match name {
        "add_fields" => {
            known(body, &["target", "fields"], key)?;
            let fields = match body.get("fields").map(to_json) {
                Some(J::Object(m)) => m,
                _ => return Err((format!("{key}.fields"), format!("{key}.fields is required: a mapping of fields to add"))),
            };
            let target = body.get("target").and_then(Value::as_str).unwrap_or("fields").to_string();
            Ok(Action::AddFields { target, fields })
        }
        "drop_fields" => {
            known(body, &["fields", "ignore_missing"], key)?;
            Ok(Action::DropFields { fields: strings(body, "fields", key)? })
        }
        "rename" => {
            known(body, &["fields", "ignore_missing", "fail_on_error"], key)?;
            let k = format!("{key}.fields");
            let Some(Value::Sequence(list)) = body.get("fields") else {
                return Err((k.clone(), format!("{k} is required: a list of {{from: a, to: b}}")));
            };
            let mut fields = Vec::new();
            for (j, f) in list.iter().enumerate() {
                let from = f.get("from").and_then(Value::as_str);
                let to = f.get("to").and_then(Value::as_str);
                match (from, to) {
                    (Some(a), Some(b)) if !a.is_empty() && !b.is_empty() => fields.push((a.to_string(), b.to_string())),
                    _ => return Err((format!("{k}.{j}"), format!("{k}.{j}: expected {{from: a, to: b}}"))),
                }
            }
            Ok(Action::Rename { fields })
        }
        "add_tags" => {
            known(body, &["tags", "target"], key)?;
            let tags = strings(body, "tags", key)?;
            let target = body.get("target").and_then(Value::as_str).unwrap_or("tags").to_string();
            Ok(Action::AddTags { tags, target })
        }
        "drop_event" => {
            known(body, &[], key)?;
            Ok(Action::DropEvent)
        }
        "decode_json_fields" => {
            known(
                body,
                &["fields", "target", "overwrite_keys", "process_array", "max_depth", "add_error_key", "expand_keys", "document_id"],
                key,
            )?;
            if body.get("document_id").is_some() || boolean(body, "expand_keys", false) {
                return Err((key.to_string(), format!("{key}: document_id and expand_keys are not supported")));
            }
            Ok(Action::DecodeJsonFields {
                fields: strings(body, "fields", key)?,
                target: body.get("target").and_then(Value::as_str).map(str::to_string),
                overwrite_keys: boolean(body, "overwrite_keys", false),
                process_array: boolean(body, "process_array", false),
                max_depth: body.get("max_depth").and_then(Value::as_u64).unwrap_or(1).clamp(1, 100) as usize,
                add_error_key: boolean(body, "add_error_key", false),
            })
        }
        other => Err((
            key.to_string(),
            format!(
                "{key}: processor {other:?} is not supported (add_fields, drop_fields, rename, add_tags, drop_event, \
                 decode_json_fields): ignoring it would change what is delivered"
            ),
        )),
    }
}

fn condition(v: &Value, key: &str) -> Result<Condition, Problem> {
    let Some(m) = v.as_mapping().filter(|m| m.len() == 1) else {
        return Err((key.to_string(), format!("{key}: a condition is a mapping with one name (equals, contains, regexp, range, has_fields, and, or, not)")));
    };
    let (name, body) = m.iter().next().expect("one entry");
    let name = name.as_str();
    let key = format!("{key}.{name}");
    let pairs = || -> Result<Vec<(String, &Value)>, Problem> {
        match body.as_mapping() {
            Some(b) if !b.is_empty() => Ok(b.iter().map(|(k, v)| (k.clone(), v)).collect()),
            _ => Err((
                key.clone(),
                format!("{key}: expected a mapping of field: value"),
            )),
        }
    };
    let list = || -> Result<Vec<Condition>, Problem> {
        match body.as_sequence() {
            Some(s) if !s.is_empty() => s
                .iter()
                .enumerate()
                .map(|(i, c)| condition(c, &format!("{key}.{i}")))
                .collect(),
            _ => Err((key.clone(), format!("{key}: expected a list of conditions"))),
        }
    };
    Ok(match name {
        "equals" => Condition::Equals(pairs()?.into_iter().map(|(f, v)| (f, to_json(v))).collect()),
        "contains" => Condition::Contains(
            pairs()?
                .into_iter()
                .map(|(f, v)| v.as_str().map(|s| (f.clone(), s.to_string())).ok_or_else(|| (format!("{key}.{f}"), format!("{key}.{f}: expected a string"))))
                .collect::<Result<_, _>>()?,
        ),
        "regexp" => Condition::Regexp(
            pairs()?
                .into_iter()
                .map(|(f, v)| {
                    let k = format!("{key}.{f}");
                    let s = v.as_str().ok_or_else(|| (k.clone(), format!("{k}: expected a regular expression")))?;
                    Regex::new(s).map(|r| (f.clone(), r)).map_err(|e| (k.clone(), format!("{k}: not a valid regular expression: {e}")))
                })
                .collect::<Result<_, _>>()?,
        ),
        "range" => Condition::Range(
            pairs()?
                .into_iter()
                .map(|(f, v)| {
                    let k = format!("{key}.{f}");
                    let b = v.as_mapping().ok_or_else(|| (k.clone(), format!("{k}: expected gt/gte/lt/lte")))?;
                    let mut bounds = Bounds::default();
                    for (bk, bv) in b {
                        let n = bv.as_f64().ok_or_else(|| (k.clone(), format!("{k}: bounds are numbers")))?;
                        match bk.as_str() {
                            "gt" => bounds.gt = Some(n),
                            "gte" => bounds.gte = Some(n),
                            "lt" => bounds.lt = Some(n),
                            "lte" => bounds.lte = Some(n),
                            other => return Err((k.clone(), format!("{k}: {other:?} is not gt, gte, lt or lte"))),
                        }
                    }
                    Ok((f.clone(), bounds))
                })
                .collect::<Result<_, _>>()?,
        ),
        "has_fields" => Condition::HasFields(
            body.as_sequence()
                .map(|s| s.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
                .filter(|v: &Vec<String>| !v.is_empty())
                .ok_or_else(|| (key.clone(), format!("{key}: expected a list of fields")))?,
        ),
        "and" => Condition::And(list()?),
        "or" => Condition::Or(list()?),
        "not" => Condition::Not(Box::new(condition(body, &key)?)),
        other => {
            return Err((
                key.clone(),
                format!("{key}: unknown condition {other:?} (equals, contains, regexp, range, has_fields, and, or, not)"),
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile_str(yaml: &str) -> (Processors, Vec<(String, String)>) {
        let v: Vec<Value> = super::super::yaml::from_str(yaml).unwrap();
        let mut p = Problems::default();
        let out = compile(&v, "processors", &mut p);
        (out, p.list)
    }

    #[test]
    fn the_usual_processors_compile() {
        let (p, errs) = compile_str(
            "- add_fields: {target: project, fields: {name: shop, id: 7}}\n\
             - drop_fields: {fields: [user_agent, ssl_cipher]}\n\
             - rename: {fields: [{from: elb, to: lb.name}]}\n\
             - add_tags: {tags: [aws]}\n\
             - drop_event: {when: {and: [{equals: {elb_status_code: 200}}, {not: {regexp: {request_url: '^/health'}}}]}}\n\
             - decode_json_fields: {fields: [message], target: ''}\n\
             - drop_fields: {fields: [x], when: {range: {sent_bytes: {gte: 1000}}}}\n",
        );
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(p.0.len(), 7);
        assert!(matches!(&p.0[4].when, Some(Condition::And(c)) if c.len() == 2));
    }

    #[test]
    fn unknown_processors_and_bad_conditions_are_errors_that_name_them() {
        let (_, errs) = compile_str(
            "- include_fields: {fields: [a]}\n\
             - drop_event: {when: {regexp: {a: '('}}}\n\
             - drop_event: {when: {sometimes: {}}}\n\
             - rename: {fields: [{from: a}]}\n",
        );
        let keys: Vec<&str> = errs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            vec![
                "processors.0.include_fields",
                "processors.1.drop_event.when.regexp.a",
                "processors.2.drop_event.when.sometimes",
                "processors.3.rename.fields.0"
            ]
        );
        assert!(errs[0].1.contains("would change what is delivered"));
    }

    #[test]
    fn add_fields_values_keep_their_yaml_types() {
        let (p, errs) = compile_str(
            "- add_fields: {target: '', fields: {n: 7, neg: -2, f: 0.5, b: true, s: '7', d: 5s, z: ~, \
             perm: 0640, l: [1, x], m: {k: v}}}\n",
        );
        assert!(errs.is_empty(), "{errs:?}");
        let Action::AddFields { fields, .. } = &p.0[0].action else {
            panic!("{:?}", p.0[0].action)
        };
        assert_eq!(
            J::Object(fields.clone()),
            serde_json::json!({"n": 7, "neg": -2, "f": 0.5, "b": true, "s": "7", "d": "5s", "z": null,
                               "perm": "0640", "l": [1, "x"], "m": {"k": "v"}})
        );
    }

    /// Issue 23: `drop_fields: {fields: "a, b"}` passed `test config` and dropped nothing.
    #[test]
    fn lists_are_lists() {
        let (_, errs) = compile_str(
            "- drop_fields: {fields: 'user_agent, ssl_cipher'}\n\
             - add_tags: {tags: aws}\n\
             - decode_json_fields: {fields: message}\n",
        );
        let keys: Vec<&str> = errs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            vec![
                "processors.0.drop_fields.fields",
                "processors.1.add_tags.tags",
                "processors.2.decode_json_fields.fields"
            ]
        );
        assert!(
            errs[0]
                .1
                .contains("expected a list, such as [user_agent, ssl_cipher]"),
            "{errs:?}"
        );
    }
}
