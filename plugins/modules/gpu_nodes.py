#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: gpu_nodes
short_description: Converge an environment's GPU node groups - EKS managed node groups with NVIDIA AMIs, GPU labels and taint
version_added: 0.1.0
description:
  - Converges, in the environment's EKS cluster O(cluster_name), one EKS managed node group per entry of
    C(config.node_groups), named C(<name_prefix>-gpu-<key>) and owned through the collection's ownership tags.
  - Every node carries the group's C(labels) plus C(nvidia.com/gpu.present=true) and
    C(mlops.platform/workload=<config.workload>), and the group's C(taints) (by default
    C(nvidia.com/gpu=true:NoSchedule), so that only pods that tolerate it run on GPU nodes).
  - The desired size is set when a group is created. Later runs keep the desired size an autoscaler set,
    moved into the configured range when C(min_size) or C(max_size) change, unless C(enforce_desired_size)
    resets it to C(desired_size).
  - Labels, taints, sizes and the update config are changed in place (C(UpdateNodegroupConfig)), missing tags
    added. Instance types, AMI type, capacity type, disk size, subnets and node role cannot be changed on an EKS
    node group; a difference there is refused with its config path, asking for a group under a new key. A group
    is never replaced silently.
  - With O(kubernetes_version) one minor above a group's version, the group is upgraded
    (C(UpdateNodegroupVersion)) when the EKS endpoint serves updates; otherwise, and for any other gap, a warning
    says what was left as it is.
  - Groups of this environment's C(gpu_nodes) named C(<name_prefix>-gpu-*) that are no longer in
    C(config.node_groups) are deleted with O(prune=true) (the default), or left with a warning. A node group
    without this environment's C(gpu_nodes) ownership tags is never changed or deleted.
  - Reads every group once and calls only what differs; a run with nothing to do makes one C(ListNodegroups)
    and one C(DescribeNodegroup) per group. Check mode predicts every creation, change and deletion without
    making any.
  - Creating a node group takes 3 to 5 minutes on AWS. With O(wait=false) the module starts the work and
    returns at once; a later call with O(wait_only=true) waits where the nodes are first needed.
author:
  - mlops.platform contributors (@mlops-platform)
options:
  config:
    description:
      - The C(config) of the C(gpu_nodes) component, as in C(mlops_config.mlops_infrastructure.gpu_nodes.config).
        Keys, defaults and allowed values are those of docs/configuration.md; they are merged over the defaults and
        validated before any AWS call, every problem reported with its dotted path.
    type: dict
    default: {}
  cluster_name:
    description:
      - The EKS cluster, from the eks component.
    type: str
    required: true
  node_role_arn:
    description:
      - The IAM role of the nodes, from the eks component.
      - In check mode it may be C((known after apply)), when the eks component is itself only planned.
    type: str
    required: true
  subnet_ids:
    description:
      - The private subnets of the node groups, from the network component.
      - In check mode they may be C((known after apply)), when the network is itself only planned.
    type: list
    elements: str
    required: true
  kubernetes_version:
    description:
      - The cluster's Kubernetes minor (C(1.35)), from the eks component. New groups get it; a group one minor
        below is upgraded.
      - When omitted, new groups get the cluster's version and versions are never changed.
    type: str
  prune:
    description:
      - Delete the node groups of this environment's C(gpu_nodes) named C(<name_prefix>-gpu-*) that are no
        longer in C(config.node_groups).
      - With V(false) they are kept and a warning names them.
    type: bool
    default: true
  wait:
    description:
      - Wait until every group created or changed by this run is C(ACTIVE) (and every deleted one gone).
        A group that fails, or is not ready within O(wait_timeout), ends the run with its health issues.
    type: bool
    default: false
  wait_only:
    description:
      - Only wait for the groups of C(config.node_groups) that are not C(ACTIVE), then return the outputs;
        nothing is converged (one C(DescribeNodegroup) per group and per poll).
      - For a second call where the GPU nodes are first needed, after a first one with O(wait=false).
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait for each group with O(wait=true) or O(wait_only=true).
    type: int
    default: 1800
extends_documentation_fragment:
  - mlops.platform.component
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
  - mlops.platform.assume_role
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - C(max_unavailable_percentage) is compared only when EKS reports the group's update config (it always does);
    an endpoint that reports none (the local stand-in) leaves it as set at creation, without a change reported.
  - Node group versions move one minor at a time; the cluster is upgraded first by the eks component.
