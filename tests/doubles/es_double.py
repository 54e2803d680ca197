#!/usr/bin/env python3
"""Elasticsearch 8 test double for the s3logsbeat integration tests.

Usage::

    python3 tests/doubles/es_double.py --port 0 [--host 127.0.0.1] [--port-file PATH]
                                       [--refresh-interval SECONDS] [--verbose]

The process binds (``--port 0`` picks a free port), writes the bound port
(digits and a newline) to ``--port-file`` if given, prints
``listening on HOST:PORT`` on stdout (flushed), and serves until SIGTERM or
SIGINT.  It uses the Python 3.11 standard library only.

What it is
----------
A faithful, *strict* stand-in for the part of Elasticsearch 8.x that a log
shipper talks to, as described in ``/work/shared/reference/elasticsearch-bulk.md``
("the reference").  Strict means: whatever real Elasticsearch rejects, the
double rejects the same way (same HTTP status, same error ``type``, same
``reason`` text where the reference gives it).  It never simply agrees with
the client.  Comments name the reference rule each piece implements, with
these tags:

  [R-PRODUCT]  ``X-Elastic-Product: Elasticsearch`` on every response.
  [R-COMPAT]   ``application/vnd.elasticsearch+json;compatible-with=8``: answered
               with that type; versions on Accept and Content-Type must agree.
  [R-CTYPE]    request bodies must be application/json or application/x-ndjson
               (``; charset=UTF-8`` allowed), otherwise 406.
  [R-GZIP]     ``Content-Encoding: gzip`` request bodies are accepted.
  [R-ENVELOPE] ``{"error":{"root_cause":[..],"type":T,"reason":R},"status":N}``.
  [R-ROOT]     ``GET /`` and ``HEAD /``.
  [R-AUTH]     Basic / ApiKey authentication, 401 missing / 401 wrong,
               per-item 403 when not allowed to write an index.
  [R-PARAMS]   bulk query parameters, ``filter_path``.
  [R-NDJSON]   action line + source line (``{"doc":..}`` for update, none for delete).
  [R-NEWLINE]  every line, including the last, ends with ``\\n``.
  [R-EMPTY]    empty body -> ``Validation Failed: 1: no requests added;``.
  [R-META]     action metadata keys, ``_index`` from URL or action, missing
               index, generated 20-char ids.
  [R-TYPE]     ``_type`` is rejected in 8.x.
  [R-ACTION]   unknown action -> ``Malformed action/metadata line [N] ...``.
  [R-INDEX]    indices auto-created on first write; index name validation.
  [R-RESPONSE] 200 with ``took``/``errors``/``items``; items in request order,
               keyed by the action name; created / updated / 409 conflict
               item shapes; versions and seq_no.
  [R-ITEM429]  per-item 429 es_rejected_execution_exception.
  [R-ITEM400]  per-item 400 document_parsing_exception.
  [R-DS]       data streams accept only ``create``.
  [R-REQ429]   whole-request 429 (nothing indexed).
  [R-413]      body above ``http.max_content_length`` -> 413, empty body.
  [R-OTHER]    other failures: 5xx or connection reset.
  [R-TEMPLATE] ``PUT/GET /_index_template/{name}``.
  [R-COUNT]    ``GET|POST /{index}/_count``, only refreshed documents.
  [R-REFRESH]  refresh interval, ``?refresh=true|wait_for``, ``POST /{index}/_refresh``.
  [R-GETDOC]   ``GET /{index}/_doc/{id}`` is realtime.
  [R-SEARCH]   ``GET|POST /{index}/_search``; size 10; total capped at 10000.
  [R-MAPPING]  dynamic mapping: the first value fixes the type, later values
               that do not fit fail that item.
  [R-FAULTS]   fault injection the double offers to tests.
  [R-COUNTERS] counters readable through a side endpoint.

Elasticsearch endpoints served
------------------------------
``GET|HEAD /``; ``POST|PUT /_bulk`` and ``/{index}/_bulk``; ``GET|POST [/{index}]/_count``;
``GET|POST [/{index}]/_search``; ``GET|POST [/{index}]/_refresh``; ``GET|HEAD /{index}/_doc/{id}``;
``PUT|POST /{index}/_doc/{id}``, ``POST /{index}/_doc``, ``PUT|POST /{index}/_create/{id}``,
``DELETE /{index}/_doc/{id}`` (single-document writes, same engine as bulk items);
``GET /_index_template``, ``GET|HEAD|PUT|POST|DELETE /_index_template/{name}``;
``HEAD|GET|PUT|DELETE /{index}``; ``GET [/{index}]/_mapping``; ``GET /_cluster/health``;
``GET|PUT|DELETE /_data_stream/{name}``.  ``{index}`` in _count/_search/_refresh/_mapping
may be a comma list, ``*`` pattern or ``_all``.  Anything else answers like Elasticsearch
does for an unknown route (400 "no handler found ...", or 405 for a wrong method).

Control API (no authentication, JSON bodies), under ``/_double/``
-----------------------------------------------------------------
``POST /_double/reset``
    Forget indices, documents, non-built-in templates, faults, counters and
    the request log.  Answers ``{"acknowledged": true}``.
``POST /_double/faults`` (merges the given keys into the current faults)
    ``item_429: N``               next N create/index items fail with per-item 429.
    ``item_429_ids: [ids]``       items (any action) with these ids fail with
                                  per-item 429 once each; replaces the pending set.
    ``request_status: 429|503|null`` and ``request_count: N`` (default 1 when only
                                  request_status is given): the next N well-formed bulk
                                  requests get that whole-request error (429
                                  es_rejected_execution_exception, 503 cluster_block_exception);
                                  nothing indexed.  A request rejected earlier (401, 413, 400
                                  parse/validation) does not use one up.
    ``max_content_length: BYTES`` (null = default 100 MiB): larger bodies get 413.
    ``latency_ms: M``             delay every bulk response by M ms (after indexing,
                                  errors included).
    ``drop_after_index: N``       the next N well-formed bulk requests are executed,
                                  then the connection is reset (TCP RST) without a
                                  response.
    ``down: true|false``          non-control requests are reset unanswered: only
                                  the request line and headers are read (to tell
                                  control paths apart), never the body.
    ``auth: null | {"basic": [user, pass], "api_key": "id:secret",
                    "write_indices": ["pattern", ...]}``  (write_indices is optional:
                                  writes to other indices get per-item 403).
    Answers ``{"acknowledged": true, "faults": {...current faults...}}``;
    an unknown key or a bad value answers 400 ``{"error": "..."}`` and changes nothing.
``GET /_double/faults``     current faults.
``GET /_double/stats``      counters, see ``State.stats`` for every key.
``GET /_double/docs/{index}``  ``[{"_id", "_source", "_version"}]`` in insertion
                            order, realtime (an index, data stream or backing index name).
``GET /_double/requests``   the last 100 bulk requests:
                            ``[{"path", "query" (dict; a repeated parameter keeps its last
                            value), "headers" (lower-cased names), "actions", "status" (null
                            when dropped), "bytes"}]``, oldest first.
``POST /_double/refresh``   refresh every index (no authentication needed).

Deviations from real Elasticsearch (deliberate simplifications)
----------------------------------------------------------------
* One primary shard per index, ``_shards`` reports 1 replica unless the
  template sets ``number_of_replicas``.  ``refresh=wait_for`` refreshes at once.
* Ingest pipelines are accepted by name and not run; scripted updates, aggregations,
  scroll, query_string are answered with 400 "[es_double] ... not supported".
* Built-in templates ``logs``/``metrics``/``synthetics`` (``*-*-*`` patterns,
  priority 100, data streams) are modelled inline (no component templates) with
  the essentials of logs@mappings/logs@settings: ``@timestamp`` date,
  ``date_detection: false``, strings as keyword, ``ignore_malformed: true`` for logs.
  So ``index`` into ``logs-a-b`` fails and ``create`` makes a data stream, as in 8.x.
* Queries: match_all (required) plus term, terms, match, match_phrase, exists, ids,
  prefix, wildcard, range and bool, with a simplified analyzer; every hit scores 1.0.
* Dynamic date detection needs at least ``yyyy-MM-dd`` (or ``yyyy/MM/dd``).
* Custom Java date patterns are checked by shape only; index date math
  (``<logs-{now/d}>``) is not resolved; smile/cbor/yaml bodies are refused (406).
* ``max_content_length`` is checked against the *decompressed* body size, as
  Elasticsearch's Netty pipeline decompresses before aggregating; an uncompressed
  body whose Content-Length is too large is drained without being buffered.
"""

import argparse
import base64
import binascii
import datetime as _dt
import decimal
import difflib
import http.server
import ipaddress
import json
import json.decoder
import math
import os
import re
import signal
import socket
import struct
import sys
import threading
import time
import traceback
import urllib.parse
import uuid
import zlib
from collections import deque

# ---------------------------------------------------------------------------
# Constants
# ---------------------------------------------------------------------------

ES_VERSION = "8.15.3"
CLUSTER_NAME = "docker-cluster"
CLUSTER_UUID = "Qh6uYcYbTf-8ZC1ZJ8jO4A"
NODE_NAME = "node-1"
NODE_ID = "XbOo3cC9TUq0hF8dhGQ7Bw"

# [R-ROOT] body of GET /
ROOT_BODY = {
    "name": NODE_NAME,
    "cluster_name": CLUSTER_NAME,
    "cluster_uuid": CLUSTER_UUID,
    "version": {
        "number": ES_VERSION,
        "build_flavor": "default",
        "build_type": "docker",
        "build_hash": "f97532e680b555c3a05e73a74c28afb666923018",
        "build_date": "2024-10-09T22:08:00.328917561Z",
        "build_snapshot": False,
        "lucene_version": "9.11.1",
        "minimum_wire_compatibility_version": "7.17.0",
        "minimum_index_compatibility_version": "7.0.0",
    },
    "tagline": "You Know, for Search",
}

DEFAULT_MAX_CONTENT_LENGTH = 100 * 1024 * 1024  # [R-413] http.max_content_length
HARD_BODY_CAP = 1 << 30                          # never buffer more than this
MAX_INDEX_NAME_BYTES = 255                       # [R-INDEX]
MAX_ID_BYTES = 512
DEFAULT_TOTAL_FIELDS_LIMIT = 1000                # index.mapping.total_fields.limit
DEFAULT_DEPTH_LIMIT = 20                         # index.mapping.depth.limit
DEFAULT_TRACK_TOTAL_HITS = 10000                 # [R-SEARCH]
MAX_RESULT_WINDOW = 10000
REQUEST_LOG_SIZE = 100
INDEXING_PRESSURE_LIMIT = 107374182              # 10% of a 1 GiB heap
PRIMARY_TERM = 1

WWW_AUTHENTICATE = ['Basic realm="security", charset="UTF-8"', "ApiKey"]  # [R-AUTH]

# Query parameters every REST endpoint accepts.
COMMON_PARAMS = {"pretty", "human", "error_trace", "filter_path", "source", "source_content_type"}


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------

class EsError(Exception):
    """An Elasticsearch exception.

    Rendered either as the whole-request error envelope [R-ENVELOPE] or, inside
    a bulk response, as an item ``error`` object.
    """

    def __init__(self, status, etype, reason, *, extra=None, caused_by=None,
                 headers=None, root_cause=None):
        super().__init__(reason)
        self.status = status
        self.etype = etype
        self.reason = reason
        self.extra = dict(extra or {})
        self.caused_by = caused_by
        self.headers = list(headers or [])
        self.root_cause = root_cause

    def item_error(self):
        err = {"type": self.etype, "reason": self.reason}
        err.update(self.extra)
        if self.caused_by:
            err["caused_by"] = self.caused_by
        return err

    def envelope(self):
        root = self.root_cause or [{"type": self.etype, "reason": self.reason, **self.extra}]
        err = {"root_cause": root, "type": self.etype, "reason": self.reason, **self.extra}
        if self.caused_by:
            err["caused_by"] = self.caused_by
        return {"error": err, "status": self.status}

    @classmethod
    def from_item(cls, status, err):
        """Turn a bulk item error back into a request error (single-document APIs)."""
        extra = {k: v for k, v in err.items() if k not in ("type", "reason", "caused_by")}
        return cls(status, err["type"], err["reason"], extra=extra, caused_by=err.get("caused_by"))


