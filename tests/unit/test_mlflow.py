"""MLflow's objects from its configuration (pure). Their acceptance by a real API server, the
migration order, drift and pruning: tests/integration/test_mlflow.py; the rendered command
and environment running the real `mlflow server`: tests/integration/test_mlflow_server.py."""

import pytest
from conftest import component_config

from ansible_collections.mlops.platform.plugins.module_utils import mlflow
from ansible_collections.mlops.platform.plugins.module_utils.config_schema import MLFLOW, VERSIONS
from ansible_collections.mlops.platform.plugins.module_utils.schema_engine import deep_merge

IDENTITY = {"namespace": "mlflow", "service_account": "mlflow",
            "pod_annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/mlops-dev-mlflow"}}
DATABASE = {"host": "db.example.internal", "port": 5432, "name": "mlflow", "secret": "mlops-dev/database/mlflow"}
ARTIFACTS = {"bucket": "mlops-dev-lake-1", "prefix": "artifacts/"}


def render(**config):
    return mlflow.objects(component_config(MLFLOW, **config), IDENTITY, "eu-west-1", DATABASE, ARTIFACTS,
                          "aws-secrets-manager", "mlops-dev-system")


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
    for kind in ("ServiceAccount", "ExternalSecret"):
        assert one(render(), kind)["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] == "-1"


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
    assert not [o for o in mlflow.objects(component_config(MLFLOW), IDENTITY, "eu-west-1", DATABASE, ARTIFACTS,
                                          "store", network_policies_enabled=False) if o["kind"] == "NetworkPolicy"]


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
