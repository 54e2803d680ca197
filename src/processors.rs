//! Processors: an event in, the event changed (or dropped) out, by the compiled `processors` of the config,
//! in order, each only when its `when` holds. Paths are dotted (`user.name` is `{"user":{"name":…}}`, and a
//! key with a dot in it, as beats write them, is also found). `@timestamp` and `@metadata` are never
//! removed or renamed: an event always keeps its time and its `_id`.
//!
//! An event is parsed and written again only when a processor is configured; without one this costs
//! nothing.

use serde_json::{Map, Value as J};

use crate::config::processors::{Action, Bounds, Condition, Processor, Processors};
use crate::event::Event;

/// Fields a processor may not remove or rename.
const KEPT: [&str; 2] = ["@timestamp", "@metadata"];

/// Applies the processors to `e`; false if the event is dropped.
pub fn apply(processors: &Processors, e: &mut Event) -> bool {
    if processors.is_empty() {
        return true;
    }
    let Ok(J::Object(mut doc)) = serde_json::from_str::<J>(&e.doc) else {
        return true;
    };
    for p in &processors.0 {
        if !p.when.as_ref().is_none_or(|c| holds(c, &doc)) {
            continue;
        }
        if !run(p, &mut doc) {
            return false;
        }
    }
    e.doc = J::Object(doc).to_string().into();
    true
}

/// One processor on a document; false to drop it.
fn run(p: &Processor, doc: &mut Map<String, J>) -> bool {
    match &p.action {
        Action::DropEvent => return false,
        Action::AddFields { target, fields } => {
            if target.is_empty() {
                for (k, v) in fields {
                    if !KEPT.contains(&k.as_str()) {
                        doc.insert(k.clone(), v.clone());
                    }
                }
            } else {
                let slot = entry(doc, target);
                if !slot.is_object() {
                    *slot = J::Object(Map::new());
                }
                let obj = slot.as_object_mut().expect("made an object");
                for (k, v) in fields {
                    obj.insert(k.clone(), v.clone());
                }
            }
        }
        Action::DropFields { fields } => {
            for f in fields {
                if !KEPT.contains(&f.as_str()) {
                    remove(doc, f);
                }
            }
        }
        Action::Rename { fields } => {
            for (from, to) in fields {
                if KEPT.contains(&from.as_str()) || KEPT.contains(&to.as_str()) {
                    continue;
                }
                if let Some(v) = remove(doc, from) {
                    *entry(doc, to) = v;
                }
            }
        }
        Action::AddTags { tags, target } => {
            let slot = entry(doc, target);
            let list = match slot {
                J::Array(a) => a,
                other => {
                    let first = std::mem::take(other);
                    *other = J::Array(if first.is_null() {
                        Vec::new()
                    } else {
                        vec![first]
                    });
                    other.as_array_mut().expect("made an array")
                }
            };
            for t in tags {
                if !list.iter().any(|x| x.as_str() == Some(t.as_str())) {
                    list.push(J::String(t.clone()));
                }
            }
        }
        Action::DecodeJsonFields {
            fields,
            target,
            overwrite_keys,
            process_array,
            max_depth,
            add_error_key,
        } => {
            for f in fields {
                let Some(J::String(text)) = get(doc, f) else {
                    continue;
                };
                let decoded = match serde_json::from_str::<J>(text) {
                    Ok(v) => deep_decode(v, max_depth.saturating_sub(1), *process_array),
                    Err(e) => {
                        if *add_error_key {
                            let err = entry(doc, "error");
                            if !err.is_object() {
                                *err = J::Object(Map::new());
                            }
                            err.as_object_mut().expect("an object").insert(
                                "message".into(),
                                J::String(format!("decode_json_fields: {f}: {e}")),
                            );
                        }
                        continue;
                    }
                };
                match target.as_deref() {
                    None => *entry(doc, f) = decoded,
                    Some("") => {
                        if let J::Object(m) = decoded {
                            for (k, v) in m {
                                if KEPT.contains(&k.as_str())
                                    || (!overwrite_keys && doc.contains_key(&k))
                                {
                                    continue;
                                }
                                doc.insert(k, v);
                            }
                        }
                    }
                    Some(t) => *entry(doc, t) = decoded,
                }
            }
        }
    }
    true
}

