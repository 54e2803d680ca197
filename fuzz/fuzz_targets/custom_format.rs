//! The `custom` format as a config makes it, reached the way the daemon reaches it: a notification's
//! percent-encoded key decoded (`percent::decode_form`), the format chosen by `file_selectors` or the
//! input's `log_format` (`Formats::choose`), `key_regex_fields` applied to the key, and the object's lines
//! matched by the configured regex. In: a config made from the input (a pattern of named groups,
//! nested and optional ones among them, their types, the time's group and layout, up to three
//! selectors among custom, json and alb, a key regex whose names may be the pattern's, global fields
//! and tags), loaded through the public API (`load_str` + `Settings::validate`); a raw key; the rest of
//! the input is the object. Or, for text starting `#` (how the seeds and findings are written): the
//! raw key on the first line, the config's YAML, a line `---`, then the object. Out: nothing; what
//! must hold:
//!
//! - no panic, in decoding, routing or parsing;
//! - percent-decoding never grows its text, and decodes what encoding wrote back to the original
//!   (form keys and query values alike);
//! - the first selector whose regex matches the key gives the format, the same on every call;
//! - every document is one JSON object without a key twice, readable, at most `MAX_DOC_DEPTH` deep;
//! - the documents are bounded by the object and the config (see [`bound`]).
#![no_main]

mod shapes;

use std::cell::Cell;

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use s3logsbeat::config::{load, FormatSpec, Mode, Settings};
use s3logsbeat::event::{check_document, json_depth, MAX_DOC_DEPTH};
use s3logsbeat::object::{ObjectId, ObjectParser};
use s3logsbeat::percent::{decode, decode_form, encode, Set};
use shapes::{yaml_list, yaml_str};

/// Group names: plain ones, ones the key regex, global fields or the event's own fields also use, and
/// names the config refuses for a group (`log`, `message`).
const GROUPS: &[&str] = &[
    "level", "status", "bytes", "ms", "ok", "rest", "app", "user", "tags", "fields", "log",
    "message", "env", "a",
];

/// What a group matches, nested and optional groups among them (`@` stands for a fresh group name).
const SUBS: &[&str] = &[
    r"\S+",
    r"\d+",
    r"[^ ]*",
    r".*",
    r"-?\d+(?:\.\d+)?",
    r"true|false|x",
    r"[^|]*",
    r"\w+",
    r"(?P<@>\S+)",
    r"(?:(?P<@>\d+)|-)",
    r"\S*?",
    r"[\x00-\x1f]*",
];

/// Text between groups.
const SEPARATORS: &[&str] = &[
    " ", "-", r"\|", ",", r"\[", r"\]", "=", ":", "", r"\s+", r"\t",
];

/// How the time is written, and the group that matches it.
const TIMES: &[(&str, &str)] = &[
    ("timeISO8601", r"\S+"),
    ("timeUnixSeconds", r"-?\d+(?:\.\d+)?"),
    ("timeUnixMilliseconds", r"-?\d+"),
    ("time:2006-01-02T15:04:05Z07:00", r"\S+"),
    ("time:%d/%b/%Y:%H:%M:%S", r"\S+"),
];

/// The `types` a group may be given (a value not of its type makes the line a failure).
const TYPES: &[&str] = &["integer", "float", "boolean", "string"];

/// Events looked at per object; past this (a decompression bomb) the input has shown what it can.
const MOST_EVENTS: usize = 20_000;

/// Selector regexes: broad, narrow, and one that does not compile.
const SELECTORS: &[&str] = &[r"^logs/", r"\.log$", "app", ".*", "^$", r"\d{4}/", "é", "["];

/// `key_regex_fields`: names that meet the pattern's groups (`level`, `app`, `env`).
const KEY_REGEXES: &[&str] = &[
    r"^(?P<app>[^/]+)/",
    r"(?P<account>\d{12})",
    r"(?P<level>\w+)\.log",
    r"^(?P<env>[^/]*)/(?P<app>[^/]*)/",
    r"(?P<user>.*)",
];

/// Key pieces: what the selectors and key regexes look for, and characters that need encoding.
const KEY_PIECES: &[&str] = &[
    "logs/",
    "app/",
    "prod/",
    "123456789012/",
    "2024/",
    "a b",
    "+",
    "%",
    "%2B",
    "%zz",
    "é",
    "info.log",
    "x",
    "/",
];

