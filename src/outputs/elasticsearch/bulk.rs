//! The `_bulk` wire format: documents in, an NDJSON body out; a response in, one status per document out.
//!
//! Reference: Elasticsearch's bulk API (the team's `elasticsearch-bulk.md`; pinned examples in
//! `tests/fixtures/elasticsearch/`, which the test double is checked against too). What must stay true:
//! - Every document is sent with `create` and its own `_id`, and no `_type`, so 7.x and 8.x accept it and
//!   a document indexed before answers 409 instead of being written twice; only under
//!   `output.opensearch.document_id: none` with `index` and no `_id` (Serverless time-series collections).
//! - Success is read item by item, never from `"errors"` alone; a response whose item count does not
//!   match the request, or that cannot be read, is a whole-request failure (the outcome is unknown: send
//!   again, the ids make that harmless).

use serde::Deserialize;

use crate::event::write_json_str;

/// The `filter_path` that keeps only what [`decode`] reads.
pub const FILTER_PATH: &str = "errors,items.*.status,items.*.error.type,items.*.error.reason";

/// One document to send.
#[derive(Debug, Clone, Copy)]
pub struct Action<'a> {
    /// Its index.
    pub index: &'a str,
    /// Its `_id`.
    pub id: &'a str,
    /// The document, one line of JSON.
    pub doc: &'a str,
}

/// The NDJSON body of a bulk request.
pub fn encode<'a>(actions: impl Iterator<Item = Action<'a>>, size_hint: usize) -> Vec<u8> {
    encode_all(actions, size_hint, DocumentIds::Event)
}

/// [`encode`], with or without `_id`s.
pub fn encode_all<'a>(
    actions: impl Iterator<Item = Action<'a>>,
    size_hint: usize,
    ids: DocumentIds,
) -> Vec<u8> {
    let mut body = Vec::with_capacity(size_hint);
    for a in actions {
        encode_as(&mut body, a, ids);
    }
    body
}

/// Appends one action and its document to `body`.
pub fn encode_one(body: &mut Vec<u8>, a: Action<'_>) {
    encode_as(body, a, DocumentIds::Event);
}

/// Whether documents carry their event's `_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentIds {
    /// `create` with the event's `_id`.
    Event,
    /// `index` without `_id` (OpenSearch Serverless time-series collections refuse ids).
    None,
}

/// Appends one action and its document to `body`, with or without its `_id`.
pub fn encode_as(body: &mut Vec<u8>, a: Action<'_>, ids: DocumentIds) {
    match ids {
        DocumentIds::Event => {
            body.extend_from_slice(b"{\"create\":{\"_index\":");
            write_json_str(body, a.index);
            body.extend_from_slice(b",\"_id\":");
            write_json_str(body, a.id);
        }
        DocumentIds::None => {
            body.extend_from_slice(b"{\"index\":{\"_index\":");
            write_json_str(body, a.index);
        }
    }
    body.extend_from_slice(b"}}\n");
    body.extend_from_slice(a.doc.as_bytes());
    body.push(b'\n');
}

/// What happened to one document.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ItemStatus {
    /// Its HTTP status.
    pub status: u16,
    /// The error, for a failed item.
    #[serde(default)]
    pub error: Option<serde_json::Value>,
}

impl ItemStatus {
    /// `error.type`, or empty.
    pub fn error_type(&self) -> &str {
        self.error
            .as_ref()
            .and_then(|e| e.get("type"))
            .and_then(|v| v.as_str())
            .unwrap_or("")
    }

    /// `error.reason`, or empty.
    pub fn reason(&self) -> &str {
        self.error
            .as_ref()
            .and_then(|e| e.get("reason"))
            .and_then(|v| v.as_str())
            .unwrap_or("")
    }
}

/// A bulk response, as far as it matters.
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    /// Per-item statuses, in request order.
    Items(Vec<ItemStatus>),
    /// 413: the body is larger than `http.max_content_length`.
    TooLarge,
    /// 401/403: the credentials are wrong or lack rights.
    Unauthorized(String),
    /// 429 for the whole request: Elasticsearch is overloaded; nothing was indexed.
    Busy(String),
    /// Any other whole-request failure (429, 5xx, an unreadable body): send it all again.
    Retry(String),
}

#[derive(Deserialize)]
struct Body {
    #[serde(default)]
    items: Vec<Item>,
}

