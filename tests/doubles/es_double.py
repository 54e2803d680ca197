#!/usr/bin/env python3
"""Elasticsearch 8 test double for the s3logsbeat integration tests.

Usage::

    python3 tests/doubles/es_double.py --port 0 [--host 127.0.0.1] [--port-file PATH]
                                       [--refresh-interval SECONDS] [--verbose]
                                       [--tls-cert PEM --tls-key PEM [--tls-client-ca PEM]]

The process binds (``--port 0`` picks a free port), writes the bound port
(digits and a newline) to ``--port-file`` if given, prints
``listening on HOST:PORT`` on stdout (flushed), and serves until SIGTERM or
SIGINT.  ``--refresh-interval`` is accepted for compatibility and ignored:
nothing the double serves depends on refreshes (``/_double/docs`` is
realtime).  ``--verbose`` logs every request on stderr.  Python 3.11
standard library only.

``--tls-cert PEM --tls-key PEM`` (given together) make the double serve HTTPS
instead of plain HTTP, TLS 1.2 or later, with that certificate (chain) and
private key; ``--tls-client-ca PEM`` (needs both) also requires every client to
present a certificate signed by a CA in that file: a handshake without one, or
with one that does not verify, fails.  Everything else is the same over TLS:
the Elasticsearch endpoints, the faults and the control API ``/_double/*`` all
share the one TLS socket (so ``GET /_double/stats`` is the readiness probe over
HTTPS too).  The handshake runs in the connection's own thread, with a 10 s
timeout: a client that fails it, or never starts it, costs only its own
connection (counted in ``tls_handshake_failures``), never the other clients'.
Files that cannot be loaded, or a flag missing its partner, exit with status 2
before anything is announced.  Without these flags nothing changes.

What it is
----------
A *strict* stand-in for the part of Elasticsearch 8.x that s3logsbeat talks to,
as described in ``/work/shared/reference/elasticsearch-bulk.md`` ("the
reference").  Strict means: whatever real Elasticsearch rejects, the double
rejects the same way (same HTTP status, same error ``type``, same ``reason``
text where the reference gives it), and what the double does not implement it
refuses with a 400 whose reason starts with ``[es_double]`` instead of silently
agreeing.  Comments name the reference rule each piece implements:

  [R-PRODUCT]  ``X-Elastic-Product: Elasticsearch`` on every response.
  [R-CTYPE]    request bodies must be application/json or application/x-ndjson
               (``; charset=UTF-8`` allowed), otherwise 406.
  [R-COMPAT]   ``Accept: application/vnd.elasticsearch+json;compatible-with=8`` is
               answered with that type (only version 8 is modelled).
  [R-GZIP]     ``Content-Encoding: gzip`` request bodies are accepted.
  [R-ENVELOPE] ``{"error":{"root_cause":[..],"type":T,"reason":R},"status":N}``.
  [R-ROOT]     ``GET /`` and ``HEAD /``.
  [R-AUTH]     Basic / ApiKey authentication, 401 missing / 401 wrong,
               per-item 403 when not allowed to write an index.
  [R-PARAMS]   bulk query parameters, ``filter_path``.
  [R-NDJSON]   action line + source line.
  [R-NEWLINE]  every line, including the last, ends with ``\\n``.
  [R-EMPTY]    empty body -> ``Validation Failed: 1: no requests added;``.
  [R-META]     action metadata, ``_index`` from URL or action, missing index,
               generated 20-char ids.
  [R-TYPE]     ``_type`` is rejected in 8.x.
  [R-ACTION]   unknown action -> ``Malformed action/metadata line [N] ...``.
  [R-INDEX]    indices auto-created on first write; index name validation.
  [R-RESPONSE] 200 with ``took``/``errors``/``items``; items in request order,
               keyed by the action name; created / updated / 409 conflict item
               shapes; versions and seq_no.
  [R-ITEM429]  per-item 429 es_rejected_execution_exception.
  [R-ITEM400]  per-item 400 document_parsing_exception.
  [R-REQ429]   whole-request 429 (nothing indexed).
  [R-413]      body above ``http.max_content_length`` -> 413, empty body.
  [R-OTHER]    other failures: 5xx or connection reset.
  [R-MAPPING]  dynamic mapping: the first value fixes the type, later values
               that do not fit fail that item; numeric strings are coerced.
  [R-TEMPLATE] composable index templates: ``PUT /_index_template/{name}`` with
               ``index_patterns`` (a missing one -> 400), ``priority``, ``template``
               (settings, mappings, aliases) ... -> ``{"acknowledged":true}``;
               ``GET /_index_template/{name}`` -> ``{"index_templates":[{"name",
               "index_template"}]}``, 404 if unknown.
  [R-FAULTS]   fault injection the double offers to tests.
  [R-TLS]      HTTPS with a server certificate, optionally requiring client certificates.
  [R-COUNTERS] counters readable through a side endpoint.

Elasticsearch endpoints served
------------------------------
``GET|HEAD /`` [R-ROOT]; ``POST|PUT /_bulk`` and ``POST|PUT /{index}/_bulk``
with the ``create`` and ``index`` actions; the composable index template API
[R-TEMPLATE]:

``PUT|POST /_index_template/{name}`` (parameters ``create``, ``cause``, ``master_timeout``)
    The body is read as ComposableIndexTemplate.PARSER reads it, fields
    ``index_patterns`` (a string or a list of strings), ``template`` (``settings``,
    ``mappings``, ``aliases``), ``composed_of``, ``priority``, ``version``, ``_meta``,
    ``data_stream`` (``hidden``, ``allow_custom_routing``), ``allow_auto_create``,
    ``ignore_missing_component_templates``, ``deprecated``; then checked and stored
    in Elasticsearch's order.  Answers 200 ``{"acknowledged": true}``, or:
    no body -> 400 parse_exception ``request body is required``; an unknown field ->
    400 x_content_parse_exception ``[L:C] [index_template] unknown field [F]`` (plus
    Elasticsearch's `` did you mean [..]?``; inside ``template``: ``[L:C]
    [index_template] failed to parse field [template]`` caused by ``[L:C] [template]
    unknown field [F]``, the root cause); a value of the wrong JSON type -> ``[L:C]
    [index_template] F doesn't support values of type: VALUE_NUMBER`` (...); a
    ``priority``/``version`` string that is not a number -> ``[L:C] [index_template]
    failed to parse field [priority]`` caused by illegal_argument_exception ``For
    input string: "x"`` (numbers and numeric strings are coerced, decimals truncated);
    no ``index_patterns`` -> 400 illegal_argument_exception ``Required
    [index_patterns]`` (what Elasticsearch 8 answers: "index patterns are missing"
    is the *legacy* ``_template`` API's message); ``priority`` < 0 -> 400
    action_request_validation_exception ``Validation Failed: 1: index template
    priority must be >= 0;``; ``composed_of`` naming a template (there are no
    component templates) not in ``ignore_missing_component_templates`` -> 400
    invalid_index_template_exception ``index_template [N] invalid, cause [index
    template [N] specifies component templates [c] that do not exist]``;
    ``create=true`` and the name taken -> 400 illegal_argument_exception ``index
    template [N] already exists``; patterns overlapping another template's with the
    same priority (default 0) -> 400 illegal_argument_exception ``index template [N]
    has index patterns [..] matching patterns from existing templates [..] with
    patterns (.. => [..]) that have the same priority [P], multiple index templates
    may not match during index creation, please use a different priority``; a bad
    name or pattern (space, ``,``, ``#``, ``*`` in the name, ``_`` first, capitals
    in the name, ``\ / ? " < > |`` or ``:`` in a pattern) -> 400
    invalid_index_template_exception ``index_template [N] invalid, cause [Validation
    Failed: 1: name must be lower cased;...]``; an alias named like a pattern -> 400
    illegal_argument_exception ``alias [a] cannot be the same as any pattern in [..]``.
    Stored as Elasticsearch stores it: settings flattened, values as strings, keys
    prefixed with ``index.`` (GET shows ``{"index": {"number_of_shards": "1"}}``); a
    ``{"_doc": {...}}`` mapping unwrapped, an empty one left out; alias ``routing``
    as ``index_routing`` and ``search_routing``; ``data_stream`` with both booleans.
``GET|HEAD /_index_template/{name}`` (``flat_settings``, ``local``, ``master_timeout``,
    ``include_defaults``) and ``GET|HEAD /_index_template`` (all of them)
    200 ``{"index_templates": [{"name": N, "index_template": {...}}]}`` sorted by
    name (``index_patterns`` always a list); ``*`` in the name matches templates,
    and matching none answers 404 ``{"index_templates": []}``; an unknown name
    answers 404 resource_not_found_exception ``index template matching [N] not
    found``.  HEAD: the same status, no body.
``DELETE /_index_template/{name}`` (``master_timeout``, ``timeout``)
    200 ``{"acknowledged": true}``; comma-separated names must all exist, a single
    name may be a ``*`` pattern; otherwise 404 index_template_missing_exception
    ``index_template [N] missing``.

Every other path answers as Elasticsearch does for a path it has no handler for:
400 ``{"error": "no handler found for uri [URI] and method [M]", "status": 400}``
(405 "Incorrect HTTP method" when only the method is wrong).  So a test that
starts relying on an endpoint the double does not serve (``_search``, ``_count``,
``_doc``, ``_component_template``, ``_index_template/_simulate`` ...) fails loudly.

Control API (no authentication, JSON bodies), under ``/_double/``
-----------------------------------------------------------------
``POST /_double/reset``
    Forget indices, documents, index templates, faults, counters and the request log.
    Answers ``{"acknowledged": true}``.
``POST /_double/faults`` (merges the given keys into the current faults)
    ``item_429: N``               next N create/index items fail with per-item 429.
    ``item_429_ids: [ids]``       items with these ids fail with per-item 429 once
                                  each; replaces the pending set.
    ``item_429_ratio: R``         0.0 <= R <= 1.0 (null = 0): in every executed bulk
                                  request, exactly floor(R x n) of its n eligible
                                  items (create/index items with a valid index name
                                  the caller may write) fail with per-item 429.  Which
                                  ones is deterministic: the eligible items are ranked
                                  by sha256("SEED/INDEX/ID") (ID = the ``_id`` sent, or
                                  ``#P`` for an item without one, P its 0-based position
                                  among the request's items) and the lowest ranks are
                                  rejected.  The same request is therefore rejected the
                                  same way every time, and a retry of just the m rejected
                                  items gets floor(R x m) of them rejected again: with
                                  R < 1 the retries converge (a single item is never
                                  rejected).  Items rejected this way do not use up
                                  item_429.  Stays in force until changed.
    ``item_429_seed: S``          integer (default 0) mixed into that ranking.
    ``request_status: 429|503|null`` and ``request_count: N`` (default 1 when only
                                  request_status is given): the next N well-formed bulk
                                  requests get that whole-request error (429
                                  es_rejected_execution_exception, 503 cluster_block_exception);
                                  nothing indexed.  A request rejected earlier (401, 413, 400
                                  parse/validation) does not use one up.
    ``max_content_length: BYTES`` (null = default 100 MiB): larger bodies get 413,
                                  measured after gzip decompression.
    ``latency_ms: M``             delay every bulk response by M ms (after indexing,
                                  errors included).
    ``drop_after_index: N``       the next N well-formed bulk requests are executed,
                                  then the connection is reset (TCP RST) without a
                                  response.
    ``truncate_body: N``          the next N well-formed bulk requests are executed,
                                  then answered 200 with the headers of the full answer
                                  (Content-Length of the whole body) but only the first
                                  half of the body (``len // 2`` bytes, after filter_path)
                                  written, then the connection is closed (FIN).  When
                                  drop_after_index is also pending, the drop wins and the
                                  truncation stays pending.
    ``down: true|false``          non-control requests are reset unanswered: only
                                  the request line and headers are read (to tell
                                  control paths apart), never the body.
    ``reset_next: N``             the next N bulk requests (POST|PUT ``/_bulk`` or
                                  ``/{index}/_bulk``, whatever their body) are reset
                                  (TCP RST) right after their request line and headers
                                  are read: before the body is read, authentication or
                                  anything else, so nothing is indexed ("connection
                                  reset", where drop_after_index is "response lost after
                                  indexing").  With ``Expect: 100-continue`` the reset
                                  comes instead of the 100.  Comes first: a pending
                                  request_status, drop_after_index or truncate_body is
                                  not used up by a reset request and applies to the
                                  following ones.  Other requests (``GET /``, control)
                                  neither are reset nor use one up; while down or
                                  restarting, those faults reset the connection and
                                  reset_next stays pending.  Counted in
                                  ``resets_before_index``, not in bulk_requests nor the
                                  request log.
    ``restart_ms: M``             integer >= 0: the double restarts keeping its data.
                                  For M ms from now every non-control request is reset
                                  unanswered, as with ``down: true`` (only the request
                                  line and headers are read); connections that were open
                                  when the restart began are reset at their next
                                  non-control request even after the M ms (the old
                                  process is gone; a real one would also close them
                                  while idle, which the double cannot tell apart from
                                  the control connections).  Then it serves again with all
                                  indices, documents, mappings, seq_nos, index templates,
                                  faults and counters kept: a ``create`` of an id indexed before
                                  answers 409.  Posting it again starts a new restart of
                                  M ms from now; ``restart_ms: 0`` ends the current one
                                  at once (still a restart: older connections are reset),
                                  so does ``/_double/reset``.
                                  Reads back as the milliseconds left (0 when serving).
                                  Counted in ``restart_closed``.
    ``auth: null | {"basic": [user, pass], "api_key": "id:secret",
                    "write_indices": ["pattern", ...]}``  (write_indices is optional:
                                  writes to other indices get per-item 403).
    "Well-formed" bulk requests are those that pass authentication, the 413 check,
    parsing and validation and are not rejected by ``request_status``.
    Answers ``{"acknowledged": true, "faults": {...current faults...}}``;
    an unknown key or a bad value answers 400 ``{"error": "..."}`` and changes nothing.
``GET /_double/faults``     current faults.
``GET /_double/stats``      counters, see ``State.stats`` for every key.  Never
                            refused by a fault, over TLS too: the readiness probe.
``GET /_double/docs/{index}``  ``[{"_id", "_source", "_version"}]`` in insertion
                            order, realtime, ``_source`` byte for byte as sent; 404
                            for an unknown index.
``GET /_double/templates``  [R-TEMPLATE] the stored index templates,
                            ``{"NAME": {...}}`` sorted by name, each exactly the
                            ``index_template`` object ``GET /_index_template/NAME``
                            answers (as Elasticsearch stores it, not byte for byte as
                            sent); ``{}`` when there are none.  PUTs are counted in
                            the stats ``index_template_puts`` and
                            ``index_template_puts_acknowledged``; bulk requests that
                            arrive before the first acknowledged PUT are counted in
                            ``bulk_requests_before_template``.
``GET /_double/requests``   the last 100 bulk requests:
                            ``[{"path", "query" (dict; a repeated parameter keeps its last
                            value), "headers" (lower-cased names), "actions", "status" (null
                            when dropped), "bytes"}]``, oldest first.

Deviations from real Elasticsearch (deliberate simplifications)
----------------------------------------------------------------
* One primary shard and one (unassigned) replica per index: ``_shards`` is
  always ``{"total": 2, "successful": 1, "failed": 0}``.
* Only dynamic mapping, with the types s3logsbeat documents produce: long, float,
  boolean, date (a string of at least ``yyyy-MM-dd`` in strict_date_optional_time
  form), text and object.  No explicit mappings, data streams, field count or
  depth limits.
* [R-TEMPLATE] Index templates are stored and served by the template API only:
  they are **not applied** when a bulk request auto-creates an index (no template
  mappings, settings, aliases or data streams at indexing time; documents are
  still mapped dynamically).  There are no built-in templates (a real 8.x cluster
  has ``logs``, ``metrics``, ``synthetics`` ... at priority 100, e.g. ``logs-*-*``,
  which the same-priority overlap check also counts) and no component templates.
  Any authenticated user may manage templates (``write_indices`` is not consulted).
* [R-TEMPLATE] The double has neither Elasticsearch's settings registry nor its
  mappers, so it accepts only what it lists and refuses the rest with 400
  ``[es_double] ...``: the index settings of ``TEMPLATE_INDEX_SETTINGS`` (values
  checked loosely), the field types and mapping parameters of ``LEAF_FIELD_PARAMS``
  and ``OBJECT_FIELD_PARAMS`` (values not checked), root mapping parameters of
  ``ROOT_MAPPING_PARAMS``, ``dynamic_templates`` with a ``mapping`` object.  Also
  refused: alias ``filter``s, invalid alias names, ``template.lifecycle``, mappings
  that are not an object, an empty ``index_patterns`` list, non-string list
  elements, boolean strings other than true/false, numbers beyond a long, content
  after the body's object.  JSON syntax errors in a template body are reported as
  for bulk lines (one x_content_parse_exception, not wrapped per enclosing field).
* ``pipeline`` and ``routing`` are accepted and have no effect (no ingest
  pipelines, one shard).  ``refresh=true`` only adds ``"forced_refresh": true``.
* ``filter_path`` supports inclusive patterns with ``*`` inside one key (arrays
  are transparent); ``**`` and ``-`` exclusions answer 400 ``[es_double] ...``.
* The ``delete`` and ``update`` actions, action metadata keys other than ``_index``,
  ``_id``, ``routing`` and ``pipeline``, the bulk parameters ``require_alias``,
  ``require_data_stream``, ``_source*``, ``list_executed_pipelines`` and
  ``include_source_on_error``, and ``compatible-with`` versions other than 8 answer
  400 ``[es_double] ...``.
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
import hashlib
import http.server
import json
import json.decoder
import math
import os
import re
import signal
import socket
import ssl
import struct
import sys
import threading
import time
import traceback
import urllib.parse
import uuid
import zlib
from collections import deque

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import opensearch  # noqa: E402  [OS-*], beside this file

# ---------------------------------------------------------------------------
# Constants
# ---------------------------------------------------------------------------

ES_VERSION = "8.15.3"

# [R-ROOT] body of GET /
ROOT_BODY = {
    "name": "node-1",
    "cluster_name": "docker-cluster",
    "cluster_uuid": "Qh6uYcYbTf-8ZC1ZJ8jO4A",
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
REQUEST_LOG_SIZE = 100
INDEXING_PRESSURE_LIMIT = 107374182              # 10% of a 1 GiB heap
PRIMARY_TERM = 1
TLS_HANDSHAKE_TIMEOUT = 10.0                     # [R-TLS] seconds a client gets to finish its handshake
SHARDS = {"total": 2, "successful": 1, "failed": 0}

WWW_AUTHENTICATE = ['Basic realm="security", charset="UTF-8"', "ApiKey"]  # [R-AUTH]

# Query parameters every REST endpoint accepts.
COMMON_PARAMS = {"pretty", "human", "error_trace", "filter_path"}


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------

class EsError(Exception):
    """An Elasticsearch exception, rendered as the error envelope [R-ENVELOPE]."""

    def __init__(self, status, etype, reason, *, extra=None, caused_by=None, headers=None, root_cause=None):
        super().__init__(reason)
        self.status = status
        self.etype = etype
        self.reason = reason
        self.extra = dict(extra or {})
        self.caused_by = caused_by
        self.headers = list(headers or [])
        self.root_cause = root_cause   # [{type, reason}] when not this exception itself

    def root_causes(self):
        return self.root_cause or [{"type": self.etype, "reason": self.reason, **self.extra}]

    def as_cause(self):
        """This exception as a ``caused_by`` object of another."""
        cause = {"type": self.etype, "reason": self.reason, **self.extra}
        if self.caused_by:
            cause["caused_by"] = self.caused_by
        return cause

    def envelope(self):
        err = {"root_cause": self.root_causes(), "type": self.etype, "reason": self.reason, **self.extra}
        if self.caused_by:
            err["caused_by"] = self.caused_by
        return {"error": err, "status": self.status}


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


def unsupported(what):
    """Something Elasticsearch accepts that the double does not model: refuse loudly."""
    return bad_request(f"[es_double] {what} is not supported by the test double")


def _iae(reason):
    return {"type": "illegal_argument_exception", "reason": reason}


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------

def gen_id():
    """A 20-character base64url document id, like Elasticsearch's [R-META]."""
    return base64.urlsafe_b64encode(os.urandom(15)).decode("ascii")


