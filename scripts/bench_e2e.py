#!/usr/bin/env python3
"""`make bench-e2e`: the whole daemon, end to end, on local stand-ins: events/s, MB/s, CPU and memory.

N gzip objects of generated ALB lines (about 450 bytes, all current columns) are put in moto's S3 with
bucket notifications on an SQS queue; the release binary (default settings) drains them with `--once`
into an output, and the script prints, per output:

- wall seconds, events/s and MB/s (uncompressed log bytes);
- CPU-seconds per million events (user + system of the process, from wait4);
- peak RSS (the kernel's high-water mark of the process, VmHWM, read from /proc while it runs);
- SQS and S3 calls per object, counted by a small proxy between s3logsbeat and moto.

- the fixed costs: when the first ReceiveMessage reached the proxy after the start, and how long after the
  last DeleteMessageBatch the process exited (needs the proxy).

Outputs: `file` (the file output), `es` (the Elasticsearch output into `examples/es_sink.rs`, a stand-in
that answers every bulk item as Elasticsearch 8 does under s3logsbeat's filter_path, tested equal to the
double's answers and the recorded fixtures, on one thread, whose CPU is printed to show it was not the
limit), `es-double` (into the test double, which checks every item and keeps every document: about 1,600
events/s, so it is the limit) and `empty` (the file output and an empty queue: how long a `--once` run
that finds nothing takes). Every run checks that every line was delivered.

Usage: python3 scripts/bench_e2e.py [--objects N] [--lines L] [--no-proxy] [-E key=value]... [file] [es] [es-double] [empty]
       (default: 8 x 250,000, file)
Environment: S3LB_BIN (default target/release/s3logsbeat), S3LB_SINK (default target/release/examples/es_sink),
S3LB_BENCH_LOG (a file that gets s3logsbeat's log of the last run).
"""
import argparse
import collections
import gzip
from http import client as hclient
from http import server as hserver
import json
import os
import pathlib
import random
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from bench_faults import BIN, Stand, alb_line, env, free_port  # noqa: E402
from bench_faults import http as es_http  # noqa: E402