/// One item of a response: `{"create": {...}}` (or `{"index": {...}}` for documents sent without an
/// id). A struct, not a map: read without allocating per item (the map's key and table were 3% of the
/// Elasticsearch drain's CPU in `perf`). Other keys are skipped, so an item without either reads as one.
#[derive(Deserialize)]
struct Item {
    #[serde(default)]
    create: Option<ItemStatus>,
    #[serde(default)]
    index: Option<ItemStatus>,
}

/// Reads a response with `status` and `body` to a request of `sent` documents.
pub fn decode(status: u16, body: &[u8], sent: usize) -> Response {
    match status {
        200 => {}
        413 => return Response::TooLarge,
        401 | 403 => return Response::Unauthorized(format!("HTTP {status}: {}", snippet(body))),
        429 => return Response::Busy(format!("HTTP 429: {}", snippet(body))),
        s => return Response::Retry(format!("HTTP {s}: {}", snippet(body))),
    }
    let parsed: Body = match serde_json::from_slice(body) {
        Ok(p) => p,
        Err(e) => {
            return Response::Retry(format!("unreadable bulk response ({e}): {}", snippet(body)))
        }
    };
    if parsed.items.len() != sent {
        return Response::Retry(format!(
            "bulk response has {} items for {sent} actions",
            parsed.items.len()
        ));
    }
    Response::Items(
        parsed
            .items
            .into_iter()
            .map(|m| {
                m.create.or(m.index).unwrap_or(ItemStatus {
                    status: 500,
                    error: Some(serde_json::json!({"type": "s3logsbeat", "reason": "item has no create or index result"})),
                })
            })
            .collect(),
    )
}

