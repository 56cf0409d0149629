# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The data lake's desired state, built from its configuration, and how it is compared.

Pure logic, no Ansible and no network: the ``data_lake`` module reads the live buckets,
KMS keys and replication role, then uses these functions to know what it wants and what
differs. Everything returned is plain JSON-able data.

Ownership inside shared documents (a bucket's policy, lifecycle and tags are each one
document that others may also write to):

* bucket policy statements whose ``Sid`` starts with ``MlopsDataLake`` are this
  component's; any other statement is kept as it is;
* lifecycle rules whose ``ID`` starts with ``mlops-`` are this component's; any other
  rule is kept as it is;
* tags are added or corrected, never removed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.mlops.platform.plugins.module_utils import config_schema as platform_config
from ansible_collections.mlops.platform.plugins.module_utils import naming
from ansible_collections.mlops.platform.plugins.module_utils.component import UNKNOWN  # noqa: F401 pylint: disable=unused-import
from ansible_collections.mlops.platform.plugins.module_utils.schema_engine import ConfigError
from ansible_collections.mlops.platform.plugins.module_utils.resource_policy import POLICY_VERSION, policy_statements
from ansible_collections.mlops.platform.plugins.module_utils.s3_bucket import SSE_KMS
from ansible_collections.mlops.platform.plugins.module_utils.s3_policy import PUBLIC_ACCESS_BLOCK, deny_insecure_transport

COMPONENT = "data_lake"
# Names are checked before the account id is known; only its length (12) matters.
ACCOUNT_ID_PLACEHOLDER = "123456789012"

LOG_ZONE = "logs"  # the log bucket's name part: lake_bucket_name(prefix, account, "logs")
ACCESS_LOG_PREFIX = "s3-access/"
FLOW_LOGS_PREFIX = "vpc-flow-logs/"
REPLICA_SUFFIX = "-replica"
REPLICATION_POLICY_NAME = "replication"

SID_PREFIX = "MlopsDataLake"
SID_DENY_INSECURE_TRANSPORT = SID_PREFIX + "DenyInsecureTransport"
SID_DENY_WRONG_ENCRYPTION = SID_PREFIX + "DenyWrongEncryptionHeader"
SID_DENY_WRONG_KMS_KEY = SID_PREFIX + "DenyWrongKmsKey"
SID_ACCESS_LOGS = SID_PREFIX + "ServerAccessLogs"
SID_FLOW_LOGS_WRITE = SID_PREFIX + "FlowLogsWrite"
SID_FLOW_LOGS_ACL_CHECK = SID_PREFIX + "FlowLogsAclCheck"

RULE_PREFIX = "mlops-"
RULE_ABORT_MULTIPART = RULE_PREFIX + "abort-incomplete-multipart-uploads"
RULE_FLOW_LOGS = RULE_PREFIX + "vpc-flow-logs-retention"


LOGGING_PRINCIPAL = "logging.s3.amazonaws.com"
LOG_DELIVERY_PRINCIPAL = "delivery.logs.amazonaws.com"


# ---------------------------------------------------------------- checks


def check_config(config, name_prefix, region):
    """Problems with a merged, schema-valid ``config`` that need more than the schema.

    The platform's own cross-component rules (lifecycle zones that are zones, a replication
    region that is set and not the environment's, bucket names within S3's limits) are run
    through ``config.validate`` so they are the same rules with the same messages; their
    paths are moved to this module's options. Then the rules only this module knows.
    """
    errors = platform_config.component_rule_errors(
        "mlops_infrastructure", "data_lake", config, {"name": "lake", "name_prefix": name_prefix, "region": region},
        environment_options={"mlops_environment.name_prefix": "name_prefix", "mlops_environment.name": "name_prefix",
                             "mlops_environment.region": "region"})

    if config["layout"] == "bucket_per_zone" and LOG_ZONE in config["zones"]:
        errors.append(ConfigError("config.zones[%d]" % config["zones"].index(LOG_ZONE),
                                  "is reserved: with layout bucket_per_zone the zone's bucket would be the log bucket",
                                  LOG_ZONE))
    replication = config["replication"]
    if replication["enabled"]:
        if not config["versioning"]:
            errors.append(ConfigError("config.replication.enabled",
                                      "is true, but S3 replication needs versioning: set config.versioning to true"))
        for name in bucket_names_for(config, name_prefix, ACCOUNT_ID_PLACEHOLDER):
            replica = replica_bucket_name(name)
            if len(replica) > 63:
                errors.append(ConfigError(
                    "config.replication.enabled",
                    "is true, but the replica bucket name %r would be %d characters long, the limit is 63; "
                    "shorten the name prefix" % (replica, len(replica))))
                break
    log_name = log_bucket_name(name_prefix, ACCOUNT_ID_PLACEHOLDER)
    if len(log_name) > 63:
        errors.append(ConfigError("name_prefix", "makes the log bucket name %r %d characters long, the limit is 63"
                                  % (log_name, len(log_name))))
    return errors


