"""What makes the Elasticsearch double an Amazon OpenSearch domain or Serverless collection
(``es_double.py --opensearch managed|serverless``): the signature check, OpenSearch's own answers.

[OS-SIGV4] Every request must carry an AWS Signature Version 4 ``Authorization`` header. The signature
is recomputed here with botocore's signer (``botocore.auth.SigV4Auth``), an implementation that is not
the shipper's, from the secret of the access key the request names: ``--sigv4-secret-prefix P`` gives
key ``K`` the secret ``P + K`` (so a test can hand out rotating keys), and ``--sigv4-moto URL`` looks up
keys moto's STS issued (AssumeRole) with their session token. The scope must name ``--sigv4-region``
and the service (``es`` for managed, ``aoss`` for serverless); ``X-Amz-Date`` must be within 15
minutes of now; ``X-Amz-Content-Sha256`` must be the SHA-256 of the body as received (compressed when
it is). A request that fails any of these is answered 403 with AWS's body
(``{"message": "..."}``), as the service does, and counted in ``sigv4_refused``; each accepted key is
counted in ``sigv4_keys``.

[OS-ROOT] ``GET /`` answers OpenSearch's body (``version.distribution: opensearch``); Serverless has no
``GET /`` (404).

[OS-ID] Serverless (time-series collections) refuses a document id: a ``create`` or ``index`` item with
``_id`` fails with status 400 and the service's reason.

[OS-ISM] ``GET|HEAD|PUT /_plugins/_ism/policies/{name}``: a policy is checked as the ISM plugin does
(``default_state`` and every transition name a state, known actions, ``ism_template`` with
``index_patterns``); an existing one is replaced only with ``if_seq_no`` and ``if_primary_term`` of the
version read (409 otherwise).  ``GET /_double/stats`` lists them under ``ism_policies``.

[OS-MAPPING] OpenSearch has no ``flattened`` and no ``constant_keyword``: an index template using them is
refused (400 ``mapper_parsing_exception``, "No handler for type [flattened] declared on field [x]");
``flat_object`` is accepted.
"""
import datetime
import hashlib
import json
import re
import urllib.parse
import urllib.request

OPENSEARCH_VERSION = "2.11.1"

ROOT_BODY = {
    "name": "opensearch-node1",
    "cluster_name": "123456789012:logs",
    "cluster_uuid": "tH7qzV4WQm2k2ZmQ4Yh5fA",
    "version": {
        "distribution": "opensearch",
        "number": OPENSEARCH_VERSION,
        "build_type": "tar",
        "build_hash": "unknown",
        "build_date": "2024-01-01T00:00:00Z",
        "build_snapshot": False,
        "lucene_version": "9.7.0",
        "minimum_wire_compatibility_version": "7.10.0",
        "minimum_index_compatibility_version": "7.0.0",
    },
    "tagline": "The OpenSearch Project: https://opensearch.org/",
}

IDS_REFUSED = "Document ID is not supported in create/index operation request"

AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, "
    r"SignedHeaders=([a-z0-9;\-]+), Signature=([0-9a-f]{64})$")


class Refused(Exception):
    """A request the service refuses (403)."""


