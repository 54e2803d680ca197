//! Random and mutated input never panics a parser, and every event is valid JSON with the fields every
//! event must have. Deterministic (seeded), so a failure reproduces; the seed and input are printed.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::common::{json_spec, parse_object, spec};
use s3logsbeat::config::{EnrichSettings, FormatSpec};

const SEEDS: &[&[u8]] = &[
    include_bytes!("../data/samples/alb-aws-docs.log"),
    include_bytes!("../data/samples/elb-logstash-patterns.log"),
    include_bytes!("../data/samples/cloudfront-aws-docs.log"),
    include_bytes!("../data/samples/waf-aws-docs.ndjson"),
    include_bytes!("../data/samples/vpcflow-aws-docs-custom-format-1.log"),
    include_bytes!("../data/samples/vpcflow-aws-docs-default-format-v2.log"),
    include_bytes!("../data/samples/nlb-aws-docs.log"),
    include_bytes!("../data/samples/alb-connection-aws-docs.log"),
    include_bytes!("../data/samples/s3access-aws-docs.log"),
    include_bytes!("../data/samples/cloudtrail-aws-docs-example-07-AwsCloudTrailInsight.json"),
    include_bytes!("../data/samples/cloudtrail-aws-docs-example-01-StartInstances.json"),
    include_bytes!("../data/samples/cloudwatch-aws-docs-decoded-subscription-data-line165.json"),
    include_bytes!("../data/samples/network-firewall-handwritten.log"),
    include_bytes!("../data/samples/route53-resolver-handwritten.log"),
    b"2024-01-01T00:00:00Z 12 true hello\n2024-01-01T00:00:01Z - x rest\n",
];

fn specs() -> Vec<FormatSpec> {
    let mut v: Vec<FormatSpec> = [
        "alb",
        "elb",
        "cloudfront",
        "waf",
        "vpcflow",
        "nlb",
        "alb_connection",
        "s3access",
        "cloudtrail",
        "cloudwatch",
        "network_firewall",
        "route53_resolver",
    ]
    .into_iter()
    .map(spec)
    .collect();
    v.push(FormatSpec::Cloudwatch(
        s3logsbeat::config::CloudwatchOptions { decode_json: true },
    ));
    let custom = s3logsbeat::config::FormatOptions {
        pattern: Some(r"^(?P<ts>\S+) (?P<n>\S+)? ?(?P<ok>true|false|x)? ?(?P<rest>.*)$".into()),
        timestamp_field: Some("ts".into()),
        timestamp_format: Some("timeISO8601".into()),
        types: [("n", "integer"), ("ok", "boolean")]
            .iter()
            .map(|(k, t)| (k.to_string(), t.to_string()))
            .collect(),
        ..Default::default()
    };
    v.push(
        FormatSpec::build(
            s3logsbeat::config::LogFormat::Custom,
            &custom,
            str::to_string,
        )
        .unwrap(),
    );
    for fmt in [
        "timeISO8601",
        "time:2006-01-02 15:04:05.000",
        "timeUnixSeconds",
    ] {
        v.push(json_spec("timestamp", fmt));
    }
    v
}

fn check(spec: &FormatSpec, data: &[u8], chunk: usize, max_line: usize) {
    let parsed = parse_object(
        spec,
        &EnrichSettings::new("n", "h"),
        "k",
        data,
        chunk,
        max_line,
    );
    for e in &parsed.events {
        s3logsbeat::event::check_document(&e.doc).unwrap_or_else(|err| panic!("{err}: {}", e.doc));
        let v: serde_json::Value = serde_json::from_str(&e.doc).unwrap();
        assert!(v["@timestamp"].is_string());
        assert!(v["log"]["offset"].is_u64());
        let mut with_meta = Vec::new();
        e.write_with_metadata(&mut with_meta);
        serde_json::from_slice::<serde_json::Value>(&with_meta).unwrap();
    }
    if let Ok(stats) = parsed.result {
        assert_eq!(stats.events, parsed.events.len() as u64);
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = SmallRng::seed_from_u64(0x5331_6f67);
    let specs = specs();
    for round in 0..3000 {
        let len = rng.gen_range(0..600);
        let alphabet: &[u8] = b" \t\n\r\"\\-:.0123456789abcTZ[]{},%#+";
        let data: Vec<u8> = (0..len)
            .map(|_| {
                if rng.gen_bool(0.7) {
                    alphabet[rng.gen_range(0..alphabet.len())]
                } else {
                    rng.gen()
                }
            })
            .collect();
        for spec in &specs {
            let chunk = rng.gen_range(1..64);
            let max = rng.gen_range(1..200);
            let r = std::panic::catch_unwind(|| check(spec, &data, chunk, max));
            assert!(
                r.is_ok(),
                "round {round}, format {}, chunk {chunk}, max {max}, input {:?}",
                spec.format(),
                String::from_utf8_lossy(&data)
            );
        }
    }
}

#[test]
fn mutated_samples_never_panic() {
    let mut rng = SmallRng::seed_from_u64(42);
    let specs = specs();
    for round in 0..1500 {
        let mut data = SEEDS[round % SEEDS.len()].to_vec();
        for _ in 0..rng.gen_range(1..8) {
            let i = rng.gen_range(0..data.len());
            match rng.gen_range(0..4) {
                0 => data[i] = rng.gen(),
                1 => {
                    data.remove(i);
                }
                2 => data.insert(i, b"\" -\t%{}\n"[rng.gen_range(0..8)]),
                _ => data.truncate(i),
            }
            if data.is_empty() {
                break;
            }
        }
        for spec in &specs {
            let r = std::panic::catch_unwind(|| check(spec, &data, 1 + round % 97, 1 << 20));
            assert!(
                r.is_ok(),
                "round {round}, format {}, input {:?}",
                spec.format(),
                String::from_utf8_lossy(&data)
            );
        }
        // Compressed garbage: gzip and zstd headers followed by mutated bytes.
        let mut g = vec![0x1f, 0x8b, 8, 0];
        g.extend_from_slice(&data[..data.len().min(64)]);
        let mut z = vec![0x28, 0xb5, 0x2f, 0xfd];
        z.extend_from_slice(&data[..data.len().min(64)]);
        for bytes in [g, z] {
            let r = std::panic::catch_unwind(|| check(&specs[0], &bytes, 5, 1 << 20));
            assert!(r.is_ok(), "round {round}: compressed garbage {bytes:?}");
        }
    }
}
