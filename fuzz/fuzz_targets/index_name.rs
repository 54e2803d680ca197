//! Index names: `IndexPattern::parse` over arbitrary text, and `index::render` of what it accepts
//! against events at any time (every `i64` second, in range or not, odd nanoseconds) with documents
//! whose fields hold anything. In, one of two forms:
//!
//! - text starting `#`: the pattern on the first line, then the event's time (`secs` or
//!   `secs.nanos`), its format, and its document (the rest) on lines of their own (the seeds and
//!   findings are written so);
//! - anything else: choices that build the same: a pattern (arbitrary text, or pieces: literals,
//!   `%{+…}` dates of Joda letters and others, `%{[a][b]}` fields), a time, a format and a document
//!   that has the pattern's fields (strings, numbers, booleans, null, objects, missing) or is too deep
//!   to read.
//!
//! Out: nothing; what must hold:
//!
//! - no panic, in `parse` or `render`;
//! - an accepted pattern renders, for the 2024-01-02T03:04:05Z event whose fields are all `x`, its own
//!   `sample()` (what the config check looked at is what an event gets);
//! - a rendered name is non-empty, at most 255 bytes, lowercase, passes `check_name`, and is exactly the
//!   name an independent rendering gives ([`expected`]: dates from the event's RFC 3339 text, which
//!   `Timestamp` writes by its own arithmetic, not from chrono's formatting); so no date part is
//!   dropped, and in particular the year's digits appear where the pattern has `yyyy`;
//! - `Names`, which shares one name among the events of a batch in one date step, gives an event at
//!   the start of the step and then this one the names each renders to alone (so `date_step` is
//!   never coarser than the pattern's finest date letter);
//! - a pattern with a date part and a time outside 0000-9999 (or with no date) is an error, never a
//!   name without its date; a field reference with no usable value is an error, never an empty part.
#![no_main]

mod shapes;

use chrono::{Datelike, NaiveDate};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use s3logsbeat::config::index::{check_name, is_metadata_format};
use s3logsbeat::config::{IndexPart, IndexPattern, LogFormat};
use s3logsbeat::event::{Event, EventId, Timestamp};
use s3logsbeat::outputs::elasticsearch::index::{render, Names};
use serde_json::{Map, Value};

/// Pieces of a date format: Joda's letters that the parser knows, others it must refuse, separators
/// (some of which no index name may hold) and `%`, which chrono would read as its own.
const DATE_PIECES: &[&str] = &[
    "yyyy", "YYYY", "xxxx", "yy", "MM", "M", "dd", "d", "HH", "H", "mm", "ss", "ww", ".", "-", "_",
    "/", " ", ":", "%", "%Y", "D", "'", "é", "y", "+",
];

/// Literal pieces: ordinary ones, upper case, characters Elasticsearch refuses, and non-ASCII text
/// whose lower case is longer than itself.
const LITERALS: &[&str] = &[
    "logs-", "-", ".", "Logs", "x", "_", "+", ":", " ", "é", "İ", "ẞ", "%", "{", "}", "%{", "[",
    "]",
];

/// Field values, as a document would hold them.
const VALUES: &[&str] = &[
    "x",
    "Prod",
    "",
    "a b",
    "2001:db8::1",
    "-x",
    "_x",
    "ÉTÉ",
    "a/b",
    "ok",
];

fn pattern(u: &mut Unstructured<'_>) -> Result<String> {
    if u.ratio(1, 4)? {
        return u.arbitrary();
    }
    let mut s = String::new();
    for _ in 0..u.int_in_range(1..=5)? {
        match u.int_in_range(0..=3)? {
            0 => s.push_str(u.choose(LITERALS)?),
            1 => {
                s.push_str("%{+");
                for _ in 0..u.int_in_range(0..=4)? {
                    s.push_str(u.choose(DATE_PIECES)?);
                }
                s.push('}');
            }
            2 => {
                s.push_str("%{");
                if u.ratio(1, 3)? {
                    s.push_str("[@metadata][format]");
                } else {
                    for _ in 0..u.int_in_range(1..=2)? {
                        s.push('[');
                        s.push_str(&shapes::name(u)?);
                        s.push(']');
                    }
                }
                s.push('}');
            }
            _ => s.push_str(&shapes::short_text(u, 6)?),
        }
    }
    Ok(s)
}

fn time(u: &mut Unstructured<'_>) -> Result<Timestamp> {
    let secs = match u.int_in_range(0..=3)? {
        0 => u.arbitrary()?,
        1 => *u.choose(&[
            Timestamp::MIN_SECS - 1,
            Timestamp::MIN_SECS,
            Timestamp::MAX_SECS,
            Timestamp::MAX_SECS + 1,
            0,
            -1,
            i64::MIN,
            i64::MAX,
        ])?,
        _ => u.int_in_range(Timestamp::MIN_SECS..=Timestamp::MAX_SECS)?,
    };
    let nanos = if u.ratio(1, 8)? {
        u.arbitrary()?
    } else {
        u.int_in_range(0..=999_999_999)?
    };
    Ok(Timestamp {
        secs,
        nanos,
        digits: 3,
    })
}

