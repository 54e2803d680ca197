//! The benchmark sink (`examples/es_sink.rs`) answers what Elasticsearch answers: the recorded bulk
//! fixture replayed against it gives the recorded response, and the requests s3logsbeat makes get the
//! double's answers, so `make bench-e2e`'s `es` drain measures s3logsbeat against a faithful fast path.

use std::io::Write;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{repo, BenchSink, EsDouble};

/// `errors`, item statuses and errors: what s3logsbeat asks for.
const FILTER: &str = "errors,items.*.status,items.*.error.type,items.*.error.reason";

async fn call(url: &str, method: &str, path: &str, body: Vec<u8>, gzip: bool) -> (u16, Value) {
    let c = reqwest::Client::new();
    let mut r = c
        .request(method.parse().unwrap(), format!("{url}{path}"))
        .header("Content-Type", "application/x-ndjson");
    if gzip {
        r = r.header("Content-Encoding", "gzip");
    }
    let resp = r.body(body).send().await.unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn ndjson(lines: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for l in lines {
        out.extend_from_slice(l.to_string().as_bytes());
        out.push(b'\n');
    }
    out
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

#[tokio::test]
async fn the_recorded_bulk_gets_the_recorded_answer() {
    let sink = BenchSink::start().await;
    let f: Value = serde_json::from_str(
        &std::fs::read_to_string(
            repo().join("tests/fixtures/elasticsearch/bulk-all-created-filtered.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let body = ndjson(f["request"]["body"].as_array().unwrap());
    let q = f["request"]["query"]["filter_path"].as_str().unwrap();
    let (status, answer) = call(
        &sink.url,
        "POST",
        &format!("/_bulk?filter_path={q}"),
        body,
        false,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(answer, f["response"]);
    // The root document is the recorded one too.
    let root: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("tests/fixtures/elasticsearch/root.json")).unwrap(),
    )
    .unwrap();
    let (status, answer) = call(&sink.url, "GET", "/", Vec::new(), false).await;
    assert_eq!((status, answer), (200, root["response"].clone()));
}

#[tokio::test]
async fn bulks_and_templates_get_the_doubles_answers() {
    let (sink, double) = (BenchSink::start().await, EsDouble::start().await);
    let mut expected_docs = 0;
    for (n, gz) in [(1usize, false), (3, true), (500, true)] {
        let mut lines = Vec::new();
        for i in 0..n {
            // `index` for every third, as OpenSearch Serverless is sent; `create` otherwise.
            let kind = if i % 3 == 2 { "index" } else { "create" };
            lines.push(json!({kind: {"_index": format!("sink-{n}"), "_id": format!("{i:032x}")}}));
            lines
                .push(json!({"@timestamp": "2024-07-01T00:00:00.000Z", "n": i, "message": "a\nb"}));
        }
        let mut body = ndjson(&lines);
        if gz {
            body = gzip(&body);
        }
        let path = format!("/_bulk?filter_path={FILTER}");
        let d = call(&double.url, "POST", &path, body.clone(), gz).await;
        let s = call(&sink.url, "POST", &path, body, gz).await;
        assert_eq!(d.0, 200, "{}", d.1);
        assert_eq!(s, d, "{n} documents");
        assert_eq!(s.1["items"].as_array().unwrap().len(), n);
        expected_docs += n;
    }
    let path = "/_index_template/s3logsbeat-sink-test";
    let template = serde_json::to_vec(
        &json!({"index_patterns": ["s3logsbeat-sink-test-*"], "template": {"settings": {}}}),
    )
    .unwrap();
    for url in [&sink.url, &double.url] {
        assert_eq!(call(url, "HEAD", path, Vec::new(), false).await.0, 404);
    }
    let d = call(&double.url, "PUT", path, template.clone(), false).await;
    let s = call(&sink.url, "PUT", path, template, false).await;
    assert_eq!(s, d);
    for url in [&sink.url, &double.url] {
        assert_eq!(call(url, "HEAD", path, Vec::new(), false).await.0, 200);
    }
    let (_, stats) = call(&sink.url, "GET", "/_sink/stats", Vec::new(), false).await;
    assert_eq!(stats["docs"], expected_docs);
    assert_eq!(
        stats["indices"],
        json!({"sink-1": 1, "sink-3": 3, "sink-500": 500})
    );
}

#[tokio::test]
async fn a_chunked_body_on_a_kept_alive_connection_is_read_whole() {
    let sink = BenchSink::start().await;
    let addr = sink.url.trim_start_matches("http://").to_string();
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let body = gzip(&ndjson(&[
        json!({"create": {"_index": "chunked", "_id": "a"}}),
        json!({"n": 1}),
        json!({"create": {"_index": "chunked", "_id": "b"}}),
        json!({"n": 2}),
    ]));
    let (a, b) = body.split_at(body.len() / 2);
    let mut req = format!("POST /_bulk?filter_path={FILTER} HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n").into_bytes();
    for part in [a, b] {
        req.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        req.extend_from_slice(part);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    // Twice on one connection: the second request is read where the first ended.
    for _ in 0..2 {
        conn.write_all(&req).await.unwrap();
    }
    let expected =
        br#"{"errors":false,"items":[{"create":{"status":201}},{"create":{"status":201}}]}"#;
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while got
        .windows(expected.len())
        .filter(|w| *w == expected)
        .count()
        < 2
    {
        let mut buf = [0u8; 4096];
        let n = tokio::time::timeout_at(deadline, conn.read(&mut buf))
            .await
            .expect("two answers within 10 s")
            .unwrap();
        assert!(n > 0, "closed after {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    let (_, stats) = call(&sink.url, "GET", "/_sink/stats", Vec::new(), false).await;
    assert_eq!(stats["indices"], json!({"chunked": 4}));
    assert!(stats["cpu_seconds"].as_f64().unwrap() >= 0.0);
}
