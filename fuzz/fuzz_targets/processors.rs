//! The step after parsing, `processors::finish` (ECS names, then the `processors:` list with their
//! `when` conditions), over configs and documents the input describes, loaded through the public API
//! (`load_str` + `Settings::validate`). In, one of two forms:
//!
//! - text starting `#`: a first line `#<log_format> <field_names>`, the `processors:` list in YAML,
//!   a line `---`, then one document a line (the seeds and findings are written so);
//! - anything else: choices that build the same (an input of some format, `field_names` original or
//!   ecs, up to six processors among add_fields, drop_fields, rename, add_tags, drop_event and
//!   decode_json_fields with paths, values and conditions drawn from the input), and up to four
//!   documents: arbitrary JSON objects, nested, JSON inside strings, now and then a chain deeper than a
//!   builder makes or than serde_json reads.
//!
//! Out: nothing; what must hold:
//!
//! - no panic;
//! - `finish` fails only when a document given could not be read as an object, and always then if it
//!   had to read one (a document passed on unread would skip a `drop_event` or `drop_fields` meant for
//!   it: G2);
//! - every document it rewrote is one JSON object without a key twice, at most `MAX_DOC_DEPTH` deep,
//!   with its `@timestamp` as given; one it had no reason to read is passed on as it was;
//! - an unconditional `drop_event` drops every event;
//! - the output is bounded (see [`bound`]).
#![no_main]

mod shapes;

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use s3logsbeat::config::processors::{Action, Processors};
use s3logsbeat::config::{load, FieldNames, Mode, Settings};
use s3logsbeat::event::{check_document, json_depth, Event, EventId, Timestamp, MAX_DOC_DEPTH};
use serde_json::Value;
use shapes::{path, short_text, value, yaml_list, yaml_str, yaml_value};

/// Formats an input can read without options; each has an ECS mapping (`field_names: ecs` renames and
/// adds fields to every one of them).
const FORMATS: &[&str] = &[
    "alb",
    "elb",
    "cloudfront",
    "waf",
    "vpcflow",
    "cloudtrail",
    "s3access",
];

/// Regular expressions for `regexp` conditions (an arbitrary one would mostly not compile).
const REGEXES: &[&str] = &[
    "^[0-9]", ".*", "a|b", "(?i)prod", "^$", r"\d{3}", "é", r"^\{",
];

/// The time every generated document carries.
const TIME: &str = "2024-01-02T03:04:05.000Z";

fn condition(u: &mut Unstructured<'_>, depth: u32) -> Result<String> {
    let pick = if depth >= 3 {
        u.int_in_range(0..=4)?
    } else {
        u.int_in_range(0..=7)?
    };
    let p = yaml_str(&path(u)?);
    Ok(match pick {
        0 => {
            let v = value(u, 5, 0)?;
            format!("{{equals: {{{p}: {}}}}}", yaml_value(&v))
        }
        1 => format!("{{contains: {{{p}: {}}}}}", yaml_str(&short_text(u, 8)?)),
        2 => format!("{{regexp: {{{p}: {}}}}}", yaml_str(u.choose(REGEXES)?)),
        3 => {
            let (a, b): (i16, i16) = (u.arbitrary()?, u.arbitrary()?);
            format!("{{range: {{{p}: {{gte: {a}, lt: {b}}}}}}}")
        }
        4 => format!("{{has_fields: [{p}]}}"),
        5 | 6 => {
            let (a, b) = (condition(u, depth + 1)?, condition(u, depth + 1)?);
            let op = if pick == 5 { "and" } else { "or" };
            format!("{{{op}: [{a}, {b}]}}")
        }
        _ => format!("{{not: {}}}", condition(u, depth + 1)?),
    })
}

fn paths(u: &mut Unstructured<'_>) -> Result<Vec<String>> {
    let mut v = Vec::new();
    for _ in 0..u.int_in_range(1..=3)? {
        v.push(path(u)?);
    }
    Ok(v)
}

/// Where a processor writes: its default, the top level, or a path.
fn target(u: &mut Unstructured<'_>) -> Result<Option<String>> {
    Ok(match u.int_in_range(0..=3)? {
        0 => None,
        1 => Some(String::new()),
        _ => Some(path(u)?),
    })
}