/// Sets `path` in `doc` to `v`, making objects on the way; false where a value is in the way.
fn set(doc: &mut Map<String, Value>, path: &[String], v: Value) -> bool {
    let (last, init) = path.split_last().expect("a path has a name");
    let mut cur = doc;
    for k in init {
        let slot = cur
            .entry(k.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(m) = slot else {
            return false;
        };
        cur = m;
    }
    if cur.contains_key(last) {
        return false;
    }
    cur.insert(last.clone(), v);
    true
}

fn field_value(u: &mut Unstructured<'_>) -> Result<Option<Value>> {
    Ok(match u.int_in_range(0..=7)? {
        0 => None,
        1 => Some(Value::Null),
        2 => Some(Value::from(u.arbitrary::<i64>()?)),
        3 => Some(serde_json::Number::from_f64(u.arbitrary()?).map_or(Value::Null, Value::Number)),
        4 => Some(Value::Bool(u.arbitrary()?)),
        5 => Some(Value::String(shapes::short_text(u, 20)?)),
        6 => Some(shapes::object(u, 4, 0)?),
        _ => Some(Value::String(u.choose(VALUES)?.to_string())),
    })
}

fn fields(p: &IndexPattern) -> impl Iterator<Item = &Vec<String>> {
    p.parts.iter().filter_map(|part| match part {
        IndexPart::Field(path) if !is_metadata_format(path) => Some(path),
        _ => None,
    })
}

fn event(timestamp: Timestamp, format: LogFormat, doc: String) -> Event {
    Event {
        id: EventId([7; 16]),
        timestamp,
        format: format.name(),
        doc: doc.into(),
        parse_failure: false,
    }
}

/// A chrono format string, as `joda_to_chrono` writes them, applied to `t` from its RFC 3339 text
/// (`Timestamp`'s own calendar arithmetic) and, for ISO weeks, the calendar date it gives.
fn format_date(f: &str, t: Timestamp) -> String {
    let text = t.to_rfc3339();
    let num = |r: std::ops::Range<usize>| text[r].parse::<u32>().expect("digits");
    let (y, mo, d, h, mi) = (num(0..4), num(5..7), num(8..10), num(11..13), num(14..16));
    // A leap second (nanoseconds past one second) is written :59 in the text, and chrono calls it 60.
    let s = if t.nanos >= 1_000_000_000 {
        60
    } else {
        num(17..19)
    };
    let iso = NaiveDate::from_ymd_opt(y as i32, mo, d)
        .expect("a date the text names")
        .iso_week();
    let mut out = String::new();
    let mut rest = f;
    while let Some(c) = rest.chars().next() {
        if c != '%' {
            out.push(c);
            rest = &rest[c.len_utf8()..];
            continue;
        }
        let spec = if rest.starts_with("%-") {
            &rest[..3]
        } else {
            &rest[..2]
        };
        rest = &rest[spec.len()..];
        match spec {
            "%Y" => out.push_str(&format!("{y:04}")),
            "%G" if (0..=9999).contains(&iso.year()) => out.push_str(&format!("{:04}", iso.year())),
            "%G" => out.push_str(&format!("{:+05}", iso.year())),
            "%y" => out.push_str(&format!("{:02}", y % 100)),
            "%m" => out.push_str(&format!("{mo:02}")),
            "%d" => out.push_str(&format!("{d:02}")),
            "%H" => out.push_str(&format!("{h:02}")),
            "%M" => out.push_str(&format!("{mi:02}")),
            "%S" => out.push_str(&format!("{s:02}")),
            "%V" => out.push_str(&format!("{:02}", iso.week())),
            "%-m" => out.push_str(&mo.to_string()),
            "%-d" => out.push_str(&d.to_string()),
            "%-H" => out.push_str(&h.to_string()),
            "%%" => out.push('%'),
            other => panic!("a date format with {other:?}, which the pattern parser never writes"),
        }
    }
    out
}

/// The name `p` should give `e`, worked out apart from `render`; `None` where the event cannot have one.
fn expected(p: &IndexPattern, e: &Event) -> Option<String> {
    let doc = if fields(p).next().is_some() {
        Some(serde_json::from_str::<Value>(&e.doc).ok()?)
    } else {
        None
    };
    let mut out = String::new();
    for part in &p.parts {
        match part {
            IndexPart::Literal(l) => out.push_str(l),
            IndexPart::Date(f) => {
                if !e.timestamp.in_range() || e.timestamp.to_datetime().is_none() {
                    return None;
                }
                out.push_str(&format_date(f, e.timestamp));
            }
            IndexPart::Field(path) if is_metadata_format(path) => out.push_str(e.format),
            IndexPart::Field(path) => {
                let mut v = doc.as_ref();
                for k in path {
                    v = v.and_then(|v| v.as_object()).and_then(|m| m.get(k));
                }
                match v? {
                    Value::String(s) if !s.is_empty() => out.push_str(s),
                    Value::Number(n) => out.push_str(&n.to_string()),
                    Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
                    _ => return None,
                }
            }
        }
    }
    let name = out.to_lowercase();
    check_name(&name).ok()?;
    Some(name)
}

/// A case from text (see the module doc): pattern, time, format, document.
fn written(text: &str) -> Option<(String, Timestamp, LogFormat, String)> {
    let mut lines = text.strip_prefix('#')?.splitn(4, '\n');
    let pattern = lines.next()?.to_string();
    let time = lines.next()?.trim();
    let (secs, nanos) = match time.split_once('.') {
        Some((s, n)) => (s.parse().ok()?, n.parse().ok()?),
        None => (time.parse().ok()?, 0),
    };
    let format = LogFormat::from_name(lines.next()?)?;
    let doc = lines.next().unwrap_or("{}").trim_end().to_string();
    let t = Timestamp {
        secs,
        nanos,
        digits: 3,
    };
    Some((pattern, t, format, doc))
}

/// A case from choices (see the module doc).
fn generated(u: &mut Unstructured<'_>) -> Result<(String, Timestamp, LogFormat, String)> {
    let text = pattern(u)?;
    let t = time(u)?;
    let format = *u.choose(&LogFormat::all().collect::<Vec<_>>())?;
    let mut doc = Map::new();
    doc.insert("@timestamp".into(), "2024-01-02T03:04:05.000Z".into());
    // The fields the pattern names, if it parses; the document is made before the pattern is looked
    // at again below, so the same input always gives the same case.
    if let Ok(p) = IndexPattern::parse(&text) {
        for f in fields(&p) {
            if let Some(v) = field_value(u)? {
                set(&mut doc, f, v);
            }
        }
    }
    let mut doc = Value::Object(doc).to_string();
    if u.ratio(1, 8)? {
        // Too deep for serde_json: rendering a field must say so, not panic (G1).
        let deep = shapes::chain(130, Value::Null).to_string();
        doc = format!("{},\"deep\":{deep}}}", &doc[..doc.len() - 1]);
    }
    Ok((text, t, format, doc))
}

fuzz_target!(|data: &[u8]| {
    let case = match std::str::from_utf8(data) {
        Ok(text) if text.starts_with('#') => written(text),
        _ => generated(&mut Unstructured::new(data)).ok(),
    };
    let Some((text, t, format, doc)) = case else {
        return;
    };
    let Ok(p) = IndexPattern::parse(&text) else {
        return;
    };
    assert!(!p.parts.is_empty(), "{text:?}");

    // What the config check rendered is what the same event gets.
    if !p
        .parts
        .iter()
        .any(|x| matches!(x, IndexPart::Field(f) if is_metadata_format(f)))
    {
        let mut doc = Map::new();
        doc.insert("@timestamp".into(), "2024-01-02T03:04:05.000Z".into());
        if fields(&p).all(|f| set(&mut doc, f, Value::String("x".into()))) {
            let e = event(
                Timestamp::from_millis(1_704_164_645_000),
                LogFormat::Alb,
                Value::Object(doc).to_string(),
            );
            let got = render(&p, &e);
            assert_eq!(
                got.as_deref().ok(),
                Some(p.sample().to_lowercase().as_str()),
                "{text:?}: {got:?}"
            );
        }
    }

    let e = event(t, format, doc);
    let got = render(&p, &e);
    let want = expected(&p, &e);
    // A batch's names: an event at the start of this one's date step, then this one, get the names
    // each renders to on its own, whether or not the first's name is shared.
    let step = p.date_step();
    let start = Event {
        timestamp: Timestamp {
            secs: t.secs - t.secs.rem_euclid(step),
            nanos: 0,
            ..t
        },
        ..e.clone()
    };
    let mut names = Names::new(&p);
    for e in [&start, &e] {
        let shared = names.name(e).map(|n| n.to_string());
        assert_eq!(shared, render(&p, e), "{text:?} at {:?}, step {step}", e.timestamp);
    }
    assert_eq!(
        got.as_ref().ok(),
        want.as_ref(),
        "{text:?} at {t:?}: rendered {got:?}, expected {want:?}; doc {}",
        &*e.doc
    );
    let Ok(name) = got else { return };
    assert!(!name.is_empty() && name.len() <= 255, "{name:?}");
    assert_eq!(name.to_lowercase(), name);
    check_name(&name).unwrap_or_else(|why| panic!("{name:?} {why}"));
    let dates: Vec<&String> = p
        .parts
        .iter()
        .filter_map(|x| match x {
            IndexPart::Date(f) => Some(f),
            _ => None,
        })
        .collect();
    if !dates.is_empty() {
        assert!(t.in_range(), "{name:?} named for second {}", t.secs);
    }
    if dates.iter().any(|f| f.contains("%Y")) {
        let year = &t.to_rfc3339()[..4];
        assert!(name.contains(year), "{name:?} lacks the year {year}");
    }
});
