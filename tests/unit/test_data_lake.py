"""The data lake: desired state and diffing, and the module converging moto's S3, KMS and IAM."""

import copy
import json

import boto3
import pytest

from conftest import component_config, run_module, warnings, writes

from ansible_collections.mlops.platform.plugins.module_utils import data_lake as lake
from ansible_collections.mlops.platform.plugins.module_utils import resource_policy
from ansible_collections.mlops.platform.plugins.modules import data_lake as module_under_test

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's default account
PREFIX = "mlops-test"
LAKE = "mlops-test-lake-%s" % ACCOUNT
LOGS = "mlops-test-lake-logs-%s" % ACCOUNT
ZONES = ["raw", "processed", "features", "models", "artifacts"]


@pytest.fixture
def lake_aws(aws, stand_in_corrections):
    yield


def args(check_mode=False, assume_role=None, **config):
    result = {"config": config, "environment": "test", "name_prefix": PREFIX, "region": REGION,
              "tags": {"Project": "lake"}}
    if assume_role:
        result["assume_role"] = assume_role
    if check_mode:
        result["_ansible_check_mode"] = True
    return result


def config_with(**overrides):
    from ansible_collections.mlops.platform.plugins.module_utils.config_schema import DATA_LAKE
    return component_config(DATA_LAKE, **overrides)


def operations(calls):
    counts = {}
    for operation, unused in calls:
        counts[operation] = counts.get(operation, 0) + 1
    return counts


# --- pure logic -------------------------------------------------------------------------------

def test_single_bucket_holds_every_zone_under_its_prefix():
    config = config_with()
    (bucket,) = lake.lake_buckets(config, PREFIX, ACCOUNT)
    assert bucket == {"name": LAKE, "zones": ZONES, "prefixes": [zone + "/" for zone in ZONES]}
    zones = lake.zone_outputs(config, PREFIX, ACCOUNT, "aws")
    assert zones["raw"] == {"name": LAKE, "arn": "arn:aws:s3:::" + LAKE, "prefix": "raw/"}
    assert set(zones) == set(ZONES)


def test_bucket_per_zone_has_a_bucket_and_no_prefix_per_zone():
    config = config_with(layout="bucket_per_zone", zones=["raw", "models"])
    buckets = lake.lake_buckets(config, PREFIX, ACCOUNT)
    assert [bucket["name"] for bucket in buckets] == ["mlops-test-lake-raw-%s" % ACCOUNT, "mlops-test-lake-models-%s" % ACCOUNT]
    assert all(bucket["prefixes"] == [] for bucket in buckets)
    assert lake.zone_outputs(config, PREFIX, ACCOUNT, "aws-cn")["models"] == {
        "name": "mlops-test-lake-models-%s" % ACCOUNT, "arn": "arn:aws-cn:s3:::mlops-test-lake-models-%s" % ACCOUNT,
        "prefix": ""}


def test_lifecycle_rules_per_zone_prefix_plus_bucket_wide_multipart_abort():
    config = config_with(lifecycle={
        "raw": {"transitions": [{"days": 30, "storage_class": "STANDARD_IA"}, {"days": 90, "storage_class": "GLACIER"}],
                "noncurrent_version_expiration_days": 60},
        "models": {"noncurrent_version_expiration_days": 365}},
        abort_incomplete_multipart_upload_days=3)
    (bucket,) = lake.lake_buckets(config, PREFIX, ACCOUNT)
    rules = lake.lifecycle_rules(config, bucket)
    assert rules == [
        {"ID": "mlops-zone-raw", "Status": "Enabled", "Filter": {"Prefix": "raw/"},
         "Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"}, {"Days": 90, "StorageClass": "GLACIER"}],
         "NoncurrentVersionExpiration": {"NoncurrentDays": 60}},
        {"ID": "mlops-zone-models", "Status": "Enabled", "Filter": {"Prefix": "models/"},
         "NoncurrentVersionExpiration": {"NoncurrentDays": 365}},
        {"ID": "mlops-abort-incomplete-multipart-uploads", "Status": "Enabled", "Filter": {"Prefix": ""},
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 3}},
    ]


