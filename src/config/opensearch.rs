//! What `output.opensearch` adds to the keys of `output.elasticsearch` (which `config/outputs.rs` checks
//! under `output.opensearch` with the same code), checked once: `aws` (requests signed with SigV4 for `es`
//! or `aoss`) and `document_id` in, [`OpenSearchSettings`] out; and `setup.ism`, [`IsmSettings`].
//!
//! What must stay true: the region and service signed for are known before anything is sent (given, or
//! read from the host name, or left to the environment's region at start-up); a signed output takes no
//! other authentication.

use super::raw;
pub use super::raw::DocumentId;
use super::Problems;

const K: &str = "output.opensearch";

/// What `output.opensearch` adds to the Elasticsearch output.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpenSearchSettings {
    /// Signing, for Amazon OpenSearch Service and Serverless; `None`: a self-managed cluster.
    pub sigv4: Option<SigV4Settings>,
    /// The `_id` of each document.
    pub document_id: DocumentId,
}

/// The AWS service signed for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    /// Managed domains (`es`).
    Es,
    /// Serverless collections (`aoss`).
    Aoss,
}

impl Service {
    /// The signing name.
    pub fn name(self) -> &'static str {
        match self {
            Service::Es => "es",
            Service::Aoss => "aoss",
        }
    }
}

/// `output.opensearch.aws`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigV4Settings {
    /// The region signed for; `None`: the environment's, resolved at start-up.
    pub region: Option<String>,
    /// The service signed for.
    pub service: Service,
    /// A role to assume.
    pub role_arn: Option<String>,
    /// Its external id.
    pub external_id: Option<String>,
    /// A shared-config profile.
    pub profile: Option<String>,
}

/// The region and service in an Amazon OpenSearch host name (`search-x.eu-west-1.es.amazonaws.com`,
/// `id.us-east-1.aoss.amazonaws.com`), if it is one.
pub fn from_host(url: &str) -> Option<(String, Service)> {
    let host = url::Url::parse(url).ok()?.host_str()?.to_string();
    let labels: Vec<&str> = host.split('.').collect();
    let n = labels.len();
    if n < 4 || labels[n - 2] != "amazonaws" || labels[n - 1] != "com" {
        return None;
    }
    let service = match labels[n - 3] {
        "es" => Service::Es,
        "aoss" => Service::Aoss,
        _ => return None,
    };
    Some((labels[n - 4].to_string(), service))
}

/// Checks what `output.opensearch` adds (`first_host`: its first host, checked, for the region and
/// service in its name).
pub(super) fn validate(
    c: &raw::Elasticsearch,
    first_host: Option<&str>,
    p: &mut Problems,
) -> Option<OpenSearchSettings> {
    let before = p.len();
    let from_host = first_host.and_then(from_host);
    let sigv4 = c.aws.as_ref().map(|a| {
        let service = match a.service.as_deref() {
            None => from_host.as_ref().map_or(Service::Es, |(_, s)| *s),
            Some("es") => Service::Es,
            Some("aoss") => Service::Aoss,
            Some(other) => {
                p.push(
                    format!("{K}.aws.service"),
                    format!("{K}.aws.service {other:?} is neither es (managed domains) nor aoss (Serverless)"),
                );
                Service::Es
            }
        };
        SigV4Settings {
            region: a
                .region
                .clone()
                .or_else(|| from_host.as_ref().map(|(r, _)| r.clone())),
            service,
            role_arn: a.role_arn.clone(),
            external_id: a.external_id.clone(),
            profile: a.profile.clone(),
        }
    });
    if sigv4.is_some() {
        for (key, there) in [
            ("username", c.username.is_some()),
            ("api_key", c.api_key.is_some()),
        ] {
            if there {
                p.push(
                    format!("{K}.{key}"),
                    format!("{K}.{key} and {K}.aws exclude each other: requests are signed with AWS credentials"),
                );
            }
        }
    }
    let document_id = c.document_id.unwrap_or_default();
    if let Some(s) = &sigv4 {
        if s.service == Service::Aoss && document_id == DocumentId::Event {
            p.warn(
                format!("{K}.document_id"),
                format!("{K}: Serverless time-series collections refuse document ids; for one, set {K}.document_id: none (a retried bulk may then index a document twice)"),
            );
        }
    }
    (p.len() == before).then_some(OpenSearchSettings { sigv4, document_id })
}

/// `setup.ism`: an Index State Management policy for the indices the template covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IsmSettings {
    /// The policy's name.
    pub name: String,
    /// Rollover conditions (`min_size`, `min_index_age`), if any.
    pub rollover: Vec<(&'static str, String)>,
    /// Delete an index at this age, if set.
    pub delete_after: Option<String>,
    /// Replace a policy of the same name.
    pub overwrite: bool,
}

/// An OpenSearch time value (`30d`, `12h`) or size (`50gb`).
fn ism_value(v: &str, size: bool) -> bool {
    let units: &[&str] = if size {
        &["b", "kb", "mb", "gb", "tb", "pb"]
    } else {
        &["d", "h", "m", "s", "ms", "micros", "nanos"]
    };
    let v = v.trim().to_ascii_lowercase();
    units.iter().any(|u| {
        v.strip_suffix(u)
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
    })
}

/// Checks `setup.ism` (`opensearch`: the output is `output.opensearch`).
pub(super) fn ism(
    raw: Option<&raw::Ism>,
    opensearch: bool,
    p: &mut Problems,
) -> Option<IsmSettings> {
    let i = raw?;
    if i.enabled == Some(false) {
        return None;
    }
    if !opensearch {
        p.push(
            "setup.ism",
            "setup.ism applies to output.opensearch (Index State Management); Elasticsearch's lifecycle is ILM, which s3logsbeat leaves to Kibana",
        );
        return None;
    }
    let mut ok = true;
    let mut check = |key: &str, v: &Option<String>, size: bool| {
        let v = v.as_ref()?;
        if ism_value(v, size) {
            Some(v.trim().to_ascii_lowercase())
        } else {
            let what = if size {
                "a size such as 50gb"
            } else {
                "an age such as 30d or 12h"
            };
            p.push(
                format!("setup.ism.{key}"),
                format!("setup.ism.{key} {v:?} is not {what}"),
            );
            ok = false;
            None
        }
    };
    let mut rollover = Vec::new();
    if let Some(v) = check("rollover_min_size", &i.rollover_min_size, true) {
        rollover.push(("min_size", v));
    }
    if let Some(v) = check("rollover_min_index_age", &i.rollover_min_index_age, false) {
        rollover.push(("min_index_age", v));
    }
    let delete_after = check("delete_min_index_age", &i.delete_min_index_age, false);
    if ok && rollover.is_empty() && delete_after.is_none() {
        p.push(
            "setup.ism",
            "setup.ism has nothing to do: set rollover_min_size, rollover_min_index_age or delete_min_index_age",
        );
        return None;
    }
    ok.then(|| IsmSettings {
        name: i.policy_name.clone().unwrap_or_else(|| "s3logsbeat".into()),
        rollover,
        delete_after,
        overwrite: i.overwrite,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_and_service_from_host_names() {
        assert_eq!(
            from_host("https://search-logs-abc.eu-west-1.es.amazonaws.com"),
            Some(("eu-west-1".into(), Service::Es))
        );
        assert_eq!(
            from_host("https://0abc.us-east-1.aoss.amazonaws.com:443"),
            Some(("us-east-1".into(), Service::Aoss))
        );
        assert_eq!(from_host("http://127.0.0.1:9200"), None);
        assert_eq!(from_host("https://s3.eu-west-1.amazonaws.com"), None);
    }
}
