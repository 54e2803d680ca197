//! The Elasticsearch index template: the formats in use in, a composable template (`_index_template`
//! body) out, with real mappings: `ip` for addresses, numbers for codes, ports, sizes and durations,
//! `date` for times, `keyword` for the rest (strings the parsers add later, and `fields.*`, map to
//! `keyword` by a dynamic template).
//!
//! Each format's fields and their types come from its descriptor (`crate::formats::Descriptor::fields`),
//! renamed by its ECS mapping under `field_names: ecs`; they must name every field its parser writes,
//! with a type that accepts the values it writes: `tests/component/template.rs` parses every sample and checks each
//! field against the template, so the tables cannot drift from the parsers.

use serde_json::{json, Map, Value};

use crate::config::{FieldNames, LogFormat, TemplateSettings};

pub use crate::formats::FieldType;

/// A field type's Elasticsearch mapping.
fn mapping(t: FieldType) -> Value {
    match t {
        FieldType::Keyword => json!({"type": "keyword", "ignore_above": 1024}),
        FieldType::Text => json!({"type": "text"}),
        FieldType::Ip => json!({"type": "ip"}),
        FieldType::Long => json!({"type": "long"}),
        FieldType::Double => json!({"type": "double"}),
        FieldType::Date => json!({"type": "date"}),
        FieldType::Boolean => json!({"type": "boolean"}),
        FieldType::Flattened => json!({"type": "flattened"}),
    }
}

use FieldType::{Date, Flattened, Keyword, Long, Text};

/// Fields of every event: enrichment, and what a line that did not parse carries.
pub const COMMON: &[(&str, FieldType)] = &[
    ("@timestamp", Date),
    ("message", Text),
    ("error.message", Text),
    ("log.file.path", Keyword),
    ("log.offset", Long),
    ("log.flags", Keyword),
    ("beat.name", Keyword),
    ("beat.hostname", Keyword),
    ("beat.version", Keyword),
    ("tags", Keyword),
];

/// The fields of `format`, from its descriptor; `json` and `custom` have none (their fields are the
/// log's own, or the config's: dynamic mappings).
pub fn fields(format: LogFormat) -> &'static [(&'static str, FieldType)] {
    format.descriptor().map_or(&[], |d| d.fields)
}

/// Every field the template declares for `format` under `names`: the common ones, the format's table
/// (renamed, copied or converted by [`crate::event::ecs::ecs_fields`] under ECS), and what ECS adds
/// ([`crate::event::ecs::added`]).
pub fn declared(format: LogFormat, names: FieldNames) -> Vec<(String, FieldType)> {
    let mut out: Vec<(String, FieldType)> =
        COMMON.iter().map(|(n, t)| (n.to_string(), *t)).collect();
    for (n, t) in fields(format) {
        match names {
            FieldNames::Ecs => out.extend(crate::event::ecs::ecs_fields(format, n, *t)),
            FieldNames::Original => out.push((n.to_string(), *t)),
        }
    }
    if names == FieldNames::Ecs {
        out.extend(
            crate::event::ecs::added(format)
                .into_iter()
                .map(|(n, t)| (n.to_string(), t)),
        );
    }
    out
}

/// The mapping type of `path` (dotted) for `format` under `names`, if the template declares it.
pub fn type_of(format: LogFormat, names: FieldNames, path: &str) -> Option<FieldType> {
    let declared = declared(format, names);
    declared
        .iter()
        .find(|(n, _)| n == path)
        .or_else(|| {
            // A leaf inside a flattened object is that object's.
            declared.iter().find(|(n, t)| {
                *t == Flattened
                    && path
                        .strip_prefix(n.as_str())
                        .is_some_and(|r| r.starts_with('.'))
            })
        })
        .map(|(_, t)| *t)
}

