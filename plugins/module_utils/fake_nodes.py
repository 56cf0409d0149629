# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Nodes of an EKS managed node group, as fake nodes for the local control plane.

The local environment has no EC2 instances: a node group's instances are registered as
Node objects that kwok keeps Ready (it manages Nodes annotated ``kwok.x-k8s.io/node:
fake``) and whose pods it runs through their lifecycle. So the real scheduler places the
platform's pods, the Nodes must look like the ones EKS registers: the labels the kubelet
and EKS put on them, the node group's own labels and taints, and the capacity and
allocatable of the instance type (plugins/module_utils/instance_types.py), GPUs included
(``nvidia.com/gpu``, as the NVIDIA device plugin advertises them).

Pure: builds the objects, talks to no API. tools/local_k8s.py (`nodes`) applies them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import re

from ansible_collections.mlops.platform.plugins.module_utils.instance_types import instance_type
from ansible_collections.mlops.platform.plugins.module_utils.kube_objects import NODEGROUP_LABEL

KWOK_ANNOTATION = "kwok.x-k8s.io/node"
KWOK_ANNOTATION_VALUE = "fake"
CAPACITY_TYPE_LABEL = "eks.amazonaws.com/capacityType"
CAPACITY_TYPES = ("ON_DEMAND", "SPOT")
GPU_RESOURCE = "nvidia.com/gpu"
# What the kubelet of an EKS node reports: the node group's disk (EKS defaults to
# 20 GiB) as ephemeral storage; the OS image and runtime of the EKS-optimized AL2023 AMI.
DEFAULT_DISK_SIZE_GIB = 20
OS_IMAGE = "Amazon Linux 2023"
CONTAINER_RUNTIME = "containerd://1.7.27"
MAX_NODES_PER_GROUP = 250

# Taint effects: the EKS API spells them NO_SCHEDULE, Kubernetes NoSchedule.
_EFFECTS = {
    "NO_SCHEDULE": "NoSchedule",
    "NO_EXECUTE": "NoExecute",
    "PREFER_NO_SCHEDULE": "PreferNoSchedule",
    "NoSchedule": "NoSchedule",
    "NoExecute": "NoExecute",
    "PreferNoSchedule": "PreferNoSchedule",
}
_ZONE = re.compile(r"^([a-z]{2}(?:-[a-z]+)+-\d+)[a-z]$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")


class FakeNodeError(ValueError):
    """The node group cannot be turned into Nodes; the message says why."""


def _region_of(zone):
    match = _ZONE.match(zone or "")
    if not match:
        raise FakeNodeError("%r is not an availability zone name (expected e.g. eu-west-1a)" % (zone,))
    return match.group(1)


def _taint(taint):
    if not isinstance(taint, dict) or not taint.get("key"):
        raise FakeNodeError("taint %r needs a key" % (taint,))
    effect = _EFFECTS.get(taint.get("effect"))
    if effect is None:
        raise FakeNodeError("taint %r: effect must be one of %s"
                            % (taint, ", ".join(sorted(set(_EFFECTS)))))
    result = {"key": taint["key"], "effect": effect}
    if taint.get("value") not in (None, ""):
        result["value"] = str(taint["value"])
    return result


def _millicores(millicores):
    return "%dm" % millicores


def reserved_cpu_millicores(vcpus):
    """CPU the EKS AMI reserves for the kubelet and system (kube-reserved): 6% of the
    first core, 1% of the second, 0.5% of the third and fourth, 0.25% of every other."""
    reserved = 0.0
    for core in range(vcpus):
        reserved += 60 if core == 0 else 10 if core == 1 else 5 if core < 4 else 2.5
    return int(reserved)


def reserved_memory_mib(max_pods):
    """Memory the EKS AMI reserves (kube-reserved 255 MiB + 11 MiB per pod) plus the
    kubelet's hard eviction threshold (100 MiB)."""
    return 255 + 11 * max_pods + 100


