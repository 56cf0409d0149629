#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: platform_base
short_description: Converge what every platform component stands on - namespaces, Pod Security, NetworkPolicies, External Secrets
version_added: 0.1.0
description:
  - Applies, with the collection's Kubernetes engine (server-side apply under the field manager
    C(mlops.platform)), the platform base of an environment's cluster.
  - A Namespace for the platform's own objects (C(config.namespace)) and one per workload identity of an enabled
    platform component (names from O(workload_identities)), each labelled for Pod Security admission at
    C(config.pod_security) (C(enforce), C(audit) and C(warn), pinned to O(kubernetes_version)).
  - In each, with C(config.network_policies), a default-deny NetworkPolicy and an allow for DNS; the External
    Secrets namespace also lets HTTPS out (AWS, the API server) and the API server's webhook calls in.
  - With O(database), the database bootstrap - a Job (C(psql), restricted-compliant) that makes each owner role and
    logical database of the database component and sets each role's password from Secrets Manager; safe to run
    again, it changes nothing on a bootstrapped database.
  - External Secrets, pinned to the release of the collection's artifact table - its CRDs (fetched over HTTPS or
    read from O(mirror), refused unless their sha256 matches), a ClusterSecretStore on AWS Secrets Manager that
    uses the operator's own workload identity, and, with C(config.argocd.enabled), an Argo CD Application that
    installs the operator's chart with its workload identity and the system node group.
  - Check mode is a server-side dry run with a C({before, after}) diff per object; a re-run with nothing to change
    makes no write. Objects the platform base applied earlier and no longer wants are deleted, except Namespaces
    and CRDs (data), kept with a warning unless O(prune_data=true). With O(enabled=false) everything is pruned so.
  - With O(render_dir), nothing is applied; the same objects are written to C(<render_dir>/platform_base/).
author:
  - mlops.platform contributors (@mlops-platform)
options:
  config:
    description:
      - The C(config) of the C(platform_base) component, as in C(mlops_config.mlops_infrastructure.platform_base.config),
        merged over the defaults of docs/configuration.md and validated before any request, every problem reported
        with its dotted path.
    type: dict
    default: {}
  enabled:
    description:
      - Whether the platform base is converged (the configuration module's C(mlops_components) says so whenever
        it is enabled and a platform component is). With V(false) its objects are pruned.
    type: bool
    default: true
  workload_identities:
    description:
      - The workload_identity module's output (fact C(mlops_workload_identity)) - per identity its C(namespace),
        C(service_account) and C(pod_annotations).
    type: dict
    default: {}
  kubernetes_version:
    description:
      - The cluster's Kubernetes minor (C(1.35)); Pod Security labels are pinned to it.
    type: str
    required: true
  system_node_group:
    description:
      - The EKS managed node group the operator's and the bootstrap Job's pods are placed on (its
        C(eks.amazonaws.com/nodegroup) label).
    type: str
  database:
    description:
      - The database module's outputs (fact C(mlops_database)) - C(endpoint), C(port), C(master_user_secret_arn),
        C(databases) and C(role_secrets). Given, a Job in C(config.namespace) makes each owner role and logical
        database, with the master credentials and each role's password brought from Secrets Manager by External
        Secrets (the External Secrets identity must be allowed to read the master secret - the workload_identity
        module's C(secret_arns)). Its name carries a digest of its script and image, so a change is a new Job.
      - Without an endpoint yet (a database only planned), the bootstrap waits for a later run.
    type: dict
    default: {}
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
  - mlops.platform.kubernetes
  - mlops.platform.assume_role
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
attributes:
  check_mode:
    support: full
    description: A server-side dry run of every object; creations in namespaces or of kinds that do not exist yet
      are predicted without asking.
  diff_mode:
    support: full
    description: One C({before, after}) per changed object, limited to the fields the collection owns.
  platform:
    platforms: posix
  action_group:
    membership: [mlops.platform.aws]
notes:
  - Needs the C(kubernetes) Python package. No kubectl, helm or aws CLI is used.
  - NetworkPolicies are enforced only where the cluster's network plugin does it (on EKS, the VPC CNI with network
    policy enabled).