/// A custom pattern and its `log_format_options` as YAML flow text.
fn custom_options(u: &mut Unstructured<'_>) -> Result<String> {
    let (layout, time_re) = *u.choose(TIMES)?;
    let mut names: Vec<String> = vec!["time".into()];
    let mut fresh = |u: &mut Unstructured<'_>| -> Result<String> {
        let base = *u.choose(GROUPS)?;
        let mut n = base.to_string();
        let mut i = 1;
        while names.contains(&n) {
            n = format!("{base}{i}");
            i += 1;
        }
        names.push(n.clone());
        Ok(n)
    };
    let mut pattern = String::new();
    if u.arbitrary()? {
        pattern.push('^');
    }
    let time_at = u.int_in_range(0..=3)?;
    let groups = u.int_in_range(0..=4)?;
    for i in 0..=groups {
        if i == time_at.min(groups) {
            pattern.push_str(&format!("(?P<time>{time_re})"));
        } else {
            let name = fresh(u)?;
            let mut sub = u.choose(SUBS)?.to_string();
            while sub.contains('@') {
                sub = sub.replacen('@', &fresh(u)?, 1);
            }
            let opt = if u.ratio(1, 4)? { "?" } else { "" };
            pattern.push_str(&format!("(?P<{name}>{sub}){opt}"));
        }
        if i < groups {
            pattern.push_str(u.choose(SEPARATORS)?);
        }
    }
    if u.arbitrary()? {
        pattern.push('$');
    }
    let mut types = Vec::new();
    for n in names.iter().skip(1) {
        if u.ratio(1, 3)? {
            types.push(format!("{}: {}", yaml_str(n), u.choose(TYPES)?));
        }
    }
    Ok(format!(
        "{{pattern: {}, timestamp_field: time, timestamp_format: {}, types: {{{}}}}}",
        yaml_str(&pattern),
        yaml_str(layout),
        types.join(", ")
    ))
}

fn format_and_options(u: &mut Unstructured<'_>) -> Result<String> {
    Ok(match u.int_in_range(0..=5)? {
        0 => "log_format: json, log_format_options: {timestamp_field: time, timestamp_format: timeISO8601}".into(),
        1 => "log_format: alb".into(),
        _ => format!("log_format: custom, log_format_options: {}", custom_options(u)?),
    })
}

fn config(u: &mut Unstructured<'_>) -> Result<String> {
    let mut input = String::from(
        "type: sqs, queues_url: ['https://sqs.us-east-1.amazonaws.com/1/q'], max_line_bytes: 65536",
    );
    match u.int_in_range(0..=3)? {
        0 => input.push_str(", log_format: auto"),
        1 => {}
        _ => {
            input.push_str(", ");
            input.push_str(&format_and_options(u)?);
        }
    }
    let selectors = u.int_in_range(0..=3)?;
    if selectors > 0 || !input.contains("log_format") {
        let mut list = Vec::new();
        for _ in 0..selectors.max(1) {
            list.push(format!(
                "{{regex: {}, {}}}",
                yaml_str(u.choose(SELECTORS)?),
                format_and_options(u)?
            ));
        }
        input.push_str(&format!(", file_selectors: [{}]", list.join(", ")));
    }
    if u.arbitrary()? {
        input.push_str(&format!(
            ", key_regex_fields: {}",
            yaml_str(u.choose(KEY_REGEXES)?)
        ));
    }
    if u.arbitrary()? {
        input.push_str(", parse_errors: drop");
    }
    let mut text = format!("s3logsbeat:\n  inputs:\n    - {{{input}}}\noutput.console: {{}}\n");
    if u.arbitrary()? {
        let mut fields = Vec::new();
        for _ in 0..u.int_in_range(1..=2)? {
            fields.push(format!(
                "{}: {}",
                yaml_str(u.choose(GROUPS)?),
                yaml_str(&shapes::short_text(u, 6)?)
            ));
        }
        text.push_str(&format!(
            "fields: {{{}}}\nfields_under_root: {}\n",
            fields.join(", "),
            u.arbitrary::<bool>()?
        ));
    }
    if u.arbitrary()? {
        text.push_str(&format!(
            "tags: {}\n",
            yaml_list(&[shapes::short_text(u, 6)?])
        ));
    }
    Ok(text)
}

/// The notification's key as S3 writes it: arbitrary text, or a key of known pieces form-encoded.
fn raw_key(u: &mut Unstructured<'_>) -> Result<String> {
    if u.ratio(1, 3)? {
        return shapes::short_text(u, 80);
    }
    let mut k = String::new();
    for _ in 0..u.int_in_range(0..=6)? {
        k.push_str(u.choose(KEY_PIECES)?);
    }
    Ok(if u.arbitrary()? {
        encode(&k, Set::NotificationKey)
    } else {
        k
    })
}

/// Percent-decoding never grows text, and undoes what encoding wrote.
fn check_percent(raw: &str) {
    assert!(decode(raw).len() <= raw.len(), "{raw:?}");
    let key = decode_form(raw);
    assert!(key.len() <= raw.len(), "{raw:?}");
    for s in [raw, key.as_str()] {
        let enc = encode(s, Set::NotificationKey);
        assert_eq!(decode_form(&enc), s, "{enc:?}");
        assert_eq!(decode(&encode(s, Set::QueryValue)), s);
    }
}

