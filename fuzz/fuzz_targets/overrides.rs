//! `-E key=value` overrides over the configs the project ships (`s3logsbeat.reference.yml`,
//! `s3logsbeat.yml`, `config/*.yml`), through `load::load_str(text, name, overrides)` and
//! `Settings::validate`, as `run` and `test config` do. In: byte 0 picks the config; the rest is the
//! overrides, one a line; a line starting with byte 1 names a key of that config by the next byte
//! (its dotted keys in order, list entries included) and the rest of the line follows the key
//! (`=value`, or `.more=value`). Inputs longer than [`MAX_INPUT`] are skipped: longer ones reach the
//! known quadratic and exponential cases (G6, G7), which are being fixed in the loader. Out: nothing;
//! what must hold:
//!
//! - no panic, and an answer within libFuzzer's `-timeout`;
//! - every error and warning says where it comes from: the `-E` that set the value (one of those
//!   given, written `-E key=value`, a long one cut short with `…`) or a line of the file.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use s3logsbeat::config::{load, ConfigError, Mode, Settings};
use s3logsbeat::config::tree::Value;

/// The longest input looked at (see the module doc).
const MAX_INPUT: usize = 512;

/// The shipped configs, by name.
const CONFIGS: &[(&str, &str)] = &[
    (
        "s3logsbeat.reference.yml",
        include_str!("../../s3logsbeat.reference.yml"),
    ),
    ("s3logsbeat.yml", include_str!("../../s3logsbeat.yml")),
    ("alb.yml", include_str!("../../config/alb.yml")),
    (
        "alb_connection.yml",
        include_str!("../../config/alb_connection.yml"),
    ),
    (
        "cloudfront.yml",
        include_str!("../../config/cloudfront.yml"),
    ),
    (
        "cloudtrail.yml",
        include_str!("../../config/cloudtrail.yml"),
    ),
    (
        "cloudwatch.yml",
        include_str!("../../config/cloudwatch.yml"),
    ),
    ("custom.yml", include_str!("../../config/custom.yml")),
    ("elb.yml", include_str!("../../config/elb.yml")),
    ("json.yml", include_str!("../../config/json.yml")),
    ("mixed.yml", include_str!("../../config/mixed.yml")),
    ("nlb.yml", include_str!("../../config/nlb.yml")),
    ("s3access.yml", include_str!("../../config/s3access.yml")),
    ("vpcflow.yml", include_str!("../../config/vpcflow.yml")),
    ("waf.yml", include_str!("../../config/waf.yml")),
];

/// Each config's dotted keys (`output.elasticsearch.hosts`, `s3logsbeat.inputs.0.log_format`), read
/// once: what a line starting with byte 1 names.
static KEYS: LazyLock<Vec<Vec<String>>> = LazyLock::new(|| {
    CONFIGS
        .iter()
        .map(|(name, text)| {
            let loaded = load::load_str(text, name, &[]).expect("a shipped config loads");
            let mut keys = Vec::new();
            flatten(&loaded.tree, "", &mut keys);
            keys
        })
        .collect()
});

fn flatten(v: &Value, at: &str, out: &mut Vec<String>) {
    let join = |k: &str| {
        if at.is_empty() {
            k.to_string()
        } else {
            format!("{at}.{k}")
        }
    };
    match v {
        Value::Mapping(m) => {
            for (k, v) in m {
                let key = join(k.as_str());
                out.push(key.clone());
                flatten(v, &key, out);
            }
        }
        Value::Sequence(s) => {
            for (i, v) in s.iter().enumerate() {
                let key = join(&i.to_string());
                out.push(key.clone());
                flatten(v, &key, out);
            }
        }
        _ => {}
    }
}

/// Asserts that `e` says where it comes from.
fn placed(e: &ConfigError, overrides: &[String]) {
    match &e.set_by {
        // A long -E is quoted cut short, with `…` (an error quotes enough to recognise it).
        Some(by) => assert!(
            overrides.iter().any(|o| {
                let written = format!("-E {o}");
                by == &written
                    || by
                        .strip_suffix('…')
                        .is_some_and(|start| written.starts_with(start))
            }),
            "{e}: set by {by:?}, which is not one of {overrides:?}"
        ),
        None => assert!(
            e.line.is_some(),
            "{e}: names neither its -E nor a line ({overrides:?})"
        ),
    }
}

fuzz_target!(|data: &[u8]| {
    if data.is_empty() || data.len() > MAX_INPUT {
        return;
    }
    let which = data[0] as usize % CONFIGS.len();
    let (name, text) = CONFIGS[which];
    let Ok(rest) = std::str::from_utf8(&data[1..]) else {
        return;
    };
    let keys = &KEYS[which];
    let overrides: Vec<String> = rest
        .split('\n')
        .filter(|l| !l.is_empty())
        .map(|l| match l.as_bytes() {
            [1, k, ..] if !keys.is_empty() => {
                let tail = std::str::from_utf8(&l.as_bytes()[2..]).unwrap_or("");
                format!("{}{tail}", keys[*k as usize % keys.len()])
            }
            _ => l.to_string(),
        })
        .collect();
    match load::load_str(text, name, &overrides) {
        Err(errors) => {
            assert!(!errors.is_empty());
            for e in &errors {
                placed(e, &overrides);
            }
        }
        Ok(loaded) => {
            for e in &loaded.errors {
                placed(e, &overrides);
            }
            match Settings::validate(loaded, std::path::Path::new(name), Mode::All) {
                Ok(s) => {
                    for w in &s.warnings {
                        placed(w, &overrides);
                    }
                }
                Err(errors) => {
                    assert!(!errors.is_empty());
                    for e in &errors {
                        placed(e, &overrides);
                    }
                }
            }
        }
    }
});
