"""Self-test of the Elasticsearch 8 test double (es_double.py).

Run from the repository root:

    python3 -m unittest discover -s tests/doubles -v

The double is started as a subprocess on a free loopback port and exercised
with raw http.client requests: every behaviour promised by its docstring and
by /work/shared/reference/elasticsearch-bulk.md has a test here.  Standard
library only; the whole suite runs in a few seconds.
"""

import base64
import gzip
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
DOUBLE = os.path.join(HERE, "es_double.py")
NDJSON = {"Content-Type": "application/x-ndjson"}
JSON = {"Content-Type": "application/json"}


# ---------------------------------------------------------------------------
# Process and HTTP helpers
# ---------------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DoubleProcess:
    """The double as a subprocess, started with --port-file."""

    def __init__(self, port=0, refresh_interval=None):
        self.tmp = tempfile.mkdtemp(prefix="es_double_test_")
        self.port_file = os.path.join(self.tmp, "port")
        cmd = [sys.executable, DOUBLE, "--port", str(port), "--port-file", self.port_file]
        if refresh_interval is not None:
            cmd += ["--refresh-interval", str(refresh_interval)]
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self.stdout_line = self.proc.stdout.readline().decode()
        deadline = time.monotonic() + 10
        while not os.path.exists(self.port_file):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("the double did not start: " + self.proc.stderr.read().decode())
            time.sleep(0.02)
        with open(self.port_file) as f:
            self.port_file_text = f.read()
        self.port = int(self.port_file_text)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()
        for name in os.listdir(self.tmp):
            os.unlink(os.path.join(self.tmp, name))
        os.rmdir(self.tmp)
        return self.proc.returncode


