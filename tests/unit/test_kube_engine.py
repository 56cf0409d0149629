"""The engine's pure parts: order, the no-op test, projection of a plan on owned fields,
conflict parsing, redaction and rendering. Its work against an API server is proved in
tests/integration/test_kube_engine.py, on the real local control plane."""

import json

import pytest

from ansible_collections.mlops.platform.plugins.module_utils import kube_engine
from ansible_collections.mlops.platform.plugins.module_utils.kube_engine import KubeError


def obj(kind, name, namespace=None, api_version="v1", **rest):
    metadata = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    return dict({"apiVersion": api_version, "kind": kind, "metadata": metadata}, **rest)


def test_order_puts_namespaces_and_crds_first_and_custom_resources_last():
    objects = [obj("Widget", "w", "a", api_version="x.io/v1"), obj("Deployment", "d", "a", api_version="apps/v1"),
               obj("CustomResourceDefinition", "widgets.x.io", api_version="apiextensions.k8s.io/v1"),
               obj("ServiceAccount", "s", "a"), obj("Namespace", "a")]
    assert [o["kind"] for o in kube_engine.ordered(objects)] == [
        "Namespace", "CustomResourceDefinition", "ServiceAccount", "Deployment", "Widget"]


def test_covers_is_true_only_when_every_desired_field_is_live():
    live = {"spec": {"replicas": 1, "strategy": {"type": "RollingUpdate"},
                     "ports": [{"port": 80, "protocol": "TCP"}]}}
    assert kube_engine.covers(live, {"spec": {"replicas": 1, "ports": [{"port": 80}]}})
    assert not kube_engine.covers(live, {"spec": {"replicas": 2}})
    assert not kube_engine.covers(live, {"spec": {"ports": [{"port": 80}, {"port": 81}]}})
    assert not kube_engine.covers(live, {"spec": {"paused": True}})


def test_the_digest_changes_with_any_field_and_ignores_itself():
    a = kube_engine.decorate(obj("ConfigMap", "c", "n", data={"a": "1"}), "mlflow", "applyset-x-v1")
    b = kube_engine.decorate(obj("ConfigMap", "c", "n", data={"a": "1", "b": "2"}), "mlflow", "applyset-x-v1")
    assert a["metadata"]["annotations"][kube_engine.DIGEST_ANNOTATION] != \
        b["metadata"]["annotations"][kube_engine.DIGEST_ANNOTATION]
    assert kube_engine.decorate(a, "mlflow", "applyset-x-v1") == a  # decorating twice changes nothing
    assert a["metadata"]["labels"] == {kube_engine.MANAGED_BY_LABEL: "mlops.platform",
                                       kube_engine.COMPONENT_LABEL: "mlflow",
                                       kube_engine.APPLYSET_PART_OF: "applyset-x-v1"}


def test_applyset_id_follows_kep_3659():
    # base64url(sha256("<name>.<namespace>.<kind>.<group>")), unpadded: the id kubectl computes.
    assert kube_engine.applyset_id("mlops-platform-mlflow", "mlflow") == \
        "applyset-" + __import__("base64").urlsafe_b64encode(__import__("hashlib").sha256(
            b"mlops-platform-mlflow.mlflow.ConfigMap.").digest()).decode().rstrip("=") + "-v1"


def test_project_keeps_only_the_owned_fields_of_keyed_lists():
    live = {"spec": {"replicas": 2, "revisionHistoryLimit": 10, "template": {"spec": {"containers": [
        {"name": "main", "image": "a", "terminationMessagePath": "/dev/termination-log"},
        {"name": "sidecar", "image": "b"}]}}}}
    fields = {"f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {
        'k:{"name":"main"}': {".": {}, "f:image": {}, "f:name": {}}}}}}}
    assert kube_engine.project(live, fields) == {"spec": {"replicas": 2, "template": {"spec": {"containers": [
        {"name": "main", "image": "a"}]}}}}


def test_plan_view_strips_server_metadata_and_redacts_secrets():
    secret = obj("Secret", "s", "n", data={"password": "c2VjcmV0"})
    secret["metadata"].update({"resourceVersion": "5", "uid": "u", "managedFields": []})
    secret["status"] = {}
    view = kube_engine.plan_view(secret, {})
    assert view == {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "n"},
                    "data": {"password": "<redacted>"}}
    assert "c2VjcmV0" not in json.dumps(view)


def test_conflicts_are_read_from_the_api_servers_answer():
    class Conflict(object):
        body = json.dumps({"message": "Apply failed with 1 conflict", "details": {"causes": [
            {"reason": "FieldManagerConflict", "message": 'conflict with "argocd-controller" using v1',
             "field": ".data.value"}]}})
    assert kube_engine.conflicts_of(Conflict()) == [("argocd-controller", ".data.value")]


@pytest.mark.parametrize("bad, message", [
    ("text", "object 0 is not a mapping"),
    ({"kind": "ConfigMap", "metadata": {"name": "x"}}, "object 0 has no apiVersion"),
    ({"apiVersion": "v1", "kind": "ConfigMap"}, "object 0 has no metadata.name"),
])
def test_render_refuses_objects_without_identity(tmp_path, bad, message):
    with pytest.raises(KubeError) as error:
        kube_engine.render("c", "n", [bad], str(tmp_path / "c"))
    assert str(error.value) == message
    assert not (tmp_path / "c").exists()


def test_render_in_check_mode_reports_without_writing(tmp_path):
    result = kube_engine.render("c", "n", [obj("ConfigMap", "x", "n")], str(tmp_path / "c"), check_mode=True)
    assert result["changed"] and len(result["written"]) == 2 and not (tmp_path / "c").exists()
