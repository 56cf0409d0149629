# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The workload_identity component's pure logic: from the table of workload identities
(identities.py) and the configuration to IAM roles, trusts and policies. No API calls.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.mlops.platform.plugins.module_utils import naming
from ansible_collections.mlops.platform.plugins.module_utils.component import UNKNOWN, is_unknown
from ansible_collections.mlops.platform.plugins.module_utils.identities import (  # noqa: F401 pylint: disable=unused-import
    DEFAULT_KIND, IDENTITIES, IDENTITY_KINDS, PLATFORM_COMPONENTS, Identity, wanted_identities)
from ansible_collections.mlops.platform.plugins.module_utils.resource_policy import POLICY_VERSION

# ---------------------------------------------------------------------------------------
# From the table and the configuration to IAM: pure functions, no API calls.

# The ownership component of the roles and associations the workload_identity module makes
# (the eks module keeps the EBS CSI driver's under its own component, "eks").
COMPONENT = "workload_identity"

# The audience the EKS pod identity webhook puts in projected service account tokens; the
# cluster's IAM OIDC provider must list it as a client ID.
IRSA_AUDIENCE = "sts.amazonaws.com"
# What check mode shows for what exists only once the change is made.
UNKNOWN_VALUE = UNKNOWN
IRSA_ANNOTATION = "eks.amazonaws.com/role-arn"
POD_IDENTITY_PRINCIPAL = "pods.eks.amazonaws.com"
POD_IDENTITY_NOTE = ("EKS Pod Identity: the association of the service account gives its pods the role; "
                     "nothing goes on the pod or the service account")

# Inline policies of a workload role. Every name is managed: one the identity does not need
# (a lake it does not touch, no secrets) is removed from the role.
LAKE_POLICY = "lake-access"
SECRETS_POLICY = "secrets-read"
POLICY_NAMES = (LAKE_POLICY, SECRETS_POLICY)

# IAM OIDC provider ARN: arn:<partition>:iam::<account>:oidc-provider/<issuer host and path>.
_OIDC_PROVIDER_ARN = re.compile(r"^arn:(aws[\w-]*):iam::(\d{12}):oidc-provider/(.+)$")
_WILDCARDS = re.compile(r"[*?$]")

_LAKE_READ_ACTIONS = ["s3:GetObject"]
# PutObject covers CreateMultipartUpload, UploadPart and CompleteMultipartUpload.
_LAKE_WRITE_ACTIONS = ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:ListMultipartUploadParts",
                       "s3:PutObject"]
_KEY_READ_ACTIONS = ["kms:Decrypt"]
_KEY_WRITE_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey"]
_SECRET_ACTIONS = ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"]


def identity_of(identity):
    """The table row of ``identity`` (a name or a row); ValueError for an unknown name."""
    if isinstance(identity, Identity):
        return identity
    if identity not in IDENTITIES:
        raise ValueError("%r is not a workload identity; known: %s" % (identity, ", ".join(sorted(IDENTITIES))))
    return IDENTITIES[identity]


def resolve(config, name):
    """``{kind, namespace, service_account}`` of the identity ``name``: the table's defaults,
    overlaid by the ``workload_identity`` configuration (its ``kind``, then
    ``workloads.<name>``; a null there keeps what is below it). ``config`` is validated."""
    row = identity_of(name)
    config = config or {}
    workload = (config.get("workloads") or {}).get(row.name) or {}
    return {
        "kind": workload.get("kind") or config.get("kind") or DEFAULT_KIND,
        "namespace": workload.get("namespace") or row.namespace,
        "service_account": workload.get("service_account") or row.service_account,
    }


def role_name(name_prefix, identity_name):
    """The role of the identity, named like every component's role (naming.checked_role_name):
    ValueError for an unknown identity or a name IAM would refuse (64 characters at most)."""
    name = identity_of(identity_name).name
    return naming.checked_role_name(name_prefix, name, "the %s workload" % name)


