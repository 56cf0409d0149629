"""The rendered MLflow configuration works, not only is accepted: the real `mlflow server` (the
pip package of the pinned version, in .venv-mlflow/) runs with exactly the command, flags and
environment the rendered Deployment gives its container, against a real PostgreSQL (TLS on)
and the AWS stand-in's S3 and Secrets Manager.

What stands in for the cluster, and only that: External Secrets (the ExternalSecrets' Secret
references are resolved from the stand-in's Secrets Manager, as the operator would), the
workload identity (the stand-in's test credentials in AWS_* variables, where IRSA would give
a web identity token) and the S3 endpoint (MLFLOW_S3_ENDPOINT_URL, the stand-in's). The
server listens on a free port instead of 5000; everything else is the rendered argument list.

Before it, the database bootstrap Job's own command runs against that PostgreSQL twice (the
second run changes nothing), then the migration Job's own `mlflow db upgrade`. The server runs
with basic auth, as by default: its ini from the rendered ConfigMap, the admin's password
from the admin secret. Then, through the MLflow client with the admin's credentials: a run
with a metric and an artifact, a registered model version, all read back; the artifact is in
the lake bucket under the artifacts zone; a request without credentials is refused, and so
is a Host the server was not told about; /health needs neither.
"""

import base64
import json
import os
import secrets
import socket
import subprocess
import time
import urllib.error
import urllib.request

import boto3
import pods
import pytest
from conftest import ROOT, started_stand_in
from test_database_bootstrap import fingerprint

from ansible_collections.mlops.platform.plugins.module_utils import database_bootstrap, mlflow
from ansible_collections.mlops.platform.plugins.module_utils.config_schema import MLFLOW, VERSIONS
from ansible_collections.mlops.platform.plugins.module_utils.schema_engine import deep_merge

MLFLOW_PYTHON = os.environ.get("MLOPS_MLFLOW_PYTHON") or os.path.join(ROOT, ".venv-mlflow", "bin", "python")
REGION = "us-east-1"
NAMESPACE = "mlflow"
BUCKET = "mlops-it-lake-123456789012"

CLIENT = r"""
import json, os, sys, tempfile
import mlflow
from mlflow import MlflowClient

mlflow.set_experiment("proof")
with mlflow.start_run() as run:
    mlflow.log_metric("accuracy", 0.93)
    mlflow.log_param("rows", "1000")
    directory = tempfile.mkdtemp()
    with open(os.path.join(directory, "notes.txt"), "w") as handle:
        handle.write("artifact written through the tracking server")
    mlflow.log_artifact(os.path.join(directory, "notes.txt"))
client = MlflowClient()
client.create_registered_model("proof-model")
version = client.create_model_version("proof-model", "runs:/%s/notes.txt" % run.info.run_id, run.info.run_id)
back = client.get_run(run.info.run_id)
local = client.download_artifacts(run.info.run_id, "notes.txt", tempfile.mkdtemp())
print(json.dumps({
    "run_id": run.info.run_id,
    "metric": back.data.metrics["accuracy"],
    "param": back.data.params["rows"],
    "artifact_uri": back.info.artifact_uri,
    "artifact": open(local).read(),
    "model_version": client.get_model_version("proof-model", version.version).version,
    "model_source": client.get_model_version("proof-model", version.version).source,
}))
"""


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def mlflow_bin():
    if not os.path.exists(MLFLOW_PYTHON):
        pytest.fail("MLflow's own venv is missing (%s): `make integration` builds it from requirements/mlflow.lock"
                    % MLFLOW_PYTHON, pytrace=False)
    version = subprocess.run([MLFLOW_PYTHON, "-c", "import mlflow; print(mlflow.__version__)"], capture_output=True,
                             text=True, check=True).stdout.strip()
    assert version == VERSIONS["mlflow"], "the proof must run the version the image is pinned to"
    return os.path.dirname(MLFLOW_PYTHON)


@pytest.fixture
def stand_in(tmp_path):
    with started_stand_in(tmp_path / "stand-in") as port:
        yield port