class Resp:
    def __init__(self, r, body):
        self.status = r.status
        self.headers = r.getheaders()
        self.header_map = {k.lower(): v for k, v in self.headers}
        self.body = body

    def header_values(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    @property
    def json(self):
        return json.loads(self.body)


def call(port, method, path, body=None, headers=None, conn=None):
    """One request; a fresh connection unless ``conn`` is given."""
    own = conn is None
    if own:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    if isinstance(body, str):
        body = body.encode()
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        headers = dict(JSON, **(headers or {}))
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return Resp(r, r.read())
    finally:
        if own:
            conn.close()


def ndjson(*lines):
    """Compact NDJSON, UTF-8, every line terminated by a newline."""
    return "".join(json.dumps(line, separators=(",", ":"), ensure_ascii=False) + "\n" for line in lines).encode()


# ---------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------

class EsDoubleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # A long refresh interval: visibility is controlled by explicit refreshes.
        cls.double = DoubleProcess(refresh_interval=3600)
        cls.port = cls.double.port

    @classmethod
    def tearDownClass(cls):
        cls.double.stop()

    def setUp(self):
        r = self.ctl("POST", "/_double/reset")
        self.assertEqual(r.status, 200)

    # -- helpers ---------------------------------------------------------
    def req(self, method, path, body=None, headers=None, conn=None):
        return call(self.port, method, path, body, headers, conn)

    def ctl(self, method, path, body=None):
        return call(self.port, method, path, body)

    def faults(self, **kw):
        r = self.ctl("POST", "/_double/faults", kw)
        self.assertEqual(r.status, 200, r.body)
        return r.json

    def stats(self):
        return self.ctl("GET", "/_double/stats").json

    def bulk(self, *lines, path="/_bulk", headers=None, conn=None):
        return self.req("POST", path, ndjson(*lines), dict(NDJSON, **(headers or {})), conn)

    def ok_bulk(self, *lines, path="/_bulk"):
        r = self.bulk(*lines, path=path)
        self.assertEqual(r.status, 200, r.body)
        return r.json

    def item(self, resp_json, n=0):
        (key, value), = resp_json["items"][n].items()
        return key, value

    def assertEnvelope(self, r, status, etype, reason=None):
        self.assertEqual(r.status, status, r.body)
        j = r.json
        self.assertEqual(j["status"], status)
        self.assertEqual(j["error"]["type"], etype)
        self.assertEqual(j["error"]["root_cause"][0]["type"], etype)
        if reason is not None:
            self.assertEqual(j["error"]["reason"], reason)
            self.assertEqual(j["error"]["root_cause"][0]["reason"], reason)
        return j

    def refresh(self, index):
        self.assertEqual(self.req("POST", f"/{index}/_refresh").status, 200)

    def count(self, index):
        r = self.req("GET", f"/{index}/_count")
        self.assertEqual(r.status, 200, r.body)
        return r.json["count"]

    # -- process interface -------------------------------------------------
    def test_startup_reports_port(self):
        self.assertRegex(self.double.port_file_text, r"^\d+\n$")
        self.assertEqual(self.double.stdout_line, f"listening on 127.0.0.1:{self.port}\n")

    def test_restart_on_same_port_and_sigterm(self):
        port = free_port()
        first = DoubleProcess(port=port)
        self.assertEqual(call(port, "GET", "/").status, 200)
        self.assertEqual(first.stop(), 0)                  # SIGTERM: clean exit
        second = DoubleProcess(port=port)                  # allow_reuse_address
        try:
            self.assertEqual(second.port, port)
            self.assertEqual(call(port, "GET", "/").status, 200)
        finally:
            self.assertEqual(second.stop(), 0)

    # -- general rules -------------------------------------------------------
    def test_root_get_and_head(self):
        r = self.req("GET", "/")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header_map["x-elastic-product"], "Elasticsearch")
        self.assertEqual(r.header_map["content-type"], "application/json")
        j = r.json
        self.assertEqual(j["version"]["number"][:2], "8.")
        self.assertEqual(j["tagline"], "You Know, for Search")
        self.assertRegex(j["version"]["build_hash"], r"^[0-9a-f]{40}$")
        self.assertEqual(j["version"]["minimum_wire_compatibility_version"], "7.17.0")
        h = self.req("HEAD", "/")
        self.assertEqual(h.status, 200)
        self.assertEqual(h.body, b"")
        self.assertEqual(h.header_map["x-elastic-product"], "Elasticsearch")

    def test_product_header_on_every_response(self):
        responses = [
            self.req("GET", "/nope/_count"),                                  # 404
            self.req("GET", "/_bulk"),                                        # 405
            self.req("GET", "/_nothing_here"),                                # 400 no handler
            self.req("POST", "/_bulk", b"x", {"Content-Type": "text/plain"}),  # 406
            self.bulk({"index": {"_index": "a"}}, {"a": 1}),                   # 200
        ]
        self.faults(max_content_length=10)
        responses.append(self.bulk({"index": {"_index": "a"}}, {"a": 1}))     # 413
        for r in responses:
            self.assertEqual(r.header_map.get("x-elastic-product"), "Elasticsearch", r.status)
        self.assertEqual([r.status for r in responses], [404, 405, 400, 406, 200, 413])
        self.assertEqual(responses[1].json, {"error": "Incorrect HTTP method for uri [/_bulk] and method [GET], "
                                                      "allowed: [POST, PUT]", "status": 405})
        self.assertEqual(responses[2].json, {"error": "no handler found for uri [/_nothing_here] and method [GET]",
                                             "status": 400})

    def test_content_type_rules(self):
        body = ndjson({"index": {"_index": "ct"}}, {"a": 1})
        r = self.req("POST", "/_bulk", body, {"Content-Type": "text/plain"})
        self.assertEqual(r.status, 406)
        self.assertEqual(r.json, {"error": "Content-Type header [text/plain] is not supported", "status": 406})
        r = self.req("POST", "/_bulk", body, {"Content-Type": "text/plain; charset=UTF-8"})
        self.assertEqual(r.json["error"], "Content-Type header [text/plain; charset=UTF-8] is not supported")
        r = self.req("POST", "/_bulk", body, {"Content-Type": "application/json; charset=ISO-8859-1"})
        self.assertEqual(r.status, 406)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.putrequest("POST", "/_bulk", skip_accept_encoding=True)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        r = conn.getresponse()
        self.assertEqual((r.status, json.loads(r.read())),
                         (406, {"error": "Content-Type header is missing", "status": 406}))
        conn.close()
        for ctype in ("application/json", "application/x-ndjson", "application/json; charset=UTF-8",
                      "application/x-ndjson;charset=utf-8"):
            r = self.req("POST", "/_bulk", body, {"Content-Type": ctype})
            self.assertEqual(r.status, 200, ctype)
        # Compatible-with: answered in kind; both headers must carry the version.
        vnd = "application/vnd.elasticsearch+json;compatible-with=8"
        r = self.req("POST", "/_bulk", body, {"Content-Type": "application/vnd.elasticsearch+x-ndjson;compatible-with=8",
                                             "Accept": vnd})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.header_map["content-type"], vnd)
        r = self.req("POST", "/_bulk", body, {"Content-Type": "application/x-ndjson", "Accept": vnd})
        self.assertEnvelope(r, 400, "media_type_header_exception",
                            "Invalid media-type value on headers [Accept, Content-Type]")
        # GET without a body needs no Content-Type.
        self.assertEqual(self.req("GET", "/").status, 200)

    def test_gzip_request_body(self):
        raw = ndjson({"index": {"_index": "gz", "_id": "1"}}, {"msg": "compressed"})
        packed = gzip.compress(raw)
        r = self.req("POST", "/_bulk", packed, dict(NDJSON, **{"Content-Encoding": "gzip"}))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(self.item(r.json)[1]["result"], "created")
        self.assertEqual(self.req("GET", "/gz/_doc/1").json["_source"], {"msg": "compressed"})
        s = self.stats()
        self.assertEqual((s["gzip_requests"], s["bulk_requests"], s["bulk_bytes"]), (1, 1, len(packed)))
        r = self.req("POST", "/_bulk", b"not gzip", dict(NDJSON, **{"Content-Encoding": "gzip"}))
        self.assertEqual(r.status, 400)

    def test_error_envelope(self):
        r = self.req("GET", "/missing/_count")
        self.assertEqual(r.json, {"error": {"root_cause": [{"type": "index_not_found_exception",
                                                           "reason": "no such index [missing]",
                                                           "resource.type": "index_or_alias",
                                                           "resource.id": "missing", "index_uuid": "_na_",
                                                           "index": "missing"}],
                                           "type": "index_not_found_exception", "reason": "no such index [missing]",
                                           "resource.type": "index_or_alias", "resource.id": "missing",
                                           "index_uuid": "_na_", "index": "missing"},
                                 "status": 404})

    # -- authentication ----------------------------------------------------
    def test_auth_basic(self):
        self.faults(auth={"basic": ["elastic", "changeme"]})
        r = self.bulk({"index": {"_index": "sec"}}, {"a": 1})
        self.assertEnvelope(r, 401, "security_exception", "missing authentication credentials for REST request [/_bulk]")
        self.assertEqual(r.header_values("WWW-Authenticate"),
                         ['Basic realm="security", charset="UTF-8"', "ApiKey"])
        bad = "Basic " + base64.b64encode(b"elastic:wrong").decode()
        r = self.bulk({"index": {"_index": "sec"}}, {"a": 1}, headers={"Authorization": bad})
        self.assertEnvelope(r, 401, "security_exception", "unable to authenticate user [elastic] for REST request [/_bulk]")
        self.assertEqual(len(r.header_values("WWW-Authenticate")), 2)
        good = "Basic " + base64.b64encode(b"elastic:changeme").decode()
        r = self.bulk({"index": {"_index": "sec"}}, {"a": 1}, headers={"Authorization": good})
        self.assertEqual(r.status, 200)
        self.assertEqual(self.req("GET", "/", headers={"Authorization": good}).status, 200)
        self.assertEqual(self.req("GET", "/").status, 401)
        # Control requests never need credentials.
        self.assertEqual(self.ctl("GET", "/_double/stats").json["requests_401"], 3)
        self.faults(auth=None)
        self.assertEqual(self.req("GET", "/").status, 200)

    def test_auth_api_key_and_write_indices(self):
        self.faults(auth={"api_key": "key1:s3cret", "write_indices": ["logs-ok*"]})
        good = "ApiKey " + base64.b64encode(b"key1:s3cret").decode()
        bad = "ApiKey " + base64.b64encode(b"key1:nope").decode()
        r = self.req("GET", "/", headers={"Authorization": bad})
        j = self.assertEnvelope(r, 401, "security_exception")
        self.assertIn("unable to authenticate", j["error"]["reason"])
        r = self.req("GET", "/", headers={"Authorization": "Basic " + base64.b64encode(b"u:p").decode()})
        self.assertEqual(r.status, 401)
        r = self.bulk({"index": {"_index": "logs-ok1", "_id": "1"}}, {"a": 1},
                      {"index": {"_index": "other", "_id": "2"}}, {"a": 1},
                      headers={"Authorization": good})
        self.assertEqual(r.status, 200)
        self.assertEqual(self.item(r.json, 0)[1]["status"], 201)
        forbidden = self.item(r.json, 1)[1]
        self.assertEqual((forbidden["status"], forbidden["error"]["type"]), (403, "security_exception"))
        self.assertTrue(forbidden["error"]["reason"].startswith("action [indices:data/write/bulk[s]] is unauthorized"))

    # -- bulk: structure ---------------------------------------------------
    def test_bulk_terminating_newline(self):
        body = b'{"index":{"_index":"nl"}}\n{"a":1}'
        r = self.req("POST", "/_bulk", body, NDJSON)
        self.assertEnvelope(r, 400, "illegal_argument_exception",
                            "The bulk request must be terminated by a newline [\\n]")
        self.assertEqual(self.stats()["indices"], {})

    def test_bulk_empty_body(self):
        for body in (b"", b"\n\n"):
            r = self.req("POST", "/_bulk", body, NDJSON)
            self.assertEnvelope(r, 400, "action_request_validation_exception",
                                "Validation Failed: 1: no requests added;")

    def test_bulk_malformed_action_line(self):
        r = self.bulk({"index": {"_index": "m"}}, {"a": 1}, {"upsert": {"_index": "m"}}, {"a": 1})
        self.assertEnvelope(r, 400, "illegal_argument_exception",
                            "Malformed action/metadata line [3], expected one of [create, delete, index, update] "
                            "but found [upsert]")
        r = self.req("POST", "/_bulk", b'{"index":{"_index":"m"}\n{"a":1}\n', NDJSON)
        self.assertEnvelope(r, 400, "x_content_parse_exception")
        r = self.bulk({"index": {"_index": "m", "colour": "red"}}, {"a": 1})
        self.assertEnvelope(r, 400, "illegal_argument_exception",
                            "Action/metadata line [1] contains an unknown parameter [colour]")
        self.assertEqual(self.stats()["indices"], {})   # nothing indexed by a rejected request

    def test_bulk_type_rejected(self):
        r = self.bulk({"index": {"_index": "t", "_type": "_doc"}}, {"a": 1})
        self.assertEnvelope(r, 400, "illegal_argument_exception",
                            "Action/metadata line [1] contains an unknown parameter [_type]")

    def test_bulk_index_from_url_action_and_missing(self):
        j = self.ok_bulk({"index": {}}, {"a": 1}, {"index": {"_index": "other"}}, {"a": 2}, path="/fromurl/_bulk")
        self.assertEqual([self.item(j, n)[1]["_index"] for n in (0, 1)], ["fromurl", "other"])
        r = self.bulk({"index": {"_index": "x"}}, {"a": 1}, {"create": {}}, {"a": 1}, {"delete": {"_index": "x"}})
        self.assertEnvelope(r, 400, "action_request_validation_exception",
                            "Validation Failed: 1: index is missing;2: id is missing;")

    def test_bulk_generated_ids(self):
        j = self.ok_bulk({"index": {"_index": "gen"}}, {"a": 1}, {"create": {"_index": "gen"}}, {"a": 2})
        ids = [self.item(j, n)[1]["_id"] for n in (0, 1)]
        for i in ids:
            self.assertRegex(i, r"^[A-Za-z0-9_-]{20}$")
        self.assertNotEqual(ids[0], ids[1])

    def test_index_name_validation(self):
        bad = {"Upper": "must be lowercase", "_under": "must not start with '_', '-', or '+'",
               "-dash": "must not start with '_', '-', or '+'", "+plus": "must not start with '_', '-', or '+'",
               "a b": "must not contain the following characters [' ','\"','*',',','/','<','>','?','\\\\','|']",
               "a#b": "must not contain '#'", "a" * 256: "index name is too long, (256 > 255)"}
        for c in '\\/*?"<>|,':
            bad["x" + c] = "must not contain the following characters [' ','\"','*',',','/','<','>','?','\\\\','|']"
        lines = []
        for name in bad:
            lines += [{"index": {"_index": name, "_id": "1"}}, {"a": 1}]
        lines += [{"index": {"_index": "good-name.1", "_id": "1"}}, {"a": 1}]
        j = self.ok_bulk(*lines)
        self.assertTrue(j["errors"])
        for n, (name, problem) in enumerate(bad.items()):
            key, item = self.item(j, n)
            self.assertEqual(item["status"], 400, name)
            self.assertEqual(item["error"]["type"], "invalid_index_name_exception")
            self.assertEqual(item["error"]["reason"], f"Invalid index name [{name}], {problem}".replace("\\\\", "\\"))
        self.assertEqual(self.item(j, len(bad))[1]["status"], 201)
        self.assertEqual(list(self.stats()["indices"]), ["good-name.1"])

    # -- bulk: semantics -----------------------------------------------------
    def test_create_index_update_delete_versions(self):
        j = self.ok_bulk({"index": {"_index": "logs", "_id": "a1"}}, {"n": 1},
                         {"index": {"_index": "logs", "_id": "a1"}}, {"n": 2},
                         {"create": {"_index": "logs", "_id": "b1"}}, {"n": 3},
                         {"update": {"_index": "logs", "_id": "b1"}}, {"doc": {"m": 4}},
                         {"update": {"_index": "logs", "_id": "b1"}}, {"doc": {"m": 4}},
                         {"delete": {"_index": "logs", "_id": "a1"}},
                         {"delete": {"_index": "logs", "_id": "a1"}},
                         {"update": {"_index": "logs", "_id": "zz"}}, {"doc": {"m": 1}},
                         {"update": {"_index": "logs", "_id": "up"}}, {"doc": {"m": 1}, "doc_as_upsert": True})
        self.assertEqual(j["errors"], True)            # the document_missing update
        self.assertIsInstance(j["took"], int)
        got = [(k, v.get("result"), v["status"], v.get("_version"), v.get("_seq_no")) for k, v in
               (self.item(j, n) for n in range(len(j["items"])))]
        self.assertEqual(got, [("index", "created", 201, 1, 0), ("index", "updated", 200, 2, 1),
                               ("create", "created", 201, 1, 2), ("update", "updated", 200, 2, 3),
                               ("update", "noop", 200, 2, 3), ("delete", "deleted", 200, 3, 4),
                               ("delete", "not_found", 404, 4, 5), ("update", None, 404, None, None),
                               ("update", "created", 201, 1, 6)])
        created = self.item(j, 0)[1]
        self.assertEqual(created, {"_index": "logs", "_id": "a1", "_version": 1, "result": "created",
                                   "_shards": {"total": 2, "successful": 1, "failed": 0}, "_seq_no": 0,
                                   "_primary_term": 1, "status": 201})
        self.assertEqual(self.item(j, 7)[1]["error"]["type"], "document_missing_exception")
        self.assertEqual(self.req("GET", "/logs/_doc/b1").json["_source"], {"n": 3, "m": 4})
        # Re-creating a deleted id continues its version (tombstone).
        j = self.ok_bulk({"index": {"_index": "logs", "_id": "a1"}}, {"n": 9})
        self.assertEqual((self.item(j)[1]["result"], self.item(j)[1]["_version"]), ("created", 5))

    def test_create_conflict_409(self):
        self.ok_bulk({"create": {"_index": "logs", "_id": "a1"}}, {"n": 1})
        j = self.ok_bulk({"create": {"_index": "logs", "_id": "a1"}}, {"n": 2},
                         {"create": {"_index": "logs", "_id": "a2"}}, {"n": 3})
        self.assertTrue(j["errors"])
        key, item = self.item(j, 0)
        self.assertEqual(key, "create")
        uuid = item["error"]["index_uuid"]
        self.assertRegex(uuid, r"^[A-Za-z0-9_-]{22}$")
        self.assertEqual(item, {"_index": "logs", "_id": "a1", "status": 409,
                                "error": {"type": "version_conflict_engine_exception",
                                          "reason": "[a1]: version conflict, document already exists (current version [1])",
                                          "index_uuid": uuid, "shard": "0", "index": "logs"}})
        self.assertEqual(self.item(j, 1)[1]["status"], 201)
        self.assertEqual(self.req("GET", "/logs/_doc/a1").json["_source"], {"n": 1})
        self.assertEqual(self.stats()["items"]["conflict_409"], 1)

    def test_if_seq_no_concurrency_control(self):
        self.ok_bulk({"index": {"_index": "cas", "_id": "1"}}, {"n": 1})
        j = self.ok_bulk({"index": {"_index": "cas", "_id": "1", "if_seq_no": 5, "if_primary_term": 1}}, {"n": 2},
                         {"index": {"_index": "cas", "_id": "1", "if_seq_no": 0, "if_primary_term": 1}}, {"n": 3})
        self.assertEqual([self.item(j, n)[1]["status"] for n in (0, 1)], [409, 200])

    def test_items_in_request_order_keyed_by_action(self):
        lines = []
        expected = []
        for n in range(30):
            action = ("index", "create", "update", "delete")[n % 4]
            lines.append({action: {"_index": "order", "_id": str(n // 4)}})
            if action == "update":
                lines.append({"doc": {"u": n}})
            elif action != "delete":
                lines.append({"n": n})
            expected.append((action, str(n // 4)))
        j = self.ok_bulk(*lines)
        self.assertEqual([(k, v["_id"]) for k, v in (self.item(j, n) for n in range(30))], expected)

    def test_filter_path(self):
        lines = [{"index": {"_index": "fp", "_id": "1"}}, {"a": 1},
                 {"create": {"_index": "fp", "_id": "1"}}, {"a": 1}]
        r = self.req("POST", "/_bulk?filter_path=errors,items.*.error,items.*.status", ndjson(*lines), NDJSON)
        j = r.json
        self.assertEqual(set(j), {"errors", "items"})
        self.assertEqual(j["items"][0], {"index": {"status": 201}})
        self.assertEqual(set(j["items"][1]["create"]), {"status", "error"})
        r = self.req("POST", "/_bulk?filter_path=took,errors", ndjson(*lines[:2]), NDJSON)
        self.assertEqual(set(r.json), {"took", "errors"})
        self.assertIs(r.json["errors"], False)

    def test_pipeline_refresh_and_unknown_params(self):
        line = ({"index": {"_index": "rp"}}, {"a": 1})
        self.assertEqual(self.bulk(*line, path="/_bulk?pipeline=my-pipe").status, 200)
        self.assertEqual(self.count("rp"), 0)                  # not refreshed yet
        j = self.ok_bulk(*line, path="/_bulk?refresh=true")
        self.assertIs(self.item(j)[1]["forced_refresh"], True)
        self.assertEqual(self.count("rp"), 2)
        self.ok_bulk(*line, path="/_bulk?refresh=wait_for")
        self.assertEqual(self.count("rp"), 3)
        r = self.bulk(*line, path="/_bulk?refresh=sometimes")
        self.assertEnvelope(r, 400, "illegal_argument_exception", "Unknown value for refresh: [sometimes].")
        r = self.bulk(*line, path="/_bulk?colour=red")
        self.assertEnvelope(r, 400, "illegal_argument_exception",
                            "request [/_bulk] contains unrecognized parameter: [colour]")

    # -- dynamic mapping ---------------------------------------------------
    def test_dynamic_mapping_first_value_fixes_type(self):
        self.ok_bulk({"index": {"_index": "dm", "_id": "1"}},
                     {"status": 200, "ratio": 0.5, "ts": "2024-05-01T10:00:00.123Z", "msg": "hello",
                      "obj": {"inner": 1}})
        j = self.ok_bulk({"index": {"_index": "dm", "_id": "2"}}, {"status": "-"},
                         {"index": {"_index": "dm", "_id": "3"}}, {"status": "404"},
                         {"index": {"_index": "dm", "_id": "4"}}, {"ratio": "abc"},
                         {"index": {"_index": "dm", "_id": "5"}}, {"ts": "yesterday"},
                         {"index": {"_index": "dm", "_id": "6"}}, {"msg": 42},
                         {"index": {"_index": "dm", "_id": "7"}}, {"obj": "flat"},
                         {"index": {"_index": "dm", "_id": "8"}}, {"status": {"code": 1}},
                         {"index": {"_index": "dm", "_id": "9"}}, {"ratio": 7})
        self.assertTrue(j["errors"])
        statuses = [self.item(j, n)[1]["status"] for n in range(8)]
        self.assertEqual(statuses, [400, 201, 400, 400, 201, 400, 400, 201])
        err = self.item(j, 0)[1]["error"]
        self.assertEqual(err["type"], "document_parsing_exception")
        self.assertEqual(err["reason"], "[1:11] failed to parse field [status] of type [long] in document with id "
                                        "'2'. Preview of field's value: '-'")
        self.assertIn("failed to parse field [ratio] of type [float]", self.item(j, 2)[1]["error"]["reason"])
        self.assertIn("failed to parse field [ts] of type [date]", self.item(j, 3)[1]["error"]["reason"])
        self.assertIn("object mapping for [obj] tried to parse field [obj] as object, but found a concrete value",
                      self.item(j, 5)[1]["error"]["reason"])
        self.assertIn("failed to parse field [status] of type [long] in document with id '8'. Preview of field's "
                      "value: '{code=1}'", self.item(j, 6)[1]["error"]["reason"])
        props = self.req("GET", "/dm/_mapping").json["dm"]["mappings"]["properties"]
        self.assertEqual(props["status"], {"type": "long"})
        self.assertEqual(props["ratio"], {"type": "float"})
        self.assertEqual(props["ts"], {"type": "date"})
        self.assertEqual(props["msg"], {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}})
        self.assertEqual(props["obj"], {"properties": {"inner": {"type": "long"}}})
        s = self.stats()
        self.assertEqual((s["items"]["mapping_400"], s["indices"]["dm"]["docs"]), (5, 4))
        # A failed document adds no field to the mapping.
        j = self.ok_bulk({"index": {"_index": "dm", "_id": "10"}}, {"brand_new": 1, "status": "x"})
        self.assertEqual(self.item(j)[1]["status"], 400)
        self.assertNotIn("brand_new", self.req("GET", "/dm/_mapping").json["dm"]["mappings"]["properties"])

    def test_duplicate_keys_and_bad_sources_fail_the_item(self):
        body = (b'{"index":{"_index":"src","_id":"1"}}\n{"a":1,"a":2}\n'
                b'{"index":{"_index":"src","_id":"2"}}\n{"a":\n'
                b'{"index":{"_index":"src","_id":"3"}}\n{"_id":"x"}\n'
                b'{"index":{"_index":"src","_id":"4"}}\n{"a":3}\n')
        j = self.req("POST", "/_bulk", body, NDJSON).json
        self.assertEqual([self.item(j, n)[1]["status"] for n in range(4)], [400, 400, 400, 201])
        self.assertIn("Duplicate field 'a'", self.item(j, 0)[1]["error"]["reason"])
        self.assertIn("is a metadata field", self.item(j, 2)[1]["error"]["reason"])

    # -- index templates -----------------------------------------------------
    def test_index_template_put_get_and_typing(self):
        tpl = {"index_patterns": ["alb-*"], "priority": 10,
               "template": {"settings": {"number_of_replicas": 0},
                            "mappings": {"properties": {"client_ip": {"type": "ip"},
                                                        "elb_status_code": {"type": "long"},
                                                        "host": {"type": "keyword"}}}}}
        r = self.req("PUT", "/_index_template/alb", tpl)
        self.assertEqual((r.status, r.json), (200, {"acknowledged": True}))
        r = self.req("GET", "/_index_template/alb")
        self.assertEqual(r.status, 200)
        got = r.json["index_templates"]
        self.assertEqual((len(got), got[0]["name"]), (1, "alb"))
        self.assertEqual(got[0]["index_template"]["index_patterns"], ["alb-*"])
        self.assertEqual(got[0]["index_template"]["template"], tpl["template"])
        r = self.req("GET", "/_index_template/nope")
        self.assertEnvelope(r, 404, "resource_not_found_exception", "index template matching [nope] not found")
        r = self.req("PUT", "/_index_template/broken", {"template": {}})
        self.assertEqual(r.status, 400)
        self.assertIn("index_patterns", r.json["error"]["reason"])
        r = self.req("PUT", "/_index_template/same-priority", {"index_patterns": ["alb-2024*"], "priority": 10})
        self.assertEnvelope(r, 400, "illegal_argument_exception")
        j = self.ok_bulk({"index": {"_index": "alb-2024", "_id": "1"}}, {"client_ip": "10.0.0.1", "elb_status_code": 200},
                         {"index": {"_index": "alb-2024", "_id": "2"}}, {"client_ip": "not-an-ip"},
                         {"index": {"_index": "alb-2024", "_id": "3"}}, {"elb_status_code": "-"},
                         {"index": {"_index": "alb-2024", "_id": "4"}}, {"host": 123})
        self.assertEqual([self.item(j, n)[1]["status"] for n in range(4)], [201, 400, 400, 201])
        self.assertEqual(self.item(j, 0)[1]["_shards"]["total"], 1)   # number_of_replicas 0
        self.assertIn("of type [ip]", self.item(j, 1)[1]["error"]["reason"])

    def test_data_streams_accept_only_create(self):
        j = self.ok_bulk({"index": {"_index": "logs-app-default"}}, {"@timestamp": "2024-01-01T00:00:00Z"},
                         {"create": {"_index": "logs-app-default"}}, {"@timestamp": "2024-01-01T00:00:00Z"},
                         {"create": {"_index": "logs-app-default"}}, {"message": "no timestamp"})
        bad = self.item(j, 0)[1]
        self.assertEqual((bad["status"], bad["error"]["type"], bad["error"]["reason"]),
                         (400, "illegal_argument_exception",
                          "only write ops with an op_type of create are allowed in data streams"))
        good = self.item(j, 1)[1]
        self.assertEqual(good["status"], 201)
        self.assertRegex(good["_index"], r"^\.ds-logs-app-default-\d{4}\.\d{2}\.\d{2}-000001$")
        self.assertIn("data stream timestamp field [@timestamp] is missing", self.item(j, 2)[1]["error"]["reason"])

    # -- reads ------------------------------------------------------------------
    def test_count_needs_refresh_and_unknown_index(self):
        self.ok_bulk({"index": {"_index": "c", "_id": "1"}}, {"a": 1}, {"index": {"_index": "c", "_id": "2"}}, {"a": 2})
        self.assertEqual(self.count("c"), 0)
        self.refresh("c")
        self.assertEqual(self.count("c"), 2)
        r = self.req("POST", "/c/_count", {"query": {"match_all": {}}})
        self.assertEqual(r.json, {"count": 2, "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0}})
        self.assertEqual(self.req("POST", "/c/_count", {"query": {"term": {"a": 2}}}).json["count"], 1)
        self.assertEqual(self.count("c*"), 2)
        self.assertEnvelope(self.req("GET", "/nope/_count"), 404, "index_not_found_exception", "no such index [nope]")

    def test_periodic_refresh(self):
        quick = DoubleProcess(refresh_interval=0.2)
        try:
            body = ndjson({"index": {"_index": "p"}}, {"a": 1})
            self.assertEqual(call(quick.port, "POST", "/_bulk", body, NDJSON).status, 200)
            self.assertEqual(call(quick.port, "GET", "/p/_count").json["count"], 0)
            deadline = time.monotonic() + 3
            while call(quick.port, "GET", "/p/_count").json["count"] != 1:
                self.assertLess(time.monotonic(), deadline, "periodic refresh never happened")
                time.sleep(0.05)
        finally:
            quick.stop()

    def test_get_doc_is_realtime(self):
        self.ok_bulk({"index": {"_index": "g", "_id": "d1"}}, {"x": 1.0, "s": "é"})
        r = self.req("GET", "/g/_doc/d1")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json, {"_index": "g", "_id": "d1", "_version": 1, "_seq_no": 0, "_primary_term": 1,
                                  "found": True, "_source": {"x": 1.0, "s": "é"}})
        self.assertIn(b'"_source":{"x":1.0,"s":"\xc3\xa9"}', r.body)   # source returned as sent
        r = self.req("GET", "/g/_doc/missing")
        self.assertEqual((r.status, r.json), (404, {"_index": "g", "_id": "missing", "found": False}))
        self.assertEqual(self.req("GET", "/nope/_doc/1").status, 404)

    def test_search_size_and_total(self):
        lines = []
        for n in range(15):
            lines += [{"index": {"_index": "s", "_id": f"{n:02d}"}}, {"n": n}]
        self.ok_bulk(*lines, path="/_bulk?refresh=true")
        j = self.req("GET", "/s/_search").json
        self.assertEqual(len(j["hits"]["hits"]), 10)
        self.assertEqual(j["hits"]["total"], {"value": 15, "relation": "eq"})
        self.assertEqual(j["hits"]["hits"][0]["_source"], {"n": 0})
        j = self.req("POST", "/s/_search", {"query": {"match_all": {}}, "size": 3, "sort": [{"n": "desc"}]}).json
        self.assertEqual([h["_id"] for h in j["hits"]["hits"]], ["14", "13", "12"])
        j = self.req("GET", "/s/_search?size=0").json
        self.assertEqual((j["hits"]["hits"], j["hits"]["total"]["value"]), ([], 15))

    def test_search_total_capped_at_10000(self):
        body = b'{"index":{"_index":"big"}}\n{"n":1}\n' * 10001
        r = self.req("POST", "/_bulk?refresh=true&filter_path=errors", body, NDJSON)
        self.assertEqual(r.json, {"errors": False})
        j = self.req("GET", "/big/_search?size=1").json
        self.assertEqual(j["hits"]["total"], {"value": 10000, "relation": "gte"})
        j = self.req("GET", "/big/_search?size=1&track_total_hits=true").json
        self.assertEqual(j["hits"]["total"], {"value": 10001, "relation": "eq"})
        self.assertEqual(self.count("big"), 10001)

    # -- faults -----------------------------------------------------------------
    def test_fault_item_429(self):
        self.faults(item_429=2)
        j = self.ok_bulk(*[x for n in range(3) for x in ({"create": {"_index": "f", "_id": str(n)}}, {"n": n})])
        self.assertTrue(j["errors"])
        items = [self.item(j, n)[1] for n in range(3)]
        self.assertEqual([i["status"] for i in items], [429, 429, 201])
        self.assertEqual(items[0]["error"]["type"], "es_rejected_execution_exception")
        self.assertTrue(items[0]["error"]["reason"].startswith("rejected execution of "))
        self.assertEqual(self.stats()["indices"]["f"]["docs"], 1)           # rejected items not indexed
        j = self.ok_bulk({"create": {"_index": "f", "_id": "0"}}, {"n": 0})   # the retry succeeds
        self.assertEqual(self.item(j)[1]["status"], 201)
        self.assertEqual(self.stats()["items"]["rejected_429"], 2)

    def test_fault_item_429_ids(self):
        self.faults(item_429_ids=["b"])
        lines = [{"index": {"_index": "f", "_id": i}} if k == 0 else {"v": i} for i in "abc" for k in (0, 1)]
        j = self.ok_bulk(*lines)
        self.assertEqual([self.item(j, n)[1]["status"] for n in range(3)], [201, 429, 201])
        j = self.ok_bulk(*lines)                                             # once each
        self.assertEqual([self.item(j, n)[1]["status"] for n in range(3)], [200, 201, 200])

    def test_fault_whole_request_429_and_503(self):
        self.faults(request_status=429, request_count=2)
        line = ({"index": {"_index": "w", "_id": "1"}}, {"a": 1})
        for _ in range(2):
            j = self.assertEnvelope(self.bulk(*line), 429, "es_rejected_execution_exception")
            self.assertIn("rejected execution of coordinating operation", j["error"]["reason"])
        self.assertEqual(self.stats()["indices"], {})                        # nothing indexed
        self.assertEqual(self.bulk(*line).status, 200)
        self.faults(request_status=503, request_count=1)
        self.assertEqual(self.bulk(*line).status, 503)
        self.assertEqual(self.bulk(*line).status, 200)
        self.assertEqual(self.stats()["requests_rejected"], 3)

    def test_fault_max_content_length_413(self):
        self.faults(max_content_length=100)
        small = ndjson({"index": {"_index": "big", "_id": "1"}}, {"a": 1})
        large = ndjson({"index": {"_index": "big", "_id": "2"}}, {"a": "x" * 200})
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        r = self.req("POST", "/_bulk", large, NDJSON, conn=conn)
        self.assertEqual((r.status, r.body), (413, b""))
        self.assertEqual(self.req("POST", "/_bulk", small, NDJSON, conn=conn).status, 200)   # connection usable
        packed = gzip.compress(large)
        self.assertLess(len(packed), 100)
        r = self.req("POST", "/_bulk", packed, dict(NDJSON, **{"Content-Encoding": "gzip"}), conn=conn)
        self.assertEqual(r.status, 413)     # checked after decompression
        conn.close()
        s = self.stats()
        self.assertEqual((s["requests_413"], s["indices"]["big"]["docs"]), (2, 1))

    def test_fault_latency(self):
        self.faults(latency_ms=600)
        t0 = time.monotonic()
        r = self.bulk({"index": {"_index": "lat"}}, {"a": 1})
        self.assertEqual(r.status, 200)
        self.assertGreaterEqual(time.monotonic() - t0, 0.6)
        self.assertLess(self._timed(lambda: self.req("GET", "/")), 0.5)    # only bulk responses are delayed

    @staticmethod
    def _timed(fn):
        t0 = time.monotonic()
        fn()
        return time.monotonic() - t0

    def test_fault_drop_after_index(self):
        self.faults(drop_after_index=1)
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionResetError, http.client.BadStatusLine)):
            self.bulk({"index": {"_index": "drop", "_id": "1"}}, {"a": 1})
        self.assertEqual(self.ctl("GET", "/_double/docs/drop").json[0]["_id"], "1")   # indexed anyway
        self.assertEqual(self.bulk({"index": {"_index": "drop", "_id": "1"}}, {"a": 1}).status, 200)
        s = self.stats()
        self.assertEqual((s["dropped_connections"], s["bulk_requests"]), (1, 2))
        self.assertIsNone(self.ctl("GET", "/_double/requests").json[0]["status"])

    def test_fault_down(self):
        self.faults(down=True)
        for method, path in (("GET", "/"), ("POST", "/_bulk")):
            with self.assertRaises((http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                                    http.client.BadStatusLine)):
                self.req(method, path, ndjson({"index": {"_index": "d"}}, {"a": 1}), NDJSON)
        self.assertEqual(self.ctl("GET", "/_double/stats").status, 200)      # control still works
        self.faults(down=False)
        self.assertEqual(self.req("GET", "/").status, 200)
        self.assertEqual(self.stats()["indices"], {})

    def test_fault_validation(self):
        r = self.ctl("POST", "/_double/faults", {"item_492": 1})
        self.assertEqual(r.status, 400)
        r = self.ctl("POST", "/_double/faults", {"request_status": 500})
        self.assertEqual(r.status, 400)
        view = self.faults(item_429=3)["faults"]
        self.assertEqual(view["item_429"], 3)
        self.assertEqual(self.ctl("GET", "/_double/faults").json["item_429"], 3)

    # -- counters and side views ---------------------------------------------
    def test_stats_docs_and_request_log(self):
        self.ok_bulk({"index": {"_index": "st", "_id": "1"}}, {"a": 1},
                     {"index": {"_index": "st", "_id": "1"}}, {"a": 2},
                     {"create": {"_index": "st", "_id": "2"}}, {"a": 3},
                     {"create": {"_index": "st", "_id": "2"}}, {"a": 4},
                     {"index": {"_index": "st", "_id": "3"}}, {"a": "x"},
                     {"index": {"_index": "Bad"}}, {"a": 1})
        self.req("POST", "/st/_bulk?refresh=true", ndjson({"index": {"_id": "4"}}, {"a": 5}),
                 dict(NDJSON, **{"X-Test": "yes"}))
        s = self.stats()
        self.assertEqual(s["bulk_requests"], 2)
        self.assertGreater(s["bulk_bytes"], 0)
        self.assertEqual(s["items"], {"created": 3, "updated": 1, "deleted": 0, "noop": 0, "not_found": 0,
                                      "conflict_409": 1, "rejected_429": 0, "mapping_400": 1, "other_4xx": 1})
        self.assertEqual(s["indices"], {"st": {"docs": 3}})
        for key in ("gzip_requests", "requests_413", "requests_rejected", "dropped_connections"):
            self.assertEqual(s[key], 0)
        docs = self.ctl("GET", "/_double/docs/st").json
        self.assertEqual(docs, [{"_id": "1", "_source": {"a": 2}, "_version": 2},
                                {"_id": "2", "_source": {"a": 3}, "_version": 1},
                                {"_id": "4", "_source": {"a": 5}, "_version": 1}])
        self.assertEqual(self.ctl("GET", "/_double/docs/nope").status, 404)
        log = self.ctl("GET", "/_double/requests").json
        self.assertEqual(len(log), 2)
        self.assertEqual((log[1]["path"], log[1]["query"], log[1]["actions"]), ("/st/_bulk", {"refresh": "true"}, 1))
        self.assertEqual(log[1]["headers"]["x-test"], "yes")
        self.assertEqual(log[0]["actions"], 6)

    def test_reset_forgets_everything(self):
        self.ok_bulk({"index": {"_index": "r"}}, {"a": 1})
        self.faults(item_429=5, auth={"basic": ["u", "p"]})
        self.ctl("POST", "/_double/reset")
        self.assertEqual(self.req("GET", "/").status, 200)
        s = self.stats()
        self.assertEqual((s["indices"], s["bulk_requests"]), ({}, 0))
        self.assertEqual(self.ctl("GET", "/_double/faults").json["item_429"], 0)

    # -- connections and concurrency -------------------------------------------
    def test_keep_alive_connection_stays_in_sync(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        statuses = []
        for _ in range(3):
            statuses.append(self.req("GET", "/", conn=conn).status)
            statuses.append(self.req("POST", "/_bulk", b"x", {"Content-Type": "text/plain"}, conn=conn).status)
            statuses.append(self.bulk({"index": {"_index": "ka"}}, {"a": 1}, conn=conn).status)
            statuses.append(self.req("POST", "/_bulk", b'{"index":{}}\n', NDJSON, conn=conn).status)
        conn.close()
        self.assertEqual(statuses, [200, 406, 200, 400] * 3)

    def test_concurrent_bulk_requests(self):
        errors = []

        def worker(w):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
                for r in range(10):
                    lines = []
                    for d in range(50):
                        lines += [{"create": {"_index": "conc", "_id": f"{w}-{r}-{d}"}}, {"w": w, "r": r}]
                    resp = self.bulk(*lines, conn=conn)
                    if resp.status != 200 or resp.json["errors"]:
                        errors.append(resp.body[:200])
                conn.close()
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(repr(e))

        threads = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        s = self.stats()
        self.assertEqual((s["bulk_requests"], s["items"]["created"], s["indices"]["conc"]["docs"]), (80, 4000, 4000))
        self.refresh("conc")
        self.assertEqual(self.count("conc"), 4000)


if __name__ == "__main__":
    unittest.main()
