"""The local control plane (tools/local_k8s.py) behaves like a real cluster where the
platform depends on it: server-side apply, scheduling on EKS-shaped fake nodes (GPUs and
taints included), CRD schemas with CEL rules, Pod Security admission, Jobs."""

import hashlib
import json
import os
import subprocess
import sys
import uuid

import pytest
import yaml
from kube import MIRROR, ROOT, wait_until

from kubernetes import client
from kubernetes.client.rest import ApiException

APPLY = "application/apply-patch+yaml"
MANAGER = "mlops-test"
PAUSE = "registry.k8s.io/pause:3.10"
TRAINJOB_CRD = ("raw.githubusercontent.com/kubeflow/trainer/v2.3.0/manifests/base/crds/"
                "trainer.kubeflow.org_trainjobs.yaml")


def _deployment(name, replicas=2):
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                # The session's cpu pool: a converge in another test may register node groups of its own.
                "spec": {"nodeSelector": {"mlops.platform/pool": "cpu"},
                         "containers": [{"name": "main", "image": PAUSE,
                                         "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]},
            },
        },
    }


def _pod(name, gpus=0, tolerate_gpu=False, privileged=False):
    container = {"name": "main", "image": PAUSE}
    if gpus:
        container["resources"] = {"limits": {"nvidia.com/gpu": str(gpus)}}
    if privileged:
        container["securityContext"] = {"privileged": True}
    # The session's pools only: a converge in another test may register node groups of its own.
    spec = {"containers": [container], "nodeSelector": {"mlops.platform/pool": "gpu" if gpus else "cpu"}}
    if tolerate_gpu:
        spec["tolerations"] = [{"key": "nvidia.com/gpu", "operator": "Equal", "value": "true",
                                "effect": "NoSchedule"}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def _scheduled_condition(core, namespace, name):
    pod = core.read_namespaced_pod(name, namespace)
    for condition in pod.status.conditions or []:
        if condition.type == "PodScheduled":
            return pod, condition
    return pod, None


def test_deployment_by_server_side_apply_becomes_available_and_reapplies_without_change(
        kube_client, fake_nodes, namespace):
    apps = client.AppsV1Api(kube_client)
    core = client.CoreV1Api(kube_client)
    body = _deployment("web")

    applied = apps.patch_namespaced_deployment("web", namespace, body, field_manager=MANAGER,
                                               _content_type=APPLY)

    def available():
        deployment = apps.read_namespaced_deployment("web", namespace)
        return any(c.type == "Available" and c.status == "True" for c in deployment.status.conditions or []) \
            and deployment.status.available_replicas == 2 and deployment
    deployment = wait_until(available, timeout=90, message="Deployment web to be Available")

    pods = core.list_namespaced_pod(namespace, label_selector="app=web").items
    assert len(pods) == 2
    assert {pod.spec.node_name for pod in pods} <= set(fake_nodes["cpu"]), "pods must run on the cpu fake nodes"
    assert all(pod.status.phase == "Running" for pod in pods)

    again = apps.patch_namespaced_deployment("web", namespace, body, field_manager=MANAGER, _content_type=APPLY)
    assert again.metadata.resource_version == deployment.metadata.resource_version
    assert again.metadata.generation == applied.metadata.generation


def test_server_side_dry_run_returns_the_defaulted_object_and_stores_nothing(kube_client, namespace):
    apps = client.AppsV1Api(kube_client)

    planned = apps.patch_namespaced_deployment("planned", namespace, _deployment("planned"), field_manager=MANAGER,
                                               dry_run="All", _content_type=APPLY)

    # Defaults the API server fills in, not present in what was sent.
    assert planned.spec.strategy.type == "RollingUpdate"
    assert planned.spec.revision_history_limit == 10
    assert planned.spec.template.spec.restart_policy == "Always"
    assert planned.spec.template.spec.containers[0].termination_message_path == "/dev/termination-log"
    assert planned.metadata.uid  # it went through the whole create path
    with pytest.raises(ApiException) as missing:
        apps.read_namespaced_deployment("planned", namespace)
    assert missing.value.status == 404


def test_gpu_pod_lands_only_on_a_gpu_node_and_only_when_it_tolerates_the_taint(kube_client, fake_nodes, namespace):
    core = client.CoreV1Api(kube_client)
    core.create_namespaced_pod(namespace, _pod("tolerates", gpus=1, tolerate_gpu=True))
    core.create_namespaced_pod(namespace, _pod("intolerant", gpus=1))

    def scheduled():
        pod, condition = _scheduled_condition(core, namespace, "tolerates")
        return condition is not None and condition.status == "True" and pod
    pod = wait_until(scheduled, timeout=60, message="the tolerating GPU pod to be scheduled")
    assert pod.spec.node_name in fake_nodes["gpu"]
    node = core.read_node(pod.spec.node_name)
    assert node.status.allocatable["nvidia.com/gpu"] == "1"
    assert node.metadata.labels["node.kubernetes.io/instance-type"] == "g5.xlarge"
    assert node.metadata.labels["eks.amazonaws.com/capacityType"] == "SPOT"
    wait_until(lambda: core.read_namespaced_pod("tolerates", namespace).status.phase == "Running",
               timeout=60, message="the GPU pod to run")

    def refused():
        pod, condition = _scheduled_condition(core, namespace, "intolerant")
        return condition is not None and condition.status == "False" and condition.reason == "Unschedulable" \
            and (pod, condition)
    pod, condition = wait_until(refused, timeout=60, message="the intolerant GPU pod to be unschedulable")
    assert pod.spec.node_name is None
    # Its node selector leaves it the session's gpu node alone, whose only taint is the GPU's.
    assert "untolerated taint" in condition.message, condition.message


def test_pod_wanting_more_gpus_than_any_node_stays_pending_with_the_schedulers_reason(
        kube_client, fake_nodes, namespace):
    core = client.CoreV1Api(kube_client)
    core.create_namespaced_pod(namespace, _pod("greedy", gpus=16, tolerate_gpu=True))

    def refused():
        pod, condition = _scheduled_condition(core, namespace, "greedy")
        return condition is not None and condition.status == "False" and (pod, condition)
    pod, condition = wait_until(refused, timeout=60, message="the greedy pod to be unschedulable")
    assert pod.status.phase == "Pending"
    assert condition.reason == "Unschedulable"
    assert "Insufficient nvidia.com/gpu" in condition.message, condition.message

    def failed_scheduling_event():
        events = core.list_namespaced_event(namespace, field_selector="involvedObject.name=greedy").items
        return [event for event in events if event.reason == "FailedScheduling"]
    events = wait_until(failed_scheduling_event, timeout=30, message="a FailedScheduling event")
    assert "Insufficient nvidia.com/gpu" in events[0].message


@pytest.fixture(scope="module")
def trainjob_crd(kube_client):
    """Kubeflow Trainer's TrainJob CRD (v2.3.0) from the shared mirror, checked by sha256."""
    path = os.path.join(MIRROR, TRAINJOB_CRD)
    with open(os.path.join(MIRROR, "SOURCES.md"), encoding="utf-8") as sources:
        expected = next(line.split("|")[2].strip() for line in sources
                        if line.startswith("| https://" + TRAINJOB_CRD + " "))
    with open(path, "rb") as crd_file:
        content = crd_file.read()
    assert hashlib.sha256(content).hexdigest() == expected, "the mirrored CRD is not the pinned file"
    crd = yaml.safe_load(content)
    extensions = client.ApiextensionsV1Api(kube_client)
    extensions.patch_custom_resource_definition(crd["metadata"]["name"], crd, field_manager=MANAGER,
                                                force=True, _content_type=APPLY)

    def established():
        status = extensions.read_custom_resource_definition(crd["metadata"]["name"]).status
        return any(c.type == "Established" and c.status == "True" for c in status.conditions or [])
    wait_until(established, timeout=60, message="the TrainJob CRD to be Established")
    return crd


def _trainjob(name, **spec):
    body = {"apiVersion": "trainer.kubeflow.org/v1alpha1", "kind": "TrainJob", "metadata": {"name": name},
            "spec": {"runtimeRef": {"name": "torch-distributed"}}}
    body["spec"].update(spec)
    return body


def _create_trainjob(kube_client, namespace, body):
    custom = client.CustomObjectsApi(kube_client)
    return custom.create_namespaced_custom_object("trainer.kubeflow.org", "v1alpha1", namespace, "trainjobs", body,
                                                  field_validation="Strict")


def test_crd_from_the_mirror_is_established_and_its_schema_and_cel_rules_are_enforced(
        kube_client, trainjob_crd, namespace):
    created = _create_trainjob(kube_client, namespace, _trainjob("valid"))
    # Structural-schema defaults are applied.
    assert created["spec"]["runtimeRef"]["kind"] == "ClusterTrainingRuntime"
    assert created["spec"]["runtimeRef"]["apiGroup"] == "trainer.kubeflow.org"

    refusals = {
        "missing required field": ({"apiVersion": "trainer.kubeflow.org/v1alpha1", "kind": "TrainJob",
                                    "metadata": {"name": "no-runtime"}, "spec": {}}, "spec.runtimeRef"),
        "wrong type": (_trainjob("wrong-type", runtimeRef={"name": 5}), "spec.runtimeRef.name"),
        "unknown field": (_trainjob("unknown", notAField=True), "notAField"),
        "CEL rule": (_trainjob("cel", managedBy="someone-else"),
                     "ManagedBy must be trainer.kubeflow.org/trainjob-controller"),
    }
    for case, (body, expected) in refusals.items():
        with pytest.raises(ApiException) as refused:
            _create_trainjob(kube_client, namespace, body)
        assert refused.value.status == 422 or (case == "unknown field" and refused.value.status == 400), case
        assert expected in refused.value.body, (case, refused.value.body)

    # A transition rule (self == oldSelf) refuses changing an immutable field.
    custom = client.CustomObjectsApi(kube_client)
    with pytest.raises(ApiException) as immutable:
        custom.patch_namespaced_custom_object("trainer.kubeflow.org", "v1alpha1", namespace, "trainjobs", "valid",
                                              {"spec": {"runtimeRef": {"name": "other"}}})
    assert immutable.value.status == 422
    assert "field is immutable" in immutable.value.body


def test_privileged_pod_is_refused_in_a_restricted_namespace(kube_client, namespace):
    core = client.CoreV1Api(kube_client)
    core.patch_namespace(namespace, {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "restricted"}}})

    with pytest.raises(ApiException) as refused:
        core.create_namespaced_pod(namespace, _pod("privileged", privileged=True))

    assert refused.value.status == 403
    message = json.loads(refused.value.body)["message"]
    assert 'violates PodSecurity "restricted:latest"' in message and "privileged" in message, message


