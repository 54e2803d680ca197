//! Parse + `_id` + NDJSON encoding, per format, on one core: `make bench` (or `cargo bench --bench parse`).
//!
//! Inputs are generated (deterministic): about 100 MB of ALB lines with today's 30 columns (`alb`, 733
//! bytes a line; `alb_short`, about 460), and 100 MB of each other format (a CloudTrail object is one `Records` document; a CloudWatch Logs object is
//! Firehose payloads of 20 log events back to back), plain and gzip-compressed. Every line goes through the same code as the daemon:
//! `ObjectParser::feed` in 64 KiB chunks (decompression, line splitting, parsing, enrichment, id), then
//! each event is written with `@metadata` into a reused NDJSON buffer. Criterion reports lines/s
//! (`thrpt` in Kelem/s, Melem/s); the MB/s figure is printed per input before each group and in
//! `target/criterion/…/new/estimates.json` (see BENCHMARKS.md).

use std::io::Write;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use s3logsbeat::config::processors::Processors;
use s3logsbeat::config::{EnrichSettings, FieldNames, FormatOptions, FormatSpec, LogFormat};
use s3logsbeat::event::processors;
use s3logsbeat::object::gunzip::GzipStream;
use s3logsbeat::object::inflate::{self, Piece};
use s3logsbeat::object::{Compression, ObjectId, ObjectParser};

const TARGET_BYTES: usize = 100 * 1000 * 1000;

/// A tiny deterministic generator (xorshift), so inputs are the same on every run.
struct Gen(u64);
impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn alb_line(g: &mut Gen, i: u64, out: &mut String) {
    use std::fmt::Write as _;
    let s = i / 100;
    let _ = writeln!(
        out,
        "https 2024-07-{:02}T{:02}:{:02}:{:02}.{:06}Z app/my-loadbalancer/50dc6c495c0c9188 \
         192.168.{}.{}:{} 10.0.{}.{}:80 0.{:03} 0.{:03} 0.000 {} 200 {} {} \
         \"GET https://www.example.com:443/api/v1/items/{}?page={}&sort=desc HTTP/1.1\" \
         \"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{}.0 Safari/537.36\" \
         ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 \
         arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 \
         \"Root=1-{:08x}-{:024x}\" \"www.example.com\" \
         \"arn:aws:acm:us-east-2:123456789012:certificate/12345678-1234-1234-1234-123456789012\" \
         1 2024-07-{:02}T{:02}:{:02}:{:02}.{:06}Z \"forward\" \"-\" \"-\" \"10.0.{}.{}:80\" \"200\" \"-\" \"-\" TID_{:032x}",
        1 + s / 86400 % 28, s / 3600 % 24, s / 60 % 60, s % 60, g.below(1_000_000),
        g.below(256), g.below(256), 1024 + g.below(60000), g.below(256), g.below(256),
        g.below(100), g.below(1000), [200, 200, 200, 301, 404, 502][g.below(6) as usize],
        g.below(2000), g.below(100_000),
        g.below(1_000_000), g.below(100), 100 + g.below(30),
        s, g.next() as u128 * g.next() as u128,
        1 + s / 86400 % 28, s / 3600 % 24, s / 60 % 60, s % 60, g.below(1_000_000),
        g.below(256), g.below(256), g.next() as u128 * g.next() as u128,
    );
}

