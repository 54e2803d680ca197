//! Real parts for the daemon's tests: moto's server (S3 and SQS) and the Elasticsearch double
//! (`tests/doubles/es_double.py`), each started on a free loopback port and stopped on drop, plus helpers
//! to set up buckets, queues and notifications and to run the `s3logsbeat` binary.
//!
//! A test that needs moto fails when moto cannot start (run `make venv`); it is never skipped.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use serde_json::Value;
use tokio::process::{Child, Command};

pub const REGION: &str = "us-east-1";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn wait_http(url: &str, what: &str, child: &mut Child) {
    wait_http_with(&reqwest::Client::new(), url, what, child).await
}

async fn wait_http_with(client: &reqwest::Client, url: &str, what: &str, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = client.get(url).send().await {
            if r.status().is_success() {
                return;
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited with {status} before it was ready");
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not answer on {url} within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// moto's server.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    pub async fn start() -> Moto {
        let bin = repo().join(".venv/bin/moto_server");
        assert!(
            bin.exists(),
            "{} is missing: run `make venv` (make test does it) to install moto[server]",
            bin.display()
        );
        let port = free_port();
        let mut child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let endpoint = format!("http://127.0.0.1:{port}");
        wait_http(&format!("{endpoint}/moto-api/"), "moto_server", &mut child).await;
        Moto { child, endpoint }
    }

    fn creds() -> aws_sdk_s3::config::Credentials {
        aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "tests")
    }

    pub fn s3(&self) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(aws_sdk_s3::config::Region::new(REGION))
            .credentials_provider(Self::creds())
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        let conf = aws_sdk_sqs::Config::builder()
            .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(aws_sdk_sqs::config::Region::new(REGION))
            .credentials_provider(Self::creds())
            .build();
        aws_sdk_sqs::Client::from_conf(conf)
    }

    #[allow(dead_code)] // Not every test binary reads CloudWatch Logs.
    pub fn logs(&self) -> aws_sdk_cloudwatchlogs::Client {
        let conf = aws_sdk_cloudwatchlogs::Config::builder()
            .behavior_version(aws_sdk_cloudwatchlogs::config::BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(aws_sdk_cloudwatchlogs::config::Region::new(REGION))
            .credentials_provider(Self::creds())
            .build();
        aws_sdk_cloudwatchlogs::Client::from_conf(conf)
    }

    /// Puts `messages` (time in ms, text) into `group`/`stream`, creating both if needed.
    #[allow(dead_code)]
    pub async fn put_log_events(&self, group: &str, stream: &str, messages: &[(i64, String)]) {
        use aws_sdk_cloudwatchlogs::types::InputLogEvent;
        let logs = self.logs();
        let _ = logs.create_log_group().log_group_name(group).send().await;
        let _ = logs
            .create_log_stream()
            .log_group_name(group)
            .log_stream_name(stream)
            .send()
            .await;
        let mut events: Vec<InputLogEvent> = messages
            .iter()
            .map(|(t, m)| {
                InputLogEvent::builder()
                    .timestamp(*t)
                    .message(m)
                    .build()
                    .unwrap()
            })
            .collect();
        events.sort_by_key(|e| e.timestamp);
        for chunk in events.chunks(5000) {
            logs.put_log_events()
                .log_group_name(group)
                .log_stream_name(stream)
                .set_log_events(Some(chunk.to_vec()))
                .send()
                .await
                .unwrap();
        }
    }

    pub async fn create_queue(&self, name: &str) -> String {
        self.sqs()
            .create_queue()
            .queue_name(name)
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap()
    }

    pub async fn create_bucket(&self, name: &str) {
        self.s3().create_bucket().bucket(name).send().await.unwrap();
    }

    /// A bucket whose ObjectCreated events go to a new queue (moto sends them, and a TestEvent).
    pub async fn bucket_with_notifications(&self, bucket: &str, queue: &str) -> String {
        use aws_sdk_s3::types::{Event, NotificationConfiguration, QueueConfiguration};
        self.create_bucket(bucket).await;
        let url = self.create_queue(queue).await;
        let arn = format!("arn:aws:sqs:{REGION}:123456789012:{queue}");
        self.s3()
            .put_bucket_notification_configuration()
            .bucket(bucket)
            .notification_configuration(
                NotificationConfiguration::builder()
                    .queue_configurations(
                        QueueConfiguration::builder()
                            .queue_arn(arn)
                            .events(Event::from("s3:ObjectCreated:*"))
                            .build()
                            .unwrap(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap();
        url
    }

    pub async fn put(&self, bucket: &str, key: &str, body: Vec<u8>) {
        self.s3()
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(body))
            .send()
            .await
            .unwrap();
    }

    /// The keys of `bucket` (its first listed page: up to 1,000, more than any test puts there).
    pub async fn keys(&self, bucket: &str) -> Vec<String> {
        let listed = self
            .s3()
            .list_objects_v2()
            .bucket(bucket)
            .send()
            .await
            .unwrap();
        listed
            .contents()
            .iter()
            .filter_map(|o| o.key())
            .map(str::to_string)
            .collect()
    }

    pub async fn send_message(&self, queue_url: &str, body: &str) {
        self.sqs()
            .send_message()
            .queue_url(queue_url)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }

    /// (visible, in flight) message counts.
    pub async fn queue_counts(&self, queue_url: &str) -> (u64, u64) {
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let out = self
            .sqs()
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(A::ApproximateNumberOfMessages)
            .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .unwrap();
        let attrs = out.attributes.unwrap_or_default();
        let get = |a: A| attrs.get(&a).and_then(|v| v.parse().ok()).unwrap_or(0);
        (
            get(A::ApproximateNumberOfMessages),
            get(A::ApproximateNumberOfMessagesNotVisible),
        )
    }
}

/// An S3 notification record for a key, as S3 writes it (key URL-encoded, space as `+`).
pub fn s3_record(bucket: &str, key: &str) -> String {
    let mut enc = String::new();
    for b in key.bytes() {
        match b {
            b' ' => enc.push('+'),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' => {
                enc.push(b as char)
            }
            _ => enc.push_str(&format!("%{b:02X}")),
        }
    }
    serde_json::json!({
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": REGION,
        "eventTime": "2026-11-22T00:00:00.000Z", "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": bucket, "arn": format!("arn:aws:s3:::{bucket}")},
               "object": {"key": enc, "size": 1}}
    })
    .to_string()
}

