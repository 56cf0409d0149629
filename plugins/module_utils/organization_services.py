# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Security services of the organization baseline: trusted access, delegated
administrators (in Organizations, and per region on the Security Hub and GuardDuty
APIs), Security Hub's and GuardDuty's organization configuration in the security account,
and the organization CloudTrail with its log bucket and key.

Called by the ``organization`` module from the management account, through
``SecurityServices`` (at the end), which runs the ``converge_*`` functions below on the
live organization (``organization_resources.Organization``) and keeps their diffs.

Conventions, the same for every ``converge_*`` function:

* Clients are amazon.aws retry-wrapped boto3 clients
  (``module.client(service, retry_decorator=AWSRetry.jittered_backoff(...))``), so
  every call is made with ``aws_retry=True``.  Tests wrap plain boto3 clients in
  amazon.aws's ``RetryingBotoClientWrapper`` to get the same calling convention.
* Each returns ``(changed, before, after)``; ``before``/``after`` are small JSON-able
  dicts with snake_case keys, meant for the module's ``diff``.
* With ``check_mode=True`` only read calls are made, and ``changed`` is what a real
  run would report.
* A run that finds everything in place makes read calls only.
* botocore errors are raised to the caller (the module reports them with
  ``fail_json_aws``); only the "does not exist" answers of read calls are handled here.
* Nothing is removed that was not asked for: delegated administrations for services
  outside the request are reported as ``unmanaged``, foreign bucket policy statements
  and tags are kept, log objects are never read or written.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import functools

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports the missing SDK

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict

from ansible_collections.mlops.platform.plugins.module_utils.aws import client_token
from ansible_collections.mlops.platform.plugins.module_utils.aws import create_once
from ansible_collections.mlops.platform.plugins.module_utils.aws import paginate
from ansible_collections.mlops.platform.plugins.module_utils.aws import partition_of
from ansible_collections.mlops.platform.plugins.module_utils.aws import settling_retry
from ansible_collections.mlops.platform.plugins.module_utils import organization as org
from ansible_collections.mlops.platform.plugins.module_utils.organization_resources import config_error
from ansible_collections.mlops.platform.plugins.module_utils.component import MANAGED_TAG, UNKNOWN, managed_tags
from ansible_collections.mlops.platform.plugins.module_utils.kms_key import ComponentKey
from ansible_collections.mlops.platform.plugins.module_utils.resource_policy import POLICY_VERSION, merged_policy
from ansible_collections.mlops.platform.plugins.module_utils.s3_bucket import create_bucket, kms_encryption
from ansible_collections.mlops.platform.plugins.module_utils.s3_bucket import plan_bucket
from ansible_collections.mlops.platform.plugins.module_utils.s3_bucket import read_bucket, read_ownership, s3_encryption
from ansible_collections.mlops.platform.plugins.module_utils.s3_bucket import write_settings
from ansible_collections.mlops.platform.plugins.module_utils.s3_policy import deny_insecure_transport

CLOUDTRAIL_PRINCIPAL = "cloudtrail.amazonaws.com"

# Statement IDs this library owns in the trail bucket's policy. Statements with
# other Sids (or none) were put there by someone else and are kept as they are.
SID_ACL_CHECK = "AWSCloudTrailAclCheck"
SID_MANAGEMENT_WRITE = "AWSCloudTrailWrite"
SID_ORGANIZATION_WRITE = "AWSCloudTrailOrganizationWrite"
SID_DENY_INSECURE_TRANSPORT = "DenyInsecureTransport"
MANAGED_SIDS = (SID_ACL_CHECK, SID_MANAGEMENT_WRITE, SID_ORGANIZATION_WRITE, SID_DENY_INSECURE_TRANSPORT)

# The trail bucket is the organization baseline's when it carries this tag (as the
# organization's SCPs are); a bucket of its name without it is refused.
TRAIL_BUCKET_OWNERSHIP = {MANAGED_TAG: "true"}

# The trail settings enforced, as DescribeTrails names them, and the UpdateTrail
# parameter that sets each.
TRAIL_FLAGS = (
    ("IsOrganizationTrail", "IsOrganizationTrail"),
    ("IsMultiRegionTrail", "IsMultiRegionTrail"),
    ("IncludeGlobalServiceEvents", "IncludeGlobalServiceEvents"),
    ("LogFileValidationEnabled", "EnableLogFileValidation"),
)

_BUCKET_NOT_FOUND = ("404", "NoSuchBucket", "NotFound")


# ---------------------------------------------------------------- helpers


def _unique(items):
    """``items`` without repeats, in their first order."""
    unique = []
    for item in items:
        if item not in unique:
            unique.append(item)
    return unique


