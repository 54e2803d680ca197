//! `path.*`: where s3logsbeat looks for and writes its files, as in beats. `path.home` defaults to the
//! directory of the binary; `path.config` to `path.home`; `path.data` and `path.logs` to `data` and `logs`
//! under it. `--path.*` flags are `-E path.*=…` overrides, and `${path.home}` in any value is this.

use std::path::{Path, PathBuf};

use super::tree::Value;

/// The default of `path.home`: the binary's directory (the current directory if that is unknown).
pub fn default_home() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The value of `path.home|config|data|logs` in a config tree, defaults applied.
pub fn default_for(name: &str, tree: &Value) -> Option<String> {
    let get = |k: &str| {
        tree.get("path")
            .and_then(|p| p.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let home = get("home").unwrap_or_else(|| default_home().display().to_string());
    match name {
        "path.home" => Some(home),
        "path.config" => Some(get("config").unwrap_or(home)),
        "path.data" => Some(get("data").unwrap_or_else(|| format!("{home}/data"))),
        "path.logs" => Some(get("logs").unwrap_or_else(|| format!("{home}/logs"))),
        _ => None,
    }
}

/// Validated paths.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathSettings {
    /// `path.home`.
    pub home: PathBuf,
    /// `path.config`.
    pub config: PathBuf,
    /// `path.data`.
    pub data: PathBuf,
    /// `path.logs`.
    pub logs: PathBuf,
}

impl PathSettings {
    /// From the raw `path` block.
    pub fn from_raw(p: &super::raw::Paths) -> PathSettings {
        let home = p
            .home
            .clone()
            .map(PathBuf::from)
            .unwrap_or_else(default_home);
        PathSettings {
            config: p
                .config
                .clone()
                .map(PathBuf::from)
                .unwrap_or_else(|| home.clone()),
            data: p
                .data
                .clone()
                .map(PathBuf::from)
                .unwrap_or_else(|| home.join("data")),
            logs: p
                .logs
                .clone()
                .map(PathBuf::from)
                .unwrap_or_else(|| home.join("logs")),
            home,
        }
    }
}