def test_lifecycle_comparison_is_data_order_insensitive_and_keeps_foreign_rules():
    config = config_with(lifecycle={"raw": {"transitions": [{"days": 30, "storage_class": "STANDARD_IA"},
                                                            {"days": 90, "storage_class": "GLACIER"}]}})
    desired = lake.lifecycle_rules(config, lake.lake_buckets(config, PREFIX, ACCOUNT)[0])
    foreign = {"ID": "team-expire-tmp", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 1}}
    # As S3 may answer: rules reordered, transitions reordered, empty prefix as an empty filter.
    live = [foreign] + copy.deepcopy(list(reversed(desired)))
    live[1]["Filter"] = {}
    live[2]["Transitions"] = list(reversed(live[2]["Transitions"]))
    assert not lake.lifecycle_differs(live, desired)
    assert lake.merged_lifecycle(live, desired) == [foreign] + desired
    live[2]["Transitions"][0]["Days"] = 120
    assert lake.lifecycle_differs(live, desired)


def test_encryption_denies_apply_only_when_a_header_names_something_else():
    statements = {s["Sid"]: s for s in lake.lake_bucket_statements("aws", LAKE, "arn:aws:kms:eu-west-1:1:key/k")}
    assert statements["MlopsDataLakeDenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert statements["MlopsDataLakeDenyWrongEncryptionHeader"]["Condition"] == {
        "Null": {"s3:x-amz-server-side-encryption": "false"},
        "StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}
    assert statements["MlopsDataLakeDenyWrongKmsKey"]["Condition"] == {
        "Null": {"s3:x-amz-server-side-encryption-aws-kms-key-id": "false"},
        "StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": "arn:aws:kms:eu-west-1:1:key/k"}}