def issuer_host_path(oidc_issuer):
    """The cluster's OIDC issuer without its scheme: the prefix of the IRSA condition keys."""
    issuer = oidc_issuer.strip()
    for scheme in ("https://", "http://"):
        if issuer.startswith(scheme):
            issuer = issuer[len(scheme):]
    return issuer.rstrip("/")


def oidc_problem(oidc_provider_arn, oidc_issuer, partition=None, account_id=None):
    """Why an IRSA trust built from these would never match a token, or None.

    The provider must be an IAM OIDC provider of ``account_id`` in ``partition`` (when
    given) whose URL is the issuer: a trust on another issuer's ``:sub`` is never met.
    """
    match = _OIDC_PROVIDER_ARN.match(oidc_provider_arn or "")
    if not match:
        return "%r is not an IAM OIDC provider ARN (arn:aws:iam::<account>:oidc-provider/<issuer host and path>)" \
            % oidc_provider_arn
    arn_partition, arn_account, provider_url = match.groups()
    if provider_url != issuer_host_path(oidc_issuer or ""):
        return "%r is the provider of %s, not of the cluster's issuer %r" % (
            oidc_provider_arn, provider_url, oidc_issuer)
    if partition is not None and arn_partition != partition:
        return "%r is in the partition %s, the roles are in %s" % (oidc_provider_arn, arn_partition, partition)
    if account_id is not None and arn_account != account_id:
        return "%r is in the account %s; IRSA needs the OIDC provider in the roles' account %s" \
            % (oidc_provider_arn, arn_account, account_id)
    return None


def _one_name(what, value):
    if not value or _WILDCARDS.search(value):
        raise ValueError("the %s %r must be one exact name (no wildcard, no policy variable)" % (what, value))


def trust_policy(kind, partition, account_id, oidc_provider_arn, oidc_issuer, namespace, service_account,
                 cluster_name=None):
    """Who may take the role: exactly one service account, ``namespace/service_account``.

    * ``irsa``: ``sts:AssumeRoleWithWebIdentity`` by the cluster's IAM OIDC provider with
      ``StringEquals`` on ``<issuer>:sub`` = ``system:serviceaccount:<ns>:<sa>`` and on
      ``<issuer>:aud`` = ``sts.amazonaws.com``.
    * ``pod_identity``: the EKS Pod Identity service ``pods.eks.amazonaws.com`` with
      ``sts:AssumeRole`` and ``sts:TagSession`` (the AWS-documented trust), limited by the
      session tags EKS Pod Identity sets (``aws:RequestTag/kubernetes-namespace``,
      ``kubernetes-service-account`` and, with ``cluster_name``, ``eks-cluster-name``) as
      AWS documents, so that no association of another service account or cluster of
      the account can use the role. Associations must keep session tags on
      (``disableSessionTags`` false). AWS documents no ``aws:SourceAccount`` condition for
      this service principal, so none is added.

    ``partition`` and ``account_id`` are the role's; an OIDC provider elsewhere, or of
    another issuer, raises ValueError (see :func:`oidc_problem`).
    """
    _one_name("namespace", namespace)
    _one_name("service account", service_account)
    if kind == "irsa":
        problem = oidc_problem(oidc_provider_arn, oidc_issuer, partition, account_id)
        if problem:
            raise ValueError(problem)
        issuer = issuer_host_path(oidc_issuer)
        statement = {
            "Sid": "ServiceAccountWebIdentity",
            "Effect": "Allow",
            "Principal": {"Federated": oidc_provider_arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
                "%s:sub" % issuer: "system:serviceaccount:%s:%s" % (namespace, service_account),
                "%s:aud" % issuer: IRSA_AUDIENCE,
            }},
        }
    elif kind == "pod_identity":
        conditions = {
            "aws:RequestTag/kubernetes-namespace": namespace,
            "aws:RequestTag/kubernetes-service-account": service_account,
        }
        if cluster_name is not None:
            _one_name("cluster", cluster_name)
            conditions["aws:RequestTag/eks-cluster-name"] = cluster_name
        statement = {
            "Sid": "AllowEksAuthToAssumeRoleForPodIdentity",
            "Effect": "Allow",
            "Principal": {"Service": POD_IDENTITY_PRINCIPAL},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
            "Condition": {"StringEquals": conditions},
        }
    else:
        raise ValueError("%r is not an identity kind; use one of %s" % (kind, ", ".join(IDENTITY_KINDS)))
    return {"Version": POLICY_VERSION, "Statement": [statement]}


