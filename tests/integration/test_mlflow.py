"""The mlflow module (its real main()) against the session's control plane, after the real
platform_base module made its namespace (Pod Security `restricted`) and External Secrets'
pinned CRDs: every object accepted by the real API server and admission; the schema
migration Job complete before the Deployment exists; the Deployment Available with its pods
on the system node group's nodes; a re-run and check mode that write nothing; drift
planned and put back; a new version migrates first; replicas > 1 hand the count to an
HPA; turning MLflow off prunes it; a render holds no secret; bad input refused before any
request."""

import uuid

import pytest
from conftest import run_module as run
from conftest import started_stand_in
from kube import MIRROR

from kubernetes import client

from ansible_collections.mlops.platform.plugins.modules import mlflow as mlflow_module
from ansible_collections.mlops.platform.plugins.modules import platform_base as platform_base_module

ROLE_ARN = "arn:aws:iam::123456789012:role/mlops-it-mlflow"
DATABASE = {
    "endpoint": "mlops-it-postgres.abc.eu-west-1.rds.amazonaws.com", "port": 5432,
    "databases": {"mlflow": {"owner": "mlflow"}},
    "role_secrets": {"mlflow": {"name": "mlops-it/database/mlflow", "arn": "arn:aws:secretsmanager:x"}},
}
DATA_LAKE = {"buckets": {"artifacts": {"name": "mlops-it-lake-123456789012", "prefix": "artifacts/"}}}


@pytest.fixture
def stand_in(tmp_path):
    """Secrets Manager for the basic-auth admin's secret."""
    with started_stand_in(tmp_path / "stand-in") as port:
        yield {"endpoint_url": "http://127.0.0.1:%d" % port, "access_key": "testing", "secret_key": "testing"}


@pytest.fixture
def args(capsys, control_plane, fake_nodes, stand_in):
    """MLflow's arguments, in a namespace of the test's own that the platform base made."""
    suffix = uuid.uuid4().hex[:6]
    identities = {"mlflow": {"namespace": "mlflow-%s" % suffix, "service_account": "mlflow",
                             "pod_annotations": {"eks.amazonaws.com/role-arn": ROLE_ARN}}}
    base = {"environment": "it", "kubeconfig": str(control_plane.kubeconfig), "region": "eu-west-1"}
    run(capsys, platform_base_module.main, dict(base, mirror=MIRROR, kubernetes_version="1.35",
                                                workload_identities=identities))
    return dict(base, workload_identities=identities, database=DATABASE, data_lake=DATA_LAKE,
                system_node_group="cpu", config={"replicas": 1}, name_prefix="mlops-it", **stand_in)


def refs(result, kind):
    return [r for r in result["created"] + result["updated"] if " %s " % kind in r]