def partition_for_region(region):
    """The ARN partition of a region name (aws, aws-cn or aws-us-gov)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def organization_trail_arn(region, account_id, trail_name):
    """The ARN CloudTrail gives a trail; known before the trail exists, which the
    bucket policy needs because CreateTrail checks that policy."""
    return "arn:%s:cloudtrail:%s:%s:trail/%s" % (partition_for_region(region), region, account_id, trail_name)


# ------------------------------------------ trusted access, delegated admins


def _enabled_service_access(orgs):
    entries = paginate(orgs, "list_aws_service_access_for_organization", "EnabledServicePrincipals")
    return set(entry["ServicePrincipal"] for entry in entries)


def _enable_service_access(orgs, principals, check_mode):
    if not check_mode:
        for principal in principals:
            orgs.enable_aws_service_access(ServicePrincipal=principal, aws_retry=True)


def converge_trusted_service_access(orgs, service_principals, check_mode):
    """Enable trusted access (EnableAWSServiceAccess) for each service principal.

    One ListAWSServiceAccessForOrganization (paginated), then one enable call per
    missing principal.  Never disables anything.
    """
    wanted = _unique(service_principals)
    enabled = _enabled_service_access(orgs)
    missing = [principal for principal in wanted if principal not in enabled]
    _enable_service_access(orgs, missing, check_mode)
    before = {"trusted_service_access": sorted(principal for principal in wanted if principal in enabled)}
    return bool(missing), before, {"trusted_service_access": sorted(wanted)}


def _delegated_services(orgs, account_id):
    try:
        services = paginate(orgs, "list_delegated_services_for_account", "DelegatedServices", AccountId=account_id)
    except is_boto3_error_code("AccountNotRegisteredException"):
        return set()
    return set(service["ServicePrincipal"] for service in services)


def converge_delegated_administrators(orgs, account_id, service_principals, check_mode):
    """Make ``account_id`` the delegated administrator of each service principal,
    enabling trusted access for the principal first where it is missing.

    Reads: one ListAWSServiceAccessForOrganization and one
    ListDelegatedServicesForAccount (each paginated), whatever the number of
    principals.  Writes: EnableAWSServiceAccess and RegisterDelegatedAdministrator
    for what is missing, in that order (registration needs trusted access).

    Services the account administers but that are not asked for are returned in
    ``after["unmanaged"]`` and left registered.
    """
    wanted = _unique(service_principals)
    enabled = _enabled_service_access(orgs)
    delegated = _delegated_services(orgs, account_id)
    missing_access = [principal for principal in wanted if principal not in enabled]
    missing_admin = [principal for principal in wanted if principal not in delegated]

    _enable_service_access(orgs, missing_access, check_mode)
    if not check_mode:
        for principal in missing_admin:
            orgs.register_delegated_administrator(AccountId=account_id, ServicePrincipal=principal, aws_retry=True)

    before = {
        "account_id": account_id,
        "trusted_service_access": sorted(principal for principal in wanted if principal in enabled),
        "delegated_services": sorted(delegated),
        "unmanaged": sorted(delegated - set(wanted)),
    }
    after = {
        "account_id": account_id,
        "trusted_service_access": sorted(wanted),
        "delegated_services": sorted(delegated | set(wanted)),
        "unmanaged": sorted(delegated - set(wanted)),
    }
    return bool(missing_access or missing_admin), before, after


# ------------------------------- per-region administrators of the services

# Security services whose administrator is also designated on the service's own API,
# once per region, by the management account (Organizations' delegated administrator
# is global; these designations are regional). AWS Config has no such call: the
# Organizations registration is all it takes. Per service: the listing's key, and the
# account and status keys of each entry.
REGIONAL_ADMIN_SERVICES = {
    "securityhub": ("AdminAccounts", "AccountId", "Status"),
    "guardduty": ("AdminAccounts", "AdminAccountId", "AdminStatus"),
}
# What the services answer while a designation elsewhere is still settling (AWS's own
# organization set-up samples retry these); the module's clients for them retry these
# codes a bounded number of times.
ADMIN_PROPAGATION_ERRORS = ["InvalidInputException", "BadRequestException"]
# What CloudTrail answers for a while after the bucket policy or the trusted access it
# needs was just put in place.
TRAIL_PROPAGATION_ERRORS = ["InsufficientS3BucketPolicyException", "CloudTrailAccessNotEnabledException",
                            "InsufficientEncryptionPolicyException"]


class AdministratorConflict(Exception):
    """A region where the security account cannot simply be designated: another account
    administers the service there, or the security account's designation is being
    removed. Replacing or racing a designation is a decision for a person."""

    def __init__(self, service, region, account_id, status, ours=False):
        if ours:
            message = ("%s in %s: the designation of account %s is being removed (%s); re-run once the removal "
                       "has finished" % (service, region, account_id, status))
        else:
            message = ("%s in %s is administered by account %s (%s); remove that designation first, a converge "
                       "never replaces another account's" % (service, region, account_id, status))
        super(AdministratorConflict, self).__init__(message)
        self.service = service
        self.region = region
        self.account_id = account_id


def _regional_administrators(client, service):
    listing, account_key, status_key = REGIONAL_ADMIN_SERVICES[service]
    entries = paginate(client, "list_organization_admin_accounts", listing)
    return dict((entry[account_key], entry.get(status_key)) for entry in entries)


def read_regional_administrators(clients, account_id):
    """Where ``account_id`` is already the ENABLED administrator: ``{(service, region): bool}``.

    ``clients`` maps ``(service, region)`` to a client of that service in that region, for
    the services of ``REGIONAL_ADMIN_SERVICES``.  One ListOrganizationAdminAccounts
    (paginated) per pair.  Raises ``AdministratorConflict`` for a pair administered by
    another account, or where the account's designation is being removed; the module
    calls this before any write of the security services, so such a region stops the run
    with nothing changed.
    """
    current = {}
    for (service, region), client in sorted(clients.items()):
        administrators = _regional_administrators(client, service)
        for other, status in sorted(administrators.items()):
            if other != account_id:
                raise AdministratorConflict(service, region, other, status)
        status = administrators.get(account_id)
        if status not in (None, "ENABLED"):
            raise AdministratorConflict(service, region, account_id, status, ours=True)
        current[(service, region)] = status == "ENABLED"
    return current


def converge_regional_administrators(clients, account_id, check_mode, current=None):
    """Designate ``account_id`` as the organization administrator of each service in
    each region (EnableOrganizationAdminAccount), from the management account.

    ``current`` is what ``read_regional_administrators`` returned (read here when not
    given).  Writes: one EnableOrganizationAdminAccount per pair where the account is not
    the administrator yet.  Never removes a designation.  Right after the Organizations
    registration, AWS refuses designations in further regions until the first one has
    settled; the clients' retry decorator is expected to retry that refusal
    (``ADMIN_PROPAGATION_ERRORS``).

    ``before``/``after`` map each service to ``{region: administrator account or None}``.
    Call it after ``converge_delegated_administrators``: the services require trusted
    access, and designate the same account Organizations already knows.
    """
    if current is None:
        current = read_regional_administrators(clients, account_id)
    missing = [pair for pair, designated in sorted(current.items()) if not designated]
    if not check_mode:
        for service, region in missing:
            clients[(service, region)].enable_organization_admin_account(AdminAccountId=account_id, aws_retry=True)

    before, after = {}, {}
    for (service, region), designated in sorted(current.items()):
        before.setdefault(service, {})[region] = account_id if designated else None
        after.setdefault(service, {})[region] = account_id
    return bool(missing), before, after


# ------------------------- organization configuration of Security Hub and GuardDuty
#
# Made in the security account (the services' delegated administrator), per region, once it
# is designated there (converge_regional_administrators). ``settings`` is the config's
# ``security_services``. Security Hub's hub and GuardDuty's detector are the account's
# switches of the service (one per account and region, whoever turned them on): they are
# switched on when off, and never changed otherwise.

# ``security_services.auto_enable`` as GuardDuty's AutoEnableOrganizationMembers. Security
# Hub's AutoEnable is a flag that covers the accounts joining from now on.
GUARDDUTY_MEMBERS = {"new": "NEW", "all": "ALL", "none": "NONE"}
# What Security Hub answers in an account and region where it is not enabled.
_HUB_OFF = "InvalidAccessException"
# What GuardDuty answers a CreateDetector where a detector exists.
_DETECTOR_EXISTS = "BadRequestException"


class CentralConfiguration(Exception):
    """Security Hub in a region is configured centrally (configuration policies): its
    auto-enable is the policies', and UpdateOrganizationConfiguration refuses AutoEnable."""

    def __init__(self):
        super(CentralConfiguration, self).__init__(
            "Security Hub uses central configuration (configuration policies) there, which decides what is "
            "enabled in member accounts; manage it with those policies, or return it to local configuration")