class Signatures:
    def __init__(self, region, service, secret_prefix=None, moto_url=None):
        self.region = region
        self.service = service
        self.secret_prefix = secret_prefix
        self.moto_url = moto_url

    def _secret(self, akid):
        """(secret, session token or None) of ``akid``, or None."""
        if self.secret_prefix is not None and not akid.startswith("ASIA"):
            return self.secret_prefix + akid, None
        if self.moto_url:
            with urllib.request.urlopen(self.moto_url.rstrip("/") + "/moto-api/data.json", timeout=5) as r:
                data = json.load(r)
            for role in data.get("sts", {}).get("AssumedRole", []):
                if role.get("access_key_id") == akid:
                    return role["secret_access_key"], role["session_token"]
        return None

    def check(self, method, raw_path, headers, body):
        """Raises Refused with the service's message unless the request is signed right; returns the
        access key id."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        auth = headers.get("authorization", "")
        m = AUTH_RE.match(auth)
        if not m:
            raise Refused("Authorization header requires 'Credential' parameter. Authorization header "
                          "requires 'Signature' parameter. Authorization header requires 'SignedHeaders' "
                          "parameter. Authorization=" + auth)
        akid, day, region, service, signed, signature = m.groups()
        if region != self.region:
            raise Refused(f"Credential should be scoped to a valid region, not '{region}'. ")
        if service != self.service:
            raise Refused(f"Credential should be scoped to correct service: '{self.service}'. ")
        amz_date = headers.get("x-amz-date", "")
        try:
            when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            raise Refused("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
        now = datetime.datetime.now(datetime.timezone.utc)
        if abs((now - when).total_seconds()) > 15 * 60:
            raise Refused(f"Signature expired: {amz_date} is now earlier than "
                          f"{(now - datetime.timedelta(minutes=15)).strftime('%Y%m%dT%H%M%SZ')} "
                          f"({now.strftime('%Y%m%dT%H%M%SZ')} - 15 min.)")
        if day != amz_date[:8]:
            raise Refused("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP")
        if headers.get("x-amz-content-sha256") != hashlib.sha256(body).hexdigest():
            raise Refused("The provided 'x-amz-content-sha256' header does not match what was computed.")
        found = self._secret(akid)
        if found is None:
            raise Refused("The security token included in the request is invalid.")
        secret, token = found
        if token is not None and headers.get("x-amz-security-token") != token:
            raise Refused("The security token included in the request is invalid.")
        names = signed.split(";")
        if "host" not in names:
            raise Refused("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
        # The service reads the query's names and values and encodes them again (RFC 3986) for the
        # canonical request, whatever encoding the client sent: botocore does that from `params`.
        path, _, query = raw_path.partition("?")
        params = urllib.parse.parse_qsl(query, keep_blank_values=True)
        request = AWSRequest(method=method, url="http://" + headers["host"] + path, data=body,
                             params=params, headers={n: headers[n] for n in names if n in headers})
        request.context["timestamp"] = amz_date
        signer = SigV4Auth(Credentials(akid, secret, token), service, region)
        signer._modify_request_before_signing(request)
        canonical = signer.canonical_request(request)
        expected = signer.signature(signer.string_to_sign(request, canonical), request)
        if expected != signature:
            raise Refused("The request signature we calculated does not match the signature you provided. "
                          "Check your AWS Secret Access Key and signing method. Consult the service "
                          "documentation for details.")
        return akid


def template_refusal(body):
    """The mapper_parsing_exception OpenSearch answers for a template using a type it lacks, or None."""
    def walk(props, prefix):
        for name, m in (props or {}).items():
            if not isinstance(m, dict):
                continue
            t = m.get("type")
            if t in ("flattened", "constant_keyword"):
                return prefix + name, t
            found = walk(m.get("properties"), prefix + name + ".")
            if found:
                return found
        return None

    mappings = ((body or {}).get("template") or {}).get("mappings") or {}
    found = walk(mappings.get("properties"), "")
    if not found:
        return None
    field, t = found
    reason = f"No handler for type [{t}] declared on field [{field.rsplit('.', 1)[-1]}]"
    return {"error": {"root_cause": [{"type": "mapper_parsing_exception", "reason": reason}],
                      "type": "mapper_parsing_exception",
                      "reason": f"Failed to parse mapping [_doc]: {reason}",
                      "caused_by": {"type": "mapper_parsing_exception", "reason": reason}},
            "status": 400}


ISM_ACTIONS = {"rollover", "delete", "read_only", "read_write", "replica_count", "force_merge", "close",
               "open", "notification", "snapshot", "index_priority", "allocation", "shrink", "rollup",
               "transform", "alias"}


def ism_problem(body):
    """Why the ISM plugin would refuse this policy body, or None."""
    if not isinstance(body, dict) or not isinstance(body.get("policy"), dict):
        return "Required [policy] is missing"
    p = body["policy"]
    states = p.get("states")
    if not isinstance(states, list) or not states:
        return "Policy must have at least one state"
    names = [s.get("name") for s in states if isinstance(s, dict)]
    if p.get("default_state") not in names:
        return f"Policy default_state [{p.get('default_state')}] does not exist in the states"
    for st in states:
        for a in st.get("actions", []):
            unknown = set(a) - ISM_ACTIONS - {"timeout", "retry"}
            if unknown:
                return f"Invalid field: [{sorted(unknown)[0]}] found in Actions."
        for t in st.get("transitions", []):
            if t.get("state_name") not in names:
                return f"Policy contains a transition to a state that does not exist [{t.get('state_name')}]"
    for t in p.get("ism_template") or []:
        if not t.get("index_patterns"):
            return "ism_template requires index_patterns"
    return None


def ism_error(status, typ, reason):
    return {"error": {"root_cause": [{"type": typ, "reason": reason}], "type": typ, "reason": reason},
            "status": status}
