# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The guardrail SCPs: what each one denies, the documents the organization's configuration
makes of them, and the limits AWS puts on SCPs.

Pure data and functions, no imports of the collection: the configuration schema offers the
guardrail names and checks the documents against AWS's limits before any call, and the
organization component converges the same documents.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.mlops.platform.plugins.module_utils.resource_policy import POLICY_VERSION

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
    return {"Version": POLICY_VERSION, "Statement": statements}


def minified(document):
    """The form sent to the API: SCP size counts every character, whitespace included."""
    return json.dumps(document, separators=(",", ":"), sort_keys=True)


def policy_name(name):
    return POLICY_PREFIX + name.replace("_", "-")


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
