"""MLflow's objects from its configuration (pure). Their acceptance by a real API server, the
migration order, drift and pruning: tests/integration/test_mlflow.py; the rendered command
and environment running the real `mlflow server`: tests/integration/test_mlflow_server.py."""

import json

import boto3
import pytest
from conftest import component_config, run_module

from ansible_collections.mlops.platform.plugins.module_utils import mlflow
from ansible_collections.mlops.platform.plugins.modules import mlflow as mlflow_module
from ansible_collections.mlops.platform.plugins.module_utils.config_schema import MLFLOW, VERSIONS
from ansible_collections.mlops.platform.plugins.module_utils.schema_engine import deep_merge

IDENTITY = {"namespace": "mlflow", "service_account": "mlflow",
            "pod_annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/mlops-dev-mlflow"}}
DATABASE = {"host": "db.example.internal", "port": 5432, "name": "mlflow", "secret": "mlops-dev/database/mlflow"}
ARTIFACTS = {"bucket": "mlops-dev-lake-1", "prefix": "artifacts/"}


def render(**config):
    return mlflow.objects(component_config(MLFLOW, **config), IDENTITY, "eu-west-1", DATABASE, ARTIFACTS,
                          "aws-secrets-manager", "mlops-dev-system", admin_secret="mlops-dev/mlflow/admin")


def one(objects, kind):
    (obj,) = [o for o in objects if o["kind"] == kind]
    return obj


def test_the_server_command_holds_no_credential_and_every_service_name():
    container = one(render(), "Deployment")["spec"]["template"]["spec"]["containers"][0]
    command = container["command"]
    assert command[:2] == ["mlflow", "server"] and container["image"] == "ghcr.io/mlflow/mlflow:v%s-full" % (
        VERSIONS["mlflow"])
    store = command[command.index("--backend-store-uri") + 1]
    assert store == "postgresql+psycopg2://db.example.internal:5432/mlflow?sslmode=require"
    assert command[command.index("--artifacts-destination") + 1] == "s3://mlops-dev-lake-1/artifacts"
    hosts = command[command.index("--allowed-hosts") + 1].split(",")
    assert {"mlflow", "mlflow.mlflow.svc.cluster.local", "mlflow.mlflow.svc.cluster.local:*"} <= set(hosts)
    env = dict((e["name"], e) for e in container["env"])
    assert env["PGPASSWORD"] == {"name": "PGPASSWORD", "valueFrom": {"secretKeyRef": {
        "name": "mlflow-database", "key": "password"}}}
    assert "value" not in env["PGUSER"]


def test_basic_auth_reads_its_secrets_by_reference_and_its_ini_holds_none():
    objects = render()
    server = one(objects, "Deployment")["spec"]["template"]["spec"]
    command = server["containers"][0]["command"]
    assert command[command.index("--app-name") + 1] == "basic-auth"
    env = dict((e["name"], e) for e in server["containers"][0]["env"])
    references = {"MLFLOW_AUTH_ADMIN_PASSWORD": "password", "MLFLOW_FLASK_SERVER_SECRET_KEY": "flask_secret_key"}
    for name, key in references.items():
        assert env[name] == {"name": name, "valueFrom": {"secretKeyRef": {"name": "mlflow-admin", "key": key}}}
    (config_map,) = [o for o in objects if o["kind"] == "ConfigMap"]
    ini = config_map["data"]["basic_auth.ini"]
    assert "database_uri = postgresql+psycopg2://db.example.internal:5432/mlflow?sslmode=require" in ini
    assert "default_permission = READ" in ini and "password" not in ini
    assert {"name": "auth", "configMap": {"name": config_map["metadata"]["name"]}} in server["volumes"]
    assert env["MLFLOW_AUTH_CONFIG_PATH"]["value"] == "/etc/mlflow-auth/basic_auth.ini"
    (admin,) = [o for o in objects if o["kind"] == "ExternalSecret" and o["metadata"]["name"] == "mlflow-admin"]
    assert [d["remoteRef"] for d in admin["spec"]["data"]] == [
        {"key": "mlops-dev/mlflow/admin", "property": p} for p in ("username", "password", "flask_secret_key")]
    # A changed ini is a new ConfigMap name, so the pods roll; the Job never sees the admin.
    other = [o for o in render(basic_auth_default_permission="NO_PERMISSIONS") if o["kind"] == "ConfigMap"]
    assert other[0]["metadata"]["name"] != config_map["metadata"]["name"]
    job_env = [e["name"] for e in one(objects, "Job")["spec"]["template"]["spec"]["containers"][0]["env"]]
    assert "MLFLOW_AUTH_ADMIN_PASSWORD" not in job_env
    off = mlflow.objects(component_config(MLFLOW, basic_auth=False), IDENTITY, "eu-west-1", DATABASE, ARTIFACTS,
                         "store")
    assert "--app-name" not in one(off, "Deployment")["spec"]["template"]["spec"]["containers"][0]["command"]
    assert not [o for o in off if o["kind"] == "ConfigMap"]


