# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure logic of the organization baseline: guardrail SCPs, the OU tree, the plan.

No Ansible and no network: the ``organization`` module reads the live organization,
hands it to these functions and calls AWS only for what they say differs.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Guardrails and their documents are shared with the configuration schema, which checks the
# documents and the OUs they name before any call; both are re-exported here for the module.
from ansible_collections.mlops.platform.plugins.module_utils.guardrails import (  # noqa: F401 pylint: disable=unused-import
    FULL_AWS_ACCESS, GUARDRAILS, POLICY_PREFIX, ROOT, SCP_MAX_CHARACTERS, SCP_MAX_PER_TARGET, desired_policies,
    minified, policy_document, policy_name)
from ansible_collections.mlops.platform.plugins.module_utils.config_schema import (  # noqa: F401 pylint: disable=unused-import
    check_policies, check_references)


def ou_paths_in_creation_order(paths):
    """Parents before children, each level in the configured order."""
    return sorted(paths, key=lambda path: path.count("/"))


def split_path(path):
    """``("Workloads", "Production")`` -> (parent path or Root, own name)."""
    parent, _sep, name = path.rpartition("/")
    return (parent or ROOT), name


def account_role_arn(account_id, role_name, partition="aws"):
    return "arn:%s:iam::%s:role/%s" % (partition, account_id, role_name)
