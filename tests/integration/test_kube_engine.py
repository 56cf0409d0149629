"""The Kubernetes engine (module_utils/kube_engine.py) against the session's real control plane:
apply in dependency order, a re-apply that writes nothing, plans (server-side dry-run) with
their diffs, drift put back, conflicts with another declarative manager, ownership,
pruning, readiness waits that say why, and render -> the rendered files accepted by the
same API server. Every assertion is about what the real API server holds or answered."""

import copy
import os
import uuid

import pytest
import yaml

from kubernetes import client
from kubernetes.dynamic import DynamicClient

from ansible_collections.mlops.platform.plugins.module_utils import kube_engine
from ansible_collections.mlops.platform.plugins.module_utils.kube_engine import Engine, KubeError

PAUSE = "registry.k8s.io/pause:3.10"
APPLY = "application/apply-patch+yaml"
GROUP = "engine.test.mlops.platform"


def crd(plural, kind):
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "%s.%s" % (plural, GROUP)},
        "spec": {"group": GROUP, "scope": "Namespaced",
                 "names": {"plural": plural, "singular": kind.lower(), "kind": kind, "listKind": kind + "List"},
                 "versions": [{"name": "v1", "served": True, "storage": True,
                               "schema": {"openAPIV3Schema": {
                                   "type": "object",
                                   "properties": {"spec": {"type": "object", "required": ["size"],
                                                           "properties": {"size": {"type": "integer",
                                                                                   "minimum": 1}}}}}}}]},
    }


def deployment(namespace, name="web", replicas=1, node_selector=None, image=PAUSE):
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"nodeSelector": node_selector or {"mlops.platform/pool": "cpu"},
                                       "containers": [{"name": "main", "image": image,
                                                       "resources": {"requests": {"cpu": "100m",
                                                                                  "memory": "64Mi"}}}]}}},
    }


