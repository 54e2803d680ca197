#!/usr/bin/env python3
"""A fast Elasticsearch 8 stand-in for benchmarks: every bulk item succeeds, nothing is kept but counts.

`make bench-e2e`'s `es` drain needs an Elasticsearch that is not the limit. The test double
(`tests/doubles/es_double.py`) checks every item as Elasticsearch 8 does and keeps every document, which
holds it to about 1,600 events/s here. This sink does only what a healthy cluster's fast path does for the
requests s3logsbeat makes:

- `GET /` and `HEAD /`: the double's root document (the same dict, imported, so they cannot drift);
- `HEAD /_index_template/<name>`: 404 until a `PUT`, then 200; `PUT`: `{"acknowledged":true}`;
- `POST /_bulk` (gzip or plain, Content-Length or chunked): one `create` item with status 201 per action
  line, in the form Elasticsearch gives under s3logsbeat's `filter_path`
  (`{"errors":false,"items":[{"create":{"status":201}},...]}`). `tests/doubles/test_es_sink.py` checks
  that this is, byte for byte after parsing, what the double answers to the same request.
- `GET /_sink/stats`: `{"docs": N, "bulks": M, "bytes": B}` (documents per index under `indices`).

Action lines are told from documents by position (every action here is followed by one document: s3logsbeat
sends `create` only). The index is read from the action line when it names one.

Usage: python3 scripts/es_sink.py [--port P] [--port-file F]
"""
import argparse
import collections
import gzip
import importlib.util
import json
import pathlib
import sys
import threading
from http import server as hserver

ROOT = pathlib.Path(__file__).resolve().parent.parent


def root_body():
    """The double's `GET /` body: imported, never copied."""
    spec = importlib.util.spec_from_file_location("es_double_root", ROOT / "tests" / "doubles" / "es_double.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.ROOT_BODY


ITEM = b'{"create":{"status":201}}'


def bulk_response(body):
    """(response bytes, {index: documents}) for a bulk body whose items all succeed."""
    lines = [l for l in body.split(b"\n") if l.strip()]
    per_index = collections.Counter()
    actions = lines[0::2]
    for a in actions:
        # `{"create":{"_index":"bench","_id":"…"}}`: a cheap read of `_index`, no JSON parse per item.
        i = a.find(b'"_index"')
        if i >= 0:
            start = a.index(b'"', a.index(b":", i + 8)) + 1
            name = a[start:a.index(b'"', start)].decode()
        else:
            name = "_default"
        per_index[name] += 1
    return b'{"errors":false,"items":[' + b",".join([ITEM] * len(actions)) + b"]}", per_index


class Sink(hserver.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, addr):
        super().__init__(addr, Handler)
        self.root = json.dumps(root_body()).encode()
        self.lock = threading.Lock()
        self.indices = collections.Counter()
        self.bulks = 0
        self.bytes = 0
        self.templates = set()


class Handler(hserver.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            data = b"".join(parts)
        else:
            n = int(self.headers.get("Content-Length") or 0)
            data = self.rfile.read(n) if n else b""
        if (self.headers.get("Content-Encoding") or "").lower() == "gzip":
            data = gzip.decompress(data)
        return data

    def answer(self, status, body=b"{}"):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-elastic-product", "Elasticsearch")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def route(self):
        path = self.path.split("?", 1)[0]
        data = self.body()
        srv = self.server
        if path == "/" and self.command in ("GET", "HEAD"):
            return self.answer(200, srv.root)
        if path == "/_sink/stats":
            with srv.lock:
                stats = {"docs": sum(srv.indices.values()), "bulks": srv.bulks, "bytes": srv.bytes,
                         "indices": dict(srv.indices)}
            return self.answer(200, json.dumps(stats).encode())
        if path.startswith("/_index_template/"):
            name = path[len("/_index_template/"):]
            if self.command == "PUT":
                with srv.lock:
                    srv.templates.add(name)
                return self.answer(200, b'{"acknowledged":true}')
            found = name in srv.templates
            return self.answer(200 if found else 404, b"{}")
        if path.endswith("/_bulk") and self.command in ("POST", "PUT"):
            resp, per_index = bulk_response(data)
            with srv.lock:
                srv.indices.update(per_index)
                srv.bulks += 1
                srv.bytes += len(data)
            return self.answer(200, resp)
        return self.answer(400, json.dumps({"error": f"es_sink: {self.command} {path} is not served"}).encode())

    do_GET = do_HEAD = do_POST = do_PUT = route


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    args = ap.parse_args()
    srv = Sink(("127.0.0.1", args.port))
    port = srv.server_address[1]
    if args.port_file:
        pathlib.Path(args.port_file).write_text(str(port))
    print(f"es_sink listening on http://127.0.0.1:{port}", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
