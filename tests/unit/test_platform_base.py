"""The platform base's objects from its configuration (pure). Their acceptance by a real API
server, Pod Security admission and pruning: tests/integration/test_platform_base.py."""

from conftest import component_config

from ansible_collections.mlops.platform.plugins.module_utils import platform_base
from ansible_collections.mlops.platform.plugins.module_utils.config_schema import PLATFORM_BASE

IDENTITIES = {
    "external_secrets": {"namespace": "external-secrets", "service_account": "external-secrets",
                         "pod_annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/eso"}},
    "mlflow": {"namespace": "mlflow", "service_account": "mlflow", "pod_annotations": {}},
    "ebs_csi_driver": {"namespace": "kube-system", "service_account": "ebs-csi-controller-sa"},
}
CRD = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
       "metadata": {"name": "externalsecrets.external-secrets.io"}}


def render(**config):
    return platform_base.objects(component_config(PLATFORM_BASE, **config), True, IDENTITIES, "eu-west-1", "1.35",
                                 "v2.9.0", [CRD], "mlops-dev-system")


def by_kind(objects, kind):
    return [o for o in objects if o["kind"] == kind]


def test_namespaces_are_the_identities_and_the_platforms_own_never_the_clusters():
    namespaces = by_kind(render(), "Namespace")
    assert sorted(n["metadata"]["name"] for n in namespaces) == ["external-secrets", "mlflow", "mlops-system"]
    assert namespaces[0]["metadata"]["labels"] == {
        "pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "v1.35",
        "pod-security.kubernetes.io/audit": "restricted", "pod-security.kubernetes.io/audit-version": "v1.35",
        "pod-security.kubernetes.io/warn": "restricted", "pod-security.kubernetes.io/warn-version": "v1.35"}
    assert not any(o["metadata"].get("namespace") == "kube-system" for o in render())


def test_every_namespace_denies_by_default_and_only_external_secrets_reaches_out():
    policies = by_kind(render(), "NetworkPolicy")
    names = sorted((p["metadata"]["namespace"], p["metadata"]["name"]) for p in policies)
    assert names == [("external-secrets", "allow-dns"), ("external-secrets", "allow-https-egress"),
                     ("external-secrets", "allow-webhook"), ("external-secrets", "default-deny"),
                     ("mlflow", "allow-dns"), ("mlflow", "default-deny"),
                     ("mlops-system", "allow-dns"), ("mlops-system", "default-deny")]
    assert by_kind(render(network_policies=False), "NetworkPolicy") == []


def test_the_operator_is_pinned_with_its_identity_and_placement_and_no_crds_of_its_own():
    app = by_kind(render(), "Application")[0]
    source = app["spec"]["source"]
    assert (source["repoURL"], source["chart"], source["targetRevision"]) == (
        "https://charts.external-secrets.io", "external-secrets", "2.9.0")
    values = source["helm"]["valuesObject"]
    assert values["installCRDs"] is False
    assert values["serviceAccount"]["annotations"] == IDENTITIES["external_secrets"]["pod_annotations"]
    assert values["nodeSelector"] == values["webhook"]["nodeSelector"] == {
        "eks.amazonaws.com/nodegroup": "mlops-dev-system"}
    assert values["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert app["spec"]["destination"]["namespace"] == "external-secrets"
    assert by_kind(render(argocd={"enabled": False}), "Application") == []


def test_the_store_uses_the_operators_own_identity_in_the_environments_region():
    store = by_kind(render(secret_store_name="aws"), "ClusterSecretStore")[0]
    assert store["metadata"]["name"] == "aws"
    assert store["spec"] == {"provider": {"aws": {"service": "SecretsManager", "region": "eu-west-1"}}}


def test_nothing_when_not_converged_so_that_everything_is_pruned():
    assert platform_base.objects(component_config(PLATFORM_BASE), False, IDENTITIES, "eu-west-1", "1.35",
                                 "v2.9.0", [CRD]) == []