def test_policy_merge_keeps_foreign_statements_and_replaces_ours():
    foreign = {"Sid": "ReadOnlyAnalytics", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:role/a"},
               "Action": "s3:GetObject", "Resource": "arn:aws:s3:::%s/*" % LAKE}
    stale = {"Sid": "MlopsDataLakeSomethingOld", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"}
    ours = lake.lake_bucket_statements("aws", LAKE, "k")
    merged = resource_policy.merged_policy({"Statement": [foreign, stale]}, ours, lake.is_our_statement)
    assert merged["Statement"] == ours + [foreign]
    assert set(lake.our_statements(merged)) == {s["Sid"] for s in ours}


def test_log_bucket_policy_lets_each_source_and_flow_logs_write_under_their_prefix():
    statements = lake.log_bucket_statements("aws", ACCOUNT, REGION, LOGS, [LAKE])
    by_sid = {s["Sid"]: s for s in statements}
    access = by_sid["MlopsDataLakeServerAccessLogsMlopsTestLake"]
    assert access["Resource"] == "arn:aws:s3:::%s/s3-access/%s/*" % (LOGS, LAKE)
    assert access["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}
    flow = by_sid["MlopsDataLakeFlowLogsWrite"]
    assert flow["Principal"] == {"Service": "delivery.logs.amazonaws.com"}
    assert flow["Resource"] == "arn:aws:s3:::%s/vpc-flow-logs/AWSLogs/%s/*" % (LOGS, ACCOUNT)
    assert flow["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT, "s3:x-amz-acl": "bucket-owner-full-control"}
    assert by_sid["MlopsDataLakeFlowLogsAclCheck"]["Action"] == "s3:GetBucketAcl"
    # Allows before the Deny: the stand-in checks log delivery permissions in statement order.
    assert statements[-1]["Sid"] == "MlopsDataLakeDenyInsecureTransport"


def test_replication_comparison_uses_the_real_api_shape():
    desired = lake.replication_configuration("arn:aws:iam::1:role/r", "arn:aws:s3:::b-replica", "arn:aws:kms:eu-central-1:1:key/k",
                                             "eu-central-1")
    # GetBucketReplication as AWS answers it (S3 API reference): all the rule's fields come back.
    live = {"Role": "arn:aws:iam::1:role/r", "Rules": [{
        "ID": "mlops-replicate-to-eu-central-1", "Priority": 0, "Filter": {}, "Status": "Enabled",
        "SourceSelectionCriteria": {"SseKmsEncryptedObjects": {"Status": "Enabled"}},
        "Destination": {"Bucket": "arn:aws:s3:::b-replica",
                        "EncryptionConfiguration": {"ReplicaKmsKeyID": "arn:aws:kms:eu-central-1:1:key/k"}},
        "DeleteMarkerReplication": {"Status": "Disabled"}}]}
    assert lake.normalize_replication(live) == lake.normalize_replication(desired)
    assert lake.is_our_replication(live)
    # What moto answers: SourceSelectionCriteria dropped, so KMS objects would not replicate.
    del live["Rules"][0]["SourceSelectionCriteria"]
    assert lake.normalize_replication(live) != lake.normalize_replication(desired)


def test_cross_checks_name_the_dotted_path():
    problems = lake.check_config(config_with(lifecycle={"scratch": {"noncurrent_version_expiration_days": 1}},
                                             replication={"enabled": True, "destination_region": REGION},
                                             versioning=False), PREFIX, REGION)
    assert sorted(str(problem) for problem in problems) == [
        "config.lifecycle.scratch: is not a zone of the data lake (raw, processed, features, models, artifacts)",
        "config.replication.destination_region: 'eu-west-1' is the environment's own region; replication needs another one",
        "config.replication.enabled: is true, but S3 replication needs versioning: set config.versioning to true",
    ]
    problems = lake.check_config(config_with(layout="bucket_per_zone", zones=["raw", "logs"]), PREFIX, REGION)
    assert [str(problem) for problem in problems] == [
        "config.zones[1]: 'logs' is reserved: with layout bucket_per_zone the zone's bucket would be the log bucket"]
    problems = lake.check_config(config_with(replication={"enabled": True, "destination_region": "eu-central-1"}),
                                 "a" * 38, REGION)
    assert [str(problem) for problem in problems] == [
        "config.replication.enabled: is true, but the replica bucket name '%s-lake-123456789012-replica' would be "
        "64 characters long, the limit is 63; shorten the name prefix" % ("a" * 38)]


# --- the module, against moto ---------------------------------------------------------------------

# A no-op re-run of the default lake (one shared bucket and the log bucket), read calls only:
# one per resource kind and bucket, never one per object or zone.
NO_OP_READS = {
    "GetCallerIdentity": 1,
    "ListBuckets": 1,
    "DescribeKey": 1,
    "GetKeyRotationStatus": 1,
    "ListResourceTags": 1,
    "GetBucketVersioning": 2,
    "GetBucketEncryption": 2,
    "GetPublicAccessBlock": 2,
    "GetBucketOwnershipControls": 2,
    "GetBucketPolicy": 2,
    "GetBucketTagging": 2,
    "GetBucketLifecycleConfiguration": 1,
    "GetBucketLogging": 1,
    "GetBucketReplication": 1,
    "ListObjectsV2": 1,
    "GetRole": 1,
}


def converge(capsys, **kwargs):
    code, result = run_module(capsys, module_under_test.main, args(**kwargs))
    assert code == 0, result
    return result


def test_converge_from_empty_builds_the_lake(lake_aws, capsys):
    result = converge(capsys)
    assert result["changed"] is True
    s3 = boto3.client("s3", region_name=REGION)
    kms = boto3.client("kms", region_name=REGION)

    assert result["bucket_names"] == [LAKE]
    assert result["log_bucket"] == LOGS
    assert result["account_id"] == ACCOUNT
    assert result["buckets"]["features"] == {"name": LAKE, "arn": "arn:aws:s3:::" + LAKE, "prefix": "features/"}
    assert result["flow_logs_destination_arn"] == "arn:aws:s3:::%s/vpc-flow-logs/" % LOGS
    assert result["replication"] is None
    assert result["ansible_facts"]["mlops_data_lake"]["kms_key_arn"] == result["kms_key_arn"]

    (alias,) = [a for a in kms.list_aliases()["Aliases"] if a["AliasName"] == "alias/mlops-test-data-lake"]
    assert kms.describe_key(KeyId=alias["TargetKeyId"])["KeyMetadata"]["Arn"] == result["kms_key_arn"]
    assert kms.get_key_rotation_status(KeyId=alias["TargetKeyId"])["KeyRotationEnabled"] is True

    rule = s3.get_bucket_encryption(Bucket=LAKE)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule == {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": result["kms_key_arn"]},
                    "BucketKeyEnabled": True}
    log_rule = s3.get_bucket_encryption(Bucket=LOGS)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert log_rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    for bucket in (LAKE, LOGS):
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
        assert all(s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"].values())
        assert s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"] == [
            {"ObjectOwnership": "BucketOwnerEnforced"}]
        sids = {s["Sid"] for s in json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]}
        assert "MlopsDataLakeDenyInsecureTransport" in sids
    assert s3.get_bucket_logging(Bucket=LAKE)["LoggingEnabled"] == {"TargetBucket": LOGS, "TargetPrefix": "s3-access/%s/" % LAKE}
    rules = s3.get_bucket_lifecycle_configuration(Bucket=LAKE)["Rules"]
    assert [rule["ID"] for rule in rules] == ["mlops-abort-incomplete-multipart-uploads"]
    listing = s3.list_objects_v2(Bucket=LAKE)
    assert sorted(obj["Key"] for obj in listing["Contents"]) == sorted(zone + "/" for zone in ZONES)
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=LAKE)["TagSet"]}
    assert tags == {"Project": "lake", "mlops.platform/managed": "true", "mlops.platform/environment": "test",
                    "mlops.platform/component": "data_lake"}
    assert result["diff"]["before"]["buckets"] == {LAKE: None}