/// ALB lines of about 460 bytes with every current column: an HTTP listener's (no TLS cipher, protocol,
/// SNI domain or certificate: `-`), a short client and URL, the four newest columns `-`. The line
/// length of the goal's figure.
fn alb_short_line(g: &mut Gen, i: u64, out: &mut String) {
    use std::fmt::Write as _;
    let s = i / 100;
    let _ = writeln!(
        out,
        "http 2024-07-{:02}T{:02}:{:02}:{:02}.{:06}Z app/my-lb/50dc6c495c0c9188 \
         192.168.{}.{}:{} 10.0.{}.{}:80 0.{:03} 0.{:03} 0.000 {} 200 {} {} \
         \"GET http://api.example.com:80/v1/items/{} HTTP/1.1\" \"curl/8.{}.0\" - - \
         arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/tg/73e2d6bc24d8a067 \
         \"Root=1-{:08x}-{:024x}\" \"-\" \"-\" \
         1 2024-07-{:02}T{:02}:{:02}:{:02}.{:06}Z \"forward\" \"-\" \"-\" \"10.0.{}.{}:80\" \"200\" \"-\" \"-\" TID_{:032x} \"-\" \"-\" \"-\"",
        1 + s / 86400 % 28, s / 3600 % 24, s / 60 % 60, s % 60, g.below(1_000_000),
        g.below(256), g.below(256), 1024 + g.below(60000), g.below(256), g.below(256),
        g.below(100), g.below(1000), [200, 200, 200, 301, 404, 502][g.below(6) as usize],
        g.below(2000), g.below(100_000),
        g.below(1_000_000), g.below(10),
        s, g.next(),
        1 + s / 86400 % 28, s / 3600 % 24, s / 60 % 60, s % 60, g.below(1_000_000),
        g.below(256), g.below(256), g.next() as u128 * g.next() as u128,
    );
}

fn elb_line(g: &mut Gen, i: u64, out: &mut String) {
    use std::fmt::Write as _;
    let s = i / 100;
    let _ = writeln!(
        out,
        "2015-05-{:02}T{:02}:{:02}:{:02}.{:06}Z my-loadbalancer 192.168.{}.{}:{} 10.0.0.{}:80 0.000{:03} 0.001{:03} 0.000057 200 200 0 {} \
         \"GET https://www.example.com:443/items/{} HTTP/1.1\" \"curl/7.38.0\" DHE-RSA-AES128-SHA TLSv1.2",
        1 + s / 86400 % 28, s / 3600 % 24, s / 60 % 60, s % 60, g.below(1_000_000),
        g.below(256), g.below(256), 1024 + g.below(60000), g.below(256),
        g.below(1000), g.below(1000), g.below(100_000), g.below(1_000_000),
    );
}

fn cloudfront_line(g: &mut Gen, i: u64, out: &mut String) {
    use std::fmt::Write as _;
    let s = i / 100;
    let _ = writeln!(
        out,
        "2019-12-{:02}\t{:02}:{:02}:{:02}\tLAX1-C{}\t{}\t192.0.2.{}\tGET\td111111abcdef8.cloudfront.net\t/img/{}%20x.png\t200\t-\t\
         Mozilla/5.0%20(Windows%20NT%2010.0;%20Win64;%20x64)%20AppleWebKit/537.36%20(KHTML,%20like%20Gecko)%20Chrome/78.0.3904.108%20Safari/537.36\t\
         q={}\t-\tHit\tSOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZm{:08x}==\td111111abcdef8.cloudfront.net\thttps\t23\t0.{:03}\t-\tTLSv1.2\t\
         ECDHE-RSA-AES128-GCM-SHA256\tHit\tHTTP/2.0\t-\t-\t{}\t0.001\tHit\ttext/html\t78\t-\t-",
        1 + s / 86400 % 28, s / 3600 % 24, s / 60 % 60, s % 60, g.below(9), g.below(100_000),
        g.below(256), g.below(100_000), g.below(1000), g.next() as u32, g.below(1000), 1024 + g.below(60000),
    );
}