def lake_zones(identity, lake):
    """``(read_zones, write_zones, missing)``: the identity's zones that the lake has, sorted
    (a zone both read and written is a write zone), and those it names that the lake lacks."""
    row = identity_of(identity)
    buckets = (lake or {}).get("buckets") or {}
    write = sorted(set(row.write_zones))
    read = sorted(set(row.read_zones) - set(write))
    missing = sorted(zone for zone in read + write if zone not in buckets)
    return ([zone for zone in read if zone in buckets], [zone for zone in write if zone in buckets], missing)


def _s3_statements(buckets, read, write):
    """ListBucket on each bucket (only under the zones' prefixes in a shared bucket), and
    object access on exactly the zones' prefixes (a whole bucket when the zone has its own)."""
    prefixes_by_bucket = {}
    for zone in read + write:
        bucket = buckets[zone]
        prefixes_by_bucket.setdefault(bucket["arn"], set()).add(bucket.get("prefix") or "")
    whole = sorted(arn for arn, prefixes in prefixes_by_bucket.items() if "" in prefixes)
    shared = sorted(arn for arn in prefixes_by_bucket if arn not in whole)

    statements = [{
        # SDKs and file-system layers (s3fs, pyarrow) ask a bucket's region before they use it.
        "Sid": "LocateLakeBuckets", "Effect": "Allow", "Action": "s3:GetBucketLocation",
        "Resource": sorted(prefixes_by_bucket),
    }]
    if whole:
        statements.append({"Sid": "ListLakeBuckets", "Effect": "Allow", "Action": "s3:ListBucket",
                           "Resource": whole})
    for index, arn in enumerate(shared):
        statements.append({
            "Sid": "ListLakeZones" + ("%d" % (index + 1) if len(shared) > 1 else ""),
            "Effect": "Allow", "Action": "s3:ListBucket", "Resource": arn,
            "Condition": {"StringLike": {"s3:prefix": sorted("%s*" % prefix
                                                             for prefix in prefixes_by_bucket[arn])}},
        })
    for sid, zones, actions in (("ReadLakeObjects", read, _LAKE_READ_ACTIONS),
                                ("WriteLakeObjects", write, _LAKE_WRITE_ACTIONS)):
        if zones:
            objects = sorted(set("%s/%s*" % (buckets[zone]["arn"], buckets[zone].get("prefix") or "")
                                 for zone in zones))
            statements.append({"Sid": sid, "Effect": "Allow", "Action": list(actions), "Resource": objects})
    return statements


