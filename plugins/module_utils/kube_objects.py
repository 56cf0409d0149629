# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pieces that every platform component's objects share, written once: where a pod runs (the
EKS node group label), how it meets the ``restricted`` Pod Security Standard, NetworkPolicies,
and the short digest that names an immutable object (a Job, a ConfigMap) by its content.
Pure: no API calls.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json

# The label EKS puts on every node of a managed node group (and the local fake nodes carry).
NODEGROUP_LABEL = "eks.amazonaws.com/nodegroup"

# What `restricted` asks of every container and pod (no privilege escalation, no
# capabilities, non-root, RuntimeDefault seccomp), plus a read-only root file system.
RESTRICTED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
}
RESTRICTED_POD = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}


def restricted_pod(uid=None, fs_group=False):
    """A pod's securityContext under ``restricted``; ``uid``: run as this user and group (an
    image whose own user is root needs one, or the kubelet refuses to start it)."""
    context = dict(RESTRICTED_POD)
    if uid is not None:
        context.update(runAsUser=uid, runAsGroup=uid)
        if fs_group:
            context["fsGroup"] = uid
    return context


def restricted_container(uid=None):
    context = dict(RESTRICTED_CONTAINER)
    if uid is not None:
        context.update(runAsUser=uid, runAsGroup=uid)
    return context


def node_selector(node_group):
    """The nodeSelector that places a pod on ``node_group``'s nodes, or None for anywhere."""
    return {NODEGROUP_LABEL: node_group} if node_group else None


def network_policy(namespace, name, spec):
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def short_digest(value):
    """Ten hex digits of SHA-256 over ``value`` as canonical JSON: a name suffix that changes
    with any change of ``value``."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode("utf-8")).hexdigest()[:10]