def test_no_op_rerun_reads_only_a_handful_per_resource_kind(lake_aws, api_calls, capsys):
    converge(capsys)
    del api_calls[:]
    result = converge(capsys)
    with capsys.disabled():
        print("\nno-op read calls (data_lake):", dict(sorted(operations(api_calls).items())))
    assert result["changed"] is False
    assert writes(api_calls) == []
    assert operations(api_calls) == NO_OP_READS
    assert result["api_calls"] == {"total": sum(NO_OP_READS.values()), "writes": 0, "by_operation": dict(sorted(NO_OP_READS.items()))}
    assert result["diff"]["before"] == result["diff"]["after"]


def test_check_mode_on_empty_account_predicts_creations_and_writes_nothing(lake_aws, api_calls, capsys):
    result = converge(capsys, check_mode=True)
    assert result["changed"] is True
    assert writes(api_calls) == []
    assert result["kms_key_arn"] == "(known after apply)"
    assert result["bucket_names"] == [LAKE]
    assert set(result["diff"]["after"]["buckets"]) == {LAKE}
    assert result["diff"]["after"]["buckets"][LAKE]["prefixes"] == sorted(zone + "/" for zone in ZONES)
    assert boto3.client("s3", region_name=REGION).list_buckets()["Buckets"] == []


def test_check_mode_on_converged_lake_reports_nothing(lake_aws, api_calls, capsys):
    converge(capsys)
    del api_calls[:]
    result = converge(capsys, check_mode=True)
    assert result["changed"] is False
    assert writes(api_calls) == []