/// Decodes JSON strings nested in `v`, `depth` levels more.
fn deep_decode(v: J, depth: usize, arrays: bool) -> J {
    if depth == 0 {
        return v;
    }
    match v {
        J::String(s) => match serde_json::from_str::<J>(&s) {
            Ok(inner @ (J::Object(_) | J::Array(_))) => deep_decode(inner, depth - 1, arrays),
            _ => J::String(s),
        },
        J::Object(m) => J::Object(
            m.into_iter()
                .map(|(k, v)| (k, deep_decode(v, depth, arrays)))
                .collect(),
        ),
        J::Array(a) if arrays => J::Array(
            a.into_iter()
                .map(|v| deep_decode(v, depth, arrays))
                .collect(),
        ),
        other => other,
    }
}

/// The value at a dotted path; a key that itself contains dots is found too.
fn get<'a>(doc: &'a Map<String, J>, path: &str) -> Option<&'a J> {
    if let Some(v) = doc.get(path) {
        return Some(v);
    }
    let (head, rest) = path.split_once('.')?;
    match doc.get(head)? {
        J::Object(m) => get(m, rest),
        _ => None,
    }
}

/// Removes the value at a dotted path.
fn remove(doc: &mut Map<String, J>, path: &str) -> Option<J> {
    if let Some(v) = doc.remove(path) {
        return Some(v);
    }
    let (head, rest) = path.split_once('.')?;
    match doc.get_mut(head)? {
        J::Object(m) => remove(m, rest),
        _ => None,
    }
}

/// The slot at a dotted path, made (as objects) where missing.
fn entry<'a>(doc: &'a mut Map<String, J>, path: &str) -> &'a mut J {
    match path.split_once('.') {
        None => doc.entry(path.to_string()).or_insert(J::Null),
        Some((head, rest)) => {
            let slot = doc
                .entry(head.to_string())
                .or_insert_with(|| J::Object(Map::new()));
            if !slot.is_object() {
                *slot = J::Object(Map::new());
            }
            entry(slot.as_object_mut().expect("made an object"), rest)
        }
    }
}

/// Whether a condition holds for a document.
pub fn holds(c: &Condition, doc: &Map<String, J>) -> bool {
    match c {
        Condition::Equals(pairs) => pairs.iter().all(|(f, want)| match (get(doc, f), want) {
            (Some(J::Number(a)), J::Number(b)) => a.as_f64() == b.as_f64(),
            (Some(J::String(a)), J::Number(b)) => a.parse::<f64>().ok() == b.as_f64(),
            (Some(a), b) => a == b,
            (None, _) => false,
        }),
        Condition::Contains(pairs) => pairs.iter().all(|(f, text)| match get(doc, f) {
            Some(J::String(s)) => s.contains(text.as_str()),
            Some(J::Array(a)) => a
                .iter()
                .any(|x| x.as_str().is_some_and(|s| s.contains(text.as_str()))),
            _ => false,
        }),
        Condition::Regexp(pairs) => pairs.iter().all(|(f, re)| match get(doc, f) {
            Some(J::String(s)) => re.is_match(s),
            Some(J::Number(n)) => re.is_match(&n.to_string()),
            _ => false,
        }),
        Condition::Range(pairs) => pairs.iter().all(|(f, b)| {
            let n = match get(doc, f) {
                Some(J::Number(n)) => n.as_f64(),
                Some(J::String(s)) => s.parse().ok(),
                _ => None,
            };
            n.is_some_and(|n| in_bounds(n, b))
        }),
        Condition::HasFields(fields) => fields.iter().all(|f| get(doc, f).is_some()),
        Condition::And(cs) => cs.iter().all(|c| holds(c, doc)),
        Condition::Or(cs) => cs.iter().any(|c| holds(c, doc)),
        Condition::Not(c) => !holds(c, doc),
    }
}