def module_args(tmp_path, **extra):
    """The module in render mode (no cluster): what it does in AWS is all there is to see."""
    return dict({"environment": "dev", "region": "eu-west-1", "name_prefix": "mlops-dev",
                 "render_dir": str(tmp_path / "manifests"), "workload_identities": {"mlflow": IDENTITY},
                 "database": {"endpoint": "db.internal", "port": 5432, "databases": {"mlflow": {"owner": "mlflow"}},
                              "role_secrets": {"mlflow": {"name": "mlops-dev/database/mlflow", "arn": "arn:x"}}},
                 "data_lake": {"buckets": {"artifacts": {"name": "mlops-dev-lake-1", "prefix": "artifacts/"}}}},
                **extra)


def test_the_admin_secret_is_generated_once_and_never_shown(aws, capsys, tmp_path):
    secretsmanager = boto3.client("secretsmanager", region_name="eu-west-1")
    code, plan = run_module(capsys, mlflow_module.main, dict(module_args(tmp_path), _ansible_check_mode=True))
    assert code == 0 and plan["changed"] and secretsmanager.list_secrets()["SecretList"] == []
    assert plan["diff"][0]["after"] == {"secret": "mlops-dev/mlflow/admin"}

    code, first = run_module(capsys, mlflow_module.main, module_args(tmp_path))
    assert code == 0 and first["changed"], first
    value = json.loads(secretsmanager.get_secret_value(SecretId="mlops-dev/mlflow/admin")["SecretString"])
    assert value["username"] == "admin" and len(value["password"]) >= 32 and len(value["flask_secret_key"]) >= 48
    assert first["ansible_facts"]["mlops_mlflow"]["admin_secret"]["name"] == "mlops-dev/mlflow/admin"
    code, again = run_module(capsys, mlflow_module.main, module_args(tmp_path))
    assert code == 0 and not again["changed"], again
    assert json.loads(secretsmanager.get_secret_value(SecretId="mlops-dev/mlflow/admin")["SecretString"]) == value
    rendered = "".join(open(f).read() for f in first["files"])
    for output in (json.dumps(plan), json.dumps(first), json.dumps(again), rendered):
        assert value["password"] not in output and value["flask_secret_key"] not in output


def test_max_replicas_below_replicas_is_refused_before_any_call(capsys, tmp_path):
    args = module_args(tmp_path, config={"replicas": 3, "max_replicas": 2})
    code, result = run_module(capsys, mlflow_module.main, args)
    assert code != 0 and "config.max_replicas" in result["msg"] and "at least replicas (3)" in result["msg"], result


def test_a_foreign_admin_secret_is_refused(aws, capsys, tmp_path):
    boto3.client("secretsmanager", region_name="eu-west-1").create_secret(
        Name="mlops-dev/mlflow/admin", SecretString="{}")
    code, result = run_module(capsys, mlflow_module.main, module_args(tmp_path))
    assert code != 0 and result["msg"].startswith("name_prefix: names the secret mlops-dev/mlflow/admin"), result
    code, result = run_module(capsys, mlflow_module.main, dict(module_args(tmp_path), name_prefix=None))
    assert code != 0 and result["msg"].startswith("name_prefix: needed with config.basic_auth"), result


def test_every_pod_is_restricted_and_on_the_system_nodes():
    objects = render()
    for kind in ("Deployment", "Job"):
        pod = one(objects, kind)["spec"]["template"]["spec"]
        context = pod["containers"][0]["securityContext"]
        assert context["runAsNonRoot"] and not context["allowPrivilegeEscalation"]
        assert context["capabilities"] == {"drop": ["ALL"]} and context["seccompProfile"]["type"] == "RuntimeDefault"
        assert pod["nodeSelector"] == {"eks.amazonaws.com/nodegroup": "mlops-dev-system"}
        assert pod["serviceAccountName"] == "mlflow"