fn waf_line(g: &mut Gen, i: u64, out: &mut String) {
    use std::fmt::Write as _;
    let _ = writeln!(
        out,
        "{{\"timestamp\":{},\"formatVersion\":1,\"webaclId\":\"arn:aws:wafv2:us-east-1:123456789012:global/webacl/hello-world/5933d6d9\",\
         \"terminatingRuleId\":\"Default_Action\",\"terminatingRuleType\":\"REGULAR\",\"action\":\"ALLOW\",\"terminatingRuleMatchDetails\":[],\
         \"httpSourceName\":\"CF\",\"httpSourceId\":\"i-123\",\"ruleGroupList\":[],\"rateBasedRuleList\":[],\"nonTerminatingMatchingRules\":[],\
         \"requestHeadersInserted\":null,\"responseCodeSent\":null,\"httpRequest\":{{\"clientIp\":\"1.1.{}.{}\",\"country\":\"AU\",\
         \"headers\":[{{\"name\":\"Host\",\"value\":\"example.com\"}},{{\"name\":\"User-Agent\",\"value\":\"curl/7.61.{}\"}}],\
         \"uri\":\"/items/{}\",\"args\":\"\",\"httpVersion\":\"HTTP/1.1\",\"httpMethod\":\"GET\",\"requestId\":\"rid-{}\"}},\"labels\":[{{\"name\":\"value\"}}]}}",
        1_576_280_412_771u64 + i * 10, g.below(256), g.below(256), g.below(100), g.below(100_000), g.next(),
    );
}

fn json_line(g: &mut Gen, i: u64, out: &mut String) {
    use std::fmt::Write as _;
    let s = i / 10;
    let _ = writeln!(
        out,
        "{{\"time\":\"2024-03-{:02}T{:02}:{:02}:{:02}.{:03}Z\",\"level\":\"info\",\"service\":\"checkout\",\"msg\":\"order {} placed\",\"duration_ms\":{},\"user\":{{\"id\":{},\"country\":\"FR\"}}}}",
        1 + s / 86400 % 28, s / 3600 % 24, s / 60 % 60, s % 60, g.below(1000), g.below(1_000_000), g.below(5000), g.below(100_000),
    );
}

fn vpcflow_line(g: &mut Gen, i: u64, out: &mut String) {
    use std::fmt::Write as _;
    let start = 1_418_530_010 + i / 50;
    let _ = writeln!(
        out,
        "2 123456789010 eni-1235b8ca{:09x} 172.31.{}.{} 172.31.{}.{} {} {} 6 {} {} {} {} {} OK",
        g.below(1 << 30),
        g.below(256),
        g.below(256),
        g.below(256),
        g.below(256),
        1024 + g.below(60000),
        [22, 80, 443, 3389][g.below(4) as usize],
        1 + g.below(100),
        g.below(100_000),
        start,
        start + 60,
        ["ACCEPT", "REJECT"][g.below(2) as usize],
    );
}

fn s3access_line(g: &mut Gen, i: u64, out: &mut String) {
    use std::fmt::Write as _;
    let s = i / 100;
    let _ = writeln!(
        out,
        "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be amzn-s3-demo-bucket1 [{:02}/Feb/2019:{:02}:{:02}:{:02} +0000]          192.0.2.{} 79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be {:016X} REST.GET.OBJECT photos/{}.jpg          \"GET /amzn-s3-demo-bucket1/photos/{}.jpg HTTP/1.1\" 200 - {} {} {} {} \"-\" \"aws-cli/2.15.0 Python/3.11\" -          s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234= SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader          amzn-s3-demo-bucket1.s3.us-west-1.amazonaws.com TLSv1.2 - -",
        1 + s / 86400 % 28, s / 3600 % 24, s / 60 % 60, s % 60, g.below(256), g.next(),
        g.below(100_000), g.below(100_000), g.below(100_000), g.below(100_000), g.below(100), g.below(50),
    );
}

