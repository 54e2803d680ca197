#!/usr/bin/env python3
"""`make bench-cloudwatch`: a `type: cloudwatch_logs` input draining log groups on moto: events/s.

G log groups of S streams each are filled with N events in all (generated application lines, about 120
bytes, timestamps over the last hour) in moto's CloudWatch Logs; the release binary reads them with
`--once` into the file output, and the script prints wall seconds, events/s, CPU-seconds of s3logsbeat
per million events and the FilterLogEvents calls, and checks that every event was written once.

moto answers each FilterLogEvents page by filtering and sorting the whole group in Python, so with moto
the wall time measures moto more than s3logsbeat: read the CPU-seconds of s3logsbeat for our own cost.

Usage: python3 scripts/bench_cloudwatch.py [--events N] [--groups G] [--streams S]
       (default: 1,000,000 events, 4 groups, 4 streams each)
Environment: S3LB_BIN (default target/release/s3logsbeat).
"""
import argparse
import json
import pathlib
import random
import resource
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from bench_faults import BIN, ROOT, env, free_port, wait_http  # noqa: E402

import boto3  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--groups", type=int, default=4)
    ap.add_argument("--streams", type=int, default=4)
    a = ap.parse_args()
    work = pathlib.Path(tempfile.mkdtemp(prefix="s3lb-bench-cw-"))
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    moto = subprocess.Popen([str(ROOT / ".venv" / "bin" / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(endpoint + "/moto-api/", "moto_server", moto)
        logs = boto3.client("logs", endpoint_url=endpoint, region_name="us-east-1",
                            aws_access_key_id="bench", aws_secret_access_key="bench")
        rng = random.Random(1)
        now = int(time.time() * 1000)
        per_stream = a.events // (a.groups * a.streams)
        t_put = time.time()
        for g in range(a.groups):
            group = f"/bench/app-{g}"
            logs.create_log_group(logGroupName=group)
            for s in range(a.streams):
                stream = f"i-{s:04d}"
                logs.create_log_stream(logGroupName=group, logStreamName=stream)
                first = now - 3_600_000
                events = [{"timestamp": first + i * 3_000_000 // per_stream,
                           "message": f"INFO request id={rng.getrandbits(64):016x} path=/api/v1/items/{i} "
                                      f"status=200 ms={rng.randint(1, 900)} user=u{rng.randint(1, 99999)}"}
                          for i in range(per_stream)]
                for k in range(0, len(events), 10_000):
                    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events[k:k + 10_000])
        total = per_stream * a.groups * a.streams
        print(f"put {total:,} events in {a.groups} groups x {a.streams} streams ({time.time() - t_put:.0f} s)")
        out = work / "out"
        cfg = work / "s3logsbeat.yml"
        cfg.write_text(json.dumps({
            "s3logsbeat": {"aws": {"endpoint": endpoint, "region": "us-east-1"},
                           "inputs": [{"type": "cloudwatch_logs", "log_group_name_prefix": "/bench/",
                                       "latency": "1s", "number_of_workers": 4}]},
            "output.file": {"path": str(out), "filename": "events", "rotate_every_kb": 10_000_000},
            "path.data": str(work / "data"),
        }))
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.time()
        run = subprocess.run([str(BIN), "-c", str(cfg), "--once"], env=env(), capture_output=True, text=True)
        wall = time.time() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if run.returncode != 0:
            sys.exit(f"s3logsbeat failed ({run.returncode}):\n{run.stderr}")
        ids = set()
        lines = 0
        for f in sorted(out.iterdir()):
            with open(f) as fh:
                for line in fh:
                    lines += 1
                    ids.add(json.loads(line)["@metadata"]["_id"])
        if lines != total or len(ids) != total:
            sys.exit(f"expected {total} events once each, got {lines} lines and {len(ids)} ids")
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        done = next((l for l in reversed(run.stderr.splitlines()) if "--once: done" in l), "")
        calls = next((w.split("=")[1] for w in done.split() if w.startswith("cloudwatch_api_calls=")), "?")
        print(f"s3logsbeat --once: {wall:.1f} s wall, {total / wall:,.0f} events/s, "
              f"{cpu / total * 1e6:.2f} CPU-s per million events, {calls} CloudWatch Logs calls; "
              f"every event written once")
    finally:
        moto.kill()


if __name__ == "__main__":
    main()
