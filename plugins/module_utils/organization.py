# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure logic of the organization baseline: guardrail SCPs, the OU tree, the plan.

No Ansible and no network: the ``organization`` module reads the live organization,
hands it to these functions and calls AWS only for what they say differs.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.mlops.platform.plugins.module_utils.component import UNKNOWN
from ansible_collections.mlops.platform.plugins.module_utils.schema_engine import ConfigError, join_path

GUARDRAILS = {
    "deny_leaving_organization": "Deny organizations:LeaveOrganization.",
    "deny_regions_outside_allow_list": "Deny requests outside `allowed_regions` (global services exempt).",
    "deny_s3_without_tls": "Deny S3 requests that do not use TLS (aws:SecureTransport).",
    "deny_iam_user_access_keys": "Deny creating IAM user access keys.",
    "deny_disabling_security_services": "Deny stopping or deleting CloudTrail, GuardDuty, Config and Security Hub.",
    "deny_root_user": "Deny every action by an account's root user.",
}

# Limits the real Organizations API enforces and the stand-in does not (UPSTREAM.md §11).
SCP_MAX_CHARACTERS = 5120
SCP_MAX_PER_TARGET = 5
ROOT = "Root"
FULL_AWS_ACCESS = "FullAWSAccess"

# Every SCP this collection owns carries this name prefix and the managed tag.
POLICY_PREFIX = "mlops-"

# Services whose endpoints live in us-east-1 (or are global) and must stay reachable
# whatever the region allow-list says (AWS's own "deny requested region" example).
GLOBAL_SERVICE_ACTIONS = [
    "a4b:*", "acm:*", "aws-marketplace-management:*", "aws-marketplace:*", "aws-portal:*",
    "budgets:*", "ce:*", "chime:*", "cloudfront:*", "config:*", "cur:*", "directconnect:*",
    "ec2:DescribeRegions", "ec2:DescribeTransitGateways", "ec2:DescribeVpnGateways", "fms:*",
    "globalaccelerator:*", "health:*", "iam:*", "importexport:*", "kms:*", "mobileanalytics:*",
    "networkmanager:*", "organizations:*", "pricing:*", "route53:*", "route53domains:*",
    "route53-recovery-cluster:*", "route53-recovery-control-config:*", "route53-recovery-readiness:*",
    "s3:GetAccountPublic*", "s3:ListAllMyBuckets", "s3:ListMultiRegionAccessPoints", "s3:PutAccountPublic*",
    "shield:*", "sts:*", "support:*", "trustedadvisor:*", "waf-regional:*", "waf:*", "wafv2:*",
    "wellarchitected:*",
]

_SECURITY_SERVICE_ACTIONS = [
    "cloudtrail:DeleteTrail", "cloudtrail:StopLogging", "cloudtrail:UpdateTrail",
    "cloudtrail:PutEventSelectors",
    "config:DeleteConfigRule", "config:DeleteConfigurationRecorder", "config:DeleteDeliveryChannel",
    "config:StopConfigurationRecorder",
    "guardduty:DeleteDetector", "guardduty:DeleteMembers", "guardduty:DisassociateFromAdministratorAccount",
    "guardduty:DisassociateFromMasterAccount", "guardduty:DisassociateMembers", "guardduty:StopMonitoringMembers",
    "guardduty:UpdateDetector",
    "securityhub:DeleteMembers", "securityhub:DisableSecurityHub",
    "securityhub:DisassociateFromAdministratorAccount", "securityhub:DisassociateFromMasterAccount",
    "securityhub:DisassociateMembers",
]