fn nlb_line(g: &mut Gen, i: u64, out: &mut String) {
    use std::fmt::Write as _;
    let s = i / 100;
    let _ = writeln!(
        out,
        "tls 2.0 2020-04-{:02}T{:02}:{:02}:{:02} net/my-network-loadbalancer/c6e77e28c25b2234 g3d4b5e8bb8464cd 192.168.{}.{}:{} 10.0.0.{}:443 {} {} {} {} -          arn:aws:acm:us-east-2:671290407336:certificate/2a108f19-aded-46b0-8493-c63eb1ef4a99 - ECDHE-RSA-AES128-SHA tlsv12 -          my-network-loadbalancer-c6e77e28c25b2234.elb.us-east-2.amazonaws.com h2 h2 \"h2\",\"http/1.1\" 2020-04-01T08:51:20",
        1 + s / 86400 % 28, s / 3600 % 24, s / 60 % 60, s % 60, g.below(256), g.below(256),
        1024 + g.below(60000), g.below(256), g.below(1000), g.below(50), g.below(10_000), g.below(100_000),
    );
}

fn alb_connection_line(g: &mut Gen, i: u64, out: &mut String) {
    use std::fmt::Write as _;
    let s = i / 100;
    let _ = writeln!(
        out,
        "2024-10-{:02}T{:02}:{:02}:{:02}.{:06}Z 192.168.{}.{} {} 443 TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256 {}.{:03}          \"CN=amazondomains.com,O=endEntity,L=Seattle,ST=Washington,C=US\" NotBefore=2023-09-21T22:43:21Z;NotAfter=2026-06-17T22:43:21Z          {:016X} Success",
        1 + s / 86400 % 28, s / 3600 % 24, s / 60 % 60, s % 60, g.below(1_000_000), g.below(256), g.below(256),
        1024 + g.below(60000), g.below(5), g.below(1000), g.next(),
    );
}

/// A CloudTrail record (the object is wrapped in `{"Records":[...]}` by [`generate`]).
fn cloudtrail_record(g: &mut Gen, i: u64, out: &mut String) {
    use std::fmt::Write as _;
    let s = i / 20;
    let _ = writeln!(
        out,
        "{}{{\"eventVersion\":\"1.08\",\"userIdentity\":{{\"type\":\"IAMUser\",\"principalId\":\"AIDA{:016X}\",         \"arn\":\"arn:aws:iam::123456789012:user/Alice\",\"accountId\":\"123456789012\",\"accessKeyId\":\"AKIA{:016X}\",\"userName\":\"Alice\"}},         \"eventTime\":\"2024-03-{:02}T{:02}:{:02}:{:02}Z\",\"eventSource\":\"ec2.amazonaws.com\",\"eventName\":\"DescribeInstances\",         \"awsRegion\":\"us-east-2\",\"sourceIPAddress\":\"205.251.233.{}\",\"userAgent\":\"aws-cli/2.15.0 Python/3.11\",         \"requestParameters\":{{\"instancesSet\":{{\"items\":[{{\"instanceId\":\"i-{:017x}\"}}]}},\"filterSet\":{{}}}},         \"responseElements\":null,\"requestID\":\"{:032x}\",\"eventID\":\"{:032x}\",\"readOnly\":true,         \"eventType\":\"AwsApiCall\",\"managementEvent\":true,\"recipientAccountId\":\"123456789012\",\"eventCategory\":\"Management\"}}",
        if i == 0 { "" } else { "," }, g.next(), g.next(),
        1 + s / 86400 % 28, s / 3600 % 24, s / 60 % 60, s % 60, g.below(256), g.next() & 0xffff_ffff_ffff,
        g.next() as u128 * g.next() as u128, g.next() as u128 * g.next() as u128,
    );
}

/// Log events per CloudWatch Logs payload in the generated objects.
const CW_EVENTS_PER_PAYLOAD: u64 = 20;