def aws(service, port):
    return boto3.client(service, region_name=REGION, endpoint_url="http://127.0.0.1:%d" % port,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def wait_for_health(url, process, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError("mlflow server exited with %s:\n%s" % (process.returncode, process.stdout.read()))
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    raise AssertionError("mlflow server did not answer /health within %d s" % timeout)


def status_with_host(url, host, credentials=None):
    headers = {"Host": host}
    if credentials:
        headers["Authorization"] = "Basic " + base64.b64encode(("%s:%s" % credentials).encode()).decode()
    request = urllib.request.Request(url + "/api/2.0/mlflow/experiments/search?max_results=1", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code


def test_the_rendered_server_tracks_runs_artifacts_and_models(postgres, stand_in, mlflow_bin, tmp_path):
    suffix = secrets.token_hex(3)
    role, database_name = "mlflow_%s" % suffix, "tracking_%s" % suffix
    secretsmanager, s3 = aws("secretsmanager", stand_in), aws("s3", stand_in)
    s3.create_bucket(Bucket=BUCKET)
    master = secretsmanager.create_secret(Name="rds!db-it", SecretString=json.dumps(
        {"username": "postgres", "password": "postgres-test-superuser"}))["ARN"]
    role_secret = "mlops-it/database/%s" % role
    password = secrets.token_urlsafe(24)
    secretsmanager.create_secret(Name=role_secret, SecretString=json.dumps({"username": role, "password": password}))
    # The admin's secret, as the module generates it.
    admin_secret = mlflow.admin_secret_name("mlops-it")
    admin = {"username": "admin", "password": secrets.token_urlsafe(32), "flask_secret_key": secrets.token_urlsafe(48)}
    secretsmanager.create_secret(Name=admin_secret, SecretString=json.dumps(admin))

    # 1. The database bootstrap Job's own command, twice; the second run changes nothing.
    databases = {database_name: {"owner": role}}
    bootstrap = database_bootstrap.job_objects("mlops-system", databases, "127.0.0.1", postgres.port,
                                               "postgres:17.6-alpine", master, {role: role_secret},
                                               "aws-secrets-manager")
    values = pods.external_secret_values([o for o in bootstrap if o["kind"] == "ExternalSecret"], secretsmanager)
    (job,) = [o for o in bootstrap if o["kind"] == "Job"]
    (config_map,) = [o for o in bootstrap if o["kind"] == "ConfigMap"]
    container = job["spec"]["template"]["spec"]["containers"][0]
    mount = tmp_path / "bootstrap"
    mount.mkdir()
    for name, text in config_map["data"].items():
        (mount / name).write_text(text)
    base = {key: value for key, value in postgres.env().items() if not key.startswith("PG")}
    replace = {container["volumeMounts"][0]["mountPath"]: str(mount)}
    first = pods.run(container, values, base=base, replace=replace)
    assert first.returncode == 0 and "CREATE DATABASE" in first.stdout, first.stderr
    before = fingerprint(postgres)
    second = pods.run(container, values, base=base, replace=replace)
    assert second.returncode == 0 and "CREATE" not in second.stdout and "ALTER" not in second.stdout, second.stdout
    assert fingerprint(postgres) == before

    # 2. MLflow's objects, rendered for this database and lake; its Secret from the stand-in.
    option = MLFLOW.options["config"]
    errors = []
    config = option.validate(deep_merge(option.default(), {"replicas": 1, "database_name": database_name}),
                             "config", errors)
    assert errors == []
    identity = {"namespace": NAMESPACE, "service_account": "mlflow", "pod_annotations": {}}
    objects = mlflow.objects(config, identity, REGION,
                             {"host": "127.0.0.1", "port": postgres.port, "name": database_name,
                              "secret": role_secret},
                             {"bucket": BUCKET, "prefix": "artifacts/"}, "aws-secrets-manager",
                             admin_secret=admin_secret)
    assert config["basic_auth"]  # the default
    values = pods.external_secret_values([o for o in objects if o["kind"] == "ExternalSecret"], secretsmanager)
    assert values[(mlflow.DATABASE_SECRET, "password")] == password
    assert values[(mlflow.ADMIN_SECRET, "password")] == admin["password"]
    stand_ins = dict(pods.clean_base_environment(), PATH=mlflow_bin + os.pathsep + os.environ["PATH"],
                     AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                     MLFLOW_S3_ENDPOINT_URL="http://127.0.0.1:%d" % stand_in)

    # 3. The migration Job's own command, against the bootstrapped database.
    (upgrade,) = [o for o in objects if o["kind"] == "Job"]
    migrated = pods.run(upgrade["spec"]["template"]["spec"]["containers"][0], values, base=stand_ins, timeout=300)
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    assert "alembic_version" in postgres.psql("SELECT tablename FROM pg_tables", database=database_name)

    # 4. The server: the Deployment's container command and environment, on a free port.
    (deployment,) = [o for o in objects if o["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    server = pod["containers"][0]
    replace = pods.mount_config_maps(pod, server, [o for o in objects if o["kind"] == "ConfigMap"], tmp_path)
    command = pods.command(server, replace)
    port = free_port()
    command[command.index("--port") + 1] = str(port)
    process = subprocess.Popen(command, env=pods.environment(server, values, base=stand_ins, replace=replace),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = "http://127.0.0.1:%d" % port
    try:
        wait_for_health(url, process)
        client = subprocess.run([MLFLOW_PYTHON, "-c", CLIENT], capture_output=True, text=True, timeout=300, check=False,
                                env=dict(pods.clean_base_environment(), MLFLOW_TRACKING_URI=url,
                                         MLFLOW_HTTP_REQUEST_MAX_RETRIES="0",
                                         MLFLOW_TRACKING_USERNAME="admin", MLFLOW_TRACKING_PASSWORD=admin["password"]))
        assert client.returncode == 0, client.stderr[-4000:]
        result = json.loads(client.stdout.strip().splitlines()[-1])
        # The Service's names (with the port a client puts in Host) are allowed; others are not.
        credentials = ("admin", admin["password"])
        assert status_with_host(url, "mlflow.%s.svc.cluster.local:5000" % NAMESPACE, credentials) == 200
        assert status_with_host(url, "mlflow", credentials) == 200
        assert status_with_host(url, "attacker.example.com", credentials) == 403
        # Basic auth: nothing without the admin's credentials, or with a wrong password.
        assert status_with_host(url, "mlflow") == 401
        assert status_with_host(url, "mlflow", ("admin", "not-the-password")) == 401
    finally:
        process.terminate()
        try:
            output = process.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            process.kill()
            output = process.communicate()[0]
    assert (result["metric"], result["param"]) == (0.93, "1000")
    assert result["artifact"] == "artifact written through the tracking server"
    assert result["artifact_uri"].startswith("mlflow-artifacts:/"), result  # proxied, no S3 credential needed
    assert result["model_version"] == "1"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    assert any(k.startswith("artifacts/") and k.endswith("/artifacts/notes.txt") for k in keys), keys
    # Runs and models are in the PostgreSQL database, owned by the component's role.
    assert postgres.psql("SELECT count(*) FROM runs", database=database_name) == ["1"]
    assert postgres.psql("SELECT name FROM registered_models", database=database_name) == ["proof-model"]
    assert postgres.psql("SELECT tableowner FROM pg_tables WHERE tablename = 'runs'", database=database_name) == [role]
    assert password not in output and admin["password"] not in output
