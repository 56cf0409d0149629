#!/usr/bin/env python
"""A fault-injecting reverse proxy in front of the local AWS stand-in (moto's server).

Every AWS call of a converge can be sent through it (point AWS_ENDPOINT_URL, or
MLOPS_LOCAL_AWS_PORT for inventories/local, at the proxy). It forwards to the stand-in
and, seeded and bounded, fails a share of the requests the ways real networks and AWS do:

    unavailable  HTTP 503 without forwarding, body in the service's protocol
    throttle     the service's throttling error without forwarding (RequestLimitExceeded
                 for EC2, Throttling for query services, ThrottlingException for JSON
                 services, SlowDown for S3), shaped so botocore parses the code
    reset        the client connection is reset (RST) without forwarding
    lost         the request is forwarded and takes effect, then the client connection is
                 reset instead of sending the response

or, with ``settle`` (Python only), makes a resource take time to become ready, as real AWS
does (an EKS cluster ~10 minutes, RDS 5-10, node groups 3-5): for a number of seconds after
a create succeeded, the describe calls of that kind answer "still creating" (a byte
substitution in the answer, e.g. ``"status": "ACTIVE"`` -> ``"status": "CREATING"``). The
stats then give each wait's interval, so a test can measure how far the waits overlapped;

or, with --kill-after OPERATION[:N] (no random faults), kills a process tree right after
the Nth call of OPERATION succeeded upstream and loses that call's response, as a user's
Ctrl-C/OOM/SIGKILL at the worst moment would.

Operations are named ``service:Operation`` (``ec2:CreateVpc``, ``kms:CreateKey``,
``s3:CreateBucket``; rest-json services without an operation header get
``guardduty:POST /admin/enable``). moto's own /moto-api/ paths are never faulted.

Counts (requests, faults by kind and by operation, operations forwarded and succeeded,
kills) are written as JSON to --stats on every change and on SIGTERM.

Standard library only. Usable from Python:

    with FaultProxy("http://127.0.0.1:5000", seed=1, rate=0.2) as proxy:
        ...  # proxy.url, proxy.port, proxy.stats()

Errors are one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import http.server
import json
import os
import random
import re
import signal
import socket
import struct
import sys
import threading
import time
import urllib.parse
import uuid

HOST = "127.0.0.1"
KINDS = ("unavailable", "throttle", "reset", "lost")
UPSTREAM_TIMEOUT = 120.0
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
              "trailers", "transfer-encoding", "upgrade"}
CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/]+/([^/]+)/aws4_request")


class ProxyError(Exception):
    """A failure to report as one line."""


# --- What a request is --------------------------------------------------------------


def service_of(headers) -> str:
    """The signing name from the SigV4 credential scope (``ec2``, ``s3``...), else ''."""
    match = CREDENTIAL_SCOPE.search(headers.get("Authorization", ""))
    if match:
        return match.group(1)
    # presigned URLs put the scope in the query; nothing of ours uses them
    return ""


def protocol_of(service: str, headers) -> str:
    """One of ec2, query, json, rest-json, rest-xml (S3)."""
    content_type = headers.get("Content-Type", "").lower()
    if headers.get("X-Amz-Target"):
        return "json"
    if service == "s3":
        return "rest-xml"
    if content_type.startswith("application/x-www-form-urlencoded"):
        return "ec2" if service == "ec2" else "query"
    if "json" in content_type:
        return "rest-json"
    if service == "ec2":
        return "ec2"
    if service in ("iam", "sts", "rds", "cloudformation", "sns", "elasticloadbalancing",
                   "autoscaling", "ses", "redshift", "elasticache", "docdb", "neptune"):
        return "query"
    return "rest-json"


def _s3_operation(method: str, path: str, query: str, host: str) -> str:
    parsed = urllib.parse.parse_qs(query, keep_blank_values=True)
    parts = [part for part in path.split("/") if part]
    name = host.split(":")[0]
    virtual = not re.fullmatch(r"[\d.]+|localhost", name) and ".s3" in name
    has_bucket = virtual or bool(parts)
    has_key = len(parts) > (0 if virtual else 1)
    verb = {"GET": "Get", "PUT": "Put", "DELETE": "Delete", "HEAD": "Head", "POST": "Post"}.get(method, method)
    if not has_bucket:
        return "ListBuckets" if method == "GET" else verb
    subresources = [key for key in parsed if key not in ("x-id", "prefix", "delimiter", "max-keys",
                                                         "continuation-token", "list-type", "encoding-type",
                                                         "versionId", "key-marker", "marker")]
    if has_key:
        if "uploads" in parsed or "uploadId" in parsed:
            return verb + "MultipartUpload"
        return verb + "Object" + "".join(sub[:1].upper() + sub[1:] for sub in subresources)
    if not subresources:
        if method == "GET":
            return "ListObjectsV2" if parsed.get("list-type") == ["2"] else "ListObjects"
        return {"PUT": "CreateBucket", "DELETE": "DeleteBucket", "HEAD": "HeadBucket"}.get(method, verb + "Bucket")
    sub = subresources[0]
    return verb + "Bucket" + "".join(piece[:1].upper() + piece[1:] for piece in re.split(r"[-_]", sub))


# rest-json services name an operation by its method and path only. The EKS operations the
# collection calls, by botocore's model (eks/2017-11-01/service-2.json, requestUri), so that
# kills, faults and settling can name them; others stay "METHOD path".
REST_JSON_ROUTES = {
    "eks": [(method, re.compile(pattern), name) for method, pattern, name in (
        ("POST", r"^/clusters$", "CreateCluster"),
        ("GET", r"^/clusters$", "ListClusters"),
        ("GET", r"^/clusters/[^/]+$", "DescribeCluster"),
        ("POST", r"^/clusters/[^/]+/update-config$", "UpdateClusterConfig"),
        ("POST", r"^/clusters/[^/]+/updates$", "UpdateClusterVersion"),
        ("POST", r"^/clusters/[^/]+/node-groups$", "CreateNodegroup"),
        ("GET", r"^/clusters/[^/]+/node-groups$", "ListNodegroups"),
        ("GET", r"^/clusters/[^/]+/node-groups/[^/]+$", "DescribeNodegroup"),
        ("DELETE", r"^/clusters/[^/]+/node-groups/[^/]+$", "DeleteNodegroup"),
        ("POST", r"^/clusters/[^/]+/node-groups/[^/]+/update-config$", "UpdateNodegroupConfig"),
        ("POST", r"^/clusters/[^/]+/node-groups/[^/]+/update-version$", "UpdateNodegroupVersion"),
        ("POST", r"^/clusters/[^/]+/addons$", "CreateAddon"),
        ("POST", r"^/clusters/[^/]+/access-entries$", "CreateAccessEntry"),
        ("POST", r"^/clusters/[^/]+/pod-identity-associations$", "CreatePodIdentityAssociation"),
        ("POST", r"^/tags/.+$", "TagResource"),
    )],
}


def operation_of(service: str, method: str, path: str, headers, body: bytes) -> str:
    """``service:Operation`` for counting and for --kill-after."""
    target = headers.get("X-Amz-Target")
    raw_path, _separator, query = path.partition("?")
    if target:
        operation = target.rsplit(".", 1)[-1]
    elif service == "s3":
        operation = _s3_operation(method, raw_path, query, headers.get("Host", ""))
    else:
        fields = urllib.parse.parse_qs(query)
        if not fields.get("Action") and body and "x-www-form-urlencoded" in headers.get("Content-Type", ""):
            fields = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        if fields.get("Action"):
            operation = fields["Action"][0]
        else:
            unquoted = urllib.parse.unquote(raw_path)
            operation = next((name for route_method, pattern, name in REST_JSON_ROUTES.get(service, [])
                              if route_method == method and pattern.match(unquoted)), "%s %s" % (method, raw_path))
    return "%s:%s" % (service or "unknown", operation)


def operation_matches(spec: str, operation: str) -> bool:
    """``CreateVpc`` matches ``ec2:CreateVpc``; ``ec2:CreateVpc`` matches only itself."""
    return spec == operation or (":" not in spec and operation.split(":", 1)[1] == spec)


# --- Canned errors ------------------------------------------------------------------


def error_response(kind: str, protocol: str) -> tuple[int, dict, bytes]:
    """(status, headers, body) of a 503 or throttling answer botocore parses to a code."""
    request_id = str(uuid.uuid4())
    if kind == "throttle":
        code = {"ec2": "RequestLimitExceeded", "query": "Throttling", "json": "ThrottlingException",
                "rest-json": "ThrottlingException", "rest-xml": "SlowDown"}[protocol]
        status = 503 if protocol in ("ec2", "rest-xml") else 400
        message = "Rate exceeded" if protocol != "rest-xml" else "Please reduce your request rate."
    else:
        code, status, message = "ServiceUnavailable", 503, "Service is unavailable, please retry."
    headers = {"x-amzn-RequestId": request_id}
    if protocol == "ec2":
        body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>%s</Code>"
                "<Message>%s</Message></Error></Errors><RequestID>%s</RequestID></Response>"
                % (code, message, request_id))
        headers["Content-Type"] = "text/xml;charset=UTF-8"
    elif protocol == "query":
        body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse><Error><Type>%s</Type><Code>%s</Code>"
                "<Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>"
                % ("Sender" if kind == "throttle" else "Receiver", code, message, request_id))
        headers["Content-Type"] = "text/xml"
    elif protocol == "rest-xml":
        body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code><Message>%s</Message>"
                "<RequestId>%s</RequestId></Error>" % (code, message, request_id))
        headers["Content-Type"] = "application/xml"
    else:
        body = json.dumps({"__type": code, "message": message})
        headers["Content-Type"] = ("application/x-amz-json-1.1" if protocol == "json" else "application/json")
        headers["x-amzn-ErrorType"] = code
    return status, headers, body.encode()


# --- Killing a process tree ---------------------------------------------------------


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def process_tree(pid: int) -> list[int]:
    """pid and every descendant, by parent pid (not by process group or session)."""
    children = _children_map()
    tree, queue = [], [pid]
    while queue:
        current = queue.pop()
        if current in tree:
            continue
        tree.append(current)
        queue.extend(children.get(current, []))
    return tree


def kill_tree(pid: int) -> list[int]:
    """SIGSTOP the tree (so nothing forks away), re-walk until stable, then SIGKILL all of it."""
    stopped: list[int] = []
    for _round in range(10):
        tree = process_tree(pid)
        new = [member for member in tree if member not in stopped]
        if not new:
            break
        for member in new:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(member, signal.SIGSTOP)
            stopped.append(member)
    for member in reversed(stopped):  # leaves first
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(member, signal.SIGKILL)
    return stopped


# --- The proxy ----------------------------------------------------------------------


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


class FaultProxy:
    """The proxy, as an object: ``start()``/``stop()`` or a context manager."""

    def __init__(self, upstream: str, port: int = 0, seed: int = 0, rate: float = 0.0,
                 max_faults: int | None = None, kinds=KINDS, stats_path: str | None = None,
                 kill_after: str | None = None, kill_pid: int | None = None,
                 events_path: str | None = None, settle: list[dict] | None = None) -> None:
        parsed = urllib.parse.urlsplit(upstream)
        if parsed.scheme != "http" or not parsed.hostname:
            raise ProxyError("upstream must be an http:// URL, not %r" % upstream)
        unknown = set(kinds) - set(KINDS)
        if unknown:
            raise ProxyError("unknown fault kind(s) %s; known: %s" % (", ".join(sorted(unknown)), ", ".join(KINDS)))
        if not 0.0 <= rate <= 1.0:
            raise ProxyError("rate must be between 0 and 1, not %s" % rate)
        self.upstream = (parsed.hostname, parsed.port or 80)
        self.requested_port = port
        self.rate = rate
        self.max_faults = max_faults
        self.kinds = tuple(kinds)
        self.stats_path = stats_path
        self.events_path = events_path
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._kill: dict | None = None
        self._stats = {"seed": seed, "rate": rate, "requests": 0, "faults": {kind: 0 for kind in KINDS},
                       "faults_by_operation": {}, "operations": {}, "succeeded": {}, "kills": [], "waits": []}
        if kill_after:
            self.arm_kill(kill_after, kill_pid)
        # Each: {create, describe, seconds, ready: bytes, pending: bytes}; its waits go to stats.
        self._settle = [dict(rule) for rule in settle or []]
        for rule in self._settle:
            if rule.get("seconds", 0) <= 0 or not rule.get("ready") or rule.get("pending") is None:
                raise ProxyError("a settle rule needs seconds > 0, ready and pending bytes: %r" % (rule,))

    # lifecycle
    def start(self) -> FaultProxy:
        try:
            self._server = _Server((HOST, self.requested_port), self._handler_class())
        except OSError as exc:
            raise ProxyError("cannot listen on %s:%s: %s" % (HOST, self.requested_port, exc.strerror or exc)) from None
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="aws-fault-proxy", daemon=True)
        self._thread.start()
        self._write_stats()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self._write_stats()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "the proxy is not started"
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return "http://%s:%d" % (HOST, self.port)

    # control
    def arm_kill(self, spec: str, pid: int | None) -> None:
        """Kill pid's process tree after the Nth success of an operation (``CreateVpc:2``)."""
        operation, _separator, count = spec.rpartition(":")
        if not operation or not count.isdigit():
            operation, count = spec, "1"
        if not operation or int(count) < 1:
            raise ProxyError("--kill-after wants OPERATION[:N], not %r" % spec)
        nth = int(count)
        with self._lock:
            self._kill = {"operation": operation, "nth": nth, "seen": 0, "pid": pid}

    def disarm(self) -> None:
        with self._lock:
            self._kill = None

    def set_faults(self, rate: float, seed: int | None = None, max_faults: int | None = None) -> None:
        with self._lock:
            self.rate = rate
            self.max_faults = max_faults
            if seed is not None:
                self._random = random.Random(seed)
                self._stats["seed"] = seed
            self._stats["rate"] = rate

    def stats(self) -> dict:
        with self._lock:
            return json.loads(json.dumps(self._stats))

    def reset_stats(self) -> None:
        with self._lock:
            seed, rate = self._stats["seed"], self._stats["rate"]
            self._stats = {"seed": seed, "rate": rate, "requests": 0, "faults": {kind: 0 for kind in KINDS},
                           "faults_by_operation": {}, "operations": {}, "succeeded": {}, "kills": [], "waits": []}
        self._write_stats()

    # internals
    def _write_stats(self) -> None:
        if not self.stats_path:
            return
        with self._lock:
            text = json.dumps(self._stats, indent=1, sort_keys=True)
        temporary = "%s.%d.tmp" % (self.stats_path, threading.get_ident())
        with open(temporary, "w") as handle:
            handle.write(text)
        os.replace(temporary, self.stats_path)

    def _decide(self, operation: str) -> str | None:
        with self._lock:
            self._stats["requests"] += 1
            self._stats["operations"][operation] = self._stats["operations"].get(operation, 0) + 1
            if self._kill is not None or self.rate <= 0:
                return None
            if self.max_faults is not None and sum(self._stats["faults"].values()) >= self.max_faults:
                return None
            if self._random.random() >= self.rate:
                return None
            kind = self._random.choice(self.kinds)
            self._stats["faults"][kind] += 1
            by_operation = self._stats["faults_by_operation"].setdefault(operation, {})
            by_operation[kind] = by_operation.get(kind, 0) + 1
            return kind

    def _succeeded(self, operation: str) -> dict | None:
        """Count a 2xx; the kill to carry out now, if this success is the armed one."""
        with self._lock:
            self._stats["succeeded"][operation] = self._stats["succeeded"].get(operation, 0) + 1
            kill = self._kill
            if kill is None or not operation_matches(kill["operation"], operation):
                return None
            kill["seen"] += 1
            if kill["seen"] < kill["nth"]:
                return None
            self._kill = None
            event = {"operation": operation, "nth": kill["nth"], "pid": kill["pid"], "time": time.time()}
            self._stats["kills"].append(event)
            return event

    def _settled(self, operation: str, data: bytes) -> bytes:
        """A create's success starts its wait; a describe's answer says "pending" until it ends."""
        now = time.monotonic()
        with self._lock:
            for rule in self._settle:
                if operation == rule["create"]:
                    self._stats["waits"].append({"create": operation, "started": now, "ready_at": now + rule["seconds"],
                                                 "first_seen_ready": None, "pending_answers": 0})
                elif operation == rule["describe"] and rule["ready"] in data:
                    waits = [wait for wait in self._stats["waits"] if wait["create"] == rule["create"]]
                    if not waits:
                        continue
                    if any(wait["ready_at"] > now for wait in waits):
                        for wait in waits:
                            if wait["ready_at"] > now:
                                wait["pending_answers"] += 1
                        return data.replace(rule["ready"], rule["pending"])
                    for wait in waits:
                        if wait["first_seen_ready"] is None:
                            wait["first_seen_ready"] = now
        return data

    def _kill_now(self, event: dict) -> None:
        if event["pid"]:
            event["killed"] = kill_tree(event["pid"])
        if self.events_path:
            with open(self.events_path, "a") as handle:
                handle.write(json.dumps(event) + "\n")

    def _handler_class(self):
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "aws-fault-proxy"

            def log_message(self, *args) -> None:  # quiet
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _reset(self) -> None:
                """Close with RST: the client sees ECONNRESET, not a clean end of stream."""
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()

            def _answer(self, status: int, headers: dict, body: bytes) -> None:
                self.send_response_only(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)
                self.wfile.flush()

            def _forward(self, body: bytes) -> tuple[int, list, bytes]:
                connection = http.client.HTTPConnection(*proxy.upstream, timeout=UPSTREAM_TIMEOUT)
                try:
                    # the client's Expect: 100-continue was answered here already
                    headers = {name: value for name, value in self.headers.items()
                               if name.lower() not in HOP_BY_HOP and name.lower() != "expect"}
                    if body or self.command in ("POST", "PUT", "PATCH"):
                        headers["Content-Length"] = str(len(body))
                    connection.request(self.command, self.path, body=body, headers=headers)
                    response = connection.getresponse()
                    data = response.read()
                    return response.status, response.getheaders(), data
                finally:
                    connection.close()

            def _handle(self) -> None:
                try:
                    body = self._body()
                except (OSError, ValueError):
                    self.close_connection = True
                    return
                moto_api = self.path.startswith("/moto-api")
                service = service_of(self.headers)
                operation = "moto-api" if moto_api else operation_of(
                    service, self.command, self.path, self.headers, body)
                kind = None if moto_api else proxy._decide(operation)
                if kind is not None:
                    proxy._write_stats()
                if kind == "reset":
                    self._reset()
                    return
                if kind in ("unavailable", "throttle"):
                    self._answer(*error_response(kind, protocol_of(service, self.headers)))
                    return
                try:
                    status, headers, data = self._forward(body)
                except (OSError, http.client.HTTPException) as exc:
                    self._answer(502, {"Content-Type": "text/plain"}, ("upstream: %s" % exc).encode())
                    return
                kill = proxy._succeeded(operation) if 200 <= status < 300 and not moto_api else None
                if not moto_api:
                    proxy._write_stats()
                if kill is not None:
                    proxy._kill_now(kill)
                    proxy._write_stats()
                    self._reset()
                    return
                if kind == "lost":
                    self._reset()
                    return
                if proxy._settle and 200 <= status < 300 and not moto_api:
                    data = proxy._settled(operation, data)
                self.send_response_only(status)
                for name, value in headers:
                    if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                self.wfile.flush()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _handle

        return Handler