def node_resources(type_name, disk_size_gib=DEFAULT_DISK_SIZE_GIB):
    """(capacity, allocatable) of a node of the instance type, as Kubernetes quantities."""
    row = instance_type(type_name)
    disk_bytes = disk_size_gib * 1024 ** 3
    capacity = {
        "cpu": str(row.vcpus),
        "memory": "%dMi" % row.memory_mib,
        "pods": str(row.max_pods),
        "ephemeral-storage": "%dGi" % disk_size_gib,
    }
    allocatable = {
        "cpu": _millicores(row.vcpus * 1000 - reserved_cpu_millicores(row.vcpus)),
        "memory": "%dMi" % (row.memory_mib - reserved_memory_mib(row.max_pods)),
        "pods": str(row.max_pods),
        # kube-reserved 1 GiB, then the kubelet's nodefs.available<10% eviction.
        "ephemeral-storage": str(int((disk_bytes - 1024 ** 3) - disk_bytes // 10)),
    }
    if row.gpus:
        capacity[GPU_RESOURCE] = allocatable[GPU_RESOURCE] = str(row.gpus)
    return capacity, allocatable


def _digest(*parts):
    return hashlib.sha256("/".join(parts).encode("utf-8")).hexdigest()


def node_names(node_group, count, region):
    """Stable EKS-style names (ip-10-x-y-z.<region>.compute.internal) and their IPs."""
    digest = int(_digest("node-group", node_group)[:4], 16)
    names = []
    for index in range(count):
        address = "10.%d.%d.%d" % (digest >> 8, digest & 0xFF, index + 4)
        host = "ip-%s" % address.replace(".", "-")
        names.append(("%s.%s.compute.internal" % (host, region), address))
    return names


def node_group_nodes(node_group, count, instance_type_name, zones, capacity_type="ON_DEMAND",
                     labels=None, taints=None, kubernetes_version=None,
                     disk_size_gib=DEFAULT_DISK_SIZE_GIB):
    """The Node objects (dicts, metadata/spec/status) of a managed node group.

    ``zones`` are the node group's availability zones; nodes are spread over them in
    turn, as the group's Auto Scaling group balances instances. ``taints`` use the EKS
    API form ({key, value, effect: NO_SCHEDULE|NO_EXECUTE|PREFER_NO_SCHEDULE}) or the
    Kubernetes one. Raises FakeNodeError (or UnknownInstanceType) on bad input.
    """
    if not isinstance(node_group, str) or not _NAME.match(node_group):
        raise FakeNodeError("node group name %r: 1-63 letters, digits, - or _, starting "
                            "with a letter or digit" % (node_group,))
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_NODES_PER_GROUP:
        raise FakeNodeError("count %r: expected a whole number from 0 to %d" % (count, MAX_NODES_PER_GROUP))
    if capacity_type not in CAPACITY_TYPES:
        raise FakeNodeError("capacity type %r: expected one of %s" % (capacity_type, ", ".join(CAPACITY_TYPES)))
    if isinstance(zones, str) or not zones:
        raise FakeNodeError("zones: expected a non-empty list of availability zones")
    zones = list(zones)
    regions = set(_region_of(zone) for zone in zones)
    if len(regions) != 1:
        raise FakeNodeError("zones %s span several regions" % ", ".join(zones))
    region = regions.pop()
    capacity, allocatable = node_resources(instance_type_name, disk_size_gib)
    node_taints = [_taint(taint) for taint in (taints or [])]
    extra_labels = dict((str(key), str(value)) for key, value in (labels or {}).items())
    kubelet_version = kubernetes_version or "v1.36.0-eks"

    nodes = []
    for index, (name, address) in enumerate(node_names(node_group, count, region)):
        zone = zones[index % len(zones)]
        instance_id = "i-0%s" % _digest("instance", node_group, str(index))[:16]
        node_labels = dict(extra_labels)
        node_labels.update({
            NODEGROUP_LABEL: node_group,
            CAPACITY_TYPE_LABEL: capacity_type,
            "node.kubernetes.io/instance-type": instance_type_name,
            "beta.kubernetes.io/instance-type": instance_type_name,
            "topology.kubernetes.io/zone": zone,
            "topology.kubernetes.io/region": region,
            "kubernetes.io/os": "linux",
            "beta.kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "beta.kubernetes.io/arch": "amd64",
            "kubernetes.io/hostname": name,
        })
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "labels": node_labels,
                "annotations": {KWOK_ANNOTATION: KWOK_ANNOTATION_VALUE},
            },
            "spec": {"providerID": "aws:///%s/%s" % (zone, instance_id)},
            "status": {
                "capacity": dict(capacity),
                "allocatable": dict(allocatable),
                "addresses": [
                    {"type": "InternalIP", "address": address},
                    {"type": "InternalDNS", "address": name},
                    {"type": "Hostname", "address": name},
                ],
                "nodeInfo": {
                    "architecture": "amd64",
                    "operatingSystem": "linux",
                    "osImage": OS_IMAGE,
                    "containerRuntimeVersion": CONTAINER_RUNTIME,
                    "kubeletVersion": kubelet_version,
                    "kubeProxyVersion": kubelet_version,
                    "kernelVersion": "6.1.0-eks",
                    "machineID": instance_id,
                    "systemUUID": instance_id,
                    "bootID": "",
                },
            },
        }
        if node_taints:
            node["spec"]["taints"] = [dict(taint) for taint in node_taints]
        nodes.append(node)
    return nodes