/// One processor as a YAML list item.
fn processor(u: &mut Unstructured<'_>) -> Result<String> {
    let when = if u.ratio(1, 3)? {
        format!(", when: {}", condition(u, 0)?)
    } else {
        String::new()
    };
    let body = match u.int_in_range(0..=5)? {
        0 => {
            let fields = shapes::object(u, 3, 40)?;
            let t = target(u)?.map_or(String::new(), |t| format!("target: {}, ", yaml_str(&t)));
            format!("add_fields: {{{t}fields: {}{when}}}", yaml_value(&fields))
        }
        1 => format!("drop_fields: {{fields: {}{when}}}", yaml_list(&paths(u)?)),
        2 => {
            let mut pairs = Vec::new();
            for _ in 0..u.int_in_range(1..=2)? {
                let (from, to) = (path(u)?, path(u)?);
                pairs.push(format!(
                    "{{from: {}, to: {}}}",
                    yaml_str(&from),
                    yaml_str(&to)
                ));
            }
            format!("rename: {{fields: [{}]{when}}}", pairs.join(", "))
        }
        3 => {
            let mut tags = Vec::new();
            for _ in 0..u.int_in_range(1..=2)? {
                tags.push(short_text(u, 8)?);
            }
            let t = target(u)?.map_or(String::new(), |t| format!(", target: {}", yaml_str(&t)));
            format!("add_tags: {{tags: {}{t}{when}}}", yaml_list(&tags))
        }
        4 => format!("drop_event: {{{}}}", when.trim_start_matches(", ")),
        _ => {
            let fields = yaml_list(&paths(u)?);
            let t = target(u)?.map_or(String::new(), |t| format!(", target: {}", yaml_str(&t)));
            let max_depth: u8 = u.arbitrary()?;
            let (o, a, e): (bool, bool, bool) = (u.arbitrary()?, u.arbitrary()?, u.arbitrary()?);
            format!(
                "decode_json_fields: {{fields: {fields}{t}, max_depth: {max_depth}, overwrite_keys: {o}, process_array: {a}, add_error_key: {e}{when}}}"
            )
        }
    };
    Ok(format!("- {body}\n"))
}

/// The config text of an input of `format`, `field_names: names` and the YAML list `processors`.
fn config_text(format: &str, names: &str, processors: &str) -> String {
    let list: String = processors.lines().map(|l| format!("  {l}\n")).collect();
    let list = if list.trim().is_empty() {
        "  []\n".to_string()
    } else {
        list
    };
    format!(
        "s3logsbeat:\n  inputs:\n    - {{type: sqs, queues_url: ['https://sqs.us-east-1.amazonaws.com/1/q'], log_format: {format}}}\noutput.console: {{}}\nfield_names: {names}\nprocessors:\n{list}"
    )
}

/// A case from choices: the config's text and the documents.
fn generated(u: &mut Unstructured<'_>) -> Result<(String, Vec<String>)> {
    let format = u.choose(FORMATS)?;
    let names = if u.arbitrary()? { "ecs" } else { "original" };
    let mut list = String::new();
    for _ in 0..u.int_in_range(0..=6)? {
        list.push_str(&processor(u)?);
    }
    let mut docs = Vec::new();
    for _ in 0..u.int_in_range(1..=4)? {
        docs.push(shapes::document(u, TIME)?);
    }
    Ok((config_text(format, names, &list), docs))
}

/// A case from text: `#<log_format> <field_names>`, the processors, `---`, one document a line.
fn written(text: &str) -> Option<(String, Vec<String>)> {
    let (head, rest) = text.strip_prefix('#')?.split_once('\n')?;
    let (format, names) = head.split_once(' ')?;
    // An empty list is written as `---` right after the first line.
    let rest = format!("\n{rest}");
    let (list, docs) = rest.split_once("\n---\n")?;
    let docs: Vec<String> = docs.lines().map(str::to_string).collect();
    (!docs.is_empty()).then(|| (config_text(format, names, list), docs))
}

/// How many times the processors may copy a field of the document: each field a `decode_json_fields`
/// with a `target` decodes (the decoded value sits beside its text).
fn copies(p: &Processors) -> usize {
    p.0.iter()
        .map(|p| match &p.action {
            Action::DecodeJsonFields {
                fields,
                target: Some(_),
                ..
            } => fields.len(),
            _ => 0,
        })
        .sum()
}

