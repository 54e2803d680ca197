//! `export config` without secrets: the merged config tree in, the same tree out with every secret
//! replaced by `<redacted>`. A secret is a value under a key that names one (`password`, `api_key`,
//! `key_passphrase`, `cloud.auth`, any `token`/`secret`, an `Authorization` header), the user part of a
//! URL (`https://user:pass@host`), or any value that came from an environment variable (`${VAR}`): such
//! values are how secrets are meant to reach a config, so none of them is printed.

use std::collections::HashSet;

use super::tree::Value;

/// What a secret is replaced by.
pub const REDACTED: &str = "<redacted>";

/// Key names whose values are secrets (compared in lower case, on the last part of the key).
const SECRET_KEYS: [&str; 9] = [
    "password",
    "passwd",
    "api_key",
    "key_passphrase",
    "passphrase",
    "secret_access_key",
    "session_token",
    "authorization",
    "auth",
];

/// `tree` with its secrets redacted; `from_env` are the dotted keys whose values came from `${VAR}`.
pub fn redact(tree: &Value, from_env: &[String]) -> Value {
    let mut t = tree.clone();
    let from_env: HashSet<&str> = from_env.iter().map(String::as_str).collect();
    walk(&mut t, &mut String::new(), &from_env);
    t
}

fn is_secret_key(key: &str) -> bool {
    let last = key.rsplit('.').next().unwrap_or(key).to_ascii_lowercase();
    SECRET_KEYS.contains(&last.as_str()) || last.contains("token") || last.contains("secret")
}

/// Redacts under `v`, whose dotted key is `key`: one buffer, grown and cut back as the walk goes, so
/// the work is linear in the tree however long its keys (the loader bounds how deep it is).
fn walk(v: &mut Value, key: &mut String, from_env: &HashSet<&str>) {
    match v {
        Value::Mapping(m) => {
            for (k, child) in m.iter_mut() {
                let len = key.len();
                if !key.is_empty() {
                    key.push('.');
                }
                key.push_str(k);
                walk(child, key, from_env);
                key.truncate(len);
            }
        }
        Value::Sequence(items) => {
            for (i, child) in items.iter_mut().enumerate() {
                let len = key.len();
                key.push('.');
                key.push_str(&i.to_string());
                walk(child, key, from_env);
                key.truncate(len);
            }
        }
        Value::Null => {}
        _ => {
            if is_secret_key(key) || from_env.contains(key.as_str()) {
                *v = Value::String(REDACTED.into());
            } else if let Value::String(s) = v {
                if let Some(clean) = without_userinfo(s) {
                    *s = clean;
                }
            }
        }
    }
}

/// `scheme://user:pass@host...` with the user part redacted; `None` when there is none.
fn without_userinfo(s: &str) -> Option<String> {
    let (scheme, rest) = s.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (_, host) = authority.rsplit_once('@')?;
    Some(format!("{scheme}://{REDACTED}@{host}{tail}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_by_name_by_url_and_from_the_environment_are_redacted() {
        let tree = super::super::yaml::read(
            "output:\n  elasticsearch:\n    hosts: ['https://u:p@es:9200/x']\n    username: elastic\n    password: hunter2\n    api_key: id:key\n    headers: {Authorization: Bearer abc}\n    ssl: {key_passphrase: pp}\ncloud: {auth: 'elastic:pw'}\ns3logsbeat:\n  inputs:\n    - {queues_url: ['https://sqs/q'], fields: {team: ops}}\nname: from-env\n",
        )
        .unwrap()
        .value;
        let out = redact(&tree, &["name".to_string()]);
        let text = super::super::yaml::to_string(&out);
        for secret in [
            "hunter2",
            "id:key",
            "Bearer abc",
            "pp",
            "elastic:pw",
            "u:p@",
            "from-env",
        ] {
            assert!(!text.contains(secret), "{secret} in:\n{text}");
        }
        assert!(text.contains("username: elastic"), "{text}");
        assert!(text.contains("https://<redacted>@es:9200/x"), "{text}");
        assert!(text.contains("team: ops"), "{text}");
        assert!(text.contains("https://sqs/q"), "{text}");
    }
}
