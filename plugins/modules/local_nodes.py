#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: local_nodes
short_description: Register node groups' nodes in a local Kubernetes control plane as fake nodes
version_added: 0.1.0
description:
  - The C(local) environment has no EC2 instances. For each node group of O(node_groups), this module makes the
    control plane of O(kubeconfig) hold exactly C(count) Node objects shaped like the ones EKS registers for that
    group - the labels the kubelet and EKS put on them (C(eks.amazonaws.com/nodegroup),
    C(eks.amazonaws.com/capacityType), instance type, zone...), the group's own labels and taints, and the capacity
    and allocatable of the instance type, GPUs included (C(nvidia.com/gpu)).
  - The Nodes are annotated C(kwok.x-k8s.io/node=fake), so kwok (started by C(tools/local_k8s.py up)) keeps them
    Ready and runs their pods; the real scheduler places the platform's pods on them.
  - Writes with server-side apply, and only what differs - each existing Node is first compared with the result
    of a dry-run apply - so a run with nothing to do writes nothing. Fake Nodes of a group beyond its C(count) are
    deleted; Nodes without the kwok annotation are never touched.
author:
  - mlops.platform contributors (@mlops-platform)
options:
  kubeconfig:
    description:
      - Path of the kubeconfig of the control plane, as written by C(tools/local_k8s.py up) (C(.local/kubeconfig)).
    type: path
    required: true
  context:
    description: The kubeconfig context to use; its current context when omitted.
    type: str
  node_groups:
    description: The node groups whose nodes to register.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The node group's name, as the EKS node group's (the C(eks.amazonaws.com/nodegroup) label).
        type: str
        required: true
      count:
        description: How many nodes the group has (0 removes its fake nodes).
        type: int
        required: true
      instance_type:
        description: The EC2 instance type of the nodes; one of the collection's instance-type table.
        type: str
        required: true
      zones:
        description: Availability zones of one region; nodes are spread over them in turn.
        type: list
        elements: str
        required: true
      capacity_type:
        description: The group's capacity type.
        type: str
        choices: [ON_DEMAND, SPOT]
        default: ON_DEMAND
      labels:
        description: The group's Kubernetes labels.
        type: dict
        default: {}
      taints:
        description: The group's taints; the effect in the EKS form (C(NO_SCHEDULE)) or Kubernetes' (C(NoSchedule)).
        type: list
        elements: dict
        default: []
        suboptions:
          key:
            description: Taint key.
            type: str
            required: true
          value:
            description: Taint value.
            type: str
            default: ""
          effect:
            description: Taint effect.
            type: str
            required: true
      disk_size_gib:
        description: The root volume size, reported as the nodes' ephemeral storage.
        type: int
        default: 20
requirements:
  - kubernetes (the Python client)
attributes:
  check_mode:
    support: full
    description: Computes every change with dry-run requests and writes nothing.
  diff_mode:
    support: full
    description: Returns each group's nodes (labels, taints, provider ID, capacity, allocatable) before and after.
  platform:
    platforms: posix
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
"""

EXAMPLES = r"""
- name: Register the local environment's node groups as fake nodes
  mlops.platform.local_nodes:
    kubeconfig: "{{ playbook_dir }}/../.local/kubeconfig"
    node_groups:
      - name: mlops-local-system
        count: 2
        instance_type: m6i.large
        zones: [eu-west-1a, eu-west-1b]
      - name: mlops-local-gpu-a10g
        count: 1
        instance_type: g5.xlarge
        zones: [eu-west-1a]
        labels:
          nvidia.com/gpu.present: "true"
          mlops.platform/workload: gpu
        taints:
          - {key: nvidia.com/gpu, value: "true", effect: NO_SCHEDULE}
"""

RETURN = r"""
node_groups:
  description: Per node group name, its node names and which of them this run created, updated and deleted.
  returned: always
  type: dict
  sample:
    mlops-local-gpu-a10g:
      nodes: [ip-10-12-34-4.eu-west-1.compute.internal]
      created: []
      updated: []
      deleted: []
"""

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    from kubernetes import client as k8s_client
    from kubernetes.client.rest import ApiException
    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None
except ImportError:
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = traceback.format_exc()

from ansible_collections.mlops.platform.plugins.module_utils import fake_nodes
from ansible_collections.mlops.platform.plugins.module_utils import kube_client
from ansible_collections.mlops.platform.plugins.module_utils.kube_client import ClusterAccessError
from ansible_collections.mlops.platform.plugins.module_utils.instance_types import UnknownInstanceType
from ansible_collections.mlops.platform.plugins.module_utils.local_nodes import apply_node_group


def argument_spec():
    taint = dict(key=dict(type="str", required=True, no_log=False), value=dict(type="str", default=""),
                 effect=dict(type="str", required=True))
    group = dict(
        name=dict(type="str", required=True),
        count=dict(type="int", required=True),
        instance_type=dict(type="str", required=True),
        zones=dict(type="list", elements="str", required=True),
        capacity_type=dict(type="str", choices=list(fake_nodes.CAPACITY_TYPES), default="ON_DEMAND"),
        labels=dict(type="dict", default={}),
        taints=dict(type="list", elements="dict", options=taint, default=[]),
        disk_size_gib=dict(type="int", default=fake_nodes.DEFAULT_DISK_SIZE_GIB),
    )
    return dict(
        kubeconfig=dict(type="path", required=True),
        context=dict(type="str"),
        node_groups=dict(type="list", elements="dict", options=group, required=True),
    )


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=KUBERNETES_IMPORT_ERROR)
    names = [group["name"] for group in module.params["node_groups"]]
    duplicates = sorted(set(name for name in names if names.count(name) > 1))
    if duplicates:
        module.fail_json(msg="node_groups: the names %s appear more than once" % ", ".join(duplicates))

    try:
        api_client = kube_client.api_client(kubeconfig=module.params["kubeconfig"], context=module.params["context"])
    except ClusterAccessError as exc:
        module.fail_json(msg="Cannot reach the local control plane (is it up? make local-up): %s" % exc)

    results = {}
    before = {}
    after = {}
    try:
        # Read once: the kubelet version every fake Node reports.
        version = k8s_client.VersionApi(api_client).get_code().git_version
        for index, group in enumerate(module.params["node_groups"]):
            path = "node_groups[%d]" % index
            try:
                result = apply_node_group(api_client, group["name"], group["count"], group["instance_type"],
                                          group["zones"], group["capacity_type"], group["labels"], group["taints"],
                                          disk_size_gib=group["disk_size_gib"], kubernetes_version=version,
                                          check_mode=module.check_mode)
            except (fake_nodes.FakeNodeError, UnknownInstanceType) as exc:
                module.fail_json(msg="%s (%s): %s" % (path, group["name"], exc))
            results[group["name"]] = {key: result[key] for key in ("created", "updated", "deleted")}
            results[group["name"]]["nodes"] = result["names"]
            before[group["name"]] = result["before"]
            after[group["name"]] = result["after"]
    except ApiException as exc:
        module.fail_json(msg="the API server refused: %s %s" % (exc.status, exc.reason), body=exc.body)
    finally:
        api_client.close()

    changed = any(result["created"] or result["updated"] or result["deleted"] for result in results.values())
    module.exit_json(changed=changed, diff={"before": before, "after": after}, node_groups=results)


if __name__ == "__main__":
    main()
