"""The platform_base module (its real main()) against the session's control plane: External
Secrets' pinned CRDs from the mirror, the ClusterSecretStore and the operator's Argo CD
Application accepted by the real API server with the real upstream CRDs; Pod Security
admission enforcing `restricted` in the platform's namespaces; a re-run and check mode that
write nothing; turning the base off prunes it but keeps namespaces and CRDs; bad input
refused before any request."""

import json
import os
import uuid

import pytest
import yaml
from conftest import run_module, warnings
from kube import MIRROR

from kubernetes import client
from kubernetes.client.rest import ApiException
from kubernetes.dynamic import DynamicClient

from ansible_collections.mlops.platform.plugins.module_utils import artifacts, kube_engine
from ansible_collections.mlops.platform.plugins.modules import platform_base as platform_base_module

ROLE_ARN = "arn:aws:iam::123456789012:role/mlops-it-external-secrets"


def run(capsys, args, check_mode=False, fails=False):
    return run_module(capsys, platform_base_module.main, args, check_mode=check_mode, fails=fails)


@pytest.fixture(scope="module")
def argocd_crd(kube_client):
    """The Argo CD the user runs, as far as the API server is concerned: its Application CRD,
    the pinned upstream file from the mirror."""
    docs = artifacts.ArtifactSource(mirror=MIRROR).documents("argocd.crd.applications")
    engine = kube_engine.Engine(kube_client, "argocd-stand-in", "default")
    engine.apply(docs + [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "argocd"}}])
    return docs


DATABASE = {
    "endpoint": "mlops-it-postgres.abc.eu-west-1.rds.amazonaws.com", "port": 5432,
    "master_user_secret_arn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-0123-AbCdEf",
    "databases": {"mlflow": {"owner": "mlflow"}, "feast_registry": {"owner": "feast"}},
    "role_secrets": {"mlflow": {"name": "mlops-it/database/mlflow", "arn": "arn:aws:secretsmanager:x"},
                     "feast": {"name": "mlops-it/database/feast", "arn": "arn:aws:secretsmanager:y"}},
}


@pytest.fixture
def args(control_plane, argocd_crd, fake_nodes):
    suffix = uuid.uuid4().hex[:6]
    return {
        "environment": "it",
        "kubeconfig": str(control_plane.kubeconfig),
        "mirror": MIRROR,
        "region": "eu-west-1",
        "kubernetes_version": "1.35",
        # The session's CPU node group: the bootstrap Job's pod runs there.
        "system_node_group": "cpu",
        "database": DATABASE,
        # The platform's own namespace is the default one: the site converges of other tests
        # use it too, and so share this ApplySet (one platform base per cluster, as in life).
        "config": {"secret_store_name": "aws-%s" % suffix},
        "workload_identities": {
            "external_secrets": {"namespace": "eso-%s" % suffix, "service_account": "external-secrets",
                                 "pod_annotations": {"eks.amazonaws.com/role-arn": ROLE_ARN}},
            "mlflow": {"namespace": "mlflow-%s" % suffix, "service_account": "mlflow", "pod_annotations": {}},
            "ebs_csi_driver": {"namespace": "kube-system", "service_account": "ebs-csi-controller-sa"},
        },
    }


def pod(name, **security):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [dict({"name": "main", "image": "registry.k8s.io/pause:3.10"}, **security)]}}


