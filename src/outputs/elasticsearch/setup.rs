//! What `test output`, `setup` and the start-up ask of Elasticsearch outside delivery: who answers at each
//! host (`GET /`: version and cluster name, or the connection, TLS or authentication error), and the index
//! template (`PUT _index_template/<name>`, kept when one exists unless `overwrite`).
//!
//! Nothing here touches events: a failure is reported to the caller, which decides whether it matters
//! (`test output` and `setup` exit non-zero; the daemon logs it and delivers anyway).

use reqwest::Method;
use serde_json::Value;

use super::transport::Transport;

/// What a host said to `GET /`: `Ok("Elasticsearch 8.15.3, cluster docker-cluster")` or why not; with
/// the index template's name, whether it is installed.
pub async fn check(t: &Transport, template: Option<&str>) -> Vec<(String, Result<String, String>)> {
    let mut out = Vec::new();
    for url in t.hosts.urls() {
        let r = match t.request(Method::GET, &url, "/", None).await {
            Err(e) => Err(e),
            // Serverless has no `GET /`: a 404 is an answer, and the signature was accepted.
            Ok((404, _)) if is_serverless(t) => Ok(format!(
                "OpenSearch Serverless (no version to read), signature accepted{}",
                if t.sends_ids() {
                    "; documents go with ids (document_id: event), which time-series collections refuse: set output.opensearch.document_id: none for one"
                } else {
                    ""
                }
            )),
            Ok((403, body)) if t.signer().is_some() => Err(super::sigv4::explain_403(
                &body,
                t.signer().expect("checked"),
            )),
            Ok((200, body)) => {
                let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                let distribution = match v["version"]["distribution"].as_str() {
                    Some("opensearch") => "OpenSearch",
                    _ => "Elasticsearch",
                };
                match (v["version"]["number"].as_str(), v["cluster_name"].as_str()) {
                    (Some(version), Some(cluster)) => {
                        Ok(format!("{distribution} {version}, cluster {cluster}"))
                    }
                    _ => Err(format!(
                        "answered 200 but not as Elasticsearch does: {}",
                        snippet(&body)
                    )),
                }
            }
            Ok((401, _)) => {
                Err("authentication failed (401): check username/password or api_key".into())
            }
            Ok((403, body)) => Err(format!("forbidden (403): {}", snippet(&body))),
            Ok((s, body)) => Err(format!("HTTP {s}: {}", snippet(&body))),
        };
        let r = match (r, template) {
            (Ok(said), Some(name)) => {
                let path = format!(
                    "/_index_template/{}",
                    crate::percent::encode(name, crate::percent::Set::QueryValue)
                );
                let installed = match t.request(Method::HEAD, &url, &path, None).await {
                    Ok((200, _)) => format!("index template {name} installed"),
                    Ok((404, _)) => format!(
                        "index template {name} not installed (s3logsbeat setup installs it)"
                    ),
                    Ok((s, _)) => format!("index template {name}: HTTP {s}"),
                    Err(e) => format!("index template {name}: {e}"),
                };
                Ok(format!("{said}; {installed}"))
            }
            (r, _) => r,
        };
        out.push((url, r));
    }
    out
}

/// Installs the Index State Management policy `name` on the first host that answers; kept when one exists
/// unless `overwrite` (then replaced over the version read, as OpenSearch requires).
pub async fn install_ism(
    t: &Transport,
    name: &str,
    body: &Value,
    overwrite: bool,
) -> Result<String, TemplateError> {
    let path = format!(
        "/_plugins/_ism/policies/{}",
        crate::percent::encode(name, crate::percent::Set::QueryValue)
    );
    let mut last = String::from("no host");
    for url in t.hosts.urls() {
        let put = match t.request(Method::GET, &url, &path, None).await {
            Ok((200, _)) if !overwrite => {
                return Ok(format!(
                    "ISM policy {name} exists on {url}: kept (setup.ism.overwrite: false)"
                ));
            }
            Ok((200, b)) => {
                let v: Value = serde_json::from_str(&b).unwrap_or(Value::Null);
                format!(
                    "{path}?if_seq_no={}&if_primary_term={}",
                    v["_seq_no"].as_i64().unwrap_or(0),
                    v["_primary_term"].as_i64().unwrap_or(1)
                )
            }
            Ok((404, _)) => path.clone(),
            Ok((s, b)) if s < 500 => {
                return Err(TemplateError::Refused(format!(
                    "{url}: GET {path}: HTTP {s}: {}",
                    snippet(&b)
                )))
            }
            Ok((s, b)) => {
                last = format!("{url}: GET {path}: HTTP {s}: {}", snippet(&b));
                continue;
            }
            Err(e) => {
                last = format!("{url}: {e}");
                continue;
            }
        };
        match t.request(Method::PUT, &url, &put, Some(body)).await {
            Ok((200 | 201, _)) => return Ok(format!("ISM policy {name} installed on {url}")),
            Ok((s, b)) if s < 500 => {
                return Err(TemplateError::Refused(format!(
                    "{url}: PUT {path}: HTTP {s}: {}",
                    snippet(&b)
                )))
            }
            Ok((s, b)) => last = format!("{url}: PUT {path}: HTTP {s}: {}", snippet(&b)),
            Err(e) => last = format!("{url}: {e}"),
        }
    }
    Err(TemplateError::Unreachable(last))
}

