#!/usr/bin/env python3
"""`make bench-e2e`: the whole daemon, end to end, on local stand-ins: events/s, MB/s, CPU and memory.

N gzip objects of generated ALB lines (about 450 bytes, all current columns) are put in moto's S3 with
bucket notifications on an SQS queue; the release binary (default settings) drains them with `--once`
into an output, and the script prints, per output:

- wall seconds, events/s and MB/s (uncompressed log bytes);
- CPU-seconds per million events (user + system of the process, from wait4);
- peak RSS (the kernel's high-water mark of the process, VmHWM, read from /proc while it runs);
- SQS and S3 calls per object, counted by a small proxy between s3logsbeat and moto.

Outputs: `file` (the file output), `es` (the Elasticsearch output into `scripts/es_sink.py`, a stand-in
that answers every bulk item as Elasticsearch 8 does under s3logsbeat's filter_path, tested equal to the
double's answers, and fast enough not to be the limit) and `es-double` (into the test double, which checks
every item and keeps every document: about 1,600 events/s, so it is the limit). Every run checks that every
line was delivered.

Usage: python3 scripts/bench_e2e.py [--objects N] [--lines L] [file] [es] [es-double]
       (default: 8 x 250,000, file)
Environment: S3LB_BIN (default target/release/s3logsbeat).
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
        up = urllib.parse.urlparse(upstream)
        calls, lock = self.calls, threading.Lock()

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


class EsSink:
    """scripts/es_sink.py as a subprocess on a free port."""

    def __init__(self, work):
        port_file = work / "sink.port"
        self.proc = subprocess.Popen([sys.executable, str(pathlib.Path(__file__).with_name("es_sink.py")),
                                      "--port-file", str(port_file)], stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not (port_file.exists() and port_file.read_text()):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.proc.kill()
                sys.exit("scripts/es_sink.py did not start")
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{port_file.read_text()}"

    def docs(self, index):
        return es_http("GET", self.url + "/_sink/stats").get("indices", {}).get(index, 0)

    def cpu_seconds(self):
        """The sink's user + system CPU so far (to show whether it was the limit)."""
        fields = pathlib.Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self):
        self.proc.kill()
        self.proc.wait()


def run(stand, proxy, sink, work, output, expected, direct=False):
    out_dir = work / "out"
    if output == "file":
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
    t0 = time.monotonic()
    p = subprocess.Popen([str(BIN), "-c", str(cfg), "--once"], env=env(), stderr=subprocess.PIPE, text=True)
    stderr_lines = []
    reader = threading.Thread(target=lambda: stderr_lines.extend(p.stderr), daemon=True)
    reader.start()
    # The kernel's high-water mark of the process, read from /proc while it runs (wait4's ru_maxrss would
    # also count the pages this Python process had when it forked the child, before exec).
    # Also the largest anonymous (heap, stacks) and file-backed (the binary's pages) parts seen, which
    # say what the peak is made of.
    hwm = [0, 0, 0]

    def sample():
        while True:
            try:
                with open(f"/proc/{p.pid}/status") as f:
                    for line in f:
                        for i, key in enumerate(("VmHWM:", "RssAnon:", "RssFile:")):
                            if line.startswith(key):
                                hwm[i] = max(hwm[i], int(line.split()[1]))
            except (OSError, ValueError):
                return
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(p.pid, 0)
    sampler.join(1)
    secs = time.monotonic() - t0
    reader.join(5)
    if output == "file":
        delivered = sum(sum(1 for _ in f.open("rb")) for f in out_dir.glob("events*"))
    elif output == "es":
        delivered = sink.docs("bench")
    else:
        delivered = es_http("GET", stand.es + "/_double/stats").get("indices", {}).get("bench", {}).get("docs", 0)
    code = os.waitstatus_to_exitcode(status)
    ok = code == 0 and delivered == expected and stand.queue_empty()
    if not ok:
        print("".join(stderr_lines)[-3000:])
    return secs, usage, hwm, delivered, ok, dict(proxy.calls)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--objects", type=int, default=8)
    ap.add_argument("--lines", type=int, default=250_000)
    ap.add_argument("--no-proxy", action="store_true", help="talk to moto directly (no call counts)")
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
                lines, raw, gz = put_objects(stand, a.objects, a.lines, 7)
                secs, u, (hwm_kb, anon_kb, file_kb), delivered, ok, calls = run(stand, proxy, sink, work, output, lines, a.no_proxy)
                cpu = u.ru_utime + u.ru_stime
                sqs = {k[4:]: v for k, v in calls.items() if k.startswith("sqs ")}
                s3 = {k[3:]: v for k, v in calls.items() if k.startswith("s3 ")}
                per = lambda d: ", ".join(f"{k} {v / a.objects:.2f}" for k, v in sorted(d.items()))
                print(f"{output}: {a.objects} objects x {a.lines:,} ALB lines ({raw / 1e6:.0f} MB, "
                      f"{gz / 1e6:.0f} MB gzip): {secs:.1f} s, {lines / secs:,.0f} events/s, "
                      f"{raw / 1e6 / secs:.1f} MB/s, {cpu:.1f} CPU-s ({cpu / lines * 1e6:.2f} CPU-s per million events), "
                      f"peak RSS {hwm_kb / 1024:.1f} MB (VmHWM; largest RssAnon {anon_kb / 1024:.1f} MB, "
                      f"RssFile {file_kb / 1024:.1f} MB); "
                      f"per object: SQS {per(sqs)}; S3 {per(s3)}; delivered {delivered:,}/{lines:,}: {ok}")
                if output == "es":
                    print(f"   (es_sink.py used {sink.cpu_seconds():.1f} CPU-s of the {secs:.1f} s)")
                ok_all &= ok
            finally:
                sink.close()
                proxy.close()
                stand.close()
    if not ok_all:
        sys.exit("not every event was delivered")


if __name__ == "__main__":
    main()
