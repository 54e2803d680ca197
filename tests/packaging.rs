//! The packaging files say what the binary accepts: the Dockerfile's entrypoint flags, the systemd unit's
//! command lines and the Kubernetes example's config all pass `test config`. (Building the image and
//! starting the unit need Docker and systemd, which tests do not have: see the README.)

mod common;

use std::process::Command;

use common::{repo, TempDir};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_s3logsbeat"))
}

/// A directory holding the repository's `s3logsbeat.yml`, as the image and the unit expect.
fn config_dir(name: &str) -> TempDir {
    let dir = TempDir::new(name);
    std::fs::copy(repo().join("s3logsbeat.yml"), dir.0.join("s3logsbeat.yml")).unwrap();
    dir
}

#[test]
fn the_dockerfile_entrypoint_flags_are_accepted() {
    let text = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    let array = |prefix: &str| -> Vec<String> {
        let line = text
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} line"));
        serde_json::from_str(line[prefix.len()..].trim()).unwrap()
    };
    let entry = array("ENTRYPOINT ");
    let cmd = array("CMD ");
    assert_eq!(entry[0], "/usr/bin/s3logsbeat");
    assert_eq!(cmd, ["run", "-e"]);
    assert!(
        text.contains("--profile dist"),
        "the image ships the dist build"
    );
    assert!(text.contains("USER nonroot"), "non-root");
    let dir = config_dir("docker");
    // The entrypoint's flags, its config directory swapped for ours, in front of `test config`.
    let args: Vec<String> = entry[1..]
        .iter()
        .map(|a| {
            if a == "/etc/s3logsbeat" {
                dir.0.display().to_string()
            } else {
                a.clone()
            }
        })
        .collect();
    let out = bin().args(&args).args(["test", "config"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // And the default command parses with them (`run -e --help` stops before doing anything).
    let out = bin()
        .args(&args)
        .args(["run", "-e", "--help"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_systemd_unit_command_lines_are_accepted() {
    let text =
        std::fs::read_to_string(repo().join("packaging/systemd/s3logsbeat.service")).unwrap();
    let dir = config_dir("systemd");
    let line = |key: &str| -> Vec<String> {
        let l = text
            .lines()
            .find(|l| l.starts_with(key))
            .unwrap_or_else(|| panic!("no {key}"));
        l[key.len()..]
            .split_whitespace()
            .map(|a| a.replace("/etc/s3logsbeat", &dir.0.display().to_string()))
            .collect()
    };
    let pre = line("ExecStartPre=");
    assert_eq!(pre[0], "/usr/bin/s3logsbeat");
    let out = bin().args(&pre[1..]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let start = line("ExecStart=");
    let out = bin().args(&start[1..]).arg("--help").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("KillSignal=SIGTERM") && text.contains("NoNewPrivileges=yes"));
}

#[test]
fn the_kubernetes_example_config_is_valid() {
    let text =
        std::fs::read_to_string(repo().join("packaging/kubernetes/s3logsbeat.yaml")).unwrap();
    let docs: Vec<serde_yaml::Value> = text
        .split("\n---\n")
        .map(|d| serde_yaml::from_str(d).unwrap())
        .collect();
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["ServiceAccount", "ConfigMap", "Deployment"]);
    assert!(docs[0]["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].is_string());
    let pod = &docs[2]["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "s3logsbeat");
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["containers"][0]["readinessProbe"]["httpGet"]["path"],
        "/health"
    );
    let dir = TempDir::new("k8s");
    let cfg = dir.0.join("s3logsbeat.yml");
    std::fs::write(&cfg, docs[1]["data"]["s3logsbeat.yml"].as_str().unwrap()).unwrap();
    let out = bin()
        .args(["test", "config", "-c"])
        .arg(&cfg)
        .env("ES_PASSWORD", "x")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