/// One Firehose payload of [`CW_EVENTS_PER_PAYLOAD`] Lambda log events (back to back, as Firehose
/// writes them; the benchmark's object is not gzip'ed twice, so that plain and gzip stay comparable).
fn cloudwatch_payload(g: &mut Gen, i: u64, out: &mut String) {
    use std::fmt::Write as _;
    let _ = write!(
        out,
        "{{\"messageType\":\"DATA_MESSAGE\",\"owner\":\"123456789012\",\"logGroup\":\"/aws/lambda/checkout\",         \"logStream\":\"2024/03/01/[$LATEST]{:032x}\",\"subscriptionFilters\":[\"to-firehose\"],\"logEvents\":[",
        g.next() as u128 * g.next() as u128
    );
    for k in 0..CW_EVENTS_PER_PAYLOAD {
        let _ = write!(
            out,
            "{}{{\"id\":\"{:056}\",\"timestamp\":{},\"message\":\"{{\\\"level\\\":\\\"info\\\",\\\"msg\\\":\\\"order {} placed\\\",\\\"ms\\\":{}}}\"}}",
            if k == 0 { "" } else { "," },
            g.next() as u128 * 1_000_000,
            1_709_251_200_000 + i * 100 + k,
            g.below(1_000_000),
            g.below(5000),
        );
    }
    out.push_str("]}");
}

fn custom_line(g: &mut Gen, i: u64, out: &mut String) {
    use std::fmt::Write as _;
    let s = i / 100;
    let _ = writeln!(
        out,
        "2024-03-{:02}T{:02}:{:02}:{:02}.{:03}Z INFO {} {} GET /api/v1/items/{} took {}ms",
        1 + s / 86400 % 28,
        s / 3600 % 24,
        s / 60 % 60,
        s % 60,
        g.below(1000),
        [200, 200, 404, 500][g.below(4) as usize],
        g.below(100_000),
        g.below(100_000),
        g.below(5000),
    );
}

fn network_firewall_line(g: &mut Gen, i: u64, out: &mut String) {
    use std::fmt::Write as _;
    let s = 1_700_000_000 + i / 100;
    let t = |s: u64, us: u64| {
        format!(
            "2023-11-{:02}T{:02}:{:02}:{:02}.{:06}+0000",
            14 + s / 86400 % 14,
            s / 3600 % 24,
            s / 60 % 60,
            s % 60,
            us
        )
    };
    if i.is_multiple_of(10) {
        let _ = writeln!(
            out,
            "{{\"firewall_name\":\"test-firewall\",\"availability_zone\":\"us-east-1a\",\"event_timestamp\":\"{s}\",\"event\":{{\"timestamp\":\"{}\",\"flow_id\":{},\"event_type\":\"alert\",\"src_ip\":\"203.0.113.{}\",\"src_port\":{},\"dest_ip\":\"10.0.2.{}\",\"dest_port\":80,\"proto\":\"TCP\",\"alert\":{{\"action\":\"blocked\",\"signature_id\":1000003,\"rev\":1,\"signature\":\"Deny all other TCP traffic\",\"category\":\"\",\"severity\":3}},\"http\":{{\"hostname\":\"www.example.com\",\"url\":\"/items/{}\",\"http_user_agent\":\"curl/8.4.0\",\"http_method\":\"GET\",\"protocol\":\"HTTP/1.1\",\"length\":0}},\"app_proto\":\"http\"}}}}",
            t(s, g.below(1_000_000)), g.next() >> 14, g.below(256), 1024 + g.below(60000), g.below(256), g.below(100_000),
        );
    } else {
        let _ = writeln!(
            out,
            "{{\"firewall_name\":\"test-firewall\",\"availability_zone\":\"us-east-1a\",\"event_timestamp\":\"{s}\",\"event\":{{\"tcp\":{{\"tcp_flags\":\"1b\",\"syn\":true,\"fin\":true,\"psh\":true,\"ack\":true}},\"app_proto\":\"tls\",\"src_ip\":\"10.0.{}.{}\",\"src_port\":{},\"netflow\":{{\"pkts\":{},\"bytes\":{},\"start\":\"{}\",\"end\":\"{}\",\"age\":{},\"min_ttl\":63,\"max_ttl\":64}},\"event_type\":\"netflow\",\"flow_id\":{},\"dest_ip\":\"198.51.100.{}\",\"proto\":\"TCP\",\"dest_port\":443,\"timestamp\":\"{}\"}}}}",
            g.below(256), g.below(256), 1024 + g.below(60000), g.below(100), g.below(100_000),
            t(s - 60, g.below(1_000_000)), t(s - 1, g.below(1_000_000)), g.below(60), g.next() >> 14,
            g.below(256), t(s, g.below(1_000_000)),
        );
    }
}

