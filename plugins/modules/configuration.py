#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: configuration
short_description: Merge and validate the platform configuration of an environment
version_added: 0.1.0
description:
  - Merges the inventory's toggle groups and environment settings over the collection's
    defaults (maps merge recursively, lists replace) and validates the result against the
    one schema of the collection, including the rules between components.
  - Reports B(every) problem at once, each with the dotted path of the offending value,
    and fails before anything else runs. No AWS or Kubernetes API is called.
  - Returns the merged configuration as C(config) and as the fact C(mlops_config) for the
    roles that follow.
  - The reference of every key, its type, default and allowed values is
    C(docs/configuration.md) in the collection.
author:
  - mlops.platform contributors (@mlops-platform)
options:
  mlops_environment:
    description:
      - The environment's own settings (name, region, name prefix, tags, account access).
      - C(name) is required.
    type: raw
    required: true
  mlops_infrastructure:
    description:
      - Toggle group of the AWS foundation. Components C(organization), C(network), C(eks),
        C(gpu_nodes), C(data_lake), C(database), each C({enabled, config}).
    type: raw
    default: {}
  mlops_ml_platform:
    description:
      - Toggle group with the components C(mlflow) and C(feast), each C({enabled, config}).
    type: raw
    default: {}
  mlops_pipelines:
    description:
      - Toggle group with the component C(kubeflow), C({enabled, config}).
    type: raw
    default: {}
  mlops_serving:
    description:
      - Toggle group with the components C(kserve) and C(vllm), each C({enabled, config}).
    type: raw
    default: {}
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
notes:
  - The options are C(raw) on purpose, so that a wrong type (a group given as a list, say)
    is reported by the collection's validator with its dotted path, together with all
    other problems, instead of one at a time by Ansible's argument parser.
  - The module never changes anything; O(ignore:check_mode) is supported and the result is
    the same.
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
    details: The module never changes anything, so there is no difference to show.
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Validate the environment's configuration before anything is touched
  mlops.platform.configuration:
    mlops_environment: "{{ mlops_environment }}"
    mlops_infrastructure: "{{ mlops_infrastructure | default({}) }}"
    mlops_ml_platform: "{{ mlops_ml_platform | default({}) }}"
    mlops_pipelines: "{{ mlops_pipelines | default({}) }}"
    mlops_serving: "{{ mlops_serving | default({}) }}"

- name: Later roles read the merged result
  ansible.builtin.debug:
    msg: "VPC CIDR {{ mlops_config.mlops_infrastructure.network.config.cidr }}"
"""

RETURN = r"""
config:
  description:
    - The merged and validated configuration; every key of the schema is present.
  returned: success
  type: dict
  sample:
    mlops_environment:
      name: dev
      region: eu-west-1
    mlops_infrastructure:
      network:
        enabled: true
        config:
          cidr: 10.20.0.0/16
components:
  description: Every component, enabled or not, in the order a converge handles them.
  returned: success
  type: list
  elements: dict
  sample:
    - {name: organization, group: mlops_infrastructure, enabled: false}
    - {name: network, group: mlops_infrastructure, enabled: true}
errors:
  description:
    - Every problem found, each with its dotted C(path), a C(message) and, where there is
      one, the offending C(value).
  returned: failure
  type: list
  elements: dict
  sample:
    - path: mlops_infrastructure.network.config.cidr
      message: is not a valid IPv4 CIDR (expected e.g. 10.0.0.0/16)
      value: 10.0.0.0/33
ansible_facts:
  description: Facts set for the roles that follow.
  returned: success
  type: dict
  contains:
    mlops_config:
      description: Same as RV(config).
      type: dict
      returned: success
    mlops_components:
      description: Same as RV(components).
      type: list
      elements: dict
      returned: success
    mlops_workload_identities:
      description: Same as RV(workload_identities).
      type: list
      elements: str
      returned: success
workload_identities:
  description:
    - The platform workloads that get an AWS identity of their own (IRSA or EKS Pod Identity) from the
      C(workload_identity) role, by the components enabled; empty without the EKS cluster. The EBS CSI
      driver's identity is the C(eks) component's own and is not listed.
  returned: success
  type: list
  elements: str
  sample: [external_secrets, mlflow]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mlops.platform.plugins.module_utils.config_schema import (
    GROUPS,
    components,
    format_errors,
    validate,
)
from ansible_collections.mlops.platform.plugins.module_utils.workload_identity import wanted_identities

# Made by the eks component itself: its add-on needs the role when it is created.
EKS_OWN_IDENTITIES = ("ebs_csi_driver",)


def workload_identities(config):
    """The identities of the ``workload_identity`` role for a validated configuration."""
    if not config["mlops_infrastructure"]["eks"]["enabled"]:
        return []
    return [name for name in wanted_identities(lambda group, component: config[group][component]["enabled"])
            if name not in EKS_OWN_IDENTITIES]


def main():
    argument_spec = dict(
        mlops_environment=dict(type="raw", required=True),
        mlops_infrastructure=dict(type="raw", default={}),
        mlops_ml_platform=dict(type="raw", default={}),
        mlops_pipelines=dict(type="raw", default={}),
        mlops_serving=dict(type="raw", default={}),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)

    variables = {name: module.params[name] for name in ["mlops_environment"] + GROUPS}
    config, errors = validate(variables)
    if errors:
        module.fail_json(
            msg="The configuration has %d problem(s):\n%s" % (len(errors), format_errors(errors)),
            errors=[error.as_dict() for error in sorted(errors, key=lambda error: error.path)],
        )

    identities = workload_identities(config)
    module.exit_json(
        changed=False,
        config=config,
        components=components(config),
        workload_identities=identities,
        ansible_facts={"mlops_config": config, "mlops_components": components(config),
                       "mlops_workload_identities": identities},
    )


if __name__ == "__main__":
    main()