/// `tests/doubles/throttle_proxy.py` in front of moto: the first `n` FilterLogEvents calls are refused
/// with ThrottlingException, the rest forwarded.
#[allow(dead_code)] // Not every test binary reads CloudWatch Logs.
pub struct ThrottleProxy {
    _child: Child,
    pub endpoint: String,
}

#[allow(dead_code)]
impl ThrottleProxy {
    pub async fn start(moto: &Moto, n: u32) -> ThrottleProxy {
        ThrottleProxy::refusing(moto, n, "ThrottlingException").await
    }

    /// Refuses the first `n` FilterLogEvents calls with the error `code`.
    pub async fn refusing(moto: &Moto, n: u32, code: &str) -> ThrottleProxy {
        let port = free_port();
        let script = repo().join("tests/doubles/throttle_proxy.py");
        let mut child = Command::new("python3")
            .arg(&script)
            .args([&port.to_string(), &moto.endpoint, &n.to_string(), code])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", script.display()));
        let endpoint = format!("http://127.0.0.1:{port}");
        wait_http(
            &format!("{endpoint}/proxy/stats"),
            "throttle_proxy.py",
            &mut child,
        )
        .await;
        ThrottleProxy {
            _child: child,
            endpoint,
        }
    }

    /// What it refused and forwarded.
    pub async fn stats(&self) -> Value {
        let r = reqwest::get(format!("{}/proxy/stats", self.endpoint))
            .await
            .unwrap();
        serde_json::from_slice(&r.bytes().await.unwrap()).unwrap()
    }
}

/// The Elasticsearch double.
pub struct EsDouble {
    child: Child,
    pub url: String,
    client: reqwest::Client,
}

impl EsDouble {
    pub async fn start() -> EsDouble {
        EsDouble::spawn(&[], "http", reqwest::Client::new()).await
    }