/// The most bytes of documents `finish` may give for `input` bytes of documents, `events` events and a
/// config of `config` bytes that may copy a field `copies` times.
///
/// A document is rewritten once by ECS names and once by the processors. Per byte, the most a rewrite
/// grows is a number decoded from text (`1e15` is written `1000000000000000.0`, 4.5 times) or a string
/// byte held in an object kept as its JSON text (a backslash doubles), which at most two holds can
/// stack on (ECS's or a decode's, then the processors' own). So 8 times, plus what the config adds
/// (fields, tags) and ECS's fixed fields per event, each time a field may be copied.
fn bound(input: usize, events: usize, config: usize, copies: usize) -> usize {
    8 * (input + events * (config + 1024)) * (1 + copies)
}

/// The document as an object, if it reads as one.
fn object(doc: &str) -> Option<serde_json::Map<String, Value>> {
    match serde_json::from_str(doc) {
        Ok(Value::Object(m)) => Some(m),
        _ => None,
    }
}

fuzz_target!(|data: &[u8]| {
    let case = match std::str::from_utf8(data) {
        Ok(text) if text.starts_with('#') => written(text),
        _ => generated(&mut Unstructured::new(data)).ok(),
    };
    let Some((config, docs)) = case else { return };
    let Ok(loaded) = load::load_str(&config, "fuzz.yml", &[]) else {
        return;
    };
    let Ok(settings) = Settings::validate(loaded, std::path::Path::new("fuzz.yml"), Mode::All)
    else {
        return;
    };
    let input = &settings.inputs[0];
    let Some(spec) = input.formats.all().first().copied() else {
        return;
    };
    let format = spec.format();
    let given: Vec<Event> = docs
        .into_iter()
        .enumerate()
        .map(|(i, doc)| Event {
            id: EventId([i as u8; 16]),
            timestamp: Timestamp::from_millis(1_704_164_645_000),
            format: format.name(),
            doc: doc.into(),
            parse_failure: false,
        })
        .collect();
    let mut events = given.clone();
    let in_bytes: usize = given.iter().map(|e| e.doc.len()).sum();
    let any_unreadable = given.iter().any(|e| object(&e.doc).is_none());
    let ecs = input.field_names == FieldNames::Ecs && s3logsbeat::event::ecs::has_mapping(format);
    // Whether finish has to read every document: a processor to run or names to change.
    let reads = ecs || !input.processors.is_empty();
    let r =
        s3logsbeat::event::processors::finish(format, input.field_names, &input.processors, &mut events);
    let done = match r {
        Err(why) => {
            assert!(reads && any_unreadable, "{why}\n{config}");
            return;
        }
        Ok(done) => done,
    };
    assert!(
        !(reads && any_unreadable),
        "a document that cannot be read was passed on\n{config}"
    );
    let drops_all = input
        .processors
        .0
        .iter()
        .any(|p| p.when.is_none() && matches!(p.action, Action::DropEvent));
    if drops_all {
        assert!(events.is_empty(), "drop_event kept {} events", events.len());
    }
    assert_eq!(done.filtered as usize + events.len(), given.len());
    let mut out_bytes = 0;
    for e in &events {
        let was = given.iter().find(|g| g.id == e.id).expect("an event given");
        out_bytes += e.doc.len();
        if !reads {
            assert_eq!(&*e.doc, &*was.doc, "a document changed with nothing to do");
            continue;
        }
        if let Err(why) = check_document(&e.doc) {
            panic!("{why}: {}\n{config}", &*e.doc);
        }
        let depth = json_depth(&e.doc);
        assert!(
            depth <= MAX_DOC_DEPTH,
            "{depth} deep: {}\n{config}",
            &*e.doc
        );
        let time = object(&was.doc).and_then(|m| m.get("@timestamp").cloned());
        let now = object(&e.doc).and_then(|m| m.get("@timestamp").cloned());
        assert_eq!(now, time, "@timestamp changed: {}\n{config}", &*e.doc);
    }
    let most = bound(
        in_bytes,
        given.len(),
        config.len(),
        copies(&input.processors),
    );
    assert!(
        out_bytes <= most,
        "{out_bytes} bytes out for {in_bytes} in (at most {most})\n{config}"
    );
});
