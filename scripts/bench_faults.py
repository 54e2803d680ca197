#!/usr/bin/env python3
"""`make bench-faults`: delivery under pressure, measured end to end on local stand-ins.

Real parts: moto's server (S3 and SQS, with bucket notifications), the Elasticsearch 8 double
(tests/doubles/es_double.py) with fault injection, and the release binary with the default settings.

Scenarios (each prints one line of figures; the README quotes them):

- faults: 20,000 ALB lines in 20 gzip objects, 30 % of bulk items answered 429, 5 whole-request 429s,
  3 responses lost after indexing, 3 connection resets, 5 ms latency: seconds until every line is in
  Elasticsearch exactly once and every message is gone (`s3logsbeat --once`). Target: <= 60 s.
- outage: the daemon runs while objects keep arriving; Elasticsearch is down for 20 s; seconds from its
  return until the first document lands. Target: <= 5 s.
- clean: 20 gzip objects x 5,000 ALB lines, no fault: events per second (`--once`).

Usage: python3 scripts/bench_faults.py [faults] [outage] [clean]   (default: all three)
Environment: S3LB_BIN (default target/release/s3logsbeat).
"""
import gzip
import json
import os
import pathlib
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import boto3

ROOT = pathlib.Path(__file__).resolve().parent.parent
BIN = pathlib.Path(os.environ.get("S3LB_BIN", ROOT / "target" / "release" / "s3logsbeat"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, what, proc):
    for _ in range(600):
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            if proc.poll() is not None:
                sys.exit(f"{what} exited with {proc.returncode}")
            time.sleep(0.1)
    sys.exit(f"{what} did not answer on {url}")


def http(method, url, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"null")


def alb_line(rng, i):
    s = i // 50
    return (
        f"https 2024-07-{1 + s // 86400 % 28:02}T{s // 3600 % 24:02}:{s // 60 % 60:02}:{s % 60:02}."
        f"{rng.randrange(1_000_000):06}Z app/my-loadbalancer/50dc6c495c0c9188 "
        f"192.168.{rng.randrange(256)}.{rng.randrange(256)}:{1024 + rng.randrange(60000)} 10.0.0.{rng.randrange(256)}:80 "
        f"0.{rng.randrange(1000):03} 0.{rng.randrange(1000):03} 0.000 {rng.choice([200, 200, 301, 404, 502])} 200 "
        f"{rng.randrange(2000)} {rng.randrange(100000)} "
        f"\"GET https://www.example.com:443/api/v1/items/{rng.randrange(1_000_000)}?page={rng.randrange(100)} HTTP/1.1\" "
        f"\"Mozilla/5.0 (X11; Linux x86_64) Chrome/{100 + rng.randrange(30)}.0\" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 "
        "arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "
        f"\"Root=1-{rng.randrange(1 << 32):08x}-{rng.randrange(1 << 96):024x}\" \"www.example.com\" \"-\" "
        "1 2024-07-01T00:00:00.000000Z \"forward\" \"-\" \"-\" \"10.0.0.1:80\" \"200\" \"-\" \"-\"\n"
    )


class Stand:
    """moto with a notified bucket and queue, and the Elasticsearch double."""

    def __init__(self, work):
        self.work = work
        port = free_port()
        self.endpoint = f"http://127.0.0.1:{port}"
        self.moto = subprocess.Popen([str(ROOT / ".venv" / "bin" / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        es_port = free_port()
        self.es = f"http://127.0.0.1:{es_port}"
        self.double = subprocess.Popen([sys.executable, str(ROOT / "tests" / "doubles" / "es_double.py"),
                                        "--port", str(es_port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_http(self.endpoint + "/moto-api/", "moto_server", self.moto)
        wait_http(self.es + "/_double/stats", "es_double.py", self.double)
        kw = dict(endpoint_url=self.endpoint, region_name="us-east-1",
                  aws_access_key_id="bench", aws_secret_access_key="bench")
        self.s3, self.sqs = boto3.client("s3", **kw), boto3.client("sqs", **kw)
        self.s3.create_bucket(Bucket="bench")
        self.queue = self.sqs.create_queue(QueueName="bench")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.s3.put_bucket_notification_configuration(Bucket="bench", NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]})

    def put(self, key, lines):
        self.s3.put_object(Bucket="bench", Key=key, Body=gzip.compress("".join(lines).encode(), 1))

    def config(self):
        cfg = self.work / "s3logsbeat.yml"
        cfg.write_text(json.dumps({
            "s3logsbeat": {"aws": {"endpoint": self.endpoint, "region": "us-east-1"},
                           "inputs": [{"type": "sqs", "queues_url": [self.queue], "log_format": "alb",
                                       "wait_time": "1s"}]},
            "output.elasticsearch": {"hosts": [self.es], "index": "bench"},
        }))
        return cfg

    def docs(self):
        return http("GET", self.es + "/_double/stats").get("indices", {}).get("bench", {}).get("docs", 0)

    def queue_empty(self):
        a = self.sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["All"])["Attributes"]
        return a["ApproximateNumberOfMessages"] == "0" and a["ApproximateNumberOfMessagesNotVisible"] == "0"

    def close(self):
        for p in (self.moto, self.double):
            p.terminate()
            p.wait()


def env():
    return dict(os.environ, AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
                AWS_EC2_METADATA_DISABLED="true")


def objects(stand, n_objects, lines_each, seed):
    rng = random.Random(seed)
    i = 0
    for o in range(n_objects):
        stand.put(f"AWSLogs/123456789012/elasticloadbalancing/us-east-2/2024/07/01/o{seed}-{o}.log.gz",
                  [alb_line(rng, i + j) for j in range(lines_each)])
        i += lines_each
    return n_objects * lines_each


def drain(stand, expected, faults):
    cfg = stand.config()
    http("POST", stand.es + "/_double/faults", faults)
    t0 = time.monotonic()
    run = subprocess.run([str(BIN), "-c", str(cfg), "--once"], env=env(), stderr=subprocess.PIPE, text=True)
    secs = time.monotonic() - t0
    stats = http("GET", stand.es + "/_double/stats")
    docs = stats.get("indices", {}).get("bench", {}).get("docs", 0)
    ok = run.returncode == 0 and docs == expected and stand.queue_empty()
    if not ok:
        print(run.stderr[-3000:])
    return secs, docs, ok, run


def scenario_faults(work):
    stand = Stand(work)
    try:
        expected = objects(stand, 20, 1000, 1)
        faults = {"item_429_ratio": 0.3, "request_status": 429, "request_count": 5, "drop_after_index": 3,
                  "latency_ms": 5}
        if "reset_next" in http("GET", stand.es + "/_double/faults"):
            faults["reset_next"] = 3
        secs, docs, ok, run = drain(stand, expected, faults)
        print(f"faults: {expected} ALB lines in 20 gzip objects, 30% item 429, 5 request 429, 3 lost responses, "
              f"{faults.get('reset_next', 0)} resets, 5 ms latency: drained in {secs:.1f} s "
              f"({docs} documents, exactly once: {ok}; target <= 60 s)")
        return ok and secs <= 60
    finally:
        stand.close()


def scenario_outage(work):
    stand = Stand(work)
    try:
        cfg = stand.config()
        daemon = subprocess.Popen([str(BIN), "-c", str(cfg)], env=env(), stderr=subprocess.DEVNULL)
        try:
            objects(stand, 2, 200, 2)
            while stand.docs() < 400:
                time.sleep(0.1)
            http("POST", stand.es + "/_double/faults", {"down": True})
            down_at = time.monotonic()
            seed = 3
            while time.monotonic() - down_at < 20:
                objects(stand, 1, 100, seed)
                seed += 1
                time.sleep(1)
            before = stand.docs()
            http("POST", stand.es + "/_double/faults", {"down": False})
            back = time.monotonic()
            while stand.docs() == before:
                if time.monotonic() - back > 120:
                    break
                time.sleep(0.05)
            resumed = time.monotonic() - back
            print(f"outage: Elasticsearch down 20 s while objects kept arriving: delivery resumed "
                  f"{resumed:.2f} s after its return (target <= 5 s)")
            return resumed <= 5
        finally:
            daemon.terminate()
            daemon.wait()
    finally:
        stand.close()


def scenario_clean(work):
    stand = Stand(work)
    try:
        expected = objects(stand, 20, 5000, 4)
        secs, docs, ok, run = drain(stand, expected, {})
        print(f"clean: {expected} ALB lines in 20 gzip objects, no fault: {secs:.1f} s, "
              f"{expected / secs:,.0f} events/s ({docs} documents, all delivered: {ok})")
        return ok
    finally:
        stand.close()


def main():
    wanted = sys.argv[1:] or ["faults", "outage", "clean"]
    if not BIN.exists():
        sys.exit(f"{BIN} is missing: make release")
    results = {}
    for name in wanted:
        with tempfile.TemporaryDirectory(prefix=f"s3lb-bench-{name}-") as d:
            results[name] = globals()[f"scenario_{name}"](pathlib.Path(d))
    if not all(results.values()):
        sys.exit(f"not every target was met: {results}")


if __name__ == "__main__":
    main()