/// The formats the inputs read and the names they write them with, each pair once: what the template
/// covers.
pub fn formats_in_use(inputs: &[crate::config::InputSettings]) -> Vec<(LogFormat, FieldNames)> {
    let mut formats: Vec<(LogFormat, FieldNames)> = inputs
        .iter()
        .flat_map(|i| {
            i.formats
                .all()
                .into_iter()
                .map(|f| (f.format(), i.field_names))
        })
        .collect();
    formats.sort_by_key(|(f, n)| (f.name(), *n == FieldNames::Ecs));
    formats.dedup();
    formats
}

/// The `_index_template` body for `inputs` (format and field names of each; a field in several has one
/// type in all).
pub fn template(inputs: &[(LogFormat, FieldNames)], t: &TemplateSettings) -> Value {
    let mut properties = Map::new();
    for (format, names) in inputs {
        for (name, ty) in declared(*format, *names) {
            insert(&mut properties, &name, mapping(ty));
        }
    }
    let mut settings = json!({
        "index": {
            // WAF and JSON logs can carry many fields.
            "mapping": {"total_fields": {"limit": 10000}},
        }
    });
    merge(&mut settings, &t.settings);
    json!({
        "index_patterns": [t.pattern],
        // Above Elasticsearch's built-in `logs-*-*` templates (100), below hand-made ones.
        "priority": 150,
        "_meta": {"managed_by": "s3logsbeat", "version": env!("CARGO_PKG_VERSION")},
        "template": {
            "settings": settings,
            "mappings": {
                "date_detection": false,
                "dynamic_templates": [
                    {"strings_as_keyword": {
                        "match_mapping_type": "string",
                        "mapping": {"type": "keyword", "ignore_above": 1024},
                    }},
                ],
                "properties": properties,
            },
        },
    })
}