def objects_for(ns, replicas=1, config_value="1"):
    """A small component: its namespace, a CRD and one of its objects, a ConfigMap, a
    Service and a Deployment, given in an order the API server could not take them in.
    The CRD's kind is the namespace's own, so that tests never share one."""
    plural, kind = ns.replace("-", ""), "K" + ns.replace("-", "")
    return [
        deployment(ns, replicas=replicas),
        {"apiVersion": "%s/v1" % GROUP, "kind": kind, "metadata": {"name": "one", "namespace": ns},
         "spec": {"size": 3}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": ns},
         "data": {"value": config_value}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": ns},
         "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}},
        crd(plural, kind),
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
    ]


@pytest.fixture
def component(kube_client, fake_nodes):
    """A component name and namespace of the test's own; its objects (CRD included) are
    removed afterwards by turning the component off with prune_data."""
    suffix = uuid.uuid4().hex[:6]
    name, ns = "eng%s" % suffix, "eng-%s" % suffix
    yield name, ns
    Engine(kube_client, name, ns, prune_data=True).apply([])


def live(kube_client, api_version, kind, name, namespace=None):
    dynamic = DynamicClient(kube_client)
    resource = dynamic.resources.get(api_version=api_version, kind=kind)
    return dynamic.get(resource, name=name, namespace=namespace).to_dict()


def versions(kube_client, objects):
    return dict((kube_engine.ref(obj), live(kube_client, obj["apiVersion"], obj["kind"], obj["metadata"]["name"],
                                            obj["metadata"].get("namespace"))["metadata"]["resourceVersion"])
                for obj in objects)


def test_apply_in_order_then_a_reapply_writes_nothing(kube_client, component):
    name, ns = component
    objects = objects_for(ns)
    # The parent ConfigMap lives in the component's own namespace, which the apply creates first.
    result = Engine(kube_client, name, ns).apply(objects)
    assert result["changed"] and len(result["created"]) == 6, result
    assert result["created"][:2] == ["v1 Namespace %s" % ns,
                                     "apiextensions.k8s.io/v1 CustomResourceDefinition %s.%s" % (ns.replace("-", ""), GROUP)]
    made = live(kube_client, "apps/v1", "Deployment", "web", ns)
    assert made["metadata"]["labels"][kube_engine.COMPONENT_LABEL] == name
    assert made["metadata"]["labels"][kube_engine.APPLYSET_PART_OF].startswith("applyset-")
    parent = live(kube_client, "v1", "ConfigMap", kube_engine.inventory_name(name), ns)
    assert set(parent["metadata"]["annotations"][kube_engine.APPLYSET_KINDS].split(",")) == {
        "Namespace", "CustomResourceDefinition.apiextensions.k8s.io", "K%s.%s" % (ns.replace("-", ""), GROUP), "ConfigMap", "Service",
        "Deployment.apps"}

    Engine(kube_client, name, ns).wait(objects, timeout=120)  # the Deployment's status settles
    before = versions(kube_client, objects)
    again = Engine(kube_client, name, ns).apply(objects)
    assert not again["changed"] and again["unchanged"] == 6 and not again["diff"], again
    assert versions(kube_client, objects) == before
    # No write at all; reads: the ApplySet parent, then one LIST per kind (discovery aside,
    # which this process has cached already).
    assert set(again["requests"]) <= {"GET", "discovery"}, again["requests"]
    assert again["requests"]["GET"] == 1 + 6, again["requests"]


def test_check_mode_is_a_server_side_dry_run_with_a_plan(kube_client, component):
    name, ns = component
    # On an empty cluster: the namespace, the CRD and the custom resource are predicted.
    plan = Engine(kube_client, name, ns, check_mode=True).apply(objects_for(ns))
    assert plan["changed"] and len(plan["created"]) == 6 and plan["requests"].get("PATCH", 0) <= 2
    with pytest.raises(client.ApiException):
        client.CoreV1Api(kube_client).read_namespace(ns)
    # Objects in a namespace another component makes first (the platform base makes the
    # components' namespaces): predicted too, with one GET for the namespace.
    elsewhere = [obj for obj in objects_for(ns) if obj["kind"] in ("ConfigMap", "Service")]
    plan = Engine(kube_client, name, ns, check_mode=True).apply(elsewhere)
    assert sorted(plan["created"]) == ["v1 ConfigMap %s/settings" % ns, "v1 Service %s/web" % ns], plan
    assert "PATCH" not in plan["requests"], plan["requests"]

    engine = Engine(kube_client, name, ns)
    engine.apply(objects_for(ns))
    engine.wait(objects_for(ns), timeout=120)  # the Deployment's status settles: resourceVersions stay put
    changed = objects_for(ns, replicas=2, config_value="2")
    rv = versions(kube_client, changed)
    plan = Engine(kube_client, name, ns, check_mode=True).apply(changed)
    assert sorted(plan["updated"]) == ["apps/v1 Deployment %s/web" % ns, "v1 ConfigMap %s/settings" % ns], plan
    assert versions(kube_client, changed) == rv  # nothing written
    diff = dict((d["before_header"], d) for d in plan["diff"])
    deployment_diff = diff["apps/v1 Deployment %s/web" % ns]
    assert deployment_diff["before"]["spec"]["replicas"] == 1 and deployment_diff["after"]["spec"]["replicas"] == 2
    # Projected on our fields: no server defaults, no status, no managedFields.
    assert "strategy" not in deployment_diff["after"]["spec"] and "status" not in deployment_diff["after"]
    assert "managedFields" not in deployment_diff["after"]["metadata"]
    assert "terminationMessagePath" not in deployment_diff["after"]["spec"]["template"]["spec"]["containers"][0]
    assert diff["v1 ConfigMap %s/settings" % ns]["after"]["data"] == {"value": "2"}


def test_drift_is_planned_and_put_back(kube_client, component):
    name, ns = component
    objects = objects_for(ns)
    Engine(kube_client, name, ns).apply(objects)
    apps, core = client.AppsV1Api(kube_client), client.CoreV1Api(kube_client)
    # Behind the play's back, imperatively (as kubectl scale / kubectl delete do).
    apps.patch_namespaced_deployment_scale("web", ns, {"spec": {"replicas": 3}}, field_manager="kubectl")
    core.delete_namespaced_config_map("settings", ns)

    plan = Engine(kube_client, name, ns, check_mode=True).apply(objects)
    assert plan["created"] == ["v1 ConfigMap %s/settings" % ns]
    assert plan["updated"] == ["apps/v1 Deployment %s/web" % ns], plan
    diff = [d for d in plan["diff"] if d["before_header"] == "apps/v1 Deployment %s/web" % ns][0]
    assert (diff["before"]["spec"]["replicas"], diff["after"]["spec"]["replicas"]) == (3, 1)
    assert apps.read_namespaced_deployment("web", ns).spec.replicas == 3

    repaired = Engine(kube_client, name, ns).apply(objects)
    assert repaired["created"] == plan["created"] and repaired["updated"] == plan["updated"]
    assert any("changed by kubectl, set back" in w for w in repaired["warnings"]), repaired["warnings"]
    assert apps.read_namespaced_deployment("web", ns).spec.replicas == 1
    assert core.read_namespaced_config_map("settings", ns).data == {"value": "1"}
    assert not Engine(kube_client, name, ns).apply(objects)["changed"]


def test_a_declarative_conflict_is_reported_and_forced_only_when_asked(kube_client, component):
    name, ns = component
    objects = objects_for(ns)
    Engine(kube_client, name, ns).apply(objects)
    other = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": ns},
             "data": {"value": "theirs"}}
    client.CoreV1Api(kube_client).patch_namespaced_config_map("settings", ns, other, field_manager="argocd-controller",
                                                              force=True, _content_type=APPLY)
    with pytest.raises(KubeError) as error:
        Engine(kube_client, name, ns).apply(objects)
    assert "argocd-controller owns .data.value" in str(error.value) and "force_conflicts" in str(error.value)
    assert client.CoreV1Api(kube_client).read_namespaced_config_map("settings", ns).data == {"value": "theirs"}

    forced = Engine(kube_client, name, ns, force_conflicts=True).apply(objects)
    assert forced["updated"] == ["v1 ConfigMap %s/settings" % ns]
    assert client.CoreV1Api(kube_client).read_namespaced_config_map("settings", ns).data == {"value": "1"}


