//! A fast Elasticsearch 8 stand-in for benchmarks (`make bench-e2e`'s `es` drain): every bulk item
//! succeeds and nothing is kept but counts.
//!
//! In: HTTP/1.1 requests on a loopback port, as s3logsbeat's Elasticsearch output sends them (keep-alive,
//! `Content-Length` or chunked bodies, gzip or plain). Out: what a healthy Elasticsearch 8 cluster
//! answers on its fast path:
//!
//! - `GET /` and `HEAD /`: the root document of `tests/fixtures/elasticsearch/root.json` (a recorded
//!   response, so the sink, the double and the client read the same one);
//! - `HEAD`/`GET /_index_template/<name>`: 404 until a `PUT`, then 200; `PUT`: `{"acknowledged":true}`;
//! - `POST /_bulk`: one item per action line, named as the action (`create` or `index`), status 201, in
//!   the form Elasticsearch gives under s3logsbeat's `filter_path`
//!   (`{"errors":false,"items":[{"create":{"status":201}},...]}`);
//! - `GET /_sink/stats`: `{"docs": N, "bulks": M, "bytes": B, "indices": {...}}` (bytes as received).
//!
//! What must stay true: the answers are the double's (`tests/e2e/bench_sink.rs` sends the same requests
//! to both, and replays the recorded bulk fixture), and the sink is never the limit: it runs on one
//! thread and reports its own CPU time (`/_sink/stats` `cpu_seconds`), so a benchmark can show it was
//! not. It skips every check the double makes (mappings, ids, versions): it never replaces the double in
//! tests. Every action is taken to be followed by one document (s3logsbeat sends only `create` and
//! `index`).
//!
//! Usage: `es_sink [--port P] [--port-file F]`.

use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// What the sink has taken.
#[derive(Default)]
struct State {
    docs_per_index: BTreeMap<String, u64>,
    bulks: u64,
    bytes: u64,
    templates: HashSet<String>,
}

/// One request as read off the connection.
struct Request {
    method: String,
    path: String,
    gzip: bool,
    body: Vec<u8>,
}

fn main() -> std::io::Result<()> {
    let mut port = 0u16;
    let mut port_file = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--port" => port = args.next().and_then(|p| p.parse().ok()).expect("--port P"),
            "--port-file" => port_file = Some(args.next().expect("--port-file F")),
            other => {
                eprintln!(
                    "es_sink: unknown argument {other}\nusage: es_sink [--port P] [--port-file F]"
                );
                std::process::exit(2);
            }
        }
    }
    // One thread: the benchmark reads this process's CPU to show the sink was not the limit.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    rt.block_on(async move {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let port = listener.local_addr()?.port();
        if let Some(f) = port_file {
            std::fs::write(f, port.to_string())?;
        }
        println!("es_sink listening on http://127.0.0.1:{port}");
        let root = root_body();
        let state = Arc::new(Mutex::new(State::default()));
        loop {
            let (conn, _) = listener.accept().await?;
            let _ = conn.set_nodelay(true);
            let (state, root) = (state.clone(), root.clone());
            // A connection's end (closed by the client, or a malformed request) ends only its task.
            tokio::spawn(async move {
                if let Err(e) = serve(conn, &state, &root).await {
                    eprintln!("es_sink: connection ended: {e}");
                }
            });
        }
    })
}

/// The recorded `GET /` response of an Elasticsearch 8 node.
fn root_body() -> Arc<Vec<u8>> {
    let fixture: serde_json::Value =
        serde_json::from_str(include_str!("../tests/fixtures/elasticsearch/root.json"))
            .expect("tests/fixtures/elasticsearch/root.json is JSON");
    Arc::new(serde_json::to_vec(&fixture["response"]).expect("a JSON value serialises"))
}

/// Answers requests on one connection until the client closes it.
async fn serve(conn: TcpStream, state: &Mutex<State>, root: &[u8]) -> std::io::Result<()> {
    let (r, mut w) = conn.into_split();
    let mut r = BufReader::with_capacity(256 * 1024, r);
    let mut plain = Vec::new();
    let mut answer = Vec::new();
    while let Some(req) = read_request(&mut r).await? {
        answer.clear();
        let status = route(&req, state, root, &mut plain, &mut answer);
        let mut head = format!(
            "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nX-elastic-product: Elasticsearch\r\nContent-Length: {}\r\n\r\n",
            if status < 300 { "OK" } else { "Not Found" },
            answer.len()
        )
        .into_bytes();
        if req.method != "HEAD" {
            head.extend_from_slice(&answer);
        }
        w.write_all(&head).await?;
    }
    Ok(())
}