attributes:
  check_mode:
    support: full
    description: Predicts every creation, change and deletion, with C((known after apply)) for values AWS assigns.
  diff_mode:
    support: full
    description: Returns each node group's settings, labels, taints, sizes and tags before and after, by node group name.
  platform:
    platforms: posix
  action_group:
    membership: [mlops.platform.aws]
"""

EXAMPLES = r"""
- name: Start the GPU node groups, without waiting for them
  mlops.platform.gpu_nodes:
    config: "{{ mlops_config.mlops_infrastructure.gpu_nodes.config }}"
    environment: "{{ mlops_config.mlops_environment.name }}"
    name_prefix: mlops-dev
    tags: "{{ mlops_config.mlops_environment.tags }}"
    cluster_name: "{{ mlops_eks.cluster_name }}"
    node_role_arn: "{{ mlops_eks.node_role_arn }}"
    subnet_ids: "{{ mlops_network.private_subnet_ids }}"
    kubernetes_version: "{{ mlops_eks.kubernetes_version }}"
    assume_role: "{{ mlops_environment_access | default(omit) }}"

- name: Later, where GPU nodes are first needed
  mlops.platform.gpu_nodes:
    config:
      node_groups:
        a10g:
          instance_types: [g5.xlarge]
          min_size: 0
          max_size: 4
    environment: dev
    name_prefix: mlops-dev
    cluster_name: mlops-dev
    node_role_arn: arn:aws:iam::111111111111:role/mlops-dev-eks-node
    subnet_ids: [subnet-0123456789abcdef0, subnet-0fedcba9876543210]
    wait_only: true
  register: gpu_nodes

- name: Use the outputs
  ansible.builtin.debug:
    msg: "{{ gpu_nodes.node_groups.a10g.gpus_per_node }} x {{ gpu_nodes.node_groups.a10g.gpu_model }} per node"
