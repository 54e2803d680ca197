//! How a format names its fields in the Elastic Common Schema (`field_names: ecs`): the [`Ecs`] mapping a
//! format's descriptor carries, and the small helpers its conversions and derivations are written with.
//! `event/ecs.rs` applies a mapping to an event; the index template reads the same mapping
//! ([`Ecs::table`], [`Conversion::into`], [`Ecs::derived`]), so the template and the events cannot
//! disagree.
//!
//! The names follow Elastic's AWS integration (and Filebeat's aws module before it): `source.ip`,
//! `http.response.status_code`, `cloud.account.id`, `aws.<dataset>.*`, ...
//!
//! What must stay true: a mapping renames, copies or converts a field, never drops one (a `-`
//! placeholder is absent in ECS); a conversion or derivation never panics on a value of an unexpected
//! type: it keeps the value as it is, or adds nothing.

use serde_json::{Map, Value};

use super::mapping::FieldType;

/// How one format's events get ECS names.
#[derive(Debug)]
pub struct Ecs {
    /// `event.dataset`, as Elastic names it (`event.module` is `aws`).
    pub dataset: &'static str,
    /// Original name (dotted) → ECS name, in order. A name listed twice is written to both (Elastic
    /// copies `account_id` to `cloud.account.id` and keeps `aws.vpcflow.account_id`); an object's name
    /// moves the whole object, and the template names its leaves under the new name.
    pub table: &'static [(&'static str, &'static str)],
    /// Where the fields the table does not name go.
    pub rest: Rest,
    /// `event.category`, where Elastic sets one for every event of the format.
    pub category: Option<&'static str>,
    /// ECS names whose values change form on the way.
    pub conversions: &'static [Conversion],
    /// Adds what ECS derives from the renamed fields (`event.outcome`, `event.duration`, ...); not run
    /// for a line that did not parse.
    pub derive: Option<fn(&mut Map<String, Value>)>,
    /// The fields [`Ecs::derive`] adds, with their mapping types (for the template).
    pub derived: &'static [(&'static str, FieldType)],
}

/// Where the fields a format's [`Ecs::table`] does not name go.
#[derive(Clone, Copy, Debug)]
pub enum Rest {
    /// They keep their names (formats whose table names every field their parser writes).
    Kept,
    /// Under this prefix, as named (the line formats' names are snake_case already), so that a column
    /// AWS adds later is not left under a name of its own.
    Under(&'static str),
    /// Under this prefix, their keys in snake_case at every depth (JSON logs' camelCase).
    Snake(&'static str),
}

/// An ECS name of a format's table whose value changes form, and the fields it becomes.
#[derive(Debug)]
pub struct Conversion {
    /// The ECS name, as the table writes it.
    pub name: &'static str,
    /// Every field [`Conversion::convert`] may write, with its mapping type (for the template).
    pub into: &'static [(&'static str, FieldType)],
    /// The value in, the fields out (names among [`Conversion::into`]); a value of another form is kept
    /// in one of them as it is.
    pub convert: fn(Value) -> Vec<(&'static str, Value)>,
}

/// The value at the dotted `path` of `doc`.
pub fn get<'a>(doc: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    match path.split_once('.') {
        None => doc.get(path),
        Some((head, rest)) => get(doc.get(head)?.as_object()?, rest),
    }
}

/// The string at the dotted `path` of `doc`, copied.
pub fn str_at(doc: &Map<String, Value>, path: &str) -> Option<String> {
    get(doc, path).and_then(Value::as_str).map(str::to_string)
}

/// Puts `v` at the dotted `path`, making the objects on the way; an object put where one is already is
/// merged into it.
pub fn put(doc: &mut Map<String, Value>, path: &str, v: Value) {
    match path.split_once('.') {
        None => match (doc.get_mut(path), v) {
            (Some(Value::Object(existing)), Value::Object(m)) => merge(existing, m),
            (_, v) => {
                doc.insert(path.to_string(), v);
            }
        },
        Some((head, rest)) => {
            let slot = doc
                .entry(head.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            if let Value::Object(m) = slot {
                put(m, rest, v);
            }
        }
    }
}

/// Merges `from` into `into`, objects into objects at every depth (keys as they are, dots included).
pub fn merge(into: &mut Map<String, Value>, from: Map<String, Value>) {
    for (k, v) in from {
        match (into.get_mut(&k), v) {
            (Some(Value::Object(existing)), Value::Object(m)) => merge(existing, m),
            (_, v) => {
                into.insert(k, v);
            }
        }
    }
}

/// Epoch seconds as an RFC 3339 time, if within the years 0000 to 9999.
pub fn epoch_seconds(secs: i64) -> Option<String> {
    let ms = secs.checked_mul(1000)?;
    Some(
        crate::fields::Timestamp::from_millis(ms)
            .checked()?
            .to_rfc3339(),
    )
}

/// A number as its decimal text (ECS keeps protocol numbers, listener ports and rule ids as keywords);
/// any other value as it is.
pub fn number_as_text(v: Value) -> Value {
    match v {
        Value::Number(n) => Value::String(n.to_string()),
        v => v,
    }
}

/// ECS's `network.transport` of an IANA protocol number, for the protocols flow logs carry.
pub fn transport(number: &str) -> Option<&'static str> {
    Some(match number {
        "0" => "hopopt",
        "1" => "icmp",
        "2" => "igmp",
        "6" => "tcp",
        "8" => "egp",
        "17" => "udp",
        "47" => "gre",
        "50" => "esp",
        "58" => "ipv6-icmp",
        "112" => "vrrp",
        "132" => "sctp",
        _ => return None,
    })
}

/// `network.type` (`ipv4` or `ipv6`) from `source.ip`, as Elastic derives it for network logs.
pub fn network_type(out: &mut Map<String, Value>) {
    if let Some(ip) = str_at(out, "source.ip") {
        let t = if ip.contains(':') { "ipv6" } else { "ipv4" };
        put(out, "network.type", Value::from(t));
    }
}

/// The HTTP access logs' `event.outcome` (from `http.response.status_code`: below 400 is a success) and
/// `event.duration` (`secs` in nanoseconds, when the log has it).
pub fn http_outcome_and_duration(out: &mut Map<String, Value>, secs: Option<f64>) {
    let status = get(out, "http.response.status_code").and_then(Value::as_u64);
    let outcome = match status {
        Some(s) if s < 400 => "success",
        Some(_) => "failure",
        None => "unknown",
    };
    put(out, "event.outcome", Value::from(outcome));
    if let Some(s) = secs {
        put(out, "event.duration", Value::from((s * 1e9).round() as u64));
    }
}

/// The sum of the non-negative seconds at `paths`, if every one is there (a load balancer's request,
/// backend and response times).
pub fn sum_of_seconds(out: &Map<String, Value>, paths: &[&str]) -> Option<f64> {
    paths
        .iter()
        .map(|p| get(out, p).and_then(Value::as_f64).filter(|v| *v >= 0.0))
        .sum::<Option<f64>>()
}

/// `terminatingRuleId` → `terminating_rule_id`.
pub fn snake_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    let mut prev_lower = false;
    for c in s.chars() {
        if c.is_ascii_uppercase() {
            if prev_lower {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
            prev_lower = false;
        } else {
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
            out.push(c);
        }
    }
    out
}