"""

EXAMPLES = r"""
- name: Converge the platform base on the environment's EKS cluster
  mlops.platform.platform_base:
    config: "{{ mlops_config.mlops_infrastructure.platform_base.config }}"
    environment: dev
    kubernetes_version: "1.35"
    workload_identities: "{{ mlops_workload_identity }}"
    system_node_group: mlops-dev-system
    eks:
      name: "{{ mlops_eks.cluster_name }}"
      endpoint: "{{ mlops_eks.endpoint }}"
      certificate_authority_data: "{{ mlops_eks.certificate_authority_data }}"

- name: Render it for GitOps instead
  mlops.platform.platform_base:
    environment: dev
    kubernetes_version: "1.35"
    workload_identities: "{{ mlops_workload_identity }}"
    render_dir: build/dev/manifests
"""

RETURN = r"""
created:
  description: The objects created (or that would be, in check mode), as C(<apiVersion> <kind> <namespace>/<name>).
  returned: when applied
  type: list
  elements: str
updated:
  description: The objects changed.
  returned: when applied
  type: list
  elements: str
deleted:
  description: The objects pruned.
  returned: when applied
  type: list
  elements: str
kept:
  description: Objects no longer wanted but kept because they hold data (see O(prune_data)).
  returned: when applied
  type: list
  elements: str
unchanged:
  description: How many objects needed nothing.
  returned: when applied
  type: int
requests:
  description: The requests sent to the API server, by HTTP method, and C(discovery).
  returned: when applied
  type: dict
files:
  description: The files of the render.
  returned: with O(render_dir)
  type: list
  elements: str
ansible_facts:
  description: Facts for later components.
  returned: always
  type: dict
  contains:
    mlops_platform_base:
      description: C(namespace), C(namespaces) (per namespace the identities in it), C(secret_store)
        (the ClusterSecretStore's name) and C(enabled).
      type: dict
"""

from ansible_collections.mlops.platform.plugins.module_utils import artifacts, platform_base
from ansible_collections.mlops.platform.plugins.module_utils.aws import MlopsAWSModule
from ansible_collections.mlops.platform.plugins.module_utils.component import validate_config
from ansible_collections.mlops.platform.plugins.module_utils.config_schema import PLATFORM_BASE, VERSIONS
from ansible_collections.mlops.platform.plugins.module_utils.kube_component import (
    artifact_source,
    converge,
    documents,
    kube_argument_spec,
)


def main():
    module = MlopsAWSModule(argument_spec=kube_argument_spec(
        enabled=dict(type="bool", default=True),
        workload_identities=dict(type="dict", default={}),
        kubernetes_version=dict(type="str", required=True),
        system_node_group=dict(type="str"),
        database=dict(type="dict", default={}),
    ), supports_check_mode=True)
    config = validate_config(module, PLATFORM_BASE)
    params = module.params
    enabled = params["enabled"]
    if enabled and not module.region:
        module.fail_json(msg="region: the ClusterSecretStore names the Secrets Manager region; set region "
                             "(the plays set it from mlops_environment.region)")
    crds = []
    if enabled:
        crds = documents(module, artifact_source(module), artifacts.crds("external_secrets"))
    objects = platform_base.objects(config, enabled, params["workload_identities"], module.region,
                                    params["kubernetes_version"], VERSIONS["external_secrets"], crds,
                                    params["system_node_group"], params["database"])
    facts = {"mlops_platform_base": {
        "enabled": enabled, "namespace": config["namespace"], "secret_store": config["secret_store_name"],
        "namespaces": platform_base.platform_namespaces(config, params["workload_identities"]) if enabled else {},
    }}
    converge(module, platform_base.COMPONENT, config["namespace"], objects, facts=facts)


if __name__ == "__main__":
    main()