fn is_serverless(t: &Transport) -> bool {
    t.signer()
        .is_some_and(|s| s.service() == crate::config::opensearch::Service::Aoss)
}

/// The template as `url` takes it: Elasticsearch's as it is; for OpenSearch without `flattened`
/// (`flat_object` from 2.7 on, read from `GET /`; Serverless and older versions keep such objects in
/// `_source` only).
async fn as_cluster_takes_it(t: &Transport, url: &str, body: &Value) -> Value {
    if !t.is_opensearch() {
        return body.clone();
    }
    let flat_object = !is_serverless(t)
        && match t.request(Method::GET, url, "/", None).await {
            Ok((200, b)) => {
                let v: Value = serde_json::from_str(&b).unwrap_or(Value::Null);
                let n: Vec<u64> = v["version"]["number"]
                    .as_str()
                    .unwrap_or("0")
                    .split('.')
                    .take(2)
                    .map(|x| x.parse().unwrap_or(0))
                    .collect();
                n.first().copied().unwrap_or(0) > 2
                    || (n.first() == Some(&2) && n.get(1).copied().unwrap_or(0) >= 7)
            }
            _ => false,
        };
    super::template::for_opensearch(body, flat_object)
}

/// Why the index template was not installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    /// A host answered and refused it (no privilege, a template Elasticsearch will not take): final,
    /// another host would refuse it too.
    Refused(String),
    /// No host could be reached: worth trying again.
    Unreachable(String),
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TemplateError::Refused(why) | TemplateError::Unreachable(why) => f.write_str(why),
        }
    }
}

/// Installs `body` as the index template `name` on the first host that answers. Kept (and said so) when
/// one exists and `overwrite` is false.
pub async fn install_template(
    t: &Transport,
    name: &str,
    body: &Value,
    overwrite: bool,
) -> Result<String, TemplateError> {
    let path = format!(
        "/_index_template/{}",
        crate::percent::encode(name, crate::percent::Set::QueryValue)
    );
    let mut last = String::from("no host");
    let mut refused = None;
    for url in t.hosts.urls() {
        if !overwrite {
            match t.request(Method::HEAD, &url, &path, None).await {
                Ok((200, _)) => {
                    return Ok(format!(
                    "index template {name} exists on {url}: kept (setup.template.overwrite: false)"
                ))
                }
                Ok((404, _)) => {}
                // Another 4xx (401, 403): try the next host, and if none does better, that answer is
                // the refusal; a 5xx is a cluster not ready yet.
                Ok((s, b)) => {
                    let why = format!("{url}: HEAD {path}: HTTP {s}: {}", snippet(&b));
                    if s < 500 {
                        refused = Some(why);
                    } else {
                        last = why;
                    }
                    continue;
                }
                Err(e) => {
                    last = format!("{url}: {e}");
                    continue;
                }
            }
        }
        let body = as_cluster_takes_it(t, &url, body).await;
        match t.request(Method::PUT, &url, &path, Some(&body)).await {
            Ok((200, _)) => return Ok(format!("index template {name} installed on {url}")),
            Ok((s, b)) if s < 500 => {
                // A refusal from a host that answers is final: another host would refuse it too.
                return Err(TemplateError::Refused(format!(
                    "{url}: PUT {path}: HTTP {s}: {}",
                    snippet(&b)
                )));
            }
            // A cluster that is not ready (503 while it starts) answers again later.
            Ok((s, b)) => last = format!("{url}: PUT {path}: HTTP {s}: {}", snippet(&b)),
            Err(e) => last = format!("{url}: {e}"),
        }
    }
    Err(match refused {
        Some(why) => TemplateError::Refused(why),
        None => TemplateError::Unreachable(last),
    })
}

fn snippet(body: &str) -> String {
    let b = body.trim();
    match b.char_indices().nth(300) {
        Some((i, _)) => format!("{}...", &b[..i]),
        None => b.to_string(),
    }
}