fn in_bounds(n: f64, b: &Bounds) -> bool {
    b.gt.is_none_or(|x| n > x)
        && b.gte.is_none_or(|x| n >= x)
        && b.lt.is_none_or(|x| n < x)
        && b.lte.is_none_or(|x| n <= x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{load, Mode, Settings};
    use crate::event::{EventId, Timestamp};

    fn processors(yaml: &str) -> Processors {
        let text = format!(
            "s3logsbeat:\n  inputs:\n    - {{type: sqs, queues_url: ['https://sqs.us-east-1.amazonaws.com/1/q'], log_format: alb}}\noutput.console: {{}}\nprocessors:\n{yaml}"
        );
        let loaded = load::load_str(&text, "p.yml", &[]).unwrap();
        Settings::validate(loaded, std::path::Path::new("p.yml"), Mode::All)
            .unwrap_or_else(|e| panic!("{e:?}"))
            .processors
    }

    fn event(doc: &str) -> Event {
        Event {
            id: EventId([1; 16]),
            timestamp: Timestamp::from_millis(0),
            format: "alb",
            doc: doc.into(),
            parse_failure: false,
        }
    }

    fn run_on(p: &Processors, doc: &str) -> Option<J> {
        let mut e = event(doc);
        apply(p, &mut e).then(|| serde_json::from_str(&e.doc).unwrap())
    }

    #[test]
    fn fields_are_added_dropped_renamed_and_tagged() {
        let p = processors(
            "- add_fields: {target: project, fields: {name: shop}}\n\
             - add_fields: {target: '', fields: {team: ops}}\n\
             - drop_fields: {fields: [ssl_cipher, user.agent, '@timestamp']}\n\
             - rename: {fields: [{from: elb, to: lb.name}, {from: missing, to: x}]}\n\
             - add_tags: {tags: [aws, aws]}\n",
        );
        let out = run_on(
            &p,
            r#"{"@timestamp":"t","elb":"app/x","ssl_cipher":"c","user":{"agent":"curl","id":1},"tags":["a"]}"#,
        )
        .unwrap();
        assert_eq!(
            out,
            serde_json::json!({"@timestamp":"t","user":{"id":1},"tags":["a","aws"],
                               "project":{"name":"shop"},"team":"ops","lb":{"name":"app/x"}})
        );
    }

    #[test]
    fn conditions_choose_the_events() {
        let p = processors(
            "- drop_event:\n    when:\n      or:\n        - equals: {elb_status_code: 200}\n        - and: [{contains: {request_url: health}}, {not: {range: {sent_bytes: {gte: 100}}}}]\n\
             - add_tags: {tags: [slow], when: {regexp: {target_processing_time: '^[1-9]'}}}\n\
             - add_tags: {tags: [has_ua], when: {has_fields: [user_agent]}}\n",
        );
        assert!(run_on(&p, r#"{"@timestamp":"t","elb_status_code":200}"#).is_none());
        assert!(run_on(
            &p,
            r#"{"@timestamp":"t","elb_status_code":500,"request_url":"/health","sent_bytes":10}"#
        )
        .is_none());
        let kept = run_on(&p, r#"{"@timestamp":"t","elb_status_code":500,"request_url":"/health","sent_bytes":1000,"target_processing_time":2.5}"#).unwrap();
        assert_eq!(kept["tags"], serde_json::json!(["slow"]));
        let kept = run_on(&p, r#"{"@timestamp":"t","elb_status_code":404,"user_agent":"x","target_processing_time":0.1}"#).unwrap();
        assert_eq!(kept["tags"], serde_json::json!(["has_ua"]));
    }

    #[test]
    fn json_strings_are_decoded() {
        let p = processors(
            "- decode_json_fields: {fields: [message], target: parsed}\n\
             - decode_json_fields: {fields: [raw], target: ''}\n\
             - decode_json_fields: {fields: [bad], add_error_key: true}\n",
        );
        let out = run_on(
            &p,
            r#"{"@timestamp":"t","message":"{\"a\":{\"b\":1}}","raw":"{\"level\":\"warn\",\"@timestamp\":\"x\"}","bad":"{nope"}"#,
        )
        .unwrap();
        assert_eq!(out["parsed"]["a"]["b"], 1);
        assert_eq!(out["level"], "warn");
        assert_eq!(
            out["@timestamp"], "t",
            "decoded keys never replace @timestamp"
        );
        assert!(out["error"]["message"]
            .as_str()
            .unwrap()
            .contains("decode_json_fields: bad"));
    }

    #[test]
    fn without_processors_the_event_is_not_touched() {
        let p = Processors::default();
        let mut e = event(r#"{"@timestamp":"t", "spaced": 1}"#);
        assert!(apply(&p, &mut e));
        assert_eq!(e.doc, r#"{"@timestamp":"t", "spaced": 1}"#);
    }
}
