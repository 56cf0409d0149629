#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: data_lake
short_description: Converge an environment's S3 data lake - KMS key, zone buckets, log bucket, replication
version_added: 0.1.0
description:
  - Converges, in the environment's account, the S3 data lake of one environment. One bucket
    with a prefix per zone, or one bucket per zone (C(config.layout)); each lake bucket is
    encrypted with SSE-KMS under the lake's customer managed key with S3 Bucket Keys, versioned,
    public access blocked, C(BucketOwnerEnforced), TLS-only, refuses uploads that ask for other
    encryption than the lake's key, has a lifecycle rule per zone and one aborting incomplete
    multipart uploads, and writes S3 server access logs to the lake's log bucket.
  - Bucket names are C(<name_prefix>-lake[-<zone>]-<account id>), the account being the one the
    module acts in (after O(assume_role)). The KMS key is found by its alias
    C(alias/<name_prefix>-data-lake), created with automatic rotation when missing.
  - The log bucket C(<name_prefix>-lake-logs-<account id>) is SSE-S3 encrypted (S3 server access
    logging cannot deliver to an SSE-KMS bucket), versioned, public access blocked,
    C(BucketOwnerEnforced) and TLS-only. Its policy lets S3 server access logging write under
    C(s3-access/<bucket>/) for each lake bucket, and VPC flow logs write under C(vpc-flow-logs/)
    (RV(flow_logs_destination_arn), used by the network component).
  - In a shared bucket, each zone's prefix is made to exist with a zero-byte C(<zone>/) object,
    written only when nothing is under the prefix yet.
  - With C(config.replication.enabled), each lake bucket is replicated to a bucket of the same
    name with the suffix C(-replica) in C(config.replication.destination_region), encrypted with a
    KMS key of the same alias there, through an IAM role C(<name_prefix>-data-lake-replication)
    with a least-privilege inline policy. Delete markers are not replicated. A role of that name
    that this component does not own (by its ownership tags) is refused, not taken over.
  - Reads every resource kind once, computes the difference and calls only what differs; a run
    that finds everything in place makes read calls only. Check mode predicts every creation
    without failing on an empty account.
  - Existing objects are never deleted, read or rewritten; buckets and KMS keys are never
    deleted. Policy statements, lifecycle rules and tags that this module did not write are kept.
  - A bucket of a name the lake needs that does not carry this component's ownership tags
    (C(mlops.platform/managed=true), C(mlops.platform/environment), C(mlops.platform/component=data_lake))
    is refused before any write with the path C(name_prefix), and never changed; tag it to hand it
    over. A bucket with no tag and no policy at all (left by a run stopped right after
    C(CreateBucket) where S3 drops the tags given to it) is finished, with a warning.
author:
  - mlops.platform contributors (@mlops-platform)