# --- Command line -------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="aws_fault_proxy.py", description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--upstream", required=True, help="the stand-in, e.g. http://127.0.0.1:4566")
    parser.add_argument("--port", type=int, default=0, help="port on %s to listen on (0: any free)" % HOST)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rate", type=float, default=0.2, help="share of requests to fail (default: %(default)s)")
    parser.add_argument("--max-faults", type=int, default=None, help="stop injecting after this many")
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated subset of " + ",".join(KINDS))
    parser.add_argument("--stats", default=None, help="JSON file the counts are written to")
    parser.add_argument("--kill-after", default=None, metavar="OPERATION[:N]",
                        help="no random faults; after the Nth success of OPERATION kill --kill-tree")
    parser.add_argument("--kill-tree", type=int, default=None, metavar="PID")
    parser.add_argument("--events", default=None, help="file each kill is appended to, one JSON line each")
    args = parser.parse_args(argv)
    if args.kill_after and args.kill_tree is None:
        parser.error("--kill-after needs --kill-tree PID")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        proxy = FaultProxy(args.upstream, port=args.port, seed=args.seed,
                           rate=0.0 if args.kill_after else args.rate, max_faults=args.max_faults,
                           kinds=[kind for kind in args.kinds.split(",") if kind], stats_path=args.stats,
                           kill_after=args.kill_after, kill_pid=args.kill_tree, events_path=args.events)
        proxy.start()
    except (ProxyError, OSError) as exc:
        print("aws_fault_proxy.py: %s" % exc, file=sys.stderr)
        return 1
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    print("aws_fault_proxy.py: %s -> http://%s:%d" % (proxy.url, *proxy.upstream), flush=True)
    stop.wait()
    proxy.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