fn route53_resolver_line(g: &mut Gen, i: u64, out: &mut String) {
    use std::fmt::Write as _;
    let s = i / 100;
    let _ = writeln!(
        out,
        "{{\"version\":\"1.100000\",\"account_id\":\"123456789012\",\"region\":\"us-east-1\",\"vpc_id\":\"vpc-0123456789abcdef0\",\"query_timestamp\":\"2023-11-{:02}T{:02}:{:02}:{:02}Z\",\"query_name\":\"host{}.example.com.\",\"query_type\":\"A\",\"query_class\":\"IN\",\"rcode\":\"NOERROR\",\"answers\":[{{\"Rdata\":\"192.0.2.{}\",\"Type\":\"A\",\"Class\":\"IN\"}}],\"srcaddr\":\"10.0.{}.{}\",\"srcport\":\"{}\",\"transport\":\"UDP\",\"srcids\":{{\"instance\":\"i-{:017x}\"}}}}",
        1 + s / 86400 % 28, s / 3600 % 24, s / 60 % 60, s % 60, g.below(10_000), g.below(256),
        g.below(256), g.below(256), 1024 + g.below(60000), g.below(1 << 60),
    );
}

struct Input {
    name: &'static str,
    spec: FormatSpec,
    plain: Vec<u8>,
    gzip: Vec<u8>,
    /// Events it gives.
    lines: u64,
}

fn generate(name: &'static str, spec: FormatSpec, line: fn(&mut Gen, u64, &mut String)) -> Input {
    let mut g = Gen(0x9E37_79B9_7F4A_7C15);
    let mut s = String::with_capacity(TARGET_BYTES + 4096);
    if name == "cloudtrail" {
        s.push_str("{\"Records\":[\n");
    }
    let mut lines = 0u64;
    while s.len() < TARGET_BYTES {
        line(&mut g, lines, &mut s);
        lines += 1;
    }
    if name == "cloudtrail" {
        s.push_str("]}\n");
    }
    if name == "cloudwatch" {
        lines *= CW_EVENTS_PER_PAYLOAD;
    }
    let plain = s.into_bytes();
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(&plain).unwrap();
    let gzip = e.finish().unwrap();
    Input {
        name,
        spec,
        plain,
        gzip,
        lines,
    }
}

/// The parser the daemon would make for the benchmark's object.
/// No processors: the bench measures the step as a config without any runs it.
static NO_PROCESSORS: Processors = Processors(Vec::new());

fn object_parser<'s>(spec: &'s FormatSpec, settings: &EnrichSettings) -> ObjectParser<'s> {
    ObjectParser::new(
        spec,
        settings,
        ObjectId {
            path: "s3://my-alb-logs/AWSLogs/123456789012/elasticloadbalancing/us-east-2/2024/07/02/x.log.gz",
            key: "AWSLogs/123456789012/elasticloadbalancing/us-east-2/2024/07/02/x.log.gz",
            last_modified: None,
        },
        1 << 20,
    )
}

/// Writes the parser's events as NDJSON into `out` (cleared past 1 MiB) and counts them in `n`, after
/// the step every event takes after parsing ([`processors::finish`], as the daemon runs it: original
/// field names, no processors).
fn emit(p: &mut ObjectParser<'_>, out: &mut Vec<u8>, n: &mut u64) {
    let mut events: Vec<_> = p.drain().collect();
    processors::finish(
        p.format(),
        FieldNames::Original,
        &NO_PROCESSORS,
        &mut events,
    )
    .unwrap();
    for e in events {
        e.write_with_metadata(out);
        out.push(b'\n');
        *n += 1;
    }
    if out.len() > 1 << 20 {
        out.clear();
    }
}