def _guardrail_statements(name, allowed_regions, exempt_principal_arns):
    """The statements of one named guardrail."""
    if name == "deny_leaving_organization":
        return [{"Sid": "DenyLeavingOrganization", "Effect": "Deny",
                 "Action": "organizations:LeaveOrganization", "Resource": "*"}]
    if name == "deny_regions_outside_allow_list":
        condition = {"StringNotEquals": {"aws:RequestedRegion": sorted(allowed_regions)}}
        if exempt_principal_arns:
            condition["ArnNotLike"] = {"aws:PrincipalARN": sorted(exempt_principal_arns)}
        return [{"Sid": "DenyRegionsOutsideAllowList", "Effect": "Deny", "NotAction": GLOBAL_SERVICE_ACTIONS,
                 "Resource": "*", "Condition": condition}]
    if name == "deny_s3_without_tls":
        return [{"Sid": "DenyS3WithoutTLS", "Effect": "Deny", "Action": "s3:*", "Resource": "*",
                 "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]
    if name == "deny_iam_user_access_keys":
        return [{"Sid": "DenyIAMUserAccessKeys", "Effect": "Deny", "Action": "iam:CreateAccessKey",
                 "Resource": "*"}]
    if name == "deny_disabling_security_services":
        return [{"Sid": "DenyDisablingSecurityServices", "Effect": "Deny", "Action": _SECURITY_SERVICE_ACTIONS,
                 "Resource": "*"}]
    if name == "deny_root_user":
        return [{"Sid": "DenyRootUser", "Effect": "Deny", "Action": "*", "Resource": "*",
                 "Condition": {"StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"}}}]
    raise ValueError("unknown guardrail %r" % name)


def policy_document(statements):
    return {"Version": "2012-10-17", "Statement": statements}


def minified(document):
    """The form sent to the API: SCP size counts every character, whitespace included."""
    return json.dumps(document, separators=(",", ":"), sort_keys=True)


def policy_name(name):
    return POLICY_PREFIX + name.replace("_", "-")


def named_like_ours(summary):
    """An SCP (a ListPolicies summary) this collection may own: named ``mlops-*`` and not
    AWS-managed. Owning it takes the managed tag too."""
    return summary["Name"].startswith(POLICY_PREFIX) and not summary.get("AwsManaged")


def desired_policies(config):
    """``{policy name: {description, document, targets, path}}`` from the organization config.

    One SCP per guardrail in use (attached to every target that switches it on) and one
    per custom policy. ``path`` is the config path a problem with the policy points at.
    """
    policies = {}
    for target, names in sorted(config["guardrails"].items()):
        for name in names:
            policy = policies.setdefault(policy_name(name), {
                "description": "mlops.platform guardrail: %s" % GUARDRAILS[name].rstrip("."),
                "document": policy_document(_guardrail_statements(
                    name, config["allowed_regions"], config["exempt_principal_arns"])),
                "targets": [],
                "path": "guardrails.%s" % target,
            })
            policy["targets"].append(target)
    for name, custom in sorted(config["custom_policies"].items()):
        policies[policy_name(name)] = {
            "description": custom["description"] or "mlops.platform custom policy %s" % name,
            "document": policy_document(custom["statements"]),
            "targets": list(custom["targets"]),
            "path": "custom_policies.%s" % name,
        }
    for policy in policies.values():
        policy["targets"] = sorted(set(policy["targets"]))
    return policies


def check_policies(policies, prefix):
    """What the real API would refuse and the stand-in accepts: size, statement shape, attachments.

    Every target keeps AWS's ``FullAWSAccess`` (without an Allow, the Deny guardrails
    would deny everything), which shares the limit of five SCPs per target. Returns
    :class:`ConfigError` objects whose paths start with ``prefix``.
    """
    problems = []
    for name, policy in sorted(policies.items()):
        path = join_path(prefix, policy["path"])
        size = len(minified(policy["document"]))
        if size > SCP_MAX_CHARACTERS:
            problems.append(ConfigError(path, "make SCP %s %d characters long; an SCP holds at most %d"
                                        % (name, size, SCP_MAX_CHARACTERS)))
        for index, statement in enumerate(policy["document"]["Statement"]):
            statement_path = "%s.statements[%d]" % (path, index)
            missing = [] if "Effect" in statement else ["Effect"]
            if not ("Action" in statement or "NotAction" in statement):
                missing.append("Action or NotAction")
            if missing:
                problems.append(ConfigError(statement_path, "lacks %s, which every SCP statement needs"
                                            % " and ".join(missing)))
            elif statement["Effect"] not in ("Allow", "Deny"):
                problems.append(ConfigError(statement_path + ".Effect", "is not Allow or Deny", statement["Effect"]))
    per_target = {}
    for name, policy in policies.items():
        for target in policy["targets"]:
            per_target.setdefault(target, []).append(name)
    for target, names in sorted(per_target.items()):
        if len(names) + 1 > SCP_MAX_PER_TARGET:
            problems.append(ConfigError(
                join_path(prefix, "guardrails.%s" % target),
                "attach %d SCPs to %s (%s, plus %s); AWS allows at most %d per target"
                % (len(names) + 1, target, ", ".join(sorted(names)), FULL_AWS_ACCESS, SCP_MAX_PER_TARGET)))
    return problems


def check_references(config, prefix):
    """Accounts, guardrails and policies name declared OUs; e-mails are unique; the security account exists."""
    problems = []
    ous = set(config["organizational_units"])
    described = ", ".join(sorted(ous))
    emails = {}
    for name, account in sorted(config["accounts"].items()):
        path = join_path(prefix, "accounts.%s" % name)
        if account["organizational_unit"] not in ous:
            problems.append(ConfigError(path + ".organizational_unit", "is not a declared OU (%s)" % described,
                                        account["organizational_unit"]))
        other = emails.setdefault(account["email"].lower(), name)
        if other != name:
            problems.append(ConfigError(path + ".email", "is also the e-mail of account %r" % other, account["email"]))
    for target in sorted(config["guardrails"]):
        if target != ROOT and target not in ous:
            problems.append(ConfigError(join_path(prefix, "guardrails.%s" % target), "is not a declared OU"))
    for name, policy in sorted(config["custom_policies"].items()):
        for index, target in enumerate(policy["targets"]):
            if target != ROOT and target not in ous:
                problems.append(ConfigError(join_path(prefix, "custom_policies.%s.targets[%d]" % (name, index)),
                                            "is not a declared OU", target))
    if config["security_account"] and config["security_account"] not in config["accounts"]:
        problems.append(ConfigError(join_path(prefix, "security_account"), "is not an account of accounts",
                                    config["security_account"]))
    return problems


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
# ``live`` is the module's Organization: ``organization`` (DescribeOrganization, None before it
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
