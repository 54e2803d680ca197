//! The packaging files say what the binary accepts: the Dockerfile's entrypoint flags, the systemd unit's
//! command lines and the Kubernetes example's config all pass `test config`. (Building the image and
//! starting the unit need Docker and systemd as PID 1, which tests do not have: see docs/operations.md "Packaging".)
//!
//! The systemd unit is also installed, by `packaging/systemd/install.sh` into a temporary root, and its
//! `ExecStartPre` run as an unprivileged uid, as `DynamicUser=yes` runs it: the config must be readable by
//! that uid. Switching uid needs root (the test machines run the tests as root); run as another user, the
//! tests check the installed modes instead (what another uid may read), which catch the same mistakes.
//! `systemd-analyze` (Debian: package `systemd`, 250 or later for `security --offline`) checks the unit
//! and rates its hardening; a missing `systemd-analyze` fails the test.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::{repo, TempDir};

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
    // The config is readable by that user whatever mode the build context gave it.
    assert!(text.contains("COPY --chmod=0644 s3logsbeat.yml /etc/s3logsbeat/s3logsbeat.yml"));
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

/// `nobody`: the uid and gid the unit's commands run as here. `DynamicUser=yes` picks an unused uid at start
/// (61184 to 65519); what matters is that it is neither root nor the owner or group of the files.
const SERVICE_UID: u32 = 65534;

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

/// A temporary root for `DESTDIR`, searchable by every user, as `/` is.
fn install_root(name: &str) -> TempDir {
    let root = TempDir::new(name);
    std::fs::set_permissions(&root.0, std::fs::Permissions::from_mode(0o755)).unwrap();
    root
}

/// `packaging/systemd/install.sh` into `root` (`DESTDIR`), with the built binary and `config`, under a
/// umask of 077 (hardened hosts give root 027): the script must set every mode itself.
fn install_into(root: &Path, config: &Path) -> Output {
    let out = Command::new("sh")
        .arg("-c")
        .arg("umask 077; exec sh \"$0\" \"$@\"")
        .arg(repo().join("packaging/systemd/install.sh"))
        .arg(env!("CARGO_BIN_EXE_s3logsbeat"))
        .arg(config)
        .env("DESTDIR", root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "install.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The installed unit's `key` command line (`ExecStartPre=`), its absolute paths moved under `root`, with
/// the environment systemd gives it: a minimal one, plus the env file's variables when `with_env_file`.
/// systemd reads that file as root before it starts the service; so does this (the tests run as root).
fn unit_command(root: &Path, key: &str, with_env_file: bool) -> Command {
    let text = std::fs::read_to_string(root.join("etc/systemd/system/s3logsbeat.service")).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with(key))
        .unwrap_or_else(|| panic!("no {key}"));
    let args: Vec<PathBuf> = line[key.len()..]
        .split_whitespace()
        .map(|a| match a.strip_prefix('/') {
            Some(rel) => root.join(rel),
            None => PathBuf::from(a),
        })
        .collect();
    let mut c = Command::new(&args[0]);
    c.args(&args[1..]).env_clear().env("PATH", "/usr/bin:/bin");
    if with_env_file {
        let env = std::fs::read_to_string(root.join("etc/s3logsbeat/env")).unwrap();
        for l in env.lines().map(str::trim) {
            if l.starts_with('#') || l.starts_with(';') {
                continue;
            }
            if let Some((k, v)) = l.split_once('=') {
                c.env(k.trim(), v.trim());
            }
        }
    }
    c
}

/// Runs `c` as the service's user: uid and gid `nobody` and no supplementary groups (std drops them when
/// root switches uid). Not root, it runs as this user, which owns the files: only the modes checked by
/// [`others_can_read`] then say what the service's user could read.
fn as_service_user(c: &mut Command) -> Output {
    if is_root() {
        c.uid(SERVICE_UID).gid(SERVICE_UID);
    }
    c.output().unwrap()
}

/// Whether a user that is neither owner nor group of `path` and of its directories under `root` may read
/// it: each directory searchable by others, the file readable by others.
fn others_can_read(root: &Path, path: &Path) -> bool {
    path.ancestors()
        .skip(1)
        .take_while(|d| d.starts_with(root))
        .all(|d| mode(d) & 0o001 != 0)
        && mode(path) & 0o004 != 0
}

#[test]
fn the_systemd_install_steps_give_the_services_user_its_config_and_keep_the_secrets_from_it() {
    let root = install_root("systemd-install");
    // The example config with the password from the environment, as the unit's comment says to write it.
    let src = TempDir::new("systemd-src");
    let example = std::fs::read_to_string(repo().join("s3logsbeat.yml")).unwrap();
    let config = example.replace(
        "  #username: s3logsbeat_writer\n  #password: ${ES_PASSWORD}",
        "  username: s3logsbeat_writer\n  password: ${ES_PASSWORD}",
    );
    assert_ne!(config, example, "the example's password line moved");
    std::fs::write(src.0.join("s3logsbeat.yml"), &config).unwrap();

    let out = install_into(&root.0, &src.0.join("s3logsbeat.yml"));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let etc = root.0.join("etc/s3logsbeat");
    assert_eq!(mode(&root.0.join("usr/bin/s3logsbeat")), 0o755);
    assert_eq!(
        std::fs::read_to_string(root.0.join("etc/systemd/system/s3logsbeat.service")).unwrap(),
        std::fs::read_to_string(repo().join("packaging/systemd/s3logsbeat.service")).unwrap()
    );
    assert_eq!(
        mode(&root.0.join("etc/systemd/system/s3logsbeat.service")),
        0o644
    );
    assert_eq!(mode(&etc), 0o755);
    assert_eq!(mode(&etc.join("s3logsbeat.yml")), 0o644);
    assert_eq!(mode(&etc.join("env")), 0o600);
    assert!(others_can_read(&root.0, &etc.join("s3logsbeat.yml")));
    assert!(others_can_read(&root.0, &root.0.join("usr/bin/s3logsbeat")));
    assert!(!others_can_read(&root.0, &etc.join("env")));

    // The secret, where the env file's comment says.
    let env = std::fs::read_to_string(etc.join("env")).unwrap();
    std::fs::write(etc.join("env"), env + "ES_PASSWORD=s3cr3t\n").unwrap();

    // ExecStartPre, as the service's user, with the env file's variables: the unit starts.
    let out = as_service_user(&mut unit_command(&root.0, "ExecStartPre=", true));
    assert!(
        out.status.success(),
        "ExecStartPre as uid {SERVICE_UID}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Without them it names the variable: the password does come from the env file.
    let out = as_service_user(&mut unit_command(&root.0, "ExecStartPre=", false));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("ES_PASSWORD"),
        "{err}"
    );
    // The service's user cannot read the env file itself.
    if is_root() {
        let out = as_service_user(Command::new("cat").arg(etc.join("env")));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains("Permission denied"),
            "{err}"
        );
    }

    // Installing again (an upgrade) keeps the edited files, without a warning.
    let out = install_into(&root.0, &repo().join("s3logsbeat.yml"));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::read_to_string(etc.join("env"))
        .unwrap()
        .contains("ES_PASSWORD=s3cr3t"));
    assert_eq!(
        std::fs::read_to_string(etc.join("s3logsbeat.yml")).unwrap(),
        config
    );
}