    /// Serving HTTPS with `dir`'s `server.pem`/`server.key` (from [`make_certs`]), requiring a client
    /// certificate signed by the CA when `client_ca` is set. The URL names `localhost`.
    pub async fn start_tls(dir: &Path, client_ca: bool) -> EsDouble {
        // The test binaries link both of rustls's crypto providers (dev-dependencies bring ring): choose.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let p = |n: &str| dir.join(n).display().to_string();
        let mut args = vec![
            "--tls-cert".to_string(),
            p("server.pem"),
            "--tls-key".into(),
            p("server.key"),
        ];
        if client_ca {
            args.extend(["--tls-client-ca".to_string(), p("ca.pem")]);
        }
        let ca =
            reqwest::Certificate::from_pem(&std::fs::read(dir.join("ca.pem")).unwrap()).unwrap();
        // The test's own client trusts the CA but not the name: some tests serve a certificate for
        // another host on purpose.
        let mut b = reqwest::Client::builder()
            .tls_certs_only([ca])
            .tls_danger_accept_invalid_hostnames(true);
        if client_ca {
            let mut pem = std::fs::read(dir.join("client.pem")).unwrap();
            pem.extend(std::fs::read(dir.join("client.key")).unwrap());
            b = b.identity(reqwest::Identity::from_pem(&pem).unwrap());
        }
        EsDouble::spawn(&args, "https", b.build().unwrap()).await
    }