/// The template for OpenSearch: no `flattened` (OpenSearch has none): `flat_object` where the cluster
/// has it (OpenSearch 2.7 and later), else an object kept in `_source` and not indexed.
pub fn for_opensearch(body: &Value, flat_object: bool) -> Value {
    fn walk(v: &mut Value, flat_object: bool) {
        match v {
            Value::Object(m) => {
                if m.get("type").and_then(Value::as_str) == Some("flattened") {
                    *v = if flat_object {
                        json!({"type": "flat_object"})
                    } else {
                        json!({"type": "object", "enabled": false})
                    };
                    return;
                }
                for (_, x) in m.iter_mut() {
                    walk(x, flat_object);
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| walk(x, flat_object)),
            _ => {}
        }
    }
    let mut out = body.clone();
    walk(&mut out, flat_object);
    out
}

/// The body of an OpenSearch Index State Management policy (`PUT _plugins/_ism/policies/<name>`) for the
/// indices of `pattern`: a `hot` state that rolls over (when asked) and moves to `delete` at its age (when
/// asked).
pub fn ism_policy(ism: &crate::config::opensearch::IsmSettings, pattern: &str) -> Value {
    let mut hot_actions = Vec::new();
    if !ism.rollover.is_empty() {
        let conditions: Map<String, Value> = ism
            .rollover
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        hot_actions.push(json!({ "rollover": conditions }));
    }
    let mut states = vec![json!({
        "name": "hot",
        "actions": hot_actions,
        "transitions": match &ism.delete_after {
            Some(age) => json!([{"state_name": "delete", "conditions": {"min_index_age": age}}]),
            None => json!([]),
        },
    })];
    if ism.delete_after.is_some() {
        states.push(json!({"name": "delete", "actions": [{"delete": {}}], "transitions": []}));
    }
    json!({
        "policy": {
            "description": format!("s3logsbeat {}: the indices of {pattern}", env!("CARGO_PKG_VERSION")),
            "default_state": "hot",
            "states": states,
            "ism_template": [{"index_patterns": [pattern], "priority": 150}],
        }
    })
}

/// Puts `mapping` at the dotted `path` in a `properties` tree.
fn insert(properties: &mut Map<String, Value>, path: &str, mapping: Value) {
    match path.split_once('.') {
        None => {
            properties.entry(path.to_string()).or_insert(mapping);
        }
        Some((head, rest)) => {
            let node = properties
                .entry(head.to_string())
                .or_insert_with(|| json!({"properties": {}}));
            if let Some(Value::Object(children)) = node.get_mut("properties") {
                insert(children, rest, mapping);
            }
        }
    }
}

/// Deep-merges `extra` into `base` (index settings: `setup.template.settings`, dotted keys allowed).
fn merge(base: &mut Value, extra: &Value) {
    let Value::Object(extra) = extra else {
        return;
    };
    for (k, v) in extra {
        // `index.number_of_shards: 1` and `index: {number_of_shards: 1}` mean the same.
        let (head, rest) = match k.split_once('.') {
            Some((h, r)) => (h, Some(r)),
            None => (k.as_str(), None),
        };
        let v = match rest {
            Some(r) => {
                let mut nested = Value::Null;
                let mut m = Map::new();
                m.insert(r.to_string(), v.clone());
                merge_into_null(&mut nested, Value::Object(m));
                nested
            }
            None => v.clone(),
        };
        let slot = base
            .as_object_mut()
            .expect("settings are an object")
            .entry(head.to_string())
            .or_insert(Value::Null);
        if slot.is_object() && v.is_object() {
            merge(slot, &v);
        } else {
            *slot = v;
        }
    }
}

fn merge_into_null(slot: &mut Value, v: Value) {
    *slot = json!({});
    merge(slot, &v);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(extra: Value) -> TemplateSettings {
        TemplateSettings {
            ism: None,
            enabled: true,
            name: "s3logsbeat".into(),
            pattern: "s3logsbeat-*".into(),
            overwrite: false,
            settings: extra,
        }
    }

    #[test]
    fn mappings_are_typed_and_nested() {
        let t = template(
            &[(LogFormat::Alb, FieldNames::Original)],
            &settings(json!({})),
        );
        let p = &t["template"]["mappings"]["properties"];
        assert_eq!(p["@timestamp"]["type"], "date");
        assert_eq!(p["client_ip"]["type"], "ip");
        assert_eq!(p["elb_status_code"]["type"], "long");
        assert_eq!(p["target_processing_time"]["type"], "double");
        assert_eq!(p["request_url"]["type"], "keyword");
        assert_eq!(
            p["log"]["properties"]["file"]["properties"]["path"]["type"],
            "keyword"
        );
        assert_eq!(p["log"]["properties"]["offset"]["type"], "long");
        assert_eq!(t["index_patterns"], json!(["s3logsbeat-*"]));
        assert!(p.get("c_ip").is_none(), "only the formats asked for");
    }

    #[test]
    fn index_settings_merge_dotted_or_nested() {
        let t = template(
            &[],
            &settings(json!({"index.number_of_shards": 1, "index": {"codec": "best_compression"}})),
        );
        let s = &t["template"]["settings"]["index"];
        assert_eq!(s["number_of_shards"], 1);
        assert_eq!(s["codec"], "best_compression");
        assert_eq!(s["mapping"]["total_fields"]["limit"], 10000);
    }

    #[test]
    fn a_field_in_two_formats_or_namings_has_one_type() {
        let all: Vec<LogFormat> = LogFormat::all().collect();
        for names in [FieldNames::Original, FieldNames::Ecs] {
            for &a in &all {
                for &b in &all {
                    for (n, t) in declared(a, names) {
                        // The one known clash: a flow log's `version` is an integer (2 to 8), NLB's is
                        // the string "2.0". In one index, whichever input comes first maps it; keyword
                        // takes 2 as "2", and long coerces "2.0" to 2.
                        if n == "version" {
                            continue;
                        }
                        if let Some((_, u)) = declared(b, names).iter().find(|(m, _)| *m == n) {
                            assert_eq!(t, *u, "{n} in {a:?} and {b:?} ({names:?})");
                        }
                    }
                }
            }
        }
    }
}