def test_converge_rerun_drift_upgrade_and_turning_off(capsys, kube_client, fake_nodes, args):
    ns = args["workload_identities"]["mlflow"]["namespace"]
    apps, core, batch = client.AppsV1Api(kube_client), client.CoreV1Api(kube_client), client.BatchV1Api(kube_client)

    plan = run(capsys, mlflow_module.main, args, check_mode=True)
    assert plan["changed"] and len(refs(plan, "Job")) == 1 and refs(plan, "Deployment")
    assert apps.list_namespaced_deployment(ns).items == []

    first = run(capsys, mlflow_module.main, args)
    assert sorted(first["created"]) == sorted(plan["created"]), (first, plan)
    facts = first["ansible_facts"]["mlops_mlflow"]
    assert facts["tracking_uri"] == "http://mlflow.%s.svc.cluster.local:5000" % ns
    assert facts["artifacts_destination"] == "s3://mlops-it-lake-123456789012/artifacts"

    # The migration Job completed before the Deployment was made; the Deployment is
    # Available, its pods (admitted as `restricted`) on the system node group's nodes.
    job = batch.list_namespaced_job(ns).items[0]
    deployment = apps.read_namespaced_deployment("mlflow", ns)
    assert job.status.succeeded == 1 and job.status.completion_time <= deployment.metadata.creation_timestamp
    assert deployment.status.available_replicas == 1
    pods = core.list_namespaced_pod(ns, label_selector="app.kubernetes.io/name=mlflow").items
    assert pods and all(p.spec.node_name in fake_nodes["cpu"] for p in pods), pods
    account = core.read_namespaced_service_account("mlflow", ns)
    assert account.metadata.annotations["eks.amazonaws.com/role-arn"] == ROLE_ARN
    # No credential is a plain value: the database user and password are references.
    env = dict((e.name, e) for e in deployment.spec.template.spec.containers[0].env)
    assert env["PGPASSWORD"].value is None and env["PGPASSWORD"].value_from.secret_key_ref.name == "mlflow-database"
    assert "password" not in " ".join(deployment.spec.template.spec.containers[0].command)
    external = client.CustomObjectsApi(kube_client).get_namespaced_custom_object(
        "external-secrets.io", "v1", ns, "externalsecrets", "mlflow-database")
    remote = external["spec"]["data"][1]["remoteRef"]
    assert (remote["key"], remote["property"]) == ("mlops-it/database/mlflow", "password")

    again = run(capsys, mlflow_module.main, args)
    assert not again["changed"] and set(again["requests"]) <= {"GET", "discovery"}, again
    assert not run(capsys, mlflow_module.main, args, check_mode=True)["changed"]

    # Drift behind the play's back: scaled, and the Service deleted. Planned, then put back.
    apps.patch_namespaced_deployment_scale("mlflow", ns, {"spec": {"replicas": 3}})
    core.delete_namespaced_service("mlflow", ns)
    drift = run(capsys, mlflow_module.main, args, check_mode=True)
    assert "v1 Service %s/mlflow" % ns in drift["created"]
    assert "apps/v1 Deployment %s/mlflow" % ns in drift["updated"], drift
    repaired = run(capsys, mlflow_module.main, args)
    assert repaired["created"] == ["v1 Service %s/mlflow" % ns]
    assert repaired["updated"] == ["apps/v1 Deployment %s/mlflow" % ns]
    assert apps.read_namespaced_deployment("mlflow", ns).spec.replicas == 1
    assert not run(capsys, mlflow_module.main, args)["changed"]

    # A new version: a new migration Job first, then the Deployment; the old Job is pruned.
    newer = dict(args, config=dict(args["config"], version="3.17.3"))
    upgraded = run(capsys, mlflow_module.main, newer)
    assert len([r for r in upgraded["created"] if " Job " in r]) == 1
    assert [r for r in upgraded["deleted"] if " Job " in r] == refs(first, "Job")
    image = apps.read_namespaced_deployment("mlflow", ns).spec.template.spec.containers[0].image
    assert image == "ghcr.io/mlflow/mlflow:v3.17.3-full"

    # Above one replica: a PDB and an HPA, which owns the count (the Deployment sets none).
    scaled = run(capsys, mlflow_module.main, dict(newer, config=dict(newer["config"], replicas=2)))
    kinds = " ".join(scaled["created"])
    assert "PodDisruptionBudget" in kinds and "HorizontalPodAutoscaler" in kinds
    hpa = client.AutoscalingV2Api(kube_client).read_namespaced_horizontal_pod_autoscaler("mlflow", ns)
    assert (hpa.spec.min_replicas, hpa.spec.max_replicas) == (2, 4)

    # Turned off: everything MLflow made goes.
    off = run(capsys, mlflow_module.main, dict(args, enabled=False))
    assert off["changed"] and not off["kept"]
    assert apps.list_namespaced_deployment(ns).items == [] and batch.list_namespaced_job(ns).items == []
    assert not run(capsys, mlflow_module.main, dict(args, enabled=False))["changed"]


def test_check_mode_before_the_platform_base_predicts_without_failing(capsys, kube_client, args):
    """A first --check with MLflow just turned on: its namespace is only planned (by the platform
    base, converged before it), so its objects are predicted, not refused."""
    ns = "mlflow-planned-%s" % uuid.uuid4().hex[:6]
    planned = dict(args, workload_identities={"mlflow": dict(args["workload_identities"]["mlflow"], namespace=ns)})
    plan = run(capsys, mlflow_module.main, planned, check_mode=True)
    assert plan["changed"] and "apps/v1 Deployment %s/mlflow" % ns in plan["created"], plan
    assert client.CoreV1Api(kube_client).list_namespace(field_selector="metadata.name=%s" % ns).items == []


def test_render_holds_no_secret_and_orders_the_migration(capsys, args, tmp_path):
    result = run(capsys, mlflow_module.main, dict(args, render_dir=str(tmp_path),
                                                  config={"ingress": {"enabled": True, "host": "mlflow.example.internal"}}))
    text = "".join(open(f).read() for f in result["files"])
    assert "kind: Secret\n" not in text and "PGPASSWORD" in text and "secretKeyRef" in text
    assert "mlflow.example.internal:*" in text  # the ingress host is an allowed host
    job = [f for f in result["files"] if "/job_" in f]
    assert job and "argocd.argoproj.io/sync-wave: '-1'" in open(job[0]).read()
    ingress = [f for f in result["files"] if "/ingress_" in f]
    assert ingress and "alb.ingress.kubernetes.io/scheme: internal" in open(ingress[0]).read()


@pytest.mark.parametrize("change, message", [
    ({"config": {"image": "not an image"}}, "config.image"),
    ({"config": {"replicas": 0}}, "config.replicas"),
    ({"config": {"resources": {"requests": {"memory": "lots"}}}}, "config.resources.requests.memory"),
    ({"config": {"resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}}}, "config.resources"),
    ({"config": {"ingress": {"enabled": True, "host": "Not A Host"}}}, "config.ingress.host"),
    ({"config": {"ingress": {"enabled": True}}}, "config.ingress"),
    ({"config": {"extra_args": ["--backend-store-uri=sqlite:///x"]}}, "config.extra_args"),
    ({"data_lake": {"buckets": {}}}, "data_lake"),
    ({"workload_identities": {}}, "workload_identities.mlflow"),
])
def test_bad_input_is_refused_before_any_request(capsys, args, change, message):
    result = run(capsys, mlflow_module.main, dict(args, **change), fails=True)
    assert message in result["msg"], result