/// The start of a body, for messages.
pub fn snippet(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[..b.len().min(300)]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_ids_actions_are_index_and_their_items_are_read() {
        let a = Action {
            index: "i",
            id: "abc",
            doc: "{}",
        };
        let body = encode_all([a].into_iter(), 0, DocumentIds::None);
        assert_eq!(
            String::from_utf8(body).unwrap(),
            "{\"index\":{\"_index\":\"i\"}}\n{}\n"
        );
        let r = decode(
            200,
            br#"{"errors":false,"items":[{"index":{"status":201}}]}"#,
            1,
        );
        assert_eq!(
            r,
            Response::Items(vec![ItemStatus {
                status: 201,
                error: None
            }])
        );
    }

    #[test]
    fn actions_are_create_with_the_id_and_every_line_ends_with_a_newline() {
        let body = encode(
            [Action {
                index: "i",
                id: "a\"b",
                doc: "{\"x\":1}",
            }]
            .into_iter(),
            0,
        );
        assert_eq!(
            String::from_utf8(body).unwrap(),
            "{\"create\":{\"_index\":\"i\",\"_id\":\"a\\\"b\"}}\n{\"x\":1}\n"
        );
    }

    /// Items are read in order; an item with another action than `create` or `index` fails as a 500 of
    /// ours, and keys we do not ask for are skipped.
    #[test]
    fn items_without_a_create_result_fail_alone() {
        let body = br#"{"errors":true,"took":3,"items":[{"create":{"status":201,"_id":"a"}},{"update":{"status":200}},{"create":{"status":409,"error":{"type":"version_conflict_engine_exception","reason":"exists"}}}]}"#;
        let Response::Items(items) = decode(200, body, 3) else {
            panic!("not items")
        };
        let got: Vec<(u16, &str)> = items.iter().map(|i| (i.status, i.error_type())).collect();
        assert_eq!(
            got,
            [
                (201, ""),
                (500, "s3logsbeat"),
                (409, "version_conflict_engine_exception")
            ]
        );
        assert_eq!(items[1].reason(), "item has no create or index result");
    }

    #[test]
    fn whole_request_failures_and_short_responses() {
        assert_eq!(decode(413, b"", 1), Response::TooLarge);
        assert!(matches!(decode(401, b"{}", 1), Response::Unauthorized(_)));
        assert!(matches!(decode(429, b"{}", 1), Response::Busy(_)));
        assert!(matches!(decode(503, b"{}", 1), Response::Retry(_)));
        assert!(
            matches!(decode(200, b"{\"items\":[{\"create\":", 1), Response::Retry(m) if m.contains("unreadable"))
        );
        assert!(
            matches!(decode(200, b"{\"items\":[]}", 1), Response::Retry(m) if m.contains("0 items for 1"))
        );
    }

    /// The OpenSearch exchanges pinned in `tests/fixtures/opensearch/` (the double replays them too): our
    /// request is the fixture's (with `_id`s for `create`, without for `index`), and the response decodes
    /// to its statuses and reasons.
    #[test]
    fn the_documented_opensearch_exchanges_decode() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/opensearch");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if !name.starts_with("bulk-") || !name.ends_with(".json") {
                continue;
            }
            seen += 1;
            let f: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            let lines = f["request"]["body"].as_array().unwrap();
            let (op, ids) = if lines[0].get("index").is_some() {
                ("index", DocumentIds::None)
            } else {
                ("create", DocumentIds::Event)
            };
            let docs: Vec<String> = lines.chunks(2).map(|p| p[1].to_string()).collect();
            let actions: Vec<Action<'_>> = lines
                .chunks(2)
                .zip(&docs)
                .map(|(pair, d)| Action {
                    index: pair[0][op]["_index"].as_str().unwrap(),
                    id: pair[0][op]["_id"].as_str().unwrap_or("unused"),
                    doc: d,
                })
                .collect();
            let body = encode_all(actions.iter().copied(), 0, ids);
            let ours: Vec<serde_json::Value> = String::from_utf8(body)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            assert_eq!(&ours, lines, "{name}: request body");
            let response = serde_json::to_vec(&f["response"]).unwrap();
            let Response::Items(items) = decode(200, &response, actions.len()) else {
                panic!("{name}")
            };
            for (got, w) in items.iter().zip(f["response"]["items"].as_array().unwrap()) {
                let w = &w[op];
                assert_eq!(
                    u64::from(got.status),
                    w["status"].as_u64().unwrap(),
                    "{name}"
                );
                assert_eq!(
                    got.reason(),
                    w["error"]["reason"].as_str().unwrap_or(""),
                    "{name}"
                );
            }
        }
        assert_eq!(seen, 2);
    }

    /// The documented Elasticsearch 8 exchanges pinned in `tests/fixtures/elasticsearch/`, which the
    /// test double is checked against too: our request matches each fixture's, and our decoder reads
    /// each documented response to the statuses it holds.
    #[test]
    fn the_documented_bulk_exchanges_decode_item_by_item() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/elasticsearch");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if !name.starts_with("bulk-") || !name.ends_with(".json") {
                continue;
            }
            seen += 1;
            let f: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            let lines = f["request"]["body"].as_array().unwrap();
            // Our encoder writes the fixture's request, line for line.
            let actions: Vec<Action<'_>> = lines
                .chunks(2)
                .map(|pair| Action {
                    index: pair[0]["create"]["_index"].as_str().unwrap(),
                    id: pair[0]["create"]["_id"].as_str().unwrap(),
                    doc: "",
                })
                .collect();
            let docs: Vec<String> = lines.chunks(2).map(|p| p[1].to_string()).collect();
            let body = encode(
                actions
                    .iter()
                    .zip(&docs)
                    .map(|(a, d)| Action { doc: d, ..*a }),
                0,
            );
            let ours: Vec<serde_json::Value> = String::from_utf8(body)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            assert_eq!(&ours, lines, "{name}: request body");
            if let Some(fp) = f["request"]["query"]["filter_path"].as_str() {
                if name.contains("filtered") {
                    assert_eq!(fp, FILTER_PATH, "{name}: the filter_path we send");
                }
            }
            let status = f["status"].as_u64().unwrap() as u16;
            let response = serde_json::to_vec(&f["response"]).unwrap();
            let decoded = decode(status, &response, actions.len());
            match status {
                200 => {
                    let Response::Items(items) = decoded else {
                        panic!("{name}: {decoded:?}")
                    };
                    let want = f["response"]["items"].as_array().unwrap();
                    assert_eq!(items.len(), want.len(), "{name}");
                    for (got, w) in items.iter().zip(want) {
                        let w = &w["create"];
                        assert_eq!(
                            u64::from(got.status),
                            w["status"].as_u64().unwrap(),
                            "{name}"
                        );
                        assert_eq!(
                            got.error_type(),
                            w["error"]["type"].as_str().unwrap_or(""),
                            "{name}"
                        );
                        assert_eq!(
                            got.reason(),
                            w["error"]["reason"].as_str().unwrap_or(""),
                            "{name}"
                        );
                    }
                }
                401 => assert!(
                    matches!(decoded, Response::Unauthorized(_)),
                    "{name}: {decoded:?}"
                ),
                429 => assert!(matches!(decoded, Response::Busy(_)), "{name}: {decoded:?}"),
                _ => assert!(matches!(decoded, Response::Retry(_)), "{name}: {decoded:?}"),
            }
        }
        assert!(seen >= 5, "the bulk fixtures are there ({seen})");
    }
}