# ---------------------------------------------------------------- names and ARNs


def bucket_names_for(config, name_prefix, account_id):
    """The lake's bucket names, in zone order."""
    if config["layout"] == "single_bucket":
        return [naming.lake_bucket_name(name_prefix, account_id)]
    return [naming.lake_bucket_name(name_prefix, account_id, zone) for zone in config["zones"]]


def log_bucket_name(name_prefix, account_id):
    return naming.lake_bucket_name(name_prefix, account_id, LOG_ZONE)


def replica_bucket_name(name):
    return name + REPLICA_SUFFIX


def kms_alias(name_prefix):
    return "alias/%s-data-lake" % name_prefix


def replication_role_name(name_prefix):
    return naming.component_role_name(name_prefix, "data_lake_replication")


def bucket_arn(partition, name):
    return "arn:%s:s3:::%s" % (partition, name)


# ---------------------------------------------------------------- the lake's layout


def lake_buckets(config, name_prefix, account_id):
    """``[{name, zones, prefixes}]``: each lake bucket, the zones it holds and the prefixes it needs."""
    if config["layout"] == "single_bucket":
        return [{
            "name": naming.lake_bucket_name(name_prefix, account_id),
            "zones": list(config["zones"]),
            "prefixes": ["%s/" % zone for zone in config["zones"]],
        }]
    return [{"name": naming.lake_bucket_name(name_prefix, account_id, zone), "zones": [zone], "prefixes": []}
            for zone in config["zones"]]


def zone_outputs(config, name_prefix, account_id, partition):
    """``{zone: {name, arn, prefix}}``: where each zone's data lives."""
    zones = {}
    for bucket in lake_buckets(config, name_prefix, account_id):
        for zone in bucket["zones"]:
            prefix = "%s/" % zone if config["layout"] == "single_bucket" else ""
            zones[zone] = {"name": bucket["name"], "arn": bucket_arn(partition, bucket["name"]), "prefix": prefix}
    return zones


# ---------------------------------------------------------------- lifecycle


def lifecycle_rules(config, bucket):
    """This component's lifecycle rules for one lake bucket (see ``lake_buckets``).

    One rule per zone that has a lifecycle (its prefix in a shared bucket, the whole
    bucket otherwise) and one bucket-wide rule aborting incomplete multipart uploads.
    """
    rules = []
    shared = config["layout"] == "single_bucket"
    for zone in bucket["zones"]:
        lifecycle = config["lifecycle"].get(zone)
        if not lifecycle:
            continue
        rule = {"ID": RULE_PREFIX + "zone-" + zone, "Status": "Enabled",
                "Filter": {"Prefix": "%s/" % zone if shared else ""}}
        if lifecycle["transitions"]:
            rule["Transitions"] = [{"Days": transition["days"], "StorageClass": transition["storage_class"]}
                                   for transition in lifecycle["transitions"]]
        if lifecycle["noncurrent_version_expiration_days"]:
            rule["NoncurrentVersionExpiration"] = {"NoncurrentDays": lifecycle["noncurrent_version_expiration_days"]}
        if len(rule) > 3:
            rules.append(rule)
    rules.append({"ID": RULE_ABORT_MULTIPART, "Status": "Enabled", "Filter": {"Prefix": ""},
                  "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": config["abort_incomplete_multipart_upload_days"]}})
    return rules


