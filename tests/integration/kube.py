"""Integration harness for Kubernetes: one local control plane per test session.

Registered from conftest.py (pytest_plugins). The control plane (tools/local_k8s.py) gets a
temporary state directory (fresh etcd data, fresh PKI) and free ports, never the demo's
(.local/k8s, 6443). Its node groups are fake nodes shaped like EKS managed node groups:
``cpu`` (2 x m5.xlarge) and ``gpu`` (1 x g5.xlarge, tainted nvidia.com/gpu=true:NoSchedule).

Nothing is skipped: if the control plane cannot start, every test that needs it fails with
the launcher's message.
"""

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAUNCHER = os.path.join(ROOT, "tools", "local_k8s.py")
# CI lays shared/ beside the clone.
MIRROR = os.path.join(os.path.dirname(ROOT), "shared", "mirror")
# The collection's module_utils, importable as Ansible imports them.
if os.path.join(ROOT, ".collections") not in sys.path:
    sys.path.insert(0, os.path.join(ROOT, ".collections"))

CPU_GROUP = {"node_group": "cpu", "count": 2, "instance_type": "m5.xlarge",
             "zones": ["eu-west-1a", "eu-west-1b"], "capacity_type": "ON_DEMAND",
             "labels": {"mlops.platform/pool": "cpu"}, "taints": []}
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}
GPU_GROUP = {"node_group": "gpu", "count": 1, "instance_type": "g5.xlarge",
             "zones": ["eu-west-1a"], "capacity_type": "SPOT",
             "labels": {"mlops.platform/pool": "gpu"}, "taints": [GPU_TAINT]}


def _launcher_module():
    spec = importlib.util.spec_from_file_location("local_k8s", LAUNCHER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout=60.0, interval=0.2, message="condition"):
    """Poll ``predicate`` until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %.0f s waiting for %s (last: %r)" % (timeout, message, last))


class ControlPlane:
    def __init__(self, state_dir, kubeconfig, port, error=None):
        self.state_dir = state_dir
        self.kubeconfig = kubeconfig
        self.port = port
        self.error = error

    def command(self, *args):
        return [sys.executable, LAUNCHER, "--port", str(self.port), "--state-dir", str(self.state_dir),
                "--kubeconfig", str(self.kubeconfig)] + list(args)


@pytest.fixture(scope="session")
def control_plane():
    """The session's control plane, started once; stopped (and its processes gone) at the end.

    Its state lives in a directory of its own rather than under pytest's numbered temporary
    directories, which another pytest session of the same user may rotate away: the pid
    files `down` needs must outlive any other session.
    """
    base = Path(tempfile.mkdtemp(prefix="mlops-k8s-"))
    plane = ControlPlane(base / "state", base / "kubeconfig", _free_port())
    try:
        started = subprocess.run(plane.command("up", "--timeout", "240"), capture_output=True, text=True,
                                 check=False, timeout=3600)
        if started.returncode != 0:
            plane.error = (started.stderr.strip() or started.stdout.strip()
                           or "local_k8s.py up exited %d" % started.returncode)
        yield plane
    finally:
        subprocess.run(plane.command("down"), capture_output=True, text=True, check=False, timeout=120)
        shutil.rmtree(str(base), ignore_errors=True)


@pytest.fixture(scope="session")
def kube_client(control_plane):
    """A kubernetes ApiClient for the session's control plane (admin)."""
    if control_plane.error:
        pytest.fail("the local control plane did not start: %s" % control_plane.error, pytrace=False)
    from kubernetes import config

    api_client = config.new_client_from_config(config_file=str(control_plane.kubeconfig))
    yield api_client
    api_client.close()


@pytest.fixture(scope="session")
def fake_nodes(kube_client):
    """The cpu and gpu node groups, registered as fake nodes and Ready."""
    from kubernetes import client

    launcher = _launcher_module()
    groups = {}
    for group in (CPU_GROUP, GPU_GROUP):
        groups[group["node_group"]] = launcher.apply_node_group(kube_client, **group)
    core = client.CoreV1Api(kube_client)

    def all_ready():
        nodes = core.list_node().items
        ready = [node.metadata.name for node in nodes
                 if any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])
                 and not any(t.key.startswith("node.kubernetes.io/") for t in node.spec.taints or [])]
        return len(ready) >= sum(len(names) for names in groups.values())

    wait_until(all_ready, timeout=60, message="the fake nodes to be Ready")
    return groups


@pytest.fixture
def namespace(kube_client, request):
    """A namespace of the test's own, deleted afterwards (without waiting)."""
    from kubernetes import client

    core = client.CoreV1Api(kube_client)
    name = "t-%s-%s" % (request.node.name.lower().replace("_", "-")[:40].strip("-"), uuid.uuid4().hex[:6])
    name = "".join(ch for ch in name if ch.isalnum() or ch == "-")
    core.create_namespace({"metadata": {"name": name}})
    # Pods can be created only once the namespace's default service account exists.
    wait_until(lambda: any(sa.metadata.name == "default"
                           for sa in core.list_namespaced_service_account(name).items),
               timeout=30, message="the default service account of %s" % name)
    yield name
    core.delete_namespace(name)