/// The capture groups of a format (a custom pattern's; one for the others).
fn groups(spec: &FormatSpec) -> usize {
    match spec {
        FormatSpec::Custom(c) => c.pattern.captures_len(),
        _ => 1,
    }
}

/// The most bytes of documents an object of `body` bytes may give as `events` events.
///
/// A field holds a piece of its line, and each group of the pattern one piece at most (groups may
/// overlap, so each may hold the whole line); a failure event holds its line and a reason quoting a
/// value. Escaping writes a byte in at most six (`\u0000`), and a JSON line's numbers at most 4.5
/// times (`1e15` is written `1000000000000000.0`). Per event the object's path, each key group's
/// capture and the config's fields and tags are added, with a fixed part (`beat`, `log`, `@timestamp`).
fn bound(
    body: usize,
    groups: usize,
    events: usize,
    path: usize,
    key: usize,
    key_groups: usize,
    config: usize,
) -> usize {
    6 * body * (groups + 2) + events * (6 * (path + key * (key_groups + 1)) + config + 1024)
}

/// A case from choices: the raw key, the config, the object.
fn generated<'a>(u: &mut Unstructured<'a>) -> Result<(String, String, &'a [u8])> {
    let raw = raw_key(u)?;
    let config = config(u)?;
    let rest = u.len();
    Ok((raw, config, u.bytes(rest)?))
}

/// A case from text (see the module doc).
fn written(text: &str) -> Option<(String, String, &[u8])> {
    let (raw, rest) = text.strip_prefix('#')?.split_once('\n')?;
    let (config, body) = rest.split_once("\n---\n")?;
    Some((raw.to_string(), config.to_string(), body.as_bytes()))
}

fuzz_target!(|data: &[u8]| {
    let case = match std::str::from_utf8(data) {
        Ok(text) if text.starts_with('#') => written(text),
        _ => generated(&mut Unstructured::new(data)).ok(),
    };
    let Some((raw, config, body)) = case else {
        return;
    };
    check_percent(&raw);
    let key = decode_form(&raw);
    let Ok(loaded) = load::load_str(&config, "fuzz.yml", &[]) else {
        return;
    };
    let Ok(settings) = Settings::validate(loaded, std::path::Path::new("fuzz.yml"), Mode::All)
    else {
        return;
    };
    let input = &settings.inputs[0];
    let bucket = "bucket";
    let Some(spec) = input.formats.choose(bucket, &key) else {
        return;
    };
    let again = input.formats.choose(bucket, &key).expect("chosen before");
    assert!(
        std::ptr::eq(spec, again),
        "{key:?} routed twice differently"
    );
    if let Some((_, first)) = input
        .formats
        .selectors
        .iter()
        .find(|(re, _)| re.is_match(&key))
    {
        assert!(std::ptr::eq(spec, first), "{key:?}: not the first selector");
    }
    let path = format!("s3://{bucket}/{key}");
    let mut p = ObjectParser::new(
        spec,
        &input.enrich,
        ObjectId {
            path: &path,
            key: &key,
            last_modified: None,
        },
        input.max_line_bytes,
    );
    // Counted in cells: the loop below reads them while the closure that adds to them lives.
    let (events, bytes) = (Cell::new(0usize), Cell::new(0usize));
    let check = |p: &mut ObjectParser<'_>| {
        for e in p.drain() {
            if let Err(why) = check_document(&e.doc) {
                panic!("{why}: {}\n{config}", &*e.doc);
            }
            let depth = json_depth(&e.doc);
            assert!(depth <= MAX_DOC_DEPTH, "{depth} deep: {}", &*e.doc);
            if let Err(why) = e.read_doc() {
                panic!("{why}");
            }
            events.set(events.get() + 1);
            bytes.set(bytes.get() + e.doc.len());
        }
    };
    for chunk in body.chunks(4096) {
        if p.feed_all(chunk, check).is_err() || events.get() > MOST_EVENTS {
            return;
        }
    }
    let _ = p.finish();
    check(&mut p);
    let (events, bytes) = (events.get(), bytes.get());
    // The object's text, decompressed: what the lines were cut from.
    let text_bytes = p.stats().bytes as usize;
    let key_groups = input
        .enrich
        .key_regex
        .as_ref()
        .map_or(0, |r| r.captures_len());
    let most = bound(
        text_bytes,
        groups(spec),
        events,
        path.len(),
        key.len(),
        key_groups,
        config.len(),
    );
    assert!(
        bytes <= most,
        "{bytes} bytes of documents for {text_bytes} bytes of object text (at most {most})\n{config}"
    );
});