def test_drift_is_repaired_with_exactly_the_writes_needed(lake_aws, api_calls, capsys):
    converge(capsys)
    s3 = boto3.client("s3", region_name=REGION)
    # Behind the module's back: versioning suspended, the TLS Deny dropped from the policy,
    # someone else's statement added.
    s3.put_bucket_versioning(Bucket=LAKE, VersioningConfiguration={"Status": "Suspended"})
    policy = json.loads(s3.get_bucket_policy(Bucket=LAKE)["Policy"])
    foreign = {"Sid": "AnalyticsRead", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::%s:root" % ACCOUNT},
               "Action": "s3:GetObject", "Resource": "arn:aws:s3:::%s/processed/*" % LAKE}
    policy["Statement"] = [s for s in policy["Statement"] if s["Sid"] != "MlopsDataLakeDenyInsecureTransport"] + [foreign]
    s3.put_bucket_policy(Bucket=LAKE, Policy=json.dumps(policy))

    plan = converge(capsys, check_mode=True)
    assert plan["changed"] is True
    before, after = plan["diff"]["before"]["buckets"][LAKE], plan["diff"]["after"]["buckets"][LAKE]
    assert (before["versioning"], after["versioning"]) == ("Suspended", "Enabled")
    assert "MlopsDataLakeDenyInsecureTransport" not in before["policy_statements"]
    assert "MlopsDataLakeDenyInsecureTransport" in after["policy_statements"]

    del api_calls[:]
    result = converge(capsys)
    assert result["changed"] is True
    assert writes(api_calls) == ["PutBucketVersioning", "PutBucketPolicy"]
    assert s3.get_bucket_versioning(Bucket=LAKE)["Status"] == "Enabled"
    statements = {s["Sid"]: s for s in json.loads(s3.get_bucket_policy(Bucket=LAKE)["Policy"])["Statement"]}
    assert statements["AnalyticsRead"] == foreign
    assert statements["MlopsDataLakeDenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}

    del api_calls[:]
    assert converge(capsys)["changed"] is False
    assert writes(api_calls) == []


def test_objects_are_never_deleted_and_a_prefix_in_use_needs_no_marker(lake_aws, api_calls, capsys):
    # Unversioned: moto still lists the prefix of a key whose latest version is a delete
    # marker (S3 does not), so a deleted marker is only seen as gone without versioning.
    converge(capsys, versioning=False)
    s3 = boto3.client("s3", region_name=REGION)
    s3.put_object(Bucket=LAKE, Key="raw/2026/01/data.parquet", Body=b"PAR1")
    s3.delete_object(Bucket=LAKE, Key="raw/")
    s3.delete_object(Bucket=LAKE, Key="models/")
    del api_calls[:]
    result = converge(capsys, versioning=False)
    # raw/ still has data under it, so only models/ is written again.
    assert writes(api_calls) == ["PutObject"]
    assert result["changed"] is True
    keys = {obj["Key"] for obj in s3.list_objects_v2(Bucket=LAKE)["Contents"]}
    assert "raw/2026/01/data.parquet" in keys and "models/" in keys and "raw/" not in keys
    assert s3.get_object(Bucket=LAKE, Key="raw/2026/01/data.parquet")["Body"].read() == b"PAR1"


def test_lifecycle_drift_and_foreign_rules(lake_aws, api_calls, capsys):
    lifecycle = {"raw": {"transitions": [{"days": 30, "storage_class": "STANDARD_IA"}], "noncurrent_version_expiration_days": 30}}
    converge(capsys, lifecycle=lifecycle)
    s3 = boto3.client("s3", region_name=REGION)
    rules = s3.get_bucket_lifecycle_configuration(Bucket=LAKE)["Rules"]
    rules.append({"ID": "team-tmp", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 1}})
    s3.put_bucket_lifecycle_configuration(Bucket=LAKE, LifecycleConfiguration={"Rules": rules})
    del api_calls[:]
    assert converge(capsys, lifecycle=lifecycle)["changed"] is False

    lifecycle["raw"]["noncurrent_version_expiration_days"] = 90
    del api_calls[:]
    assert converge(capsys, lifecycle=lifecycle)["changed"] is True
    assert writes(api_calls) == ["PutBucketLifecycleConfiguration"]
    rules = {rule["ID"]: rule for rule in s3.get_bucket_lifecycle_configuration(Bucket=LAKE)["Rules"]}
    assert set(rules) == {"team-tmp", "mlops-zone-raw", "mlops-abort-incomplete-multipart-uploads"}
    assert rules["mlops-zone-raw"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 90}


def test_bucket_per_zone(lake_aws, api_calls, capsys):
    result = converge(capsys, layout="bucket_per_zone", zones=["raw", "models"])
    names = ["mlops-test-lake-raw-%s" % ACCOUNT, "mlops-test-lake-models-%s" % ACCOUNT]
    assert result["bucket_names"] == names
    assert result["buckets"]["models"]["prefix"] == ""
    s3 = boto3.client("s3", region_name=REGION)
    assert s3.list_objects_v2(Bucket=names[0])["KeyCount"] == 0
    del api_calls[:]
    again = converge(capsys, layout="bucket_per_zone", zones=["raw"])
    assert again["changed"] is True  # the log bucket's policy no longer lets models' bucket log
    assert again["retained_buckets"] == [names[1]]
    assert {b["Name"] for b in s3.list_buckets()["Buckets"]} >= set(names)


def test_access_logging_off_removes_only_our_logging(lake_aws, api_calls, capsys):
    converge(capsys)
    del api_calls[:]
    result = converge(capsys, access_logging=False)
    assert result["changed"] is True
    assert sorted(writes(api_calls)) == ["PutBucketLogging", "PutBucketPolicy"]
    s3 = boto3.client("s3", region_name=REGION)
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=LAKE)