/// The whole path for one object; returns the events written, so nothing is optimised away.
fn ship(spec: &FormatSpec, settings: &EnrichSettings, data: &[u8], out: &mut Vec<u8>) -> u64 {
    let mut p = object_parser(spec, settings);
    let mut n = 0;
    for c in data.chunks(64 * 1024) {
        p.feed_all(c, |p| emit(p, out, &mut n)).unwrap();
    }
    p.finish().unwrap();
    emit(&mut p, out, &mut n);
    n
}

/// [`ship`] for a gzip object inflated on a thread of its own ([`s3logsbeat::object::inflate`]), as the
/// daemon reads a large object while a core is free: the parse runs on this thread, the inflate on
/// another.
fn ship_apart(
    rt: &tokio::runtime::Runtime,
    spec: &FormatSpec,
    settings: &EnrichSettings,
    data: &[u8],
    out: &mut Vec<u8>,
) -> u64 {
    let mut p = object_parser(spec, settings);
    p.decoded_elsewhere(Compression::Gzip);
    let mut n = 0;
    // The body's chunks, as S3 would hand them over.
    let mut chunks = data
        .chunks(64 * 1024)
        .map(<[u8]>::to_vec)
        .collect::<Vec<_>>()
        .into_iter();
    let first = chunks.next().unwrap();
    rt.block_on(async {
        let mut text = inflate::spawn(first, move || chunks.next().map(Ok));
        loop {
            match text.recv().await {
                Some(Piece::Text(t, _)) => {
                    p.feed_all(&t, |p| emit(p, out, &mut n)).unwrap();
                    text.give_back(t);
                }
                Some(Piece::End) => break,
                other => panic!("{other:?}"),
            }
        }
        text.join().await.unwrap();
    });
    p.finish().unwrap();
    emit(&mut p, out, &mut n);
    n
}

