#!/usr/bin/env python3
"""The monitoring endpoint under clients that hold connections open: `/health` latency, probe by probe.

Runs the daemon (`s3logsbeat run`) with `http.enabled: true`, the console output and an SQS queue that
cannot be reached (nothing to deliver; `http.health.missed_polls` is set high so that `/health` stays
200), then, per scenario, opens the crowd and sends sequential `GET /health` probes, each on a new
connection, each timed from the connect to the end of the answer.

Scenarios:

- idle: N TCP connections opened and left silent (default 200), then the probes.
- slowloris: N writers (default 20), each sending a request head that never ends, one byte every 200 ms,
  and connecting again whenever the endpoint closes it; the probes run beside them.

Prints one line per scenario: probes, answered 200, median and max latency in ms, probes of 1 s or more.

Usage: python3 scripts/monitor_probe.py [idle] [slowloris]   (default: both)
Environment: S3LB_BIN (default target/debug/s3logsbeat), PROBES (50), IDLE (200), WRITERS (20),
PROBE_TIMEOUT seconds (120).
"""
import os
import pathlib
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
BIN = os.environ.get("S3LB_BIN", str(ROOT / "target/debug/s3logsbeat"))
PROBES = int(os.environ.get("PROBES", "50"))
IDLE = int(os.environ.get("IDLE", "200"))
WRITERS = int(os.environ.get("WRITERS", "20"))
PROBE_TIMEOUT = float(os.environ.get("PROBE_TIMEOUT", "120"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_daemon(tmp):
    port = free_port()
    cfg = pathlib.Path(tmp) / "s3logsbeat.yml"
    cfg.write_text(
        "s3logsbeat:\n"
        "  aws:\n    endpoint: http://127.0.0.1:1\n    region: us-east-1\n"
        "  inputs:\n"
        "    - type: sqs\n"
        '      queues_url: ["http://127.0.0.1:1/000000000000/q"]\n'
        "      log_format: alb\n"
        "      wait_time: 1s\n"
        "output.console: {}\n"
        f"http:\n  enabled: true\n  port: {port}\n  health:\n    missed_polls: 1000000\n"
    )
    env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true")
    proc = subprocess.Popen([BIN, "-c", str(cfg)], env=env, stdout=subprocess.DEVNULL,
                            stderr=open(pathlib.Path(tmp) / "stderr.log", "wb"))
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            status, _ = probe(port)
            if status:
                return proc, port
        except OSError:
            pass
        time.sleep(0.2)
    proc.kill()
    sys.exit("the endpoint did not come up")


def probe(port):
    """One GET /health on a new connection: (status, seconds); status 0 when no answer in time."""
    start = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=PROBE_TIMEOUT) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: probe\r\n\r\n")
        out = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                out += chunk
        except socket.timeout:
            return 0, time.perf_counter() - start
    took = time.perf_counter() - start
    try:
        return int(out.split(b" ", 2)[1]), took
    except (IndexError, ValueError):
        return 0, took


def run_probes(port, name):
    results = []
    for _ in range(PROBES):
        results.append(probe(port))
        time.sleep(0.05)
    ms = [t * 1000 for _, t in results]
    ok = sum(1 for s, _ in results if s == 200)
    # A Kubernetes liveness probe's default timeout is 1 s.
    slow = sum(1 for t in ms if t >= 1000)
    print(f"{name}: {len(results)} probes, {ok} answered 200, median {statistics.median(ms):.1f} ms, "
          f"max {max(ms):.1f} ms, {slow} took 1 s or more", flush=True)


def idle(port):
    crowd = [socket.create_connection(("127.0.0.1", port)) for _ in range(IDLE)]
    time.sleep(0.5)
    run_probes(port, f"idle ({IDLE} silent connections)")
    for s in crowd:
        s.close()


def slowloris(port):
    done = threading.Event()

    def writer():
        head = b"GET /health HTTP/1.1\r\nX-Slow: "
        while not done.is_set():
            try:
                s = socket.create_connection(("127.0.0.1", port))
            except OSError:
                time.sleep(0.2)
                continue
            sent = 0
            try:
                while not done.is_set():
                    s.sendall(head[sent:sent + 1] if sent < len(head) else b"a")
                    sent += 1
                    time.sleep(0.2)
            except OSError:
                pass
            finally:
                s.close()

    threads = [threading.Thread(target=writer, daemon=True) for _ in range(WRITERS)]
    for t in threads:
        t.start()
    time.sleep(1)
    run_probes(port, f"slowloris ({WRITERS} writers, 1 byte / 200 ms)")
    done.set()
    for t in threads:
        t.join()


def main():
    wanted = sys.argv[1:] or ["idle", "slowloris"]
    print(f"binary: {BIN}", flush=True)
    for name in wanted:
        # A fresh daemon per scenario: what one scenario leaves behind does not weigh on the next.
        with tempfile.TemporaryDirectory() as tmp:
            proc, port = start_daemon(tmp)
            try:
                {"idle": idle, "slowloris": slowloris}[name](port)
            finally:
                proc.terminate()
                proc.wait(timeout=60)


if __name__ == "__main__":
    main()