    /// Amazon OpenSearch (`managed` or `serverless`) checking SigV4 signatures for `region` with
    /// botocore (`tests/doubles/opensearch.py`), in the virtualenv that has it.
    pub async fn start_opensearch(mode: &str, region: &str, extra: &[&str]) -> EsDouble {
        let mut args: Vec<String> = vec![
            "--opensearch".into(),
            mode.into(),
            "--sigv4-region".into(),
            region.into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        EsDouble::spawn_with(
            &repo().join(".venv/bin/python").display().to_string(),
            &args,
            "http",
            reqwest::Client::new(),
        )
        .await
    }

    async fn spawn(extra: &[String], scheme: &str, client: reqwest::Client) -> EsDouble {
        EsDouble::spawn_with("python3", extra, scheme, client).await
    }

    async fn spawn_with(
        python: &str,
        extra: &[String],
        scheme: &str,
        client: reqwest::Client,
    ) -> EsDouble {
        let port = free_port();
        let script = repo().join("tests/doubles/es_double.py");
        let mut child = Command::new(python)
            .arg(&script)
            .args(["--port", &port.to_string(), "--refresh-interval", "0.2"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", script.display()));
        let host = if scheme == "https" {
            "localhost"
        } else {
            "127.0.0.1"
        };
        let url = format!("{scheme}://{host}:{port}");
        wait_http_with(
            &client,
            &format!("{url}/_double/stats"),
            "es_double.py",
            &mut child,
        )
        .await;
        EsDouble { child, url, client }
    }

    pub async fn faults(&self, v: Value) {
        let r = self
            .client
            .post(format!("{}/_double/faults", self.url))
            .header("Content-Type", "application/json")
            .body(v.to_string())
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "faults {v}: {}", r.status());
    }

    pub async fn stats(&self) -> Value {
        let r = self
            .client
            .get(format!("{}/_double/stats", self.url))
            .send()
            .await
            .unwrap();
        serde_json::from_slice(&r.bytes().await.unwrap()).unwrap()
    }

    /// The index templates installed, by name (as `GET _index_template` would show each).
    pub async fn templates(&self) -> Value {
        let r = self
            .client
            .get(format!("{}/_double/templates", self.url))
            .send()
            .await
            .unwrap();
        serde_json::from_slice(&r.bytes().await.unwrap()).unwrap()
    }

    pub async fn docs(&self, index: &str) -> Vec<Value> {
        let r = self
            .client
            .get(format!("{}/_double/docs/{index}", self.url))
            .send()
            .await
            .unwrap();
        if r.status() == 404 {
            return Vec::new();
        }
        serde_json::from_slice(&r.bytes().await.unwrap()).unwrap()
    }

    /// Documents in every index, by index name.
    pub async fn doc_counts(&self) -> std::collections::BTreeMap<String, u64> {
        let s = self.stats().await;
        s["indices"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v["docs"].as_u64().unwrap_or(0)))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "s3lb-{name}-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The daemon, as a user runs it.
pub fn daemon(config: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_s3logsbeat"));
    c.arg("-c")
        .arg(config)
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", REGION)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    c
}

/// Output of a finished daemon run.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the daemon to its end (with a time limit).
pub async fn run_to_end(mut cmd: Command, limit: Duration) -> Run {
    let child = cmd.spawn().unwrap();
    let out = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("the daemon did not finish within {limit:?}"))
        .unwrap();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Writes a config file.
pub fn write_config(dir: &TempDir, text: &str) -> PathBuf {
    let p = dir.0.join("s3logsbeat.yml");
    std::fs::write(&p, text).unwrap();
    p
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn sample(name: &str) -> Vec<u8> {
    std::fs::read(repo().join("tests/data/samples").join(name)).unwrap()
}

/// Polls `f` until it returns true or `limit` passes.
pub async fn eventually<F, Fut>(limit: Duration, what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The counter `name` from the daemon's final summary line.
pub fn counter(stderr: &str, name: &str) -> u64 {
    let key = format!("{name}=");
    stderr
        .lines()
        .rev()
        .find(|l| l.contains("stopped:") || l.contains("--once"))
        .and_then(|l| l.split_whitespace().find_map(|w| w.strip_prefix(&key)))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// A format by name; `json` reads `timestamp` as ISO 8601 unless [`json_spec`] says otherwise.
pub fn spec(format: &str) -> s3logsbeat::config::FormatSpec {
    let f = s3logsbeat::config::LogFormat::from_name(format).expect("a known format");
    if f == s3logsbeat::config::LogFormat::Json {
        return json_spec("timestamp", "timeISO8601");
    }
    s3logsbeat::config::FormatSpec::build(f, &Default::default(), str::to_string).unwrap()
}

/// The `json` format with these options.
pub fn json_spec(field: &str, format: &str) -> s3logsbeat::config::FormatSpec {
    let opts = s3logsbeat::config::FormatOptions {
        timestamp_field: Some(field.to_string()),
        timestamp_format: Some(format.to_string()),
        ..Default::default()
    };
    s3logsbeat::config::FormatSpec::build(
        s3logsbeat::config::LogFormat::Json,
        &opts,
        str::to_string,
    )
    .unwrap()
}

/// What an [`s3logsbeat::object::ObjectParser`] made of an object.
pub struct Parsed {
    /// Every event, in order.
    pub events: Vec<s3logsbeat::event::Event>,
    /// The object's counts, or why it could not be read to its end.
    pub result: Result<s3logsbeat::object::ObjectStats, s3logsbeat::object::ReadError>,
}

/// Feeds `data` to a parser for `s3://bucket/<key>` in `chunk`-byte pieces, as an S3 body arrives, and
/// collects every event (taking them between pieces, as the readers do).
pub fn parse_object(
    spec: &s3logsbeat::config::FormatSpec,
    settings: &s3logsbeat::config::EnrichSettings,
    key: &str,
    data: &[u8],
    chunk: usize,
    max_line: usize,
) -> Parsed {
    let path = format!("s3://bucket/{key}");
    let id = s3logsbeat::object::ObjectId {
        path: &path,
        key,
        last_modified: None,
    };
    let (events, result) = s3logsbeat::object::parse_all(spec, settings, id, data, chunk, max_line);
    Parsed { events, result }
}

/// A config file's text: the given inputs and output, a global `aws` block for moto when `moto` is set,
/// and `extra` top-level keys.
pub fn config_text(
    aws_endpoint: Option<&str>,
    inputs: &[String],
    output: &str,
    extra: &str,
) -> String {
    let aws = aws_endpoint
        .map(|e| format!("  aws:\n    endpoint: {e}\n    region: {REGION}\n"))
        .unwrap_or_default();
    format!(
        "s3logsbeat:\n{aws}  inputs:\n{}\n{output}\n{extra}",
        inputs.join("\n")
    )
}

/// Validated settings from a config text (every mode), or the errors as text.
pub fn settings(
    text: &str,
    overrides: &[&str],
) -> Result<s3logsbeat::config::Settings, Vec<String>> {
    let o: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    let show = |e: Vec<s3logsbeat::config::ConfigError>| {
        e.iter().map(|e| e.to_string()).collect::<Vec<_>>()
    };
    let loaded = s3logsbeat::config::load::load_str(text, "s3logsbeat.yml", &o).map_err(show)?;
    s3logsbeat::config::Settings::validate(
        loaded,
        Path::new("s3logsbeat.yml"),
        s3logsbeat::config::Mode::All,
    )
    .map_err(show)
}

/// The validated settings of an output section (`output.logstash:\n  hosts: ...`), with a placeholder input.
pub fn output_settings(output: &str) -> Result<s3logsbeat::config::OutputSettings, Vec<String>> {
    let input = "    - {type: sqs, queues_url: ['https://sqs.us-east-1.amazonaws.com/1/q'], log_format: alb}".to_string();
    settings(&config_text(None, &[input], output, ""), &[]).map(|s| s.output)
}

/// The events of an NDJSON text (what `parse`, the console and the file outputs write).
pub fn ndjson(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// The `@metadata._id` of each event.
pub fn ids(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["@metadata"]["_id"].as_str().expect("an _id").to_string())
        .collect()
}

/// Waits (at most `limit`) for a spawned daemon to exit, asserts that it succeeded, returns its stderr.
pub async fn expect_success(child: Child, limit: Duration) -> String {
    let out = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("the daemon did not exit within {limit:?}"))
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status);
    stderr
}

/// Sends SIGTERM to a spawned daemon.
pub fn terminate(child: &Child) {
    let pid = child.id().expect("running");
    let ok = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -TERM {pid}");
}

/// A TCP proxy on a free loopback port in front of `target` (moto), which can be cut: while down, new
/// connections are closed at once and open ones are dropped, as when a network path to AWS fails.
pub struct Proxy {
    pub url: String,
    down: std::sync::Arc<std::sync::atomic::AtomicBool>,
    generation: std::sync::Arc<std::sync::atomic::AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(target: &str) -> Proxy {
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        use std::sync::Arc;
        let target = target
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let down = Arc::new(AtomicBool::new(false));
        let generation = Arc::new(AtomicU64::new(0));
        let (d, g) = (down.clone(), generation.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if d.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let (target, d, g) = (target.clone(), d.clone(), g.clone());
                let born = g.load(Ordering::SeqCst);
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    let copy = tokio::io::copy_bidirectional(&mut inbound, &mut outbound);
                    let cut = async {
                        while !d.load(Ordering::SeqCst) && g.load(Ordering::SeqCst) == born {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    };
                    tokio::select! {
                        _ = copy => {}
                        _ = cut => {}
                    }
                });
            }
        });
        Proxy {
            url,
            down,
            generation,
            task,
        }
    }

    /// Cuts the path (true) or restores it (false).
    pub fn set_down(&self, down: bool) {
        use std::sync::atomic::Ordering;
        self.down.store(down, Ordering::SeqCst);
        self.generation.fetch_add(1, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A CA (`ca.pem`, `ca.key`), a server certificate for `san` (`server.pem`, `server.key`) and a client
/// certificate (`client.pem`, `client.key`), all signed by the CA, made with the openssl command line.
pub fn make_certs(dir: &Path, san: &str) {
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl is installed");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let key = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(key);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=s3logsbeat test CA",
    ]);
    run(&ca);
    for (name, cn, ext) in [
        (
            "server",
            "/CN=es",
            format!("subjectAltName={san}\nextendedKeyUsage=serverAuth\n"),
        ),
        (
            "client",
            "/CN=s3logsbeat",
            "extendedKeyUsage=clientAuth\n".to_string(),
        ),
    ] {
        let (k, csr, pem, cnf) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
            format!("{name}.cnf"),
        );
        let mut req = vec!["req"];
        req.extend(key);
        req.extend(["-keyout", &k, "-out", &csr, "-subj", cn]);
        run(&req);
        std::fs::write(dir.join(&cnf), ext).unwrap();
        run(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &pem,
            "-days",
            "2",
            "-extfile",
            &cnf,
        ]);
    }
}

