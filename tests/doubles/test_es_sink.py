"""The benchmark sink (scripts/es_sink.py) answers what the Elasticsearch double answers.

The sink is what `make bench-e2e` delivers to when the double would be the limit. It must not drift from
the double, which is itself pinned to Elasticsearch's documented responses (tests/fixtures): the same
requests s3logsbeat makes go to both, and the parsed answers must be equal.
"""
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

from test_es_double import S3LB_FILTER, DoubleProcess, call

HERE = os.path.dirname(os.path.abspath(__file__))
SINK = os.path.join(os.path.dirname(os.path.dirname(HERE)), "scripts", "es_sink.py")


class SinkProcess:
    def __init__(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="es_sink_test_")
        port_file = os.path.join(self.tmp.name, "port")
        self.proc = subprocess.Popen([sys.executable, SINK, "--port-file", port_file],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while not os.path.exists(port_file) or not open(port_file).read():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.proc.kill()
                raise RuntimeError("es_sink did not start: " + self.proc.stderr.read().decode())
            time.sleep(0.02)
        self.port = int(open(port_file).read())

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        self.proc.stderr.close()
        self.tmp.cleanup()


def bulk_body(n, index="bench"):
    lines = []
    for i in range(n):
        lines.append(json.dumps({"create": {"_index": index, "_id": f"{i:032x}"}}))
        lines.append(json.dumps({"@timestamp": "2024-07-01T00:00:00.000Z", "n": i, "message": "a\nb"}))
    return ("\n".join(lines) + "\n").encode()


class SinkMatchesDouble(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.double = DoubleProcess()
        cls.sink = SinkProcess()

    @classmethod
    def tearDownClass(cls):
        cls.double.stop()
        cls.sink.stop()

    def both(self, method, path, body=None, headers=None):
        return (call(self.double.port, method, path, body, headers),
                call(self.sink.port, method, path, body, headers))

    def test_root_is_the_doubles(self):
        d, s = self.both("GET", "/")
        self.assertEqual((d.status, d.json), (s.status, s.json))
        d, s = self.both("HEAD", "/")
        self.assertEqual(d.status, s.status)

    def test_a_bulk_under_s3logsbeats_filter_path_gets_the_doubles_answer(self):
        for n, gz in ((1, False), (3, True), (500, True)):
            body = bulk_body(n, index=f"sink-{n}")
            headers = {"Content-Type": "application/x-ndjson"}
            if gz:
                body = gzip.compress(body, 1)
                headers["Content-Encoding"] = "gzip"
            d, s = self.both("POST", "/_bulk?filter_path=" + S3LB_FILTER, body, headers)
            self.assertEqual(d.status, 200, d.body[:300])
            self.assertEqual((d.status, d.json), (s.status, s.json), n)
            self.assertEqual(len(s.json["items"]), n)
        stats = call(self.sink.port, "GET", "/_sink/stats").json
        self.assertEqual(stats["indices"], {"sink-1": 1, "sink-3": 3, "sink-500": 500})
        self.assertEqual(stats["docs"], 504)

    def test_templates_404_until_put(self):
        path = "/_index_template/s3logsbeat-sink-test"
        d, s = self.both("HEAD", path)
        self.assertEqual((d.status, s.status), (404, 404))
        template = {"index_patterns": ["s3logsbeat-sink-test-*"], "template": {"settings": {}}}
        d, s = self.both("PUT", path, template)
        self.assertEqual((d.status, d.json), (s.status, s.json))
        d, s = self.both("HEAD", path)
        self.assertEqual((d.status, s.status), (200, 200))


if __name__ == "__main__":
    unittest.main()
