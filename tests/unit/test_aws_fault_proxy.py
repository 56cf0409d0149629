"""tools/aws_fault_proxy.py: each fault is what botocore sees from real AWS and networks."""

from __future__ import annotations

import http.server
import importlib.util
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import boto3
import botocore.config
import botocore.exceptions
import pytest

TOOL = Path(__file__).resolve().parents[2] / "tools" / "aws_fault_proxy.py"
_spec = importlib.util.spec_from_file_location("aws_fault_proxy", TOOL)
proxy_module = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("aws_fault_proxy", proxy_module)
_spec.loader.exec_module(proxy_module)
FaultProxy = proxy_module.FaultProxy


class Upstream:
    """A fake stand-in: answers every request 200 with an empty body of the right kind, counts them."""

    def __init__(self):
        self.requests = []
        upstream = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def handle_one(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                upstream.requests.append((self.command, self.path, body))
                answer = b"{}" if "json" in self.headers.get("Content-Type", "") else b"<ok/>"
                if b"Action=GetCallerIdentity" in body:
                    answer = (b"<GetCallerIdentityResponse><GetCallerIdentityResult><Account>123456789012</Account>"
                              b"</GetCallerIdentityResult></GetCallerIdentityResponse>")
                self.send_response(200)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = handle_one

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.server.server_address[1]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def upstream():
    with Upstream() as server:
        yield server


@pytest.fixture(autouse=True)
def no_user_aws(monkeypatch, tmp_path):
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))


def client(service, url):
    return boto3.client(service, region_name="us-east-1", endpoint_url=url, aws_access_key_id="testing",
                        aws_secret_access_key="testing",
                        config=botocore.config.Config(retries={"total_max_attempts": 1}, connect_timeout=5,
                                                      read_timeout=10, s3={"addressing_style": "path"}))


# What botocore raises (and retries) when the connection is reset under it.
CONNECTION_ERRORS = (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError)

# One call per protocol family the collection uses.
CALLS = {
    "ec2": lambda c: c.describe_vpcs(),
    "iam": lambda c: c.get_role(RoleName="r"),
    "sts": lambda c: c.get_caller_identity(),
    "rds": lambda c: c.describe_db_instances(),
    "s3": lambda c: c.create_bucket(Bucket="bucket"),
    "kms": lambda c: c.create_key(),
    "organizations": lambda c: c.describe_organization(),
    "cloudtrail": lambda c: c.list_trails(),
    "logs": lambda c: c.describe_log_groups(),
    "guardduty": lambda c: c.list_organization_admin_accounts(),
    "securityhub": lambda c: c.list_organization_admin_accounts(),
    "secretsmanager": lambda c: c.list_secrets(),
}
THROTTLE_CODES = {"ec2": "RequestLimitExceeded", "iam": "Throttling", "sts": "Throttling", "rds": "Throttling",
                  "s3": "SlowDown"}


@pytest.mark.parametrize("service", sorted(CALLS))
def test_throttle_parses_to_the_services_throttling_code(service, upstream):
    with FaultProxy(upstream.url, rate=1.0, kinds=["throttle"]) as proxy:
        with pytest.raises(botocore.exceptions.ClientError) as raised:
            CALLS[service](client(service, proxy.url))
    expected = THROTTLE_CODES.get(service, "ThrottlingException")
    assert raised.value.response["Error"]["Code"] == expected
    status = raised.value.response["ResponseMetadata"]["HTTPStatusCode"]
    assert status == (503 if service in ("ec2", "s3") else 400)
    # botocore's own retry logic classifies it as throttling, so it backs off and retries
    from botocore.retries.standard import RetryContext, ThrottledRetryableChecker
    context = RetryContext(attempt_number=1, parsed_response=raised.value.response,
                           http_response=None, caught_exception=None)
    assert ThrottledRetryableChecker().is_retryable(context)
    assert upstream.requests == []
    assert proxy.stats()["faults"]["throttle"] == 1


