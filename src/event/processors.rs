//! Processors: an event in, the event changed (or dropped) out, by the compiled `processors` of the config,
//! in order, each only when its `when` holds. Paths are dotted (`user.name` is `{"user":{"name":…}}`, and a
//! key with a dot in it, as beats write them, is also found). `@timestamp` and `@metadata` are never
//! removed, renamed or written over (nor written inside, which would make the time an object): an event
//! always keeps its time and its `_id`.
//!
//! An event is parsed and written again only when a processor is configured; without one this costs
//! nothing. What processors build stays within [`MAX_DOC_DEPTH`] levels (deeper objects and arrays are
//! kept as their JSON text, counted), and a document that cannot be read is an error for its object,
//! never an event passed on without its processors.

use serde_json::{Map, Value as J};

use crate::config::processors::{Action, Bounds, Condition, Processor, Processors};
use crate::config::{FieldNames, LogFormat};
use crate::event::{cap_json_depth, Event, MAX_DOC_DEPTH};

/// Fields a processor may not remove, rename or write over.
const KEPT: [&str; 2] = ["@timestamp", "@metadata"];

/// True if writing at the dotted `path` would replace a [`KEPT`] field or make it an object (its first
/// segment is one: [`entry`] turns `@timestamp` into `{"x":…}` for `@timestamp.x`, and Elasticsearch
/// reads a top-level key `@timestamp.x` as inside `@timestamp`). A processor's `target` (or a
/// `rename`'s `to`, or a key it adds at the top level) there is skipped, as a `drop_fields` of the field
/// itself is.
fn writes_kept(path: &str) -> bool {
    KEPT.contains(&path.split('.').next().unwrap_or(path))
}

/// What [`finish`] did to a chunk of events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Finished {
    /// Events a `drop_event` removed.
    pub filtered: u64,
    /// Objects and arrays kept as their JSON text because they nested deeper than [`MAX_DOC_DEPTH`].
    pub capped: u64,
}

/// The step after parsing, the same for the daemon and `s3logsbeat parse`: ECS names (under
/// `field_names: ecs`), then the processors; dropped events leave `events`. `Err` names the event whose
/// document could not be read, and the chunk is then not to be published: the object fails instead.
pub fn finish(
    format: LogFormat,
    names: FieldNames,
    processors: &Processors,
    events: &mut Vec<Event>,
) -> Result<Finished, String> {
    let mut done = Finished::default();
    if names == FieldNames::Ecs {
        for e in events.iter_mut() {
            crate::event::ecs::apply(format, e, &mut done.capped)?;
        }
    }
    if !processors.is_empty() {
        let before = events.len();
        let mut failed = None;
        events.retain_mut(|e| {
            failed.is_none()
                && match apply(processors, e, &mut done.capped) {
                    Ok(keep) => keep,
                    Err(why) => {
                        failed = Some(why);
                        false
                    }
                }
        });
        if let Some(why) = failed {
            return Err(why);
        }
        done.filtered = (before - events.len()) as u64;
    }
    Ok(done)
}

/// Applies the processors to `e`: `Ok(false)` if the event is dropped. Objects and arrays that would
/// nest deeper than [`MAX_DOC_DEPTH`] (a `decode_json_fields` into a deep `target`, a deep `add_fields`)
/// are kept as their JSON text and counted in `capped`. `Err` names the event whose document cannot be
/// read: it is never passed on untouched, since a `drop_fields` or `drop_event` meant for it would not
/// have run.
pub fn apply(processors: &Processors, e: &mut Event, capped: &mut u64) -> Result<bool, String> {
    if processors.is_empty() {
        return Ok(true);
    }
    let mut doc = match e.read_doc()? {
        J::Object(doc) => doc,
        _ => return Err(format!("the document of event {} is not an object", e.id)),
    };
    for p in &processors.0 {
        if !p.when.as_ref().is_none_or(|c| holds(c, &doc)) {
            continue;
        }
        if !run(p, &mut doc, capped) {
            return Ok(false);
        }
    }
    let mut doc = J::Object(doc);
    cap_json_depth(&mut doc, MAX_DOC_DEPTH, capped);
    e.doc = doc.to_string().into();
    Ok(true)
}