def test_replication_to_another_region(lake_aws, api_calls, capsys):
    replication = {"enabled": True, "destination_region": "eu-central-1"}
    result = converge(capsys, replication=replication)
    replica = LAKE + "-replica"
    assert result["replication"]["buckets"] == {LAKE: replica}
    assert result["replication"]["role_arn"] == "arn:aws:iam::%s:role/mlops-test-data-lake-replication" % ACCOUNT
    assert result["replication"]["kms_key_arn"].startswith("arn:aws:kms:eu-central-1:%s:key/" % ACCOUNT)

    s3_replica = boto3.client("s3", region_name="eu-central-1")
    assert s3_replica.get_bucket_versioning(Bucket=replica)["Status"] == "Enabled"
    assert s3_replica.get_bucket_location(Bucket=replica)["LocationConstraint"] == "eu-central-1"
    encryption = s3_replica.get_bucket_encryption(Bucket=replica)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert encryption["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == result["replication"]["kms_key_arn"]
    configuration = boto3.client("s3", region_name=REGION).get_bucket_replication(Bucket=LAKE)["ReplicationConfiguration"]
    assert configuration["Role"] == result["replication"]["role_arn"]
    assert configuration["Rules"][0]["Destination"] == {
        "Bucket": "arn:aws:s3:::" + replica,
        "EncryptionConfiguration": {"ReplicaKmsKeyID": result["replication"]["kms_key_arn"]}}
    iam = boto3.client("iam")
    policy = iam.get_role_policy(RoleName="mlops-test-data-lake-replication", PolicyName="replication")["PolicyDocument"]
    assert {s["Sid"] for s in policy["Statement"]} == {"ReadReplicationConfiguration", "ReadSourceVersions", "WriteReplicas",
                                                       "DecryptSources", "EncryptReplicas"}

    # moto drops SourceSelectionCriteria from GetBucketReplication (see the docs), so the
    # replication configuration is the one thing a re-run on moto writes again.
    del api_calls[:]
    converge(capsys, replication=replication)
    assert writes(api_calls) == ["PutBucketReplication"]

    # Switched off: our replication configuration and role go, the replica and its data stay.
    del api_calls[:]
    result = converge(capsys)
    assert result["replication"] is None
    assert sorted(writes(api_calls)) == ["DeleteBucketReplication", "DeleteRole", "DeleteRolePolicy"]
    assert replica in {b["Name"] for b in s3_replica.list_buckets()["Buckets"]}


def test_a_replication_role_it_does_not_own_is_refused_not_taken_over(lake_aws, api_calls, capsys):
    iam = boto3.client("iam")
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    iam.create_role(RoleName="mlops-test-data-lake-replication", AssumeRolePolicyDocument=json.dumps(trust),
                    Tags=[{"Key": "Project", "Value": "someone else"}])
    del api_calls[:]
    code, result = run_module(capsys, module_under_test.main,
                              args(replication={"enabled": True, "destination_region": "eu-central-1"}))
    assert code == 1
    assert result["msg"] == ("config.replication.enabled: the IAM role mlops-test-data-lake-replication exists and "
                             "is not managed by this component; remove it or tag it")
    assert [operation for operation in writes(api_calls) if "Role" in operation] == []
    role = iam.get_role(RoleName="mlops-test-data-lake-replication")["Role"]
    assert role["AssumeRolePolicyDocument"] == trust and role["Tags"] == [{"Key": "Project", "Value": "someone else"}]

    # Replication off: the role is not the lake's to delete.
    del api_calls[:]
    converge(capsys)
    assert [operation for operation in writes(api_calls) if "Role" in operation] == []
    assert iam.get_role(RoleName="mlops-test-data-lake-replication")["Role"]


def test_bad_lifecycle_is_refused_before_any_call_with_its_path(lake_aws, api_calls, capsys):
    lifecycle = {"raw": {"transitions": [{"days": 90, "storage_class": "GLACIER"}, {"days": 30, "storage_class": "STANDARD_IA"}]}}
    code, result = run_module(capsys, module_under_test.main, args(lifecycle=lifecycle))
    assert code == 1
    assert api_calls == []
    assert [(error["path"], error["message"]) for error in result["errors"]] == [
        ("config.lifecycle.raw.transitions", "moves objects at day 30 in item 1, not after the previous transition (day 90)")]
    assert "config.lifecycle.raw.transitions" in result["msg"]


def test_cross_component_rules_are_refused_before_any_call(lake_aws, api_calls, capsys):
    code, result = run_module(capsys, module_under_test.main,
                              args(replication={"enabled": True}, lifecycle={"scratch": {"noncurrent_version_expiration_days": 5}}))
    assert code == 1
    assert api_calls == []
    assert [error["path"] for error in result["errors"]] == ["config.lifecycle.scratch", "config.replication.destination_region"]


def test_assume_role_puts_the_lake_in_the_member_account(lake_aws, capsys):
    member = "111111111111"
    result = converge(capsys, assume_role={"role_arn": "arn:aws:iam::%s:role/OrganizationAccountAccessRole" % member})
    assert result["account_id"] == member
    assert result["bucket_names"] == ["mlops-test-lake-%s" % member]
    assert result["log_bucket"] == "mlops-test-lake-logs-%s" % member
    assert result["kms_key_arn"].startswith("arn:aws:kms:%s:%s:key/" % (REGION, member))
    # Nothing in the caller's own account.
    assert boto3.client("s3", region_name=REGION).list_buckets()["Buckets"] == []


def test_flow_log_retention_is_a_lifecycle_rule_on_the_log_prefix(lake_aws, capsys):
    """The network's flow_logs.retention_days, for flow logs delivered to the lake's log
    bucket, expires them there; a re-run changes nothing and a new retention is applied."""
    def converge_with(days):
        code, result = run_module(capsys, module_under_test.main, dict(args(), flow_logs_retention_days=days))
        assert code == 0, result
        return result

    first = converge_with(30)
    s3 = boto3.client("s3", region_name=REGION)
    rules = s3.get_bucket_lifecycle_configuration(Bucket=first["log_bucket"])["Rules"]
    assert [(rule["ID"], rule["Filter"], rule["Expiration"], rule["NoncurrentVersionExpiration"]) for rule in rules] == [
        ("mlops-vpc-flow-logs-retention", {"Prefix": "vpc-flow-logs/"}, {"Days": 30}, {"NoncurrentDays": 1})]
    assert converge_with(30)["changed"] is False
    changed = converge_with(365)
    assert changed["changed"] is True
    assert changed["diff"]["after"]["log_bucket"][first["log_bucket"]]["lifecycle_rules"][0]["Expiration"] == {"Days": 365}
    assert changed["diff"]["before"]["log_bucket"][first["log_bucket"]]["lifecycle_rules"][0]["Expiration"] == {"Days": 30}
    rules = s3.get_bucket_lifecycle_configuration(Bucket=first["log_bucket"])["Rules"]
    assert rules[0]["Expiration"] == {"Days": 365}


def test_a_lake_bucket_it_does_not_own_is_refused_not_taken_over(lake_aws, api_calls, capsys):
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=LAKE, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_tagging(Bucket=LAKE, Tagging={"TagSet": [{"Key": "team", "Value": "analytics"}]})
    for check_mode in (True, False):
        del api_calls[:]
        code, result = run_module(capsys, module_under_test.main, args(check_mode=check_mode))
        assert code == 1
        assert result["msg"].startswith("name_prefix: the bucket %s exists without the ownership tags of the data_lake "
                                        "of environment test" % LAKE)
        assert "tag it mlops.platform/component=data_lake, mlops.platform/environment=test, " \
               "mlops.platform/managed=true" in result["msg"]
        assert "PutBucket" not in " ".join(writes(api_calls))
    assert "Policy" not in s3.get_bucket_tagging(Bucket=LAKE)
    assert s3.get_bucket_tagging(Bucket=LAKE)["TagSet"] == [{"Key": "team", "Value": "analytics"}]


def test_a_bucket_left_bare_by_an_interrupted_create_is_finished_with_a_warning(lake_aws, capsys):
    """No tag and no policy: what CreateBucket leaves where S3 drops its tags (the stand-in)."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=LOGS, CreateBucketConfiguration={"LocationConstraint": REGION})
    result = converge(capsys)
    assert result["changed"] is True
    assert [w for w in warnings(result) if LOGS in w]
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=LOGS)["TagSet"]}
    assert tags["mlops.platform/component"] == "data_lake"
    assert converge(capsys)["changed"] is False