def gen_uuid():
    """A 22-character base64url UUID, the shape of index_uuid values."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=")


def glob_match(pattern, name):
    """Elasticsearch "simple match": only ``*`` is a wildcard."""
    return re.fullmatch("".join(".*" if c == "*" else re.escape(c) for c in pattern), name, re.DOTALL) is not None


def java_double(f):
    """Java's Double.toString, used where Elasticsearch previews values."""
    if not math.isfinite(f):
        return "NaN" if f != f else ("Infinity" if f > 0 else "-Infinity")
    a = abs(f)
    if a == 0 or 1e-3 <= a < 1e7:
        r = repr(f)
        return r if ("." in r or "e" in r) else r + ".0"
    mant, _, exp = repr(f).partition("e")
    if "." not in mant:
        mant += ".0"
    return f"{mant}E{int(exp)}"


def java_str(v):
    """Java's toString of a parsed JSON value (maps print as ``{k=v, ...}``);
    Elasticsearch's "Preview of field's value" uses it."""
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}={java_str(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(java_str(x) for x in v) + "]"
    if v is True or v is False:
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, float):
        return java_double(v)
    return str(v)


def location(text, pos):
    """``[line:column]`` of a character offset, columns counted in UTF-8 bytes like Jackson."""
    line = text.count("\n", 0, pos) + 1
    start = text.rfind("\n", 0, pos) + 1
    return f"[{line}:{len(text[start:pos].encode('utf-8')) + 1}]"


# ---------------------------------------------------------------------------
# JSON with positions and strict duplicate detection
#
# Elasticsearch parses with Jackson, strict duplicate detection on, and quotes
# token locations in its errors ("[1:15] failed to parse field ...").  The
# standard json module gives neither, so this small parser records where each
# value starts and ends.  Strings are scanned with json's own string scanner.
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
_WORD_RE = re.compile(r"[A-Za-z0-9_]+")
_MAX_NESTING = 1000   # Jackson's default StreamReadConstraints.maxNestingDepth


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
            return Node("num", float(text) if (m.group(1) or m.group(2)) else int(text), i, end)
        for lit, val, kind in (("true", True, "bool"), ("false", False, "bool"), ("null", None, "null")):
            if s.startswith(lit, i):
                end = i + len(lit)
                if end < self.n and (s[end].isalnum() or s[end] == "_"):
                    break
                return Node(kind, val, i, end)
        m = _WORD_RE.match(s, i)
        if m:
            raise JsonSyntaxError(f"Unrecognized token '{m.group(0)}': was expecting "
                                  f"(JSON String, Number, Array, Object or token 'null', 'true' or 'false')", i)
        raise _unexpected(s, i, "expected a valid value (JSON String, Number, Array, Object or token "
                                "'null', 'true' or 'false')")

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
            if key in d:                              # Jackson STRICT_DUPLICATE_DETECTION
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


def _parse_failure(text, e):
    """The item error of a source Jackson cannot parse."""
    loc = location(text, e.pos)
    return {"type": "document_parsing_exception", "reason": f"{loc} failed to parse: {e.message}",
            "caused_by": {"type": "x_content_parse_exception", "reason": f"{loc} {e.message}"}}


def _syntax_error(text):
    """The JsonSyntaxError the precise parser raises for text known to be bad."""
    try:
        parse_json(text)
    except JsonSyntaxError as e:
        return e
    raise AssertionError("expected a JSON syntax error")


def token_at(text, i):
    """The Elasticsearch token name of the value starting at offset i."""
    return {"{": "START_OBJECT", "[": "START_ARRAY", '"': "VALUE_STRING", "}": "END_OBJECT",
            "]": "END_ARRAY", "t": "VALUE_BOOLEAN", "f": "VALUE_BOOLEAN",
            "n": "VALUE_NULL"}.get(text[i], "VALUE_NUMBER")


_DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


# ---------------------------------------------------------------------------
# filter_path [R-PARAMS]
#
# Comma-separated dotted patterns; ``*`` matches inside one key; arrays are
# transparent.  Empty objects left after filtering disappear; nothing matched
# gives ``{}``.
# ---------------------------------------------------------------------------

_MISSING = object()


def check_filter_path(spec):
    for p in spec.split(","):
        p = p.strip()
        if p.startswith("-") or "**" in p:
            raise unsupported(f"filter_path pattern [{p}]")


def _include(value, patterns):
    if isinstance(value, list):
        kept = [r for r in (_include(v, patterns) for v in value) if r is not _MISSING]
        return kept if kept else _MISSING
    if not isinstance(value, dict):
        return _MISSING
    out = {}
    for k, v in value.items():
        matching = [p for p in patterns if glob_match(p[0], k)]
        if any(len(p) == 1 for p in matching):
            out[k] = v
        elif matching:
            r = _include(v, [p[1:] for p in matching])
            if r is not _MISSING:
                out[k] = r
    return out if out else _MISSING


def apply_filter_path(obj, spec):
    patterns = [p.strip().split(".") for p in spec.split(",") if p.strip()]
    if not patterns:
        return obj
    out = _include(obj, patterns)
    return {} if out is _MISSING else out


# ---------------------------------------------------------------------------
# Media types [R-CTYPE] [R-COMPAT]
# ---------------------------------------------------------------------------

_BODY_TYPES = {"application/json", "application/x-ndjson",
               "application/vnd.elasticsearch+json", "application/vnd.elasticsearch+x-ndjson"}


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


def check_body_media_type(header):
    """[R-CTYPE] a request body's Content-Type: json or ndjson, charset UTF-8 only."""
    parsed = parse_media_type(header)
    if parsed is None:
        raise EsError(400, "media_type_header_exception", "Invalid media-type value on headers [Content-Type]",
                      caused_by=_iae(f"invalid media-type [{header}]"))
    mime, params = parsed
    if mime not in _BODY_TYPES:
        raise SimpleError(406, f"Content-Type header [{header}] is not supported")
    for k, v in params.items():
        if k == "charset" and v.lower() == "utf-8":
            continue
        if k == "compatible-with" and mime.startswith("application/vnd.elasticsearch+"):
            if v != "8":
                raise unsupported(f"compatible-with={v}")
            continue
        raise SimpleError(406, f"Content-Type header [{header}] is not supported")


def response_type(accept):
    """[R-COMPAT] the Content-Type of JSON answers for this Accept header."""
    for part in (accept or "").split(","):
        parsed = parse_media_type(part)
        if parsed and parsed[0].startswith("application/vnd.elasticsearch+") and "compatible-with" in parsed[1]:
            v = parsed[1]["compatible-with"]
            if v != "8":
                raise unsupported(f"compatible-with={v}")
            return "application/vnd.elasticsearch+json;compatible-with=8"
    return "application/json"


# ---------------------------------------------------------------------------
# Request body decoding [R-GZIP] [R-413]
# ---------------------------------------------------------------------------

def gunzip(data, limit):
    """Decode a gzip body (possibly several members).  The limit applies to the
    decompressed size, which is what Elasticsearch's HTTP layer aggregates (it
    decompresses first)."""
    out = bytearray()
    rest = data
    try:
        while rest:
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            out += d.decompress(rest, limit + 1 - len(out))
            if len(out) > limit or d.unconsumed_tail:
                raise TooLarge()
            if not d.eof:
                raise zlib.error("unexpected end of compressed stream")
            rest = d.unused_data
    except zlib.error as e:
        raise bad_request(f"[es_double] could not decode the gzip request body: {e}",
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


# ---------------------------------------------------------------------------
# Dynamic mapping [R-MAPPING] [R-ITEM400]
#
# Elasticsearch's defaults: date_detection on with strict_date_optional_time,
# numeric_detection off, JSON integer -> long, JSON float -> float, other
# strings -> text (with a keyword sub-field, which the double does not need to
# model), object -> object.  Numeric strings are coerced into numeric fields.
# ---------------------------------------------------------------------------

_ISO_RE = re.compile(   # strict_date_optional_time
    r"(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2})(?::(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?"
    r"(Z|[+-]\d{2}(?::?\d{2})?)?)?)?)?")
_EPOCH_RE = re.compile(r"[+-]?\d+(?:\.\d+)?")
_NUMERIC_STR_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
DATE_FORMAT = "strict_date_optional_time||epoch_millis"
LONG_RANGE = (-(1 << 63), (1 << 63) - 1)
FLOAT_MAX = 3.4028234663852886e38


def _iso_date(s):
    """The strict_date_optional_time match of s (a real calendar date) or None."""
    m = _ISO_RE.fullmatch(s)
    if not m:
        return None
    y, mo, d, h, mi, sec = (int(x) if x is not None else dflt
                            for x, dflt in zip(m.groups()[:6], (0, 1, 1, 0, 0, 0)))
    try:
        _dt.datetime(y, mo, d, h, mi, sec)
    except ValueError:
        return None
    return m


def detect_date(s):
    """Dynamic date detection needs at least ``yyyy-MM-dd``."""
    m = _iso_date(s)
    return m is not None and m.group(3) is not None


def dynamic_type(value):
    """The type a new field gets from its first value."""
    if isinstance(value, dict):
        return "object"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "long"
    if isinstance(value, float):
        return "float"
    return "date" if detect_date(value) else "text"


def _not_numeric(value):
    token = "VALUE_TRUE" if value is True else "VALUE_FALSE"
    return _iae(f"Current token ({token}) not numeric, can not use numeric value accessors")


def check_scalar(ftype, value):
    """None if a scalar JSON value fits a field of type ftype, else the caused_by
    object.  Coercion follows Elasticsearch: numeric strings into numbers, floats
    truncated into longs, "" counts as null for numbers and booleans."""
    if ftype == "long":
        if isinstance(value, bool):
            return _not_numeric(value)
        if isinstance(value, str):
            if value == "":
                return None
            if not _NUMERIC_STR_RE.fullmatch(value):
                return _iae(f'For input string: "{value}"')
        elif isinstance(value, float) and not math.isfinite(value):
            return _iae(f"Value [{java_double(value)}] is out of range for a long")
        if not LONG_RANGE[0] <= int(decimal.Decimal(value)) <= LONG_RANGE[1]:
            return _iae(f"Value [{java_str(value)}] is out of range for a long")
        return None
    if ftype == "float":
        if isinstance(value, bool):
            return _not_numeric(value)
        if isinstance(value, str):
            if value == "":
                return None
            if not _NUMERIC_STR_RE.fullmatch(value):
                return _iae(f'For input string: "{value}"')
        f = float(value)
        if not math.isfinite(f) or abs(f) > FLOAT_MAX:
            return _iae(f"[float] supports only finite values, but got [{java_double(math.copysign(math.inf, f))}]")
        return None
    if ftype == "boolean":
        if isinstance(value, bool) or value in ("true", "false", ""):
            return None
        return _iae(f"Failed to parse value [{java_str(value)}] as only [true] or [false] are allowed.")
    if ftype == "date":
        # Numbers are read as their text (epoch_millis), as Elasticsearch does.
        s = value if isinstance(value, str) else (
            str(int(value)) if isinstance(value, float) and value.is_integer() else java_str(value))
        if not isinstance(value, bool) and (_EPOCH_RE.fullmatch(s) or _iso_date(s)):
            return None
        return dict(_iae(f"failed to parse date field [{java_str(value)}] with format [{DATE_FORMAT}]"),
                    caused_by={"type": "date_time_parse_exception",
                               "reason": "Failed to parse with all enclosed parsers"})
    return None  # text takes any scalar


META_FIELDS = {"_id", "_index", "_routing", "_source", "_seq_no", "_primary_term", "_version",
               "_field_names", "_ignored", "_tier", "_data_stream_timestamp", "_nested_path",
               "_ignored_source", "_feature"}


class DocError(Exception):
    """A per-document failure, rendered as a bulk item error [R-ITEM400].

    Documents are mapped from plain values (see ``decode_source``), so an error
    says *where* it is as a trail of keys and array indices from the root plus
    which offset Elasticsearch quotes: the value's ``start``, its ``end`` (the
    closing bracket), or the ``key``.  ``locate`` turns that into an offset only
    when an error is reported."""

    def __init__(self, reason, trail=(), where="start", caused_by=None, pos=None):
        super().__init__(reason)
        self.reason = reason
        self.trail = tuple(trail)
        self.where = where            # "start" | "end" | "key" | None (no location)
        self.caused_by = caused_by
        self.pos = pos                # an offset known up front

    def item_error(self, text, root):
        pos = self.pos if self.pos is not None or self.where is None else locate(root, self.trail, self.where)
        err = {"type": "document_parsing_exception",
               "reason": self.reason if pos is None else f"{location(text, pos)} {self.reason}"}
        if self.caused_by:
            err["caused_by"] = self.caused_by
        return err


def locate(root, trail, where):
    """The offset of the value (or key) at ``trail`` in a position-tracking parse."""
    node, key_pos = root, None
    for step in trail:
        if isinstance(step, int):
            node = node.items[step]
        else:
            key_pos, node = next((kp, v) for k, kp, v in node.pairs if k == step)
    if where == "key":
        return key_pos
    return node.end - 1 if where == "end" else node.start


class _TooDeep(Exception):
    """Nesting beyond Jackson's limit: the precise parser reports it."""


_SLOW = object()


def _reject_duplicates(pairs):
    d = dict(pairs)
    if len(d) != len(pairs):
        raise ValueError("duplicate field")
    return d


def _reject_constant(name):
    raise ValueError(f"non-standard token {name}")


_FAST_DECODER = json.JSONDecoder(object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant)


def decode_source(text):
    """The value of a clean JSON document, decoded by the C json module with
    Jackson's strictness (duplicate keys and NaN rejected), or _SLOW when the
    precise parser has to say what is wrong (syntax, duplicates, trailing data,
    blank text).  Keeps the common case fast."""
    try:
        return _FAST_DECODER.decode(text)
    except (ValueError, RecursionError):
        return _SLOW


class DocumentMapper:
    """Walks one document against an index's mapping (dotted path -> type), the
    way DocumentParser does: new fields are collected in ``self.new`` and only
    committed if the whole document is accepted; the first misfit raises DocError."""

    def __init__(self, mapping, doc_id):
        self.mapping = mapping
        self.doc_id = doc_id
        self.new = {}
        self.trail = []               # keys and indices from the root to the current value

    def lookup(self, path):
        return self.new.get(path) or self.mapping.get(path)

    def error(self, reason, where="start", caused_by=None, extra=()):
        return DocError(reason, self.trail + list(extra), where, caused_by)

    def parse(self, value):
        if value is None:
            raise DocError("failed to parse, document is empty", where=None)
        if not isinstance(value, dict):
            raise DocError("Malformed content, must start with an object")
        for key in value:
            if key in META_FIELDS:
                raise DocError(f"Field [{key}] is a metadata field and cannot be added inside a document. "
                               f"Use the index API request parameters.", [key], "key")
        self.walk_object(value, "", 1)

    def walk_object(self, obj, prefix, depth):
        if depth > _MAX_NESTING:
            raise _TooDeep()
        for key, value in obj.items():
            if key.strip() == "":
                raise self.error("field name cannot be an empty string" if key == "" else
                                 f"field name cannot contain only whitespace: ['{key}']", "key", extra=[key])
            if key.startswith(".") or key.endswith(".") or ".." in key:
                if key.strip(".") == "":
                    raise self.error(f"field name cannot contain only dots: [{key}]", "key", extra=[key])
                raise self.error(f"object field starting or ending with a [.] makes object resolution "
                                 f"ambiguous: [{key}]", "key", extra=[key])
            parts = key.split(".")
            cur = prefix
            for part in parts[:-1]:           # "a.b": "a" is an object
                path = f"{cur}.{part}" if cur else part
                t = self.lookup(path)
                if t is None:
                    self.new[path] = "object"
                elif t != "object":
                    full = f"{prefix}.{key}" if prefix else key
                    raise self.error(f"Could not dynamically add mapping for field [{full}]. Existing mapping "
                                     f"for [{path}] must be of type object but found [{t}].", "key", extra=[key])
                cur = path
            leaf = parts[-1]
            self.trail.append(key)
            self.value(f"{cur}.{leaf}" if cur else leaf, leaf, value, depth)
            self.trail.pop()

    def failed(self, path, t, value, where, cause):
        return self.error(f"failed to parse field [{path}] of type [{t}] in document with id '{self.doc_id}'. "
                          f"Preview of field's value: '{java_str(value)}'", where, cause)

    def value(self, path, leaf, value, depth):
        if value is None:
            return
        if isinstance(value, list):          # arrays: every element must fit
            if depth + 1 > _MAX_NESTING:
                raise _TooDeep()
            for n, el in enumerate(value):
                self.trail.append(n)
                self.value(path, leaf, el, depth + 1)
                self.trail.pop()
            return
        t = self.lookup(path)
        if t is None:
            t = self.new[path] = dynamic_type(value)
        if isinstance(value, dict):
            if t == "object":
                self.walk_object(value, path, depth + 1)
                return
            # An object where a concrete value is mapped: Elasticsearch reads the
            # whole object for the preview, so the location is its closing brace.
            numeric = t in ("long", "float")
            raise self.failed(path, t, value, "end",
                              _iae("Current token (START_OBJECT) not numeric, can not use numeric value accessors"
                                   if numeric else "Can't get text on a START_OBJECT"))
        if t == "object":
            raise self.error(f"object mapping for [{path}] tried to parse field [{leaf}] as object, "
                             f"but found a concrete value")
        cause = check_scalar(t, value)
        if cause is not None:
            raise self.failed(path, t, value, "start", cause)


# ---------------------------------------------------------------------------
# Indices and documents
# ---------------------------------------------------------------------------

class Doc:
    """One stored document: source as sent (text), version, seq_no."""
    __slots__ = ("id", "text", "version", "seq_no")

    def __init__(self, doc_id, text, version, seq_no):
        self.id = doc_id
        self.text = text
        self.version = version
        self.seq_no = seq_no


class Index:
    def __init__(self, name):
        self.name = name
        self.uuid = gen_uuid()
        self.mapping = {}            # dotted field path -> long|float|boolean|date|text|object
        self.docs = {}               # _id -> Doc, insertion ordered (realtime view)
        self.next_seq_no = 0

    def take_seq_no(self):
        seq = self.next_seq_no
        self.next_seq_no += 1
        return seq


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

ACTIONS = ("create", "delete", "index", "update")     # what Elasticsearch knows
SUPPORTED_ACTIONS = ("create", "index")
# Action metadata keys Elasticsearch 8 knows; anything else (``_type`` included)
# is an "unknown parameter".  Only SUPPORTED_META is modelled by the double.
META_KEYS = {"_index", "_id", "routing", "op_type", "version", "version_type", "if_seq_no",
             "if_primary_term", "retry_on_conflict", "pipeline", "_source", "require_alias",
             "require_data_stream", "list_executed_pipelines", "dynamic_templates"}
SUPPORTED_META = {"_index", "_id", "routing", "pipeline"}


class BulkOp:
    """One bulk action: the action name sent (also the key of its response item)."""
    __slots__ = ("line", "action", "index", "id", "source")

    def __init__(self, line, action, index, doc_id):
        self.line = line
        self.action = action
        self.index = index
        self.id = doc_id
        self.source = None


def _malformed(line, what):
    return bad_request(f"Malformed action/metadata line [{line}], {what}")


def _xcontent_error(text, pos, msg):
    return bad_request(f"{location(text, pos)} {msg}", etype="x_content_parse_exception")


def _parse_action(raw, line, url_index):
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise bad_request(f"[1:{e.start + 1}] Invalid UTF-8 start byte 0x{raw[e.start]:02x}",
                          etype="x_content_parse_exception") from None
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
    if action not in SUPPORTED_ACTIONS:
        raise unsupported(f"the [{action}] action (line [{line}])")
    if body.kind != "obj":
        raise _malformed(line, f"expected START_OBJECT or END_OBJECT but found [{KIND_TOKEN[body.kind]}]")
    meta = {}
    for key, _kp, value in body.pairs:
        if key not in META_KEYS:           # [R-TYPE] ``_type`` included: removed in 8.x
            raise bad_request(f"Action/metadata line [{line}] contains an unknown parameter [{key}]")
        if key not in SUPPORTED_META:
            raise unsupported(f"action metadata [{key}] (line [{line}])")
        if value.kind in ("obj", "arr"):
            raise _malformed(line, f"expected a simple value for field [{key}] but found "
                                   f"[{KIND_TOKEN[value.kind]}]")
        if value.kind != "null":
            meta[key] = value.value if isinstance(value.value, str) else java_str(value.value)
    if len(node.pairs) > 1:
        raise _malformed(line, "expected END_OBJECT but found [FIELD_NAME]")
    if trailing is not None:
        raise _malformed(line, f"expected end of line but found [{token_at(text, trailing)}]")
    return BulkOp(line, action, meta.get("_index") or url_index, meta.get("_id"))


def parse_bulk_body(data, url_index):
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
        op = _parse_action(data[pos:nl], line, url_index)
        pos = nl + 1
        if op is None:
            continue
        nl = data.find(b"\n", pos)
        if nl == -1:
            if pos != n:
                raise need_newline()
            break                          # an action without its source line is dropped, as in ES
        line += 1
        op.source = data[pos:nl]           # parsed per item: errors only fail that item
        pos = nl + 1
        ops.append(op)
    return ops


def validate_ops(ops):
    """BulkRequest.validate(): all problems in one action_request_validation_exception."""
    errors = []
    if not ops:
        errors.append("no requests added")              # [R-EMPTY]
    for op in ops:
        if not op.index:
            errors.append("index is missing")           # [R-META]
        if op.id is not None:
            nbytes = len(op.id.encode("utf-8"))
            if nbytes == 0:
                errors.append("if _id is specified it must not be empty")
            elif nbytes > MAX_ID_BYTES:
                errors.append(f"id [{op.id}] is too long, must be no longer than {MAX_ID_BYTES} bytes "
                              f"but was: {nbytes}")
    if errors:
        raise bad_request("Validation Failed: " + "".join(f"{i}: {e};" for i, e in enumerate(errors, 1)),
                          etype="action_request_validation_exception")


# ---------------------------------------------------------------------------
# Composable index templates [R-TEMPLATE]
#
# The body of PUT|POST /_index_template/{name} is read the way
# ComposableIndexTemplate.PARSER reads it: a ConstructingObjectParser named
# "index_template" whose nested objects have ObjectParsers of their own
# ("template", "data_stream_template").  As ObjectParser does, it stops at the
# first problem in document order: an unknown field ("[L:C] [P] unknown field
# [F]", with Elasticsearch's "did you mean" suggestions), a value of a JSON type
# the field does not take ("[L:C] [P] F doesn't support values of type: T"), or
# a value the field's own parser cannot read, which ObjectParser wraps as
# "[L:C] [P] failed to parse field [F]" (a nested parser's error is wrapped by
# every enclosing parser; the root cause is the innermost parse error).  A
# missing index_patterns is ConstructingObjectParser's "Required
# [index_patterns]".  State.put_template then runs MetadataIndexTemplateService's
# checks in its order and stores the template normalized, as GET renders it.
# ---------------------------------------------------------------------------

STRING_ARRAY = frozenset({"arr", "str"})        # ObjectParser.ValueType.STRING_ARRAY
LONG_VALUE = frozenset({"num", "str"})          # ValueType.LONG
BOOLEAN_VALUE = frozenset({"bool", "str"})      # ValueType.BOOLEAN
OBJECT_VALUE = frozenset({"obj"})               # ValueType.OBJECT
ANY_VALUE = frozenset(KIND_TOKEN)
_JAVA_LONG_RE = re.compile(r"[+-]?\d+")
_BIG_DECIMAL_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def lucene_similarity(a, b):
    """Lucene's LevenshteinDistance.getDistance: 1 - edits / the longer length."""
    if not a or not b:
        return 1.0 if a == b else 0.0
    prev = list(range(len(a) + 1))
    for j, cb in enumerate(b, 1):
        cur = [j]
        for i, ca in enumerate(a, 1):
            cur.append(min(cur[i - 1] + 1, prev[i] + 1, prev[i - 1] + (ca != cb)))
        prev = cur
    return 1.0 - prev[-1] / max(len(a), len(b))


def unknown_field_message(parser, field, candidates):
    """SuggestingErrorOnUnknown: the known fields more than half similar, most similar first."""
    msg = f"[{parser}] unknown field [{field}]"
    keys = [c for _s, c in sorted((-lucene_similarity(field, c), c) for c in candidates
                                  if lucene_similarity(field, c) > 0.5)]
    if not keys:
        return msg
    return f"{msg} did you mean " + (f"[{keys[0]}]" if len(keys) == 1 else f"any of [{', '.join(keys)}]") + "?"


def java_to_long(s):
    """AbstractXContentParser.toLong(text, coerce=true): (value, None) or (None, the
    IllegalArgumentException's message).  Decimals are truncated, as coercion does."""
    if _JAVA_LONG_RE.fullmatch(s) and LONG_RANGE[0] <= int(s) <= LONG_RANGE[1]:
        return int(s), None
    if not _BIG_DECIMAL_RE.fullmatch(s):
        return None, f'For input string: "{s}"'
    d = decimal.Decimal(s)
    if d >= LONG_RANGE[1] + 1 or d <= LONG_RANGE[0] - 1:
        return None, f"Value [{s}] is out of range for a long"
    return int(d), None


def java_list(items):
    """A Java List's toString."""
    return "[" + ", ".join(items) + "]"


class _ParseFail(Exception):
    """A parse error and the offset the parser stood at when it was raised:
    ObjectParser wraps it at that location."""

    def __init__(self, error, parser_pos):
        super().__init__(error.reason)
        self.error = error
        self.parser_pos = parser_pos


class TemplateReader:
    """Reads a PUT /_index_template body (a position-tracking parse) into a plain
    dict: index_patterns, composed_of and ignore_missing_component_templates as
    lists, priority and version as ints, template.settings flattened to
    {dotted key: string | [strings] | None} (Settings.fromXContent), template.aliases
    as AliasMetadata renders them, data_stream with both of its booleans."""

    def __init__(self, text):
        self.text = text

    def at(self, pos, msg):
        return EsError(400, "x_content_parse_exception", f"{location(self.text, pos)} {msg}")

    def object(self, node, parser, fields):
        """ObjectParser.parse of ``node``; ``fields`` is {name: (JSON kinds taken, value reader)}."""
        out = {}
        for key, key_pos, v in node.pairs:
            if key not in fields:
                raise _ParseFail(self.at(key_pos, unknown_field_message(parser, key, fields)), v.start)
            kinds, read = fields[key]
            if v.kind not in kinds:
                raise _ParseFail(self.at(v.start, f"[{parser}] {key} doesn't support values of type: "
                                                  f"{KIND_TOKEN[v.kind]}"), v.start)
            try:
                out[key] = read(v)
            except _ParseFail as f:                                  # ObjectParser.parseValue
                inner = f.error
                reason = f"{location(self.text, f.parser_pos)} [{parser}] failed to parse field [{key}]"
                # ElasticsearchException.guessRootCauses unwraps nested parse errors.
                roots = inner.root_causes() if inner.etype == "x_content_parse_exception" else None
                raise _ParseFail(EsError(400, "x_content_parse_exception", reason, caused_by=inner.as_cause(),
                                         root_cause=roots), f.parser_pos) from None
        return out

    def value_text(self, v):
        """XContentParser.text() of a scalar: numbers as written."""
        if v.kind == "str":
            return v.value
        if v.kind == "bool":
            return "true" if v.value else "false"
        return self.text[v.start:v.end]

    # -- value readers -------------------------------------------------------
    @staticmethod
    def strings(field):
        def read(v):
            items = [v] if v.kind == "str" else v.items
            for item in items:
                if item.kind != "str":
                    raise unsupported(f"a {KIND_TOKEN[item.kind]} element in [{field}] (only strings are modelled)")
            return [item.value for item in items]
        return read

    @staticmethod
    def long(field):
        def read(v):
            if v.kind == "str":
                value, problem = java_to_long(v.value)
                if problem:
                    raise _ParseFail(EsError(400, "illegal_argument_exception", problem), v.start)
                return value
            n = v.value
            if isinstance(n, float) and not math.isfinite(n) or not LONG_RANGE[0] <= n <= LONG_RANGE[1]:
                raise unsupported(f"a value of [{field}] out of the range of a long")
            return int(n)                                            # coercion truncates decimals
        return read

    @staticmethod
    def boolean(field):
        def read(v):
            if v.kind == "bool":
                return v.value
            if v.value in ("true", "false"):
                return v.value == "true"
            raise unsupported(f"the value [{v.value}] of [{field}] (only true and false are modelled)")
        return read

    def index_template(self, root):
        t = self.object(root, "index_template", {
            "index_patterns": (STRING_ARRAY, self.strings("index_patterns")),
            "template": (OBJECT_VALUE, self.inner_template),
            "composed_of": (STRING_ARRAY, self.strings("composed_of")),
            "priority": (LONG_VALUE, self.long("priority")),
            "version": (LONG_VALUE, self.long("version")),
            "_meta": (OBJECT_VALUE, lambda v: v.value),
            "data_stream": (OBJECT_VALUE, self.data_stream),
            "allow_auto_create": (BOOLEAN_VALUE, self.boolean("allow_auto_create")),
            "ignore_missing_component_templates": (STRING_ARRAY, self.strings("ignore_missing_component_templates")),
            "deprecated": (BOOLEAN_VALUE, self.boolean("deprecated")),
        })
        if "index_patterns" not in t:                                # ConstructingObjectParser
            raise bad_request("Required [index_patterns]")
        if not t["index_patterns"]:
            raise unsupported("an empty [index_patterns] list")
        return t

    def inner_template(self, v):
        return self.object(v, "template", {
            "settings": (OBJECT_VALUE, self.settings),
            "mappings": (ANY_VALUE, self.mappings),
            "aliases": (OBJECT_VALUE, self.aliases),
            "lifecycle": (ANY_VALUE, self.lifecycle),
        })

    def data_stream(self, v):
        ds = self.object(v, "data_stream_template", {
            "hidden": (BOOLEAN_VALUE, self.boolean("data_stream.hidden")),
            "allow_custom_routing": (BOOLEAN_VALUE, self.boolean("data_stream.allow_custom_routing")),
        })
        return {"hidden": ds.get("hidden", False), "allow_custom_routing": ds.get("allow_custom_routing", False)}

    @staticmethod
    def mappings(v):
        if v.kind != "obj":
            raise unsupported(f"[template.mappings] given as {KIND_TOKEN[v.kind]} (only an object is modelled)")
        return v.value

    @staticmethod
    def lifecycle(_v):
        raise unsupported("[template.lifecycle] (data stream lifecycles)")

    def settings(self, v):
        """Settings.fromXContent: nested objects flattened to dotted keys, values kept as text."""
        flat = {}

        def walk(node, prefix):
            for key, _key_pos, val in node.pairs:
                name = prefix + key
                if val.kind == "obj":
                    walk(val, name + ".")
                    continue
                if name in flat:
                    raise unsupported(f"the index setting [{name}] given twice")
                if val.kind == "arr":
                    if any(item.kind not in ("str", "num", "bool") for item in val.items):
                        raise unsupported(f"the index setting [{name}] holding a list of other than values")
                    flat[name] = [self.value_text(item) for item in val.items]
                else:
                    flat[name] = None if val.kind == "null" else self.value_text(val)

        walk(v, "")
        return flat

    def aliases(self, v):
        """AliasMetadata.Builder.fromXContent of each alias; keys it does not know are ignored."""
        out = {}
        for alias, _key_pos, spec in v.pairs:
            if spec.kind != "obj":
                raise unsupported(f"the alias [{alias}] given as {KIND_TOKEN[spec.kind]} "
                                  f"(only an object is modelled)")
            meta = {}
            for key, _kp, val in spec.pairs:
                if key == "filter":
                    raise unsupported(f"the [filter] of alias [{alias}]")
                if val.kind in ("obj", "arr", "null"):              # skipped, or not a value: ignored
                    continue
                if key in ("routing", "index_routing", "indexRouting"):
                    meta["index_routing"] = self.value_text(val)
                if key in ("routing", "search_routing", "searchRouting"):
                    meta["search_routing"] = self.value_text(val)
                if key in ("is_write_index", "is_hidden"):
                    if val.kind == "bool" or val.value in ("true", "false"):
                        meta[key] = val.value if val.kind == "bool" else val.value == "true"
                    else:
                        raise unsupported(f"the value [{self.value_text(val)}] of [{key}] of alias [{alias}]")
            out[alias] = {k: meta[k] for k in ("index_routing", "search_routing", "is_write_index", "is_hidden")
                          if k in meta}
        return out


def read_template_body(data):
    """The parsed body of PUT /_index_template/{name}, or EsError."""
    if not data:
        raise EsError(400, "parse_exception", "request body is required")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise bad_request(f"[1:{e.start + 1}] Invalid UTF-8 start byte 0x{data[e.start]:02x}",
                          etype="x_content_parse_exception") from None
    try:
        root, trailing = parse_json(text)
    except JsonSyntaxError as e:
        raise _xcontent_error(text, e.pos, e.message) from None
    if root is None:
        raise unsupported("a template body without a JSON value")
    if root.kind != "obj":
        raise _xcontent_error(text, root.start,
                              f"[index_template] Expected START_OBJECT but was: {KIND_TOKEN[root.kind]}")
    if trailing is not None:
        raise unsupported("content after the template's JSON object")
    try:
        return TemplateReader(text).index_template(root)
    except _ParseFail as f:
        raise f.error from None


def patterns_overlap(a, b):
    """Whether some name matches both simple-match patterns (``*`` is the only
    wildcard): Operations.intersection of their automata is not empty."""
    seen, todo = set(), [(0, 0)]
    while todo:
        i, j = todo.pop()
        if (i, j) in seen:
            continue
        seen.add((i, j))
        if i == len(a) and j == len(b):
            return True
        ca = a[i] if i < len(a) else None
        cb = b[j] if j < len(b) else None
        if ca == "*":
            todo.append((i + 1, j))               # the star matches nothing more
        if cb == "*":
            todo.append((i, j + 1))
        if ca is not None and cb is not None:     # consume one character common to both
            if ca == "*" and cb != "*":
                todo.append((i, j + 1))
            elif cb == "*" and ca != "*":
                todo.append((i + 1, j))
            elif ca == cb != "*":
                todo.append((i + 1, j + 1))
    return False


def normalize_template(t):
    """The template as MetadataIndexTemplateService.addIndexTemplateV2 stores it:
    settings prefixed with ``index.`` (Settings.Builder.normalizePrefix), a single
    ``_doc`` wrapper taken off the mappings (Template.reduceMapping), ``deprecated``
    kept only when true."""
    out = {"index_patterns": list(t["index_patterns"])}
    inner = t.get("template")
    if inner is not None:
        tpl = {}
        if "settings" in inner:
            settings = {k: v for k, v in inner["settings"].items() if k.startswith("index.") or k.endswith("*")}
            for k, v in inner["settings"].items():
                if not (k.startswith("index.") or k.endswith("*")):
                    settings["index." + k] = v
            tpl["settings"] = settings
        if "mappings" in inner:
            m = inner["mappings"]
            if len(m) == 1 and isinstance(m.get("_doc"), dict):
                m = m["_doc"]
            tpl["mappings"] = m
        if "aliases" in inner:
            tpl["aliases"] = inner["aliases"]
        out["template"] = tpl
    for key in ("composed_of", "priority", "version", "_meta", "data_stream", "allow_auto_create",
                "ignore_missing_component_templates"):
        if key in t:
            out[key] = t[key]
    if t.get("deprecated"):
        out["deprecated"] = True
    return out


def structured_settings(flat):
    """Settings.toXContent without flat_settings: dotted keys as nested objects (sorted, a TreeMap)."""
    out = {}
    for key in sorted(flat):
        node = out
        *parents, leaf = key.split(".")
        for p in parents:
            if not isinstance(node.get(p), dict):
                node[p] = {}
            node = node[p]
        node[leaf] = flat[key]
    return out


def render_template(t, flat_settings=False):
    """ComposableIndexTemplate.toXContent of a stored template (a fresh copy):
    empty mappings are left out, as Template.toXContent does."""
    out = {"index_patterns": t["index_patterns"]}
    if "template" in t:
        tpl, r = t["template"], {}
        if "settings" in tpl:
            settings = tpl["settings"]
            r["settings"] = dict(sorted(settings.items())) if flat_settings else structured_settings(settings)
        if tpl.get("mappings"):
            r["mappings"] = tpl["mappings"]
        if "aliases" in tpl:
            r["aliases"] = tpl["aliases"]
        out["template"] = r
    for key in ("composed_of", "priority", "version", "_meta", "data_stream", "allow_auto_create",
                "ignore_missing_component_templates", "deprecated"):
        if key in t:
            out[key] = t[key]
    return json.loads(json.dumps(out))


def template_validation_errors(name, patterns, settings):
    """MetadataIndexTemplateService.validate: the name and pattern rules (and the
    global-template rule), all problems at once."""
    errors = []
    for bad, what in ((" ", "a space"), (",", "a ','"), ("#", "a '#'"), ("*", "a '*'")):
        if bad in name:
            errors.append(f"name must not contain {what}")
    if name.startswith("_"):
        errors.append("name must not start with '_'")
    if name.lower() != name:
        errors.append("name must be lower cased")
    for p in patterns:
        if " " in p:
            errors.append(f"index_patterns [{p}] must not contain a space")
        for bad in (",", "#", ":"):
            if bad in p:
                errors.append(f"index_pattern [{p}] must not contain a '{bad}'")
        if p.startswith("_"):
            errors.append(f"index_pattern [{p}] must not start with '_'")
        if any(c in p for c in _INVALID_NAME_CHARS if c != "*"):   # Strings.validFileNameExcludingAstrix
            errors.append(f"index_pattern [{p}] must not contain the following characters {_INVALID_NAME_CHARS_MSG}")
    if "*" in patterns and settings is not None and "index.hidden" in settings:
        errors.append("global templates may not specify the setting index.hidden")
    return errors


def _int_setting(low, high=None):
    return lambda v: (isinstance(v, str) and _JAVA_LONG_RE.fullmatch(v) is not None and low <= int(v)
                      and (high is None or int(v) <= high))


_TIME_VALUE_RE = re.compile(r"-1|0|\d+(?:nanos|micros|ms|s|m|h|d)")


def _bool_setting(v):
    return v in ("true", "false")


def _string_setting(v):
    return isinstance(v, str)


# The index settings the double accepts in a template, with a check of their value
# (None, resetting the default, is always accepted).  Anything else is refused with
# [es_double]: whether Elasticsearch knows a setting, and its exact complaint about a
# bad value, are not modelled.
TEMPLATE_INDEX_SETTINGS = {
    "index.number_of_shards": _int_setting(1, 1024),
    "index.number_of_replicas": _int_setting(0),
    "index.auto_expand_replicas": lambda v: isinstance(v, str) and re.fullmatch(r"false|\d+-(?:\d+|all)", v),
    "index.refresh_interval": lambda v: isinstance(v, str) and _TIME_VALUE_RE.fullmatch(v.strip().lower()),
    "index.codec": lambda v: v in ("default", "best_compression", "legacy_default", "legacy_best_compression",
                                   "lucene_default"),
    "index.hidden": _bool_setting,
    "index.priority": _int_setting(0),
    "index.max_result_window": _int_setting(1),
    "index.mapping.total_fields.limit": _int_setting(0),
    "index.mapping.total_fields.ignore_dynamic_beyond_limit": _bool_setting,
    "index.mapping.depth.limit": _int_setting(1),
    "index.mapping.nested_fields.limit": _int_setting(0),
    "index.mapping.nested_objects.limit": _int_setting(0),
    "index.mapping.field_name_length.limit": _int_setting(1),
    "index.mapping.ignore_malformed": _bool_setting,
    "index.mapping.coerce": _bool_setting,
    "index.translog.durability": lambda v: v in ("request", "async"),
    "index.lifecycle.name": _string_setting,
    "index.lifecycle.rollover_alias": _string_setting,
    "index.default_pipeline": _string_setting,
    "index.final_pipeline": _string_setting,
    "index.routing.allocation.include._tier_preference": _string_setting,
    "index.query.default_field": lambda v: isinstance(v, (str, list)),
}


def settings_problem(settings):
    """None when the double accepts these (normalized) template settings, else what it does not model."""
    for key, value in settings.items():
        check = TEMPLATE_INDEX_SETTINGS.get(key)
        if check is None:
            return f"the index setting [{key}]"
        if value is not None and not check(value):
            return f"the value {json.dumps(value)} of the index setting [{key}]"
    return None


# Mappings: the field types and mapping parameters the double accepts in a template
# (their values are not checked).  Anything else is refused with [es_double]: the
# double does not have Elasticsearch's mappers, so it cannot say whether or how
# Elasticsearch would reject it.
ROOT_MAPPING_PARAMS = {"properties", "dynamic", "date_detection", "numeric_detection", "dynamic_templates",
                       "dynamic_date_formats", "_source", "_meta", "_routing", "enabled", "subobjects"}
DYNAMIC_TEMPLATE_PARAMS = {"match_mapping_type", "unmatch_mapping_type", "match", "unmatch", "path_match",
                           "path_unmatch", "match_pattern", "mapping"}
OBJECT_FIELD_PARAMS = {"object": {"type", "properties", "dynamic", "enabled", "subobjects"},
                       "nested": {"type", "properties", "dynamic", "include_in_parent", "include_in_root"}}
_LEAF_PARAMS = {"type", "meta", "fields", "copy_to"}
_VALUE_PARAMS = {"doc_values", "index", "store", "null_value", "script", "on_script_error"}
_NUMBER_PARAMS = _VALUE_PARAMS | {"coerce", "ignore_malformed", "time_series_dimension", "time_series_metric"}
LEAF_FIELD_PARAMS = {
    "keyword": _VALUE_PARAMS | {"ignore_above", "normalizer", "eager_global_ordinals", "index_options", "norms",
                                "similarity", "split_queries_on_whitespace", "time_series_dimension"},
    "text": {"analyzer", "search_analyzer", "search_quote_analyzer", "index", "index_options", "index_prefixes",
             "index_phrases", "norms", "store", "fielddata", "fielddata_frequency_filter",
             "position_increment_gap", "similarity", "term_vector", "eager_global_ordinals"},
    "match_only_text": set(),
    "wildcard": {"ignore_above", "null_value"},
    "constant_keyword": {"value"},
    **{t: _NUMBER_PARAMS for t in ("long", "integer", "short", "byte", "double", "float", "half_float",
                                   "unsigned_long")},
    "scaled_float": _NUMBER_PARAMS | {"scaling_factor"},
    "date": _VALUE_PARAMS | {"format", "locale", "ignore_malformed"},
    "date_nanos": _VALUE_PARAMS | {"format", "locale", "ignore_malformed"},
    "boolean": _VALUE_PARAMS | {"ignore_malformed"},
    "ip": _VALUE_PARAMS | {"ignore_malformed", "time_series_dimension"},
    "geo_point": _VALUE_PARAMS | {"ignore_malformed", "ignore_z_value"},
    "binary": {"doc_values", "store"},
    "flattened": {"depth_limit", "doc_values", "eager_global_ordinals", "ignore_above", "index", "index_options",
                  "null_value", "similarity", "split_queries_on_whitespace", "time_series_dimensions"},
}


def _fields_problem(props, prefix, multi=False):
    for fname, fdef in props.items():
        path = prefix + fname
        if not isinstance(fdef, dict):
            return f"the mapping of field [{path}] given as other than an object"
        ftype = fdef.get("type", "object")
        if not isinstance(ftype, str):
            return f"the [type] of field [{path}] given as other than a string"
        if ftype in OBJECT_FIELD_PARAMS and not multi:
            allowed = OBJECT_FIELD_PARAMS[ftype]
        elif ftype in LEAF_FIELD_PARAMS:
            allowed = _LEAF_PARAMS | LEAF_FIELD_PARAMS[ftype]
        else:
            return f"the field type [{ftype}] (field [{path}])"
        for key in fdef:
            if key not in allowed:
                return f"the mapping parameter [{key}] of field [{path}] (type [{ftype}])"
        for key in ("properties", "fields"):
            sub = fdef.get(key)
            if sub is None:
                continue
            if not isinstance(sub, dict):
                return f"[{key}] of field [{path}] given as other than an object"
            problem = _fields_problem(sub, path + ".", multi=key == "fields")
            if problem:
                return problem
    return None


def mapping_problem(mapping):
    """None when the double accepts these template mappings (a ``_doc`` wrapper
    already taken off), else what it does not model."""
    for key in mapping:
        if key not in ROOT_MAPPING_PARAMS:
            return f"the root mapping parameter [{key}]"
    props = mapping.get("properties", {})
    if not isinstance(props, dict):
        return "[properties] given as other than an object"
    problem = _fields_problem(props, "")
    if problem:
        return problem
    dynamic_templates = mapping.get("dynamic_templates", [])
    if not isinstance(dynamic_templates, list):
        return "[dynamic_templates] given as other than a list"
    for dt in dynamic_templates:
        if not (isinstance(dt, dict) and len(dt) == 1 and isinstance(next(iter(dt.values())), dict)):
            return "a dynamic template other than an object holding one named object"
        (dt_name, spec), = dt.items()
        for key in spec:
            if key not in DYNAMIC_TEMPLATE_PARAMS:
                return f"the parameter [{key}] of dynamic template [{dt_name}]"
        if not isinstance(spec.get("mapping"), dict):
            return f"the dynamic template [{dt_name}] without a [mapping] object"
    return None


def alias_problems(aliases, patterns):
    """AliasValidator.validateAliasStandalone and the alias-versus-pattern rule: an
    EsError for the first problem, or None."""
    for alias, meta in aliases.items():
        if alias.strip() == "":
            return bad_request("alias name is required")
        problem = index_name_problem(alias)
        if problem is not None and problem != "must be lowercase":   # alias names may hold capitals
            return unsupported(f"the alias name [{alias}] (it {problem})")
        if "," in meta.get("index_routing", ""):
            return bad_request(f"alias [{alias}] has several index routing values associated with it")
        if alias in patterns:
            return bad_request(f"alias [{alias}] cannot be the same as any pattern in [{', '.join(patterns)}]")
    return None


# ---------------------------------------------------------------------------
# The cluster state: one lock guards everything [R-FAULTS] [R-COUNTERS]
# ---------------------------------------------------------------------------

FAULT_KEYS = ("item_429", "item_429_ids", "item_429_ratio", "item_429_seed", "request_status",
              "request_count", "max_content_length", "latency_ms", "drop_after_index", "truncate_body",
              "down", "auth", "reset_next", "restart_ms")


def default_faults():
    return {"item_429": 0, "item_429_ids": set(), "item_429_ratio": 0.0, "item_429_seed": 0,
            "request_status": None, "request_count": 0, "max_content_length": DEFAULT_MAX_CONTENT_LENGTH,
            "latency_ms": 0, "drop_after_index": 0, "truncate_body": 0, "down": False, "auth": None,
            "reset_next": 0, "restart_ms": 0}


def new_counters():
    return {"bulk_requests": 0, "bulk_bytes": 0, "gzip_requests": 0,
            "items": {"created": 0, "updated": 0, "conflict_409": 0, "rejected_429": 0,
                      "mapping_400": 0, "other_4xx": 0},
            "items_by_status": {},
            "requests_413": 0, "requests_rejected": 0, "dropped_connections": 0,
            "truncated_responses": 0, "requests_401": 0, "down_closed": 0,
            "resets_before_index": 0, "restart_closed": 0, "tls_handshake_failures": 0,
            "index_template_puts": 0, "index_template_puts_acknowledged": 0, "sigv4_refused": 0,
            "bulk_requests_before_template": 0}


def _int_value(body, key, minimum=0):
    v = body[key]
    if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
        raise ControlError(400, f"[{key}] must be an integer >= {minimum}, got {json.dumps(v)}")
    return v


def ratio_rank(seed, index, key):
    """[R-FAULTS] item_429_ratio: the deterministic rank of one item."""
    return hashlib.sha256(f"{seed}/{index}/{key}".encode("utf-8")).hexdigest()


class State:
    """Indices, index templates, faults, counters and the request log, behind one re-entrant
    lock.  Bulk items are executed under the lock, one after the other, like
    operations on a single primary shard."""

    def __init__(self):
        self.lock = threading.RLock()
        # [R-FAULTS] restart_ms: how many restarts have begun.  Each connection
        # remembers the value it was opened under; an older one belongs to the
        # "old process".  Not reset by /_double/reset: a restart that began
        # still killed the connections open at the time.
        self.restart_epoch = 0
        self._reset_locked()

    def _reset_locked(self):
        self.indices = {}
        self.templates = {}          # [R-TEMPLATE] name -> template as normalize_template stores it
        self.faults = default_faults()
        self.restart_until = 0.0     # time.monotonic() at which the current restart ends
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
        for key in ("item_429", "request_count", "drop_after_index", "truncate_body", "reset_next",
                    "restart_ms"):
            if key in body:
                new[key] = _int_value(body, key)
        if "item_429_ids" in body:
            ids = body["item_429_ids"]
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                raise ControlError(400, "[item_429_ids] must be a list of strings")
            new["item_429_ids"] = set(ids)
        if "item_429_ratio" in body:
            r = body["item_429_ratio"]
            if r is None:
                r = 0.0
            if isinstance(r, bool) or not isinstance(r, (int, float)) or not 0.0 <= r <= 1.0:
                raise ControlError(400, "[item_429_ratio] must be a number between 0.0 and 1.0, or null")
            new["item_429_ratio"] = float(r)
        if "item_429_seed" in body:
            s = body["item_429_seed"]
            if isinstance(s, bool) or not isinstance(s, int):
                raise ControlError(400, "[item_429_seed] must be an integer")
            new["item_429_seed"] = s
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
            if "restart_ms" in new:                  # a restart begins now
                self.restart_epoch += 1
                self.restart_until = time.monotonic() + new["restart_ms"] / 1000.0
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
            f["restart_ms"] = max(0, math.ceil((self.restart_until - time.monotonic()) * 1000))
            return f

    def fault(self, key):
        with self.lock:
            return self.faults[key]

    # -- OpenSearch [OS-*] (tests/doubles/opensearch.py) -------------------
    opensearch = None        # None, "managed" or "serverless"
    signatures = None        # an opensearch.Signatures when requests must be signed

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
        return EsError(503, "cluster_block_exception", "blocked by: [SERVICE_UNAVAILABLE/2/no master];")

    def _take_countdown(self, key):
        with self.lock:
            if self.faults[key] > 0:
                self.faults[key] -= 1
                return True
            return False

    def take_reset_next(self):
        """[R-FAULTS] reset_next: True (and counted) when this bulk request is to be reset."""
        with self.lock:
            if self._take_countdown("reset_next"):
                self.counters["resets_before_index"] += 1
                return True
            return False

    def restart_resets(self, conn_epoch):
        """[R-FAULTS] restart_ms: True when a non-control request on a connection opened
        under ``conn_epoch`` must be reset: a restart is under way, or the connection
        predates the last one."""
        with self.lock:
            return time.monotonic() < self.restart_until or conn_epoch < self.restart_epoch

    def take_connection_fault(self):
        """After a bulk request was executed: "drop", "truncate" or None."""
        if self._take_countdown("drop_after_index"):
            return "drop"
        if self._take_countdown("truncate_body"):
            return "truncate"
        return None

    def _ratio_rejects(self, ops, principal):
        """[R-FAULTS] item_429_ratio: the positions of the items to reject with 429."""
        ratio, seed = self.faults["item_429_ratio"], self.faults["item_429_seed"]
        if ratio <= 0:
            return set()
        eligible = [(ratio_rank(seed, op.index, op.id if op.id is not None else f"#{n}"), n)
                    for n, op in enumerate(ops)
                    if index_name_problem(op.index) is None and (principal is None or principal.may_write(op.index))]
        k = math.floor(ratio * len(eligible) + 1e-9)
        return {n for _rank, n in sorted(eligible)[:k]}

    def _take_item_429(self, doc_id, by_ratio):
        ids = self.faults["item_429_ids"]
        if doc_id in ids:
            ids.discard(doc_id)
            return True
        if by_ratio:
            return True
        if self.faults["item_429"] > 0:
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

    # -- bulk execution [R-RESPONSE] ----------------------------------------
    def execute_bulk(self, ops, principal=None, forced_refresh=False):
        items = []
        with self.lock:
            rejects = self._ratio_rejects(ops, principal)
            for n, op in enumerate(ops):
                item = self._execute_op(op, principal, n in rejects, forced_refresh)
                items.append({op.action: item})
                self._count_item(item)
        return items

    def _count_item(self, item):
        c = self.counters["items"]
        status = item["status"]
        by_status = self.counters["items_by_status"]
        by_status[str(status)] = by_status.get(str(status), 0) + 1
        err = item.get("error")
        if err is None:
            c[item["result"]] += 1
        elif status == 409:
            c["conflict_409"] += 1
        elif status == 429:
            c["rejected_429"] += 1
        elif status == 400 and err["type"] == "document_parsing_exception":
            c["mapping_400"] += 1
        else:
            c["other_4xx"] += 1

    def _execute_op(self, op, principal, reject_by_ratio, forced_refresh):
        name = op.index

        def fail(status, error, doc_id=op.id):
            return {"_index": name, "_id": doc_id, "status": status, "error": error}

        problem = index_name_problem(name)                       # [R-INDEX]
        if problem:
            return fail(400, {"type": "invalid_index_name_exception",
                              "reason": f"Invalid index name [{name}], {problem}",
                              "index_uuid": "_na_", "index": name})
        if principal is not None and not principal.may_write(name):   # [R-AUTH] per-item 403
            return fail(403, {"type": "security_exception",
                              "reason": f"action [indices:data/write/bulk[s]] is unauthorized for "
                                        f"{principal.describe()} with effective roles [writer] on indices "
                                        f"[{name}], this action is granted by the index privileges "
                                        f"[create_doc,create,index,write,all]"})
        if self.opensearch == "serverless" and op.id is not None:   # [OS-ID]
            return fail(400, {"type": "illegal_argument_exception", "reason": opensearch.IDS_REFUSED})
        idx = self.indices.get(name)
        if idx is None:
            idx = self.indices[name] = Index(name)               # auto-create [R-INDEX]
        doc_id = op.id if op.id is not None else gen_id()        # [R-META]
        if self._take_item_429(doc_id, reject_by_ratio):         # [R-ITEM429] [R-FAULTS]
            return fail(429, {"type": "es_rejected_execution_exception",
                              "reason": f"rejected execution of primary operation [coordinating_and_primary_"
                                        f"bytes=0, replica_bytes=0, all_bytes=0, primary_operation_bytes="
                                        f"{len(op.source)}, max_coordinating_and_primary_bytes="
                                        f"{INDEXING_PRESSURE_LIMIT}]"}, doc_id)
        return self._index(idx, op, doc_id, forced_refresh)

    def _index(self, idx, op, doc_id, forced_refresh):
        def fail(status, error):
            return {"_index": idx.name, "_id": doc_id, "status": status, "error": error}

        try:
            text = op.source.decode("utf-8").strip()
        except UnicodeDecodeError as e:
            return fail(400, {"type": "document_parsing_exception",
                              "reason": f"[1:{e.start + 1}] failed to parse: Invalid UTF-8 start byte "
                                        f"0x{op.source[e.start]:02x}"})
        root = trailing = None             # the position-tracking parse, made only when needed
        value = decode_source(text)
        mapper = DocumentMapper(idx.mapping, doc_id)
        try:
            if value is _SLOW:             # not clean JSON: the precise parser says why
                root, trailing = parse_json(text)
                value = None if root is None else root.value
            mapper.parse(value)            # a mapping error comes before trailing data, as in ES
            if trailing is not None:
                raise DocError("failed to parse: Malformed content, found extra data after parsing: "
                               f"{token_at(text, trailing)}", pos=trailing)
        except DocError as e:                                    # [R-ITEM400]
            if root is None and value is not None:
                try:
                    root, _trailing = parse_json(text)
                except JsonSyntaxError as deep:   # clean JSON nested beyond Jackson's limit
                    return fail(400, _parse_failure(text, deep))
            return fail(400, e.item_error(text, root))
        except JsonSyntaxError as e:
            return fail(400, _parse_failure(text, e))
        except _TooDeep:                   # the precise parser raises Jackson's error at its place
            return fail(400, _parse_failure(text, _syntax_error(text)))
        idx.mapping.update(mapper.new)     # mapping updates stick even if the write then conflicts
        existing = idx.docs.get(doc_id)
        if op.action == "create" and existing is not None:       # [R-RESPONSE] 409 on create
            return fail(409, {"type": "version_conflict_engine_exception",
                              "reason": f"[{doc_id}]: version conflict, document already exists "
                                        f"(current version [{existing.version}])",
                              "index_uuid": idx.uuid, "shard": "0", "index": idx.name})
        version = existing.version + 1 if existing else 1
        seq = idx.take_seq_no()
        idx.docs[doc_id] = Doc(doc_id, text, version, seq)
        item = {"_index": idx.name, "_id": doc_id, "_version": version,
                "result": "updated" if existing else "created"}
        if forced_refresh:                 # DocWriteResponse writes it right after "result"
            item["forced_refresh"] = True
        item.update({"_shards": dict(SHARDS), "_seq_no": seq, "_primary_term": PRIMARY_TERM,
                     "status": 200 if existing else 201})
        return item

    # -- composable index templates [R-TEMPLATE] ----------------------------
    def put_template(self, name, t, create):
        """Store the template ``t`` (read_template_body's dict) under ``name``, checking
        it in the order Elasticsearch does: TransportPutComposableIndexTemplateAction's
        request validation, validateV2TemplateRequest (component templates), then on the
        master addIndexTemplateV2: ``create``, same-priority overlaps, normalization,
        validate (name, patterns), and finally the settings, aliases and mappings."""
        inner = t.get("template")
        patterns = t["index_patterns"]
        errors = []
        if inner is not None and "*" in patterns and "index.hidden" in inner.get("settings", {}):
            errors.append("global composable templates may not specify the setting index.hidden")
        if t.get("priority", 0) < 0:
            errors.append("index template priority must be >= 0")
        if errors:
            raise bad_request("Validation Failed: " + "".join(f"{i}: {e};" for i, e in enumerate(errors, 1)),
                              etype="action_request_validation_exception")
        # There are no component templates in the double: every one named is missing.
        ignored = t.get("ignore_missing_component_templates") or []
        missing = [c for c in t.get("composed_of", []) if c not in ignored]
        if missing:
            cause = (f"index template [{name}] specifies component templates {java_list(missing)} that do not exist"
                     if not ignored else
                     f"index template [{name}] specifies a missing component templates {java_list(missing)} that "
                     f"does not exist and is not part of 'ignore_missing_component_templates'")
            raise EsError(400, "invalid_index_template_exception",
                          f"index_template [{name}] invalid, cause [{cause}]")
        with self.lock:
            if create and name in self.templates:
                raise bad_request(f"index template [{name}] already exists")
            priority = t.get("priority", 0)
            overlaps = {other: o["index_patterns"] for other, o in sorted(self.templates.items())
                        if other != name and o.get("priority", 0) == priority
                        and any(patterns_overlap(a, b) for a in patterns for b in o["index_patterns"])}
            if overlaps:
                raise bad_request(
                    f"index template [{name}] has index patterns {java_list(patterns)} matching patterns from "
                    f"existing templates [{','.join(overlaps)}] with patterns "
                    f"({','.join(f'{n} => {java_list(p)}' for n, p in overlaps.items())}) that have the same "
                    f"priority [{priority}], multiple index templates may not match during index creation, "
                    f"please use a different priority")
            stored = normalize_template(t)
            tpl = stored.get("template", {})
            errors = template_validation_errors(name, patterns, tpl.get("settings"))
            if errors:
                raise EsError(400, "invalid_index_template_exception",
                              f"index_template [{name}] invalid, cause [Validation Failed: "
                              + "".join(f"{i}: {e};" for i, e in enumerate(errors, 1)) + "]")
            problem = settings_problem(tpl.get("settings", {}))
            if problem:
                raise unsupported(problem)
            alias_error = alias_problems(tpl.get("aliases", {}), patterns)
            if alias_error:
                raise alias_error
            problem = mapping_problem(tpl.get("mappings", {}))
            if problem:
                raise unsupported(problem)
            self.templates[name] = stored

    def get_templates(self, name, flat_settings=False):
        """[(name, rendered template)] for GET /_index_template[/{name}], sorted by name:
        all of them, those a ``*`` pattern matches, or the one named (404 if unknown)."""
        with self.lock:
            if name is None:
                names = sorted(self.templates)
            elif "*" in name:
                names = sorted(n for n in self.templates if glob_match(name, n))
            elif name in self.templates:
                names = [name]
            else:
                raise EsError(404, "resource_not_found_exception", f"index template matching [{name}] not found")
            return [(n, render_template(self.templates[n], flat_settings)) for n in names]

    def delete_templates(self, names):
        """MetadataIndexTemplateService.innerRemoveIndexTemplateV2: several names must all
        exist; a single one may be a ``*`` pattern, which must match one (but ``*`` alone
        may match none)."""
        with self.lock:
            if len(names) > 1:
                missing = [n for n in dict.fromkeys(names) if n not in self.templates]
                if missing:
                    raise EsError(404, "index_template_missing_exception",
                                  f"index_template [{','.join(missing)}] missing")
                matched = set(names)
            else:
                matched = {n for n in self.templates if glob_match(names[0], n)}
                if not matched and names[0] != "*":
                    raise EsError(404, "index_template_missing_exception", f"index_template [{names[0]}] missing")
            for n in matched:
                del self.templates[n]

    def templates_dump(self):
        """GET /_double/templates: {name: template as GET renders it}."""
        with self.lock:
            return {n: render_template(t) for n, t in sorted(self.templates.items())}

    def record_template_put(self, acknowledged):
        with self.lock:
            self.counters["index_template_puts"] += 1
            if acknowledged:
                self.counters["index_template_puts_acknowledged"] += 1

    # -- counters and side views [R-COUNTERS] --------------------------------
    def record_bulk(self, entry, raw_len, gzip):
        with self.lock:
            self.counters["bulk_requests"] += 1
            if self.counters["index_template_puts_acknowledged"] == 0:
                self.counters["bulk_requests_before_template"] += 1
            self.counters["bulk_bytes"] += raw_len
            if gzip:
                self.counters["gzip_requests"] += 1
            self.requests.append(entry)

    def stats(self):
        """The counters of GET /_double/stats [R-COUNTERS]:

        bulk_requests        requests to a bulk path (POST|PUT /_bulk, /{index}/_bulk) that
                             reached the double while it was not down or restarting and were
                             not reset by reset_next, whatever the answer (401, 413, 400,
                             429/503 faults, dropped and truncated ones included);
        bulk_bytes           their bodies as received (before decompression);
        gzip_requests        those of them with Content-Encoding: gzip;
        items                per-item outcomes: created, updated, conflict_409, rejected_429,
                             mapping_400 (document_parsing_exception), other_4xx (bad index
                             name, 403);
        items_by_status      {"201": n, "409": n, ...}: every bulk item by its status;
        indices              {name: {"docs": realtime document count}};
        requests_413         requests answered 413 (any path);
        requests_rejected    whole-request 429/503 injected by request_status;
        dropped_connections  bulk requests reset by drop_after_index;
        truncated_responses  bulk responses cut short by truncate_body;
        requests_401         requests refused for missing or wrong credentials;
        down_closed          connections reset because of down=true;
        resets_before_index  bulk requests reset unread by reset_next;
        restart_closed       connections reset because of restart_ms (during the restart, or
                             opened before it);
        tls_handshake_failures  [R-TLS] connections whose TLS handshake failed, timed out or
                             was never finished (plain HTTP to the TLS port, a client not
                             trusting the certificate, no or a bad client certificate ...);
        index_template_puts  [R-TEMPLATE] requests to PUT|POST /_index_template/{name} that
                             reached the double while it was not down or restarting, whatever
                             the answer (401, 413, 400 ... included);
        index_template_puts_acknowledged  those of them answered 200 {"acknowledged": true}.
        bulk_requests_before_template  bulk requests counted in bulk_requests while no index
                             template PUT had been acknowledged yet (since the last reset): what
                             a real cluster would index with dynamic mappings only.
        """
        with self.lock:
            out = json.loads(json.dumps(self.counters))
            out["indices"] = {name: {"docs": len(idx.docs)} for name, idx in self.indices.items()}
            if self.opensearch:
                out["ism_policies"] = {k: v["policy"] for k, v in self.ism_policies.items()}
            if self.signatures is not None:
                out["sigv4_keys"] = sorted(getattr(self, "_keys", set()))
                out.setdefault("sigv4_refused", 0)
            return out

    def note_key(self, akid):
        """[OS-SIGV4] an access key whose signature was accepted."""
        with self.lock:
            if not hasattr(self, "_keys"):
                self._keys = set()
            self._keys.add(akid)

    def docs_dump(self, name):
        """The JSON text of GET /_double/docs/{index}, sources byte for byte, or None."""
        with self.lock:
            idx = self.indices.get(name)
            if idx is None:
                return None
            return "[" + ",".join(f'{{"_id":{_DUMPS(d.id)},"_source":{d.text},"_version":{d.version}}}'
                                  for d in idx.docs.values()) + "]"

    def request_log(self):
        with self.lock:
            return list(self.requests)


# ---------------------------------------------------------------------------
# REST endpoints: one function per endpoint, (state, request) -> Response
# ---------------------------------------------------------------------------

class Request:
    __slots__ = ("method", "path", "params", "query", "body", "principal", "started", "record")

    def __init__(self, **kw):
        for k in self.__slots__:
            setattr(self, k, kw.get(k))


class Response:
    def __init__(self, status, body=None, headers=None, filterable=True, fault=None):
        self.status = status
        self.body = body               # a JSON value, or str for pre-encoded JSON text
        self.headers = list(headers or [])
        self.filterable = filterable   # filter_path applies to successful responses only
        self.fault = fault             # [R-FAULTS] "drop" | "truncate" | None


def check_params(req, allowed, unsupported_params=()):
    """Elasticsearch rejects query parameters an endpoint does not consume."""
    for k in sorted(req.query):
        if k in unsupported_params:
            raise unsupported(f"the [{k}] parameter")
    unknown = sorted(k for k in req.query if k not in allowed and k not in COMMON_PARAMS
                     and k not in unsupported_params)
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


# -- GET / HEAD / [R-ROOT] ---------------------------------------------------

def api_root(state, req):
    check_params(req, set())
    if state.opensearch == "serverless":                         # [OS-ROOT]
        return Response(404, None if req.method == "HEAD" else {"message": "Not Found"}, filterable=False)
    body = opensearch.ROOT_BODY if state.opensearch else ROOT_BODY
    return Response(200, None if req.method == "HEAD" else body)


# -- bulk [R-PARAMS] [R-NDJSON] [R-RESPONSE] -----------------------------------

BULK_PARAMS = {"refresh", "pipeline", "routing", "timeout", "wait_for_active_shards"}
# Bulk parameters Elasticsearch knows and the double does not model.
BULK_UNSUPPORTED_PARAMS = {"require_alias", "require_data_stream", "_source", "_source_excludes",
                           "_source_includes", "list_executed_pipelines", "include_source_on_error"}


def api_bulk(state, req):
    check_params(req, BULK_PARAMS, BULK_UNSUPPORTED_PARAMS)
    refresh = req.query.get("refresh")
    if refresh not in (None, "", "true", "false", "wait_for"):
        raise bad_request(f"Unknown value for refresh: [{refresh}].")
    ops = parse_bulk_body(req.body, req.params.get("index"))
    req.record["actions"] = len(ops)
    validate_ops(ops)
    fault = state.take_request_fault(len(req.body))      # [R-REQ429] nothing indexed
    if fault is not None:
        raise fault
    items = state.execute_bulk(ops, principal=req.principal, forced_refresh=refresh in ("", "true"))
    body = {"took": max(0, int((time.monotonic() - req.started) * 1000)),
            "errors": any("error" in next(iter(item.values())) for item in items),
            "items": items}
    return Response(200, body, fault=state.take_connection_fault())


# -- composable index templates [R-TEMPLATE] ------------------------------------

TEMPLATE_PUT_PARAMS = {"create", "cause", "master_timeout"}
TEMPLATE_GET_PARAMS = {"local", "master_timeout", "flat_settings", "include_defaults"}
TEMPLATE_DELETE_PARAMS = {"master_timeout", "timeout"}


def bool_param(req, name):
    """RestRequest.paramAsBoolean with default false: present without a value means true."""
    v = req.query.get(name)
    if v is None:
        return False
    if v == "":
        return True
    if v in ("true", "false"):
        return v == "true"
    raise bad_request(f"Failed to parse value [{v}] as only [true] or [false] are allowed.")


def check_time_param(req, name):
    """TimeValue.parseTimeValue of a query parameter."""
    v = req.query.get(name)
    if v is not None and not _TIME_VALUE_RE.fullmatch(v.strip().lower()):
        raise bad_request(f"failed to parse setting [{name}] with value [{v}] as a time value: unit is missing "
                          f"or unrecognized")


def check_no_body(req):
    """BaseRestHandler: a body the endpoint does not read is refused."""
    if req.body:
        raise bad_request(f"request [{req.method} {req.path}] does not support having a body")


def api_template_put(state, req):
    """PUT|POST /_index_template/{name}: RestPutComposableIndexTemplateAction's order
    (master_timeout, create, the body, then unknown parameters)."""
    check_time_param(req, "master_timeout")
    create = bool_param(req, "create")
    body = req.body
    if state.opensearch:                                                 # [OS-MAPPING]
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        refusal = opensearch.template_refusal(parsed) if isinstance(parsed, dict) else None
        if refusal:
            return Response(400, refusal, filterable=False)
    template = read_template_body(body)
    check_params(req, TEMPLATE_PUT_PARAMS)
    state.put_template(req.params["name"], template, create)
    return Response(200, {"acknowledged": True})


def api_template_get(state, req):
    """GET|HEAD /_index_template[/{name}]: 404 with an empty list when a ``*`` pattern
    matches nothing, the resource_not_found_exception envelope for an unknown name."""
    bool_param(req, "local")
    check_time_param(req, "master_timeout")
    bool_param(req, "include_defaults")
    check_params(req, TEMPLATE_GET_PARAMS)
    check_no_body(req)
    name = req.params.get("name")
    found = state.get_templates(name, flat_settings=bool_param(req, "flat_settings"))
    body = {"index_templates": [{"name": n, "index_template": t} for n, t in found]}
    return Response(200 if found or name is None else 404, None if req.method == "HEAD" else body)


def api_template_delete(state, req):
    """DELETE /_index_template/{name}: comma-separated names, or one ``*`` pattern."""
    check_time_param(req, "master_timeout")
    check_time_param(req, "timeout")
    check_params(req, TEMPLATE_DELETE_PARAMS)
    check_no_body(req)
    names = req.params["name"].split(",")
    while names and names[-1] == "":          # Java's String.split drops trailing empty strings
        names.pop()
    if not names:
        raise unsupported(f"the template name [{req.params['name']}]")
    state.delete_templates(names)
    return Response(200, {"acknowledged": True})


def api_ism_get(state, req):
    """[OS-ISM] GET|HEAD /_plugins/_ism/policies/{name}."""
    with state.lock:
        p = state.ism_policies.get(req.params["name"])
    if p is None:
        return Response(404, opensearch.ism_error(404, "status_exception", "Policy not found"), filterable=False)
    return Response(200, None if req.method == "HEAD" else {
        "_id": req.params["name"], "_version": p["version"], "_seq_no": p["seq_no"], "_primary_term": 1,
        "policy": p["policy"]})


def api_ism_put(state, req):
    """[OS-ISM] PUT /_plugins/_ism/policies/{name}."""
    name = req.params["name"]
    try:
        body = json.loads(req.body or b"null")
    except ValueError as e:
        return Response(400, opensearch.ism_error(400, "parse_exception", str(e)), filterable=False)
    problem = opensearch.ism_problem(body)
    if problem:
        return Response(400, opensearch.ism_error(400, "illegal_argument_exception", problem), filterable=False)
    with state.lock:
        old = state.ism_policies.get(name)
        seq = req.query.get("if_seq_no")
        if old is not None and (seq is None or int(seq) != old["seq_no"]):
            return Response(409, opensearch.ism_error(
                409, "version_conflict_engine_exception",
                f"[{name}]: version conflict, document already exists (current version [{old['version']}])"),
                filterable=False)
        version = 1 if old is None else old["version"] + 1
        state.ism_seq = getattr(state, "ism_seq", -1) + 1
        state.ism_policies[name] = {"policy": body["policy"], "version": version, "seq_no": state.ism_seq}
    return Response(201 if old is None else 200, {"_id": name, "_version": version, "_primary_term": 1,
                                                  "_seq_no": state.ism_seq, "policy": {"policy": body["policy"]}})


OPENSEARCH_ROUTES = [
    (("GET", "HEAD"), ("_plugins", "_ism", "policies", "{name}"), api_ism_get),
    (("PUT",), ("_plugins", "_ism", "policies", "{name}"), api_ism_put),
]


# ---------------------------------------------------------------------------
# Routing
# ---------------------------------------------------------------------------

ROUTES = [
    (("GET", "HEAD"), (), api_root),
    (("POST", "PUT"), ("_bulk",), api_bulk),
    (("POST", "PUT"), ("{index}", "_bulk"), api_bulk),
    (("GET", "HEAD"), ("_index_template",), api_template_get),
    (("GET", "HEAD"), ("_index_template", "{name}"), api_template_get),
    (("POST", "PUT"), ("_index_template", "{name}"), api_template_put),
    (("DELETE",), ("_index_template", "{name}"), api_template_delete),
]


def match_route(method, path, uri):
    """(handler, path params); SimpleError 400 "no handler" or 405 like Elasticsearch.
    OPTIONS answers (None, {"allow": ...})."""
    stripped = path.strip("/")
    segs = [urllib.parse.unquote(s) for s in stripped.split("/")] if stripped else []
    candidates = []
    for methods, pattern, handler in ROUTES:
        if len(pattern) != len(segs):
            continue
        params = {}
        for p, s in zip(pattern, segs):
            if p.startswith("{"):
                if s == "" or s.startswith("_"):     # "_..." is an API name, not an index
                    break
                params[p[1:-1]] = s
            elif p != s:
                break
        else:
            candidates.append((methods, handler, params))
    if not candidates:
        raise SimpleError(400, f"no handler found for uri [{uri}] and method [{method}]")
    for methods, handler, params in candidates:
        if method in methods:
            return handler, params
    allowed = sorted({m for c in candidates for m in c[0]})
    if method == "OPTIONS":
        return None, {"allow": ",".join(allowed)}
    raise SimpleError(405, f"Incorrect HTTP method for uri [{uri}] and method [{method}], allowed: "
                           f"[{', '.join(allowed)}]", headers=[("Allow", ",".join(allowed))])


def is_bulk_path(path):
    segs = path.strip("/").split("/")
    return segs[-1] == "_bulk" and len(segs) in (1, 2)


def is_template_put(method, path):
    """PUT|POST /_index_template/{name}, as match_route reads the name."""
    segs = path.strip("/").split("/")
    return (method in ("POST", "PUT") and len(segs) == 2 and segs[0] == "_index_template"
            and urllib.parse.unquote(segs[1])[:1] not in ("", "_"))


# ---------------------------------------------------------------------------
# Control API under /_double/ [R-FAULTS] [R-COUNTERS]
# ---------------------------------------------------------------------------

def control_dispatch(state, method, path, body):
    """(status, JSON value or pre-encoded JSON text) for a /_double/ request."""
    seg = path[len("/_double/"):].strip("/") if path.startswith("/_double/") else ""

    def parsed_body():
        if not body or not body.strip():
            return {}
        try:
            return json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise ControlError(400, f"invalid JSON body: {e}") from None

    routes = {"reset": ("POST",), "faults": ("GET", "POST"), "stats": ("GET",), "requests": ("GET",),
              "docs/": ("GET",), "templates": ("GET",)}
    name = "docs/" if seg.startswith("docs/") and len(seg) > len("docs/") else seg
    allowed = routes.get(name)
    if allowed is None:
        raise ControlError(404, f"unknown control endpoint [{path}]; known: /_double/reset, /_double/faults, "
                                f"/_double/stats, /_double/docs/{{index}}, /_double/templates, /_double/requests")
    if method not in allowed:
        raise ControlError(405, f"[{path}] accepts {list(allowed)}, not {method}")
    if name == "reset":
        state.reset()
        return 200, {"acknowledged": True}
    if name == "faults":
        if method == "GET":
            return 200, state.faults_view()
        return 200, {"acknowledged": True, "faults": state.set_faults(parsed_body())}
    if name == "stats":
        return 200, state.stats()
    if name == "requests":
        return 200, state.request_log()
    if name == "templates":
        return 200, state.templates_dump()
    index = urllib.parse.unquote(seg[len("docs/"):])
    docs = state.docs_dump(index)
    if docs is None:
        raise ControlError(404, f"no such index [{index}]")
    return 200, docs


# ---------------------------------------------------------------------------
# HTTP server and request handler
# ---------------------------------------------------------------------------

class DoubleServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, state, verbose=False, ssl_context=None):
        self.state = state
        self.verbose = verbose
        self.ssl_context = ssl_context     # [R-TLS] None: plain HTTP
        self._abort_lock = threading.Lock()
        self._aborted = set()
        super().__init__(address, Handler)

    def process_request_thread(self, request, client_address):
        """[R-TLS] The handshake runs here, in the connection's thread, not in
        accept(): a client that stalls or fails it cannot hold up the others."""
        if self.ssl_context is not None:
            request = self._tls_handshake(request, client_address)
            if request is None:
                return
        super().process_request_thread(request, client_address)

    def _tls_handshake(self, sock, client_address):
        """The connection wrapped in TLS, or None (closed, counted) when the handshake fails."""
        tls = None
        try:
            sock.settimeout(TLS_HANDSHAKE_TIMEOUT)
            tls = self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
            tls.do_handshake()
            tls.settimeout(None)           # as accepted plain connections: blocking
            return tls
        except OSError as e:               # ssl.SSLError and timeouts included
            self.state.bump("tls_handshake_failures")
            if self.verbose:
                sys.stderr.write(f"es_double: {client_address[0]} - TLS handshake failed: {e}\n")
            (tls or sock).close()
            return None

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

    def setup(self):
        super().setup()
        # [R-FAULTS] restart_ms: a connection opened before a restart belongs to the old process.
        self._epoch = self.server.state.restart_epoch

    def handle_expect_100(self):
        # The connection faults reset instead of sending "100 Continue".
        path = urllib.parse.urlsplit(self.path).path
        if not _is_control(path) and self._reset_early(self.command, path):
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
    def _reset_early(self, method, path):
        """[R-FAULTS] down, restart_ms and reset_next: reset a non-control request
        as soon as its request line and headers are read, body unread.  True when
        the connection was reset.  down first, then a restart, then reset_next,
        which is therefore used up only by a bulk request that would have been read."""
        state = self.server.state
        if state.fault("down"):
            state.bump("down_closed")
        elif state.restart_resets(self._epoch):
            state.bump("restart_closed")
        elif not (method in ("POST", "PUT") and is_bulk_path(path) and state.take_reset_next()):
            return False
        self._abort()
        return True

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
                    self.close_connection = True
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
        elif isinstance(resp.body, str):
            payload = resp.body.encode("utf-8")
        else:
            obj = resp.body
            if resp.filterable and query.get("filter_path"):
                obj = apply_filter_path(obj, query["filter_path"])
            if "pretty" in query and query["pretty"] != "false":
                payload = (json.dumps(obj, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
            else:
                payload = _DUMPS(obj).encode("utf-8")
        self.send_response(resp.status)
        self.send_header("X-Elastic-Product", "Elasticsearch")            # [R-PRODUCT]
        if resp.body is not None:
            self.send_header("Content-Type", ctype)
        for k, v in resp.headers:
            self.send_header(k, v)
        self.send_header("Content-Length", "0" if method == "HEAD" else str(len(payload)))
        self.end_headers()
        if method == "HEAD" or not payload:
            return
        if resp.fault == "truncate":                                      # [R-FAULTS] truncate_body
            # Full headers, half the body, then an orderly close: the client
            # sees the connection end before Content-Length bytes arrived.
            self.wfile.write(payload[:len(payload) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
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
        if self._reset_early(method, path):         # [R-FAULTS] down, restart_ms, reset_next
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
            record["status"] = None if resp.fault == "drop" else resp.status
            state.record_bulk(record, self._raw_len, self._gzip)
        if is_template_put(method, path):                                 # [R-TEMPLATE] [R-COUNTERS]
            state.record_template_put(resp.status == 200)
        if resp.fault == "drop":                                          # [R-FAULTS] drop_after_index
            state.bump("dropped_connections")
            self._abort()
            return
        if is_bulk:
            latency = state.fault("latency_ms")
            if latency:
                time.sleep(latency / 1000.0)
        if resp.fault == "truncate":
            state.bump("truncated_responses")
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
        encoding = (self.headers.get("Content-Encoding") or "").strip().lower()
        self._gzip = encoding in ("gzip", "x-gzip")
        # The body is read before answering anything, so the connection stays in sync.
        raw, self._raw_len, too_large = self._read_body(HARD_BODY_CAP if self._gzip else limit)
        self._ctype = response_type(self.headers.get("Accept"))            # [R-COMPAT]
        if state.signatures is not None:                                    # [OS-SIGV4]
            try:
                akid = state.signatures.check(method, self.path, self._lower_headers(), raw)
            except opensearch.Refused as e:
                state.bump("sigv4_refused")
                return Response(403, {"message": str(e)}, filterable=False)
            state.note_key(akid)
        # [R-AUTH] Elasticsearch authenticates the headers before it looks at the body.
        principal = state.authenticate(self.headers.get("Authorization"), self.path)
        if too_large:
            raise TooLarge()
        body = gunzip(raw, limit) if self._gzip else raw                  # [R-GZIP] [R-413]
        if body:                                                          # [R-CTYPE]
            ctype_header = self.headers.get("Content-Type")
            if ctype_header is None or not ctype_header.strip():
                raise SimpleError(406, "Content-Type header is missing")
            check_body_media_type(ctype_header)
        handler, params = match_route(method, path, self.path)
        if handler is None:   # OPTIONS
            return Response(200, None, headers=[("Allow", params["allow"])])
        if query.get("filter_path"):
            check_filter_path(query["filter_path"])
        req = Request(method=method, path=path, params=params, query=query, body=body,
                      principal=principal, started=started, record=record)
        return handler(state, req)

    def _handle_control(self, method, path):
        state = self.server.state
        try:
            raw, _n, _big = self._read_body(HARD_BODY_CAP)
            if (self.headers.get("Content-Encoding") or "").strip().lower() in ("gzip", "x-gzip"):
                raw = gunzip(raw, HARD_BODY_CAP)
            status, obj = control_dispatch(state, method, path, raw)
            resp = Response(status, obj, filterable=False)
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

def tls_context(cert, key, client_ca=None):
    """[R-TLS] The server side: TLS 1.2 or later (nothing older is worth
    modelling), client certificates required when a CA is given."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    if client_ca:
        ctx.load_verify_locations(cafile=client_ca)
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def main(argv=None):
    ap = argparse.ArgumentParser(description="Elasticsearch 8 test double (see the module docstring).")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port")
    ap.add_argument("--port-file", help="write the bound port (digits and a newline) here")
    ap.add_argument("--refresh-interval", type=float, default=1.0,
                    help="accepted for compatibility and ignored: the double serves nothing that needs refreshes")
    ap.add_argument("--verbose", action="store_true", help="log every request on stderr")
    ap.add_argument("--tls-cert", metavar="PEM", help="serve HTTPS with this certificate (chain); needs --tls-key")
    ap.add_argument("--tls-key", metavar="PEM", help="the private key of --tls-cert")
    ap.add_argument("--tls-client-ca", metavar="PEM",
                    help="require client certificates signed by a CA in this file (needs --tls-cert)")
    ap.add_argument("--opensearch", choices=["managed", "serverless"],
                    help="behave as an Amazon OpenSearch domain or Serverless collection [OS-*]")
    ap.add_argument("--sigv4-region", help="require SigV4 signatures scoped to this region [OS-SIGV4]")
    ap.add_argument("--sigv4-secret-prefix", help="the secret of access key K is this prefix + K")
    ap.add_argument("--sigv4-moto", metavar="URL", help="look up keys moto's STS issued")
    args = ap.parse_args(argv)
    ssl_context = None
    if args.tls_cert or args.tls_key or args.tls_client_ca:       # [R-TLS]
        if not (args.tls_cert and args.tls_key):
            ap.error("--tls-cert and --tls-key go together, and --tls-client-ca needs both")
        try:
            ssl_context = tls_context(args.tls_cert, args.tls_key, args.tls_client_ca)
        except (OSError, ValueError) as e:                        # ssl.SSLError is an OSError
            ap.error(f"cannot load the TLS files: {e}")

    def on_signal(signum, _frame):
        raise SystemExit(0)

    # Before the port is announced: a harness may stop the double as soon as it is up.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    sys.setrecursionlimit(20000)      # JSON nesting up to Jackson's 1000 levels
    threading.stack_size(16 * 1024 * 1024)
    state = State()
    state.opensearch = args.opensearch
    if args.opensearch:                                  # [OS-ISM]
        ROUTES.extend(OPENSEARCH_ROUTES)
        state.ism_policies = {}
    if args.opensearch:                                  # [OS-MAPPING] OpenSearch's types
        LEAF_FIELD_PARAMS["flat_object"] = {"depth_limit", "ignore_above", "index", "doc_values",
                                            "similarity", "null_value"}
        for missing in ("flattened", "constant_keyword"):
            LEAF_FIELD_PARAMS.pop(missing, None)
    if args.sigv4_region:
        state.signatures = opensearch.Signatures(
            args.sigv4_region, "aoss" if args.opensearch == "serverless" else "es",
            args.sigv4_secret_prefix, args.sigv4_moto)
    server = DoubleServer((args.host, args.port), state, verbose=args.verbose, ssl_context=ssl_context)
    port = server.server_address[1]
    if args.port_file:
        tmp = f"{args.port_file}.tmp{os.getpid()}"
        with open(tmp, "w") as f:
            f.write(f"{port}\n")
        os.replace(tmp, args.port_file)
    print(f"listening on {args.host}:{port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except (SystemExit, KeyboardInterrupt):
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