def security_hub_wanted(settings):
    return {"enabled": True, "auto_enable": settings["auto_enable"] != "none",
            "auto_enable_standards": settings["auto_enable_standards"].upper()}


def _hub_enabled(client):
    try:
        client.describe_hub(aws_retry=True)
    except is_boto3_error_code(_HUB_OFF):
        return None
    return True


def read_security_hub_organization(client):
    """Security Hub's organization configuration as its administrator sees it (DescribeHub,
    DescribeOrganizationConfiguration), or None where Security Hub is off."""
    if not _hub_enabled(client):
        return None
    configuration = client.describe_organization_configuration(aws_retry=True)
    return {"enabled": True, "auto_enable": bool(configuration.get("AutoEnable")),
            "auto_enable_standards": configuration.get("AutoEnableStandards"),
            "configuration_type": configuration.get("OrganizationConfiguration", {}).get("ConfigurationType")}


def converge_security_hub_organization(client, once, settings, tags, check_mode, current):
    """Security Hub on in the administrator account (EnableSecurityHub through ``create_once``
    on the client ``once()`` makes, with ``tags``), then its organization configuration (UpdateOrganizationConfiguration) as
    ``settings`` say. ``current`` is what ``read_security_hub_organization`` returned, or None
    (off, or not readable yet: planned). Raises ``CentralConfiguration`` before any write."""
    wanted = security_hub_wanted(settings)
    if current is not None and current["configuration_type"] == "CENTRAL":
        raise CentralConfiguration()
    before = None if current is None else dict((key, current[key]) for key in wanted)
    changed = before != wanted
    if changed and not check_mode:
        if current is None:
            create_once(lambda: once().enable_security_hub(
                EnableDefaultStandards=wanted["auto_enable_standards"] == "DEFAULT", Tags=tags),
                lambda: _hub_enabled(client), exists_codes=("ResourceConflictException",))
        client.update_organization_configuration(AutoEnable=wanted["auto_enable"],
                                                 AutoEnableStandards=wanted["auto_enable_standards"], aws_retry=True)
    return changed, before, wanted