@pytest.mark.parametrize("service", sorted(CALLS))
def test_unavailable_is_a_503_in_the_services_protocol(service, upstream):
    with FaultProxy(upstream.url, rate=1.0, kinds=["unavailable"]) as proxy:
        with pytest.raises(botocore.exceptions.ClientError) as raised:
            CALLS[service](client(service, proxy.url))
    assert raised.value.response["Error"]["Code"] == "ServiceUnavailable"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert upstream.requests == []


def test_reset_is_a_connection_error_and_nothing_is_forwarded(upstream):
    with FaultProxy(upstream.url, rate=1.0, kinds=["reset"]) as proxy:
        with pytest.raises(CONNECTION_ERRORS) as raised:
            client("ec2", proxy.url).create_vpc(CidrBlock="10.0.0.0/16")
    assert "Connection reset by peer" in repr(raised.value.kwargs.get("error")), raised.value.kwargs
    assert upstream.requests == []
    assert proxy.stats()["faults_by_operation"] == {"ec2:CreateVpc": {"reset": 1}}


def test_lost_takes_effect_upstream_and_the_client_sees_a_connection_error(upstream):
    with FaultProxy(upstream.url, rate=1.0, kinds=["lost"]) as proxy:
        with pytest.raises(CONNECTION_ERRORS):
            client("kms", proxy.url).create_key()
    assert len(upstream.requests) == 1
    assert proxy.stats()["faults"]["lost"] == 1


def test_without_faults_everything_is_forwarded_and_counted(upstream, tmp_path):
    stats = tmp_path / "stats.json"
    with FaultProxy(upstream.url, stats_path=str(stats)) as proxy:
        client("ec2", proxy.url).describe_vpcs()
        client("s3", proxy.url).put_bucket_versioning(
            Bucket="b", VersioningConfiguration={"Status": "Enabled"})
        client("organizations", proxy.url).describe_organization()
    recorded = json.loads(stats.read_text())
    assert recorded["requests"] == 3
    assert recorded["succeeded"] == {"ec2:DescribeVpcs": 1, "s3:PutBucketVersioning": 1,
                                     "organizations:DescribeOrganization": 1}
    assert sum(recorded["faults"].values()) == 0


def test_moto_api_paths_are_never_faulted(upstream):
    import urllib.request
    with FaultProxy(upstream.url, rate=1.0) as proxy:
        with urllib.request.urlopen(proxy.url + "/moto-api/config", timeout=5) as response:
            assert response.status == 200
    assert proxy.stats()["requests"] == 0


def test_faults_are_seeded_and_bounded(upstream):
    def run(seed):
        with FaultProxy(upstream.url, seed=seed, rate=0.5, max_faults=4, kinds=["throttle", "unavailable"]) as proxy:
            outcomes = []
            for _call in range(20):
                try:
                    client("sts", proxy.url).get_caller_identity()
                    outcomes.append("ok")
                except botocore.exceptions.ClientError as error:
                    outcomes.append(error.response["Error"]["Code"])
            return outcomes, proxy.stats()
    first, stats = run(7)
    assert run(7)[0] == first
    assert sum(stats["faults"].values()) == 4 == sum(outcome != "ok" for outcome in first)