class SimpleError(Exception):
    """Errors Elasticsearch renders as ``{"error": "<text>", "status": N}``
    (406 content type, 400 no handler, 405 wrong method)."""

    def __init__(self, status, message, headers=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = list(headers or [])


class TooLarge(Exception):
    """[R-413] the request body is above max_content_length."""


class ClientGone(Exception):
    """The client closed the connection while we were reading its request."""


class ControlError(Exception):
    """A bad request to the /_double/ control API."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def bad_request(reason, etype="illegal_argument_exception", **kw):
    return EsError(400, etype, reason, **kw)


def index_not_found(name, resource_type="index_or_alias", reason=None):
    return EsError(404, "index_not_found_exception", reason or f"no such index [{name}]",
                   extra={"resource.type": resource_type, "resource.id": name,
                          "index_uuid": "_na_", "index": name})


def search_failure(inner_type, inner_reason, index_name):
    """The search_phase_execution_exception wrapper shard-level search errors get."""
    inner = {"type": inner_type, "reason": inner_reason}
    return EsError(400, "search_phase_execution_exception", "all shards failed",
                   extra={"phase": "query", "grouped": True,
                          "failed_shards": [{"shard": 0, "index": index_name,
                                             "node": NODE_ID, "reason": inner}]},
                   root_cause=[dict(inner, index=index_name)], caused_by=inner)


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------

def now_millis():
    return int(time.time() * 1000)


def gen_id():
    """A 20-character base64url document id, like Elasticsearch's [R-META]."""
    return base64.urlsafe_b64encode(os.urandom(15)).decode("ascii")


def gen_uuid():
    """A 22-character base64url UUID, the shape of index_uuid values."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=")


_GLOB_CACHE = {}


def glob_match(pattern, name):
    """Elasticsearch "simple match": only ``*`` is a wildcard."""
    rx = _GLOB_CACHE.get(pattern)
    if rx is None:
        rx = re.compile("".join(".*" if c == "*" else re.escape(c) for c in pattern), re.DOTALL)
        _GLOB_CACHE[pattern] = rx
    return rx.fullmatch(name) is not None


def globs_overlap(a, b):
    """True if some string matches both ``*``-patterns (index template overlap check)."""
    memo = {}

    def go(i, j):
        key = (i, j)
        if key in memo:
            return memo[key]
        if i == len(a) and j == len(b):
            res = True
        elif i < len(a) and a[i] == "*":
            res = go(i + 1, j) or (j < len(b) and go(i, j + 1))
        elif j < len(b) and b[j] == "*":
            res = go(i, j + 1) or (i < len(a) and go(i + 1, j))
        else:
            res = i < len(a) and j < len(b) and a[i] == b[j] and go(i + 1, j + 1)
        memo[key] = res
        return res

    return go(0, 0)


def java_double(f):
    """Java's Double.toString, used where Elasticsearch previews values."""
    if f != f:
        return "NaN"
    if f in (math.inf, -math.inf):
        return "Infinity" if f > 0 else "-Infinity"
    a = abs(f)
    if a == 0 or 1e-3 <= a < 1e7:
        r = repr(f)
        return r if ("." in r or "e" in r) else r + ".0"
    mant, _, exp = repr(f).partition("e")
    if "." not in mant:
        mant += ".0"
    return f"{mant}E{int(exp)}"


def java_str(v):
    """Java's toString of a parsed JSON value (maps print as ``{k=v, ...}``)."""
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}={java_str(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(java_str(x) for x in v) + "]"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return "null"
    if isinstance(v, float):
        return java_double(v)
    return str(v)


def java_list(items):
    return "[" + ", ".join(str(i) for i in items) + "]"


def as_bool(value):
    """Elasticsearch's strict boolean parsing (only true/false)."""
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise ValueError(f"Failed to parse value [{java_str(value)}] as only [true] or [false] are allowed.")


def location(text, pos):
    """``[line:column]`` of a character offset, columns counted in UTF-8 bytes like Jackson."""
    line = text.count("\n", 0, pos) + 1
    start = text.rfind("\n", 0, pos) + 1
    return f"[{line}:{len(text[start:pos].encode('utf-8')) + 1}]"


_TIME_VALUE_RE = re.compile(r"-1|0|\d+(?:\.\d+)?(?:d|h|m|s|ms|micros|nanos)")


def check_time_value(name, value):
    if value is not None and not _TIME_VALUE_RE.fullmatch(value):
        raise bad_request(f"failed to parse setting [{name}] with value [{value}] as a time value: "
                          f"unit is missing or unrecognized", etype="parse_exception")


# ---------------------------------------------------------------------------
# JSON with positions and strict duplicate detection
#
# Elasticsearch parses with Jackson, strict duplicate detection on, and quotes
# token locations in its errors ("[1:15] failed to parse field ...").  The
# standard json module gives neither, so this small parser records where each
# value starts and ends.  Scalars are scanned with json's own string scanner.
# ---------------------------------------------------------------------------

class JsonSyntaxError(ValueError):
    def __init__(self, message, pos):
        super().__init__(message)
        self.message = message
        self.pos = pos


class Node:
    """A parsed JSON value: kind in obj/arr/str/num/bool/null, python value,
    [start, end) character offsets, object pairs (key, key_pos, Node) or array items."""
    __slots__ = ("kind", "value", "start", "end", "pairs", "items")

    def __init__(self, kind, value, start, end, pairs=None, items=None):
        self.kind = kind
        self.value = value
        self.start = start
        self.end = end
        self.pairs = pairs
        self.items = items


KIND_TOKEN = {"obj": "START_OBJECT", "arr": "START_ARRAY", "str": "VALUE_STRING",
              "num": "VALUE_NUMBER", "bool": "VALUE_BOOLEAN", "null": "VALUE_NULL"}

_WS_RE = re.compile(r"[ \t\r\n]*")
_NUM_RE = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_MAX_NESTING = 1000
_ANY_VALUE = "expected a valid value (JSON String, Number, Array, Object or token 'null', 'true' or 'false')"


def _unexpected(text, i, expecting):
    if i >= len(text):
        return JsonSyntaxError(f"Unexpected end-of-input: {expecting}", i)
    ch = text[i]
    return JsonSyntaxError(f"Unexpected character ('{ch}' (code {ord(ch)})): {expecting}", i)


class _JsonParser:
    def __init__(self, text):
        self.s = text
        self.n = len(text)

    def ws(self, i):
        return _WS_RE.match(self.s, i).end()

    def string(self, i):
        try:
            return json.decoder.scanstring(self.s, i + 1, True)
        except json.JSONDecodeError as e:
            raise JsonSyntaxError(e.msg, e.pos) from None

    def value(self, i, depth):
        s = self.s
        if i >= self.n:
            raise _unexpected(s, i, "expected a value")
        c = s[i]
        if c == "{":
            return self.obj(i, depth + 1)
        if c == "[":
            return self.arr(i, depth + 1)
        if c == '"':
            val, end = self.string(i)
            return Node("str", val, i, end)
        if c == "-" or "0" <= c <= "9":
            m = _NUM_RE.match(s, i)
            if m is None:
                raise _unexpected(s, i + 1, "expected digit (0-9) to follow minus sign, for valid numeric value")
            end = m.end()
            if end < self.n and (s[end].isalnum() or s[end] == "."):
                raise JsonSyntaxError(f"Invalid numeric value: '{s[i:end + 1]}'", i)
            text = m.group(0)
            val = float(text) if (m.group(1) or m.group(2)) else int(text)
            return Node("num", val, i, end)
        for lit, val, kind in (("true", True, "bool"), ("false", False, "bool"), ("null", None, "null")):
            if s.startswith(lit, i):
                end = i + len(lit)
                if end < self.n and (s[end].isalnum() or s[end] == "_"):
                    break
                return Node(kind, val, i, end)
        m = re.match(r"[A-Za-z0-9_]+", s[i:])
        if m:
            raise JsonSyntaxError(f"Unrecognized token '{m.group(0)}': was expecting "
                                  f"(JSON String, Number, Array, Object or token 'null', 'true' or 'false')", i)
        raise _unexpected(s, i, _ANY_VALUE)

    def obj(self, start, depth):
        if depth > _MAX_NESTING:
            raise JsonSyntaxError("Document nesting depth exceeds the maximum allowed", start)
        s = self.s
        i = self.ws(start + 1)
        pairs, d = [], {}
        if i < self.n and s[i] == "}":
            return Node("obj", d, start, i + 1, pairs=pairs)
        while True:
            if i >= self.n or s[i] != '"':
                raise _unexpected(s, i, "was expecting double-quote to start field name")
            key_pos = i
            key, i = self.string(i)
            if key in d:
                raise JsonSyntaxError(f"Duplicate field '{key}'", key_pos)
            i = self.ws(i)
            if i >= self.n or s[i] != ":":
                raise _unexpected(s, i, "was expecting a colon to separate field name and value")
            v = self.value(self.ws(i + 1), depth)
            pairs.append((key, key_pos, v))
            d[key] = v.value
            i = self.ws(v.end)
            if i < self.n and s[i] == ",":
                i = self.ws(i + 1)
                continue
            if i < self.n and s[i] == "}":
                return Node("obj", d, start, i + 1, pairs=pairs)
            raise _unexpected(s, i, "was expecting comma to separate Object entries")

    def arr(self, start, depth):
        if depth > _MAX_NESTING:
            raise JsonSyntaxError("Document nesting depth exceeds the maximum allowed", start)
        s = self.s
        i = self.ws(start + 1)
        items = []
        if i < self.n and s[i] == "]":
            return Node("arr", [], start, i + 1, items=items)
        while True:
            v = self.value(i, depth)
            items.append(v)
            i = self.ws(v.end)
            if i < self.n and s[i] == ",":
                i = self.ws(i + 1)
                continue
            if i < self.n and s[i] == "]":
                return Node("arr", [x.value for x in items], start, i + 1, items=items)
            raise _unexpected(s, i, "was expecting comma to separate Array entries")


def parse_json(text):
    """Parse one JSON value.  Returns (node or None for blank text, offset of
    trailing non-blank content or None).  Raises JsonSyntaxError."""
    p = _JsonParser(text)
    i = p.ws(0)
    if i >= len(text):
        return None, None
    node = p.value(i, 0)
    j = p.ws(node.end)
    return node, (j if j < len(text) else None)


_BLANK = object()


def _reject_duplicates(pairs):
    d = dict(pairs)
    if len(d) != len(pairs):
        raise ValueError("duplicate field")
    return d


def _reject_constant(name):
    raise ValueError(f"non-standard token {name}")


_FAST_DECODER = json.JSONDecoder(object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant)


class _TooDeep(Exception):
    pass


def _fast_node(v, depth=0):
    """A Node without positions, built from an already decoded value."""
    if isinstance(v, dict):
        if depth >= _MAX_NESTING:
            raise _TooDeep()
        return Node("obj", v, None, None, pairs=[(k, None, _fast_node(x, depth + 1)) for k, x in v.items()])
    if isinstance(v, list):
        if depth >= _MAX_NESTING:
            raise _TooDeep()
        return Node("arr", v, None, None, items=[_fast_node(x, depth + 1) for x in v])
    if v is None:
        return Node("null", v, None, None)
    if isinstance(v, bool):
        return Node("bool", v, None, None)
    return Node("str" if isinstance(v, str) else "num", v, None, None)


def parse_json_fast(text):
    """Like parse_json, but decoded by the C json module (with duplicate-key
    and NaN rejection) and without positions; returns None when the text is
    not plain, clean JSON, in which case the caller uses parse_json to get
    Elasticsearch's precise error and location."""
    i = _WS_RE.match(text).end()
    if i == len(text):
        return _BLANK
    try:
        value, end = _FAST_DECODER.raw_decode(text, i)
    except (ValueError, RecursionError):
        return None
    if _WS_RE.match(text, end).end() != len(text):
        return None
    try:
        return _fast_node(value)
    except _TooDeep:
        return None


def token_at(text, i):
    """The Elasticsearch token name of the value starting at offset i."""
    c = text[i]
    return {"{": "START_OBJECT", "[": "START_ARRAY", '"': "VALUE_STRING", "}": "END_OBJECT",
            "]": "END_ARRAY", "t": "VALUE_BOOLEAN", "f": "VALUE_BOOLEAN",
            "n": "VALUE_NULL"}.get(c, "VALUE_NUMBER")


class RawJSON:
    """A document source kept as the client sent it (Elasticsearch returns
    ``_source`` byte for byte), with its parsed value for filtering."""
    __slots__ = ("text", "value")

    def __init__(self, text, value):
        self.text = text
        self.value = value


_DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _plain(o):
    if isinstance(o, RawJSON):
        return o.value
    if isinstance(o, dict):
        return {k: _plain(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_plain(v) for v in o]
    return o


def _encode_into(o, out):
    if isinstance(o, RawJSON):
        out.append(o.text)
    elif isinstance(o, dict):
        out.append("{")
        first = True
        for k, v in o.items():
            if not first:
                out.append(",")
            first = False
            out.append(_DUMPS(str(k)))
            out.append(":")
            _encode_into(v, out)
        out.append("}")
    elif isinstance(o, (list, tuple)):
        out.append("[")
        for n, v in enumerate(o):
            if n:
                out.append(",")
            _encode_into(v, out)
        out.append("]")
    else:
        out.append(_DUMPS(o))


def encode_json(obj, pretty=False, raw=False):
    """Serialize a response.  ``raw`` must be set when the tree holds RawJSON."""
    if pretty:
        return json.dumps(_plain(obj), ensure_ascii=False, indent=2) + "\n"
    if not raw:
        return _DUMPS(obj)
    out = []
    _encode_into(obj, out)
    return "".join(out)


# ---------------------------------------------------------------------------
# filter_path [R-PARAMS]
#
# Comma-separated dotted patterns; ``*`` matches inside one key, ``**`` any
# number of levels, arrays are transparent, a leading ``-`` excludes.  Empty
# objects left after filtering disappear; nothing matched gives ``{}``.
# ---------------------------------------------------------------------------

_MISSING = object()


def _expand_patterns(patterns):
    out = []
    for p in patterns:
        out.append(p)
        q = p
        while q and q[0] == "**" and len(q) > 1:
            q = q[1:]
            out.append(q)
    return out


def _step(key, patterns):
    """Match one key against patterns: (fully matched?, patterns for its children)."""
    full, rest = False, []
    for p in _expand_patterns(patterns):
        if not p:
            continue
        seg = p[0]
        if seg == "**":
            if len(p) == 1:
                full = True
            else:
                rest.append(p)
            continue
        if glob_match(seg, key):
            if len(p) == 1:
                full = True
            else:
                rest.append(p[1:])
    return full, rest


def _include(value, patterns):
    if isinstance(value, RawJSON):
        value = value.value
    if isinstance(value, list):
        kept = [r for r in (_include(v, patterns) for v in value) if r is not _MISSING]
        return kept if kept else _MISSING
    if not isinstance(value, dict):
        return _MISSING
    out = {}
    for k, v in value.items():
        full, rest = _step(k, patterns)
        if full:
            out[k] = v
        elif rest:
            r = _include(v, rest)
            if r is not _MISSING:
                out[k] = r
    return out if out else _MISSING


def _exclude(value, patterns):
    if isinstance(value, RawJSON):
        value = value.value
    if isinstance(value, list):
        return [_exclude(v, patterns) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for k, v in value.items():
        full, rest = _step(k, patterns)
        if full:
            continue
        out[k] = _exclude(v, rest) if rest else v
    return out


def apply_filter_path(obj, spec):
    includes, excludes = [], []
    for raw in spec.split(","):
        raw = raw.strip()
        if not raw:
            continue
        if raw.startswith("-"):
            excludes.append(raw[1:].split("."))
        else:
            includes.append(raw.split("."))
    out = obj
    if includes:
        out = _include(obj, includes)
        if out is _MISSING:
            out = {}
    if excludes:
        out = _exclude(out, excludes)
    return out


# ---------------------------------------------------------------------------
# Media types [R-CTYPE] [R-COMPAT]
# ---------------------------------------------------------------------------

_BODY_TYPES = {"application/json", "application/x-ndjson",
               "application/vnd.elasticsearch+json", "application/vnd.elasticsearch+x-ndjson"}
CURRENT_MAJOR, MINIMUM_MAJOR = 8, 7


def parse_media_type(header):
    """(type/subtype lower-cased, params dict) or None when syntactically invalid."""
    parts = header.split(";")
    mime = parts[0].strip().lower()
    if not re.fullmatch(r"[^/\s]+/[^/\s]+", mime):
        return None
    params = {}
    for p in parts[1:]:
        p = p.strip()
        if not p:
            continue
        if "=" not in p:
            return None
        k, v = p.split("=", 1)
        params[k.strip().lower()] = v.strip().strip('"')
    return mime, params


def body_media_version(header):
    """Validate a request body's Content-Type; return its compatible-with version or None."""
    parsed = parse_media_type(header)
    if parsed is None or parsed[0] not in _BODY_TYPES:
        raise SimpleError(406, f"Content-Type header [{header}] is not supported")
    mime, params = parsed
    version = None
    for k, v in params.items():
        if k == "charset" and v.lower() == "utf-8":
            continue
        if k == "compatible-with" and mime.startswith("application/vnd.elasticsearch+") and v.isdigit():
            version = int(v)
            continue
        raise SimpleError(406, f"Content-Type header [{header}] is not supported")
    return version


def accept_version(header):
    if not header:
        return None
    for part in header.split(","):
        parsed = parse_media_type(part)
        if parsed and parsed[0].startswith("application/vnd.elasticsearch+"):
            v = parsed[1].get("compatible-with", "")
            if v.isdigit():
                return int(v)
    return None


def check_compat(accept, ctype, a_ver, c_ver, has_body):
    """RestCompatibleVersionHelper: returns the REST API major version (7 or 8)."""
    def fail(msg):
        raise EsError(400, "media_type_header_exception",
                      "Invalid media-type value on headers [Accept, Content-Type]",
                      caused_by={"type": "status_exception", "reason": msg})

    av = a_ver if a_ver is not None else CURRENT_MAJOR
    cv = c_ver if c_ver is not None else CURRENT_MAJOR
    if av > CURRENT_MAJOR or av < MINIMUM_MAJOR:
        fail(f"Accept version must be either version {CURRENT_MAJOR} or {MINIMUM_MAJOR}, "
             f"but found {av}. Accept={accept}")
    if has_body:
        if cv > CURRENT_MAJOR or cv < MINIMUM_MAJOR:
            fail(f"Content-Type version must be either version {CURRENT_MAJOR} or {MINIMUM_MAJOR}, "
                 f"but found {cv}. Content-Type={ctype}")
        if cv != av:
            fail("A compatible version is required on both Content-Type and Accept headers if either "
                 "one has requested a compatible version and the compatible versions must match. "
                 f"Accept={accept}, Content-Type={ctype}")
        if (c_ver is None) != (a_ver is None):
            fail("A compatible version is required on both Content-Type and Accept headers if either "
                 f"one has requested a compatible version. Accept={accept}, Content-Type={ctype}")
        if cv < CURRENT_MAJOR:
            return MINIMUM_MAJOR
    return MINIMUM_MAJOR if av < CURRENT_MAJOR else CURRENT_MAJOR


# ---------------------------------------------------------------------------
# Request body decoding [R-GZIP] [R-413]
# ---------------------------------------------------------------------------

def decompress(data, encoding, limit):
    """Decode a Content-Encoding.  The limit applies to the decompressed size,
    which is what Elasticsearch's HTTP layer aggregates (it decompresses first).
    Unknown encodings are passed through untouched, as Netty does."""
    enc = (encoding or "").strip().lower()
    if enc in ("", "identity"):
        return data
    if enc in ("gzip", "x-gzip"):
        wbits = 16 + zlib.MAX_WBITS
    elif enc in ("deflate", "x-deflate"):
        wbits = zlib.MAX_WBITS if data[:1] == b"\x78" else -zlib.MAX_WBITS
    else:
        return data
    out = bytearray()
    rest = data
    try:
        while rest:
            d = zlib.decompressobj(wbits)
            out += d.decompress(rest, limit + 1 - len(out))
            if len(out) > limit or d.unconsumed_tail:
                raise TooLarge()
            if not d.eof:
                raise zlib.error("unexpected end of compressed stream")
            rest = d.unused_data
            if wbits != 16 + zlib.MAX_WBITS:
                break
    except zlib.error as e:
        raise bad_request(f"[es_double] could not decode the {enc} request body: {e}",
                          etype="parse_exception") from None
    return bytes(out)


# ---------------------------------------------------------------------------
# Index names [R-INDEX]
# ---------------------------------------------------------------------------

_INVALID_NAME_CHARS = ("\\", "/", "*", "?", '"', "<", ">", "|", " ", ",")
_INVALID_NAME_CHARS_MSG = "[' ','\"','*',',','/','<','>','?','\\','|']"


def index_name_problem(name):
    """MetadataCreateIndexService.validateIndexName: None when valid, else the reason."""
    if any(c in name for c in _INVALID_NAME_CHARS):
        return f"must not contain the following characters {_INVALID_NAME_CHARS_MSG}"
    if name == "":
        return "must not be empty"
    if "#" in name:
        return "must not contain '#'"
    if ":" in name:
        return "must not contain ':'"
    if name[0] in "_-+":
        return "must not start with '_', '-', or '+'"
    nbytes = len(name.encode("utf-8"))
    if nbytes > MAX_INDEX_NAME_BYTES:
        return f"index name is too long, ({nbytes} > {MAX_INDEX_NAME_BYTES})"
    if name in (".", ".."):
        return "must not be '.' or '..'"
    if name.lower() != name:
        return "must be lowercase"
    return None


def invalid_index_error(name, problem):
    return {"type": "invalid_index_name_exception",
            "reason": f"Invalid index name [{name}], {problem}",
            "index_uuid": "_na_", "index": name}


# ---------------------------------------------------------------------------
# Dates [R-MAPPING]
# ---------------------------------------------------------------------------

DEFAULT_DATE_FORMAT = "strict_date_optional_time||epoch_millis"
DEFAULT_DATE_NANOS_FORMAT = "strict_date_optional_time_nanos||epoch_millis"
SLASH_DATE_FORMAT = "yyyy/MM/dd HH:mm:ss||yyyy/MM/dd||epoch_millis"

_STRICT_ISO_RE = re.compile(
    r"(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2})(?::(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?"
    r"(Z|[+-]\d{2}(?::?\d{2})?)?)?)?)?")
_LENIENT_ISO_RE = re.compile(
    r"([+-]?\d{1,9})(?:-(\d{1,2})(?:-(\d{1,2})(?:T(\d{1,2})(?::(\d{1,2})(?::(\d{1,2})(?:[.,](\d{1,9}))?)?)?"
    r"(Z|[+-]\d{2}(?::?\d{2})?)?)?)?)?")
_SLASH_RE = re.compile(r"(\d{4})/(\d{2})/(\d{2})(?: (\d{2}):(\d{2}):(\d{2}))?(?: ?([+-]\d{4}))?")
_EPOCH_RE = re.compile(r"[+-]?\d+(?:\.\d+)?")
_EPOCH0 = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)

# Named ISO formats: (min components, max components, fraction, zone) where
# components are year, month, day, hour, minute, second; None = optional.
_ISO_FORMATS = {
    "date_optional_time": (1, 6, None, None),
    "date_optional_time_nanos": (1, 6, None, None),
    "iso8601": (1, 6, None, None),
    "date": (3, 3, False, False),
    "year_month_day": (3, 3, False, False),
    "year_month": (2, 2, False, False),
    "year": (1, 1, False, False),
    "date_hour": (4, 4, False, False),
    "date_hour_minute": (5, 5, False, False),
    "date_hour_minute_second": (6, 6, False, False),
    "date_hour_minute_second_millis": (6, 6, True, False),
    "date_hour_minute_second_fraction": (6, 6, True, False),
    "date_time": (6, 6, True, True),
    "date_time_no_millis": (6, 6, False, True),
}


def _civil_millis(y, mo, d, h, mi, s, frac, tz):
    try:
        t = _dt.datetime(y, mo, d, h, mi, s, tzinfo=_dt.timezone.utc)
    except (ValueError, OverflowError):
        return None
    ms = (t - _EPOCH0) // _dt.timedelta(milliseconds=1)
    if frac:
        ms += int((frac + "00")[:3])
    if tz and tz != "Z":
        sign = -1 if tz[0] == "-" else 1
        digits = tz[1:].replace(":", "")
        offset = int(digits[:2]) * 60 + (int(digits[2:4]) if len(digits) > 2 else 0)
        ms -= sign * offset * 60000
    return ms


def _parse_iso(s, spec, strict):
    m = (_STRICT_ISO_RE if strict else _LENIENT_ISO_RE).fullmatch(s)
    if not m:
        return None
    g = m.groups()
    n = sum(1 for x in g[:6] if x is not None)
    lo, hi, frac, zone = spec
    if not lo <= n <= hi:
        return None
    if (frac is True and g[6] is None) or (frac is False and g[6] is not None):
        return None
    if (zone is True and g[7] is None) or (zone is False and g[7] is not None):
        return None
    nums = [int(x) if x is not None else dflt for x, dflt in zip(g[:6], (0, 1, 1, 0, 0, 0))]
    return _civil_millis(*nums, g[6], g[7])


_JAVA_LETTERS = {
    "y": lambda n: r"\d{2}" if n == 2 else r"\d{4}", "u": lambda n: r"\d{2}" if n == 2 else r"\d{4}",
    "M": lambda n: r"\d{1,2}" if n == 1 else (r"\d{2}" if n == 2 else r"[A-Za-z]+"),
    "d": lambda n: r"\d{1,2}" if n == 1 else r"\d{2}", "H": lambda n: r"\d{1,2}" if n == 1 else r"\d{2}",
    "h": lambda n: r"\d{1,2}" if n == 1 else r"\d{2}", "k": lambda n: r"\d{1,2}" if n == 1 else r"\d{2}",
    "m": lambda n: r"\d{1,2}" if n == 1 else r"\d{2}", "s": lambda n: r"\d{1,2}" if n == 1 else r"\d{2}",
    "S": lambda n: r"\d{%d}" % n, "n": lambda n: r"\d{1,9}", "D": lambda n: r"\d{1,3}",
    "Z": lambda n: r"(?:Z|[+-]\d{2}:?\d{2})", "X": lambda n: r"(?:Z|[+-]\d{2}(?::?\d{2})?)",
    "x": lambda n: r"[+-]\d{2}(?::?\d{2})?", "z": lambda n: r"[A-Za-z][A-Za-z_/+\-0-9]*",
    "V": lambda n: r"[A-Za-z][A-Za-z_/+\-0-9]*", "a": lambda n: r"(?:AM|PM|am|pm)",
    "E": lambda n: r"[A-Za-z]+",
}
_JAVA_PATTERN_CACHE = {}


def java_pattern_regex(pattern):
    """A regex for the shape of a Java DateTimeFormatter pattern, or None if the
    pattern uses something the double does not model (then anything is accepted)."""
    if pattern in _JAVA_PATTERN_CACHE:
        return _JAVA_PATTERN_CACHE[pattern]
    out, i = [], 0
    rx = None
    while i < len(pattern):
        c = pattern[i]
        if c == "'":
            j = pattern.find("'", i + 1)
            if j == -1:
                break
            out.append(re.escape(pattern[i + 1:j] or "'"))
            i = j + 1
            continue
        if c.isalpha():
            j = i
            while j < len(pattern) and pattern[j] == c:
                j += 1
            make = _JAVA_LETTERS.get(c)
            if make is None:
                break
            out.append(make(j - i))
            i = j
            continue
        if c in "[]{}#":
            break
        out.append(re.escape(c))
        i += 1
    else:
        rx = re.compile("".join(out))
    _JAVA_PATTERN_CACHE[pattern] = rx
    return rx


def date_value(value, fmt):
    """Parse a value for a date field: (valid?, epoch millis or None if valid
    but not computable).  Numbers are read as their text, as Elasticsearch does."""
    if isinstance(value, bool) or value is None or isinstance(value, (dict, list)):
        return False, None
    if isinstance(value, int):
        s = str(value)
    elif isinstance(value, float):
        s = repr(value) if not value.is_integer() else str(int(value))
    else:
        s = value
    for f in (fmt or DEFAULT_DATE_FORMAT).split("||"):
        f = f.strip()
        if f in ("epoch_millis", "epoch_second"):
            if _EPOCH_RE.fullmatch(s):
                return True, float(s) * (1000 if f == "epoch_second" else 1)
            continue
        strict = f.startswith("strict_")
        spec = _ISO_FORMATS.get(f[7:] if strict else f)
        if spec:
            ms = _parse_iso(s, spec, strict)
            if ms is not None:
                return True, ms
            continue
        if re.fullmatch(r"[a-z_]+", f):
            return True, None          # a named format the double does not model
        rx = java_pattern_regex(f)
        if rx is None or rx.fullmatch(s):
            return True, None
    return False, None


def detect_date(s):
    """Dynamic date detection: the format to map a string with, or None [R-MAPPING]."""
    m = _STRICT_ISO_RE.fullmatch(s)
    if m and m.group(3) is not None and date_value(s, "strict_date_optional_time")[0]:
        return DEFAULT_DATE_FORMAT
    m = _SLASH_RE.fullmatch(s)
    if m:
        g = [int(x) if x else 0 for x in m.groups()[:6]]
        if _civil_millis(g[0], g[1], g[2], g[3], g[4], g[5], None, None) is not None:
            return SLASH_DATE_FORMAT
    return None


# ---------------------------------------------------------------------------
# Field types and value checks [R-MAPPING]
# ---------------------------------------------------------------------------

INT_RANGES = {"long": (-(1 << 63), (1 << 63) - 1), "integer": (-(1 << 31), (1 << 31) - 1),
              "short": (-32768, 32767), "byte": (-128, 127), "unsigned_long": (0, (1 << 64) - 1)}
FLOAT_MAX = {"float": 3.4028234663852886e38, "half_float": 65504.0,
             "double": sys.float_info.max, "scaled_float": sys.float_info.max}
KEYWORD_TYPES = {"keyword", "constant_keyword", "wildcard", "version"}
TEXT_TYPES = {"text", "match_only_text", "search_as_you_type"}
DATE_TYPES = {"date", "date_nanos"}
OBJECT_TYPES = {"object", "nested"}
# Types the double accepts without checking values (objects included).
LENIENT_TYPES = {"flattened", "geo_point", "geo_shape", "point", "shape", "binary", "integer_range",
                 "float_range", "long_range", "double_range", "date_range", "ip_range", "dense_vector",
                 "sparse_vector", "rank_feature", "rank_features", "completion", "token_count", "alias",
                 "histogram", "aggregate_metric_double", "percolator", "join", "semantic_text",
                 "annotated_text", "murmur3", "counted_keyword"}
KNOWN_TYPES = (set(INT_RANGES) | set(FLOAT_MAX) | KEYWORD_TYPES | TEXT_TYPES | DATE_TYPES
               | OBJECT_TYPES | LENIENT_TYPES | {"boolean", "ip"})
IGNORE_MALFORMED_TYPES = set(INT_RANGES) | set(FLOAT_MAX) | DATE_TYPES | {"ip", "boolean"}
MAPPING_ERROR_TYPES = {"document_parsing_exception", "mapper_parsing_exception",
                       "strict_dynamic_mapping_exception"}

_NUMERIC_STR_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def _iae(reason):
    return {"type": "illegal_argument_exception", "reason": reason}


def _not_numeric(value):
    token = "VALUE_TRUE" if value is True else "VALUE_FALSE"
    return _iae(f"Current token ({token}) not numeric, can not use numeric value accessors")


def check_scalar(fd, value):
    """None if a scalar JSON value fits the field, else the caused_by object.
    Coercion follows Elasticsearch: numeric strings into numbers, floats
    truncated into integers, "" counts as null for numbers and booleans."""
    t = fd["type"]
    if t in INT_RANGES:
        if isinstance(value, bool):
            return _not_numeric(value)
        if isinstance(value, str):
            if value == "":
                return None
            if not _NUMERIC_STR_RE.fullmatch(value):
                return _iae(f'For input string: "{value}"')
            num = decimal.Decimal(value)
        elif isinstance(value, float):
            if not math.isfinite(value):
                return _iae(f"Value [{java_double(value)}] is out of range for a {t}")
            num = decimal.Decimal(value)
        else:
            num = decimal.Decimal(value)
        lo, hi = INT_RANGES[t]
        if not lo <= int(num) <= hi:
            return _iae(f"Value [{java_str(value)}] is out of range for a{'n' if t == 'integer' else ''} {t}")
        return None
    if t in FLOAT_MAX:
        if isinstance(value, bool):
            return _not_numeric(value)
        if isinstance(value, str):
            if value == "":
                return None
            if not _NUMERIC_STR_RE.fullmatch(value):
                return _iae(f'For input string: "{value}"')
        f = float(value)
        if not math.isfinite(f) or abs(f) > FLOAT_MAX[t]:
            return _iae(f"[{t}] supports only finite values, but got [{java_double(math.copysign(math.inf, f))}]")
        return None
    if t == "boolean":
        if isinstance(value, bool) or value in ("true", "false", ""):
            return None
        return _iae(f"Failed to parse value [{java_str(value)}] as only [true] or [false] are allowed.")
    if t in DATE_TYPES:
        fmt = fd.get("format") or (DEFAULT_DATE_NANOS_FORMAT if t == "date_nanos" else DEFAULT_DATE_FORMAT)
        if date_value(value, fmt)[0]:
            return None
        return dict(_iae(f"failed to parse date field [{java_str(value)}] with format [{fmt}]"),
                    caused_by={"type": "date_time_parse_exception",
                               "reason": f"Failed to parse with all enclosed parsers"})
    if t == "ip":
        if isinstance(value, str):
            try:
                ipaddress.ip_address(value)
                return None
            except ValueError:
                pass
        return _iae(f"'{java_str(value)}' is not an IP string literal.")
    return None  # keyword, text and lenient types take any scalar


def norm_dynamic(value):
    v = java_str(value)
    if v not in ("true", "false", "strict", "runtime"):
        raise ValueError(f"Could not convert [dynamic] to boolean or one of [strict, runtime]: [{v}]")
    return v


def flatten_settings(settings, prefix=""):
    """Settings as flat ``index.*`` keys with string values."""
    out = {}
    if not isinstance(settings, dict):
        return out
    for k, v in settings.items():
        key = prefix + k
        if isinstance(v, dict):
            out.update(flatten_settings(v, key + "."))
        else:
            if not key.startswith("index."):
                key = "index." + key
            out[key] = java_str(v) if not isinstance(v, list) else v
    return out


def mapper_parsing(reason):
    return EsError(400, "mapper_parsing_exception", f"Failed to parse mapping: {reason}",
                   caused_by={"type": "mapper_parsing_exception", "reason": reason})


ROOT_MAPPING_PASSTHROUGH = {"_source", "_meta", "_routing", "runtime", "dynamic_date_formats",
                            "_data_stream_timestamp", "subobjects", "_field_names", "enabled"}


class Mapping:
    """Field mappings of one index [R-MAPPING]: dotted path -> field definition.

    A definition is a dict: ``type``, ``spec`` (what GET _mapping shows),
    and as relevant ``format``, ``fields`` (multi-fields), ``dynamic``,
    ``enabled``, ``ignore_malformed``.
    """

    def __init__(self):
        self.fields = {}
        self.dynamic = "true"
        self.date_detection = True
        self.numeric_detection = False
        self.dynamic_templates = []
        self.extra = {}

    # -- loading from templates / create-index bodies -----------------------
    def load(self, body):
        if not isinstance(body, dict):
            raise mapper_parsing(f"Expected map for property [mappings] but got {java_str(body)}")
        if set(body) == {"_doc"} and isinstance(body["_doc"], dict):
            body = body["_doc"]
        try:
            for key, value in body.items():
                if key == "properties":
                    self._load_properties(value, "")
                elif key == "dynamic":
                    self.dynamic = norm_dynamic(value)
                elif key == "date_detection":
                    self.date_detection = as_bool(value)
                elif key == "numeric_detection":
                    self.numeric_detection = as_bool(value)
                elif key == "dynamic_templates":
                    self._load_dynamic_templates(value)
                elif key in ROOT_MAPPING_PASSTHROUGH:
                    self.extra[key] = value
                else:
                    raise ValueError(f"Root mapping definition has unsupported parameters:  "
                                     f"[{key} : {java_str(value)}]")
        except ValueError as e:
            raise mapper_parsing(str(e)) from None

    def _load_dynamic_templates(self, value):
        if not isinstance(value, list):
            raise ValueError("Dynamic template syntax error. An array of named objects is expected.")
        for entry in value:
            if not isinstance(entry, dict) or len(entry) != 1:
                raise ValueError("Dynamic template syntax error. An array of named objects is expected.")
            (name, spec), = entry.items()
            if not isinstance(spec, dict):
                raise ValueError(f"Dynamic template syntax error for [{name}]")
            mapping = spec.get("mapping")
            if isinstance(mapping, dict):
                t = mapping.get("type")
                if t is not None and "{" not in str(t) and t not in KNOWN_TYPES:
                    raise ValueError(f"dynamic template [{name}] has invalid content, "
                                     f"caused by [No mapper found for type [{t}]]")
        self.dynamic_templates = list(value)

    def _load_properties(self, props, prefix):
        if not isinstance(props, dict):
            raise ValueError(f"Expected map for property [properties] but got {java_str(props)}")
        for name, spec in props.items():
            if not isinstance(spec, dict):
                raise ValueError(f"Expected map for property [fields] on field [{name}] but got a "
                                 f"class java.lang.String")
            parts = name.split(".")
            for i in range(1, len(parts)):   # a dotted name implies object parents
                parent = prefix + ".".join(parts[:i])
                self.fields.setdefault(parent, {"type": "object", "spec": {}})
            path = prefix + name
            t = spec.get("type", "object")
            if t not in KNOWN_TYPES:
                raise ValueError(f"No handler for type [{t}] declared on field [{name}]")
            fd = {"type": t, "spec": {k: v for k, v in spec.items() if k != "properties"}}
            if t in OBJECT_TYPES:
                if "dynamic" in spec:
                    fd["dynamic"] = norm_dynamic(spec["dynamic"])
                fd["enabled"] = as_bool(spec.get("enabled", True))
                self.fields[path] = fd
                if "properties" in spec:
                    self._load_properties(spec["properties"], path + ".")
                continue
            if "properties" in spec:
                raise ValueError(f"unknown parameter [properties] on mapper [{name}] of type [{t}]")
            if spec.get("format") is not None:
                fd["format"] = str(spec["format"])
            subs = spec.get("fields") or {}
            if not isinstance(subs, dict):
                raise ValueError(f"Expected map for property [fields] on field [{name}]")
            fd["fields"] = {}
            for sub, sspec in subs.items():
                st = sspec.get("type") if isinstance(sspec, dict) else None
                if st not in KNOWN_TYPES:
                    raise ValueError(f"No handler for type [{st}] declared on field [{sub}]")
                fd["fields"][sub] = st
            if "ignore_malformed" in spec:
                fd["ignore_malformed"] = as_bool(spec["ignore_malformed"])
            self.fields[path] = fd

    # -- dynamic mapping ----------------------------------------------------
    def match_dynamic_template(self, path, leaf, detected):
        for entry in self.dynamic_templates:
            (_name, spec), = entry.items()
            mmt = spec.get("match_mapping_type")
            if mmt is not None:
                types = mmt if isinstance(mmt, list) else [mmt]
                if "*" not in types and detected not in types:
                    continue
            ummt = spec.get("unmatch_mapping_type")
            if ummt is not None and detected in (ummt if isinstance(ummt, list) else [ummt]):
                continue
            regex = spec.get("match_pattern") == "regex"

            def hit(patterns, s):
                pats = patterns if isinstance(patterns, list) else [patterns]
                return any((re.fullmatch(p, s) if regex else glob_match(p, s)) for p in pats)

            if "match" in spec and not hit(spec["match"], leaf):
                continue
            if "unmatch" in spec and hit(spec["unmatch"], leaf):
                continue
            if "path_match" in spec and not hit(spec["path_match"], path):
                continue
            if "path_unmatch" in spec and hit(spec["path_unmatch"], path):
                continue
            if not isinstance(spec.get("mapping"), dict):
                continue   # runtime templates are not modelled
            return spec["mapping"]
        return None

    def dynamic_field(self, path, leaf, value):
        """The definition a new field gets from its first value."""
        fmt = None
        if isinstance(value, dict):
            detected, default = "object", "object"
        elif isinstance(value, bool):
            detected, default = "boolean", "boolean"
        elif isinstance(value, int):
            detected, default = "long", "long"
        elif isinstance(value, float):
            detected, default = "double", "float"
        else:
            fmt = detect_date(value) if self.date_detection else None
            if fmt:
                detected, default = "date", "date"
            elif self.numeric_detection and _NUMERIC_STR_RE.fullmatch(value):
                detected, default = ("long", "long") if re.fullmatch(r"[+-]?\d+", value) else ("double", "float")
            else:
                detected, default = "string", "text"
        tmpl = self.match_dynamic_template(path, leaf, detected)
        if tmpl is not None:
            spec = json.loads(json.dumps(tmpl).replace("{name}", leaf).replace("{dynamic_type}", default))
            spec.setdefault("type", default)
            t = spec["type"] if spec["type"] in KNOWN_TYPES else default
            fd = {"type": t, "spec": spec, "fields": {}}
            if t in OBJECT_TYPES:
                fd["spec"] = {k: v for k, v in spec.items() if k != "type"}
            if spec.get("format"):
                fd["format"] = spec["format"]
            for sub, sspec in (spec.get("fields") or {}).items():
                fd["fields"][sub] = sspec.get("type") if isinstance(sspec, dict) else "keyword"
            if "ignore_malformed" in spec:
                fd["ignore_malformed"] = spec["ignore_malformed"] in (True, "true")
            return fd
        if default == "object":
            return {"type": "object", "spec": {}, "enabled": True}
        if default == "text":
            return {"type": "text", "fields": {"keyword": "keyword"},
                    "spec": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}}
        fd = {"type": default, "spec": {"type": default}, "fields": {}}
        if fmt and fmt != DEFAULT_DATE_FORMAT:
            fd["format"] = fmt
            fd["spec"]["format"] = fmt
        return fd

    def field_count(self):
        return sum(1 + len(fd.get("fields") or {}) for fd in self.fields.values())

    def commit(self, new_fields):
        self.fields.update(new_fields)

    # -- GET _mapping -------------------------------------------------------
    def to_es(self):
        root = {}
        if self.dynamic != "true":
            root["dynamic"] = self.dynamic
        if not self.date_detection:
            root["date_detection"] = False
        if self.numeric_detection:
            root["numeric_detection"] = True
        if self.dynamic_templates:
            root["dynamic_templates"] = self.dynamic_templates
        root.update(self.extra)
        props = {}
        for path in sorted(self.fields):
            parts = path.split(".")
            container = props
            for part in parts[:-1]:
                container = container.setdefault(part, {}).setdefault("properties", {})
            container.setdefault(parts[-1], {}).update(self.fields[path]["spec"])

        def finish(p):
            for name in list(p):
                entry = p[name]
                if "properties" in entry:
                    entry["properties"] = dict(sorted(finish(entry["properties"]).items()))
                elif not entry:
                    entry["type"] = "object"
            return p

        if props:
            root["properties"] = dict(sorted(finish(props).items()))
        return root


# ---------------------------------------------------------------------------
# Per-document mapping and validation [R-MAPPING] [R-ITEM400]
# ---------------------------------------------------------------------------

META_FIELDS = {"_id", "_index", "_routing", "_source", "_seq_no", "_primary_term", "_version",
               "_field_names", "_ignored", "_tier", "_data_stream_timestamp", "_nested_path",
               "_ignored_source", "_feature"}


def _last(node):
    """Offset of a container's closing bracket (None for position-less nodes)."""
    return None if node.end is None else node.end - 1


class DocError(Exception):
    """A per-document failure, rendered as a bulk item error [R-ITEM400]."""

    def __init__(self, etype, reason, pos=None, caused_by=None):
        super().__init__(reason)
        self.etype = etype
        self.reason = reason
        self.pos = pos
        self.caused_by = caused_by

    def item_error(self, text):
        reason = self.reason if self.pos is None else f"{location(text, self.pos)} {self.reason}"
        err = {"type": self.etype, "reason": reason}
        if self.caused_by:
            err["caused_by"] = self.caused_by
        return err


class DocumentMapper:
    """Walks one document against an index mapping, the way DocumentParser does:
    new fields are collected in ``self.new`` and only committed if the whole
    document is accepted; the first misfit raises DocError."""

    def __init__(self, index, doc_id):
        self.m = index.mapping
        self.doc_id = doc_id
        self.new = {}
        self.count = self.m.field_count()
        self.limit = int(index.settings.get("index.mapping.total_fields.limit", DEFAULT_TOTAL_FIELDS_LIMIT))
        self.depth_limit = int(index.settings.get("index.mapping.depth.limit", DEFAULT_DEPTH_LIMIT))
        self.ignore_malformed = index.settings.get("index.mapping.ignore_malformed") == "true"
        self.data_stream = index.data_stream

    def lookup(self, path):
        fd = self.new.get(path)
        return fd if fd is not None else self.m.fields.get(path)

    def add(self, path, fd, pos):
        self.new[path] = fd
        self.count += 1 + len(fd.get("fields") or {})
        if self.count > self.limit:
            msg = (f"Limit of total fields [{self.limit}] has been exceeded while adding new fields "
                   f"[{sum(1 + len(f.get('fields') or {}) for f in self.new.values())}]")
            raise DocError("document_parsing_exception", f"failed to parse: {msg}", pos, _iae(msg))
        if fd["type"] in OBJECT_TYPES and path.count(".") + 1 > self.depth_limit:
            msg = f"Limit of mapping depth [{self.depth_limit}] has been exceeded due to object field [{path}]"
            raise DocError("document_parsing_exception", f"failed to parse: {msg}", pos, _iae(msg))

    def parse(self, root, trailing):
        if root is None:
            raise DocError("document_parsing_exception", "failed to parse, document is empty")
        if root.kind != "obj":
            raise DocError("document_parsing_exception", "Malformed content, must start with an object",
                           root.start)
        for key, kpos, _node in root.pairs:
            if key in META_FIELDS:
                raise DocError("document_parsing_exception",
                               f"Field [{key}] is a metadata field and cannot be added inside a document. "
                               f"Use the index API request parameters.", kpos)
        self.walk_object(root.pairs, "", self.m.dynamic)
        if trailing is not None:
            raise DocError("document_parsing_exception", "failed to parse: Malformed content, found extra "
                           "data after parsing: START_OBJECT", trailing)
        if self.data_stream:   # [R-DS] every data stream document needs @timestamp
            ts = root.value.get("@timestamp")
            if ts is None or ts == []:
                msg = "data stream timestamp field [@timestamp] is missing"
                raise DocError("document_parsing_exception", f"failed to parse: {msg}", _last(root), _iae(msg))
            if isinstance(ts, list) and len(ts) > 1:
                msg = "data stream timestamp field [@timestamp] encountered multiple values"
                raise DocError("document_parsing_exception", f"failed to parse: {msg}", _last(root), _iae(msg))

    def strict_error(self, leaf, parent, pos):
        return DocError("strict_dynamic_mapping_exception",
                        f"mapping set to strict, dynamic introduction of [{leaf}] within "
                        f"[{parent or '_doc'}] is not allowed", pos)

    def walk_object(self, pairs, prefix, dynamic):
        for key, kpos, node in pairs:
            if key == "":
                raise DocError("document_parsing_exception", "field name cannot be an empty string", kpos)
            if key.strip() == "":
                raise DocError("document_parsing_exception",
                               f"field name cannot contain only whitespace: ['{key}']", kpos)
            if key.startswith(".") or key.endswith(".") or ".." in key:
                if key.strip(".") == "":
                    raise DocError("document_parsing_exception", f"field name cannot contain only dots: [{key}]", kpos)
                raise DocError("document_parsing_exception", "object field starting or ending with a [.] "
                               f"makes object resolution ambiguous: [{key}]", kpos)
            parts = key.split(".")
            cur, dyn, skip = prefix, dynamic, False
            for part in parts[:-1]:           # "a.b": "a" is an object
                path = f"{cur}.{part}" if cur else part
                fd = self.lookup(path)
                if fd is None:
                    if dyn == "strict":
                        raise self.strict_error(part, cur, kpos)
                    if dyn in ("false", "runtime"):
                        skip = True
                        break
                    self.add(path, {"type": "object", "spec": {}, "enabled": True}, kpos)
                elif fd["type"] not in OBJECT_TYPES:
                    if fd["type"] in LENIENT_TYPES:
                        skip = True
                        break
                    full = f"{prefix}.{key}" if prefix else key
                    raise DocError("document_parsing_exception",
                                   f"Could not dynamically add mapping for field [{full}]. Existing mapping "
                                   f"for [{path}] must be of type object but found [{fd['type']}].", kpos)
                elif not fd.get("enabled", True):
                    skip = True
                    break
                else:
                    dyn = fd.get("dynamic") or dyn
                cur = path
            if skip:
                continue
            leaf = parts[-1]
            self.value(f"{cur}.{leaf}" if cur else leaf, leaf, node, dyn, cur)

    def value(self, path, leaf, node, dyn, parent):
        if node.kind == "null":
            return
        if node.kind == "arr":               # arrays: every element must fit
            for el in node.items:
                self.value(path, leaf, el, dyn, parent)
            return
        fd = self.lookup(path)
        if node.kind == "obj":
            if fd is None:
                if dyn == "strict":
                    raise self.strict_error(leaf, parent, node.start)
                if dyn in ("false", "runtime"):
                    return
                fd = self.m.dynamic_field(path, leaf, node.value)
                self.add(path, fd, node.start)
            if fd["type"] in OBJECT_TYPES:
                if fd.get("enabled", True):
                    self.walk_object(node.pairs, path, fd.get("dynamic") or dyn)
                return
            if fd["type"] in LENIENT_TYPES:
                return
            # An object where a concrete value is mapped.
            raise DocError("document_parsing_exception",
                           f"failed to parse field [{path}] of type [{fd['type']}] in document with id "
                           f"'{self.doc_id}'. Preview of field's value: '{java_str(node.value)}'",
                           _last(node),
                           _iae("Current token (START_OBJECT) not numeric, can not use numeric value accessors"
                                if fd["type"] in INT_RANGES or fd["type"] in FLOAT_MAX
                                else "Can't get text on a START_OBJECT"))
        if fd is None:
            if dyn == "strict":
                raise self.strict_error(leaf, parent, node.start)
            if dyn in ("false", "runtime"):
                return
            fd = self.m.dynamic_field(path, leaf, node.value)
            self.add(path, fd, node.start)
        if fd["type"] in OBJECT_TYPES:
            raise DocError("document_parsing_exception",
                           f"object mapping for [{path}] tried to parse field [{leaf}] as object, "
                           f"but found a concrete value", node.start)
        cause = check_scalar(fd, node.value)
        if cause is not None:
            ignore = fd.get("ignore_malformed", self.ignore_malformed)
            if ignore and fd["type"] in IGNORE_MALFORMED_TYPES:
                return
            raise DocError("document_parsing_exception",
                           f"failed to parse field [{path}] of type [{fd['type']}] in document with id "
                           f"'{self.doc_id}'. Preview of field's value: '{java_str(node.value)}'",
                           node.start, cause)


# ---------------------------------------------------------------------------
# Indices, documents and templates
# ---------------------------------------------------------------------------

class Doc:
    """One stored document: source as sent (text) and parsed, version, seq_no."""
    __slots__ = ("id", "text", "value", "version", "seq_no")

    def __init__(self, doc_id, text, value, version, seq_no):
        self.id = doc_id
        self.text = text
        self.value = value
        self.version = version
        self.seq_no = seq_no

    def source(self):
        return RawJSON(self.text, self.value)


class Index:
    """An index, or a data stream with its single backing index [R-DS].

    ``docs`` is the realtime view (GET _doc, /_double/docs); ``visible`` is the
    snapshot taken at the last refresh (_count, _search) [R-REFRESH].
    """

    def __init__(self, name, mapping, settings, data_stream=False, template=None):
        self.name = name
        self.uuid = gen_uuid()
        self.created = now_millis()
        self.data_stream = data_stream
        self.template = template
        day = time.strftime("%Y.%m.%d", time.gmtime(self.created / 1000))
        self.concrete = f".ds-{name}-{day}-000001" if data_stream else name
        self.mapping = mapping
        self.settings = settings
        self.docs = {}
        self.tombstones = {}
        self.visible = {}
        self.dirty = False
        self.next_seq_no = 0
        try:
            self.replicas = int(settings.get("index.number_of_replicas", "1"))
        except ValueError:
            self.replicas = 1

    def shards(self):
        return {"total": 1 + self.replicas, "successful": 1, "failed": 0}

    def take_seq_no(self):
        seq = self.next_seq_no
        self.next_seq_no += 1
        return seq

    def refresh(self):
        if self.dirty:
            self.visible = dict(self.docs)
            self.dirty = False


def _builtin_template(pattern, kind):
    """Elasticsearch 8's stack templates for ``logs-*-*`` etc.: data streams at
    priority 100 (so ``index`` into ``logs-a-b`` fails, as in a real cluster) [R-DS]."""
    dyn = [{"strings_as_keyword": {"match_mapping_type": "string",
                                   "mapping": {"ignore_above": 1024, "type": "keyword"}}}]
    if kind == "logs":
        dyn = [{"match_ip": {"match_mapping_type": "string", "match": "ip", "mapping": {"type": "ip"}}},
               {"match_message": {"match_mapping_type": "string", "match": "message",
                                  "mapping": {"type": "match_only_text"}}}] + dyn
    return {
        "index_patterns": [pattern],
        "template": {
            "settings": {"index": {"mapping": {"ignore_malformed": "true"}}} if kind == "logs" else {},
            "mappings": {
                "date_detection": False,
                "dynamic_templates": dyn,
                "properties": {
                    "@timestamp": {"type": "date"},
                    "data_stream": {"properties": {"type": {"type": "constant_keyword", "value": kind},
                                                   "dataset": {"type": "constant_keyword"},
                                                   "namespace": {"type": "constant_keyword"}}},
                },
            },
        },
        "composed_of": [],
        "priority": 100,
        "version": 14,
        "_meta": {"description": f"default {kind} template installed by x-pack", "managed": True},
        "data_stream": {"hidden": False, "allow_custom_routing": False},
        "allow_auto_create": True,
    }


class Template:
    """A composable index template [R-TEMPLATE]."""

    def __init__(self, name, body, builtin=False):
        self.name = name
        self.body = body
        self.builtin = builtin
        self.patterns = body["index_patterns"]
        self.priority = body.get("priority") or 0
        self.data_stream = "data_stream" in body
        tpl = body.get("template") or {}
        self.mappings = tpl.get("mappings") or {}
        self.settings = flatten_settings(tpl.get("settings") or {})


def builtin_templates():
    out = {}
    for kind in ("logs", "metrics", "synthetics"):
        out[kind] = Template(kind, _builtin_template(f"{kind}-*-*", kind), builtin=True)
    return out


# ---------------------------------------------------------------------------
# Authentication [R-AUTH]
# ---------------------------------------------------------------------------

class Principal:
    def __init__(self, user, api_key_id=None, write_indices=None):
        self.user = user
        self.api_key_id = api_key_id
        self.write_indices = write_indices

    def may_write(self, index):
        return self.write_indices is None or any(glob_match(p, index) for p in self.write_indices)

    def describe(self):
        if self.api_key_id:
            return f"API key id [{self.api_key_id}] of user [{self.user}]"
        return f"user [{self.user}]"


def _auth_error(reason, **extra):
    return EsError(401, "security_exception", reason,
                   extra=dict(extra, header={"WWW-Authenticate": WWW_AUTHENTICATE}),
                   headers=[("WWW-Authenticate", v) for v in WWW_AUTHENTICATE])


def _b64_credentials(cred):
    try:
        text = base64.b64decode(cred.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    left, sep, right = text.partition(":")
    return (left, right) if sep else None


# ---------------------------------------------------------------------------
# Bulk request parsing [R-NDJSON] [R-NEWLINE] [R-EMPTY] [R-META] [R-TYPE] [R-ACTION]
# ---------------------------------------------------------------------------

ACTIONS = ("create", "delete", "index", "update")
META_KEYS = {"_index", "_id", "routing", "op_type", "version", "version_type", "if_seq_no",
             "if_primary_term", "retry_on_conflict", "pipeline", "_source", "require_alias",
             "require_data_stream", "list_executed_pipelines", "dynamic_templates"}
UPDATE_KEYS = {"doc", "upsert", "doc_as_upsert", "script", "scripted_upsert", "detect_noop", "_source"}
VERSION_TYPES = ("internal", "external", "external_gte")


class BulkOp:
    """One bulk action.  ``action`` is the key that was sent; ``op_type`` is
    what it does and the key of its response item (``index`` with
    ``op_type: create`` is a create)."""
    __slots__ = ("line", "action", "op_type", "index", "id", "meta", "source", "update")

    def __init__(self, line, action, index, doc_id, meta):
        self.line = line
        self.action = action
        self.op_type = "create" if (action == "index" and meta.get("op_type") == "create") else action
        self.index = index
        self.id = doc_id
        self.meta = meta
        self.source = None
        self.update = None


def _malformed(line, what):
    return bad_request(f"Malformed action/metadata line [{line}], {what}")


def _decode_line(raw, what_error):
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise what_error(f"Invalid UTF-8 start byte 0x{raw[e.start]:02x}", e.start) from None


def _xcontent_error(text, pos, msg):
    return bad_request(f"{location(text, pos)} {msg}", etype="x_content_parse_exception")


def _parse_action(text, line, url_index, compat):
    node, trailing = parse_json_fast(text), None
    if node is _BLANK:
        node = None
    elif node is None:
        try:
            node, trailing = parse_json(text)
        except JsonSyntaxError as e:
            raise _xcontent_error(text, e.pos, e.message) from None
    if node is None:
        return None                        # a blank line: Elasticsearch skips it
    if node.kind != "obj":
        raise _malformed(line, f"expected START_OBJECT but found [{KIND_TOKEN[node.kind]}]")
    if not node.pairs:
        raise _malformed(line, "expected FIELD_NAME but found [END_OBJECT]")
    action, _pos, body = node.pairs[0]
    if action not in ACTIONS:              # [R-ACTION]
        raise _malformed(line, f"expected one of [create, delete, index, update] but found [{action}]")
    if body.kind != "obj":
        raise _malformed(line, f"expected START_OBJECT or END_OBJECT but found [{KIND_TOKEN[body.kind]}]")
    meta = {}
    for key, _kp, value in body.pairs:
        if key == "_type":                 # [R-TYPE] removed in 8.x (accepted with compatible-with=7)
            if compat == MINIMUM_MAJOR:
                continue
            raise bad_request(f"Action/metadata line [{line}] contains an unknown parameter [{key}]")
        if key not in META_KEYS:
            raise bad_request(f"Action/metadata line [{line}] contains an unknown parameter [{key}]")
        if key == "dynamic_templates":
            if value.kind != "obj":
                raise _malformed(line, f"expected START_OBJECT for field [{key}] but found "
                                       f"[{KIND_TOKEN[value.kind]}]")
        elif value.kind in ("obj", "arr") and key != "_source":
            raise _malformed(line, f"expected a simple value for field [{key}] but found "
                                   f"[{KIND_TOKEN[value.kind]}]")
        if value.kind == "null":
            continue
        v = value.value
        try:
            if key in ("_index", "_id", "routing", "pipeline", "op_type", "version_type"):
                v = v if isinstance(v, str) else java_str(v)
            elif key in ("version", "if_seq_no", "if_primary_term", "retry_on_conflict"):
                if isinstance(v, bool) or not isinstance(v, (int, str)) or not re.fullmatch(r"-?\d+", str(v)):
                    raise ValueError(f'For input string: "{java_str(v)}"')
                v = int(v)
            elif key in ("require_alias", "require_data_stream", "list_executed_pipelines"):
                v = as_bool(v)
        except ValueError as e:
            raise bad_request(str(e)) from None
        meta[key] = v
    if len(node.pairs) > 1:
        raise _malformed(line, "expected END_OBJECT but found [FIELD_NAME]")
    if trailing is not None:
        raise _malformed(line, f"expected end of line but found [{token_at(text, trailing)}]")
    if "version_type" in meta and meta["version_type"] not in VERSION_TYPES:
        raise bad_request(f"No version type match [{meta['version_type']}]")
    if "op_type" in meta and meta["op_type"] not in ("index", "create"):
        raise bad_request(f"opType must be 'create' or 'index', found: [{meta['op_type']}]")
    index = meta.get("_index") or url_index
    return BulkOp(line, action, index, meta.get("_id"), meta)


def _parse_update_body(text):
    """The ``{"doc": ...}`` line of an update; parse errors fail the whole request."""
    try:
        node, trailing = parse_json(text)
    except JsonSyntaxError as e:
        raise _xcontent_error(text, e.pos, e.message) from None
    if node is None:
        return {}
    if node.kind != "obj":
        raise _xcontent_error(text, node.start, f"[UpdateRequest] Expected START_OBJECT but was: "
                                                f"{KIND_TOKEN[node.kind]}")
    out = {}
    for key, kpos, value in node.pairs:
        if key not in UPDATE_KEYS:
            raise _xcontent_error(text, kpos, f"[UpdateRequest] unknown field [{key}]")
        if key in ("doc", "upsert") and value.kind != "obj":
            raise _xcontent_error(text, value.start, f"[UpdateRequest] {key} doesn't support values of type: "
                                                     f"{KIND_TOKEN[value.kind]}")
        if key in ("doc_as_upsert", "detect_noop", "scripted_upsert"):
            try:
                out[key] = as_bool(value.value)
            except ValueError as e:
                raise _xcontent_error(text, value.start, str(e)) from None
            continue
        out[key] = value.value
    if trailing is not None:
        raise _xcontent_error(text, trailing, "[UpdateRequest] unexpected content after the request")
    return out


def parse_bulk_body(data, url_index, compat):
    """BulkRequestParser: split the NDJSON body into operations."""
    ops = []
    pos, line, n = 0, 0, len(data)

    def need_newline():
        return bad_request("The bulk request must be terminated by a newline [\\n]")   # [R-NEWLINE]

    while True:
        nl = data.find(b"\n", pos)
        if nl == -1:
            if pos != n:
                raise need_newline()
            break
        line += 1
        text = _decode_line(data[pos:nl], lambda m, p: bad_request(f"[1:{p + 1}] {m}",
                                                                   etype="x_content_parse_exception"))
        pos = nl + 1
        op = _parse_action(text, line, url_index, compat)
        if op is None:
            continue
        if op.action == "delete":
            ops.append(op)
            continue
        nl = data.find(b"\n", pos)
        if nl == -1:
            if pos != n:
                raise need_newline()
            break                          # an action without its source line is dropped, as in ES
        line += 1
        raw = data[pos:nl]
        pos = nl + 1
        if op.action == "update":
            utext = _decode_line(raw, lambda m, p: bad_request(f"[1:{p + 1}] {m}",
                                                               etype="x_content_parse_exception"))
            op.update = _parse_update_body(utext)
        else:
            op.source = raw                # parsed per item: errors only fail that item
        ops.append(op)
    return ops


def validate_ops(ops):
    """BulkRequest.validate(): all problems in one action_request_validation_exception."""
    errors = []
    if not ops:
        errors.append("no requests added")              # [R-EMPTY]
    for op in ops:
        m = op.meta
        if not op.index:
            errors.append("index is missing")           # [R-META]
        if op.op_type in ("update", "delete") and op.id is None:
            errors.append("id is missing")
        if op.id is not None:
            nbytes = len(op.id.encode("utf-8"))
            if nbytes == 0:
                errors.append("if _id is specified it must not be empty")
            elif nbytes > MAX_ID_BYTES:
                errors.append(f"id [{op.id}] is too long, must be no longer than {MAX_ID_BYTES} bytes "
                              f"but was: {nbytes}")
        seq, term = m.get("if_seq_no"), m.get("if_primary_term")
        if seq is not None and not term:
            errors.append(f"ifSeqNo is set, but primary term is [{term or 0}]")
        if seq is None and term:
            errors.append(f"ifSeqNo is unassigned, but primary term is [{term}]")
        if seq is not None and seq < 0:
            errors.append(f"sequence number must be non negative, got [{seq}]")
        vt = m.get("version_type", "internal")
        if op.op_type == "create":
            if vt != "internal":
                errors.append("create operations only support internal versioning. use index instead")
            if seq is not None:
                errors.append("create operations do not support compare and set. use index instead")
        if "version" in m and vt == "internal":
            errors.append("internal versioning can not be used for optimistic concurrency control. "
                          "Please use `if_seq_no` and `if_primary_term` instead")
        if vt != "internal" and "version" not in m:
            errors.append(f"illegal version value [-3] for version type [{vt.upper()}]")
        if "version" in m and seq is not None:
            errors.append("compare and write operations can not use versioning")
        if op.op_type == "update":
            u = op.update or {}
            if u.get("script") is None and u.get("doc") is None:
                errors.append("script or doc is missing")
            if u.get("script") is not None and u.get("doc") is not None:
                errors.append("can't provide both script and doc")
            if u.get("doc") is None and u.get("doc_as_upsert"):
                errors.append("doc must be specified if doc_as_upsert is enabled")
            if vt != "internal":
                errors.append("version type [" + vt + "] is not supported by the update API")
    if errors:
        raise bad_request("Validation Failed: " + "".join(f"{i}: {e};" for i, e in enumerate(errors, 1)),
                          etype="action_request_validation_exception")


def deep_merge(base, changes):
    """XContentHelper.update: objects merge recursively, everything else is replaced."""
    out = dict(base)
    for k, v in changes.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


# ---------------------------------------------------------------------------
# The cluster state: one lock guards everything [R-FAULTS] [R-COUNTERS]
# ---------------------------------------------------------------------------

FAULT_KEYS = ("item_429", "item_429_ids", "request_status", "request_count", "max_content_length",
              "latency_ms", "drop_after_index", "down", "auth")


def default_faults():
    return {"item_429": 0, "item_429_ids": set(), "request_status": None, "request_count": 0,
            "max_content_length": DEFAULT_MAX_CONTENT_LENGTH, "latency_ms": 0, "drop_after_index": 0,
            "down": False, "auth": None}


def new_counters():
    return {"bulk_requests": 0, "bulk_bytes": 0, "gzip_requests": 0,
            "items": {"created": 0, "updated": 0, "deleted": 0, "noop": 0, "not_found": 0,
                      "conflict_409": 0, "rejected_429": 0, "mapping_400": 0, "other_4xx": 0},
            "requests_413": 0, "requests_rejected": 0, "dropped_connections": 0,
            "requests_401": 0, "down_closed": 0}


def _int_value(body, key, minimum=0):
    v = body[key]
    if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
        raise ControlError(400, f"[{key}] must be an integer >= {minimum}, got {json.dumps(v)}")
    return v


class State:
    """Indices, templates, faults, counters and the request log, behind one
    re-entrant lock.  Bulk items are executed under the lock, one after the
    other, like operations on a single primary shard."""

    def __init__(self, refresh_interval=1.0):
        self.lock = threading.RLock()
        self.refresh_interval = refresh_interval
        self._reset_locked()

    def _reset_locked(self):
        self.indices = {}            # index or data stream name -> Index
        self.backing = {}            # backing index name -> data stream name
        self.templates = builtin_templates()
        self.faults = default_faults()
        self.counters = new_counters()
        self.requests = deque(maxlen=REQUEST_LOG_SIZE)

    def reset(self):
        with self.lock:
            self._reset_locked()

    # -- faults [R-FAULTS] --------------------------------------------------
    def set_faults(self, body):
        """Validate every key first, then merge them all (all or nothing)."""
        if not isinstance(body, dict):
            raise ControlError(400, "the faults body must be a JSON object")
        unknown = sorted(set(body) - set(FAULT_KEYS))
        if unknown:
            raise ControlError(400, f"unknown fault key(s) {unknown}; known: {list(FAULT_KEYS)}")
        new = {}
        for key in ("item_429", "request_count", "drop_after_index"):
            if key in body:
                new[key] = _int_value(body, key)
        if "item_429_ids" in body:
            ids = body["item_429_ids"]
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                raise ControlError(400, "[item_429_ids] must be a list of strings")
            new["item_429_ids"] = set(ids)
        if "request_status" in body:
            if body["request_status"] not in (429, 503, None):
                raise ControlError(400, "[request_status] must be 429, 503 or null")
            new["request_status"] = body["request_status"]
            if "request_count" not in body:
                new["request_count"] = 1 if body["request_status"] is not None else 0
        if "max_content_length" in body:
            new["max_content_length"] = (DEFAULT_MAX_CONTENT_LENGTH if body["max_content_length"] is None
                                         else _int_value(body, "max_content_length"))
        if "latency_ms" in body:
            v = body["latency_ms"]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                raise ControlError(400, "[latency_ms] must be a number >= 0")
            new["latency_ms"] = v
        if "down" in body:
            if not isinstance(body["down"], bool):
                raise ControlError(400, "[down] must be true or false")
            new["down"] = body["down"]
        if "auth" in body:
            new["auth"] = self._auth_config(body["auth"])
        with self.lock:
            self.faults.update(new)
            return self.faults_view()

    @staticmethod
    def _auth_config(auth):
        if auth is None:
            return None
        if not isinstance(auth, dict) or not set(auth) <= {"basic", "api_key", "write_indices"}:
            raise ControlError(400, "[auth] must be null or an object with basic, api_key, write_indices")
        if "basic" not in auth and "api_key" not in auth:
            raise ControlError(400, "[auth] needs [basic] and/or [api_key]")
        out = {}
        if "basic" in auth:
            b = auth["basic"]
            if not (isinstance(b, list) and len(b) == 2 and all(isinstance(x, str) for x in b) and b[0]):
                raise ControlError(400, '[auth.basic] must be ["user", "password"]')
            out["basic"] = list(b)
        if "api_key" in auth:
            k = auth["api_key"]
            if not isinstance(k, str) or ":" not in k or k.startswith(":"):
                raise ControlError(400, '[auth.api_key] must be "id:secret"')
            out["api_key"] = k
        if "write_indices" in auth:
            w = auth["write_indices"]
            if not isinstance(w, list) or not all(isinstance(x, str) for x in w):
                raise ControlError(400, "[auth.write_indices] must be a list of index patterns")
            out["write_indices"] = list(w)
        return out

    def faults_view(self):
        with self.lock:
            f = dict(self.faults)
            f["item_429_ids"] = sorted(f["item_429_ids"])
            return f

    def fault(self, key):
        with self.lock:
            return self.faults[key]

    def bump(self, counter, n=1):
        with self.lock:
            self.counters[counter] += n

    def take_request_fault(self, body_len):
        """[R-REQ429] a pending whole-request 429/503, as an EsError, or None."""
        with self.lock:
            status = self.faults["request_status"]
            if status is None or self.faults["request_count"] <= 0:
                return None
            self.faults["request_count"] -= 1
            if self.faults["request_count"] == 0:
                self.faults["request_status"] = None
            self.counters["requests_rejected"] += 1
        if status == 429:
            return EsError(429, "es_rejected_execution_exception",
                           f"rejected execution of coordinating operation [coordinating_and_primary_bytes="
                           f"{INDEXING_PRESSURE_LIMIT}, replica_bytes=0, all_bytes={INDEXING_PRESSURE_LIMIT}, "
                           f"coordinating_operation_bytes={body_len}, max_coordinating_and_primary_bytes="
                           f"{INDEXING_PRESSURE_LIMIT}]")
        return EsError(503, "cluster_block_exception",
                       "blocked by: [SERVICE_UNAVAILABLE/2/no master];")

    def take_drop(self):
        with self.lock:
            if self.faults["drop_after_index"] > 0:
                self.faults["drop_after_index"] -= 1
                return True
            return False

    def _take_item_429(self, op_type, doc_id):
        ids = self.faults["item_429_ids"]
        if doc_id in ids:
            ids.discard(doc_id)
            return True
        if op_type in ("index", "create") and self.faults["item_429"] > 0:
            self.faults["item_429"] -= 1
            return True
        return False

    # -- authentication [R-AUTH] -------------------------------------------
    def authenticate(self, header, uri):
        with self.lock:
            auth = self.faults["auth"]
        if not auth:
            return None
        if not header or not header.strip():
            self.bump("requests_401")
            raise _auth_error(f"missing authentication credentials for REST request [{uri}]")
        scheme, _, cred = header.strip().partition(" ")
        scheme = scheme.lower()
        writes = auth.get("write_indices")
        if scheme == "basic":
            pair = _b64_credentials(cred)
            if pair and auth.get("basic") == [pair[0], pair[1]]:
                return Principal(pair[0], write_indices=writes)
            self.bump("requests_401")
            user = pair[0] if pair else ""
            raise _auth_error(f"unable to authenticate user [{user}] for REST request [{uri}]")
        if scheme == "apikey":
            pair = _b64_credentials(cred)
            want = auth.get("api_key")
            if pair and want and f"{pair[0]}:{pair[1]}" == want:
                return Principal("api_key_user", api_key_id=pair[0], write_indices=writes)
            self.bump("requests_401")
            if pair and want and pair[0] == want.split(":", 1)[0]:
                detail = f"API key: invalid credentials for API key [{pair[0]}]"
            elif pair:
                detail = f"API key: unable to find apikey with id [{pair[0]}]"
            else:
                detail = "API key: invalid ApiKey value"
            raise _auth_error("unable to authenticate with provided credentials and anonymous access "
                              "is not allowed for this request", additional_unsuccessful_credentials=detail)
        self.bump("requests_401")
        raise _auth_error("unable to authenticate with provided credentials and anonymous access is not "
                          "allowed for this request")

    # -- indices and templates ---------------------------------------------
    def lookup_index(self, name):
        """An index by name, data stream name or backing index name."""
        idx = self.indices.get(name)
        if idx is None and name in self.backing:
            idx = self.indices.get(self.backing[name])
        return idx

    def find_template(self, name):
        best = None
        for t in self.templates.values():
            if any(glob_match(p, name) for p in t.patterns):
                if name.startswith(".") and all(p == "*" for p in t.patterns):
                    continue
                if best is None or t.priority > best.priority:
                    best = t
        return best

    def create_index(self, name, template=None, mappings=None, settings=None, data_stream=None):
        mapping = Mapping()
        flat = {}
        if template is not None:
            mapping.load(template.mappings)
            flat.update(template.settings)
        if mappings is not None:
            mapping.load(mappings)
        if settings:
            flat.update(flatten_settings(settings))
        ds = template is not None and template.data_stream if data_stream is None else data_stream
        if ds and "@timestamp" not in mapping.fields:
            mapping.fields["@timestamp"] = {"type": "date", "spec": {"type": "date"}, "fields": {}}
        idx = Index(name, mapping, flat, data_stream=ds, template=template.name if template else None)
        self.indices[name] = idx
        if ds:
            self.backing[idx.concrete] = name
        return idx

    def delete_index(self, idx):
        self.indices.pop(idx.name, None)
        self.backing.pop(idx.concrete, None)

    def resolve_targets(self, expr, ignore_unavailable=False):
        """Index expressions of _count/_search/_refresh: names, ``*`` patterns, ``_all``."""
        out, seen = [], set()
        for part in expr.split(","):
            part = part.strip()
            if not part:
                continue
            if part in ("_all", "*"):
                cands = [i for n, i in self.indices.items() if not n.startswith(".")]
            elif "*" in part:
                cands = [i for n, i in self.indices.items()
                         if (glob_match(part, n) and (not n.startswith(".") or part.startswith(".")))
                         or (part.startswith(".") and glob_match(part, i.concrete))]
            else:
                idx = self.lookup_index(part)
                if idx is None:
                    if ignore_unavailable:
                        continue
                    raise index_not_found(part)
                cands = [idx]
            for c in cands:
                if id(c) not in seen:
                    seen.add(id(c))
                    out.append(c)
        return out

    def refresh_all(self):
        with self.lock:
            for idx in self.indices.values():
                idx.refresh()

    # -- bulk execution [R-RESPONSE] ----------------------------------------
    def execute_bulk(self, ops, principal=None, refresh="false", require_alias=False):
        items, touched = [], {}
        forced = refresh == "true"
        with self.lock:
            for op in ops:
                item, idx = self._execute_op(op, principal, forced, require_alias)
                if idx is not None:
                    touched[id(idx)] = idx
                items.append({op.op_type: item})
                self._count_item(item)
            if refresh != "false":       # [R-REFRESH] refresh=true|wait_for
                for idx in touched.values():
                    idx.refresh()
        return items

    def _count_item(self, item):
        c = self.counters["items"]
        err = item.get("error")
        status = item["status"]
        if err is None:
            key = item.get("result")
            if key in c:
                c[key] += 1
        elif status == 409:
            c["conflict_409"] += 1
        elif status == 429:
            c["rejected_429"] += 1
        elif status == 400 and err.get("type") in MAPPING_ERROR_TYPES:
            c["mapping_400"] += 1
        else:
            c["other_4xx"] += 1

    def _execute_op(self, op, principal, forced, url_require_alias):
        name, doc_id = op.index, op.id

        def fail(status, error, index_name=None, id_=None):
            return {"_index": index_name or name, "_id": id_ if id_ is not None else doc_id,
                    "status": status, "error": error}

        problem = index_name_problem(name)                       # [R-INDEX]
        if problem:
            return fail(400, invalid_index_error(name, problem)), None
        if op.meta.get("require_alias", url_require_alias):
            return fail(404, index_not_found(name, reason=f"no such index [{name}] and [require_alias] request "
                                                          f"flag is [true] and [{name}] is not an alias")
                        .item_error()), None
        if principal is not None and not principal.may_write(name):   # [R-AUTH] per-item 403
            privs = {"delete": "delete,write,all", "update": "index,write,all"}.get(
                op.op_type, "create_doc,create,index,write,all")
            return fail(403, {"type": "security_exception",
                              "reason": f"action [indices:data/write/bulk[s]] is unauthorized for "
                                        f"{principal.describe()} with effective roles [writer] on indices "
                                        f"[{name}], this action is granted by the index privileges [{privs}]"}), None
        idx = self.lookup_index(name)
        ds_only = "only write ops with an op_type of create are allowed in data streams"
        if idx is None:
            template = self.find_template(name)
            if op.op_type == "delete":
                return fail(404, index_not_found(name, "index_expression").item_error()), None
            if template is not None and template.data_stream and op.op_type != "create":   # [R-DS]
                return fail(400, _iae(ds_only)), None
            idx = self.create_index(name, template)              # auto-create [R-INDEX]
        elif idx.data_stream:
            via_backing = name != idx.name
            if not via_backing and op.op_type != "create":
                return fail(400, _iae(ds_only)), None
            if via_backing and op.op_type == "create":
                return fail(400, _iae("index request with op_type=create targeting backing indices is "
                                      f"disallowed, target corresponding data stream [{idx.name}] instead")), None
            if via_backing and op.op_type == "index" and op.meta.get("if_seq_no") is None:
                return fail(400, _iae("index request with op_type=index and no if_primary_term and if_seq_no "
                                      "set targeting backing indices is disallowed, target corresponding data "
                                      f"stream [{idx.name}] instead")), None
        if doc_id is None:
            doc_id = gen_id()                                    # [R-META]
        if self._take_item_429(op.op_type, doc_id):              # [R-ITEM429] [R-FAULTS]
            size = len(op.source or b"")
            return fail(429, {"type": "es_rejected_execution_exception",
                              "reason": f"rejected execution of primary operation [coordinating_and_primary_"
                                        f"bytes=0, replica_bytes=0, all_bytes=0, primary_operation_bytes={size}, "
                                        f"max_coordinating_and_primary_bytes={INDEXING_PRESSURE_LIMIT}]"},
                        idx.concrete, doc_id), idx
        if op.op_type == "delete":
            return self._delete(idx, op, doc_id), idx
        if op.op_type == "update":
            return self._update(idx, op, doc_id, forced), idx
        return self._index(idx, op, doc_id, forced), idx

    @staticmethod
    def _conflict(idx, doc_id, reason):
        return {"_index": idx.concrete, "_id": doc_id, "status": 409,
                "error": {"type": "version_conflict_engine_exception", "reason": reason,
                          "index_uuid": idx.uuid, "shard": "0", "index": idx.concrete}}

    def _check_cas(self, idx, op, doc_id, existing):
        """if_seq_no / if_primary_term and external versions; a 409 item or None."""
        seq, term = op.meta.get("if_seq_no"), op.meta.get("if_primary_term")
        if seq is not None:
            if existing is None:
                return self._conflict(idx, doc_id, f"[{doc_id}]: version conflict, required seqNo [{seq}], "
                                                   f"primary term [{term}]. but no document was found")
            if existing.seq_no != seq or term != PRIMARY_TERM:
                return self._conflict(idx, doc_id, f"[{doc_id}]: version conflict, required seqNo [{seq}], "
                                                   f"primary term [{term}]. current document has seqNo "
                                                   f"[{existing.seq_no}] and primary term [{PRIMARY_TERM}]")
        vt = op.meta.get("version_type", "internal")
        if vt != "internal" and existing is not None:
            v = op.meta["version"]
            if vt == "external" and v <= existing.version:
                return self._conflict(idx, doc_id, f"[{doc_id}]: version conflict, current version "
                                                   f"[{existing.version}] is higher or equal to the one "
                                                   f"provided [{v}]")
            if vt == "external_gte" and v < existing.version:
                return self._conflict(idx, doc_id, f"[{doc_id}]: version conflict, current version "
                                                   f"[{existing.version}] is higher than the one provided [{v}]")
        return None

    def _map(self, idx, doc_id, text, precise=False):
        """Parse and map one source; (node, new fields) or a DocError item error.
        The fast path has no positions; any failure is redone precisely so the
        error carries Elasticsearch's [line:column] location."""
        root, trailing = None, None
        if not precise:
            fast = parse_json_fast(text)
            if fast is None:
                precise = True
            elif fast is not _BLANK:
                root = fast
        if precise:
            try:
                root, trailing = parse_json(text)
            except JsonSyntaxError as e:
                loc = location(text, e.pos)
                return None, {"type": "document_parsing_exception", "reason": f"{loc} failed to parse: {e.message}",
                              "caused_by": {"type": "x_content_parse_exception", "reason": f"{loc} {e.message}"}}
        mapper = DocumentMapper(idx, doc_id)
        try:
            mapper.parse(root, trailing)
        except DocError as e:
            if not precise:
                return self._map(idx, doc_id, text, precise=True)
            return None, e.item_error(text)
        return (root, mapper.new), None

    def _store(self, idx, doc_id, text, value, existing, version, forced, status_new=201):
        seq = idx.take_seq_no()
        idx.docs[doc_id] = Doc(doc_id, text, value, version, seq)
        idx.tombstones.pop(doc_id, None)
        idx.dirty = True
        item = {"_index": idx.concrete, "_id": doc_id, "_version": version,
                "result": "updated" if existing else "created"}
        if forced:
            item["forced_refresh"] = True
        item.update({"_shards": idx.shards(), "_seq_no": seq, "_primary_term": PRIMARY_TERM,
                     "status": 200 if existing else status_new})
        return item

    def _index(self, idx, op, doc_id, forced):
        try:
            text = op.source.decode("utf-8").strip()
        except UnicodeDecodeError as e:
            return {"_index": idx.concrete, "_id": doc_id, "status": 400,
                    "error": {"type": "document_parsing_exception",
                              "reason": f"[1:{e.start + 1}] failed to parse: Invalid UTF-8 start byte "
                                        f"0x{op.source[e.start]:02x}"}}
        parsed, err = self._map(idx, doc_id, text)
        if err:
            return {"_index": idx.concrete, "_id": doc_id, "status": 400, "error": err}
        root, new_fields = parsed
        idx.mapping.commit(new_fields)     # mapping updates stick even if the write then conflicts
        existing = idx.docs.get(doc_id)
        if op.op_type == "create" and existing is not None:      # [R-RESPONSE] 409 on create
            return self._conflict(idx, doc_id, f"[{doc_id}]: version conflict, document already exists "
                                               f"(current version [{existing.version}])")
        conflict = self._check_cas(idx, op, doc_id, existing)
        if conflict:
            return conflict
        if op.meta.get("version_type", "internal") != "internal":
            version = op.meta["version"]
        else:
            version = existing.version + 1 if existing else idx.tombstones.get(doc_id, 0) + 1
        return self._store(idx, doc_id, text, root.value, existing, version, forced)

    def _update(self, idx, op, doc_id, forced):
        u = op.update
        existing = idx.docs.get(doc_id)
        if u.get("script") is not None:
            return {"_index": idx.concrete, "_id": doc_id, "status": 400,
                    "error": _iae("[es_double] scripted updates are not supported")}
        conflict = self._check_cas(idx, op, doc_id, existing)
        if conflict:
            return conflict
        if existing is None:
            if u.get("doc_as_upsert"):
                new_value = u["doc"]
            elif u.get("upsert") is not None:
                new_value = u["upsert"]
            else:
                return {"_index": idx.concrete, "_id": doc_id, "status": 404,
                        "error": {"type": "document_missing_exception", "reason": f"[{doc_id}]: document missing",
                                  "index_uuid": idx.uuid, "shard": "0", "index": idx.concrete}}
        else:
            new_value = deep_merge(existing.value, u["doc"])
            if u.get("detect_noop", True) and json.dumps(new_value) == json.dumps(existing.value):
                return {"_index": idx.concrete, "_id": doc_id, "_version": existing.version, "result": "noop",
                        "_shards": {"total": 0, "successful": 0, "failed": 0}, "_seq_no": existing.seq_no,
                        "_primary_term": PRIMARY_TERM, "status": 200}
        text = encode_json(new_value)
        parsed, err = self._map(idx, doc_id, text)
        if err:
            return {"_index": idx.concrete, "_id": doc_id, "status": 400, "error": err}
        root, new_fields = parsed
        idx.mapping.commit(new_fields)
        version = existing.version + 1 if existing else idx.tombstones.get(doc_id, 0) + 1
        return self._store(idx, doc_id, text, root.value, existing, version, forced)

    def _delete(self, idx, op, doc_id):
        existing = idx.docs.get(doc_id)
        conflict = self._check_cas(idx, op, doc_id, existing)
        if conflict:
            return conflict
        seq = idx.take_seq_no()
        if existing is not None:
            version = existing.version + 1
            del idx.docs[doc_id]
            idx.dirty = True
            result, status = "deleted", 200
        else:
            version = idx.tombstones.get(doc_id, 0) + 1
            result, status = "not_found", 404
        idx.tombstones[doc_id] = version
        return {"_index": idx.concrete, "_id": doc_id, "_version": version, "result": result,
                "_shards": idx.shards(), "_seq_no": seq, "_primary_term": PRIMARY_TERM, "status": status}

    # -- counters and side views [R-COUNTERS] --------------------------------
    def record_bulk(self, entry, raw_len, gzip):
        with self.lock:
            self.counters["bulk_requests"] += 1
            self.counters["bulk_bytes"] += raw_len
            if gzip:
                self.counters["gzip_requests"] += 1
            self.requests.append(entry)

    def stats(self):
        """The counters of GET /_double/stats [R-COUNTERS]:

        bulk_requests        requests to a bulk path (POST|PUT /_bulk, /{index}/_bulk) that
                             reached the double while it was not down, whatever the answer
                             (401, 413, 400, 429/503 faults and dropped ones included);
        bulk_bytes           their bodies as received (before decompression);
        gzip_requests        those of them with Content-Encoding: gzip;
        items                per-item outcomes (bulk and single-document writes):
                             created, updated, deleted, noop, not_found (delete of a missing
                             id), conflict_409, rejected_429, mapping_400 (document_parsing /
                             strict_dynamic_mapping), other_4xx (bad index name, 403, 404 ...);
        indices              {name: {"docs": realtime document count}} (data streams by name);
        requests_413         requests answered 413 (any path);
        requests_rejected    whole-request 429/503 injected by request_status;
        dropped_connections  bulk requests reset by drop_after_index;
        requests_401         requests refused for missing or wrong credentials;
        down_closed          connections reset because of down=true.
        """
        with self.lock:
            out = json.loads(json.dumps(self.counters))
            out["indices"] = {name: {"docs": len(idx.docs)} for name, idx in self.indices.items()}
            return out

    def docs_dump(self, name):
        with self.lock:
            idx = self.lookup_index(name)
            if idx is None:
                return None
            return [{"_id": d.id, "_source": d.source(), "_version": d.version} for d in idx.docs.values()]

    def request_log(self):
        with self.lock:
            return list(self.requests)


# ---------------------------------------------------------------------------
# Queries for _count and _search [R-COUNT] [R-SEARCH]
#
# match_all is what the reference requires; a small useful subset is added
# (term, terms, match, match_phrase, exists, ids, prefix, wildcard, range,
# bool).  Every hit scores 1.0.
# ---------------------------------------------------------------------------

_TOKEN_RE = re.compile(r"\w+", re.UNICODE)


def scalar_text(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return java_double(v)
    return "" if v is None else str(v)


def analyze(v):
    """An approximation of the standard analyzer: lower-cased word tokens."""
    return _TOKEN_RE.findall(scalar_text(v).lower())


def field_values(source, path):
    """Leaf values at a dotted path, through objects, dotted keys and arrays."""
    out = []

    def walk(obj, parts):
        if isinstance(obj, list):
            for o in obj:
                walk(o, parts)
            return
        if not parts:
            if obj is not None:
                out.append(obj)
            return
        if isinstance(obj, dict):
            for i in range(1, len(parts) + 1):
                key = ".".join(parts[:i])
                if key in obj:
                    walk(obj[key], parts[i:])

    walk(source, path.split("."))
    return out


def resolve_field(idx, field):
    """(field type or None, source path, definition) including ``x.keyword`` multi-fields."""
    fd = idx.mapping.fields.get(field)
    if fd is not None:
        return fd["type"], field, fd
    if "." in field:
        base, sub = field.rsplit(".", 1)
        bfd = idx.mapping.fields.get(base)
        if bfd is not None and sub in (bfd.get("fields") or {}):
            st = bfd["fields"][sub] or "keyword"
            return st, base, {"type": st}
    return None, field, None


def norm_value(t, fd, v):
    """A comparable form of a value for a field type, or None."""
    if isinstance(v, (dict, list)):
        return None
    if t in INT_RANGES or t in FLOAT_MAX:
        if isinstance(v, bool) or v is None:
            return None
        if isinstance(v, str) and not _NUMERIC_STR_RE.fullmatch(v):
            return None
        try:
            return decimal.Decimal(str(v)) if not isinstance(v, float) else decimal.Decimal(repr(v))
        except decimal.InvalidOperation:
            return None
    if t in DATE_TYPES:
        ok, ms = date_value(v, (fd or {}).get("format"))
        return ms if ok else None
    if t == "boolean":
        if isinstance(v, bool):
            return v
        return {"true": True, "false": False}.get(v)
    if t == "ip":
        try:
            return ipaddress.ip_address(str(v))
        except ValueError:
            return None
    return scalar_text(v)


def _single_field(name, body, value_key):
    if not isinstance(body, dict) or not body:
        raise bad_request(f"[{name}] query malformed, no start_object after query name", etype="parsing_exception")
    fields = [k for k in body if k not in ("boost", "_name")]
    if len(fields) != 1:
        raise bad_request(f"[{name}] query doesn't support multiple fields, found [{fields[0]}] and "
                          f"[{fields[-1]}]" if fields else f"[{name}] query requires a field",
                          etype="parsing_exception")
    field = fields[0]
    spec = body[field]
    if isinstance(spec, dict):
        if value_key not in spec:
            raise bad_request(f"[{name}] query does not support [{next(iter(spec), '')}]", etype="parsing_exception")
        return field, spec[value_key], spec
    return field, spec, {}


def _term_pred(field, value, case_insensitive=False):
    def pred(idx, doc):
        t, path, fd = resolve_field(idx, field)
        if t is None:
            return False
        vals = field_values(doc.value, path)
        if t in TEXT_TYPES:
            return any(scalar_text(value) in analyze(v) for v in vals)
        q = norm_value(t, fd, value)
        if q is None:
            return False
        if case_insensitive and isinstance(q, str):
            return any(isinstance(norm_value(t, fd, v), str) and norm_value(t, fd, v).lower() == q.lower()
                       for v in vals)
        return any(norm_value(t, fd, v) == q for v in vals)
    return pred


def _q_match_all(body):
    return lambda idx, doc: True


def _q_match_none(body):
    return lambda idx, doc: False


def _q_term(body):
    field, value, opts = _single_field("term", body, "value")
    return _term_pred(field, value, bool(opts.get("case_insensitive")))


def _q_terms(body):
    if not isinstance(body, dict):
        raise bad_request("[terms] query malformed", etype="parsing_exception")
    fields = [k for k in body if k not in ("boost", "_name")]
    if len(fields) != 1 or not isinstance(body[fields[0]], list):
        raise bad_request("[terms] query requires one field with an array of values", etype="parsing_exception")
    preds = [_term_pred(fields[0], v) for v in body[fields[0]]]
    return lambda idx, doc: any(p(idx, doc) for p in preds)


def _q_match(body, phrase=False):
    name = "match_phrase" if phrase else "match"
    field, value, opts = _single_field(name, body, "query")
    operator = str(opts.get("operator", "or")).lower()
    term = _term_pred(field, value)

    def pred(idx, doc):
        t, path, _fd = resolve_field(idx, field)
        if t is None:
            return False
        if t not in TEXT_TYPES:
            return term(idx, doc)
        q = analyze(value)
        if not q:
            return False
        for v in field_values(doc.value, path):
            toks = analyze(v)
            if phrase:
                if any(toks[i:i + len(q)] == q for i in range(len(toks) - len(q) + 1)):
                    return True
            elif (all if operator == "and" else any)(x in toks for x in q):
                return True
        return False
    return pred


def _q_exists(body):
    if not isinstance(body, dict) or "field" not in body:
        raise bad_request("[exists] must be provided with a [field]", etype="parsing_exception")
    field = body["field"]

    def pred(idx, doc):
        t, path, _fd = resolve_field(idx, field)
        return t is not None and bool(field_values(doc.value, path))
    return pred


def _q_ids(body):
    if not isinstance(body, dict) or not isinstance(body.get("values"), list):
        raise bad_request("[ids] query malformed, [values] expected", etype="parsing_exception")
    wanted = {str(v) for v in body["values"]}
    return lambda idx, doc: doc.id in wanted


def _q_pattern(name):
    def build(body):
        field, value, opts = _single_field(name, body, "value")
        value = scalar_text(value)
        ci = bool(opts.get("case_insensitive"))
        if name == "prefix":
            def match(s):
                return (s.lower().startswith(value.lower())) if ci else s.startswith(value)
        else:
            rx = re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in value),
                            re.IGNORECASE if ci else 0)

            def match(s):
                return rx.fullmatch(s) is not None

        def pred(idx, doc):
            t, path, _fd = resolve_field(idx, field)
            if t is None:
                return False
            vals = field_values(doc.value, path)
            if t in TEXT_TYPES:
                return any(match(tok) for v in vals for tok in analyze(v))
            return any(match(scalar_text(v)) for v in vals)
        return pred
    return build


def _q_range(body):
    if not isinstance(body, dict):
        raise bad_request("[range] query malformed", etype="parsing_exception")
    fields = [k for k in body if k not in ("boost", "_name")]
    if len(fields) != 1 or not isinstance(body[fields[0]], dict):
        raise bad_request("[range] query malformed, no start_object after query name", etype="parsing_exception")
    field, spec = fields[0], body[fields[0]]
    bounds = [(op, spec[op]) for op in ("gt", "gte", "lt", "lte") if spec.get(op) is not None]

    def pred(idx, doc):
        t, path, fd = resolve_field(idx, field)
        if t is None:
            return False
        for v in field_values(doc.value, path):
            x = norm_value(t, fd, v)
            if x is None:
                continue
            ok = True
            for op, b in bounds:
                y = norm_value(t, fd, b)
                if y is None:
                    ok = False
                    break
                try:
                    ok = {"gt": x > y, "gte": x >= y, "lt": x < y, "lte": x <= y}[op]
                except TypeError:
                    ok = False
                if not ok:
                    break
            if ok:
                return True
        return False
    return pred


def _q_bool(body):
    if not isinstance(body, dict):
        raise bad_request("[bool] query malformed", etype="parsing_exception")

    def clauses(key):
        v = body.get(key)
        if v is None:
            return []
        return [compile_query(c) for c in (v if isinstance(v, list) else [v])]

    for key in body:
        if key not in ("must", "filter", "should", "must_not", "minimum_should_match", "boost", "_name"):
            raise bad_request(f"[bool] query does not support [{key}]", etype="parsing_exception")
    must = clauses("must") + clauses("filter")
    should, must_not = clauses("should"), clauses("must_not")
    msm = body.get("minimum_should_match")
    need = int(msm) if isinstance(msm, int) or (isinstance(msm, str) and msm.isdigit()) else (
        0 if must else (1 if should else 0))

    def pred(idx, doc):
        if not all(p(idx, doc) for p in must):
            return False
        if any(p(idx, doc) for p in must_not):
            return False
        return sum(1 for p in should if p(idx, doc)) >= need
    return pred


_QUERIES = {
    "match_all": _q_match_all, "match_none": _q_match_none, "term": _q_term, "terms": _q_terms,
    "match": _q_match, "match_phrase": lambda b: _q_match(b, phrase=True), "exists": _q_exists,
    "ids": _q_ids, "prefix": _q_pattern("prefix"), "wildcard": _q_pattern("wildcard"),
    "range": _q_range, "bool": _q_bool,
}
_REAL_UNSUPPORTED_QUERIES = {"query_string", "simple_query_string", "multi_match", "nested", "fuzzy",
                             "regexp", "function_score", "script", "constant_score", "dis_max",
                             "geo_distance", "more_like_this", "match_bool_prefix", "knn", "terms_set"}


def compile_query(q):
    if q is None:
        return _q_match_all(None)
    if not isinstance(q, dict) or len(q) != 1:
        raise bad_request("[_na] query malformed, must start with start_object" if not isinstance(q, dict)
                          else f"[{next(iter(q), '_na')}] malformed query, expected [END_OBJECT] but found "
                               f"[FIELD_NAME]", etype="parsing_exception")
    (name, body), = q.items()
    build = _QUERIES.get(name)
    if build is None:
        if name in _REAL_UNSUPPORTED_QUERIES:
            raise bad_request(f"[es_double] query [{name}] is not supported")
        raise bad_request(f"unknown query [{name}]", etype="parsing_exception")
    return build(body)


def compile_q_param(q):
    """URI search ``q=``: ``*``, ``field:value`` or bare words."""
    q = q.strip()
    if q in ("", "*", "*:*"):
        return _q_match_all(None)
    if ":" in q:
        field, value = q.split(":", 1)
        return compile_query({"match": {field: value.strip('"')}})
    words = analyze(q)

    def pred(idx, doc):
        toks = set()

        def walk(v):
            if isinstance(v, dict):
                for x in v.values():
                    walk(x)
            elif isinstance(v, list):
                for x in v:
                    walk(x)
            else:
                toks.update(analyze(v))
        walk(doc.value)
        return any(w in toks for w in words)
    return pred


def parse_sort(spec, from_url=False):
    """[(field, order, unmapped_type)]"""
    if spec is None:
        return []
    items = spec if isinstance(spec, list) else [spec]
    out = []
    for it in items:
        if isinstance(it, str):
            if from_url and ":" in it:
                field, order = it.rsplit(":", 1)
            else:
                field, order = it, ("desc" if it == "_score" else "asc")
            out.append((field, order, None))
        elif isinstance(it, dict) and len(it) == 1:
            (field, o), = it.items()
            if isinstance(o, str):
                out.append((field, o, None))
            elif isinstance(o, dict):
                out.append((field, o.get("order", "desc" if field == "_score" else "asc"), o.get("unmapped_type")))
            else:
                raise bad_request(f"[sort] malformed for [{field}]", etype="parsing_exception")
        else:
            raise bad_request("[sort] malformed", etype="parsing_exception")
    for field, order, _u in out:
        if order not in ("asc", "desc"):
            raise bad_request(f"Unknown SortOrder [{order}]")
    return out


def sort_value_out(t, v):
    if v is None:
        return None
    if isinstance(v, decimal.Decimal):
        return int(v) if v == v.to_integral_value() and t in INT_RANGES else float(v)
    if t in DATE_TYPES and isinstance(v, (int, float)):
        return int(v)
    if t == "boolean":
        return 1 if v else 0
    if isinstance(v, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return str(v)
    return v


# ---------------------------------------------------------------------------
# REST endpoints: one function per endpoint, (state, request) -> Response
# ---------------------------------------------------------------------------

class Request:
    __slots__ = ("method", "path", "uri", "params", "query", "headers", "body", "principal",
                 "compat", "started", "record")

    def __init__(self, **kw):
        for k in self.__slots__:
            setattr(self, k, kw.get(k))


class Response:
    def __init__(self, status, body=None, headers=None, filterable=True, raw=False, drop=False):
        self.status = status
        self.body = body
        self.headers = list(headers or [])
        self.filterable = filterable   # filter_path applies to successful responses only
        self.raw = raw                 # body holds RawJSON sources
        self.drop = drop               # [R-FAULTS] reset the connection instead of answering


def check_params(req, allowed):
    """Elasticsearch rejects query parameters an endpoint does not consume."""
    unknown = sorted(k for k in req.query if k not in allowed and k not in COMMON_PARAMS)
    if not unknown:
        return
    known = sorted(set(allowed) | COMMON_PARAMS)

    def describe(u):
        close = difflib.get_close_matches(u, known, n=1, cutoff=0.7)
        return f"[{u}]" + (f" -> did you mean [{close[0]}]?" if close else "")

    if len(unknown) == 1:
        msg = f"request [{req.path}] contains unrecognized parameter: {describe(unknown[0])}"
    else:
        msg = f"request [{req.path}] contains unrecognized parameters: " + ", ".join(describe(u) for u in unknown)
    raise bad_request(msg)


def bool_param(req, name, default=False):
    v = req.query.get(name)
    if v is None:
        return default
    if v in ("", "true"):
        return True
    if v == "false":
        return False
    raise bad_request(f"Failed to parse value [{v}] as only [true] or [false] are allowed.")


def int_param(req, name, default=None):
    v = req.query.get(name)
    if v is None:
        return default
    try:
        return int(v)
    except ValueError:
        raise bad_request(f"Failed to parse int parameter [{name}] with value [{v}]") from None


def json_body(req, required=False):
    if not req.body:
        if required:
            raise bad_request("request body is required", etype="parse_exception")
        return None
    try:
        text = req.body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise bad_request(f"[1:{e.start + 1}] Invalid UTF-8 start byte", etype="x_content_parse_exception") from None
    try:
        node, trailing = parse_json(text)
    except JsonSyntaxError as e:
        raise _xcontent_error(text, e.pos, e.message) from None
    if node is None:
        if required:
            raise bad_request("request body is required", etype="parse_exception")
        return None
    if node.kind != "obj":
        raise _xcontent_error(text, node.start, f"Unexpected token [{KIND_TOKEN[node.kind]}], expected START_OBJECT")
    return node.value


def parse_refresh(req):
    v = req.query.get("refresh")
    if v is None or v == "false":
        return "false"
    if v in ("", "true"):
        return "true"
    if v == "wait_for":
        return "wait_for"
    raise bad_request(f"Unknown value for refresh: [{v}].")


# -- GET / HEAD / [R-ROOT] ---------------------------------------------------

def api_root(state, req):
    check_params(req, set())
    return Response(200, None if req.method == "HEAD" else ROOT_BODY)


# -- bulk [R-PARAMS] [R-NDJSON] [R-RESPONSE] -----------------------------------

BULK_PARAMS = {"refresh", "pipeline", "routing", "timeout", "require_alias", "require_data_stream",
               "wait_for_active_shards", "_source", "_source_excludes", "_source_includes",
               "list_executed_pipelines", "include_source_on_error"}


def api_bulk(state, req):
    check_params(req, BULK_PARAMS)
    refresh = parse_refresh(req)
    require_alias = bool_param(req, "require_alias")
    bool_param(req, "require_data_stream")
    check_time_value("timeout", req.query.get("timeout"))
    ops = parse_bulk_body(req.body, req.params.get("index"), req.compat)
    req.record["actions"] = len(ops)
    validate_ops(ops)
    fault = state.take_request_fault(len(req.body))      # [R-REQ429] nothing indexed
    if fault is not None:
        raise fault
    items = state.execute_bulk(ops, principal=req.principal, refresh=refresh, require_alias=require_alias)
    body = {"took": max(0, int((time.monotonic() - req.started) * 1000)),
            "errors": any("error" in next(iter(item.values())) for item in items),
            "items": items}
    return Response(200, body, drop=state.take_drop())


# -- single-document writes (same engine as bulk items) ------------------------

DOC_WRITE_PARAMS = {"refresh", "pipeline", "routing", "timeout", "require_alias", "op_type", "version",
                    "version_type", "if_seq_no", "if_primary_term", "wait_for_active_shards",
                    "require_data_stream"}


def _single_op(state, req, action, source=None):
    meta = {}
    for key in ("routing", "pipeline", "version_type", "op_type"):
        if key in req.query:
            meta[key] = req.query[key]
    for key in ("version", "if_seq_no", "if_primary_term"):
        if key in req.query:
            meta[key] = int_param(req, key)
    if meta.get("version_type", "internal") not in VERSION_TYPES:
        raise bad_request(f"No version type match [{meta['version_type']}]")
    op = BulkOp(1, action, req.params["index"], req.params.get("id"), meta)
    op.source = source
    validate_ops([op])
    item = state.execute_bulk([op], principal=req.principal, refresh=parse_refresh(req),
                              require_alias=bool_param(req, "require_alias"))[0][op.op_type]
    status = item.pop("status")
    if "error" in item:
        raise EsError.from_item(status, item["error"])
    return Response(status, item)


def api_write_doc(state, req):
    """PUT|POST /{index}/_doc/{id}, POST /{index}/_doc, PUT|POST /{index}/_create/{id}."""
    check_params(req, DOC_WRITE_PARAMS)
    if not req.body or not req.body.strip():
        raise bad_request("request body is required", etype="parse_exception")
    create = req.path.split("/")[2] == "_create"
    action = "create" if create else "index"
    if req.query.get("op_type") not in (None, "index", "create"):
        raise bad_request(f"opType must be 'create' or 'index', found: [{req.query['op_type']}]")
    return _single_op(state, req, action, source=req.body)


def api_delete_doc(state, req):
    check_params(req, DOC_WRITE_PARAMS)
    return _single_op(state, req, "delete")


# -- GET /{index}/_doc/{id} [R-GETDOC] ------------------------------------------

GET_DOC_PARAMS = {"routing", "preference", "realtime", "refresh", "_source", "_source_includes",
                  "_source_excludes", "stored_fields", "version", "version_type"}


def _source_filter(req_source, includes=None, excludes=None):
    """(enabled, includes, excludes) from _source-style parameters."""
    if req_source is False or req_source == "false":
        return False, None, None
    inc = None
    if isinstance(req_source, str) and req_source not in ("", "true"):
        inc = [s for s in req_source.split(",") if s]
    elif isinstance(req_source, list):
        inc = [str(s) for s in req_source]
    elif isinstance(req_source, dict):
        i = req_source.get("includes", req_source.get("include"))
        e = req_source.get("excludes", req_source.get("exclude"))
        inc = [i] if isinstance(i, str) else i
        excludes = [e] if isinstance(e, str) else e
    if includes:
        inc = includes
    return True, inc, excludes


def filter_source(value, includes, excludes, prefix=""):
    if not isinstance(value, dict):
        return value
    out = {}
    for k, v in value.items():
        p = f"{prefix}{k}"
        if excludes and any(glob_match(e, p) for e in excludes):
            continue
        if includes:
            if any(glob_match(i, p) for i in includes):
                out[k] = filter_source(v, None, excludes, p + ".") if isinstance(v, dict) else v
                continue
            if not any(i.startswith(p + ".") or i.startswith("*") for i in includes):
                continue
        if isinstance(v, dict):
            sub = filter_source(v, includes, excludes, p + ".")
            if sub or not includes:
                out[k] = sub
        elif isinstance(v, list) and includes:
            kept = [filter_source(x, includes, excludes, p + ".") for x in v if isinstance(x, dict)]
            kept = [x for x in kept if x]
            if kept:
                out[k] = kept
        elif not includes:
            out[k] = v
    return out


def _render_source(doc, enabled, includes, excludes):
    if not enabled:
        return None
    if not includes and not excludes:
        return doc.source()
    return filter_source(doc.value, includes, excludes)


def api_get_doc(state, req):
    check_params(req, GET_DOC_PARAMS)
    realtime = bool_param(req, "realtime", True)
    with state.lock:
        if bool_param(req, "refresh"):
            idx = state.lookup_index(req.params["index"])
            if idx is not None:
                idx.refresh()
        idx = state.lookup_index(req.params["index"])
        if idx is None:
            raise index_not_found(req.params["index"])
        doc = (idx.docs if realtime else idx.visible).get(req.params["id"])
        if doc is None:
            return Response(404, None if req.method == "HEAD" else
                            {"_index": idx.concrete, "_id": req.params["id"], "found": False})
        if req.method == "HEAD":
            return Response(200, None)
        enabled, inc, exc = _source_filter(req.query.get("_source"),
                                           [s for s in req.query.get("_source_includes", "").split(",") if s],
                                           [s for s in req.query.get("_source_excludes", "").split(",") if s])
        body = {"_index": idx.concrete, "_id": doc.id, "_version": doc.version, "_seq_no": doc.seq_no,
                "_primary_term": PRIMARY_TERM, "found": True}
        src = _render_source(doc, enabled, inc, exc)
        if src is not None:
            body["_source"] = src
        return Response(200, body, raw=True)


# -- _count, _search, _refresh [R-COUNT] [R-SEARCH] [R-REFRESH] -------------------

TARGET_PARAMS = {"ignore_unavailable", "allow_no_indices", "expand_wildcards", "ignore_throttled",
                 "preference", "routing"}
COUNT_PARAMS = TARGET_PARAMS | {"q", "df", "analyzer", "analyze_wildcard", "default_operator", "lenient",
                                "min_score", "terminate_after"}
SEARCH_PARAMS = TARGET_PARAMS | {"q", "df", "analyzer", "analyze_wildcard", "default_operator", "lenient",
                                 "size", "from", "sort", "track_total_hits", "rest_total_hits_as_int",
                                 "_source", "_source_includes", "_source_excludes", "timeout",
                                 "seq_no_primary_term", "version", "track_scores", "search_type",
                                 "request_cache", "typed_keys", "batched_reduce_size", "terminate_after",
                                 "allow_partial_search_results", "ccs_minimize_roundtrips", "scroll",
                                 "stored_fields", "docvalue_fields", "explain", "max_concurrent_shard_requests",
                                 "pre_filter_shard_size", "stats", "suggest_field", "include_named_queries_score"}
SEARCH_BODY_KEYS = {"query", "size", "from", "sort", "track_total_hits", "_source", "seq_no_primary_term",
                    "version", "timeout", "track_scores", "terminate_after", "stored_fields", "explain"}


def _targets(state, req):
    return state.resolve_targets(req.params.get("index", "_all"), bool_param(req, "ignore_unavailable"))


def _shards_header(n):
    return {"total": n, "successful": n, "skipped": 0, "failed": 0}


def api_count(state, req):
    check_params(req, COUNT_PARAMS)
    body = json_body(req) or {}
    for key in body:
        if key != "query":
            raise bad_request(f"request does not support [{key}]", etype="parsing_exception")
    pred = compile_query(body.get("query")) if "query" in body else (
        compile_q_param(req.query["q"]) if "q" in req.query else _q_match_all(None))
    with state.lock:
        targets = _targets(state, req)
        count = sum(1 for idx in targets for doc in idx.visible.values() if pred(idx, doc))
    return Response(200, {"count": count, "_shards": _shards_header(len(targets))})


def api_refresh(state, req):
    check_params(req, TARGET_PARAMS)
    with state.lock:
        targets = _targets(state, req)
        for idx in targets:
            idx.refresh()
        total = sum(1 + idx.replicas for idx in targets)
    return Response(200, {"_shards": {"total": total, "successful": len(targets), "failed": 0}})


def _track_total_hits(value):
    if value is None:
        return DEFAULT_TRACK_TOTAL_HITS
    if isinstance(value, bool):
        return True if value else False
    if isinstance(value, str):
        if value in ("true", "false"):
            return value == "true"
        if re.fullmatch(r"-?\d+", value):
            value = int(value)
    if isinstance(value, int):
        if value < -1:
            raise bad_request(f"[track_total_hits] parameter must be positive or equals to -1, got {value}")
        return True if value == -1 else value
    raise bad_request(f"Failed to parse value [{value}] as only [true] or [false] are allowed.")


def api_search(state, req):
    check_params(req, SEARCH_PARAMS)
    if "scroll" in req.query:
        raise bad_request("[es_double] scroll searches are not supported")
    body = json_body(req) or {}
    for key, value in body.items():
        if key in ("aggs", "aggregations"):
            raise bad_request("[es_double] aggregations are not supported")
        if key not in SEARCH_BODY_KEYS:
            token = KIND_TOKEN.get({dict: "obj", list: "arr", str: "str", bool: "bool"}.get(type(value), "num"))
            raise bad_request(f"Unknown key for a {token} in [{key}].", etype="parsing_exception")
    size = body.get("size", 10)
    from_ = body.get("from", 0)
    size = int_param(req, "size", size)
    from_ = int_param(req, "from", from_)
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise bad_request(f"[size] parameter cannot be negative, found [{size}]")
    if not isinstance(from_, int) or isinstance(from_, bool) or from_ < 0:
        raise bad_request(f"[from] parameter cannot be negative, found [{from_}]")
    tth = _track_total_hits(req.query.get("track_total_hits", body.get("track_total_hits")))
    as_int = bool_param(req, "rest_total_hits_as_int")
    if as_int:
        tth = True
    sorts = parse_sort(req.query["sort"].split(","), from_url=True) if "sort" in req.query else \
        parse_sort(body.get("sort"))
    want_seq = bool_param(req, "seq_no_primary_term", bool(body.get("seq_no_primary_term")))
    want_version = bool_param(req, "version", bool(body.get("version")))
    if "_source" in req.query or "_source_includes" in req.query or "_source_excludes" in req.query:
        enabled, inc, exc = _source_filter(req.query.get("_source"),
                                           [s for s in req.query.get("_source_includes", "").split(",") if s],
                                           [s for s in req.query.get("_source_excludes", "").split(",") if s])
    else:
        enabled, inc, exc = _source_filter(body.get("_source"))
    pred = compile_query(body.get("query")) if "query" in body else (
        compile_q_param(req.query["q"]) if "q" in req.query else _q_match_all(None))
    with state.lock:
        targets = _targets(state, req)
        if from_ + size > MAX_RESULT_WINDOW:
            raise search_failure("illegal_argument_exception",
                                 f"Result window is too large, from + size must be less than or equal to: "
                                 f"[{MAX_RESULT_WINDOW}] but was [{from_ + size}]. See the scroll api for a more "
                                 f"efficient way to request large data sets. This limit can be set by changing "
                                 f"the [index.max_result_window] index level setting.",
                                 targets[0].concrete if targets else "_all")
        hits = [(ti, pos, idx, doc) for ti, idx in enumerate(targets)
                for pos, doc in enumerate(idx.visible.values()) if pred(idx, doc)]
        sort_values = _apply_sort(hits, sorts, targets) if sorts else None
        total = len(hits)
        page = hits[from_:from_ + size]
        out_hits = []
        for n, (_ti, _pos, idx, doc) in enumerate(page):
            h = {"_index": idx.concrete, "_id": doc.id, "_score": None if sorts else 1.0}
            if want_version:
                h["_version"] = doc.version
            if want_seq:
                h["_seq_no"] = doc.seq_no
                h["_primary_term"] = PRIMARY_TERM
            src = _render_source(doc, enabled, inc, exc)
            if src is not None:
                h["_source"] = src
            if sorts:
                h["sort"] = sort_values[id(page[n])]
            out_hits.append(h)
    hits_obj = {}
    if tth is not False:
        if as_int:
            hits_obj["total"] = total
        elif tth is True or total < tth:
            hits_obj["total"] = {"value": total, "relation": "eq"}
        else:
            hits_obj["total"] = {"value": tth, "relation": "gte"}
    hits_obj["max_score"] = None if (sorts or not hits) else 1.0
    hits_obj["hits"] = out_hits
    return Response(200, {"took": max(0, int((time.monotonic() - req.started) * 1000)), "timed_out": False,
                          "_shards": _shards_header(len(targets)), "hits": hits_obj}, raw=True)


def _apply_sort(hits, sorts, targets):
    """Sort hits in place (stable, last key first); returns id(hit) -> sort values."""
    values = {id(h): [None] * len(sorts) for h in hits}
    for k in range(len(sorts) - 1, -1, -1):
        field, order, unmapped = sorts[k]
        desc = order == "desc"
        if field in ("_doc", "_score"):
            for h in hits:
                values[id(h)][k] = h[1] if field == "_doc" else 1.0
            if field == "_doc":
                hits.sort(key=lambda h: (h[0], h[1]), reverse=desc)
            continue
        types = {}
        for idx in targets:
            t, path, fd = resolve_field(idx, field)
            if t in TEXT_TYPES:
                raise search_failure("illegal_argument_exception",
                                     f"Text fields are not optimised for operations that require per-document "
                                     f"field data like aggregations and sorting, so these operations are disabled "
                                     f"by default. Please use a keyword field instead. Alternatively, set "
                                     f"fielddata=true on [{field}] in order to load field data by uninverting the "
                                     f"inverted index. Note that this can use significant memory.", idx.concrete)
            types[id(idx)] = (t, path, fd)
        if targets and all(t is None for t, _p, _f in types.values()) and unmapped is None:
            raise search_failure("query_shard_exception", f"No mapping found for [{field}] in order to sort on",
                                 targets[0].concrete)

        def key_of(h):
            t, path, fd = types[id(h[2])]
            vals = [x for x in (norm_value(t or unmapped, fd, v) for v in field_values(h[3].value, path))
                    if x is not None] if t else []
            v = (max(vals) if desc else min(vals)) if vals else None
            values[id(h)][k] = sort_value_out(t, v)
            return v

        keyed = [(key_of(h), h) for h in hits]
        present = [x for x in keyed if x[0] is not None]
        missing = [x for x in keyed if x[0] is None]
        try:
            present.sort(key=lambda x: x[0], reverse=desc)
        except TypeError:
            present.sort(key=lambda x: str(x[0]), reverse=desc)
        hits[:] = [h for _v, h in present] + [h for _v, h in missing]
    return values


# -- index templates [R-TEMPLATE] -----------------------------------------------

TEMPLATE_KEYS = {"index_patterns", "template", "priority", "version", "composed_of", "_meta", "data_stream",
                 "allow_auto_create", "ignore_missing_component_templates", "deprecated"}


def _template_error(name, cause):
    return EsError(400, "illegal_argument_exception",
                   f"composable template [{name}] template after composition is invalid",
                   caused_by=cause)


def api_put_template(state, req):
    check_params(req, {"create", "cause", "master_timeout"})
    name = req.params["name"]
    body = json_body(req, required=True)
    text = req.body.decode("utf-8")
    for key in body:
        if key not in TEMPLATE_KEYS:
            raise bad_request(f"[1:2] [index_template] unknown field [{key}]", etype="x_content_parse_exception")
    if "index_patterns" not in body:
        raise bad_request(f"{location(text, len(text.rstrip()) - 1)} Required [index_patterns]",
                          etype="x_content_parse_exception")
    patterns = body["index_patterns"]
    if isinstance(patterns, str):
        patterns = [patterns]
    if not isinstance(patterns, list) or not patterns or not all(isinstance(p, str) for p in patterns):
        raise bad_request("[index_template] failed to parse field [index_patterns]",
                          etype="x_content_parse_exception")
    problems = []
    for p in patterns:
        if " " in p or "," in p or "\\" in p or "/" in p or '"' in p or "<" in p or ">" in p or "|" in p or "?" in p:
            problems.append(f"index_pattern [{p}] must not contain the following characters "
                            f"{_INVALID_NAME_CHARS_MSG.replace(chr(39) + '*' + chr(39) + ',', '')}")
        if p.startswith("_"):
            problems.append(f"index_pattern [{p}] must not start with '_'")
        if "#" in p or ":" in p:
            problems.append(f"index_pattern [{p}] must not contain a '#' or ':'")
    if problems:
        raise EsError(400, "invalid_index_template_exception",
                      f"index_template [{name}] invalid, cause [Validation Failed: "
                      + "".join(f"{i}: {p};" for i, p in enumerate(problems, 1)) + "]")
    priority = body.get("priority")
    if priority is not None and (isinstance(priority, bool) or not isinstance(priority, int) or priority < 0):
        raise bad_request("index template priority must be >= 0", etype="action_request_validation_exception")
    composed = body.get("composed_of") or []
    ignore_missing = body.get("ignore_missing_component_templates") or []
    missing = [c for c in composed if c not in ignore_missing]
    if missing:
        raise EsError(400, "invalid_index_template_exception",
                      f"index_template [{name}] invalid, cause [index template [{name}] specifies component "
                      f"templates {java_list(missing)} that do not exist]")
    tpl = body.get("template") or {}
    if not isinstance(tpl, dict) or not set(tpl) <= {"settings", "mappings", "aliases", "lifecycle"}:
        raise bad_request("[template] unknown field", etype="x_content_parse_exception")
    try:
        Mapping().load(tpl.get("mappings") or {})
    except EsError as e:
        raise _template_error(name, e.item_error()) from None
    ds = body.get("data_stream")
    if ds is not None and not isinstance(ds, dict):
        raise bad_request("[index_template] failed to parse field [data_stream]", etype="x_content_parse_exception")
    norm = {"index_patterns": patterns}
    if "template" in body:
        norm["template"] = tpl
    norm["composed_of"] = composed
    for key in ("priority", "version", "_meta", "allow_auto_create", "ignore_missing_component_templates",
                "deprecated"):
        if key in body:
            norm[key] = body[key]
    if ds is not None:
        norm["data_stream"] = {"hidden": bool(ds.get("hidden", False)),
                               "allow_custom_routing": bool(ds.get("allow_custom_routing", False))}
    with state.lock:
        if bool_param(req, "create") and name in state.templates:
            raise bad_request(f"index template [{name}] already exists")
        mine = priority or 0
        for other in state.templates.values():
            if other.name == name or other.priority != mine:
                continue
            if any(globs_overlap(a, b) for a in patterns for b in other.patterns):
                raise bad_request(
                    f"index template [{name}] has index patterns {java_list(patterns)} matching patterns from "
                    f"existing templates [{other.name}] with patterns ({other.name} => "
                    f"{java_list(other.patterns)}) that have the same priority [{mine}], multiple index "
                    f"templates may not match during index creation, please use a different priority")
        state.templates[name] = Template(name, norm)
    return Response(200, {"acknowledged": True})


def _templates_matching(state, expr):
    names = []
    for part in expr.split(","):
        names += [n for n in state.templates if glob_match(part, n)]
    return sorted(set(names))


def api_get_template(state, req):
    check_params(req, {"flat_settings", "master_timeout", "local", "include_defaults"})
    expr = req.params.get("name", "*")
    with state.lock:
        names = _templates_matching(state, expr)
        if not names and "name" in req.params and "*" not in expr:
            raise EsError(404, "resource_not_found_exception", f"index template matching [{expr}] not found")
        if req.method == "HEAD":
            return Response(200 if names else 404, None)
        return Response(200, {"index_templates": [{"name": n, "index_template": state.templates[n].body}
                                                  for n in names]})


def api_delete_template(state, req):
    check_params(req, {"master_timeout", "timeout"})
    with state.lock:
        names = _templates_matching(state, req.params["name"])
        if not names:
            raise EsError(404, "resource_not_found_exception", f"index_template [{req.params['name']}] missing")
        for n in names:
            del state.templates[n]
    return Response(200, {"acknowledged": True})


def api_template(state, req):
    return {"PUT": api_put_template, "POST": api_put_template, "DELETE": api_delete_template}.get(
        req.method, api_get_template)(state, req)


# -- index level: HEAD/GET/PUT/DELETE /{index}, GET /{index}/_mapping --------------

def _index_view(idx):
    settings = {"number_of_shards": "1", "number_of_replicas": str(idx.replicas), "uuid": idx.uuid,
                "provided_name": idx.concrete, "creation_date": str(idx.created),
                "version": {"created": "8518000"}}
    for k, v in idx.settings.items():
        if not k.startswith("index.") or k == "index.number_of_replicas":
            continue
        node, parts = settings, k[6:].split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                break
        else:
            node[parts[-1]] = v
    view = {"aliases": {}, "mappings": idx.mapping.to_es(), "settings": {"index": settings}}
    if idx.data_stream:
        view["data_stream"] = idx.name
    return view


def api_index(state, req):
    name = req.params["index"]
    if req.method == "PUT":
        return _api_create_index(state, req, name)
    check_params(req, TARGET_PARAMS | {"flat_settings", "include_defaults", "local", "master_timeout",
                                       "timeout", "features"})
    with state.lock:
        if req.method == "DELETE":
            idx = state.indices.get(name) or state.lookup_index(name)
            if idx is None:
                raise index_not_found(name)
            if idx.data_stream and name == idx.name:
                raise bad_request(f"The provided expression [{name}] matches a data stream, specify the "
                                  f"corresponding concrete indices instead.")
            state.delete_index(idx)
            return Response(200, {"acknowledged": True})
        try:
            targets = state.resolve_targets(name)
        except EsError:
            if req.method == "HEAD":
                return Response(404, None)
            raise
        if req.method == "HEAD":
            return Response(200 if targets else 404, None)
        return Response(200, {idx.concrete: _index_view(idx) for idx in targets})


def _api_create_index(state, req, name):
    check_params(req, {"wait_for_active_shards", "timeout", "master_timeout"})
    body = json_body(req) or {}
    for key in body:
        if key not in ("settings", "mappings", "aliases"):
            raise bad_request(f"unknown key [{key}] for create index", etype="parse_exception")
    problem = index_name_problem(name)
    if problem:
        raise EsError(400, "invalid_index_name_exception", f"Invalid index name [{name}], {problem}",
                      extra={"index_uuid": "_na_", "index": name})
    with state.lock:
        existing = state.lookup_index(name)
        if existing is not None:
            raise EsError(400, "resource_already_exists_exception",
                          f"index [{existing.concrete}/{existing.uuid}] already exists",
                          extra={"index_uuid": existing.uuid, "index": existing.concrete})
        template = state.find_template(name)
        if template is not None and template.data_stream:
            raise bad_request(f"cannot create index with name [{name}], because it matches with template "
                              f"[{template.name}] that creates data streams only, use create data stream "
                              f"api instead")
        state.create_index(name, template, mappings=body.get("mappings"), settings=body.get("settings"),
                           data_stream=False)
    return Response(200, {"acknowledged": True, "shards_acknowledged": True, "index": name})


def api_get_mapping(state, req):
    check_params(req, TARGET_PARAMS | {"master_timeout", "local"})
    with state.lock:
        targets = _targets(state, req)
        return Response(200, {idx.concrete: {"mappings": idx.mapping.to_es()} for idx in targets})


# -- cluster health and data streams ------------------------------------------------

def api_cluster_health(state, req):
    check_params(req, {"wait_for_status", "timeout", "master_timeout", "level", "local",
                       "wait_for_no_relocating_shards", "wait_for_no_initializing_shards",
                       "wait_for_active_shards", "wait_for_nodes", "wait_for_events"})
    with state.lock:
        n = len(state.indices)
    return Response(200, {"cluster_name": CLUSTER_NAME, "status": "yellow" if n else "green", "timed_out": False,
                          "number_of_nodes": 1, "number_of_data_nodes": 1, "active_primary_shards": n,
                          "active_shards": n, "relocating_shards": 0, "initializing_shards": 0,
                          "unassigned_shards": n, "delayed_unassigned_shards": 0, "number_of_pending_tasks": 0,
                          "number_of_in_flight_fetch": 0, "task_max_waiting_in_queue_millis": 0,
                          "active_shards_percent_as_number": 50.0 if n else 100.0})


def api_data_stream(state, req):
    check_params(req, {"expand_wildcards", "master_timeout", "timeout", "include_defaults", "verbose"})
    name = req.params["name"]
    with state.lock:
        if req.method == "PUT":
            problem = index_name_problem(name)
            if problem:
                raise EsError(400, "invalid_index_name_exception", f"Invalid index name [{name}], {problem}")
            if state.lookup_index(name) is not None:
                raise EsError(400, "resource_already_exists_exception", f"data_stream [{name}] already exists")
            template = state.find_template(name)
            if template is None or not template.data_stream:
                raise bad_request(f"no matching index template found for data stream [{name}]")
            state.create_index(name, template)
            return Response(200, {"acknowledged": True})
        matches = [i for n, i in state.indices.items() if i.data_stream and
                   any(glob_match(p, n) for p in name.split(","))]
        if not matches and "*" not in name:
            raise index_not_found(name)
        if req.method == "DELETE":
            for idx in matches:
                state.delete_index(idx)
            return Response(200, {"acknowledged": True})
        return Response(200, {"data_streams": [
            {"name": i.name, "timestamp_field": {"name": "@timestamp"},
             "indices": [{"index_name": i.concrete, "index_uuid": i.uuid}], "generation": 1,
             "status": "GREEN", "template": i.template, "hidden": False, "system": False,
             "allow_custom_routing": False, "replicated": False} for i in matches]})


# ---------------------------------------------------------------------------
# Routing
# ---------------------------------------------------------------------------

ROUTES = [
    (("GET", "HEAD"), (), api_root),
    (("POST", "PUT"), ("_bulk",), api_bulk),
    (("POST", "PUT"), ("{index}", "_bulk"), api_bulk),
    (("GET", "POST"), ("_count",), api_count),
    (("GET", "POST"), ("{index}", "_count"), api_count),
    (("GET", "POST"), ("_search",), api_search),
    (("GET", "POST"), ("{index}", "_search"), api_search),
    (("GET", "POST"), ("_refresh",), api_refresh),
    (("GET", "POST"), ("{index}", "_refresh"), api_refresh),
    (("GET", "HEAD"), ("{index}", "_doc", "{id}"), api_get_doc),
    (("PUT", "POST"), ("{index}", "_doc", "{id}"), api_write_doc),
    (("DELETE",), ("{index}", "_doc", "{id}"), api_delete_doc),
    (("POST",), ("{index}", "_doc"), api_write_doc),
    (("PUT", "POST"), ("{index}", "_create", "{id}"), api_write_doc),
    (("GET",), ("_index_template",), api_get_template),
    (("GET", "HEAD", "PUT", "POST", "DELETE"), ("_index_template", "{name}"), api_template),
    (("GET",), ("_mapping",), api_get_mapping),
    (("GET",), ("{index}", "_mapping"), api_get_mapping),
    (("HEAD", "GET", "PUT", "DELETE"), ("{index}",), api_index),
    (("GET",), ("_cluster", "health"), api_cluster_health),
    (("GET", "PUT", "DELETE"), ("_data_stream", "{name}"), api_data_stream),
]


def match_route(method, path, uri):
    """(handler, path params); SimpleError 400 "no handler" or 405 like Elasticsearch."""
    stripped = path.strip("/")
    segs = [urllib.parse.unquote(s) for s in stripped.split("/")] if stripped else []
    candidates = []
    for methods, pattern, handler in ROUTES:
        if len(pattern) != len(segs):
            continue
        params, literals = {}, 0
        for p, s in zip(pattern, segs):
            if p.startswith("{"):
                if s == "" or (p == "{index}" and s.startswith("_") and s != "_all"):
                    break
                params[p[1:-1]] = s
            elif p == s:
                literals += 1
            else:
                break
        else:
            candidates.append((literals, methods, handler, params))
    if not candidates:
        raise SimpleError(400, f"no handler found for uri [{uri}] and method [{method}]")
    top = max(c[0] for c in candidates)
    best = [c for c in candidates if c[0] == top]
    for _lit, methods, handler, params in best:
        if method in methods:
            return handler, params
    allowed = sorted({m for c in best for m in c[1]})
    if method == "OPTIONS":
        return None, {"allow": ",".join(allowed)}
    raise SimpleError(405, f"Incorrect HTTP method for uri [{uri}] and method [{method}], allowed: "
                           f"[{', '.join(allowed)}]", headers=[("Allow", ",".join(allowed))])


def is_bulk_path(path):
    segs = path.strip("/").split("/")
    return segs[-1] == "_bulk" and len(segs) in (1, 2)


# ---------------------------------------------------------------------------
# Control API under /_double/ [R-FAULTS] [R-COUNTERS]
# ---------------------------------------------------------------------------

def control_dispatch(state, method, path, body):
    """(status, JSON object, raw?) for a /_double/ request."""
    seg = path[len("/_double/"):].strip("/") if path.startswith("/_double/") else ""

    def parsed_body():
        if not body or not body.strip():
            return {}
        try:
            return json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise ControlError(400, f"invalid JSON body: {e}") from None

    routes = {"reset": ("POST",), "faults": ("GET", "POST"), "stats": ("GET",), "requests": ("GET",),
              "refresh": ("POST",)}
    name = "docs" if seg.startswith("docs/") else seg
    allowed = routes.get(name, ("GET",) if name == "docs" else None)
    if allowed is None:
        raise ControlError(404, f"unknown control endpoint [{path}]; known: /_double/reset, /_double/faults, "
                                f"/_double/stats, /_double/docs/{{index}}, /_double/requests, /_double/refresh")
    if method not in allowed:
        raise ControlError(405, f"[{path}] accepts {list(allowed)}, not {method}")
    if name == "reset":
        state.reset()
        return 200, {"acknowledged": True}, False
    if name == "faults":
        if method == "GET":
            return 200, state.faults_view(), False
        return 200, {"acknowledged": True, "faults": state.set_faults(parsed_body())}, False
    if name == "stats":
        return 200, state.stats(), False
    if name == "requests":
        return 200, state.request_log(), False
    if name == "refresh":
        state.refresh_all()
        return 200, {"acknowledged": True}, False
    index = urllib.parse.unquote(seg[len("docs/"):])
    docs = state.docs_dump(index)
    if docs is None:
        raise ControlError(404, f"no such index [{index}]")
    return 200, docs, True


# ---------------------------------------------------------------------------
# HTTP server and request handler
# ---------------------------------------------------------------------------

class DoubleServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, state, verbose=False):
        self.state = state
        self.verbose = verbose
        self._abort_lock = threading.Lock()
        self._aborted = set()
        super().__init__(address, Handler)

    def mark_abort(self, sock):
        with self._abort_lock:
            self._aborted.add(sock)

    def shutdown_request(self, request):
        """Aborted connections are closed with SO_LINGER 0 (a TCP reset, no FIN first)."""
        with self._abort_lock:
            abort = request in self._aborted
            self._aborted.discard(request)
        if abort:
            self.close_request(request)
        else:
            super().shutdown_request(request)


def _is_control(path):
    return path == "/_double" or path.startswith("/_double/")


class Handler(http.server.BaseHTTPRequestHandler):
    """Reads each request, applies the connection-level faults, then dispatches
    to the control API or to the Elasticsearch endpoints."""

    protocol_version = "HTTP/1.1"     # keep-alive; every response has Content-Length
    server: DoubleServer

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("es_double: %s - %s\n" % (self.address_string(), fmt % args))

    def send_response(self, code, message=None):
        # Elasticsearch sends neither Server nor Date.
        self.log_request(code)
        self.send_response_only(code, message)

    def handle_expect_100(self):
        if not _is_control(urllib.parse.urlsplit(self.path).path) and self.server.state.fault("down"):
            self.server.state.bump("down_closed")
            self._abort()
            return False
        return super().handle_expect_100()

    def do_GET(self):
        self._handle("GET")

    def do_HEAD(self):
        self._handle("HEAD")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    def do_DELETE(self):
        self._handle("DELETE")

    def do_PATCH(self):
        self._handle("PATCH")

    def do_OPTIONS(self):
        self._handle("OPTIONS")

    # -- connection-level helpers -------------------------------------------
    def _abort(self):
        """Reset the connection without answering [R-OTHER] [R-FAULTS]."""
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.server.mark_abort(self.connection)
        self.close_connection = True

    def _read_exact(self, n):
        data = self.rfile.read(n)
        if len(data) < n:
            raise ClientGone()
        return data

    def _drain(self, n):
        while n > 0:
            chunk = self.rfile.read(min(n, 1 << 16))
            if not chunk:
                raise ClientGone()
            n -= len(chunk)

    def _read_body(self, limit):
        """(raw bytes, raw length, too large?).  Bodies above ``limit`` are drained,
        not kept, so the keep-alive connection stays usable."""
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            parts, total = [], 0
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    raise ClientGone()
                try:
                    size = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise SimpleError(400, "bad chunked encoding") from None
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                if total + size > limit:
                    self._drain(size)
                else:
                    parts.append(self._read_exact(size))
                total += size
                self.rfile.readline(65537)
            return (b"" if total > limit else b"".join(parts)), total, total > limit
        cl = self.headers.get("Content-Length")
        if cl is None:
            return b"", 0, False
        try:
            n = int(cl)
            if n < 0:
                raise ValueError
        except ValueError:
            self.close_connection = True
            raise SimpleError(400, f"invalid Content-Length [{cl}]") from None
        if n > limit:
            self._drain(n)
            return b"", n, True
        return self._read_exact(n), n, False

    def _send(self, method, resp, query, ctype="application/json"):
        if resp.body is None:
            payload = b""
        else:
            obj = resp.body
            if resp.filterable and query.get("filter_path"):
                obj = apply_filter_path(obj, query["filter_path"])
            pretty = "pretty" in query and query["pretty"] != "false"
            payload = encode_json(obj, pretty=pretty, raw=resp.raw).encode("utf-8")
        self.send_response(resp.status)
        self.send_header("X-Elastic-Product", "Elasticsearch")            # [R-PRODUCT]
        if resp.body is not None:
            self.send_header("Content-Type", ctype)
        for k, v in resp.headers:
            self.send_header(k, v)
        opaque = self.headers.get("X-Opaque-Id")
        if opaque:
            self.send_header("X-Opaque-Id", opaque)
        self.send_header("Content-Length", "0" if method == "HEAD" else str(len(payload)))
        self.end_headers()
        if method != "HEAD" and payload:
            self.wfile.write(payload)

    # -- dispatch ---------------------------------------------------------
    def _handle(self, method):
        started = time.monotonic()
        split = urllib.parse.urlsplit(self.path)
        path = split.path or "/"
        if _is_control(path):
            self._handle_control(method, path)
            return
        state = self.server.state
        if state.fault("down"):                                         # [R-FAULTS] down
            state.bump("down_closed")
            self._abort()
            return
        query = dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True))
        is_bulk = method in ("POST", "PUT") and is_bulk_path(path)
        record = {"path": path, "query": query, "headers": self._lower_headers(), "actions": 0,
                  "status": None, "bytes": 0}
        self._raw_len, self._gzip = 0, False
        self._ctype = "application/json"
        try:
            resp = self._process(method, path, query, started, record)
        except EsError as e:
            resp = Response(e.status, e.envelope(), headers=e.headers, filterable=False)
        except SimpleError as e:
            resp = Response(e.status, {"error": e.message, "status": e.status}, headers=e.headers,
                            filterable=False)
        except TooLarge:                                                  # [R-413]
            state.bump("requests_413")
            resp = Response(413, None)
        except ClientGone:
            self.close_connection = True
            return
        except Exception as e:  # a bug in the double: say so loudly
            traceback.print_exc()
            resp = Response(500, EsError(500, "es_double_internal_error", f"{type(e).__name__}: {e}").envelope(),
                            filterable=False)
        if is_bulk:
            record["bytes"] = self._raw_len
            record["status"] = None if resp.drop else resp.status
            state.record_bulk(record, self._raw_len, self._gzip)
        if resp.drop:                                                     # [R-FAULTS] drop_after_index
            state.bump("dropped_connections")
            self._abort()
            return
        if is_bulk:
            latency = state.fault("latency_ms")
            if latency:
                time.sleep(latency / 1000.0)
        self._send(method, resp, query, self._ctype)

    def _lower_headers(self):
        out = {}
        for k, v in self.headers.items():
            k = k.lower()
            out[k] = f"{out[k]}, {v}" if k in out else v
        return out

    def _process(self, method, path, query, started, record):
        state = self.server.state
        limit = state.fault("max_content_length")
        encoding = self.headers.get("Content-Encoding") or ""
        compressed = encoding.strip().lower() not in ("", "identity")
        self._gzip = encoding.strip().lower() in ("gzip", "x-gzip")
        # The body is read before answering anything, so the connection stays in sync.
        raw, self._raw_len, too_large = self._read_body(HARD_BODY_CAP if compressed else limit)
        # [R-AUTH] Elasticsearch authenticates the headers before it looks at the body.
        principal = state.authenticate(self.headers.get("Authorization"), self.path)
        if too_large:
            raise TooLarge()
        body = decompress(raw, encoding, limit)                            # [R-GZIP] [R-413]
        has_body = len(body) > 0
        ctype_header = self.headers.get("Content-Type")
        if ctype_header is not None and ctype_header.strip() and parse_media_type(ctype_header) is None:
            raise EsError(400, "media_type_header_exception", "Invalid media-type value on headers [Content-Type]",
                          caused_by={"type": "illegal_argument_exception",
                                     "reason": f"invalid media-type [{ctype_header}]"})
        c_ver = None
        if has_body:                                                       # [R-CTYPE]
            if ctype_header is None or not ctype_header.strip():
                raise SimpleError(406, "Content-Type header is missing")
            c_ver = body_media_version(ctype_header)
        accept = self.headers.get("Accept")
        a_ver = accept_version(accept)
        compat = check_compat(accept, ctype_header, a_ver, c_ver, has_body)    # [R-COMPAT]
        if a_ver is not None:
            self._ctype = f"application/vnd.elasticsearch+json;compatible-with={a_ver}"
        handler, params = match_route(method, path, self.path)
        if handler is None:   # OPTIONS
            return Response(200, None, headers=[("Allow", params["allow"])])
        req = Request(method=method, path=path, uri=self.path, params=params, query=query,
                      headers=self.headers, body=body, principal=principal, compat=compat,
                      started=started, record=record)
        return handler(state, req)

    def _handle_control(self, method, path):
        state = self.server.state
        raw = b""
        try:
            raw, _n, _big = self._read_body(HARD_BODY_CAP)
            body = decompress(raw, self.headers.get("Content-Encoding"), HARD_BODY_CAP)
            status, obj, is_raw = control_dispatch(state, method, path, body)
            resp = Response(status, obj, filterable=False, raw=is_raw)
        except ControlError as e:
            resp = Response(e.status, {"error": str(e)}, filterable=False)
        except (EsError, TooLarge) as e:
            resp = Response(400, {"error": f"bad control request body: {e}"}, filterable=False)
        except SimpleError as e:
            resp = Response(e.status, {"error": e.message}, filterable=False)
        except ClientGone:
            self.close_connection = True
            return
        self._send(method, resp, {})