def flow_log_lifecycle(retention_days):
    """The log bucket's rule that keeps VPC flow logs (``vpc-flow-logs/``) for the network's
    ``flow_logs.retention_days``; None leaves the log bucket's lifecycle unmanaged.

    The bucket is versioned, so an expiration alone would only hide the logs behind delete
    markers: the versions it makes noncurrent are removed a day later.
    """
    if not retention_days:
        return None
    return [{"ID": RULE_FLOW_LOGS, "Status": "Enabled", "Filter": {"Prefix": FLOW_LOGS_PREFIX},
             "Expiration": {"Days": retention_days}, "NoncurrentVersionExpiration": {"NoncurrentDays": 1}}]


def is_our_rule(rule):
    return str(rule.get("ID", "")).startswith(RULE_PREFIX)


def normalize_rule(rule):
    """A lifecycle rule reduced to what decides its effect, in one canonical form.

    S3 answers an empty prefix filter as ``{}``, ``{"Prefix": ""}`` or a top-level
    ``Prefix``; transitions may come back in any order.
    """
    result = {"ID": rule.get("ID"), "Status": rule.get("Status")}
    rule_filter = dict(rule.get("Filter") or {})
    if "Prefix" in rule and not rule_filter:
        rule_filter = {"Prefix": rule["Prefix"]}
    if rule_filter.get("Prefix") == "":
        del rule_filter["Prefix"]
    result["Filter"] = rule_filter
    if rule.get("Transitions"):
        result["Transitions"] = sorted(
            ({key: value for key, value in transition.items() if key in ("Days", "Date", "StorageClass")}
             for transition in rule["Transitions"]), key=lambda transition: (transition.get("Days", -1),
                                                                             str(transition.get("Date"))))
    for key in ("Expiration", "NoncurrentVersionExpiration", "NoncurrentVersionTransitions",
                "AbortIncompleteMultipartUpload"):
        if rule.get(key):
            result[key] = copy.deepcopy(rule[key])
    return result


def lifecycle_differs(current_rules, desired_rules):
    """True unless this component's rules among ``current_rules`` are exactly ``desired_rules`` (any order)."""
    ours = sorted((normalize_rule(rule) for rule in current_rules or [] if is_our_rule(rule)), key=lambda rule: rule["ID"])
    wanted = sorted((normalize_rule(rule) for rule in desired_rules), key=lambda rule: rule["ID"])
    return ours != wanted


def merged_lifecycle(current_rules, desired_rules):
    """The rules to put: others' rules as they are, then this component's."""
    return [rule for rule in current_rules or [] if not is_our_rule(rule)] + list(desired_rules)


# ---------------------------------------------------------------- bucket policies