/// One processor on a document; false to drop it.
fn run(p: &Processor, doc: &mut Map<String, J>, capped: &mut u64) -> bool {
    match &p.action {
        Action::DropEvent => return false,
        Action::AddFields { target, fields } => {
            if target.is_empty() {
                for (k, v) in fields {
                    if !writes_kept(k) {
                        doc.insert(k.clone(), v.clone());
                    }
                }
            } else if !writes_kept(target) {
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
                if KEPT.contains(&from.as_str()) || writes_kept(to) {
                    continue;
                }
                if let Some(v) = remove(doc, from) {
                    *entry(doc, to) = v;
                }
            }
        }
        Action::AddTags { tags, target } if !writes_kept(target) => {
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
        // Tags for a kept field are not added (see `writes_kept`).
        Action::AddTags { .. } => {}
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
                // The levels the decoded value may take where it goes: the document's root is level 1,
                // each segment of the path one more, and a merge into the root (`target: ""`) puts
                // its members beside the root's.
                let place = target.as_deref().unwrap_or(f);
                if !place.is_empty() && writes_kept(place) {
                    continue;
                }
                let room = if place.is_empty() {
                    MAX_DOC_DEPTH
                } else {
                    MAX_DOC_DEPTH
                        .saturating_sub(place.split('.').count())
                        .max(1)
                };
                let decoded = match serde_json::from_str::<J>(text) {
                    Ok(v) => {
                        deep_decode(v, max_depth.saturating_sub(1), *process_array, room, capped)
                    }
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
                                if writes_kept(&k) || (!overwrite_keys && doc.contains_key(&k)) {
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

/// Decodes JSON strings nested in `v`, `depth` levels more, holding the result to `room` levels
/// (`v` is level 1) as [`cap_json_depth`] does: a decoded string is held before the next one inside it
/// is decoded, so what is built never nests deeper than `room`, whatever the strings hold.
fn deep_decode(v: J, depth: usize, arrays: bool, room: usize, capped: &mut u64) -> J {
    match v {
        J::String(s) if depth > 0 => match serde_json::from_str::<J>(&s) {
            Ok(inner @ (J::Object(_) | J::Array(_))) => {
                deep_decode(inner, depth - 1, arrays, room, capped)
            }
            _ => J::String(s),
        },
        J::Object(m) if room > 1 => J::Object(
            m.into_iter()
                .map(|(k, v)| (k, deep_decode(v, depth, arrays, room - 1, capped)))
                .collect(),
        ),
        J::Array(a) if arrays && room > 1 => J::Array(
            a.into_iter()
                .map(|v| deep_decode(v, depth, arrays, room - 1, capped))
                .collect(),
        ),
        // Nothing more to decode here (or no room left): only held to its room.
        mut other => {
            cap_json_depth(&mut other, room, capped);
            other
        }
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
        apply(p, &mut e, &mut 0)
            .unwrap()
            .then(|| serde_json::from_str(&e.doc).unwrap())
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
        assert!(apply(&p, &mut e, &mut 0).unwrap());
        assert_eq!(e.doc, r#"{"@timestamp":"t", "spaced": 1}"#);
    }

    /// `{"a":` `n` times, `1`, then the closing braces.
    fn nested(n: usize) -> String {
        format!("{}1{}", r#"{"a":"#.repeat(n), "}".repeat(n))
    }

    /// G2 (fuzz findings of 2026-12-07): a document too deep to read back was passed on untouched, so
    /// an unconditional `drop_event` or `drop_fields` did not run and the fields were shipped.
    #[test]
    fn g2_a_document_that_cannot_be_read_is_an_error_never_passed_on_untouched() {
        let deep = format!(
            r#"{{"@timestamp":"t","secret":"s","deep":{}}}"#,
            nested(200)
        );
        for yaml in ["- drop_event: {}\n", "- drop_fields: {fields: [secret]}\n"] {
            let p = processors(yaml);
            let mut e = event(&deep);
            let err = apply(&p, &mut e, &mut 0).unwrap_err();
            assert!(err.contains("cannot be read"), "{yaml}: {err}");
            assert!(err.contains(&e.id.to_string()), "names the event: {err}");
        }
    }

    /// G2: `decode_json_fields` decoding strings inside strings, into a deep target, never builds a
    /// document deeper than MAX_DOC_DEPTH: the deepest parts are kept as text, counted.
    #[test]
    fn g2_decoded_json_is_held_to_the_document_depth() {
        // A string holding JSON whose innermost value is again a string of JSON, three times over.
        let mut text = nested(60);
        for _ in 0..3 {
            text = nested(60).replace('1', &serde_json::to_string(&text).unwrap());
        }
        let doc = serde_json::json!({"@timestamp": "t", "message": text}).to_string();
        let p = processors(
            "- decode_json_fields: {fields: [message], target: a.b.c, max_depth: 10}\n\
             - add_fields: {target: x.y, fields: {k: v}}\n",
        );
        let mut e = event(&doc);
        let mut capped = 0;
        assert!(apply(&p, &mut e, &mut capped).unwrap());
        let depth = crate::event::json_depth(&e.doc);
        assert!(depth <= MAX_DOC_DEPTH, "{depth}");
        assert!(capped >= 1, "{capped}");
        let out = e.doc_json();
        assert_eq!(out["x"]["y"]["k"], "v");
        assert!(out["a"]["b"]["c"]["a"].is_object(), "{out}");
        // What was cut is there, as text.
        let mut v = &out["a"]["b"]["c"];
        while let Some(next) = v.get("a") {
            v = next;
        }
        let rest: J = serde_json::from_str(v.as_str().expect("a string")).unwrap();
        assert!(rest.is_object());
        // The same document under drop_event is dropped, whatever its depth.
        let p = processors("- drop_event: {}\n");
        assert!(!apply(&p, &mut event(&doc), &mut 0).unwrap());
    }
}
