# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Register an EKS managed node group's Nodes in a (local) control plane, as fake nodes.

``apply_node_group(api_client, node_group, count, instance_type, zones, ...)`` makes the
control plane hold exactly ``count`` Nodes of the group, shaped by fake_nodes.py (labels,
taints, capacity of the instance type), which kwok then keeps Ready. Shared by the
``local_nodes`` module and ``tools/local_k8s.py nodes``.

It writes only what differs, and knows that before writing: a Node that exists is
compared with what the API server would make of the apply (a server-side apply with
``dryRun=All``, of the object and of its status), so a label the group no longer has, a
changed taint or capacity count as differences and a re-run with nothing to do writes
nothing. In check mode only those dry runs are made. Needs the ``kubernetes`` package;
raises fake_nodes.FakeNodeError / UnknownInstanceType (ValueError) on bad input and the
client's ApiException on a refusal.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mlops.platform.plugins.module_utils import fake_nodes

FIELD_MANAGER = "mlops-local-k8s"
APPLY = "application/apply-patch+yaml"
# What a kubelet reports about itself; conditions and heartbeats are kwok's.
STATUS_KEYS = ("capacity", "allocatable", "addresses", "nodeInfo")
CONTROLLER_TAINT_PREFIXES = ("node.kubernetes.io/", "node.cloudprovider.kubernetes.io/")


def node_view(node):
    """What a person compares between two states of a Node (a dict as the API serialises it)."""
    metadata = node.get("metadata") or {}
    spec = node.get("spec") or {}
    status = node.get("status") or {}
    return {
        "labels": dict(sorted((metadata.get("labels") or {}).items())),
        "taints": [{key: taint[key] for key in ("key", "value", "effect") if taint.get(key) not in (None, "")}
                   for taint in spec.get("taints") or []],
        "provider_id": spec.get("providerID"),
        "capacity": dict(status.get("capacity") or {}),
        "allocatable": dict(status.get("allocatable") or {}),
    }


def _object_part(node):
    metadata = node.get("metadata") or {}
    spec = dict(node.get("spec") or {})
    # Node.spec.taints is an atomic list: an apply replaces it whole, so the lifecycle
    # controller's transient taints (node.kubernetes.io/not-ready while kwok readies a new
    # Node) always "differ". They are not the group's and come back if still true: ignored.
    spec["taints"] = [taint for taint in spec.get("taints") or []
                      if not str(taint.get("key", "")).startswith(CONTROLLER_TAINT_PREFIXES)]
    return {"labels": metadata.get("labels") or {}, "annotations": metadata.get("annotations") or {}, "spec": spec}


def _status_part(node):
    status = node.get("status") or {}
    return {key: status.get(key) for key in STATUS_KEYS}


def apply_node_group(api_client, node_group, count, instance_type, zones, capacity_type="ON_DEMAND", labels=None,
                     taints=None, disk_size_gib=None, kubernetes_version=None, field_manager=FIELD_MANAGER,
                     check_mode=False):
    """Make the control plane hold ``count`` fake Nodes of ``node_group``; return what it did.

    Returns ``{"names", "created", "updated", "deleted", "before", "after"}``: the group's
    Node names once done, the names written in each way (or that would be, in check mode),
    and ``{node name: node_view}`` of the group's Nodes before and after. Nodes of the group
    beyond ``count`` are deleted, but only fake ones (kwok's annotation). ``kubernetes_version``
    is the kubelet version the Nodes report; by default the API server's.
    """
    from kubernetes import client as k8s

    core = k8s.CoreV1Api(api_client)
    serialize = api_client.sanitize_for_serialization
    version = kubernetes_version or k8s.VersionApi(api_client).get_code().git_version
    nodes = fake_nodes.node_group_nodes(node_group, count, instance_type, zones, capacity_type, labels, taints,
                                        kubernetes_version=version,
                                        disk_size_gib=disk_size_gib or fake_nodes.DEFAULT_DISK_SIZE_GIB)
    listed = core.list_node(label_selector="%s=%s" % (fake_nodes.NODEGROUP_LABEL, node_group)).items
    live = dict((node.metadata.name, serialize(node)) for node in listed)
    result = {"names": [node["metadata"]["name"] for node in nodes], "created": [], "updated": [], "deleted": [],
              "before": dict((name, node_view(node)) for name, node in sorted(live.items())), "after": {}}

    def dry(planning):
        return "All" if planning or check_mode else None

    def apply(name, body, planning=False):
        return serialize(core.patch_node(name, body, field_manager=field_manager, force=True, dry_run=dry(planning),
                                         _content_type=APPLY))

    def apply_status(name, status, planning=False):
        return serialize(core.patch_node_status(name, status, field_manager=field_manager, force=True,
                                                dry_run=dry(planning), _content_type=APPLY))

    for node in nodes:
        name = node["metadata"]["name"]
        body = dict((key, value) for key, value in node.items() if key != "status")
        status = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
                  "status": dict((key, node["status"][key]) for key in STATUS_KEYS)}
        current = live.get(name)
        if current is None:
            # Created by a server-side apply carrying its status, as a kubelet registers
            # itself: kwok initialises a Node it sees without capacity with its own defaults
            # (1k CPUs), and would race a separate status write. (A create would make this
            # field manager an "Update" owner of every field, and a label dropped from the
            # group later would then never be removed.)
            result["created"].append(name)
            result["after"][name] = node_view(apply(name, node))
            continue
        # What the API server would make of the applies, compared before writing anything.
        planned = apply(name, body, planning=True)
        planned_status = apply_status(name, status, planning=True)
        object_differs = _object_part(planned) != _object_part(current)
        status_differs = _status_part(planned_status) != _status_part(current)
        after = dict(current)
        if object_differs:
            after = dict(after, metadata=planned["metadata"], spec=planned["spec"])
            if not check_mode:
                after = dict(apply(name, body), status=after.get("status"))
        if status_differs:
            after = dict(after, status=planned_status["status"])
            if not check_mode:
                after = dict(after, status=apply_status(name, status)["status"])
        if object_differs or status_differs:
            result["updated"].append(name)
        result["after"][name] = node_view(after)

    for name, node in sorted(live.items()):
        annotations = (node.get("metadata") or {}).get("annotations") or {}
        if name in result["names"] or annotations.get(fake_nodes.KWOK_ANNOTATION) != fake_nodes.KWOK_ANNOTATION_VALUE:
            if name not in result["names"]:
                result["after"][name] = result["before"][name]  # a real node: never ours to delete
            continue
        result["deleted"].append(name)
        if not check_mode:
            try:
                core.delete_node(name)
            except k8s.ApiException as exc:
                if exc.status != 404:
                    raise
    return result