"""

RETURN = r"""
node_groups:
  description:
    - The GPU node groups by their key in C(config.node_groups).
    - In check mode, a group that would be created shows C((known after apply)) for its ARN and status.
  returned: always
  type: dict
  contains:
    name:
      description: The EKS node group name, C(<name_prefix>-gpu-<key>).
      type: str
      sample: mlops-dev-gpu-a10g
    arn:
      description: The node group's ARN.
      type: str
      sample: arn:aws:eks:eu-west-1:111111111111:nodegroup/mlops-dev/mlops-dev-gpu-a10g/0ac9d1e2-1111-2222-3333-444455556666
    status:
      description: The node group's status (C(CREATING), C(ACTIVE), C(UPDATING)...).
      type: str
      sample: ACTIVE
    version:
      description: The Kubernetes minor of the group's nodes.
      type: str
      sample: "1.35"
    instance_types:
      description: The EC2 instance types of the nodes.
      type: list
      elements: str
      sample: [g5.xlarge]
    ami_type:
      description: The EKS AMI type.
      type: str
      sample: AL2023_x86_64_NVIDIA
    capacity_type:
      description: C(ON_DEMAND) or C(SPOT).
      type: str
      sample: ON_DEMAND
    min_size:
      description: Minimum number of nodes.
      type: int
      sample: 0
    max_size:
      description: Maximum number of nodes.
      type: int
      sample: 2
    desired_size:
      description: The live desired number of nodes (an autoscaler's, when one changed it).
      type: int
      sample: 0
    disk_size_gib:
      description: Root volume size of the nodes in GiB.
      type: int
      sample: 200
    labels:
      description: The Kubernetes labels EKS puts on every node of the group.
      type: dict
      sample: {"nvidia.com/gpu.present": "true", "mlops.platform/workload": "gpu"}
    taints:
      description: The taints of every node, as Kubernetes shows them.
      type: list
      elements: dict
      sample: [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}]
    tolerations:
      description: The pod tolerations that let a pod run on the group's nodes.
      type: list
      elements: dict
      sample: [{"key": "nvidia.com/gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}]
    gpus_per_node:
      description: NVIDIA GPUs per node (every instance type of a group has the same count).
      type: int
      sample: 1
    gpu_model:
      description: The GPU model; several joined with C(,) when the instance types differ in model.
      type: str
      sample: A10G
    gpu_memory_gib:
      description: Memory per GPU in GiB (the smallest, when the instance types differ).
      type: int
      sample: 24
workload:
  description: The value of the C(mlops.platform/workload) label of every GPU node.
  returned: always
  type: str
  sample: gpu
removed:
  description: Node groups deleted by this run (or that would be, in check mode), with O(prune=true).
  returned: always
  type: list
  elements: str
  sample: [mlops-dev-gpu-old]
api_calls:
  description:
    - The AWS API calls this run made, by operation, with the number of writes among them. A run with nothing
      to do makes one C(ListNodegroups) and one C(DescribeNodegroup) per group, and no write (with no group in
      the cluster yet, one C(DescribeCluster) first).
  returned: always
  type: dict
  sample: {"total": 2, "writes": 0, "by_operation": {"DescribeNodegroup": 1, "ListNodegroups": 1}}
ansible_facts:
  description: The outputs above under C(mlops_gpu_nodes), for the roles that follow.
  returned: always
  type: dict
  contains:
    mlops_gpu_nodes:
      description: RV(node_groups), RV(workload), RV(removed).
      type: dict
      returned: always
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.mlops.platform.plugins.module_utils import naming
from ansible_collections.mlops.platform.plugins.module_utils import node_group as ng
from ansible_collections.mlops.platform.plugins.module_utils.aws import AWS_RETRY, AWSResourceError, MlopsAWSModule
from ansible_collections.mlops.platform.plugins.module_utils.component import UNKNOWN, component_argument_spec
from ansible_collections.mlops.platform.plugins.module_utils.component import fail_config, validate_config
from ansible_collections.mlops.platform.plugins.module_utils.config_schema import GPU_NODES
from ansible_collections.mlops.platform.plugins.module_utils.instance_types import INSTANCE_TYPES
from ansible_collections.mlops.platform.plugins.module_utils.schema_engine import ConfigError

COMPONENT = "gpu_nodes"
GPU_PRESENT_LABEL = "nvidia.com/gpu.present"
WORKLOAD_LABEL = "mlops.platform/workload"


def gpu_labels(group, workload):
    """The labels of a GPU group's nodes: its own, then the two every GPU node carries."""
    labels = dict(group.get("labels") or {})
    labels.update({GPU_PRESENT_LABEL: "true", WORKLOAD_LABEL: workload})
    return labels


def gpu_facts(instance_types):
    """``{gpus_per_node, gpu_model, gpu_memory_gib}`` of a group's instance types (the table's rows)."""
    rows = [INSTANCE_TYPES[name] for name in instance_types or [] if name in INSTANCE_TYPES]
    rows = [row for row in rows if row.gpus]
    if not rows:
        return {"gpus_per_node": 0, "gpu_model": None, "gpu_memory_gib": 0}
    models = []
    for row in rows:
        if row.gpu_model not in models:
            models.append(row.gpu_model)
    return {"gpus_per_node": min(row.gpus for row in rows), "gpu_model": ",".join(models),
            "gpu_memory_gib": min(row.gpu_memory_gib for row in rows)}


def input_problems(params, names, check_mode):
    """Problems with the names and the inputs from other components, before any call."""
    errors = []
    for key, name in sorted(names.items()):
        problem = ng.name_problem(name)
        if problem:
            errors.append(ConfigError("config.node_groups.%s" % key, problem))
    if names and not params["subnet_ids"]:
        errors.append(ConfigError("subnet_ids", "must name at least one subnet for the node groups"))
    if not check_mode:
        if params["node_role_arn"] == UNKNOWN:
            errors.append(ConfigError("node_role_arn", "is %s outside check mode: run the eks component first"
                                      % UNKNOWN))
        if UNKNOWN in params["subnet_ids"]:
            errors.append(ConfigError("subnet_ids", "contain %s outside check mode: run the network component first"
                                      % UNKNOWN))
    if params["kubernetes_version"] and ng.minor_version(params["kubernetes_version"]) is None:
        errors.append(ConfigError("kubernetes_version", "is not a Kubernetes version (expected e.g. 1.35)",
                                  params["kubernetes_version"]))
    return errors


class GpuNodes:
    """Reads the component's node groups once and converges them toward the configuration."""

    def __init__(self, module, config):
        self.module = module
        self.config = config
        self.params = module.params
        self.prefix = naming.gpu_node_group_name(self.params["name_prefix"], "")
        self.names = dict((key, naming.gpu_node_group_name(self.params["name_prefix"], key))
                          for key in config["node_groups"])
        eks = module.client("eks", retry_decorator=AWS_RETRY)
        self.groups = ng.NodeGroups(module, eks, self.params["cluster_name"], self.params["environment"], COMPONENT,
                                    self.params["tags"], module.check_mode)
        self.before = {}
        self.after = {}
        self.removed = []

    def spec(self, key):
        group = self.config["node_groups"][key]
        return ng.node_group_spec(group, gpu_labels(group, self.config["workload"]),
                                  node_role_arn=self.params["node_role_arn"], subnet_ids=self.params["subnet_ids"],
                                  kubernetes_version=self.params["kubernetes_version"])

    def read(self):
        self.groups.read([self.names[key] for key in sorted(self.names)])

    def ensure_groups(self):
        """Create or correct every configured group; True when any changed."""
        changed = False
        for key in sorted(self.names):
            group_changed, before, after = self.groups.ensure(self.names[key], self.spec(key),
                                                              "config.node_groups.%s" % key)
            changed |= group_changed
            if before is not None:
                self.before[self.names[key]] = before
            if after is not None:
                self.after[self.names[key]] = after
        return changed

    def ensure_pruned(self):
        """Delete the groups of ours that the configuration no longer names (with ``prune``);
        True when any is deleted."""
        wanted = set(self.names.values())
        stale = [name for name in self.groups.owned_names(self.prefix) if name not in wanted]
        if not stale:
            return False
        if not self.params["prune"]:
            self.module.warn("the node groups %s are no longer in config.node_groups and are kept (prune=false)"
                             % ", ".join(stale))
            return False
        changed = False
        for name in stale:
            removed, before, unused_after = self.groups.remove(name)
            changed |= removed
            if removed:
                self.removed.append(name)
                self.before[name] = before
        return changed

    def wait(self):
        timeout = self.params["wait_timeout"]
        self.groups.wait([self.names[key] for key in sorted(self.names)], timeout)
        self.groups.wait_deleted(self.removed, timeout)

    def outputs(self):
        node_groups = {}
        for key in sorted(self.names):
            view = self.groups.output(self.names[key])
            if view is None:
                continue
            taints = [ng.kubernetes_taint(taint) for taint in view["taints"]]
            node_groups[key] = {
                "name": view["name"], "arn": view["arn"], "status": view["status"], "version": view["version"],
                "instance_types": view["instance_types"], "ami_type": view["ami_type"],
                "capacity_type": view["capacity_type"], "min_size": view["min_size"], "max_size": view["max_size"],
                "desired_size": view["desired_size"], "disk_size_gib": view["disk_size_gib"],
                "labels": view["labels"], "taints": taints,
                "tolerations": [ng.toleration(taint) for taint in taints],
            }
            node_groups[key].update(gpu_facts(view["instance_types"]))
        return {"node_groups": node_groups, "workload": self.config["workload"], "removed": list(self.removed)}


def main():
    argument_spec = component_argument_spec(
        cluster_name=dict(type="str", required=True),
        node_role_arn=dict(type="str", required=True),
        subnet_ids=dict(type="list", elements="str", required=True),
        kubernetes_version=dict(type="str"),
        prune=dict(type="bool", default=True),
        wait=dict(type="bool", default=False),
        wait_only=dict(type="bool", default=False),
        wait_timeout=dict(type="int", default=ng.DEFAULT_WAIT_TIMEOUT),
    )
    module = MlopsAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    config = validate_config(module, GPU_NODES)
    gpu_nodes = GpuNodes(module, config)
    errors = input_problems(module.params, gpu_nodes.names, module.check_mode)
    if errors:
        fail_config(module, errors)

    changed = False
    try:
        gpu_nodes.read()
        if not module.params["wait_only"]:
            changed |= gpu_nodes.ensure_groups()
            changed |= gpu_nodes.ensure_pruned()
        if module.params["wait"] or module.params["wait_only"]:
            gpu_nodes.wait()
    except AWSResourceError as exc:
        module.fail_json(msg=str(exc))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        module.fail_json_aws(exc, msg="Could not converge the GPU node groups of cluster %s"
                             % module.params["cluster_name"])

    outputs = gpu_nodes.outputs()
    module.exit_json(changed=changed, diff={"before": gpu_nodes.before, "after": gpu_nodes.after},
                     ansible_facts={"mlops_gpu_nodes": outputs}, **outputs)


if __name__ == "__main__":
    main()