def test_an_object_made_by_someone_else_is_never_adopted_silently(kube_client, namespace):
    core = client.CoreV1Api(kube_client)
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "theirs"}, "data": {"a": "b"}})
    mine = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "theirs", "namespace": namespace},
            "data": {"a": "c"}}
    name = "own%s" % uuid.uuid4().hex[:6]
    with pytest.raises(KubeError) as error:
        Engine(kube_client, name, namespace).apply([mine])
    assert "was not made by mlops.platform" in str(error.value) and "adopt" in str(error.value)
    assert core.read_namespaced_config_map("theirs", namespace).data == {"a": "b"}
    adopted = Engine(kube_client, name, namespace, adopt=True).apply([mine])
    assert adopted["updated"] == ["v1 ConfigMap %s/theirs" % namespace]
    assert any("adopted" in w for w in adopted["warnings"])
    Engine(kube_client, name, namespace).apply([])


def test_prune_deletes_what_is_no_longer_desired_and_keeps_data_unless_told(kube_client, component):
    name, ns = component
    objects = objects_for(ns)
    Engine(kube_client, name, ns).apply(objects)
    without_config = [obj for obj in objects if obj["kind"] != "ConfigMap"]
    plan = Engine(kube_client, name, ns, check_mode=True).apply(without_config)
    assert plan["deleted"] == ["v1 ConfigMap %s/settings" % ns] and plan["diff"][0]["after"] == {}
    pruned = Engine(kube_client, name, ns).apply(without_config)
    assert pruned["deleted"] == ["v1 ConfigMap %s/settings" % ns]
    with pytest.raises(client.ApiException):
        client.CoreV1Api(kube_client).read_namespaced_config_map("settings", ns)

    # The component turned off: everything goes but the namespace and the CRD (data).
    off = Engine(kube_client, name, ns).apply([])
    assert sorted(off["deleted"]) == sorted(["apps/v1 Deployment %s/web" % ns, "v1 Service %s/web" % ns,
                                             "%s/v1 K%s %s/one" % (GROUP, ns.replace("-", ""), ns)]), off
    assert sorted(off["kept"]) == sorted(["v1 Namespace %s" % ns,
                                          "apiextensions.k8s.io/v1 CustomResourceDefinition %s.%s" % (ns.replace("-", ""), GROUP)])
    assert not off["changed"] or off["deleted"]
    assert not Engine(kube_client, name, ns).apply([])["changed"]


def test_waits_report_readiness_and_why_not(kube_client, component):
    name, ns = component
    objects = objects_for(ns, replicas=2)
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once", "namespace": ns},
           "spec": {"backoffLimit": 0, "template": {"spec": {
               "restartPolicy": "Never", "nodeSelector": {"mlops.platform/pool": "cpu"},
               "containers": [{"name": "main", "image": PAUSE}]}}}}
    engine = Engine(kube_client, name, ns)
    engine.apply(objects + [job])
    engine.wait(objects + [job], timeout=120)
    assert client.AppsV1Api(kube_client).read_namespaced_deployment("web", ns).status.available_replicas == 2

    nowhere = deployment(ns, name="nowhere", node_selector={"mlops.platform/pool": "does-not-exist"})
    engine.apply(objects + [job, nowhere])
    with pytest.raises(KubeError) as error:
        engine.wait([nowhere], timeout=5)
    message = str(error.value)
    assert "Deployment %s/nowhere" % ns in message and "not ready after 5 s" in message
    assert "Unschedulable" in message and "node affinity/selector" in message, message


