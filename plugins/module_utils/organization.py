# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure logic of the organization baseline: guardrail SCPs, the OU tree, the plan.

No Ansible and no network: the ``organization`` module reads the live organization,
hands it to these functions and calls AWS only for what they say differs.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mlops.platform.plugins.module_utils.component import UNKNOWN

# Guardrails and their documents are shared with the configuration schema, which checks the
# documents and the OUs they name before any call; both are re-exported here for the module.
from ansible_collections.mlops.platform.plugins.module_utils.guardrails import (  # noqa: F401 pylint: disable=unused-import
    FULL_AWS_ACCESS, GUARDRAILS, POLICY_PREFIX, ROOT, SCP_MAX_CHARACTERS, SCP_MAX_PER_TARGET, desired_policies,
    minified, policy_document, policy_name)
from ansible_collections.mlops.platform.plugins.module_utils.config_schema import (  # noqa: F401 pylint: disable=unused-import
    check_policies, check_references)


def named_like_ours(summary):
    """An SCP (a ListPolicies summary) this collection may own: named ``mlops-*`` and not
    AWS-managed. Owning it takes the managed tag too."""
    return summary["Name"].startswith(POLICY_PREFIX) and not summary.get("AwsManaged")


def ou_paths_in_creation_order(paths):
    """Parents before children, each level in the configured order."""
    return sorted(paths, key=lambda path: path.count("/"))


def split_path(path):
    """``("Workloads", "Production")`` -> (parent path or Root, own name)."""
    parent, _sep, name = path.rpartition("/")
    return (parent or ROOT), name


def account_role_arn(account_id, role_name, partition="aws"):
    return "arn:%s:iam::%s:role/%s" % (partition, account_id, role_name)


# CreateAccount has no waiter in botocore: this one polls DescribeCreateAccountStatus.
CREATE_ACCOUNT_WAITER = {
    "version": 2,
    "waiters": {
        "AccountCreated": {
            "operation": "DescribeCreateAccountStatus",
            "delay": 10,
            "maxAttempts": 120,
            "acceptors": [
                {"matcher": "path", "argument": "CreateAccountStatus.State", "expected": "SUCCEEDED",
                 "state": "success"},
                {"matcher": "path", "argument": "CreateAccountStatus.State", "expected": "FAILED",
                 "state": "success"},
                {"matcher": "error", "expected": "TooManyRequestsException", "state": "retry"},
            ],
        }
    },
}


# AWS may refuse AssumeRole into an account for a short while after CreateAccount
# reports SUCCEEDED, while the access role propagates. The environment's play assumes
# that role next, so a new account is waited for until it can be entered. Only
# AccessDenied is retried, and only for accounts this run created or adopted in flight.
ROLE_ASSUMABLE_WAITER = {
    "version": 2,
    "waiters": {
        "RoleAssumable": {
            "operation": "AssumeRole",
            "delay": 5,
            "maxAttempts": 60,
            "acceptors": [
                {"matcher": "path", "argument": "AssumedRoleUser.Arn != `null`", "expected": True,
                 "state": "success"},
                {"matcher": "error", "expected": "AccessDenied", "state": "retry"},
            ],
        }
    },
}
NEW_ACCOUNT_SESSION_NAME = "mlops-platform-new-account-check"


# --- views of the organization as read (and converged): no AWS call, no module -------------------
#
# ``live`` is organization_resources.Organization: ``organization`` (DescribeOrganization, None before it
# exists), ``root_id``, ``ous`` (path -> id), ``ou_tags``, ``accounts`` (lower e-mail ->
# ListAccounts entry, with ``Tags``), ``parents`` (account id -> path), ``policies`` and ``tags``.


def account_tags(tags, account):
    """The tags an account carries: the organization's, then its own."""
    result = dict(tags)
    result.update(account["tags"])
    return result


def ou_path_of(target_id, root_id, ous):
    """The path of a policy target (Root or an OU path); any other target is its own id."""
    if target_id == root_id and target_id != UNKNOWN:
        return ROOT
    for path, ou_id in ous.items():
        if ou_id == target_id:
            return path
    return target_id


def tag_view(tags, wanted):
    """The tags this collection manages on a resource, as they are (None: absent)."""
    tags = tags or {}
    return {key: tags.get(key) for key in sorted(wanted)}


def state(live, config):
    """The diffable view: what a person compares between before and after."""
    if live.organization is None:
        return {}
    accounts = {}
    for name, account in sorted(config["accounts"].items()):
        found = live.accounts.get(account["email"].lower())
        if found is None:
            continue
        accounts[name] = {
            "id": found["Id"],
            "email": account["email"],
            "organizational_unit": account["organizational_unit"] if found["Id"] == UNKNOWN
            else live.parents.get(found["Id"], ROOT),
            "tags": tag_view(found.get("Tags"), account_tags(live.tags, account)),
        }
    return {
        "organization_id": live.organization["Id"],
        "organizational_units": sorted(live.ous),
        "organizational_unit_tags": {path: tag_view(live.ou_tags.get(path), live.tags)
                                     for path in sorted(live.ous) if path in config["organizational_units"]},
        "accounts": accounts,
        "policies": {
            name: {"targets": sorted(policy["targets"]), "description": policy["description"],
                   "document": policy["document"], "tags": tag_view(policy.get("tags"), live.tags)}
            for name, policy in sorted(live.policies.items())
        },
    }


def outputs(live, config, role_name, partition):
    """The module's outputs (and the ``mlops_organization`` fact), plus ``unmanaged``."""
    accounts = {}
    environments = {}
    for name, account in sorted(config["accounts"].items()):
        found = live.accounts[account["email"].lower()]
        role_arn = UNKNOWN if found["Id"] == UNKNOWN else account_role_arn(found["Id"], role_name, partition)
        accounts[name] = {
            "id": found["Id"],
            "email": account["email"],
            "organizational_unit": account["organizational_unit"],
            "environment": account["environment"],
            "role_arn": role_arn,
        }
        if account["environment"]:
            environments[account["environment"]] = {"account_id": found["Id"], "role_arn": role_arn}
    declared = {account["email"].lower() for account in config["accounts"].values()}
    management = live.organization.get("MasterAccountId")
    return {
        "organization_id": live.organization["Id"],
        "root_id": live.root_id,
        "management_account_id": management,
        "organizational_units": dict(sorted(live.ous.items())),
        "accounts": accounts,
        "environment_accounts": environments,
        "policies": {name: {"id": policy["id"], "targets": sorted(policy["targets"])}
                     for name, policy in sorted(live.policies.items())},
        "unmanaged": {
            "accounts": sorted(found["Email"] for email, found in live.accounts.items()
                               if email not in declared and found["Id"] != management),
            "organizational_units": sorted(set(live.ous) - set(config["organizational_units"])),
        },
    }