def permissions(identity, partition, region, account_id, name_prefix, lake, secret_arns=()):
    """``(inline policies, managed policy ARNs)`` of the identity's role, least privilege.

    ``lake`` is ``{"buckets": {zone: {name, arn, prefix}}, "kms_key_arn": arn}`` as the
    data_lake module returns them (empty or None without a lake). Inline policies, by name:

    * :data:`LAKE_POLICY`: S3 on the zones the identity reads or writes and the lake has
      (see :func:`lake_zones`), and the lake key - ``kms:Decrypt`` to read,
      ``kms:GenerateDataKey`` too to write - only when it touches the lake;
    * :data:`SECRETS_POLICY`: ``GetSecretValue``/``DescribeSecret`` on its own secrets,
      ``<name_prefix>/<identity>/*``, or every secret of the environment, ``<name_prefix>/*``,
      plus, for the latter (External Secrets), the ``secret_arns`` the environment holds
      under other names (the RDS-managed master secret, ``rds!db-...``); ARNs not known yet
      (check mode) are left out.

    A policy with nothing in it is not returned. Managed policies are the table's, as ARNs
    of ``partition``.
    """
    row = identity_of(identity)
    lake = lake or {}
    policies = {}

    read, write = lake_zones(row, lake)[:2]
    if read or write:
        statements = _s3_statements(lake["buckets"], read, write)
        key_arn = lake.get("kms_key_arn")
        if key_arn:
            statements.append({"Sid": "UseLakeKey", "Effect": "Allow",
                               "Action": list(_KEY_WRITE_ACTIONS if write else _KEY_READ_ACTIONS),
                               "Resource": key_arn})
        policies[LAKE_POLICY] = {"Version": POLICY_VERSION, "Statement": statements}

    secrets = None
    if row.all_secrets:
        secrets = ("ReadEnvironmentSecrets", "%s/*" % name_prefix)
    elif row.own_secrets:
        secrets = ("ReadOwnSecrets", "%s/%s/*" % (name_prefix, row.name))
    if secrets:
        sid, pattern = secrets
        statements = [{
            "Sid": sid, "Effect": "Allow", "Action": list(_SECRET_ACTIONS),
            "Resource": "arn:%s:secretsmanager:%s:%s:secret:%s" % (partition, region, account_id, pattern),
        }]
        others = sorted(set(arn for arn in secret_arns or () if arn and not is_unknown(arn)))
        if row.all_secrets and others:
            statements.append({"Sid": "ReadEnvironmentSecretsElsewhere", "Effect": "Allow",
                               "Action": list(_SECRET_ACTIONS), "Resource": others})
        policies[SECRETS_POLICY] = {"Version": POLICY_VERSION, "Statement": statements}

    managed = sorted("arn:%s:iam::aws:policy/%s" % (partition, policy) for policy in row.managed_policies)
    return policies, managed


def role_documents(name, resolved, partition, region, account_id, name_prefix, oidc_provider_arn, oidc_issuer,
                   cluster_name, lake, secret_arns=()):
    """``(trust, policies, managed_arns)`` of identity ``name`` as ``resolve`` gave it: what
    :meth:`workload_identity_aws.WorkloadIdentities.ensure` takes, for every component that
    makes workload roles. ``policies`` names every policy this collection writes (a value of
    None: one this identity no longer needs, to delete). An OIDC provider or issuer that is
    only planned (check mode, ``(known after apply)``) gives a well-formed trust of it, so a
    plan stays readable. Raises ValueError (see :func:`trust_policy`).
    """
    if is_unknown(oidc_provider_arn) or is_unknown(oidc_issuer) or not oidc_issuer:
        oidc_provider_arn = "arn:%s:iam::%s:oidc-provider/%s" % (partition, account_id, UNKNOWN_VALUE)
        oidc_issuer = UNKNOWN_VALUE
    trust = trust_policy(resolved["kind"], partition, account_id, oidc_provider_arn, oidc_issuer,
                         resolved["namespace"], resolved["service_account"], cluster_name=cluster_name)
    policies, managed = permissions(name, partition, region, account_id, name_prefix, lake, secret_arns)
    return trust, dict((policy, policies.get(policy)) for policy in POLICY_NAMES), managed


def pod_usage(kind, role_arn):
    """What a pod of the service account needs to get the role: IRSA, the service account
    annotation; Pod Identity, nothing (the association does it)."""
    if kind == "irsa":
        return {"annotations": {IRSA_ANNOTATION: role_arn}}
    if kind == "pod_identity":
        return {"annotations": {}, "note": POD_IDENTITY_NOTE}
    raise ValueError("%r is not an identity kind; use one of %s" % (kind, ", ".join(IDENTITY_KINDS)))