def job(namespace, name, wave, pool="cpu"):
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "namespace": namespace,
                         "annotations": {kube_engine.WAVE_ANNOTATION: str(wave)}},
            "spec": {"backoffLimit": 0, "template": {"spec": {
                "restartPolicy": "Never", "nodeSelector": {"mlops.platform/pool": pool},
                "containers": [{"name": "main", "image": PAUSE}]}}}}


def test_a_wave_is_ready_before_the_next_is_applied(kube_client, component):
    """Sync waves: a Job of wave -1 that cannot run stops the apply before wave 0 (the
    Deployment is never made); one that completes is complete before the Deployment exists."""
    name, ns = component
    objects = objects_for(ns)
    engine = Engine(kube_client, name, ns)
    with pytest.raises(KubeError) as error:
        engine.apply(objects + [job(ns, "stuck", -1, pool="does-not-exist")], wave_timeout=3)
    assert "Job %s/stuck" % ns in str(error.value) and "Unschedulable" in str(error.value)
    with pytest.raises(Exception):
        client.AppsV1Api(kube_client).read_namespaced_deployment("web", ns)

    result = engine.apply(objects + [job(ns, "migrate", -1)])
    assert "apps/v1 Deployment %s/web" % ns in result["created"]
    assert "batch/v1 Job %s/stuck" % ns in result["deleted"]
    migrated = client.BatchV1Api(kube_client).read_namespaced_job("migrate", ns)
    served = client.AppsV1Api(kube_client).read_namespaced_deployment("web", ns)
    assert migrated.status.completion_time <= served.metadata.creation_timestamp

    # A re-run with the Job complete waits for nothing and writes nothing.
    again = Engine(kube_client, name, ns).apply(objects + [job(ns, "migrate", -1)])
    assert not again["changed"] and set(again["requests"]) <= {"GET", "discovery"}, again["requests"]

    with pytest.raises(KubeError) as error:
        engine.apply([dict(job(ns, "bad", "first"))])
    assert "sync-wave" in str(error.value) and "'first' is not an integer" in str(error.value)


def test_render_is_byte_stable_and_the_api_server_accepts_it(kube_client, component, tmp_path):
    name, ns = component
    objects = objects_for(ns)
    app = {"name": name, "repo_url": "https://git.example.com/platform.git", "revision": "main",
           "path": "build/dev/manifests/%s" % name}
    directory = tmp_path / "manifests" / name
    first = kube_engine.render(name, ns, objects, str(directory), application=app)
    assert first["changed"]
    contents = dict((p, open(p, "rb").read()) for p in first["files"])
    again = kube_engine.render(name, ns, list(reversed(copy.deepcopy(objects))), str(directory), application=app)
    assert not again["changed"] and dict((p, open(p, "rb").read()) for p in again["files"]) == contents
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    assert kustomization["resources"][0] == "namespace_%s.yaml" % ns and len(kustomization["resources"]) == 6
    application = yaml.safe_load((tmp_path / "manifests" / "applications" / ("%s.yaml" % name)).read_text())
    assert application["spec"]["source"]["path"] == app["path"]

    # A file left over from an earlier render is removed.
    stale = kube_engine.render(name, ns, [obj for obj in objects if obj["kind"] != "Service"], str(directory))
    assert stale["removed"] == [str(directory / ("service_%s_web.yaml" % ns))]

    # What was rendered is what apply would send: apply the files, then the engine sees no change.
    rendered = [yaml.safe_load(open(os.path.join(str(directory), f)).read())
                for f in yaml.safe_load((directory / "kustomization.yaml").read_text())["resources"]]
    Engine(kube_client, name, ns).apply(objects)
    dynamic = DynamicClient(kube_client)
    for obj in rendered:
        resource = dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        dynamic.server_side_apply(resource, body=obj, namespace=obj["metadata"].get("namespace"),
                                  field_manager=kube_engine.FIELD_MANAGER, dry_run="All")
    assert rendered == [Engine(kube_client, name, ns).decorate(obj) for obj in kube_engine.ordered(
        [o for o in objects if o["kind"] != "Service"])]


def test_bad_objects_are_refused_before_any_request(kube_client):
    engine = Engine(kube_client, "bad", "default")
    before = dict(engine.requests)
    with pytest.raises(KubeError) as error:
        engine.apply([{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}])
    assert "object 0 has no metadata.name" in str(error.value)
    twice = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "default"}}
    with pytest.raises(KubeError) as error:
        engine.apply([twice, dict(twice)])
    assert "is given twice" in str(error.value)
    assert engine.requests == before