def _detector_id(client):
    detectors = paginate(client, "list_detectors", "DetectorIds")
    return detectors[0] if detectors else None


def read_guardduty_organization(client):
    """The administrator's detector and its organization configuration (ListDetectors,
    DescribeOrganizationConfiguration), or None where the account has no detector."""
    detector_id = _detector_id(client)
    if detector_id is None:
        return None
    configuration = client.describe_organization_configuration(DetectorId=detector_id, aws_retry=True)
    # AutoEnable alone is the older, deprecated answer: on means new accounts.
    members = configuration.get("AutoEnableOrganizationMembers")
    if members is None:
        members = "NEW" if configuration.get("AutoEnable") else "NONE"
    return {"detector_id": detector_id, "auto_enable_organization_members": members}


def converge_guardduty_organization(client, once, settings, tags, check_mode, current):
    """A detector in the administrator account (CreateDetector through ``create_once`` with a
    ClientToken, found first by ListDetectors), then its organization configuration
    (UpdateOrganizationConfiguration, AutoEnableOrganizationMembers). ``current`` as in
    ``converge_security_hub_organization``."""
    members = GUARDDUTY_MEMBERS[settings["auto_enable"]]
    detector_id = current["detector_id"] if current else UNKNOWN
    if current is None and not check_mode:
        token = client_token()
        response, found = create_once(
            lambda: once().create_detector(Enable=True, ClientToken=token, Tags=tags),
            lambda: _detector_id(client), exists_codes=(_DETECTOR_EXISTS,))
        detector_id = response["DetectorId"] if response else found
    wanted = {"detector_id": detector_id, "auto_enable_organization_members": members}
    changed = current != wanted
    if changed and not check_mode:
        client.update_organization_configuration(DetectorId=detector_id, AutoEnableOrganizationMembers=members,
                                                 aws_retry=True)
    return changed, current, wanted


# The organization configuration of each service: (service, read, converge).
ORGANIZATION_CONFIGURATIONS = (
    ("securityhub", read_security_hub_organization, converge_security_hub_organization),
    ("guardduty", read_guardduty_organization, converge_guardduty_organization),
)


# ------------------------------------------------------ trail bucket policy


def trail_bucket_policy(bucket_name, management_account_id, organization_id, trail_arn):
    """The bucket policy an organization trail needs, plus a TLS-only Deny.

    CloudTrail checks the bucket ACL and writes the management account's logs under
    ``AWSLogs/<management account>/`` and the member accounts' under
    ``AWSLogs/<organization id>/``; both writes are limited to this trail
    (``aws:SourceArn``) and must hand the objects to the bucket owner.
    """
    partition = partition_of(trail_arn)
    bucket_arn = "arn:%s:s3:::%s" % (partition, bucket_name)
    cloudtrail = {"Service": CLOUDTRAIL_PRINCIPAL}
    this_trail = {"aws:SourceArn": trail_arn}
    write_condition = {"StringEquals": dict(this_trail, **{"s3:x-amz-acl": "bucket-owner-full-control"})}
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Sid": SID_ACL_CHECK,
                "Effect": "Allow",
                "Principal": cloudtrail,
                "Action": "s3:GetBucketAcl",
                "Resource": bucket_arn,
                "Condition": {"StringEquals": this_trail},
            },
            {
                "Sid": SID_MANAGEMENT_WRITE,
                "Effect": "Allow",
                "Principal": cloudtrail,
                "Action": "s3:PutObject",
                "Resource": "%s/AWSLogs/%s/*" % (bucket_arn, management_account_id),
                "Condition": write_condition,
            },
            {
                "Sid": SID_ORGANIZATION_WRITE,
                "Effect": "Allow",
                "Principal": cloudtrail,
                "Action": "s3:PutObject",
                "Resource": "%s/AWSLogs/%s/*" % (bucket_arn, organization_id),
                "Condition": write_condition,
            },
            deny_insecure_transport(bucket_arn, SID_DENY_INSECURE_TRANSPORT),
        ],
    }


