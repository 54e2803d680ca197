"""A proxy in front of moto that refuses CloudWatch Logs calls as AWS does under its quota.

The first N `FilterLogEvents` requests (header `X-Amz-Target: Logs_20140328.FilterLogEvents`) are answered
`400` with `ThrottlingException`, in the JSON-1.1 shape CloudWatch Logs uses; every other request is
forwarded to moto unchanged and its answer relayed. `GET /proxy/stats` reports what was refused and
forwarded, so a test can check both sides.

Usage: throttle_proxy.py PORT MOTO_URL N [ERROR]
ERROR is the error code answered (default ThrottlingException; AccessDeniedException shows a refused
permission).
"""

import http.client
import json
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(sys.argv[1])
UPSTREAM = urllib.parse.urlparse(sys.argv[2])
TO_REFUSE = int(sys.argv[3])
ERROR = sys.argv[4] if len(sys.argv) > 4 else "ThrottlingException"

lock = threading.Lock()
stats = {"refused": 0, "forwarded": 0, "filter_log_events": 0}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _send(self, status, headers, body):
        self.send_response(status)
        for k, v in headers:
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self):
        if self.path == "/proxy/stats":
            with lock:
                body = json.dumps(stats).encode()
            self._send(200, [("Content-Type", "application/json")], body)
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        target = self.headers.get("X-Amz-Target", "")
        if target.endswith(".FilterLogEvents"):
            with lock:
                stats["filter_log_events"] += 1
                refuse = stats["refused"] < TO_REFUSE
                if refuse:
                    stats["refused"] += 1
            if refuse:
                err = json.dumps(
                    {"__type": ERROR, "message": "Rate exceeded" if ERROR == "ThrottlingException"
                     else "User is not authorized to perform: logs:FilterLogEvents"}
                ).encode()
                self._send(
                    400,
                    [
                        ("Content-Type", "application/x-amz-json-1.1"),
                        ("x-amzn-ErrorType", ERROR),
                    ],
                    err,
                )
                return
        conn = http.client.HTTPConnection(UPSTREAM.hostname, UPSTREAM.port, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
        headers["Host"] = UPSTREAM.netloc
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        with lock:
            stats["forwarded"] += 1
        self._send(resp.status, resp.getheaders(), data)
        conn.close()

    do_GET = _handle
    do_POST = _handle
    do_PUT = _handle
    do_HEAD = _handle
    do_DELETE = _handle


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