def _deny_wrong_encryption(arn, kms_key_arn):
    """Deny an upload that asks for other encryption than the lake's KMS key.

    The header is optional: with SSE-KMS as the bucket's default encryption, an upload
    without it is encrypted with the bucket's key, and S3 clients (boto3, the AWS CLI,
    Spark's S3A, pyarrow) leave it out by default. So each statement denies only when
    the header is present (``Null: false``) and names something else (``StringNotEquals``);
    the two operators of one statement must both hold. The common
    ``StringNotEqualsIfExists`` form alone is wrong here: it is true when the header is
    absent too, so it would deny every upload that relies on the default encryption.
    """
    header = "s3:x-amz-server-side-encryption"
    key_header = "s3:x-amz-server-side-encryption-aws-kms-key-id"
    return [
        {
            "Sid": SID_DENY_WRONG_ENCRYPTION,
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": arn + "/*",
            "Condition": {"Null": {header: "false"}, "StringNotEquals": {header: SSE_KMS}},
        },
        {
            "Sid": SID_DENY_WRONG_KMS_KEY,
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": arn + "/*",
            "Condition": {"Null": {key_header: "false"}, "StringNotEquals": {key_header: kms_key_arn}},
        },
    ]


def lake_bucket_statements(partition, name, kms_key_arn):
    """This component's statements in a lake (or replica) bucket's policy."""
    arn = bucket_arn(partition, name)
    return [deny_insecure_transport(arn, SID_DENY_INSECURE_TRANSPORT)] + _deny_wrong_encryption(arn, kms_key_arn)


def _sid_suffix(text):
    """A bucket or zone name as letters and digits (policy Sids allow nothing else)."""
    return "".join(part[:1].upper() + part[1:] for part in text.replace(".", "-").split("-"))


def log_bucket_statements(partition, account_id, region, log_bucket, source_buckets):
    """This component's statements in the log bucket's policy.

    S3 server access logs of each source bucket under ``s3-access/<bucket>/`` (one
    statement per source, limited to that bucket and account), VPC flow logs under
    ``vpc-flow-logs/`` for the network component, and TLS only. The Allow statements
    come first (the stand-in reads them in order, see the docs).
    """
    arn = bucket_arn(partition, log_bucket)
    statements = []
    for source in source_buckets:
        statements.append({
            "Sid": SID_ACCESS_LOGS + _sid_suffix(source[:-13] if source.endswith("-" + account_id) else source),
            "Effect": "Allow",
            "Principal": {"Service": LOGGING_PRINCIPAL},
            "Action": "s3:PutObject",
            "Resource": "%s/%s%s/*" % (arn, ACCESS_LOG_PREFIX, source),
            "Condition": {"ArnLike": {"aws:SourceArn": bucket_arn(partition, source)},
                          "StringEquals": {"aws:SourceAccount": account_id}},
        })
    flow_logs_source = {"ArnLike": {"aws:SourceArn": "arn:%s:logs:%s:%s:*" % (partition, region, account_id)}}
    statements.append({
        "Sid": SID_FLOW_LOGS_WRITE,
        "Effect": "Allow",
        "Principal": {"Service": LOG_DELIVERY_PRINCIPAL},
        "Action": "s3:PutObject",
        "Resource": "%s/%sAWSLogs/%s/*" % (arn, FLOW_LOGS_PREFIX, account_id),
        "Condition": dict(flow_logs_source, StringEquals={"aws:SourceAccount": account_id,
                                                          "s3:x-amz-acl": "bucket-owner-full-control"}),
    })
    statements.append({
        "Sid": SID_FLOW_LOGS_ACL_CHECK,
        "Effect": "Allow",
        "Principal": {"Service": LOG_DELIVERY_PRINCIPAL},
        "Action": "s3:GetBucketAcl",
        "Resource": arn,
        "Condition": dict(flow_logs_source, StringEquals={"aws:SourceAccount": account_id}),
    })
    statements.append(deny_insecure_transport(arn, SID_DENY_INSECURE_TRANSPORT))
    return statements


def is_our_statement(statement):
    return str(statement.get("Sid", "")).startswith(SID_PREFIX)


def our_statements(policy):
    """``{Sid: statement}`` of this component's statements in a policy document (or None)."""
    return {statement["Sid"]: statement for statement in policy_statements(policy) if is_our_statement(statement)}


# ---------------------------------------------------------------- logging


def access_logging(log_bucket, source_bucket):
    return {"target_bucket": log_bucket, "target_prefix": "%s%s/" % (ACCESS_LOG_PREFIX, source_bucket)}


# ---------------------------------------------------------------- replication


def replication_rule_id(destination_region):
    return RULE_PREFIX + "replicate-to-" + destination_region


def replication_configuration(role_arn, destination_bucket_arn, destination_key_arn, destination_region):
    """The whole replication configuration of one lake bucket: everything, to its replica.

    KMS-encrypted objects are replicated only when asked for (SourceSelectionCriteria)
    and are re-encrypted with the replica region's key. Delete markers are not
    replicated, so a deletion in the lake never reaches the replica.
    """
    return {
        "Role": role_arn,
        "Rules": [{
            "ID": replication_rule_id(destination_region),
            "Priority": 0,
            "Status": "Enabled",
            "Filter": {"Prefix": ""},
            "DeleteMarkerReplication": {"Status": "Disabled"},
            "SourceSelectionCriteria": {"SseKmsEncryptedObjects": {"Status": "Enabled"}},
            "Destination": {
                "Bucket": destination_bucket_arn,
                "EncryptionConfiguration": {"ReplicaKmsKeyID": destination_key_arn},
            },
        }],
    }


def normalize_replication(configuration):
    """A replication configuration reduced to what this component sets, rules by ID."""
    if not configuration:
        return None
    rules = {}
    for rule in configuration.get("Rules") or []:
        rule_filter = dict(rule.get("Filter") or {})
        if "Prefix" in rule and not rule_filter:
            rule_filter = {"Prefix": rule["Prefix"]}
        if rule_filter.get("Prefix") == "":
            del rule_filter["Prefix"]
        destination = rule.get("Destination") or {}
        rules[rule.get("ID")] = {
            "priority": rule.get("Priority"),
            "status": rule.get("Status"),
            "filter": rule_filter,
            "delete_marker_replication": (rule.get("DeleteMarkerReplication") or {}).get("Status", "Disabled"),
            "sse_kms_encrypted_objects": ((rule.get("SourceSelectionCriteria") or {}).get("SseKmsEncryptedObjects")
                                          or {}).get("Status", "Disabled"),
            "destination_bucket": destination.get("Bucket"),
            "replica_kms_key_id": (destination.get("EncryptionConfiguration") or {}).get("ReplicaKmsKeyID"),
        }
    return {"role": configuration.get("Role"), "rules": rules}


def is_our_replication(configuration):
    """True when every rule of a replication configuration is this component's."""
    rules = (configuration or {}).get("Rules") or []
    return bool(rules) and all(is_our_rule(rule) for rule in rules)


def replication_trust_policy(account_id):
    return {
        "Version": POLICY_VERSION,
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        }],
    }


def replication_role_policy(partition, region, destination_region, pairs, source_key_arn, destination_key_arn):
    """Least privilege for S3 replication of ``pairs`` (``[(source name, replica name)]``).

    Read the replication configuration and the object versions of the sources, write
    replicas into the destinations, decrypt with the lake's key and encrypt with the
    replica's, each key only through S3 in its region and for those buckets (with S3
    Bucket Keys the encryption context is the bucket's ARN, without them the object's).
    """
    sources = [bucket_arn(partition, source) for source, unused in pairs]
    replicas = [bucket_arn(partition, replica) for unused, replica in pairs]
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {"Sid": "ReadReplicationConfiguration", "Effect": "Allow",
             "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"], "Resource": sources},
            {"Sid": "ReadSourceVersions", "Effect": "Allow",
             "Action": ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"],
             "Resource": [arn + "/*" for arn in sources]},
            {"Sid": "WriteReplicas", "Effect": "Allow",
             "Action": ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
             "Resource": [arn + "/*" for arn in replicas]},
            {"Sid": "DecryptSources", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": source_key_arn,
             "Condition": {"StringEquals": {"kms:ViaService": "s3.%s.amazonaws.com" % region},
                           "StringLike": {"kms:EncryptionContext:aws:s3:arn": sources + [arn + "/*" for arn in sources]}}},
            {"Sid": "EncryptReplicas", "Effect": "Allow", "Action": ["kms:Encrypt", "kms:GenerateDataKey"],
             "Resource": destination_key_arn,
             "Condition": {"StringEquals": {"kms:ViaService": "s3.%s.amazonaws.com" % destination_region},
                           "StringLike": {"kms:EncryptionContext:aws:s3:arn": replicas + [arn + "/*" for arn in replicas]}}},
        ],
    }


# ---------------------------------------------------------------- views


def bucket_view(state, spec, region, tags):
    """What a person compares between before and after for one bucket."""
    if state is None:
        return None
    view = {
        "region": region,
        "versioning": state["versioning"],
        "encryption": state["encryption"],
        "public_access_blocked": state["public_access_block"] == PUBLIC_ACCESS_BLOCK,
        "object_ownership": state["object_ownership"],
        "policy_statements": our_statements(state["policy"]),
        "tags": {key: value for key, value in (state.get("tags") or {}).items() if key in tags},
    }
    if spec["lifecycle"] is not None:
        view["lifecycle_rules"] = sorted((normalize_rule(rule) for rule in state["lifecycle"] or [] if is_our_rule(rule)),
                                         key=lambda rule: rule["ID"])
    if spec["logging"] is not None:
        view["access_logging"] = state["logging"]
    if spec["replication"] is not None:
        view["replication"] = normalize_replication(state["replication"])
    if spec["prefixes"]:
        view["prefixes"] = sorted(prefix for prefix in state.get("prefixes", set()) if prefix in spec["prefixes"])
    return view