/// The next request, or `None` when the client closed the connection between requests.
async fn read_request<R: tokio::io::AsyncBufRead + Unpin>(
    r: &mut R,
) -> std::io::Result<Option<Request>> {
    let mut line = String::new();
    if r.read_line(&mut line).await? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(path)) = (parts.next(), parts.next()) else {
        return Err(std::io::Error::other(format!("bad request line {line:?}")));
    };
    let (method, path) = (method.to_string(), path.to_string());
    let (mut length, mut chunked, mut gzip) = (0usize, false, false);
    loop {
        line.clear();
        if r.read_line(&mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let h = line.trim_end();
        if h.is_empty() {
            break;
        }
        let Some((name, value)) = h.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = value.parse().map_err(std::io::Error::other)?,
            "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
            "content-encoding" => gzip = value.eq_ignore_ascii_case("gzip"),
            _ => {}
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            r.read_line(&mut line).await?;
            let size = line.trim().split(';').next().unwrap_or("");
            let size = usize::from_str_radix(size, 16).map_err(std::io::Error::other)?;
            if size == 0 {
                // Trailers, up to the empty line.
                loop {
                    line.clear();
                    if r.read_line(&mut line).await? == 0 || line.trim().is_empty() {
                        break;
                    }
                }
                break;
            }
            let at = body.len();
            body.resize(at + size, 0);
            r.read_exact(&mut body[at..]).await?;
            line.clear();
            r.read_line(&mut line).await?;
        }
    } else if length > 0 {
        body.resize(length, 0);
        r.read_exact(&mut body).await?;
    }
    Ok(Some(Request {
        method,
        path,
        gzip,
        body,
    }))
}

/// The status and body of the answer to `req`; `plain` is a buffer kept between requests.
fn route(
    req: &Request,
    state: &Mutex<State>,
    root: &[u8],
    plain: &mut Vec<u8>,
    answer: &mut Vec<u8>,
) -> u16 {
    let path = req.path.split('?').next().unwrap_or("");
    let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
    match (req.method.as_str(), path) {
        ("GET" | "HEAD", "/") => {
            answer.extend_from_slice(root);
            200
        }
        ("GET", "/_sink/stats") => {
            let stats = serde_json::json!({
                "docs": st.docs_per_index.values().sum::<u64>(),
                "bulks": st.bulks,
                "bytes": st.bytes,
                "indices": st.docs_per_index,
                "cpu_seconds": cpu_seconds(),
            });
            answer.extend_from_slice(stats.to_string().as_bytes());
            200
        }
        (m, p) if p.starts_with("/_index_template/") => {
            let name = &p["/_index_template/".len()..];
            if m == "PUT" {
                st.templates.insert(name.to_string());
                answer.extend_from_slice(br#"{"acknowledged":true}"#);
                200
            } else if st.templates.contains(name) {
                answer.extend_from_slice(b"{}");
                200
            } else {
                answer.extend_from_slice(b"{}");
                404
            }
        }
        ("POST" | "PUT", p) if p.ends_with("/_bulk") => {
            let text: &[u8] = if req.gzip {
                plain.clear();
                let mut d = flate2::read::MultiGzDecoder::new(&req.body[..]);
                if let Err(e) = d.read_to_end(plain) {
                    answer.extend_from_slice(
                        serde_json::json!({"error": format!("es_sink: the gzip body does not inflate: {e}")})
                            .to_string()
                            .as_bytes(),
                    );
                    return 400;
                }
                plain
            } else {
                &req.body
            };
            st.bulks += 1;
            st.bytes += req.body.len() as u64;
            bulk_answer(text, &mut st.docs_per_index, answer);
            200
        }
        (m, p) => {
            answer.extend_from_slice(
                serde_json::json!({"error": format!("es_sink: {m} {p} is not served")})
                    .to_string()
                    .as_bytes(),
            );
            400
        }
    }
}

/// Writes the answer to a bulk body whose items all succeed, counting documents per index.
fn bulk_answer(text: &[u8], per_index: &mut BTreeMap<String, u64>, answer: &mut Vec<u8>) {
    answer.extend_from_slice(br#"{"errors":false,"items":["#);
    let finder = memchr::memmem::Finder::new(br#""_index":""#);
    let (mut index, mut count) = (None::<&[u8]>, 0u64);
    let mut flush = |index: Option<&[u8]>, count: u64| {
        if count > 0 {
            let name = String::from_utf8_lossy(index.unwrap_or(b"_default")).into_owned();
            *per_index.entry(name).or_default() += count;
        }
    };
    // Lines found with memchr (a byte-by-byte split is the sink's slowest part at a million events/s).
    let mut rest = text;
    let mut lines = std::iter::from_fn(move || loop {
        if rest.is_empty() {
            return None;
        }
        let end = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
        let line = &rest[..end];
        rest = &rest[(end + 1).min(rest.len())..];
        if !line.trim_ascii().is_empty() {
            return Some(line);
        }
    });
    let mut first = true;
    while let Some(action) = lines.next() {
        let _document = lines.next();
        let kind: &[u8] = if action.starts_with(br#"{"index""#) {
            b"index"
        } else {
            b"create"
        };
        if !first {
            answer.push(b',');
        }
        first = false;
        answer.extend_from_slice(b"{\"");
        answer.extend_from_slice(kind);
        answer.extend_from_slice(br#"":{"status":201}}"#);
        let name = finder.find(action).and_then(|i| {
            let rest = &action[i + 10..];
            memchr::memchr(b'"', rest).map(|e| &rest[..e])
        });
        if name != index {
            flush(index, count);
            (index, count) = (name, 0);
        }
        count += 1;
    }
    flush(index, count);
    answer.extend_from_slice(b"]}");
}

/// This process's user + system CPU seconds so far.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage writes into the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(u.ru_utime) + secs(u.ru_stime)
}