# Statement IDs this library owns in the trail key's policy (others' statements are kept).
SID_KEY_ADMIN = "MlopsTrailKeyAdministration"
SID_KEY_ENCRYPT = "MlopsTrailKeyCloudTrailEncrypt"
SID_KEY_DESCRIBE = "MlopsTrailKeyCloudTrailDescribe"


def trail_key_statements(management_account_id, trail_arn):
    """The key policy statements of the trail's customer managed key, as AWS's "Configure AWS
    KMS key policies for CloudTrail" asks: the management account keeps the key's
    administration (its IAM policies decide who reads the logs); CloudTrail may generate data
    keys for this trail only (``aws:SourceArn``) with the encryption context of a trail of this
    account, and may describe the key."""
    partition = partition_of(trail_arn)
    cloudtrail = {"Service": CLOUDTRAIL_PRINCIPAL}
    this_trail = {"aws:SourceArn": trail_arn}
    return [
        {
            "Sid": SID_KEY_ADMIN,
            "Effect": "Allow",
            "Principal": {"AWS": "arn:%s:iam::%s:root" % (partition, management_account_id)},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": SID_KEY_ENCRYPT,
            "Effect": "Allow",
            "Principal": cloudtrail,
            "Action": "kms:GenerateDataKey*",
            "Resource": "*",
            "Condition": {
                "StringEquals": this_trail,
                "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": "arn:%s:cloudtrail:*:%s:trail/*"
                                                                           % (partition, management_account_id)},
            },
        },
        {
            "Sid": SID_KEY_DESCRIBE,
            "Effect": "Allow",
            "Principal": cloudtrail,
            "Action": "kms:DescribeKey",
            "Resource": "*",
            "Condition": {"StringEquals": this_trail},
        },
    ]


# The trail's customer managed key. It carries the ownership tags with this name as both the
# environment and the component: the organization serves every environment.
TRAIL_KEY_ALIAS = "alias/mlops-organization-trail"
TRAIL_KEY_OWNER = "organization"


def trail_key(module, region, management_account_id, trail_name, tags):
    """The trail's key in ``region`` (the collection's one KMS key helper), with the policy
    CloudTrail needs, for :func:`converge_organization_trail`."""
    return ComponentKey(module, TRAIL_KEY_ALIAS, TRAIL_KEY_OWNER, TRAIL_KEY_OWNER,
                        managed_tags(TRAIL_KEY_OWNER, TRAIL_KEY_OWNER, tags),
                        "mlops.platform organization trail %s" % trail_name, "config.organization_trail", region=region,
                        policy=trail_key_statements(management_account_id,
                                                    organization_trail_arn(region, management_account_id, trail_name)))


def merged_bucket_policy(current, required):
    """``required`` with the statements of ``current`` that this library does not own (by
    Sid) kept after it: the one order of every bucket of the collection (s3_bucket)."""
    return merged_policy(current, required["Statement"], lambda statement: statement.get("Sid") in MANAGED_SIDS)


# ------------------------------------------------------------- trail bucket


def _read_bucket(s3, bucket_name, warn=None):
    """The bucket's settings this library manages, or None when it does not exist; refused
    unless it carries the ownership tag."""
    try:
        s3.head_bucket(Bucket=bucket_name, aws_retry=True)
    except is_boto3_error_code(_BUCKET_NOT_FOUND):
        return None
    known = read_ownership(s3, bucket_name, TRAIL_BUCKET_OWNERSHIP, "config.organization_trail",
                           "the organization baseline (mlops.platform)", warn)
    return dict(read_bucket(s3, bucket_name, known=known), name=bucket_name)


def _converge_bucket(s3, bucket_name, region, required_policy, tags, check_mode, s3_once=None, warn=None,
                     kms_key_arn=None):
    current = _read_bucket(s3, bucket_name, warn)
    encryption = kms_encryption(kms_key_arn) if kms_key_arn else s3_encryption()
    desired, to_write = plan_bucket(current, encryption, required_policy["Statement"],
                                    lambda statement: statement.get("Sid") in MANAGED_SIDS, tags)
    desired["name"] = bucket_name
    if not check_mode:
        if current is None:
            create_bucket(s3, s3_once or s3, bucket_name, region, tags, "config.organization_trail")
        # CreateTrail/UpdateTrail check the policy: it is written last of the settings.
        write_settings(s3, bucket_name, to_write, desired)
    return current is None or bool(to_write), current, desired


# -------------------------------------------------------------------- trail