class CountingProxy:
    """Forwards HTTP to moto and counts the calls by service and action."""

    def __init__(self, upstream):
        self.calls = collections.Counter()
        # Monotonic time of each action's first and last call (the fixed costs are read from these).
        self.first, self.last = {}, {}
        up = urllib.parse.urlparse(upstream)
        calls, lock, first, last = self.calls, threading.Lock(), self.first, self.last

        class Handler(hserver.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                target = self.headers.get("X-Amz-Target", "")
                if target.startswith("AmazonSQS."):
                    name = "sqs " + target.split(".", 1)[1]
                elif b"Action=" in body[:200]:
                    name = "sqs " + urllib.parse.parse_qs(body.decode())["Action"][0]
                else:
                    path = urllib.parse.urlparse(self.path)
                    parts = [p for p in path.path.split("/") if p]
                    kind = "object" if len(parts) > 1 else "bucket"
                    name = f"s3 {self.command} {kind}"
                with lock:
                    calls[name] += 1
                    first.setdefault(name, time.monotonic())
                conn = hclient.HTTPConnection(up.hostname, up.port, timeout=120)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host",)}
                conn.request(self.command, self.path, body=body, headers=headers)
                r = conn.getresponse()
                data = r.read()
                self.send_response(r.status)
                for k, v in r.getheaders():
                    if k.lower() not in ("transfer-encoding", "content-length", "connection"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()
                with lock:
                    last[name] = time.monotonic()

            do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = do

        port = free_port()
        self.server = hserver.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


def put_objects(stand, n_objects, lines_each, seed):
    """Puts the objects; returns (lines, uncompressed bytes, compressed bytes)."""
    rng = random.Random(seed)
    raw_total = gz_total = 0
    for o in range(n_objects):
        text = "".join(alb_line(rng, o * lines_each + j) for j in range(lines_each)).encode()
        body = gzip.compress(text, 6)
        raw_total += len(text)
        gz_total += len(body)
        stand.s3.put_object(
            Bucket="bench",
            Key=f"AWSLogs/123456789012/elasticloadbalancing/us-east-2/2024/07/01/o{seed}-{o}.log.gz",
            Body=body)
    return n_objects * lines_each, raw_total, gz_total


SINK = pathlib.Path(os.environ.get("S3LB_SINK", pathlib.Path(__file__).resolve().parent.parent
                                 / "target" / "release" / "examples" / "es_sink"))


class EsSink:
    """examples/es_sink.rs as a subprocess on a free port."""

    def __init__(self, work):
        port_file = work / "sink.port"
        if not SINK.exists():
            sys.exit(f"{SINK} is missing: cargo build --release --example es_sink")
        self.proc = subprocess.Popen([str(SINK), "--port-file", str(port_file)], stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not (port_file.exists() and port_file.read_text()):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.proc.kill()
                sys.exit(f"{SINK} did not start")
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{port_file.read_text()}"

    def docs(self, index):
        return es_http("GET", self.url + "/_sink/stats").get("indices", {}).get(index, 0)

    def cpu_seconds(self):
        """The sink's user + system CPU so far (to show whether it was the limit)."""
        return es_http("GET", self.url + "/_sink/stats")["cpu_seconds"]

    def close(self):
        self.proc.kill()
        self.proc.wait()


def run(stand, proxy, sink, work, output, expected, direct=False, overrides=(), show_timeline=False):
    out_dir = work / "out"
    if output in ("file", "empty"):
        out = {"output.file": {"path": str(out_dir), "filename": "events", "rotate_every_kb": 100_000_000,
                               "number_of_files": 1024}}
    else:
        out = {"output.elasticsearch": {"hosts": [sink.url if output == "es" else stand.es], "index": "bench"}}
    cfg = work / f"{output}.yml"
    cfg.write_text(json.dumps({
        "s3logsbeat": {"aws": {"endpoint": stand.endpoint if direct else proxy.url, "region": "us-east-1"},
                       "inputs": [{"type": "sqs", "queues_url": [stand.queue], "log_format": "alb",
                                   "wait_time": "1s"}]},
        **out,
    }))
    proxy.calls.clear()
    stat0 = machine_ticks()
    t0 = time.monotonic()
    args = [str(BIN), "-c", str(cfg), "--once"]
    for o in overrides:
        args += ["-E", o]
    p = subprocess.Popen(args, env=env(), stderr=subprocess.PIPE, text=True)
    stderr_lines = []
    reader = threading.Thread(target=lambda: stderr_lines.extend(p.stderr), daemon=True)
    reader.start()
    # The kernel's high-water mark of the process, read from /proc while it runs (wait4's ru_maxrss would
    # also count the pages this Python process had when it forked the child, before exec).
    # Also the largest anonymous (heap, stacks) and file-backed (the binary's pages) parts seen, which
    # say what the peak is made of.
    hwm = [0, 0, 0]
    # (seconds since start, CPU-seconds so far) every 20 ms: the cores used over the run (--timeline).
    timeline = []
    tick = os.sysconf("SC_CLK_TCK")

    def sample():
        while True:
            try:
                with open(f"/proc/{p.pid}/status") as f:
                    for line in f:
                        for i, key in enumerate(("VmHWM:", "RssAnon:", "RssFile:")):
                            if line.startswith(key):
                                hwm[i] = max(hwm[i], int(line.split()[1]))
                with open(f"/proc/{p.pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                timeline.append((time.monotonic() - t0, (int(fields[11]) + int(fields[12])) / tick))
            except (OSError, ValueError, IndexError):
                return
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(p.pid, 0)
    t_end = time.monotonic()
    stat1 = machine_ticks()
    sampler.join(1)
    secs = t_end - t0
    fixed = {}
    if not direct:
        if "sqs ReceiveMessage" in proxy.first:
            fixed["first ReceiveMessage after start"] = proxy.first["sqs ReceiveMessage"] - t0
        if "sqs DeleteMessageBatch" in proxy.last:
            fixed["exit after last DeleteMessageBatch"] = t_end - proxy.last["sqs DeleteMessageBatch"]
    reader.join(5)
    if output in ("file", "empty"):
        delivered = sum(sum(1 for _ in f.open("rb")) for f in out_dir.glob("events*"))
    elif output == "es":
        delivered = sink.docs("bench")
    else:
        delivered = es_http("GET", stand.es + "/_double/stats").get("indices", {}).get("bench", {}).get("docs", 0)
    code = os.waitstatus_to_exitcode(status)
    ok = code == 0 and delivered == expected and stand.queue_empty()
    if not ok:
        print("".join(stderr_lines)[-3000:])
    if os.environ.get("S3LB_BENCH_LOG"):
        pathlib.Path(os.environ["S3LB_BENCH_LOG"]).write_text("".join(stderr_lines))
    if show_timeline:
        print_timeline(timeline, secs)
        d = [b - a for a, b in zip(stat0, stat1)]
        tick = os.sysconf("SC_CLK_TCK") * (t_end - t0)
        busy = (sum(d) - d[3] - d[4] - d[7]) / tick
        print(f"   the machine meanwhile: {busy:.2f} cores busy (every process), {d[3] / tick:.2f} idle, "
              f"{d[4] / tick:.2f} waiting for I/O, {d[7] / tick:.2f} stolen by the host")
    return secs, usage, hwm, delivered, ok, dict(proxy.calls), fixed


def machine_ticks():
    """The machine's CPU ticks so far: user, nice, system, idle, iowait, irq, softirq, steal."""
    with open("/proc/stat") as f:
        return [int(x) for x in f.readline().split()[1:9]]


def print_timeline(timeline, secs, step=0.25):
    """Cores used in each `step` seconds of the run, from the sampled CPU-seconds."""
    out, at, i, before = [], step, 0, (0.0, 0.0)
    while at <= secs + step and i < len(timeline):
        while i < len(timeline) and timeline[i][0] < at:
            i += 1
        now = timeline[min(i, len(timeline) - 1)]
        if now[0] > before[0]:
            out.append(f"{(now[1] - before[1]) / (now[0] - before[0]):.2f}")
        before, at = now, at + step
    print(f"   cores used per {step} s: " + " ".join(out))


def run_original(stand, work, expected, original):
    """The original Go s3logsbeat on the same drain, for a side-by-side figure (`--original BIN`).

    The original has no `--once` and no endpoint setting: BIN is a build of sequra/s3logsbeat (dbd657b2)
    whose AWS session takes its endpoint from S3LB_ORIG_ENDPOINT (BENCHMARKS.md says how it was built; none
    of its code is here). It runs as a daemon into its file output until every line is written, then is
    killed: wall seconds until the last line, CPU-seconds read just before, peak RSS. It never extends a
    message's visibility, so the queue's visibility timeout is raised to 900 s for the run (moto's 30 s
    would give messages back mid-object and duplicate their lines)."""
    out_dir = work / "orig-out"
    out_dir.mkdir(parents=True, exist_ok=True)
    cfg = work / "orig.yml"
    cfg.write_text(f"""s3logsbeat:
  shutdown_timeout: 0s
  inputs:
    - type: sqs
      queues_url: ["{stand.queue}"]
      log_format: alb
      poll_frequency: 1s
path.data: "{work / 'orig-data'}"
path.logs: "{work / 'orig-logs'}"
output.file: {{path: "{out_dir}", filename: events, rotate_every_kb: 100000000, number_of_files: 1023}}
""")
    stand.sqs.set_queue_attributes(QueueUrl=stand.queue, Attributes={"VisibilityTimeout": "900"})
    e = dict(env(), AWS_REGION="us-east-1", AWS_DEFAULT_REGION="us-east-1", S3LB_ORIG_ENDPOINT=stand.endpoint)
    t0 = time.monotonic()
    p = subprocess.Popen([str(original), "-c", str(cfg), "-e"], env=e, cwd=str(work),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    hwm, counts, handles, lines, last_seen, cpu = 0, {}, {}, 0, t0, 0.0
    try:
        while time.monotonic() - t0 < 900 and p.poll() is None:
            with open(f"/proc/{p.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        hwm = max(hwm, int(line.split()[1]))
            for f in out_dir.glob("events*"):
                h = handles.get(f) or handles.setdefault(f, open(f, "rb"))
                while chunk := h.read(1 << 22):
                    counts[f] = counts.get(f, 0) + chunk.count(b"\n")
            if sum(counts.values()) != lines:
                lines, last_seen = sum(counts.values()), time.monotonic()
            if lines >= expected:
                fields = pathlib.Path(f"/proc/{p.pid}/stat").read_text().rsplit(")", 1)[1].split()
                cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
                break
            time.sleep(0.02)
    finally:
        p.kill()
        p.wait()
        for h in handles.values():
            h.close()
    return last_seen - t0, cpu, hwm, lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--objects", type=int, default=8)
    ap.add_argument("--lines", type=int, default=250_000)
    ap.add_argument("--no-proxy", action="store_true", help="talk to moto directly (no call counts)")
    ap.add_argument("--timeline", action="store_true", help="print the cores used per quarter second")
    ap.add_argument("--original", help="also drain the same objects with this build of the original (file output)")
    ap.add_argument("-E", action="append", default=[], dest="overrides", help="a setting for s3logsbeat")
    ap.add_argument("outputs", nargs="*", default=["file"])
    a = ap.parse_args()
    if not BIN.exists():
        sys.exit(f"{BIN} is missing: make release")
    ok_all = True
    for output in a.outputs:
        with tempfile.TemporaryDirectory(prefix=f"s3lb-e2e-{output}-") as d:
            work = pathlib.Path(d)
            stand = Stand(work)
            proxy = CountingProxy(stand.endpoint)
            sink = EsSink(work)
            try:
                if output == "empty":
                    lines, raw, gz = 0, 0, 0
                else:
                    lines, raw, gz = put_objects(stand, a.objects, a.lines, 7)
                secs, u, (hwm_kb, anon_kb, file_kb), delivered, ok, calls, fixed = run(
                    stand, proxy, sink, work, output, lines, a.no_proxy, a.overrides, a.timeline)
                cpu = u.ru_utime + u.ru_stime
                sqs = {k[4:]: v for k, v in calls.items() if k.startswith("sqs ")}
                s3 = {k[3:]: v for k, v in calls.items() if k.startswith("s3 ")}
                per = lambda d: ", ".join(f"{k} {v / a.objects:.2f}" for k, v in sorted(d.items()))
                fixed_text = "; ".join(f"{k} {v:.3f} s" for k, v in fixed.items())
                if output == "empty":
                    print(f"empty: an empty queue, --once exits in {secs:.3f} s, {cpu:.2f} CPU-s, peak RSS "
                          f"{hwm_kb / 1024:.1f} MB; {fixed_text}; ok: {ok}")
                    ok_all &= ok
                    continue
                print(f"{output}: {a.objects} objects x {a.lines:,} ALB lines ({raw / 1e6:.0f} MB, "
                      f"{gz / 1e6:.0f} MB gzip): {secs:.1f} s, {lines / secs:,.0f} events/s, "
                      f"{raw / 1e6 / secs:.1f} MB/s, {cpu:.1f} CPU-s ({cpu / lines * 1e6:.2f} CPU-s per million events, "
                      f"{cpu / secs:.2f} cores), "
                      f"peak RSS {hwm_kb / 1024:.1f} MB (VmHWM; largest RssAnon {anon_kb / 1024:.1f} MB, "
                      f"RssFile {file_kb / 1024:.1f} MB); "
                      f"per object: SQS {per(sqs)}; S3 {per(s3)}; delivered {delivered:,}/{lines:,}: {ok}")
                if fixed_text:
                    print(f"   fixed costs: {fixed_text}")
                if output == "es":
                    stats = es_http("GET", sink.url + "/_sink/stats")
                    print(f"   on the wire {stats['bytes'] / 1e6:.1f} MB in {stats['bulks']} bulk requests "
                          f"({stats['bytes'] / max(lines, 1):.0f} bytes per event); the sink used "
                          f"{stats['cpu_seconds']:.2f} CPU-s of the {secs:.1f} s "
                          f"({lines / max(stats['cpu_seconds'], 1e-9):,.0f} events per CPU-second)")
                ok_all &= ok
                if a.original and output == "file":
                    with tempfile.TemporaryDirectory(prefix="s3lb-e2e-original-") as od:
                        other = Stand(pathlib.Path(od))
                        try:
                            put_objects(other, a.objects, a.lines, 7)
                            o_secs, o_cpu, o_hwm, o_lines = run_original(other, pathlib.Path(od), lines, a.original)
                        finally:
                            other.close()
                    print(f"original: {o_secs:.1f} s, {o_lines / o_secs:,.0f} events/s, {o_cpu:.1f} CPU-s "
                          f"({o_cpu / max(o_lines, 1) * 1e6:.2f} per million events, {o_cpu / o_secs:.2f} cores), "
                          f"peak RSS {o_hwm / 1024:.1f} MB; delivered {o_lines:,}/{lines:,}; "
                          f"s3logsbeat delivered {(lines / secs) / (o_lines / o_secs):.1f} times its events/s")
                    ok_all &= o_lines == lines
            finally:
                sink.close()
                proxy.close()
                stand.close()
    if not ok_all:
        sys.exit("not every event was delivered")


if __name__ == "__main__":
    main()