def test_job_completes_on_a_fake_node(kube_client, fake_nodes, namespace):
    batch = client.BatchV1Api(kube_client)
    core = client.CoreV1Api(kube_client)
    name = "job-%s" % uuid.uuid4().hex[:6]
    batch.create_namespaced_job(namespace, {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
        "spec": {"backoffLimit": 0, "template": {"spec": {
            "restartPolicy": "Never", "nodeSelector": {"mlops.platform/pool": "cpu"},
            "containers": [{"name": "main", "image": PAUSE}]}}},
    })

    def complete():
        job = batch.read_namespaced_job(name, namespace)
        return any(c.type == "Complete" and c.status == "True" for c in job.status.conditions or []) and job
    job = wait_until(complete, timeout=90, message="the Job to complete")
    assert job.status.succeeded == 1
    pods = core.list_namespaced_pod(namespace, label_selector="job-name=%s" % name).items
    assert [pod.status.phase for pod in pods] == ["Succeeded"]
    assert pods[0].spec.node_name in fake_nodes["cpu"]


def test_fake_nodes_keep_the_capacity_and_labels_of_their_instance_type(kube_client, fake_nodes):
    from ansible_collections.mlops.platform.plugins.module_utils.fake_nodes import node_resources
    from kubernetes.utils import parse_quantity

    def quantities(resources):
        return {key: parse_quantity(value) for key, value in resources.items()}

    core = client.CoreV1Api(kube_client)
    for group, instance_type in (("cpu", "m5.xlarge"), ("gpu", "g5.xlarge")):
        capacity, allocatable = node_resources(instance_type)
        for name in fake_nodes[group]:
            node = core.read_node(name)
            assert quantities(node.status.capacity) == quantities(capacity), name
            assert quantities(node.status.allocatable) == quantities(allocatable), name
            assert node.metadata.labels["eks.amazonaws.com/nodegroup"] == group
            assert node.metadata.labels["node.kubernetes.io/instance-type"] == instance_type
            assert any(c.type == "Ready" and c.status == "True" for c in node.status.conditions)


def test_the_staging_replaces_are_the_ones_generated_from_the_pinned_kubernetes():
    """tools/k8s/go.mod's replace block is generated (gen_replaces.py), never hand-edited."""
    script = os.path.join(ROOT, "tools", "k8s", "gen_replaces.py")
    result = subprocess.run([sys.executable, script, "--check"], capture_output=True, text=True, check=False,
                            timeout=300)
    assert result.returncode == 0, result.stderr