def _read_trail(cloudtrail, region, trail_name, with_tags):
    """The trail whose home is ``region``, or None.  DescribeTrails with a name
    answers only for trails of the current region (moto ignores the list, so the
    answer is filtered here too)."""
    trails = cloudtrail.describe_trails(trailNameList=[trail_name], includeShadowTrails=False, aws_retry=True)["trailList"]
    found = [trail for trail in trails if trail.get("Name") == trail_name and trail.get("HomeRegion", region) == region]
    if not found:
        return None
    trail = found[0]
    state = {
        "name": trail_name,
        "arn": trail["TrailARN"],
        "s3_bucket_name": trail.get("S3BucketName"),
        "s3_key_prefix": trail.get("S3KeyPrefix") or None,
        "kms_key_id": trail.get("KmsKeyId") or None,
    }
    for described, unused_param in TRAIL_FLAGS:
        state[_snake(described)] = bool(trail.get(described))
    state["is_logging"] = bool(cloudtrail.get_trail_status(Name=trail["TrailARN"], aws_retry=True).get("IsLogging"))
    if with_tags:
        tag_lists = cloudtrail.list_tags(ResourceIdList=[trail["TrailARN"]], aws_retry=True).get("ResourceTagList") or []
        state["tags"] = boto3_tag_list_to_ansible_dict(tag_lists[0].get("TagsList") if tag_lists else [])
    return state


def _snake(name):
    return "".join("_" + char.lower() if char.isupper() else char for char in name).lstrip("_")


def _converge_trail(cloudtrail, arn, trail_name, bucket_name, tags, current, check_mode, kms_key_arn=None):
    desired = {"name": trail_name, "arn": arn, "s3_bucket_name": bucket_name, "s3_key_prefix": None, "is_logging": True,
               "kms_key_id": kms_key_arn or (current or {}).get("kms_key_id")}
    for described, unused_param in TRAIL_FLAGS:
        desired[_snake(described)] = True
    if tags:
        desired["tags"] = dict((current or {}).get("tags") or {}, **tags)

    if current is None:
        if not check_mode:
            create = dict(
                Name=trail_name,
                S3BucketName=bucket_name,
                IsOrganizationTrail=True,
                IsMultiRegionTrail=True,
                IncludeGlobalServiceEvents=True,
                EnableLogFileValidation=True,
            )
            if tags:
                create["TagsList"] = ansible_dict_to_boto3_tag_list(tags)
            if kms_key_arn:
                create["KmsKeyId"] = kms_key_arn
            try:
                created = cloudtrail.create_trail(aws_retry=True, **create)
            except is_boto3_error_code("TrailAlreadyExistsException"):
                created = {}  # made by this call, whose first answer was lost (the read found no trail)
            cloudtrail.start_logging(Name=created.get("TrailARN") or arn, aws_retry=True)
        return True, desired

    update = {}
    if current["s3_bucket_name"] != bucket_name:
        update["S3BucketName"] = bucket_name
    if current["s3_key_prefix"]:
        # An empty prefix removes it: the bucket policy grants AWSLogs/ at the root.
        update["S3KeyPrefix"] = ""
    for described, param in TRAIL_FLAGS:
        if not current[_snake(described)]:
            update[param] = True
    if current["kms_key_id"] != desired["kms_key_id"]:
        update["KmsKeyId"] = desired["kms_key_id"]
    missing_tags = dict((key, value) for key, value in (tags or {}).items() if current.get("tags", {}).get(key) != value)
    if not check_mode:
        if update:
            cloudtrail.update_trail(Name=current["arn"], aws_retry=True, **update)
        if missing_tags:
            cloudtrail.add_tags(ResourceId=current["arn"], TagsList=ansible_dict_to_boto3_tag_list(missing_tags), aws_retry=True)
        if not current["is_logging"]:
            cloudtrail.start_logging(Name=current["arn"], aws_retry=True)
    return bool(update or missing_tags or not current["is_logging"]), desired


class TrailElsewhere(Exception):
    """The trail exists with another home region than the one asked for."""

    def __init__(self, trail_name, home_region, region):
        super(TrailElsewhere, self).__init__(
            "the organization trail %s exists with home region %s, not %s; set the trail's region to %s (a trail "
            "cannot move between regions)" % (trail_name, home_region, region, home_region))
        self.home_region = home_region


def _trail_home_region(cloudtrail, trail_name):
    """The home region of the account's trail named ``trail_name``, or None.  ListTrails
    answers for every region (DescribeTrails by name only for the current region's)."""
    trails = paginate(cloudtrail, "list_trails", "Trails")
    for trail in trails:
        if trail.get("Name") == trail_name:
            return trail.get("HomeRegion")
    return None