/// Inflating alone, as the daemon does it ([`GzipStream`] over 64 KiB chunks), the text thrown away: the
/// measure of the goal "a gzip object parsed in at most 3x the time of inflating it" (BENCHMARKS.md).
/// Returns the bytes inflated, which the caller checks.
fn inflate_only(data: &[u8]) -> u64 {
    let mut g = GzipStream::new();
    let mut bytes = 0u64;
    for c in data.chunks(64 * 1024) {
        g.write(c, &mut |t| bytes += std::hint::black_box(t).len() as u64)
            .unwrap();
    }
    assert!(g.finish());
    bytes
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    let mut settings = EnrichSettings::new("shipper-1", "host-a");
    settings.key_regex = Some(
        regex::Regex::new(
            r"AWSLogs/(?P<aws_account_id>\d+)/elasticloadbalancing/(?P<aws_region>[^/]+)/",
        )
        .unwrap(),
    );
    settings.tags = vec!["aws".into()];
    let only = std::env::var("S3LB_BENCH_FORMATS").unwrap_or_default();
    type LineGen = fn(&mut Gen, u64, &mut String);
    let inputs: Vec<(&str, FormatSpec, LineGen)> = vec![
        ("alb", FormatSpec::Alb, alb_line),
        ("alb_short", FormatSpec::Alb, alb_short_line),
        ("elb", FormatSpec::Elb, elb_line),
        ("cloudfront", FormatSpec::Cloudfront, cloudfront_line),
        ("waf", FormatSpec::Waf, waf_line),
        (
            "json",
            FormatSpec::build(
                LogFormat::Json,
                &FormatOptions {
                    timestamp_field: Some("time".into()),
                    timestamp_format: Some("timeISO8601".into()),
                    ..Default::default()
                },
                str::to_string,
            )
            .unwrap(),
            json_line,
        ),
        ("vpcflow", FormatSpec::Vpcflow, vpcflow_line),
        ("s3access", FormatSpec::S3access, s3access_line),
        ("nlb", FormatSpec::Nlb, nlb_line),
        ("alb_connection", FormatSpec::AlbConnection, alb_connection_line),
        ("cloudtrail", FormatSpec::Cloudtrail, cloudtrail_record),
        (
            "cloudwatch",
            FormatSpec::build(LogFormat::Cloudwatch, &FormatOptions::default(), str::to_string)
                .unwrap(),
            cloudwatch_payload,
        ),
        (
            "custom",
            FormatSpec::build(
                LogFormat::Custom,
                &FormatOptions {
                    pattern: Some(
                        r"^(?P<time>\S+) (?P<level>\w+) (?P<status>\d+) (?P<bytes>\d+) (?P<method>\S+) (?P<path>\S+) took (?P<ms>\d+)ms$"
                            .into(),
                    ),
                    timestamp_field: Some("time".into()),
                    timestamp_format: Some("timeISO8601".into()),
                    types: [("status", "integer"), ("bytes", "integer"), ("ms", "integer")]
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                    ..Default::default()
                },
                str::to_string,
            )
            .unwrap(),
            custom_line,
        ),
        (
            "network_firewall",
            FormatSpec::NetworkFirewall,
            network_firewall_line,
        ),
        (
            "route53_resolver",
            FormatSpec::Route53Resolver,
            route53_resolver_line,
        ),
    ];
    for (name, spec, line) in inputs {
        if !only.is_empty() && !only.split(',').any(|f| f == name) {
            continue;
        }
        let input = generate(name, spec, line);
        let mut group = c.benchmark_group(format!("parse_{}", input.name));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(8));
        group.throughput(Throughput::Elements(input.lines));
        for (enc, data) in [("plain", &input.plain), ("gzip", &input.gzip)] {
            // One timed pass up front, so the MB/s of this input is printed next to criterion's lines/s.
            let mut out = Vec::with_capacity(2 << 20);
            let t = Instant::now();
            let n = ship(&input.spec, &settings, data, &mut out);
            let secs = t.elapsed().as_secs_f64();
            assert_eq!(n, input.lines, "{name}: every line is an event");
            eprintln!(
                "{name}/{enc}: {} lines, {:.1} MB uncompressed, {:.1} MB as read; single pass {:.0} lines/s, {:.0} MB/s (uncompressed)",
                input.lines,
                input.plain.len() as f64 / 1e6,
                data.len() as f64 / 1e6,
                input.lines as f64 / secs,
                input.plain.len() as f64 / 1e6 / secs
            );
            group.bench_with_input(
                BenchmarkId::new(enc, format!("{:.0}MB", input.plain.len() as f64 / 1e6)),
                data,
                |b, data| b.iter(|| ship(&input.spec, &settings, data, &mut out)),
            );
        }
        if input.name == "alb" {
            // Inflated on its own thread, beside the parse (two cores for one object).
            let mut out = Vec::with_capacity(2 << 20);
            group.bench_with_input(
                BenchmarkId::new(
                    "gzip_inflated_apart",
                    format!("{:.0}MB", input.plain.len() as f64 / 1e6),
                ),
                &input.gzip,
                |b, data| b.iter(|| ship_apart(&rt, &input.spec, &settings, data, &mut out)),
            );
            assert_eq!(inflate_only(&input.gzip), input.plain.len() as u64);
            group.bench_with_input(
                BenchmarkId::new(
                    "gzip_inflate_only",
                    format!("{:.0}MB", input.plain.len() as f64 / 1e6),
                ),
                &input.gzip,
                |b, data| b.iter(|| inflate_only(data)),
            );
        }
        group.finish();
    }
}

criterion_group!(parse, benches);
criterion_main!(parse);
