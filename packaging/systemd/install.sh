#!/bin/sh
# Installs s3logsbeat as a systemd service. As root:
#   packaging/systemd/install.sh [BINARY [CONFIG]]
# BINARY defaults to the repository's target/dist/s3logsbeat (`make dist`), CONFIG to its s3logsbeat.yml.
# DESTDIR=/some/dir puts everything under that directory and does not call systemctl (packages, and
# tests/packaging.rs, which runs this script and then `test config` as an unprivileged uid).
#
# The service runs as a dynamic unprivileged user (DynamicUser=yes), which must be able to read its
# config: the config is 0644 and holds no secrets. Secrets (Elasticsearch password or API key, AWS keys
# when there is no instance role) go in /etc/s3logsbeat/env, 0600 root: systemd reads that file as root
# and passes its variables to the service, whose config names them as ${ES_PASSWORD}.
# A config or env file already there is kept (upgrades do not overwrite them), with a warning when its
# mode is wrong.
set -eu
umask 022

repo=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-$repo/target/dist/s3logsbeat}
cfg=${2:-$repo/s3logsbeat.yml}
root=${DESTDIR:-}
etc=$root/etc/s3logsbeat

[ -f "$bin" ] || { echo "install.sh: no binary at $bin (run \`make dist\`, or name it)" >&2; exit 1; }
[ -f "$cfg" ] || { echo "install.sh: no config at $cfg" >&2; exit 1; }

install -D -m 0755 "$bin" "$root/usr/bin/s3logsbeat"
install -D -m 0644 "$repo/packaging/systemd/s3logsbeat.service" "$root/etc/systemd/system/s3logsbeat.service"
install -d -m 0755 "$etc"

if [ ! -e "$etc/s3logsbeat.yml" ]; then
    install -m 0644 "$cfg" "$etc/s3logsbeat.yml"
elif [ -z "$(find "$etc/s3logsbeat.yml" -prune -perm -0004)" ]; then
    echo "install.sh: WARNING: $etc/s3logsbeat.yml is kept, but other users cannot read it, so neither" >&2
    echo "  can the service's dynamic user: it will not start. Move any secret in it to $etc/env" >&2
    echo "  (as ES_PASSWORD=..., written \${ES_PASSWORD} in the config), then: chmod 0644 $etc/s3logsbeat.yml" >&2
fi

if [ ! -e "$etc/env" ]; then
    (
        umask 077
        cat >"$etc/env" <<'EOF'
# s3logsbeat's secrets, read by systemd (as root) and passed to the service as environment variables.
# The config refers to them as ${NAME}, e.g. `password: ${ES_PASSWORD}`. Keep this file 0600 root.
#ES_PASSWORD=
#ES_API_KEY=
# Only without an instance role:
#AWS_ACCESS_KEY_ID=
#AWS_SECRET_ACCESS_KEY=
EOF
    )
    chmod 0600 "$etc/env"
elif [ -n "$(find "$etc/env" -prune -perm /077)" ]; then
    echo "install.sh: WARNING: $etc/env is readable by others than its owner: chmod 0600 $etc/env" >&2
fi

if [ -z "$root" ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload
fi
cat <<EOF
Installed s3logsbeat under ${root:-/}. Next:
  edit $etc/s3logsbeat.yml (inputs, output; secrets as \${NAME}) and $etc/env (NAME=value)
  systemctl enable --now s3logsbeat
  systemctl status s3logsbeat    # its ExecStartPre runs \`test config\` as the service's user
  journalctl -u s3logsbeat -f
EOF