def converge_organization_trail(cloudtrail, s3, sts_account_id, organization_id, region, trail_name, bucket_name, tags, check_mode,
                                s3_once=None, warn=None, kms_key=None):
    """An organization trail (all regions, log file validation, logging) in
    ``region``, delivering to ``bucket_name`` (the collection's bucket helper, s3_bucket): encrypted, public access blocked,
    BucketOwnerEnforced, TLS-only and the policy CloudTrail needs.

    ``sts_account_id`` is the management account (the caller's, from
    GetCallerIdentity); ``cloudtrail`` and ``s3`` are clients for ``region``, the
    trail's home region.  A trail of that name whose home is another region raises
    ``TrailElsewhere`` before any write.
    ``tags`` (a dict, may be empty or None) are added to the bucket and the trail;
    other tags are kept. The bucket also carries ``mlops.platform/managed=true``, its
    ownership tag: a bucket of that name without it is refused (``AWSResourceError``).
    ``s3_once`` is an S3 client that does not retry by itself, for CreateBucket
    (``create_once``); ``warn`` reports a bucket adopted as an interrupted run's.
    ``kms_key`` is the trail's customer managed key (a ``kms_key.ComponentKey`` whose policy
    holds :func:`trail_key_statements`), converged once the home region is checked: the
    bucket's default encryption is then SSE-KMS with it and S3 Bucket Keys, and the trail
    encrypts its log files with it (``KmsKeyId``); a bucket and trail on SSE-S3 are moved to
    it. Without it the bucket is SSE-S3.

    The bucket is converged before the trail, since CreateTrail/UpdateTrail refuse a
    bucket whose policy does not let CloudTrail write.  An organization trail also
    needs trusted access for cloudtrail.amazonaws.com
    (``converge_trusted_service_access``), or CloudTrail answers
    CloudTrailAccessNotEnabledException.
    """
    home_region = _trail_home_region(cloudtrail, trail_name)
    if home_region not in (None, region):
        # Before anything is written: a bucket policy naming a trail ARN in this region
        # would cut the existing trail off from its bucket.
        raise TrailElsewhere(trail_name, home_region, region)
    current_trail = _read_trail(cloudtrail, region, trail_name, with_tags=bool(tags)) if home_region else None
    arn = current_trail["arn"] if current_trail else organization_trail_arn(region, sts_account_id, trail_name)
    required_policy = trail_bucket_policy(bucket_name, sts_account_id, organization_id, arn)
    before, after, key_changed, kms_key_arn = {}, {}, False, None
    if kms_key is not None:
        key_changed, before["key"], after["key"] = kms_key.ensure()
        kms_key_arn = after["key"]["arn"]

    bucket_changed, bucket_before, bucket_after = _converge_bucket(
        s3, bucket_name, region, required_policy, dict(tags or {}, **TRAIL_BUCKET_OWNERSHIP), check_mode, s3_once, warn,
        kms_key_arn)
    trail_changed, trail_after = _converge_trail(cloudtrail, arn, trail_name, bucket_name, tags, current_trail, check_mode,
                                                 kms_key_arn)
    before.update(bucket=bucket_before, trail=current_trail)
    after.update(bucket=bucket_after, trail=trail_after)
    return key_changed or bucket_changed or trail_changed, before, after


# ---------------------------------------- the security services of the organization baseline

# Services whose organization-wide administration is delegated to the security account.
DELEGATED_SERVICES = [
    "securityhub.amazonaws.com",
    "guardduty.amazonaws.com",
    "config.amazonaws.com",
    "config-multiaccountsetup.amazonaws.com",
]
TRAIL_NAME = "mlops-organization-trail"

# What a new account's services answer for a while after CreateAccount, while AWS activates
# them (the environment's account is waited for by account_info, see site.yml).
NEW_ACCOUNT_ERRORS = ["OptInRequired", "SubscriptionRequiredException"]

# Only for the calls that wait on a change made moments before.
_ADMIN_RETRY = settling_retry(*ADMIN_PROPAGATION_ERRORS)
_TRAIL_RETRY = settling_retry(*TRAIL_PROPAGATION_ERRORS)
# The first read of each service in a security account this run created (or found in flight).
_NEW_ACCOUNT_RETRY = settling_retry(*NEW_ACCOUNT_ERRORS)


def trail_bucket_name(management_account_id):
    """The organization trail's log bucket: one per organization, unique through the account id."""
    return "mlops-organization-trail-%s" % management_account_id