def test_the_migration_job_runs_first_and_is_renamed_by_what_it_runs():
    job = one(render(), "Job")
    assert job["metadata"]["annotations"] == {"argocd.argoproj.io/sync-wave": "-1"}
    assert job["spec"]["template"]["spec"]["containers"][0]["command"][:3] == ["mlflow", "db", "upgrade"]
    assert one(render(version="3.17.3"), "Job")["metadata"]["name"] != job["metadata"]["name"]
    assert one(render(replicas=1), "Job")["metadata"]["name"] == job["metadata"]["name"]
    # What the Job needs comes in the same wave: its service account and its Secret.
    for obj in render():
        if obj["kind"] in ("ServiceAccount", "ExternalSecret", "ConfigMap"):
            assert obj["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] == "-1", obj


def test_above_one_replica_an_hpa_owns_the_count():
    single = render(replicas=1)
    assert one(single, "Deployment")["spec"]["replicas"] == 1
    assert not [o for o in single if o["kind"] in ("HorizontalPodAutoscaler", "PodDisruptionBudget")]
    several = render(replicas=3, max_replicas=5)
    assert "replicas" not in one(several, "Deployment")["spec"]
    hpa = one(several, "HorizontalPodAutoscaler")["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 5)
    assert one(render(replicas=2), "HorizontalPodAutoscaler")["spec"]["maxReplicas"] == 4
    assert one(several, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1


def test_ingress_is_internal_by_default_and_its_host_is_allowed():
    objects = render(ingress={"enabled": True, "host": "mlflow.dev.example.com"})
    ingress = one(objects, "Ingress")
    assert ingress["metadata"]["annotations"]["alb.ingress.kubernetes.io/scheme"] == "internal"
    assert ingress["spec"]["rules"][0]["host"] == "mlflow.dev.example.com"
    command = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]["command"]
    assert "mlflow.dev.example.com:*" in command[command.index("--allowed-hosts") + 1].split(",")
    assert not [o for o in render() if o["kind"] == "Ingress"]


def test_resources_default_to_no_cpu_limit():
    container = one(render(), "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"] == {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "2Gi"}}


def test_network_policies_let_in_http_and_out_the_database_and_https():
    policies = dict((p["metadata"]["name"], p["spec"]) for p in render() if p["kind"] == "NetworkPolicy")
    assert policies["allow-mlflow-server"]["ingress"] == [{"ports": [{"protocol": "TCP", "port": 5000}]}]
    assert policies["allow-mlflow-egress"]["egress"][0]["ports"] == [
        {"protocol": "TCP", "port": 5432}, {"protocol": "TCP", "port": 443}]
    assert not [o for o in mlflow.objects(component_config(MLFLOW, basic_auth=False), IDENTITY, "eu-west-1", DATABASE,
                                          ARTIFACTS, "store", network_policies_enabled=False)
                if o["kind"] == "NetworkPolicy"]


def test_the_backend_store_comes_from_the_database_outputs_or_an_external_database():
    outputs = {"endpoint": "db.internal", "port": 5432, "databases": {"mlflow": {"owner": "mlflow"}},
               "role_secrets": {"mlflow": {"name": "mlops-dev/database/mlflow", "arn": "arn:x"}}}
    config = component_config(MLFLOW)
    assert mlflow.database_of(config, outputs) == {"host": "db.internal", "port": 5432, "name": "mlflow",
                                                   "secret": "mlops-dev/database/mlflow"}
    assert mlflow.database_of(config, dict(outputs, endpoint="(known after apply)")) is None
    with pytest.raises(mlflow.MlflowError, match="^database: .*no database 'mlflow'"):
        mlflow.database_of(config, dict(outputs, databases={}))
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:corp/mlflow-AbCdEf"
    external = component_config(MLFLOW, external_database={"host": "pg.corp", "name": "tracking",
                                                           "credentials_secret_arn": arn})
    assert mlflow.database_of(external, {}) == {"host": "pg.corp", "port": 5432, "name": "tracking", "secret": arn}


@pytest.mark.parametrize("config, path", [
    ({"image": "registry.example.com/MLflow:v3"}, "config.image"),
    ({"replicas": 0}, "config.replicas"),
    ({"resources": {"requests": {"cpu": "half"}}}, "config.resources.requests.cpu"),
    ({"resources": {"requests": {"memory": "4Gi"}, "limits": {"memory": "1Gi"}}}, "config.resources"),
    ({"ingress": {"enabled": True, "host": "under_score.example.com"}}, "config.ingress.host"),
    ({"ingress": {"enabled": True}}, "config.ingress"),
    ({"extra_args": ["--workers=4"]}, "config.extra_args[0]"),
    ({"extra_args": ["gunicorn"]}, "config.extra_args[0]"),
])
def test_bad_config_is_refused_with_its_path(config, path):
    errors = []
    option = MLFLOW.options["config"]
    option.validate(deep_merge(option.default(), config), "config", errors)
    assert [e.path for e in errors] == [path], errors
