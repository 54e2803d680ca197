//! Every format through the object stream, compression included, fed in chunk sizes the input chooses.
//! What must hold on every input: no panic; every document is one JSON value without a key twice,
//! readable (`Event::read_doc`) and at most `MAX_DOC_DEPTH` deep, and names its index under a pattern
//! with a date and a field reference (G1: a deep document made rendering panic); and how the bytes are
//! chunked never changes the events, their ids or the outcome. Events are hashed as they come (never
//! collected), so a decompression bomb costs time, not memory.
//!
//! Input: byte 0 picks the format and the compression (low 4 bits: the index in `LogFormat::all()`, modulo
//! its length: alb, elb, cloudfront, waf, json, vpcflow, s3access, nlb, alb_connection, cloudtrail,
//! cloudwatch, custom, network_firewall, route53_resolver; bits 4 and 5: as is, gzip it, zstd it) and whether the object is made deep (bit
//! 6); byte 1 picks the chunk size; when deep, byte 2 and bit 7 of byte 0 give N (up to 319), and each
//! of the first [`DEEP_OBJECTS`] `{` of the rest gets a first member nested N objects deep (see
//! [`deepen`]), so that the JSON of json, waf, cloudtrail and cloudwatch (a message's own JSON too) is
//! deeper than documents may be, and deeper than serde_json reads; the rest is the object.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use s3logsbeat::config::{EnrichSettings, FormatOptions, FormatSpec, IndexPattern, LogFormat};
use s3logsbeat::event::{json_depth, Event, MAX_DOC_DEPTH};
use s3logsbeat::object::{ObjectId, ObjectParser};
use s3logsbeat::outputs::elasticsearch::index::render;

/// Events looked at per run; past this the input has shown what it can.
const MOST_EVENTS: u64 = 20_000;

/// The `{` of an object that [`deepen`] nests under: enough to reach a CloudTrail record or a
/// CloudWatch message (the third `{` of its payload), few enough that the object stays small.
const DEEP_OBJECTS: usize = 8;

/// Gives each of the first [`DEEP_OBJECTS`] `{` of `body` a first member `"~d"` nested `n` objects deep
/// (`{"~d":{"a":{"a":...0...}},` then what followed). Inside a JSON string the member is written with
/// its quotes escaped, so a CloudWatch message that holds JSON holds deep JSON. Object text stays valid
/// JSON where it was (a comma only before another member), so the deep member reaches the parsers.
fn deepen(body: &[u8], n: usize) -> Vec<u8> {
    let member = |quote: &str| {
        let mut m = format!("{quote}~d{quote}:");
        m.push_str(&format!("{{{quote}a{quote}:").repeat(n));
        m.push('0');
        m.push_str(&"}".repeat(n));
        m
    };
    let (plain, escaped) = (member("\""), member("\\\""));
    let mut out = Vec::with_capacity(body.len() + DEEP_OBJECTS * (plain.len() + 1));
    let (mut in_str, mut esc, mut done) = (false, false, 0);
    for (i, &c) in body.iter().enumerate() {
        out.push(c);
        match c {
            _ if esc => esc = false,
            b'\\' => esc = in_str,
            b'"' => in_str = !in_str,
            b'{' if done < DEEP_OBJECTS => {
                done += 1;
                let m = if in_str { &escaped } else { &plain };
                out.extend_from_slice(m.as_bytes());
                let next = body[i + 1..].iter().find(|c| !c.is_ascii_whitespace());
                if !matches!(next, Some(&b'}') | None) {
                    out.push(b',');
                }
            }
            _ => {}
        }
    }
    out
}

/// What must hold for each event beside its JSON being valid: readable, within the depth documents may
/// have, and named under an index with a date and a field (the name may be an error, never a panic;
/// for an event of a known time whose `beat.name` is there, a name).
fn check_event(e: &Event, index: &IndexPattern) {
    let depth = json_depth(&e.doc);
    assert!(depth <= MAX_DOC_DEPTH, "{depth} deep: {}", &*e.doc);
    if let Err(why) = e.read_doc() {
        panic!("{why}");
    }
    if let Err(why) = render(index, e) {
        assert!(!e.timestamp.in_range(), "{why}: {}", &*e.doc);
    }
}