class SecurityServices:
    """The security services of the live organization (``organization_resources.Organization``),
    converged from the management account with the functions above: the security account's
    delegated administrations and designations, Security Hub's and GuardDuty's organization
    configuration in that account, the organization trail with its bucket and key.
    ``before``/``after`` hold each part's diff, by part."""

    def __init__(self, live):
        self.live = live
        self.module = live.module
        self.config = live.config
        self.check_mode = live.check_mode
        self.before = {}
        self.after = {}

    def ensure(self):
        """Delegated administrators for the security services, their organization configuration;
        the organization trail, its bucket and its key. True when something changed."""
        live = self.live
        changed = False
        unknown = live.organization["Id"] == UNKNOWN
        security = self.config["security_account"]
        if security:
            account_id = live.accounts[self.config["accounts"][security]["email"].lower()]["Id"]
            regions = self.regions()
            if unknown or account_id == UNKNOWN:
                changed = True  # nothing to read yet: everything will be created
                self.after["delegated_administrators"] = {"account_id": account_id,
                                                          "delegated_services": sorted(DELEGATED_SERVICES)}
                self.after["regional_administrators"] = {
                    service: {region: account_id for region in regions}
                    for service in sorted(REGIONAL_ADMIN_SERVICES)}
                changed |= self.ensure_organization_configurations(None, {})
            else:
                clients = {(service, region): self.module.client(service, retry_decorator=_ADMIN_RETRY, region=region)
                           for service in REGIONAL_ADMIN_SERVICES for region in regions}
                try:  # every region is read before anything is registered or designated
                    designated = read_regional_administrators(clients, account_id)
                except AdministratorConflict as exc:
                    raise config_error("security_account", str(exc))
                changed |= self.record("delegated_administrators", *converge_delegated_administrators(
                    live.client, account_id, DELEGATED_SERVICES, self.check_mode))
                changed |= self.record("regional_administrators", *converge_regional_administrators(
                    clients, account_id, self.check_mode, designated))
                changed |= self.ensure_organization_configurations(account_id, designated,
                                                                   new=security in live.new_accounts)
        if self.config["organization_trail"]:
            management = live.organization["MasterAccountId"]
            if unknown:
                self.after["organization_trail"] = {"trail": TRAIL_NAME}
                return True
            changed |= self.record("trusted_service_access", *converge_trusted_service_access(
                live.client, [CLOUDTRAIL_PRINCIPAL], self.check_mode))
            region = self.trail_region()
            try:
                trail = converge_organization_trail(
                    self.module.client("cloudtrail", retry_decorator=_TRAIL_RETRY, region=region),
                    self.module.client("s3", retry_decorator=live.retry, region=region),
                    management, live.organization["Id"], region, TRAIL_NAME,
                    trail_bucket_name(management), live.tags, self.check_mode,
                    s3_once=self.module.once_client("s3", region),
                    warn=self.module.warn,
                    kms_key=trail_key(self.module, region, management, TRAIL_NAME, live.tags))
            except TrailElsewhere as exc:
                raise config_error("trail_region", str(exc))
            changed |= self.record("organization_trail", *trail)
        return changed

    def ensure_organization_configurations(self, account_id, designated, new=False):
        """Security Hub's and GuardDuty's organization configuration, made where the services
        require it: in the security account ``account_id`` (through its access role), in each
        region, once the account is the administrator there. ``designated`` is what
        read_regional_administrators found before this run's designations; a region the
        account administers only from this run on is read with the settling retry. Without an
        account (None) or its designation (in check mode), the configuration is planned, not read.
        In a ``new`` account (made by this run, or found in flight), each service's read is retried
        on ``NEW_ACCOUNT_ERRORS`` as long as the settling retry lasts; then the run stops with the
        account's path. An account that existed before the run is not waited for."""
        settings = self.config["security_services"]
        role_arn = None if account_id is None else org.account_role_arn(
            account_id, self.module.params["access_role_name"], self.live.partition())
        changed, before, after = False, {}, {}
        for region in self.regions():
            for service, read, converge in ORGANIZATION_CONFIGURATIONS:
                try:
                    one_changed, one_before, one_after = self._configure(
                        service, region, read, converge, settings, account_id, role_arn, designated, new)
                except is_boto3_error_code(NEW_ACCOUNT_ERRORS) as exc:
                    if not new:
                        raise
                    raise config_error("accounts.%s" % self.config["security_account"], (
                        "the new account %s still answered %s from %s in %s after about two minutes, while AWS "
                        "activates its services; re-run once they answer" % (
                            account_id, exc.response["Error"]["Code"], service, region)))
                changed |= one_changed
                before.setdefault(service, {})[region] = one_before
                after.setdefault(service, {})[region] = one_after
        return self.record("organization_configuration", changed, before, after)

    def _configure(self, service, region, read, converge, settings, account_id, role_arn, designated, new):
        """One service's organization configuration in one region: (changed, before, after)."""
        client = once = current = None
        if account_id is not None and (designated.get((service, region)) or not self.check_mode):
            retry = self.live.retry if designated.get((service, region)) else _ADMIN_RETRY
            try:
                client = self.module.role_client(role_arn, service, retry_decorator=retry, region=region)
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
                raise config_error("security_account", "could not enter the security account through %s: %s"
                                   % (role_arn, exc))
            # The read as a whole is retried on what a new account's services answer until AWS has
            # activated them; its calls keep their own retries (the reads page through theirs).
            current = (_NEW_ACCOUNT_RETRY(read) if new else read)(client)
            once = functools.partial(self.module.role_client, role_arn, service, once=True, region=region)
        try:
            return converge(client, once, settings, self.live.tags, self.check_mode or client is None, current)
        except CentralConfiguration as exc:
            raise config_error("security_services.auto_enable", "%s in %s: %s" % (service, region, exc))

    def trail_region(self):
        """The organization trail's home region: configured, else the first allowed region,
        else the run's region."""
        return self.config["trail_region"] or (self.config["allowed_regions"] or [self.module.region])[0]

    def regions(self):
        """Where Security Hub and GuardDuty get their administrator: the regions the
        organization allows, or the run's region when it sets no allow-list."""
        return self.config["allowed_regions"] or [self.module.region]

    def record(self, key, changed, before, after):
        """Keeps a security service's before and after for the diff; returns its ``changed``."""
        self.before[key] = before
        self.after[key] = after
        return changed
