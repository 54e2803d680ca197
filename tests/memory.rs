//! Memory does not grow with the object: a gzip stream of ~48 MB decompressed, with a 20 MB line that has
//! no newline in it, goes through the parser chunk by chunk (as an S3 body does) while the peak resident
//! memory of this process (Linux `VmHWM`) is watched. Its own test binary, so no other test shares the
//! process.

use std::io::Write;

use s3logsbeat::config::{EnrichSettings, FormatSpec};
use s3logsbeat::object::{ObjectId, ObjectParser};

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux /proc");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status")
}

#[test]
fn a_large_object_with_a_huge_line_is_read_in_bounded_memory() {
    let line = b"2015-05-13T23:39:43.945958Z my-loadbalancer 192.168.131.39:2817 10.0.0.1:80 0.000073 0.001048 0.000057 200 200 0 29 \"GET http://www.example.com:80/ HTTP/1.1\" \"curl/7.38.0\" - -\n";
    let settings = EnrichSettings::new("n", "h");
    let spec = FormatSpec::Elb;
    let mut parser = ObjectParser::new(
        &spec,
        &settings,
        ObjectId {
            path: "s3://b/big.log.gz",
            key: "big.log.gz",
            last_modified: None,
        },
        1 << 20,
    );
    let before = peak_rss_kib();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut events = 0u64;
    let mut feed = |gz: &mut flate2::write::GzEncoder<Vec<u8>>, parser: &mut ObjectParser<'_>| {
        let compressed = std::mem::take(gz.get_mut());
        // As the daemon's reader does: 8 KiB pieces, events taken away in between.
        for c in compressed.chunks(s3logsbeat::object::fetch::FEED_BYTES) {
            parser
                .feed_all(c, |p| events += p.drain().count() as u64)
                .unwrap();
        }
    };
    let mut written = 0usize;
    // 14 MB of normal lines, a 20 MB line without a newline, then 14 MB of normal lines.
    for part in 0..3 {
        if part == 1 {
            let chunk = vec![b'x'; 1 << 20];
            for _ in 0..20 {
                gz.write_all(&chunk).unwrap();
                written += chunk.len();
                feed(&mut gz, &mut parser);
            }
            gz.write_all(b"\n").unwrap();
            continue;
        }
        for _ in 0..(14 << 20) / line.len() {
            gz.write_all(line).unwrap();
            written += line.len();
            if written % (1 << 20) < line.len() {
                feed(&mut gz, &mut parser);
            }
        }
    }
    let rest = gz.finish().unwrap();
    for c in rest.chunks(s3logsbeat::object::fetch::FEED_BYTES) {
        parser
            .feed_all(c, |p| events += p.drain().count() as u64)
            .unwrap();
    }
    let stats = parser.finish().unwrap();
    events += parser.drain().count() as u64;
    let grew_mib = (peak_rss_kib() - before) / 1024;
    eprintln!("peak memory growth: {grew_mib} MiB for {written} bytes");
    assert!(written > 45 << 20, "the object is large: {written} bytes");
    assert_eq!(
        stats.truncated_lines, 1,
        "the 20 MB line was cut at max_line_bytes"
    );
    assert_eq!(events, stats.events);
    let per_part = ((14 << 20) / line.len()) as u64;
    assert_eq!(
        stats.events,
        2 * per_part + 1,
        "every line, and the cut line as a failure event"
    );
    assert_eq!(stats.parse_failures, 1);
    assert!(
        grew_mib < 16,
        "peak memory grew by {grew_mib} MiB while reading a {} MiB object with a 20 MiB line",
        written >> 20
    );
}