/// The events written so far by the file output under `dir/out` (rotated files included).
pub fn file_events(dir: &Path) -> Vec<Value> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir.join("out")) else {
        return out;
    };
    let mut files: Vec<_> = rd.map(|e| e.unwrap().path()).collect();
    files.sort();
    for f in files {
        for l in std::fs::read_to_string(f).unwrap().lines() {
            out.push(serde_json::from_str(l).unwrap());
        }
    }
    out
}

/// The benchmark sink (`examples/es_sink.rs`), built by `cargo test` beside the test binaries.
pub struct BenchSink {
    child: Child,
    pub url: String,
}

impl BenchSink {
    pub async fn start() -> BenchSink {
        // target/<profile>/deps/<test binary> -> target/<profile>/examples/es_sink
        let exe = std::env::current_exe().unwrap();
        let bin = exe
            .parent()
            .and_then(Path::parent)
            .unwrap()
            .join("examples/es_sink");
        assert!(
            bin.exists(),
            "{} is missing: `cargo test` builds the examples (or `cargo build --example es_sink`)",
            bin.display()
        );
        let port = free_port();
        let mut child = Command::new(&bin)
            .args(["--port", &port.to_string()])
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let url = format!("http://127.0.0.1:{port}");
        wait_http(&format!("{url}/_sink/stats"), "es_sink", &mut child).await;
        BenchSink { child, url }
    }
}
