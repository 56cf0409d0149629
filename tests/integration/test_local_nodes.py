"""The local_nodes module and its module_utils function on the session's real control plane:
a GPU node group's nodes are registered with the group's taint and labels, the scheduler
places a pod that tolerates the taint there, and a re-run writes nothing."""

from urllib.parse import parse_qsl

import pytest
from conftest import run_module
from kube import wait_until

from kubernetes import client

from ansible_collections.mlops.platform.plugins.module_utils import local_nodes
from ansible_collections.mlops.platform.plugins.modules import local_nodes as local_nodes_module

PAUSE = "registry.k8s.io/pause:3.10"
# A group of this file's own: the session's `gpu` group belongs to test_local_k8s_cluster.py.
GROUP = {"name": "mlops-it-gpu-l4", "count": 2, "instance_type": "g6.xlarge", "zones": ["eu-west-1a", "eu-west-1b"],
         "capacity_type": "ON_DEMAND",
         "labels": {"nvidia.com/gpu.present": "true", "mlops.platform/workload": "it"},
         "taints": [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}]}


def run(capsys, args, check_mode=False):
    return run_module(capsys, local_nodes_module.main, args, check_mode=check_mode)


class Requests:
    """The HTTP requests an ApiClient sends: (method, path, query)."""

    def __init__(self, api_client, monkeypatch):
        self.sent = []
        original = api_client.rest_client.request

        def recording(method, url, *args, **kwargs):
            path, unused, query = url.partition("?")
            self.sent.append((method, path, dict(parse_qsl(query))))
            return original(method, url, *args, **kwargs)
        monkeypatch.setattr(api_client.rest_client, "request", recording)

    def writes(self):
        return [(method, path) for method, path, query in self.sent
                if method != "GET" and query.get("dryRun") != "All"]


@pytest.fixture
def gpu_group(kube_client):
    """This file's group, removed again afterwards (so no other test's GPU pod lands on it)."""
    yield dict(GROUP)
    local_nodes.apply_node_group(kube_client, GROUP["name"], 0, GROUP["instance_type"], GROUP["zones"])


def _ready(core, names):
    def check():
        nodes = [core.read_node(name) for name in names]
        # Ready, and the lifecycle controller's not-ready taint gone (as kube.py waits).
        return all(any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])
                   and not any(t.key.startswith("node.kubernetes.io/") for t in node.spec.taints or [])
                   for node in nodes) and nodes
    return wait_until(check, timeout=60, message="the nodes %s to be Ready" % ", ".join(names))


def test_module_registers_gpu_nodes_a_tolerating_pod_lands_there_and_a_rerun_changes_nothing(
        kube_client, control_plane, gpu_group, namespace, capsys):
    core = client.CoreV1Api(kube_client)
    args = {"kubeconfig": str(control_plane.kubeconfig), "node_groups": [gpu_group]}

    planned = run(capsys, args, check_mode=True)
    assert planned["changed"] is True
    assert len(planned["node_groups"][GROUP["name"]]["created"]) == 2
    assert core.list_node(label_selector="eks.amazonaws.com/nodegroup=%s" % GROUP["name"]).items == [], \
        "check mode wrote nothing"

    first = run(capsys, args)
    assert first["changed"] is True
    names = first["node_groups"][GROUP["name"]]["nodes"]
    assert sorted(first["node_groups"][GROUP["name"]]["created"]) == sorted(names) and len(names) == 2
    assert first["diff"]["before"][GROUP["name"]] == {}
    assert sorted(first["diff"]["after"][GROUP["name"]]) == sorted(names)

    nodes = _ready(core, names)
    for node in nodes:
        assert [(t.key, t.value, t.effect) for t in node.spec.taints or []] == [("nvidia.com/gpu", "true", "NoSchedule")]
        assert node.metadata.labels["nvidia.com/gpu.present"] == "true"
        assert node.metadata.labels["mlops.platform/workload"] == "it"
        assert node.metadata.labels["eks.amazonaws.com/nodegroup"] == GROUP["name"]
        assert node.status.allocatable["nvidia.com/gpu"] == "1"

    core.create_namespaced_pod(namespace, {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "l4"},
        "spec": {"nodeSelector": {"eks.amazonaws.com/nodegroup": GROUP["name"]},
                 "tolerations": [{"key": "nvidia.com/gpu", "operator": "Equal", "value": "true",
                                  "effect": "NoSchedule"}],
                 "containers": [{"name": "main", "image": PAUSE,
                                 "resources": {"limits": {"nvidia.com/gpu": "1"}}}]}})

    def running():
        pod = core.read_namespaced_pod("l4", namespace)
        return pod.status.phase == "Running" and pod
    pod = wait_until(running, timeout=60, message="the tolerating pod to run")
    assert pod.spec.node_name in names

    again = run(capsys, args)
    assert again["changed"] is False, again["node_groups"]
    assert again["diff"]["before"] == again["diff"]["after"]
    checked = run(capsys, args, check_mode=True)
    assert checked["changed"] is False


def test_function_rerun_writes_nothing_and_changes_are_exact(kube_client, gpu_group, monkeypatch):
    core = client.CoreV1Api(kube_client)
    group = dict(gpu_group, labels=dict(gpu_group["labels"], extra="1"))

    def apply(check_mode=False, **changes):
        spec = dict(group, **changes)
        return local_nodes.apply_node_group(kube_client, spec["name"], spec["count"], spec["instance_type"],
                                            spec["zones"], spec["capacity_type"], spec["labels"], spec["taints"],
                                            check_mode=check_mode)

    first = apply()
    assert len(first["created"]) == 2
    _ready(core, first["names"])

    requests = Requests(kube_client, monkeypatch)
    again = apply()
    assert (again["created"], again["updated"], again["deleted"]) == ([], [], [])
    assert requests.writes() == [], "a re-run with nothing to do writes nothing"

    # A label dropped from the group is removed from its nodes (server-side apply ownership),
    # predicted first by check mode, which writes nothing.
    labels = dict(group["labels"])
    del labels["extra"]
    requests.sent[:] = []
    planned = apply(check_mode=True, labels=labels)
    assert sorted(planned["updated"]) == sorted(first["names"]) and requests.writes() == []
    assert all("extra" not in view["labels"] for view in planned["after"].values())
    assert all("extra" in core.read_node(name).metadata.labels for name in first["names"])

    changed = apply(labels=labels)
    assert sorted(changed["updated"]) == sorted(first["names"])
    assert all("extra" not in core.read_node(name).metadata.labels for name in first["names"])

    # A taint change is exact too, and a smaller count deletes the extra node only.
    taints = [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_EXECUTE"}]
    shrunk = apply(labels=labels, taints=taints, count=1)
    assert shrunk["updated"] == shrunk["names"] and len(shrunk["deleted"]) == 1
    node = core.read_node(shrunk["names"][0])
    assert [(t.key, t.effect) for t in node.spec.taints] == [("nvidia.com/gpu", "NoExecute")]
    assert core.list_node(label_selector="eks.amazonaws.com/nodegroup=%s" % GROUP["name"]).items[0].metadata.name \
        == shrunk["names"][0]