options:
  config:
    description:
      - The C(config) of the C(data_lake) component, as in
        C(mlops_config.mlops_infrastructure.data_lake.config). Keys, defaults and allowed values
        are those of docs/configuration.md; they are merged over the defaults and validated
        before any AWS call, every problem reported with its dotted path.
      - C(config.kms_key_deletion_window_days) is not used by a converge; it is the waiting
        period a teardown schedules the key's deletion with.
    type: dict
    default: {}
  flow_logs_retention_days:
    description:
      - Days the VPC flow logs delivered under C(vpc-flow-logs/) of the log bucket are kept (the
        network component's C(flow_logs.retention_days) with C(destination=s3)), enforced by the
        lifecycle rule C(mlops-vpc-flow-logs-retention). Omitted, the log bucket's lifecycle is not managed.
    type: int
extends_documentation_fragment:
  - mlops.platform.component
  - mlops.platform.assume_role
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - The bucket policy denies C(s3:PutObject) only when the request names another encryption than
    C(aws:kms), or another KMS key than the lake's. Uploads without encryption headers are
    allowed and encrypted by the bucket's default encryption with the lake's key.
  - The replication configuration of a lake bucket is owned entirely by this module while
    replication is enabled. When it is disabled, a replication configuration with only this
    module's rules is removed and the replication role is deleted; replica buckets and the replica
    KMS key are kept, as the data is.
  - Buckets removed from the configuration (a zone dropped with C(bucket_per_zone)) are kept with
    their data and reported in RV(retained_buckets).
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
"""

EXAMPLES = r"""
- name: Converge the data lake in the environment's account
  mlops.platform.data_lake:
    config: "{{ mlops_config.mlops_infrastructure.data_lake.config }}"
    environment: "{{ mlops_config.mlops_environment.name }}"
    name_prefix: "{{ mlops_config.mlops_environment.name_prefix or ('mlops-' ~ mlops_config.mlops_environment.name) }}"
    tags: "{{ mlops_config.mlops_environment.tags }}"
    assume_role: "{{ mlops_environment_access | default(omit) }}"

- name: One bucket per zone, replicated to another region
  mlops.platform.data_lake:
    environment: prod
    name_prefix: mlops-prod
    region: eu-west-1
    config:
      layout: bucket_per_zone
      lifecycle:
        raw:
          transitions:
            - {days: 30, storage_class: STANDARD_IA}
            - {days: 180, storage_class: GLACIER}
          noncurrent_version_expiration_days: 90
      replication:
        enabled: true
        destination_region: eu-central-1
"""

RETURN = r"""
account_id:
  description: The account the lake lives in (the assumed role's).
  returned: always
  type: str
  sample: "111111111111"
buckets:
  description: Where each zone's data lives, C({name, arn, prefix}) by zone; C(prefix) is C(<zone>/) in a shared bucket, empty otherwise.
  returned: always
  type: dict
  sample: {"raw": {"name": "mlops-dev-lake-111111111111", "arn": "arn:aws:s3:::mlops-dev-lake-111111111111", "prefix": "raw/"}}
bucket_names:
  description: The lake buckets' names.
  returned: always
  type: list
  elements: str
  sample: ["mlops-dev-lake-111111111111"]
kms_key_arn:
  description: ARN of the lake's KMS key; C((known after apply)) in check mode before it exists.
  returned: always
  type: str
  sample: arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab
kms_alias:
  description: Alias of the lake's KMS key.
  returned: always
  type: str
  sample: alias/mlops-dev-data-lake
log_bucket:
  description: Name of the log bucket (S3 server access logs, VPC flow logs).
  returned: always
  type: str
  sample: mlops-dev-lake-logs-111111111111
flow_logs_destination_arn:
  description: The S3 destination for VPC flow logs, a prefix of the log bucket whose policy lets flow logs write there.
  returned: always
  type: str
  sample: arn:aws:s3:::mlops-dev-lake-logs-111111111111/vpc-flow-logs/
replication:
  description: The replication set-up, or null when replication is disabled.
  returned: always
  type: dict
  sample:
    destination_region: eu-central-1
    role_arn: arn:aws:iam::111111111111:role/mlops-dev-data-lake-replication
    kms_key_arn: arn:aws:kms:eu-central-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab
    buckets: {"mlops-dev-lake-111111111111": "mlops-dev-lake-111111111111-replica"}
retained_buckets:
  description: Lake buckets of this environment that the configuration no longer names; kept with their data, not changed.
  returned: always
  type: list
  elements: str
  sample: []
api_calls:
  description: The AWS API calls this run made, by operation, with the number of writes among them.
  returned: always
  type: dict
  sample: {"total": 25, "writes": 0, "by_operation": {"GetBucketPolicy": 2, "ListBuckets": 1}}
ansible_facts:
  description: The outputs under C(mlops_data_lake), for the roles that follow.
  returned: always
  type: dict
  contains:
    mlops_data_lake:
      description: RV(buckets), RV(bucket_names), RV(kms_key_arn), RV(kms_alias), RV(log_bucket),
        RV(flow_logs_destination_arn), RV(replication), RV(account_id).
      type: dict
      returned: always
"""

try:
    import botocore
except ImportError:
    pass  # handled by MlopsAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.mlops.platform.plugins.module_utils import data_lake as lake
from ansible_collections.mlops.platform.plugins.module_utils.aws import AWS_RETRY, AWSResourceError, MlopsAWSModule
from ansible_collections.mlops.platform.plugins.module_utils.aws import caller_identity, paginate
from ansible_collections.mlops.platform.plugins.module_utils.component import (
    component_argument_spec,
    managed_tags,
    validate_config,
)
from ansible_collections.mlops.platform.plugins.module_utils.config_schema import DATA_LAKE
from ansible_collections.mlops.platform.plugins.module_utils.iam_role import ComponentRoles, RoleNotOwnedError
from ansible_collections.mlops.platform.plugins.module_utils.kms_key import ComponentKey
from ansible_collections.mlops.platform.plugins.module_utils import s3_bucket

UNKNOWN = lake.UNKNOWN

# A role that was just created is not yet visible to S3 everywhere: PutBucketReplication
# answers InvalidRequest ("Role ... is not valid") for a few seconds after CreateRole.
REPLICATION_RETRY = AWSRetry.jittered_backoff(retries=10, delay=2, max_delay=30,
                                              catch_extra_error_codes=["InvalidRequest"])


class DataLake:
    """Reads the lake once and converges it toward the configuration."""

    def __init__(self, module, config):
        self.module = module
        self.config = config
        self.check_mode = module.check_mode
        self.prefix = module.params["name_prefix"]
        self.environment = module.params["environment"]
        self.tags = managed_tags(self.environment, lake.COMPONENT, module.params["tags"])
        self.ownership = managed_tags(self.environment, lake.COMPONENT)
        self.region = module.region
        self.replication = config["replication"]
        self._clients = {}
        self.before = {}
        self.after = {}
        self.account_id = None
        self.partition = None
        self.existing = {}   # bucket name -> region (None when S3 did not say)
        self.owned = {}      # bucket name -> the settings its ownership check read
        self.keys = {}       # region -> key ARN
        self.role_arn = None
        self.role_created = False
        # What the configuration names, from the account (see read).
        self.buckets = []    # lake.lake_buckets
        self.names = []      # their names
        self.log_bucket = None
        self.pairs = []      # (lake bucket, its replica)

    # -- plumbing ----------------------------------------------------------------------------

    def client(self, service, region=None, retry=AWS_RETRY):
        region = region or self.region
        cache_key = (service, region, retry)
        if cache_key not in self._clients:
            client = self.module.client(service, retry_decorator=retry, region=region)
            self._clients[cache_key] = client
        return self._clients[cache_key]

    def record(self, section, name, before, after, changed):
        """Keep one resource's before and after for the diff; return its ``changed``."""
        self.before.setdefault(section, {})
        self.after.setdefault(section, {})
        if name is None:
            self.before[section] = before
            self.after[section] = after
        else:
            self.before[section][name] = before
            self.after[section][name] = after
        return changed

    # -- reading -----------------------------------------------------------------------------

    def read(self):
        """The account, the buckets of the prefix, and the ownership of every bucket the lake
        needs, all before any write."""
        self.read_account()
        self.read_buckets()
        self.buckets = lake.lake_buckets(self.config, self.prefix, self.account_id)
        self.names = [bucket["name"] for bucket in self.buckets]
        self.log_bucket = lake.log_bucket_name(self.prefix, self.account_id)
        self.pairs = [(name, lake.replica_bucket_name(name)) for name in self.names]
        destination = self.replication["destination_region"]
        self.check_ownership([(name, self.region) for name in [self.log_bucket] + self.names] + (
            [(replica, destination) for unused, replica in self.pairs] if self.replication["enabled"] else []))

    def read_account(self):
        identity = caller_identity(self.module)
        self.account_id = identity["account_id"]
        self.partition = identity["partition"]

    def read_buckets(self):
        """Every bucket of the account whose name starts with the prefix: one paginated ListBuckets."""
        buckets = paginate(self.client("s3"), "list_buckets", "Buckets", Prefix=self.prefix)
        self.existing = {bucket["Name"]: bucket.get("BucketRegion") for bucket in buckets}

    def check_ownership(self, wanted):
        """Every existing bucket of ``wanted`` (``[(name, region)]``) is this lake's, checked
        before anything is written; what was read for it is kept for the converge's read."""
        for name, region in wanted:
            if name in self.existing and self.existing[name] in (None, region):
                self.owned[name] = s3_bucket.read_ownership(
                    self.client("s3", region), name, self.ownership, "name_prefix",
                    "the %s of environment %s" % (lake.COMPONENT, self.environment), self.module.warn)

    # -- KMS ---------------------------------------------------------------------------------

    def ensure_key(self, region, section):
        """The lake's key in ``region`` (the shared KMS key helper), recorded under ``section``."""
        key = ComponentKey(self.module, lake.kms_alias(self.prefix), self.environment, lake.COMPONENT, self.tags,
                           "mlops.platform data lake of %s (%s)" % (self.environment, self.prefix),
                           "config", region=region)
        changed, before, after = key.ensure()
        self.keys[region] = after["arn"]
        return self.record(section, None, before, after, changed)

    # -- buckets -----------------------------------------------------------------------------

    def read_bucket(self, s3, name, spec):
        """The live settings of an existing bucket (found ours by check_ownership) that ``spec`` manages."""
        state = s3_bucket.read_bucket(s3, name, versioning=True, known=self.owned.get(name))
        if spec["lifecycle"] is not None:
            try:
                state["lifecycle"] = s3.get_bucket_lifecycle_configuration(Bucket=name, aws_retry=True)["Rules"]
            except is_boto3_error_code("NoSuchLifecycleConfiguration"):
                state["lifecycle"] = []
        if spec["logging"] is not None:
            enabled = s3.get_bucket_logging(Bucket=name, aws_retry=True).get("LoggingEnabled")
            state["logging"] = {"target_bucket": enabled["TargetBucket"], "target_prefix": enabled.get("TargetPrefix", "")} \
                if enabled else None
        if spec["replication"] is not None:
            try:
                state["replication"] = s3.get_bucket_replication(Bucket=name, aws_retry=True)["ReplicationConfiguration"]
            except is_boto3_error_code("ReplicationConfigurationNotFoundError"):
                state["replication"] = None
        if spec["prefixes"]:
            state["prefixes"] = set(entry["Prefix"] for entry in paginate(
                s3, "list_objects_v2", "CommonPrefixes", Bucket=name, Delimiter="/", MaxKeys=1000))
        return state

    def desired_versioning(self, spec, current):
        """``Enabled`` when wanted; ``Suspended`` only to turn off versioning this lake had on."""
        if spec["versioning"]:
            return "Enabled"
        return "Suspended" if current and current["versioning"] == "Enabled" else (current or {}).get("versioning", "Disabled")

    def converge_bucket(self, section, name, region, spec):
        """Create or correct one bucket; record its diff, return its ``changed``. ``spec`` is what
        this module manages:

        versioning (bool), encryption (state), statements (policy statements), lifecycle
        (rules or None), logging (dict, False to remove ours, None unmanaged), replication
        (configuration, False to remove ours, None unmanaged), prefixes (list or None).
        """
        s3 = self.client("s3", region)
        exists = name in self.existing
        if exists and self.existing[name] not in (None, region):
            raise AWSResourceError("name_prefix", "the bucket %s exists in %s, not in %s where this lake keeps it; move its "
                                   "data and delete it, or change the region" % (name, self.existing[name], region))
        current = self.read_bucket(s3, name, spec) if exists else None
        desired, writes = s3_bucket.plan_bucket(current, spec["encryption"], spec["statements"], lake.is_our_statement,
                                                self.tags, self.desired_versioning(spec, current))
        lifecycle = None
        if spec["lifecycle"] is not None:
            lifecycle = lake.merged_lifecycle((current or {}).get("lifecycle"), spec["lifecycle"])
            if current is None or lake.lifecycle_differs(current["lifecycle"], spec["lifecycle"]):
                writes.append("lifecycle")
        logging = spec["logging"]
        if logging:
            if current is None or current["logging"] != logging:
                writes.append("logging")
        elif logging is False and current and current["logging"] and \
                current["logging"]["target_bucket"] == spec["log_bucket"]:
            writes.append("logging")
        replication = spec["replication"]
        if replication:
            if current is None or lake.normalize_replication(current["replication"]) != lake.normalize_replication(replication):
                writes.append("replication")
        elif replication is False and current and lake.is_our_replication(current["replication"]):
            writes.append("replication")
        missing_prefixes = [prefix for prefix in spec["prefixes"] or [] if prefix not in (current or {}).get("prefixes", set())]
        if missing_prefixes:
            writes.append("prefixes")

        changed = current is None or bool(writes)
        if changed and not self.check_mode:
            self.apply_bucket(s3, name, region, current, writes, dict(
                desired, lifecycle=lifecycle, logging=logging, replication=replication, prefixes=missing_prefixes))
        return self.record(section, name, lake.bucket_view(current, spec, region, self.tags), lake.bucket_view(dict(
            desired, lifecycle=lifecycle, logging=logging or None, replication=replication or None,
            prefixes=set((current or {}).get("prefixes", set())) | set(missing_prefixes)), spec, region, self.tags), changed)

    def apply_bucket(self, s3, name, region, current, writes, values):
        if current is None:
            s3_bucket.create_bucket(s3, self.module.once_client("s3", region), name, region, self.tags, "name_prefix")
        s3_bucket.write_settings(s3, name, writes, values)
        if "lifecycle" in writes:
            s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": values["lifecycle"]},
                                                  aws_retry=True)
        if "logging" in writes:
            status = {}
            if values["logging"]:
                status = {"LoggingEnabled": {"TargetBucket": values["logging"]["target_bucket"],
                                             "TargetPrefix": values["logging"]["target_prefix"]}}
            s3.put_bucket_logging(Bucket=name, BucketLoggingStatus=status, aws_retry=True)
        if "replication" in writes:
            if values["replication"]:
                client = self.client("s3", region, REPLICATION_RETRY) if self.role_created else s3
                client.put_bucket_replication(Bucket=name, ReplicationConfiguration=values["replication"], aws_retry=True)
            else:
                s3.delete_bucket_replication(Bucket=name, aws_retry=True)
        for prefix in values["prefixes"]:
            s3.put_object(Bucket=name, Key=prefix, Body=b"", aws_retry=True)

    # -- replication ---------------------------------------------------------------------------

    def ensure_replica(self):
        """With replication enabled: the key and the replica buckets in the destination region,
        then the role S3 replicates through. True when any changed."""
        if not self.replication["enabled"]:
            return False
        destination = self.replication["destination_region"]
        changed = self.ensure_key(destination, "replica_kms_key")
        for unused, replica in self.pairs:
            changed |= self.converge_bucket("replica_buckets", replica, destination, {
                "versioning": True, "encryption": s3_bucket.kms_encryption(self.keys[destination]),
                "statements": lake.lake_bucket_statements(self.partition, replica, self.keys[destination]),
                "lifecycle": None, "logging": None, "replication": None, "prefixes": None,
            })
        changed |= self.ensure_replication_role()
        return changed

    def replication_roles(self):
        return ComponentRoles(self.client("iam"), self.environment, lake.COMPONENT, self.check_mode,
                              iam_once=self.module.once_client("iam"))

    def ensure_replication_role(self):
        """The replication role, while replication is enabled."""
        destination = self.replication["destination_region"]
        try:
            changed, before, after, self.role_arn = self.replication_roles().ensure(
                lake.replication_role_name(self.prefix), lake.replication_trust_policy(self.account_id),
                {lake.REPLICATION_POLICY_NAME: lake.replication_role_policy(
                    self.partition, self.region, destination, self.pairs, self.keys[self.region],
                    self.keys[destination])},
                tags=self.tags, description="S3 replication of the %s data lake" % self.environment)
        except RoleNotOwnedError as exc:
            raise AWSResourceError("config.replication.enabled", str(exc))
        # S3 may not see a role created in this run yet (see REPLICATION_RETRY).
        self.role_created = before is None and not self.check_mode
        return self.record("replication_role", None, before, after, changed)

    def ensure_replication_removed(self):
        """With replication disabled, our replication role is deleted, after the lake buckets
        stopped using it (ensure_lake_buckets). True when it was there."""
        if self.replication["enabled"]:
            return False
        changed, before, after = self.replication_roles().remove(lake.replication_role_name(self.prefix))
        if changed:
            self.record("replication_role", None, before, after, changed)
        return changed

    # -- the run ---------------------------------------------------------------------------------

    def ensure_log_bucket(self):
        """The bucket of the lake buckets' access logs and of the VPC flow logs."""
        sources = self.names if self.config["access_logging"] else []
        return self.converge_bucket("log_bucket", self.log_bucket, self.region, {
            "versioning": True, "encryption": s3_bucket.s3_encryption(),
            "statements": lake.log_bucket_statements(self.partition, self.account_id, self.region, self.log_bucket,
                                                     sources),
            "lifecycle": lake.flow_log_lifecycle(self.module.params["flow_logs_retention_days"]),
            "logging": None, "replication": None, "prefixes": None,
        })

    def ensure_lake_buckets(self):
        """Every lake bucket, replicated when replication is enabled (after ensure_replica)."""
        key_arn = self.keys[self.region]
        destination = self.replication["destination_region"]
        changed = False
        for bucket in self.buckets:
            replication = False
            if self.replication["enabled"]:
                replication = lake.replication_configuration(
                    self.role_arn, lake.bucket_arn(self.partition, lake.replica_bucket_name(bucket["name"])),
                    self.keys[destination], destination)
            changed |= self.converge_bucket("buckets", bucket["name"], self.region, {
                "versioning": self.config["versioning"], "encryption": s3_bucket.kms_encryption(key_arn),
                "statements": lake.lake_bucket_statements(self.partition, bucket["name"], key_arn),
                "lifecycle": lake.lifecycle_rules(self.config, bucket),
                "logging": lake.access_logging(self.log_bucket, bucket["name"]) if self.config["access_logging"]
                else False,
                "log_bucket": self.log_bucket, "replication": replication, "prefixes": bucket["prefixes"],
            })
        return changed

    def outputs(self):
        """The module's outputs, and the lake buckets it no longer names."""
        replication = None
        if self.replication["enabled"]:
            replication = {
                "destination_region": self.replication["destination_region"],
                "role_arn": self.role_arn,
                "kms_key_arn": self.keys[self.replication["destination_region"]],
                "buckets": dict(self.pairs),
            }
        # Lake buckets of this prefix and account the configuration no longer names (a zone
        # dropped, the layout changed): kept with their data, reported only.
        known = set(self.names) | set([self.log_bucket])
        retained = sorted(name for name in self.existing
                          if name.startswith(self.prefix + "-lake") and name.endswith("-" + self.account_id)
                          and name not in known)
        return {
            "account_id": self.account_id,
            "buckets": lake.zone_outputs(self.config, self.prefix, self.account_id, self.partition),
            "bucket_names": self.names,
            "kms_key_arn": self.keys[self.region],
            "kms_alias": lake.kms_alias(self.prefix),
            "log_bucket": self.log_bucket,
            "flow_logs_destination_arn": "%s/%s" % (lake.bucket_arn(self.partition, self.log_bucket),
                                                    lake.FLOW_LOGS_PREFIX),
            "replication": replication,
        }, retained


def main():
    module = MlopsAWSModule(argument_spec=component_argument_spec(
        flow_logs_retention_days=dict(type="int"),
    ), supports_check_mode=True)
    config = validate_config(module, DATA_LAKE, lambda config: lake.check_config(
        config, module.params["name_prefix"], module.region))

    data_lake = DataLake(module, config)
    try:
        data_lake.read()
        changed = data_lake.ensure_key(data_lake.region, "kms_key")
        changed |= data_lake.ensure_log_bucket()
        changed |= data_lake.ensure_replica()
        changed |= data_lake.ensure_lake_buckets()
        changed |= data_lake.ensure_replication_removed()
        outputs, retained = data_lake.outputs()
    except AWSResourceError as exc:
        module.fail_json(msg=str(exc))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        module.fail_json_aws(exc, msg="Could not converge the data lake")

    module.exit_json(changed=changed, diff={"before": data_lake.before, "after": data_lake.after},
                     retained_buckets=retained,
                     ansible_facts={"mlops_data_lake": outputs}, **outputs)


if __name__ == "__main__":
    main()
