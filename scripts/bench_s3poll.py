#!/usr/bin/env python3
"""`make bench-s3poll`: a polled bucket (`type: s3` with `bucket_arn`) of 10,000 to 1,000,000 objects:
the state and the memory stay flat.

moto lists a bucket by sorting every key for each page (a million keys would take most of an hour), so
this benchmark serves a synthetic bucket itself: `logs/000000000.log` ... with one ELB line each, every
object last modified a minute ago (inside the lookback: the worst case for the state, which then holds
its bound of 10,000 keys). It answers ListObjectsV2 (prefix, start-after, continuation token, max-keys)
and GetObject as S3 does, path-style, without checking signatures; it is a stand-in for speed, never used
by the tests (they use moto). For each size the release binary reads the bucket with `--once` into the
file output; the script prints wall seconds, objects/s, peak RSS, the size of the cursor document, and
checks that every object was read once.

Usage: python3 scripts/bench_s3poll.py [--sizes 10000,100000,1000000]
Environment: S3LB_BIN (default target/release/s3logsbeat).
"""
import argparse
import json
import pathlib
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from bench_faults import BIN, env, free_port  # noqa: E402

LINE = (b'2015-05-13T23:39:43.945958Z my-loadbalancer 192.168.131.39:2817 10.0.0.1:80 0.000086 0.001048 '
        b'0.001337 200 200 0 57 "GET https://www.example.com:443/ HTTP/1.1" "curl/7.38.0" '
        b'DHE-RSA-AES128-SHA TLSv1.2\n')
ETAG = '"5d2b1e6ac1e7b0a2c0b1d7f2e5c8a9b0"'


def serve(port, n, modified):
    keys_per_page = 1000

    def key(i):
        return f"logs/{i:09d}.log"

    def index_after(k):
        # The first index whose key sorts after k.
        if not k:
            return 0
        name = k[len("logs/"):].split(".")[0] if k.startswith("logs/") else ""
        if k < "logs/":
            return 0
        try:
            return int(name) + 1
        except ValueError:
            return n

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def setup(self):
            super().setup()
            # Headers and body go out in two writes: without this, Nagle and delayed ACKs add 40 ms to
            # every answer.
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def reply(self, code, body, ctype="application/xml", extra=()):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in extra:
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_GET(self):
            u = urllib.parse.urlsplit(self.path)
            parts = u.path.lstrip("/").split("/", 1)
            q = urllib.parse.parse_qs(u.query)
            if len(parts) == 1 or parts[1] == "":
                start = index_after(q.get("continuation-token", q.get("start-after", [""]))[0])
                prefix = q.get("prefix", [""])[0]
                if not "logs/".startswith(prefix) and not prefix.startswith("logs/"):
                    start = n
                end = min(n, start + int(q.get("max-keys", [keys_per_page])[0]))
                items = "".join(
                    f"<Contents><Key>{key(i)}</Key><LastModified>{modified}</LastModified><ETag>{ETAG}</ETag>"
                    f"<Size>{len(LINE)}</Size><StorageClass>STANDARD</StorageClass></Contents>"
                    for i in range(start, end))
                more = end < n
                token = f"<NextContinuationToken>{key(end - 1)}</NextContinuationToken>" if more else ""
                body = (f'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                        f"<Name>{parts[0]}</Name><Prefix>{prefix}</Prefix><KeyCount>{end - start}</KeyCount>"
                        f"<MaxKeys>{keys_per_page}</MaxKeys><IsTruncated>{'true' if more else 'false'}</IsTruncated>"
                        f"{token}{items}</ListBucketResult>").encode()
                return self.reply(200, body)
            self.reply(200, LINE, "text/plain", [("ETag", ETAG), ("Last-Modified", time.strftime(
                "%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() - 60)))])

        do_HEAD = do_GET

    srv = ThreadingHTTPServer(("127.0.0.1", port), H)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def run(n):
    work = pathlib.Path(tempfile.mkdtemp(prefix="s3lb-bench-poll-"))
    port = free_port()
    modified = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 60))
    srv = serve(port, n, modified)
    try:
        out = work / "out"
        cfg = work / "s3logsbeat.yml"
        cfg.write_text(json.dumps({
            "s3logsbeat": {"aws": {"endpoint": f"http://127.0.0.1:{port}", "region": "us-east-1",
                                   "path_style": True},
                           "inputs": [{"type": "s3", "bucket_arn": "arn:aws:s3:::bench",
                                       "bucket_list_prefix": "logs/", "log_format": "elb",
                                       "number_of_workers": 16}]},
            "output.file": {"path": str(out), "filename": "events", "rotate_every_kb": 10_000_000},
            "path.data": str(work / "data"),
        }))
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.time()
        r = subprocess.run(["/usr/bin/time", "-f", "%M", str(BIN), "-c", str(cfg), "--once"], env=env(),
                           capture_output=True, text=True)
        wall = time.time() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if r.returncode != 0:
            sys.exit(f"s3logsbeat failed ({r.returncode}):\n{r.stderr[-3000:]}")
        rss_kb = int(r.stderr.strip().splitlines()[-1])
        paths = set()
        lines = 0
        for f in sorted(out.iterdir()):
            with open(f) as fh:
                for line in fh:
                    lines += 1
                    paths.add(json.loads(line)["log"]["file"]["path"])
        if lines != n or len(paths) != n:
            sys.exit(f"expected {n} objects read once, got {lines} events from {len(paths)} objects")
        state = next((p for p in (work / "data").iterdir() if p.name.startswith("s3_poll.")), None)
        doc = json.loads(state.read_text())
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        print(f"{n:>9,} objects: {wall:6.1f} s wall, {n / wall:7,.0f} objects/s, {cpu:6.1f} CPU-s, "
              f"peak RSS {rss_kb / 1024:5.1f} MB, cursor document {state.stat().st_size / 1024:6.0f} KiB "
              f"({len(doc['data']['done']):,} keys remembered); every object read once")
    finally:
        srv.shutdown()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000,1000000")
    a = ap.parse_args()
    for n in [int(s) for s in a.sizes.split(",")]:
        run(n)


if __name__ == "__main__":
    main()
