//! Every format through the object stream, compression included, fed in chunk sizes the input chooses.
//! What must hold on every input: no panic; every document is one JSON value without a key twice; and
//! how the bytes are chunked never changes the events, their ids or the outcome. Events are hashed as
//! they come (never collected), so a decompression bomb costs time, not memory.
//!
//! Input: byte 0 picks the format and the compression (low 4 bits: the index in `LogFormat::ALL`, modulo
//! its length: alb, elb, cloudfront, waf, json, vpcflow, s3access, nlb, alb_connection, cloudtrail,
//! cloudwatch, custom; bits 4 and 5: as is, gzip it, zstd it); byte 1 picks the chunk size; the rest is
//! the object.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use s3logsbeat::config::{EnrichSettings, FormatOptions, FormatSpec, LogFormat};
use s3logsbeat::object::{ObjectId, ObjectParser};

/// Events looked at per run; past this the input has shown what it can.
const MOST_EVENTS: u64 = 20_000;

/// What a run made: events seen, a hash of their ids and (non-failure) documents, the outcome.
fn run(spec: &FormatSpec, object: &[u8], chunk: usize) -> (u64, [u8; 32], Result<(), String>) {
    let settings = EnrichSettings::new("fuzz", "fuzz");
    let id = ObjectId {
        path: "s3://bucket/key",
        key: "key",
        last_modified: None,
    };
    let mut p = ObjectParser::new(spec, &settings, id, 256);
    let mut hash = blake3::Hasher::new();
    let mut n = 0u64;
    let take = |p: &mut ObjectParser<'_>, hash: &mut blake3::Hasher, n: &mut u64| {
        for e in p.drain() {
            if let Err(why) = s3logsbeat::event::check_document(&e.doc) {
                panic!("{why}: {}", e.doc);
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
    let format = LogFormat::ALL[(data[0] & 15) as usize % LogFormat::ALL.len()];
    let mut opts = FormatOptions::default();
    match format {
        LogFormat::Json => {
            opts.timestamp_field = Some("ts".into());
            opts.timestamp_format = Some("timeISO8601".into());
        }
        LogFormat::Custom => {
            opts.pattern = Some(r"^(?P<ts>\S+) (?P<n>-?\d+)? ?(?P<ok>true|false|x)? ?(?P<rest>.*)$".into());
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
    let body = &data[2..];
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
    let (n, h, r) = run(&spec, &object, chunk);
    let (wn, wh, wr) = run(&spec, &object, object.len().max(1));
    if n > MOST_EVENTS || wn > MOST_EVENTS {
        return;
    }
    assert_eq!(r.is_ok(), wr.is_ok(), "chunking changed the outcome: {r:?} / {wr:?}");
    assert_eq!(n, wn, "chunking changed the number of events");
    assert_eq!(h, wh, "chunking changed an event");
});