/// What a run made: events seen, a hash of their ids and (non-failure) documents, the outcome.
fn run(
    spec: &FormatSpec,
    object: &[u8],
    chunk: usize,
    check: bool,
) -> (u64, [u8; 32], Result<(), String>) {
    let settings = EnrichSettings::new("fuzz", "fuzz");
    let index = IndexPattern::parse("logs-%{[beat][name]}-%{[@metadata][format]}-%{+yyyy.MM.dd}")
        .expect("a valid pattern");
    let id = ObjectId {
        path: "s3://bucket/key",
        key: "key",
        // Fixed, as S3 gives every object one: records without a time of their own (`plain`, a VPC flow
        // layout without start or end) take it, and must be the same in both runs compared.
        last_modified: Some(s3logsbeat::event::Timestamp::from_millis(1_700_000_000_000)),
    };
    let mut p = ObjectParser::new(spec, &settings, id, 256);
    let mut hash = blake3::Hasher::new();
    let mut n = 0u64;
    let take = |p: &mut ObjectParser<'_>, hash: &mut blake3::Hasher, n: &mut u64| {
        for e in p.drain() {
            if let Err(why) = s3logsbeat::event::check_document(&e.doc) {
                panic!("{why}: {}", e.doc);
            }
            if check {
                check_event(&e, &index);
            }
            *n += 1;
            hash.update(&e.id.0);
            // A failure event's @timestamp is the time it was made: only its id is compared.
            if !e.parse_failure {
                hash.update(e.doc.as_bytes());
            }
        }
    };
    for c in object.chunks(chunk.max(1)) {
        if let Err(e) = p.feed_all(c, |p| take(p, &mut hash, &mut n)) {
            return (n, *hash.finalize().as_bytes(), Err(e.kind.to_string()));
        }
        if n > MOST_EVENTS {
            return (n, [0; 32], Ok(()));
        }
    }
    let r = p.finish().map(|_| ()).map_err(|e| e.kind.to_string());
    take(&mut p, &mut hash, &mut n);
    (n, *hash.finalize().as_bytes(), r)
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let all: Vec<LogFormat> = LogFormat::all().collect();
    let format = all[(data[0] & 15) as usize % all.len()];
    let mut opts = FormatOptions::default();
    match format {
        LogFormat::Json => {
            opts.timestamp_field = Some("ts".into());
            opts.timestamp_format = Some("timeISO8601".into());
        }
        LogFormat::Custom => {
            opts.pattern =
                Some(r"^(?P<ts>\S+) (?P<n>-?\d+)? ?(?P<ok>true|false|x)? ?(?P<rest>.*)$".into());
            opts.timestamp_field = Some("ts".into());
            opts.timestamp_format = Some("timeISO8601".into());
            opts.types = [("n", "integer"), ("ok", "boolean")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        }
        LogFormat::Cloudwatch => opts.decode_json = Some(data[1] & 1 == 1),
        _ => {}
    }
    let spec = FormatSpec::build(format, &opts, str::to_string).expect("valid options");
    let deep;
    let body = if data[0] & 0x40 != 0 && data.len() > 2 {
        let n = data[2] as usize + if data[0] & 0x80 != 0 { 64 } else { 0 };
        deep = deepen(&data[3..], n);
        &deep[..]
    } else {
        &data[2..]
    };
    let object: Vec<u8> = match (data[0] >> 4) & 3 {
        1 => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(body).unwrap();
            e.finish().unwrap()
        }
        2 => zstd::encode_all(body, 1).unwrap(),
        _ => body.to_vec(),
    };
    let chunk = 1 + data[1] as usize * 37;
    let (n, h, r) = run(&spec, &object, chunk, true);
    let (wn, wh, wr) = run(&spec, &object, object.len().max(1), false);
    if n > MOST_EVENTS || wn > MOST_EVENTS {
        return;
    }
    assert_eq!(
        r.is_ok(),
        wr.is_ok(),
        "chunking changed the outcome: {r:?} / {wr:?}"
    );
    assert_eq!(n, wn, "chunking changed the number of events");
    assert_eq!(h, wh, "chunking changed an event");
});