# ---------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------

def _refresher(state, stop):
    """[R-REFRESH] the periodic refresh (index.refresh_interval)."""
    while not stop.wait(state.refresh_interval):
        state.refresh_all()


def main(argv=None):
    ap = argparse.ArgumentParser(description="Elasticsearch 8 test double (see the module docstring).")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port")
    ap.add_argument("--port-file", help="write the bound port (digits and a newline) here")
    ap.add_argument("--refresh-interval", type=float, default=1.0,
                    help="seconds between periodic refreshes; <= 0 disables them (default 1.0)")
    ap.add_argument("--verbose", action="store_true", help="log every request on stderr")
    args = ap.parse_args(argv)

    sys.setrecursionlimit(20000)      # JSON nesting up to Jackson's 1000 levels
    threading.stack_size(16 * 1024 * 1024)
    state = State(args.refresh_interval)
    server = DoubleServer((args.host, args.port), state, verbose=args.verbose)
    port = server.server_address[1]
    if args.port_file:
        tmp = f"{args.port_file}.tmp{os.getpid()}"
        with open(tmp, "w") as f:
            f.write(f"{port}\n")
        os.replace(tmp, args.port_file)
    print(f"listening on {args.host}:{port}", flush=True)

    stop = threading.Event()
    if args.refresh_interval > 0:
        threading.Thread(target=_refresher, args=(state, stop), name="refresher", daemon=True).start()

    def on_signal(signum, _frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        server.serve_forever(poll_interval=0.2)
    except (SystemExit, KeyboardInterrupt):
        pass
    finally:
        stop.set()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