/// The negative control: the unit's former install line (`install -D -m 0640 s3logsbeat.yml
/// /etc/s3logsbeat/s3logsbeat.yml`, root's) gave a config the service's user cannot read, so ExecStartPre
/// failed and the unit restarted every 5 s; run as root, as the tests were, it passed.
#[test]
fn the_former_0640_root_config_is_unreadable_to_the_services_user_and_install_sh_says_so() {
    let root = install_root("systemd-0640");
    let etc = root.0.join("etc/s3logsbeat");
    let st = Command::new("install")
        .args(["-D", "-m", "0640"])
        .arg(repo().join("s3logsbeat.yml"))
        .arg(etc.join("s3logsbeat.yml"))
        .status()
        .unwrap();
    assert!(st.success());
    // install.sh keeps it (an upgrade does not overwrite a config) and says what will go wrong.
    let out = install_into(&root.0, &repo().join("s3logsbeat.yml"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("other users cannot read it"), "{err}");
    assert_eq!(mode(&etc.join("s3logsbeat.yml")), 0o640);
    assert!(!others_can_read(&root.0, &etc.join("s3logsbeat.yml")));
    if is_root() {
        let out = as_service_user(&mut unit_command(&root.0, "ExecStartPre=", true));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains("Permission denied"),
            "{err}"
        );
        // Root reads it: why the earlier test, run as root, did not see the problem.
        let out = unit_command(&root.0, "ExecStartPre=", true)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn systemd_analyze(args: &[&std::ffi::OsStr]) -> Output {
    Command::new("systemd-analyze")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("systemd-analyze: {e}: it checks the unit (Debian, Ubuntu: apt-get install systemd)")
        })
}

/// `systemd-analyze verify` accepts the unit with nothing to say (an unknown or misspelt key is only a
/// warning to it, and systemd ignores the line: a hardening line lost), and `systemd-analyze security`
/// rates its exposure 1.5 or less ("OK"; 1.2 now, 6.3 "MEDIUM" before the hardening).
#[test]
fn systemd_analyze_verifies_the_unit_and_rates_its_exposure_ok() {
    let dir = TempDir::new("systemd-analyze");
    let text =
        std::fs::read_to_string(repo().join("packaging/systemd/s3logsbeat.service")).unwrap();
    // verify wants the commands' binary: the built one stands in for /usr/bin/s3logsbeat.
    let unit = dir.0.join("s3logsbeat.service");
    std::fs::write(
        &unit,
        text.replace("/usr/bin/s3logsbeat", env!("CARGO_BIN_EXE_s3logsbeat")),
    )
    .unwrap();
    let out = systemd_analyze(&["verify".as_ref(), unit.as_os_str()]);
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "systemd-analyze verify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let out = systemd_analyze(&[
        "security".as_ref(),
        "--offline=true".as_ref(),
        unit.as_os_str(),
    ]);
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "systemd-analyze security --offline=true (systemd 250 or later): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // "→ Overall exposure level for s3logsbeat.service: 1.1 OK 🙂"
    let rating: f64 = report
        .lines()
        .find_map(|l| l.split_once("Overall exposure level for s3logsbeat.service: "))
        .and_then(|(_, r)| r.split_whitespace().next())
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("no rating in:\n{report}"));
    assert!(rating <= 1.5, "exposure {rating}:\n{report}");
}

#[test]
fn the_kubernetes_example_config_is_valid() {
    let text =
        std::fs::read_to_string(repo().join("packaging/kubernetes/s3logsbeat.yaml")).unwrap();
    let docs: Vec<s3logsbeat::config::tree::Value> = text
        .split("\n---\n")
        .map(|d| s3logsbeat::config::yaml::from_str(d).unwrap())
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