def test_converge_rerun_check_mode_and_turning_off(capsys, kube_client, args):
    ns, eso_ns = "mlops-system", args["workload_identities"]["external_secrets"]["namespace"]
    mlflow_ns = args["workload_identities"]["mlflow"]["namespace"]

    # Check mode on an empty cluster predicts every creation, writing nothing.
    plan = run(capsys, args, check_mode=True)
    assert plan["changed"] and "v1 Namespace %s" % mlflow_ns in plan["created"]
    with pytest.raises(ApiException):
        client.CoreV1Api(kube_client).read_namespace(mlflow_ns)

    first = run(capsys, args)
    assert first["changed"] and sorted(first["created"]) == sorted(plan["created"]), (first, plan)
    core = client.CoreV1Api(kube_client)
    assert sorted(first["ansible_facts"]["mlops_platform_base"]["namespaces"]) == sorted([ns, eso_ns, mlflow_ns])
    assert first["ansible_facts"]["mlops_platform_base"]["namespaces"][mlflow_ns] == ["mlflow"]
    labels = core.read_namespace(mlflow_ns).metadata.labels
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["pod-security.kubernetes.io/enforce-version"] == "v1.35"
    # kube-system is the cluster's: never made, labelled or policed by the platform.
    assert not any("kube-system" in ref for ref in first["created"])

    # The upstream CRDs judged our custom resources: the store and the operator's Application exist.
    custom = client.CustomObjectsApi(kube_client)
    store = custom.get_cluster_custom_object("external-secrets.io", "v1", "clustersecretstores",
                                             args["config"]["secret_store_name"])
    aws = store["spec"]["provider"]["aws"]
    assert (aws["service"], aws["region"], aws.get("auth")) == ("SecretsManager", "eu-west-1", None)
    assert aws["sessionTagsPolicy"] == "None"  # a default of the real CRD: its schema was applied
    app = custom.get_namespaced_custom_object("argoproj.io", "v1alpha1", "argocd", "applications",
                                              "external-secrets")
    values = app["spec"]["source"]["helm"]["valuesObject"]
    assert app["spec"]["source"]["targetRevision"] == "2.9.0" and values["installCRDs"] is False
    assert values["serviceAccount"]["annotations"] == {"eks.amazonaws.com/role-arn": ROLE_ARN}
    assert values["nodeSelector"] == {"eks.amazonaws.com/nodegroup": "cpu"}
    # The database bootstrap: its ExternalSecrets accepted by the real CRD, its Job admitted as
    # `restricted`, scheduled on the system nodes and complete (the module waited for it).
    jobs = client.BatchV1Api(kube_client).list_namespaced_job(
        ns, label_selector="mlops.platform/component=platform_base").items
    assert len(jobs) == 1 and jobs[0].status.succeeded == 1, jobs
    externals = custom.list_namespaced_custom_object("external-secrets.io", "v1", ns, "externalsecrets")["items"]
    assert sorted(e["metadata"]["name"] for e in externals) == ["database-master", "database-role-feast",
                                                                "database-role-mlflow"]
    policies = client.NetworkingV1Api(kube_client).list_namespaced_network_policy(eso_ns).items
    assert sorted(p.metadata.name for p in policies) == ["allow-dns", "allow-https-egress", "allow-webhook",
                                                         "default-deny"]

    # Pod Security admission (the real one) holds every pod in the platform's namespaces to `restricted`.
    with pytest.raises(ApiException) as refused:
        core.create_namespaced_pod(mlflow_ns, pod("root", securityContext={"privileged": True}), dry_run="All")
    assert refused.value.status == 403 and "violates PodSecurity" in refused.value.body
    assert "restricted:v1.35" in json.loads(refused.value.body)["message"]
    restricted = platform_base_module.platform_base.RESTRICTED_CONTAINER
    core.create_namespaced_pod(mlflow_ns, pod("fine", securityContext=restricted), dry_run="All")

    # A re-run and check mode on the converged cluster: nothing to do, nothing written.
    again = run(capsys, args)
    assert not again["changed"] and set(again["requests"]) <= {"GET", "discovery"}, again
    assert not run(capsys, args, check_mode=True)["changed"]

    # Turned off: its objects go, namespaces and CRDs (data) stay, with a warning.
    off = run(capsys, dict(args, enabled=False))
    assert off["changed"] and "v1 ClusterSecretStore" not in " ".join(off["kept"])
    assert any(ref.endswith("ClusterSecretStore %s" % args["config"]["secret_store_name"]) for ref in off["deleted"])
    assert set("v1 Namespace %s" % n for n in (ns, eso_ns, mlflow_ns)) <= set(off["kept"])
    assert "apiextensions.k8s.io/v1 CustomResourceDefinition externalsecrets.external-secrets.io" in off["kept"]
    assert any("kept" in w for w in warnings(off)), off
    assert client.NetworkingV1Api(kube_client).list_namespaced_network_policy(eso_ns).items == []
    assert not run(capsys, dict(args, enabled=False))["changed"]


def test_render_writes_the_same_objects_and_no_secret(capsys, kube_client, args, tmp_path):
    gitops = {"repo_url": "https://git.example.com/platform/deploy.git", "revision": "main",
              "path": "build/it/manifests"}
    result = run(capsys, dict(args, render_dir=str(tmp_path), gitops=gitops))
    names = sorted(os.path.basename(f) for f in result["files"])
    assert "clustersecretstore_%s.yaml" % args["config"]["secret_store_name"] in names
    assert "kustomization.yaml" in names and len(names) > 10
    assert not run(capsys, dict(args, render_dir=str(tmp_path), gitops=gitops))["changed"]
    text = "".join(open(f).read() for f in result["files"] if "/applications/" not in f)
    assert "kind: Secret\n" not in text
    for value in DATABASE["role_secrets"].values():
        assert value["name"] in text  # referenced by name, never by value

    # The Argo CD Application that syncs the directory, accepted by the real Application CRD.
    path = tmp_path / "applications" / "platform-base.yaml"
    app = yaml.safe_load(path.read_text())
    assert app["spec"]["source"] == {"repoURL": gitops["repo_url"], "targetRevision": "main",
                                     "path": "build/it/manifests/platform_base"}
    resource = DynamicClient(kube_client).resources.get(api_version="argoproj.io/v1alpha1", kind="Application")
    DynamicClient(kube_client).server_side_apply(resource, body=app, namespace="argocd", field_manager="it",
                                                 dry_run="All")
    bad = run(capsys, dict(args, render_dir=str(tmp_path), gitops=dict(gitops, repo_url="not a url")), fails=True)
    assert "gitops.repo_url" in bad["msg"]


@pytest.mark.parametrize("change, message", [
    ({"config": {"pod_security": "privileged"}}, "config.pod_security"),
    ({"config": {"namespace": "Not_A_Name"}}, "config.namespace"),
    ({"mirror": "/nonexistent/mirror"}, "/nonexistent/mirror"),
])
def test_bad_input_is_refused_before_any_request(capsys, args, change, message):
    result = run(capsys, dict(args, **change), fails=True)
    assert message in result["msg"]