def test_kill_after_kills_the_whole_tree_even_across_sessions(upstream, tmp_path):
    events = tmp_path / "events.jsonl"
    # a parent, a child, and a grandchild in a session of its own (as ansible's workers are)
    tree = subprocess.Popen([sys.executable, "-c", (
        "import subprocess, sys, time\n"
        "subprocess.Popen([sys.executable, '-c', 'import os, subprocess; os.setsid(); "
        "subprocess.run([\\'sleep\\', \\'60\\'])'])\n"
        "time.sleep(60)\n")], start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while len(proxy_module.process_tree(tree.pid)) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        members = proxy_module.process_tree(tree.pid)
        assert len(members) >= 3
        with FaultProxy(upstream.url, kill_after="CreateVpc:2", kill_pid=tree.pid, events_path=str(events)) as proxy:
            ec2 = client("ec2", proxy.url)
            ec2.create_vpc(CidrBlock="10.0.0.0/16")  # the first: not yet
            assert tree.poll() is None
            with pytest.raises(CONNECTION_ERRORS):
                ec2.create_vpc(CidrBlock="10.1.0.0/16")  # the second took effect; its answer is lost
            ec2.describe_vpcs()  # disarmed after firing
        assert tree.wait(timeout=10) == -9
        for member in members:
            assert not os.path.exists("/proc/%d" % member) or \
                open("/proc/%d/stat" % member).read().rsplit(")", 1)[1].split()[0] == "Z"
        (event,) = [json.loads(line) for line in events.read_text().splitlines()]
        assert event["operation"] == "ec2:CreateVpc" and event["nth"] == 2
        assert len(upstream.requests) == 3
        assert proxy.stats()["kills"][0]["operation"] == "ec2:CreateVpc"
    finally:
        for member in proxy_module.process_tree(tree.pid):
            try:
                os.kill(member, 9)
            except OSError:
                pass
        tree.wait(timeout=10)


def test_command_line_starts_writes_stats_and_stops_on_sigterm(upstream, tmp_path):
    stats = tmp_path / "stats.json"
    process = subprocess.Popen([sys.executable, str(TOOL), "--upstream", upstream.url, "--stats", str(stats),
                                "--rate", "0"], stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert "->" in line, line
        url = line.split()[1]
        client("sts", url).get_caller_identity()
        process.terminate()
        assert process.wait(timeout=10) == 0
        assert json.loads(stats.read_text())["requests"] == 1
    finally:
        process.kill()
        process.wait()


def test_command_line_errors_are_one_line(tmp_path):
    result = subprocess.run([sys.executable, str(TOOL), "--upstream", "ftp://nowhere"],
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "upstream must be an http:// URL" in result.stderr


def test_eks_operations_are_named_as_botocore_names_them(upstream):
    with FaultProxy(upstream.url) as proxy:
        eks = client("eks", proxy.url)
        eks.describe_cluster(name="c")
        eks.create_nodegroup(clusterName="c", nodegroupName="g", subnets=["s"], nodeRole="arn:aws:iam::1:role/r")
        eks.describe_nodegroup(clusterName="c", nodegroupName="g")
        eks.list_addons(clusterName="c")
        stats = proxy.stats()
    assert stats["succeeded"] == {"eks:DescribeCluster": 1, "eks:CreateNodegroup": 1, "eks:DescribeNodegroup": 1,
                                  "eks:GET /clusters/c/addons": 1}


class Settling(Upstream):
    """An upstream whose describe answer always says the resource is ready."""

    def __init__(self):
        super().__init__()
        handler = self.server.RequestHandlerClass

        def ready(request):
            length = int(request.headers.get("Content-Length") or 0)
            if length:
                request.rfile.read(length)
            answer = b'{"cluster": {"name": "c", "status": "ACTIVE"}}'
            request.send_response(200)
            request.send_header("Content-Length", str(len(answer)))
            request.end_headers()
            request.wfile.write(answer)

        handler.do_GET = handler.do_POST = ready


def test_settle_answers_creating_until_the_wait_is_over_and_records_it():
    rule = {"create": "eks:CreateCluster", "describe": "eks:DescribeCluster", "seconds": 0.6,
            "ready": b'"status": "ACTIVE"', "pending": b'"status": "CREATING"'}
    with Settling() as upstream, FaultProxy(upstream.url, settle=[rule]) as proxy:
        eks = client("eks", proxy.url)
        assert eks.describe_cluster(name="c")["cluster"]["status"] == "ACTIVE"  # no create yet: untouched
        eks.create_cluster(name="c", roleArn="arn:aws:iam::1:role/r", resourcesVpcConfig={})
        assert eks.describe_cluster(name="c")["cluster"]["status"] == "CREATING"
        time.sleep(0.7)
        assert eks.describe_cluster(name="c")["cluster"]["status"] == "ACTIVE"
        (wait,) = proxy.stats()["waits"]
    assert wait["create"] == "eks:CreateCluster" and wait["pending_answers"] == 1
    assert wait["ready_at"] - wait["started"] == pytest.approx(0.6)
    assert wait["first_seen_ready"] >= wait["ready_at"]
    with pytest.raises(proxy_module.ProxyError):
        FaultProxy("http://127.0.0.1:1", settle=[dict(rule, seconds=0)])
