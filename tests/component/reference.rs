//! `s3logsbeat.reference.yml` against the config structs: it loads as a config with no error and no
//! warning (so nothing in it is unknown or stale), and every field of every struct in
//! `src/config/raw/` appears in it as a key (so nothing the program reads is missing), except the
//! libbeat keys that are only accepted for migration (listed below, documented in docs/configuration.md).

use std::collections::BTreeSet;
use std::process::Command;

use crate::common::repo;
use s3logsbeat::config::{tree::Value, yaml};

/// Keys accepted from beats configs and ignored or refused: documented in docs/configuration.md's
/// "Migration from the original" rather than offered in the reference.
const MIGRATION_ONLY: [&str; 12] = [
    "kafka",
    "redis",
    "xpack",
    "monitoring",
    "kibana",
    "dashboards",
    "ilm",
    "max_retries",
    "ttl",
    "slow_start",
    "proxy_use_local_resolver",
    "to_eventlog",
];

/// Field names of the structs in `raw.rs` (serde renames applied), with the struct they belong to.
fn struct_fields(src: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    let mut rename: Option<String> = None;
    for line in src.lines() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("pub struct ") {
            current = rest
                .split(|c: char| !c.is_alphanumeric() && c != '_')
                .next()
                .map(str::to_string);
            continue;
        }
        if t == "}" && !line.starts_with(' ') {
            current = None;
            continue;
        }
        if let Some(r) = t.strip_prefix("#[serde(rename = \"") {
            rename = r.split('"').next().map(str::to_string);
            continue;
        }
        let Some(s) = &current else { continue };
        if let Some(rest) = t.strip_prefix("pub ") {
            if let Some((name, _)) = rest.split_once(':') {
                let name = rename.take().unwrap_or_else(|| name.trim().to_string());
                out.push((s.clone(), name));
            }
        }
    }
    out
}

/// Every key of the YAML tree, at any depth, dotted keys split into their parts.
fn keys(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Mapping(m) => {
            for (k, v) in m {
                for part in k.split('.') {
                    out.insert(part.to_string());
                }
                keys(v, out);
            }
        }
        Value::Sequence(items) => {
            for v in items {
                keys(v, out);
            }
        }
        _ => {}
    }
}

#[test]
fn the_reference_config_loads_clean() {
    let file = repo().join("s3logsbeat.reference.yml");
    let out = Command::new(env!("CARGO_BIN_EXE_s3logsbeat"))
        .args(["test", "config", "-c"])
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stderr, "", "no warning either");
}

#[test]
fn every_config_field_is_in_the_reference() {
    let src: String = ["mod.rs", "inputs.rs", "outputs.rs"]
        .iter()
        .map(|f| std::fs::read_to_string(repo().join("src/config/raw").join(f)).unwrap())
        .collect();
    let fields = struct_fields(&src);
    assert!(
        fields.len() > 100,
        "the parser found only {} fields",
        fields.len()
    );
    let text = std::fs::read_to_string(repo().join("s3logsbeat.reference.yml")).unwrap();
    let tree: Value = yaml::from_str(&text).unwrap();
    let mut present = BTreeSet::new();
    keys(&tree, &mut present);
    let missing: Vec<String> = fields
        .iter()
        .filter(|(s, f)| {
            let migration_only = MIGRATION_ONLY.contains(&f.as_str())
                || (s == "Template" && f == "fields")
                || (s == "Logging" && f == "to_syslog");
            !present.contains(f) && !migration_only
        })
        .map(|(s, f)| format!("{s}.{f}"))
        .collect();
    assert!(
        missing.is_empty(),
        "config fields missing from s3logsbeat.reference.yml: {missing:?}"
    );
}
