"""The database component: pure planning logic, and the module converging against moto.

What moto does not show is driven with botocore's Stubber, which checks every request
and response against the real RDS API model: an instance still ``creating`` (no endpoint)
waited for, modifications pending until the maintenance window, and Performance Insights,
which moto never reports.
"""

import collections
import copy

import json

import boto3
import botocore.client
import botocore.exceptions
import pytest
from botocore.stub import ANY, Stubber

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.mlops.platform.plugins.module_utils import database as db
from ansible_collections.mlops.platform.plugins.module_utils.config_schema import DATABASE
from ansible_collections.mlops.platform.plugins.modules import database as module_under_test

from conftest import component_config, run_module, writes

REGION = "eu-west-1"
PREFIX = "mlops-dev"
INSTANCE = "mlops-dev-postgres"
MANAGED = {"mlops.platform/managed": "true", "mlops.platform/environment": "dev",
           "mlops.platform/component": "database"}


def config_with(**overrides):
    return component_config(DATABASE, **overrides)


def operations(calls):
    return [operation for operation, response in calls]


def counts(calls):
    return dict(collections.Counter(operations(calls)))


# --- pure logic -------------------------------------------------------------------------------

def test_names_follow_the_prefix_and_the_engine_major():
    assert db.names(PREFIX, "17.6") == {
        "instance": "mlops-dev-postgres",
        "subnet_group": "mlops-dev-postgres",
        "security_group": "mlops-dev-postgres",
        "parameter_group": "mlops-dev-postgres17",
        "parameter_group_family": "postgres17",
        "kms_alias": "alias/mlops-dev-database",
    }
    assert db.names(PREFIX, "18")["parameter_group_family"] == "postgres18"


def test_storage_minimum_depends_on_the_storage_type():
    assert db.check_storage(config_with()) == []
    assert [str(e) for e in db.check_storage(config_with(storage_type="io1", allocated_storage_gib=50))] == [
        "config.allocated_storage_gib: 50 is below the minimum of 100 GiB for io1 storage (storage_type)"]
    assert [str(e) for e in db.check_storage(config_with(allocated_storage_gib=100, max_allocated_storage_gib=100))] == [
        "config.max_allocated_storage_gib: 100 must be at least 10% above allocated_storage_gib (100): 110 or more"]
    assert db.check_storage(config_with(allocated_storage_gib=100, max_allocated_storage_gib=110)) == []


def test_iops_is_for_provisioned_storage_within_its_ratio():
    """iops: only io1/io2, within RDS's IOPS-per-GiB range; when unset it is derived."""
    assert db.check_storage(config_with(storage_type="io1", allocated_storage_gib=100, iops=5000)) == []
    assert db.provisioned_iops(config_with(storage_type="io1", allocated_storage_gib=100, iops=5000)) == 5000
    assert db.provisioned_iops(config_with(storage_type="io2", allocated_storage_gib=2000)) == 2000
    assert db.provisioned_iops(config_with(storage_type="gp3")) is None
    assert [str(e) for e in db.check_storage(config_with(iops=3000))] == [
        "config.iops: 3000 applies only to io1 and io2 storage (storage_type is gp3)"]
    assert [str(e) for e in db.check_storage(config_with(storage_type="io1", allocated_storage_gib=100, iops=6000))] == [
        "config.iops: 6000 must be 1 to 50 IOPS per GiB of allocated_storage_gib (100 GiB) for io1 storage"]
    assert [str(e) for e in db.check_storage(config_with(storage_type="io1", allocated_storage_gib=2000, iops=1000))] == [
        "config.iops: 1000 must be 1 to 50 IOPS per GiB of allocated_storage_gib (2000 GiB) for io1 storage"]
    assert db.check_storage(config_with(storage_type="io2", allocated_storage_gib=2000, iops=1000)) == []


def test_network_inputs_are_checked_by_option_name():
    params = dict(vpc_id="vpc-1", subnet_ids=["subnet-0123456789abcdef0"], allowed_cidrs=["10.0.1.1/24"],
                  allowed_security_group_ids=["nodes"])
    assert [str(e) for e in db.check_inputs(params, check_mode=False)] == [
        "vpc_id: 'vpc-1' is not a VPC id (vpc-...)",
        "subnet_ids: lists 1 subnet(s); an RDS subnet group needs private subnets in at least two availability zones",
        "allowed_cidrs[0]: '10.0.1.1/24' is not a network address (host bits set; did you mean 10.0.1.0/24?)",
        "allowed_security_group_ids[0]: 'nodes' is not a security group id (sg-...)",
    ]


def test_unknown_network_inputs_are_accepted_in_check_mode_only():
    params = dict(vpc_id=db.UNKNOWN, subnet_ids=[db.UNKNOWN, db.UNKNOWN], allowed_cidrs=[],
                  allowed_security_group_ids=[db.UNKNOWN])
    assert db.check_inputs(params, check_mode=True) == []
    assert [e.path for e in db.check_inputs(params, check_mode=False)] == [
        "vpc_id", "subnet_ids[0]", "subnet_ids[1]", "allowed_security_group_ids[0]"]


def test_subnets_in_one_zone_are_refused_and_multi_az_says_why():
    subnets = [{"SubnetId": "subnet-a", "VpcId": "vpc-1", "AvailabilityZone": "eu-west-1a"},
               {"SubnetId": "subnet-b", "VpcId": "vpc-1", "AvailabilityZone": "eu-west-1a"}]
    errors = db.check_subnets(config_with(multi_az=True), "vpc-1", ["subnet-a", "subnet-b"], subnets)
    assert [e.path for e in errors] == ["subnet_ids", "config.multi_az"]
    assert "only one availability zone (eu-west-1a)" in str(errors[1])
    errors = db.check_subnets(config_with(), "vpc-2", ["subnet-a", "subnet-c"], subnets)
    assert [str(e) for e in errors] == ["subnet_ids[0]: 'subnet-a' is in vpc-1, not in vpc_id vpc-2",
                                        "subnet_ids[1]: 'subnet-c' does not exist"]


def test_rules_round_trip_through_ec2_permissions():
    wanted = db.desired_ingress(5432, ["10.0.1.0/24", "10.0.2.0/24"], ["sg-0123456789abcdef0"])
    permissions = db.permissions_of(wanted, "client")
    assert permissions == [{
        "IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
        "IpRanges": [{"CidrIp": "10.0.1.0/24", "Description": "client"},
                     {"CidrIp": "10.0.2.0/24", "Description": "client"}],
        "UserIdGroupPairs": [{"GroupId": "sg-0123456789abcdef0", "Description": "client"}],
    }]
    assert db.rules_of(permissions) == wanted
    everything = db.rules_of([{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                               "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}])
    assert db.describe_rules(everything, "to") == ["all traffic to 0.0.0.0/0", "all traffic to ::/0"]


def test_create_request_leaves_the_password_to_rds_and_pins_everything():
    config = config_with(max_allocated_storage_gib=100)
    request = db.create_request(config, db.names(PREFIX, "17.6"), "arn:key", "sg-1", [])
    assert request["ManageMasterUserPassword"] is True
    assert "MasterUserPassword" not in request
    assert request["MasterUsername"] == "mlops_admin"
    assert (request["StorageEncrypted"], request["KmsKeyId"], request["PerformanceInsightsKMSKeyId"]) == \
        (True, "arn:key", "arn:key")
    assert (request["PubliclyAccessible"], request["CopyTagsToSnapshot"]) == (False, True)
    assert (request["EngineVersion"], request["AutoMinorVersionUpgrade"]) == ("17.6", False)
    assert request["DBParameterGroupName"] == "mlops-dev-postgres17"
    assert request["DBSubnetGroupName"] == "mlops-dev-postgres"
    assert (request["AllocatedStorage"], request["MaxAllocatedStorage"]) == (20, 100)
    assert "Iops" not in request
    io1 = db.create_request(config_with(storage_type="io1", allocated_storage_gib=400), db.names(PREFIX, "17.6"),
                            "arn:key", "sg-1", [])
    assert io1["Iops"] == 1000


def live_instance(config, **changes):
    """An instance description as RDS gives it for a converged configuration."""
    request = db.create_request(config, db.names(PREFIX, config["engine_version"]), "arn:key", "sg-1", [])
    instance = {
        "DBInstanceIdentifier": INSTANCE, "DBInstanceStatus": "available",
        "EngineVersion": request["EngineVersion"], "AutoMinorVersionUpgrade": request["AutoMinorVersionUpgrade"],
        "DBInstanceClass": request["DBInstanceClass"], "StorageType": request["StorageType"],
        "AllocatedStorage": request["AllocatedStorage"], "Endpoint": {"Address": "x", "Port": request["Port"]},
        "MultiAZ": request["MultiAZ"], "DeletionProtection": request["DeletionProtection"],
        "BackupRetentionPeriod": request["BackupRetentionPeriod"],
        "PreferredBackupWindow": request["PreferredBackupWindow"],
        "PreferredMaintenanceWindow": request["PreferredMaintenanceWindow"],
        "PerformanceInsightsEnabled": request["EnablePerformanceInsights"],
        "DBParameterGroups": [{"DBParameterGroupName": request["DBParameterGroupName"],
                               "ParameterApplyStatus": "in-sync"}],
        "DBSubnetGroup": {"DBSubnetGroupName": request["DBSubnetGroupName"]},
        "VpcSecurityGroups": [{"VpcSecurityGroupId": "sg-1", "Status": "active"}],
        "PubliclyAccessible": False, "CopyTagsToSnapshot": True, "StorageEncrypted": True, "KmsKeyId": "arn:key",
        "MasterUsername": "mlops_admin",
    }
    instance.update(changes)
    return instance


def plan(config, instance, apply_immediately=False):
    return db.modification(config, db.names(PREFIX, config["engine_version"]), "sg-1", "arn:key", instance,
                           apply_immediately)


def test_a_converged_instance_needs_nothing():
    config = config_with()
    assert plan(config, live_instance(config)) == ({}, [], [])


def test_harmless_changes_apply_at_once_the_others_wait_for_the_window():
    config = config_with()
    request, problems, warnings = plan(config, live_instance(config, BackupRetentionPeriod=3))
    assert request == {"DBInstanceIdentifier": INSTANCE, "BackupRetentionPeriod": 7, "ApplyImmediately": True}
    request = plan(config, live_instance(config, DBInstanceClass="db.t4g.large", DeletionProtection=True))[0]
    assert request == {"DBInstanceIdentifier": INSTANCE, "DBInstanceClass": "db.t4g.medium",
                       "DeletionProtection": False, "ApplyImmediately": False}
    assert plan(config, live_instance(config, DBInstanceClass="db.t4g.large"), apply_immediately=True)[0][
        "ApplyImmediately"] is True
    # Switching automated backups off or on restarts the instance.
    assert plan(config, live_instance(config, BackupRetentionPeriod=0))[0]["ApplyImmediately"] is False


def test_a_harmless_change_never_pulls_queued_changes_out_of_the_window():
    """ApplyImmediately applies every pending modification too: with an instance class
    change queued for the window, a backup retention change waits for the window as well."""
    config = config_with(instance_class="db.r6g.xlarge")
    queued = live_instance(config, BackupRetentionPeriod=3, DBInstanceClass="db.t4g.medium",
                           PendingModifiedValues={"DBInstanceClass": "db.r6g.xlarge"})
    request, problems, warnings = plan(config, queued)
    assert request == {"DBInstanceIdentifier": INSTANCE, "BackupRetentionPeriod": 7, "ApplyImmediately": False}
    assert warnings == ["changes queued for the maintenance window (DBInstanceClass) would be applied at once with "
                        "this modification, so it waits for the window too (apply_immediately=true applies all now)"]
    assert plan(config, queued, apply_immediately=True)[0]["ApplyImmediately"] is True
    # RDS's own master password rotation is not a queued change of ours
    rotating = live_instance(config_with(), BackupRetentionPeriod=3, PendingModifiedValues={"MasterUserPassword": "****"})
    assert plan(config_with(), rotating)[0]["ApplyImmediately"] is True


def test_what_rds_does_regardless_of_the_window_is_said():
    """A port change restarts the instance at once; parameters waiting for a reboot are
    reported (the module never reboots)."""
    config = config_with(port=5433)
    request, problems, warnings = plan(config, live_instance(config_with()))
    assert request["DBPortNumber"] == 5433
    assert warnings == ["changing the port of %s from 5432 to 5433 restarts it at once, whatever apply_immediately "
                        "says (RDS applies a port change immediately)" % INSTANCE]
    waiting = live_instance(config_with())
    waiting["DBParameterGroups"] = [dict(waiting["DBParameterGroups"][0], ParameterApplyStatus="pending-reboot")]
    assert plan(config_with(), waiting) == ({}, [], [
        "the parameters of %s (rds.force_ssl among them) take effect only after a reboot, which this module never "
        "does; reboot it when convenient" % INSTANCE])


def test_pending_modifications_count_as_done():
    config = config_with(instance_class="db.r7g.large")
    instance = live_instance(config, DBInstanceClass="db.t4g.medium",
                             PendingModifiedValues={"DBInstanceClass": "db.r7g.large"})
    assert plan(config, instance) == ({}, [], [])


def test_settings_rds_does_not_report_are_not_modified_on_a_guess():
    config = config_with()
    instance = live_instance(config)
    del instance["PerformanceInsightsEnabled"]  # the stand-in never reports it
    assert plan(config, instance) == ({}, [], [])
    request = plan(config, live_instance(config, PerformanceInsightsEnabled=False))[0]
    assert request["EnablePerformanceInsights"] is True
    assert request["PerformanceInsightsRetentionPeriod"] == 7
    assert request["PerformanceInsightsKMSKeyId"] == "arn:key"


def test_engine_upgrades_only_forward():
    config = config_with(engine_version="18.1")
    request = plan(config, live_instance(config_with(), EngineVersion="17.6",
                                         DBParameterGroups=[{"DBParameterGroupName": "mlops-dev-postgres17"}]))[0]
    assert request["EngineVersion"] == "18.1" and request["AllowMajorVersionUpgrade"] is True
    assert request["DBParameterGroupName"] == "mlops-dev-postgres18"
    assert request["ApplyImmediately"] is False
    request = plan(config_with(engine_version="17.7"), live_instance(config_with(engine_version="17.6")))[0]
    assert request["EngineVersion"] == "17.7" and "AllowMajorVersionUpgrade" not in request

    problems = plan(config_with(engine_version="16.9"), live_instance(config_with()))[1]
    assert [str(p) for p in problems] == ["config.engine_version: '16.9' is a major downgrade from the running 17.6; "
                                          "RDS cannot downgrade an instance (restore a snapshot instead)"]
    problems = plan(config_with(engine_version="17.5"), live_instance(config_with()))[1]
    assert "pin 17.6" in str(problems[0])
    # With minor upgrades opted in, RDS's newer minor is accepted, and a major-only pin matches any minor.
    assert plan(config_with(auto_minor_version_upgrade=True),
                live_instance(config_with(auto_minor_version_upgrade=True), EngineVersion="17.8")) == ({}, [], [])
    assert plan(config_with(engine_version="17"), live_instance(config_with(), EngineVersion="17.6"))[0] == {}


def test_storage_never_shrinks_and_autoscaling_growth_is_kept():
    config = config_with(max_allocated_storage_gib=200)
    assert plan(config, live_instance(config, AllocatedStorage=150, MaxAllocatedStorage=200)) == ({}, [], [])
    request, problems, warnings = plan(config_with(), live_instance(config_with(), AllocatedStorage=50))
    assert request == {} and "cannot shrink" in warnings[0]
    request = plan(config_with(), live_instance(config_with(), MaxAllocatedStorage=100))[0]
    assert request["MaxAllocatedStorage"] == 20 and request["ApplyImmediately"] is True  # autoscaling off
    request = plan(config_with(allocated_storage_gib=40), live_instance(config_with()))[0]
    assert request == {"DBInstanceIdentifier": INSTANCE, "AllocatedStorage": 40, "ApplyImmediately": True}


def test_what_cannot_change_in_place_is_reported_not_modified():
    config = config_with()
    request, problems, warnings = plan(config, live_instance(config, StorageEncrypted=False,
                                                             DBSubnetGroup={"DBSubnetGroupName": "other"}))
    assert request == {} and problems == []
    assert "not encrypted at rest" in warnings[0] and "subnet group other" in warnings[1]


def test_foreign_security_groups_on_the_instance_are_replaced():
    config = config_with()
    groups = [{"VpcSecurityGroupId": "sg-1"}, {"VpcSecurityGroupId": "sg-2"}]
    request = plan(config, live_instance(config, VpcSecurityGroups=groups))[0]
    assert request == {"DBInstanceIdentifier": INSTANCE, "VpcSecurityGroupIds": ["sg-1"], "ApplyImmediately": True}


# --- the module, against moto --------------------------------------------------------------------

@pytest.fixture
def network(aws):
    """A VPC with two private subnets in two AZs, and the nodes' security group."""
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.%d.0/24" % index,
                                 AvailabilityZone="%s%s" % (REGION, zone))["Subnet"]["SubnetId"]
               for index, zone in ((1, "a"), (2, "b"))]
    nodes = ec2.create_security_group(GroupName="nodes", Description="EKS nodes", VpcId=vpc_id)["GroupId"]
    return {"vpc_id": vpc_id, "subnet_ids": subnets, "cidrs": ["10.0.1.0/24", "10.0.2.0/24"], "nodes": nodes}


def module_args(network, **extra):
    args = dict(environment="dev", name_prefix=PREFIX, tags={"Project": "test"}, vpc_id=network["vpc_id"],
                subnet_ids=network["subnet_ids"], allowed_cidrs=network["cidrs"], config={})
    args.update(extra)
    return args


def run(capsys, args, check_mode=False):
    if check_mode:
        args = dict(args, _ansible_check_mode=True, _ansible_diff=True)
    return run_module(capsys, module_under_test.main, args)


def converge(capsys, api_calls, args):
    code, result = run(capsys, args)
    assert code == 0, result.get("msg")
    api_calls.clear()
    return result


def owned_group(network):
    ec2 = boto3.client("ec2", region_name=REGION)
    return ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [network["vpc_id"]]},
                                                 {"Name": "group-name", "Values": ["mlops-dev-postgres"]}])[
        "SecurityGroups"][0]


def test_converge_from_nothing(network, api_calls, capsys):
    code, result = run(capsys, module_args(network))

    assert code == 0, result.get("msg")
    assert result["changed"] is True
    assert sorted(writes(api_calls)) == sorted([
        "CreateKey", "CreateAlias", "EnableKeyRotation",
        "CreateSecurityGroup", "AuthorizeSecurityGroupIngress", "RevokeSecurityGroupEgress",
        "CreateDBSubnetGroup", "CreateDBParameterGroup", "ModifyDBParameterGroup", "CreateDBInstance",
        "CreateSecret", "CreateSecret"])

    rds = boto3.client("rds", region_name=REGION)
    kms = boto3.client("kms", region_name=REGION)
    key = kms.describe_key(KeyId="alias/mlops-dev-database")["KeyMetadata"]
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is True
    group = owned_group(network)
    assert db.rules_of(group["IpPermissions"]) == {("tcp", 5432, 5432, "cidr", "10.0.1.0/24"),
                                                   ("tcp", 5432, 5432, "cidr", "10.0.2.0/24")}
    assert group["IpPermissionsEgress"] == []
    subnet_group = rds.describe_db_subnet_groups(DBSubnetGroupName="mlops-dev-postgres")["DBSubnetGroups"][0]
    assert sorted(s["SubnetIdentifier"] for s in subnet_group["Subnets"]) == sorted(network["subnet_ids"])
    parameters = rds.describe_db_parameters(DBParameterGroupName="mlops-dev-postgres17", Source="user")["Parameters"]
    assert {p["ParameterName"]: p["ParameterValue"] for p in parameters} == {"rds.force_ssl": "1"}
    instance = rds.describe_db_instances(DBInstanceIdentifier=INSTANCE)["DBInstances"][0]
    assert instance["MasterUsername"] == "mlops_admin"
    assert instance["StorageEncrypted"] is True
    assert instance["PubliclyAccessible"] is False
    assert instance["EngineVersion"] == "17.6" and instance["AutoMinorVersionUpgrade"] is False
    assert [g["VpcSecurityGroupId"] for g in instance["VpcSecurityGroups"]] == [group["GroupId"]]
    assert {t["Key"]: t["Value"] for t in instance["TagList"]} == dict(MANAGED, Project="test")
    (create,) = [response for operation, response in api_calls if operation == "CreateDBInstance"]
    assert create["DBInstance"]["DBInstanceIdentifier"] == INSTANCE

    # Each owner role's password: generated, kept in Secrets Manager, never in the result.
    secretsmanager = boto3.client("secretsmanager", region_name=REGION)
    secret_arns = {}
    for role in ("feast", "mlflow"):
        secret = secretsmanager.describe_secret(SecretId="mlops-dev/database/%s" % role)
        secret_arns[role] = secret["ARN"]
        assert {t["Key"]: t["Value"] for t in secret["Tags"]} == dict(MANAGED, Project="test")
        value = json.loads(secretsmanager.get_secret_value(SecretId=secret["ARN"])["SecretString"])
        assert value["username"] == role and len(value["password"]) >= 32
        assert value["password"] not in json.dumps(result)
    # Warnings (and ansible-core's deprecation of amazon.aws passing them to exit_json) are not outputs.
    outputs = {key: value for key, value in result.items()
               if key not in ("changed", "diff", "ansible_facts", "invocation", "warnings", "deprecations", "api_calls")}
    assert result["ansible_facts"]["mlops_database"] == outputs
    assert outputs == {
        "instance_identifier": INSTANCE,
        "status": instance["DBInstanceStatus"],
        "endpoint": instance["Endpoint"]["Address"],
        "port": 5432,
        "master_username": "mlops_admin",
        "master_user_secret_arn": instance["MasterUserSecret"]["SecretArn"],
        "security_group_id": group["GroupId"],
        "subnet_group": "mlops-dev-postgres",
        "parameter_group": "mlops-dev-postgres17",
        "kms_key_arn": key["Arn"],
        "databases": {"feast_registry": {"owner": "feast"}, "mlflow": {"owner": "mlflow"}},
        "role_secrets": {role: {"name": "mlops-dev/database/%s" % role, "arn": secret_arns[role]}
                         for role in ("feast", "mlflow")},
    }
    assert result["diff"]["before"] == {}
    assert result["diff"]["after"]["security_group"]["ingress"] == ["tcp/5432 from 10.0.1.0/24",
                                                                    "tcp/5432 from 10.0.2.0/24"]


# What a run with nothing to do reads: one call per resource kind (plus the tags RDS and
# KMS keep apart). A regression to per-resource or per-rule calls changes these numbers.
NO_OP_READS = {
    "DescribeSubnets": 1,
    "DescribeSecurityGroups": 1,
    "DescribeKey": 1,
    "ListResourceTags": 1,
    "GetKeyRotationStatus": 1,
    "DescribeDBSubnetGroups": 1,
    "DescribeDBParameterGroups": 1,
    "DescribeDBParameters": 1,
    "ListTagsForResource": 2,
    "DescribeDBInstances": 1,
    "ListSecrets": 1,
}


def test_a_second_run_only_reads(network, api_calls, capsys):
    args = module_args(network)
    first = converge(capsys, api_calls, args)

    code, result = run(capsys, args)

    with capsys.disabled():
        print("\nno-op read calls (database): %s" % dict(sorted(counts(api_calls).items())))
    assert code == 0 and result["changed"] is False
    assert writes(api_calls) == []
    assert counts(api_calls) == NO_OP_READS
    assert result["api_calls"] == {"total": 12, "writes": 0, "by_operation": NO_OP_READS}
    assert result["diff"]["before"] == result["diff"]["after"]
    assert result["master_user_secret_arn"] == first["master_user_secret_arn"]


def test_waiting_on_an_available_instance_costs_nothing_more(network, api_calls, capsys):
    args = module_args(network)
    converge(capsys, api_calls, args)

    code, result = run(capsys, dict(args, wait=True))

    assert code == 0 and result["changed"] is False
    assert counts(api_calls) == NO_OP_READS
    assert result["status"] == "available" and result["endpoint"]


def test_check_mode_on_an_empty_account_predicts_everything(network, api_calls, capsys):
    code, result = run(capsys, module_args(network), check_mode=True)

    assert code == 0, result.get("msg")
    assert result["changed"] is True
    assert writes(api_calls) == []
    assert result["diff"]["before"] == {}
    after = result["diff"]["after"]
    assert set(after) == {"kms_key", "security_group", "subnet_group", "parameter_group", "instance", "role_secrets"}
    assert sorted(after["role_secrets"]) == ["feast", "mlflow"]
    assert result["role_secrets"]["mlflow"] == {"name": "mlops-dev/database/mlflow", "arn": db.UNKNOWN}
    assert after["security_group"]["egress"] == []
    assert after["parameter_group"]["parameters"] == {"rds.force_ssl": "1"}
    assert after["instance"]["security_group_ids"] == [db.UNKNOWN]
    assert (result["status"], result["endpoint"], result["master_user_secret_arn"], result["kms_key_arn"]) == \
        (db.UNKNOWN, None, db.UNKNOWN, db.UNKNOWN)
    assert boto3.client("rds", region_name=REGION).describe_db_instances()["DBInstances"] == []


def test_check_mode_before_the_network_exists(aws, api_calls, capsys):
    """The network is itself only planned: its ids are unknown, nothing is read from EC2."""
    args = dict(environment="dev", name_prefix=PREFIX, vpc_id=db.UNKNOWN, subnet_ids=[db.UNKNOWN, db.UNKNOWN],
                allowed_cidrs=["10.0.1.0/24"])
    code, result = run(capsys, args, check_mode=True)

    assert code == 0, result.get("msg")
    assert result["changed"] is True
    assert writes(api_calls) == []
    assert not [op for op in operations(api_calls) if op in ("DescribeSubnets", "DescribeSecurityGroups")]
    assert result["diff"]["after"]["subnet_group"]["subnet_ids"] == [db.UNKNOWN, db.UNKNOWN]

    code, result = run(capsys, args)
    assert code == 1 and "vpc_id: '(known after apply)' is still unknown" in result["msg"]


def test_check_mode_on_a_converged_account_reports_nothing(network, api_calls, capsys):
    args = module_args(network)
    converge(capsys, api_calls, args)

    code, result = run(capsys, args, check_mode=True)

    assert code == 0 and result["changed"] is False
    assert writes(api_calls) == []
    assert result["diff"]["before"] == result["diff"]["after"]


def test_drift_is_repaired_with_exactly_the_writes_needed(network, api_calls, capsys):
    args = module_args(network)
    converge(capsys, api_calls, args)
    ec2 = boto3.client("ec2", region_name=REGION)
    rds = boto3.client("rds", region_name=REGION)
    kms = boto3.client("kms", region_name=REGION)
    group_id = owned_group(network)["GroupId"]
    # Behind the module's back: backup retention, an SSH rule and an egress rule in the owned
    # group, TLS switched off, key rotation switched off.
    rds.modify_db_instance(DBInstanceIdentifier=INSTANCE, BackupRetentionPeriod=1, ApplyImmediately=True)
    ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    ec2.authorize_security_group_egress(GroupId=group_id, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    rds.modify_db_parameter_group(DBParameterGroupName="mlops-dev-postgres17", Parameters=[
        {"ParameterName": "rds.force_ssl", "ParameterValue": "0", "ApplyMethod": "immediate"}])
    kms.disable_key_rotation(KeyId=kms.describe_key(KeyId="alias/mlops-dev-database")["KeyMetadata"]["KeyId"])
    api_calls.clear()

    code, plan_result = run(capsys, args, check_mode=True)
    assert code == 0 and plan_result["changed"] is True and writes(api_calls) == []
    before, after = plan_result["diff"]["before"], plan_result["diff"]["after"]
    assert before["instance"]["backup_retention_days"] == 1 and after["instance"]["backup_retention_days"] == 7
    assert "tcp/22 from 0.0.0.0/0" in before["security_group"]["ingress"]
    assert after["security_group"]["egress"] == []
    assert (before["parameter_group"]["parameters"], after["parameter_group"]["parameters"]) == \
        ({"rds.force_ssl": "0"}, {"rds.force_ssl": "1"})
    assert (before["kms_key"]["rotation"], after["kms_key"]["rotation"]) == (False, True)
    api_calls.clear()

    code, result = run(capsys, args)

    assert code == 0 and result["changed"] is True
    assert sorted(writes(api_calls)) == ["EnableKeyRotation", "ModifyDBInstance", "ModifyDBParameterGroup",
                                         "RevokeSecurityGroupEgress", "RevokeSecurityGroupIngress"]
    (modify,) = [r["DBInstance"] for op, r in api_calls if op == "ModifyDBInstance"]
    assert modify["BackupRetentionPeriod"] == 7
    group = owned_group(network)
    assert db.rules_of(group["IpPermissions"]) == db.desired_ingress(5432, network["cidrs"], [])
    assert group["IpPermissionsEgress"] == []
    api_calls.clear()
    code, result = run(capsys, args)
    assert result["changed"] is False and writes(api_calls) == []


def test_modify_request_carries_only_what_differs(network, api_calls, capsys, monkeypatch):
    args = module_args(network)
    converge(capsys, api_calls, args)
    boto3.client("rds", region_name=REGION).modify_db_instance(DBInstanceIdentifier=INSTANCE,
                                                               BackupRetentionPeriod=1, ApplyImmediately=True)
    requests = []
    original = module_under_test.Database.ensure_instance

    def spy(database):
        requests.append(module_under_test.db.modification(
            database.config, database.names, database.security_group_id, database.key_arn, database.instance.live)[0])
        return original(database)

    monkeypatch.setattr(module_under_test.Database, "ensure_instance", spy)
    api_calls.clear()
    code, result = run(capsys, args)
    assert code == 0
    assert requests == [{"DBInstanceIdentifier": INSTANCE, "BackupRetentionPeriod": 7, "ApplyImmediately": True}]


def test_allowed_sources_follow_the_inputs(network, api_calls, capsys):
    converge(capsys, api_calls, module_args(network))

    # EKS now exists: its nodes' group replaces the private subnets' CIDRs.
    args = module_args(network, allowed_cidrs=[], allowed_security_group_ids=[network["nodes"]])
    code, result = run(capsys, args)

    assert code == 0 and result["changed"] is True
    assert sorted(writes(api_calls)) == ["AuthorizeSecurityGroupIngress", "RevokeSecurityGroupIngress"]
    assert db.rules_of(owned_group(network)["IpPermissions"]) == {("tcp", 5432, 5432, "group", network["nodes"])}
    assert result["diff"]["after"]["security_group"]["ingress"] == ["tcp/5432 from %s" % network["nodes"]]


def test_a_config_change_is_one_modify(network, api_calls, capsys):
    converge(capsys, api_calls, module_args(network))

    code, result = run(capsys, module_args(network, config={"deletion_protection": True, "backup_retention_days": 14}))

    assert code == 0 and result["changed"] is True
    assert writes(api_calls) == ["ModifyDBInstance"]
    instance = boto3.client("rds", region_name=REGION).describe_db_instances(DBInstanceIdentifier=INSTANCE)[
        "DBInstances"][0]
    assert (instance["DeletionProtection"], instance["BackupRetentionPeriod"]) == (True, 14)
    # Leave it deletable for the stand-in's teardown.
    converge(capsys, api_calls, module_args(network))


def test_a_major_upgrade_gets_its_parameter_group(network, api_calls, capsys):
    converge(capsys, api_calls, module_args(network))

    code, result = run(capsys, module_args(network, config={"engine_version": "18.1"}))

    assert code == 0, result.get("msg")
    assert sorted(writes(api_calls)) == ["CreateDBParameterGroup", "ModifyDBInstance", "ModifyDBParameterGroup"]
    assert result["parameter_group"] == "mlops-dev-postgres18"
    code, result = run(capsys, module_args(network, config={"engine_version": "17.6"}))
    assert code == 1
    assert "config.engine_version: '17.6' is a major downgrade from the running 18.1" in result["msg"]


@pytest.mark.parametrize("config, message", [
    ({"instance_class": "m5.large"}, "config.instance_class: 'm5.large'"),
    ({"storage_type": "io1", "allocated_storage_gib": 50},
     "config.allocated_storage_gib: 50 is below the minimum of 100 GiB for io1 storage"),
    ({"allocated_storage_gib": 10}, "config.allocated_storage_gib: 10"),
])
def test_bad_config_is_refused_before_any_call(network, api_calls, capsys, config, message):
    api_calls.clear()
    code, result = run(capsys, module_args(network, config=config))

    assert code == 1
    assert message in result["msg"]
    assert api_calls == []


def test_bad_network_inputs_are_refused_before_any_call(network, api_calls, capsys):
    api_calls.clear()
    code, result = run(capsys, module_args(network, subnet_ids=network["subnet_ids"][:1], allowed_cidrs=["10.0.0.1/8"]))

    assert code == 1
    assert [error["path"] for error in result["errors"]] == ["allowed_cidrs[0]", "subnet_ids"]
    assert api_calls == []


def test_multi_az_with_subnets_in_one_zone_is_refused_after_the_subnet_read(network, api_calls, capsys):
    ec2 = boto3.client("ec2", region_name=REGION)
    same_zone = ec2.create_subnet(VpcId=network["vpc_id"], CidrBlock="10.0.3.0/24",
                                  AvailabilityZone=REGION + "a")["Subnet"]["SubnetId"]
    api_calls.clear()
    code, result = run(capsys, module_args(network, subnet_ids=[network["subnet_ids"][0], same_zone],
                                           config={"multi_az": True}))

    assert code == 1
    assert [error["path"] for error in result["errors"]] == ["config.multi_az", "subnet_ids"]
    assert operations(api_calls) == ["DescribeSubnets"]


def test_resources_of_someone_else_are_left_alone(network, api_calls, capsys):
    ec2 = boto3.client("ec2", region_name=REGION)
    ec2.create_security_group(GroupName="mlops-dev-postgres", Description="someone else's", VpcId=network["vpc_id"])
    api_calls.clear()

    code, result = run(capsys, module_args(network))

    assert code == 1
    assert "names the security group mlops-dev-postgres" in result["msg"]
    assert "not owned by the database of environment dev" in result["msg"]
    assert writes(api_calls) == []


def foreign_subnet_group(network):
    """The subnet group name taken by someone else (a DBA's group, tagged their way)."""
    return boto3.client("rds", region_name=REGION).create_db_subnet_group(
        DBSubnetGroupName="mlops-dev-postgres", DBSubnetGroupDescription="the DBA's", SubnetIds=network["subnet_ids"],
        Tags=[{"Key": "Owner", "Value": "dba"}])["DBSubnetGroup"]


def test_rds_resources_of_someone_else_are_refused_with_what_would_hand_them_over(network, api_calls, capsys):
    """One refusal for the RDS resources: what was found, its tags, and the tags that would hand it over."""
    group = foreign_subnet_group(network)
    rds = boto3.client("rds", region_name=REGION)
    rds.create_db_parameter_group(DBParameterGroupName="mlops-dev-postgres17", DBParameterGroupFamily="postgres17",
                                  Description="the DBA's")
    api_calls.clear()

    code, result = run(capsys, module_args(network))

    assert code == 1
    assert writes(api_calls) == []
    assert [error["path"] for error in result["errors"]] == ["name_prefix", "name_prefix"]
    assert result["errors"][0]["message"] == (
        "names the DB subnet group mlops-dev-postgres (%s), which exists but is not owned by the database of "
        "environment dev (no mlops.platform ownership tags; its tags: Owner=dba); it is left alone: remove it, choose "
        "another name_prefix, or tag it mlops.platform/managed=true, mlops.platform/environment=dev, "
        "mlops.platform/component=database to let this module take it over" % group["DBSubnetGroupArn"])
    assert "names the DB parameter group mlops-dev-postgres17 (" in result["errors"][1]["message"]
    assert "its tags: none" in result["errors"][1]["message"]

    # Tagged as the message says, the group is taken over: its tags are kept, its subnets converged.
    rds.add_tags_to_resource(ResourceName=group["DBSubnetGroupArn"],
                             Tags=[{"Key": key, "Value": value} for key, value in MANAGED.items()])
    rds.delete_db_parameter_group(DBParameterGroupName="mlops-dev-postgres17")
    code, result = run(capsys, module_args(network))
    assert code == 0, result.get("msg")
    assert "CreateDBSubnetGroup" not in writes(api_calls)
    assert result["diff"]["before"]["subnet_group"]["tags"]["mlops.platform/component"] == "database"


def test_a_parameter_group_someone_else_makes_during_the_run_is_refused_not_adopted(
        network, api_calls, capsys, monkeypatch):
    """CreateDBParameterGroup answers "already exists" and what is there is not ours: the same
    refusal. (The stand-in does not refuse a second CreateDBSubnetGroup; RDS does, alike.)"""
    make_api_call = botocore.client.BaseClient._make_api_call
    rds = boto3.client("rds", region_name=REGION)
    raced = []

    def racing(client, operation, params):
        if operation == "CreateDBParameterGroup" and not raced:
            monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", make_api_call)
            raced.append(rds.create_db_parameter_group(
                DBParameterGroupName="mlops-dev-postgres17", DBParameterGroupFamily="postgres17",
                Description="the DBA's", Tags=[{"Key": "Owner", "Value": "dba"}])["DBParameterGroup"])
        return make_api_call(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", racing)
    code, result = run(capsys, module_args(network))

    assert code == 1
    assert result["msg"].startswith(
        "name_prefix: names the DB parameter group mlops-dev-postgres17 (%s), which exists but is not owned by the "
        "database of environment dev (no mlops.platform ownership tags; its tags: Owner=dba)"
        % raced[0]["DBParameterGroupArn"]), result["msg"]
    assert rds.list_tags_for_resource(ResourceName=raced[0]["DBParameterGroupArn"])["TagList"] == [
        {"Key": "Owner", "Value": "dba"}]


def test_missing_rds_tags_are_added_and_others_kept(network, api_calls, capsys):
    args = module_args(network)
    converge(capsys, api_calls, args)
    rds = boto3.client("rds", region_name=REGION)
    group = rds.describe_db_subnet_groups(DBSubnetGroupName="mlops-dev-postgres")["DBSubnetGroups"][0]
    arns = [group["DBSubnetGroupArn"],
            rds.describe_db_instances(DBInstanceIdentifier=INSTANCE)["DBInstances"][0]["DBInstanceArn"]]
    for arn in arns:
        rds.remove_tags_from_resource(ResourceName=arn, TagKeys=["Project"])
        rds.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": "CostCenter", "Value": "42"}])
    api_calls.clear()

    code, plan = run(capsys, args, check_mode=True)
    assert code == 0 and plan["changed"] is True and writes(api_calls) == []
    assert plan["diff"]["before"]["instance"]["tags"]["Project"] is None
    assert plan["diff"]["after"]["instance"]["tags"]["Project"] == "test"
    api_calls.clear()

    code, result = run(capsys, args)
    assert code == 0 and result["changed"] is True
    assert writes(api_calls) == ["AddTagsToResource", "AddTagsToResource"]
    for arn in arns:
        tags = {tag["Key"]: tag["Value"] for tag in rds.list_tags_for_resource(ResourceName=arn)["TagList"]}
        assert (tags["Project"], tags["CostCenter"]) == ("test", "42")
    api_calls.clear()
    code, result = run(capsys, args)
    assert result["changed"] is False and writes(api_calls) == []


def test_a_foreign_key_behind_the_alias_is_refused_not_used(network, api_calls, capsys):
    """One ownership rule: a key this collection did not create is neither used nor changed."""
    kms = boto3.client("kms", region_name=REGION)
    key = kms.create_key(Description="the security team's key")["KeyMetadata"]
    kms.create_alias(AliasName="alias/mlops-dev-database", TargetKeyId=key["KeyId"])
    api_calls.clear()

    code, result = run(capsys, module_args(network))

    assert code == 1
    assert result["msg"].startswith("name_prefix: the alias alias/mlops-dev-database")
    assert key["Arn"] in result["msg"] and "mlops.platform/managed=true" in result["msg"]
    assert writes(api_calls) == []


def test_a_key_left_without_its_alias_is_finished_not_made_twice(network, api_calls, capsys):
    """A run stopped between CreateKey and CreateAlias left a tagged key: the next run aliases it."""
    kms = boto3.client("kms", region_name=REGION)
    tags = dict(MANAGED, **{"mlops.platform/resource": "alias/mlops-dev-database"})
    key = kms.create_key(Description="made by an interrupted run",
                         Tags=[{"TagKey": k, "TagValue": v} for k, v in tags.items()])["KeyMetadata"]
    api_calls.clear()

    code, result = run(capsys, module_args(network))

    assert code == 0, result
    assert result["kms_key_arn"] == key["Arn"]
    assert "CreateKey" not in writes(api_calls)
    assert "CreateAlias" in writes(api_calls)
    ours = [entry["KeyId"] for entry in kms.list_keys()["Keys"]
            if {"TagKey": "mlops.platform/component", "TagValue": "database"}
            in kms.list_resource_tags(KeyId=entry["KeyId"])["Tags"]]
    assert ours == [key["KeyId"]]


def test_secrets_never_reach_the_result(network, api_calls, capsys):
    code, result = run(capsys, module_args(network))
    assert code == 0
    assert not [op for op in operations(api_calls) if op.startswith(("GetSecretValue", "PutSecretValue"))]
    secret_arn = result["master_user_secret_arn"]
    secret = boto3.client("secretsmanager", region_name=REGION).get_secret_value(SecretId=secret_arn)["SecretString"]
    assert secret not in repr(result)


# --- what the stand-in cannot show: the real RDS API through botocore's Stubber -------------------

def captured(calls, operation):
    """A response moto gave, without its transport metadata, to replay through a Stubber."""
    response = copy.deepcopy([r for op, r in calls if op == operation][-1])
    response.pop("ResponseMetadata", None)
    return response


@pytest.fixture
def stub_rds(monkeypatch):
    """The module's RDS client behind a Stubber; EC2 and KMS stay on moto."""
    stubbers = []
    parent_client = AnsibleAWSModule.client

    def client(module, service, retry_decorator=None, **extra_params):
        made = parent_client(module, service, retry_decorator=retry_decorator, **extra_params)
        if service == "rds":
            made.client = stubbers[-1].client
        return made

    def make(rds_client):
        stubbers.append(Stubber(rds_client))
        monkeypatch.setattr(AnsibleAWSModule, "client", client)
        return stubbers[-1]

    return make


def replay_reads(stubber, calls, instance, subnet_group=None):
    """Queue the RDS reads of a run, in the module's order, with ``instance`` as the instance
    (and ``subnet_group`` as the subnet group, when given)."""
    groups = {"DBSubnetGroups": [subnet_group]} if subnet_group else captured(calls, "DescribeDBSubnetGroups")
    stubber.add_response("describe_db_subnet_groups", groups, {"DBSubnetGroupName": "mlops-dev-postgres"})
    tags = [r for op, r in calls if op == "ListTagsForResource"]
    stubber.add_response("list_tags_for_resource", {"TagList": tags[0]["TagList"]}, {"ResourceName": ANY})
    stubber.add_response("describe_db_parameter_groups", captured(calls, "DescribeDBParameterGroups"),
                         {"DBParameterGroupName": "mlops-dev-postgres17"})
    stubber.add_response("describe_db_parameters", captured(calls, "DescribeDBParameters"),
                         {"DBParameterGroupName": "mlops-dev-postgres17", "Source": "user"})
    stubber.add_response("list_tags_for_resource", {"TagList": tags[1]["TagList"]}, {"ResourceName": ANY})
    stubber.add_response("describe_db_instances", {"DBInstances": [instance]}, {"DBInstanceIdentifier": INSTANCE})


def test_creation_does_not_block_and_a_later_call_waits(network, api_calls, capsys, stub_rds, monkeypatch):
    args = module_args(network)
    converge(capsys, api_calls, args)
    run(capsys, args)
    calls = list(api_calls)
    real = captured(calls, "DescribeDBInstances")["DBInstances"][0]
    creating = dict(real, DBInstanceStatus="creating")
    del creating["Endpoint"]  # RDS has no endpoint until the instance is available

    rds = boto3.client("rds", region_name=REGION)
    stubber = stub_rds(rds)
    replay_reads(stubber, calls, creating)
    with stubber:
        code, result = run(capsys, args)
    assert code == 0, result.get("msg")
    assert (result["changed"], result["status"], result["endpoint"]) == (False, "creating", None)
    stubber.assert_no_pending_responses()

    # wait=true: the waiter (database.usable_waiter_model) polls until the instance is
    # usable, then the endpoint is read.
    monkeypatch.setattr("botocore.waiter.time.sleep", lambda seconds: None)
    stubber = stub_rds(boto3.client("rds", region_name=REGION))
    replay_reads(stubber, calls, creating)
    stubber.add_response("describe_db_instances", {"DBInstances": [creating]}, {"DBInstanceIdentifier": INSTANCE})
    stubber.add_response("describe_db_instances", {"DBInstances": [real]}, {"DBInstanceIdentifier": INSTANCE})
    stubber.add_response("describe_db_instances", {"DBInstances": [real]}, {"DBInstanceIdentifier": INSTANCE})
    with stubber:
        code, result = run(capsys, dict(args, wait=True))
    assert code == 0, result.get("msg")
    assert (result["changed"], result["status"], result["endpoint"]) == (False, "available", real["Endpoint"]["Address"])
    stubber.assert_no_pending_responses()


def test_a_change_pending_for_the_window_is_not_repeated(network, api_calls, capsys, stub_rds):
    args = module_args(network, config={"instance_class": "db.r7g.large", "performance_insights": True})
    converge(capsys, api_calls, module_args(network))
    run(capsys, module_args(network))
    calls = list(api_calls)
    real = captured(calls, "DescribeDBInstances")["DBInstances"][0]
    # AWS reports Performance Insights (moto does not) and the class change as pending.
    pending = dict(real, PerformanceInsightsEnabled=True,
                   PendingModifiedValues={"DBInstanceClass": "db.r7g.large"})

    stubber = stub_rds(boto3.client("rds", region_name=REGION))
    replay_reads(stubber, calls, pending)
    with stubber:
        code, result = run(capsys, args)
    assert code == 0, result.get("msg")
    assert result["changed"] is False
    assert result["diff"]["before"]["instance"]["instance_class"] == "db.r7g.large"
    stubber.assert_no_pending_responses()

    # Performance Insights switched off behind the module's back: one modify, which waits
    # for the window too, since ApplyImmediately would also apply the queued class change.
    stubber = stub_rds(boto3.client("rds", region_name=REGION))
    replay_reads(stubber, calls, dict(pending, PerformanceInsightsEnabled=False))
    stubber.add_response("modify_db_instance", {"DBInstance": pending}, {
        "DBInstanceIdentifier": INSTANCE, "EnablePerformanceInsights": True, "PerformanceInsightsRetentionPeriod": 7,
        "PerformanceInsightsKMSKeyId": result["kms_key_arn"], "ApplyImmediately": False})
    with stubber:
        code, result = run(capsys, args)
    assert code == 0, result.get("msg")
    assert result["changed"] is True
    stubber.assert_no_pending_responses()


def test_the_wait_ends_on_a_usable_status_and_fails_fast_on_a_stuck_one(network, api_calls, capsys, stub_rds,
                                                                        monkeypatch):
    """storage-optimization (hours after any storage change or autoscaling) serves
    connections: the wait ends there. incompatible-parameters never ends by itself: the
    wait fails at once with the status, not after the timeout."""
    args = dict(module_args(network), wait=True)
    converge(capsys, api_calls, module_args(network))
    run(capsys, module_args(network))
    calls = list(api_calls)
    real = captured(calls, "DescribeDBInstances")["DBInstances"][0]
    modifying = dict(real, DBInstanceStatus="modifying")
    optimizing = dict(real, DBInstanceStatus="storage-optimization")
    monkeypatch.setattr("botocore.waiter.time.sleep", lambda seconds: None)

    stubber = stub_rds(boto3.client("rds", region_name=REGION))
    replay_reads(stubber, calls, modifying)
    stubber.add_response("describe_db_instances", {"DBInstances": [optimizing]}, {"DBInstanceIdentifier": INSTANCE})
    stubber.add_response("describe_db_instances", {"DBInstances": [optimizing]}, {"DBInstanceIdentifier": INSTANCE})
    with stubber:
        code, result = run(capsys, args)
    assert code == 0, result.get("msg")
    assert (result["status"], result["endpoint"]) == ("storage-optimization", real["Endpoint"]["Address"])
    stubber.assert_no_pending_responses()

    stubber = stub_rds(boto3.client("rds", region_name=REGION))
    replay_reads(stubber, calls, modifying)
    stubber.add_response("describe_db_instances", {"DBInstances": [dict(real, DBInstanceStatus="incompatible-parameters")]},
                         {"DBInstanceIdentifier": INSTANCE})
    with stubber:
        code, result = run(capsys, args)
    assert code == 1
    assert result["msg"] == ("the DB instance mlops-dev-postgres is incompatible-parameters, which it does not leave "
                             "by itself; see its events in the RDS console")
    stubber.assert_no_pending_responses()


def converged_reads(network, api_calls, capsys):
    """``(args, calls, instance)``: a converge's module arguments, then a run's reads with nothing
    to do (to replay through a Stubber) and the instance they read."""
    args = module_args(network)
    converge(capsys, api_calls, args)
    run(capsys, args)
    calls = list(api_calls)
    return args, calls, captured(calls, "DescribeDBInstances")["DBInstances"][0]


def test_other_subnets_are_one_modify_of_the_subnet_group(network, api_calls, capsys, stub_rds):
    """The stand-in's ModifyDBSubnetGroup drops the group: RDS's is driven through the Stubber."""
    args, calls, instance = converged_reads(network, api_calls, capsys)
    group = captured(calls, "DescribeDBSubnetGroups")["DBSubnetGroups"][0]
    elsewhere = dict(group, Subnets=[dict(group["Subnets"][0], SubnetIdentifier="subnet-0123456789abcdef0")])

    stubber = stub_rds(boto3.client("rds", region_name=REGION))
    replay_reads(stubber, calls, instance, subnet_group=elsewhere)
    stubber.add_response("modify_db_subnet_group", {"DBSubnetGroup": group}, {
        "DBSubnetGroupName": "mlops-dev-postgres", "SubnetIds": sorted(network["subnet_ids"])})
    with stubber:
        code, result = run(capsys, args)
    assert code == 0, result.get("msg")
    assert result["changed"] is True and writes(api_calls) == ["ModifyDBSubnetGroup"]
    assert (result["diff"]["before"]["subnet_group"]["subnet_ids"], result["diff"]["after"]["subnet_group"][
        "subnet_ids"]) == (["subnet-0123456789abcdef0"], sorted(network["subnet_ids"]))
    stubber.assert_no_pending_responses()


def test_a_wait_that_runs_out_says_how_long_and_the_last_status(network, api_calls, capsys, stub_rds, monkeypatch):
    args, calls, instance = converged_reads(network, api_calls, capsys)
    modifying = dict(instance, DBInstanceStatus="modifying")
    monkeypatch.setattr("botocore.waiter.time.sleep", lambda seconds: None)

    stubber = stub_rds(boto3.client("rds", region_name=REGION))
    replay_reads(stubber, calls, modifying)
    stubber.add_response("describe_db_instances", {"DBInstances": [modifying]}, {"DBInstanceIdentifier": INSTANCE})
    with stubber:
        code, result = run(capsys, dict(args, wait=True, wait_timeout=30))
    assert code == 1
    assert result["msg"] == ("the DB instance mlops-dev-postgres did not become usable (available, "
                             "storage-optimization, backing-up) within 30 s; its status is modifying")
    stubber.assert_no_pending_responses()


def test_a_stopped_instance_is_reported_when_waited_for(network, api_calls, capsys, stub_rds):
    args, calls, real = converged_reads(network, api_calls, capsys)

    stubber = stub_rds(boto3.client("rds", region_name=REGION))
    replay_reads(stubber, calls, dict(real, DBInstanceStatus="stopped"))
    with stubber:
        code, result = run(capsys, dict(args, wait=True))
    assert code == 1
    assert result["msg"] == ("the DB instance mlops-dev-postgres is stopped; it will not become available until it is "
                             "started (this module never starts or stops it)")


def test_wait_only_reads_just_the_instance(network, api_calls, capsys):
    """The second call of start-then-wait does not read the key and groups again."""
    converge(capsys, api_calls, module_args(network))
    code, result = run(capsys, module_args(network, wait_only=True))
    assert code == 0, result.get("msg")
    assert operations(api_calls) == ["DescribeDBInstances"]
    assert result["changed"] is False and "ansible_facts" not in result
    assert result["endpoint"] and result["status"] == "available"


def test_wait_only_without_an_instance_says_to_converge_first(network, api_calls, capsys):
    code, result = run(capsys, module_args(network, wait_only=True))
    assert code == 1
    assert result["msg"] == ("there is no DB instance mlops-dev-postgres to wait for; converge the database first "
                             "(wait_only=false)")


def test_a_lost_create_secret_answer_makes_no_second_secret_and_a_rerun_keeps_the_password(
        network, api_calls, capsys, lose_answers):
    lost = lose_answers("CreateSecret")
    result = converge(capsys, api_calls, module_args(network))
    assert lost == ["CreateSecret"]
    secretsmanager = boto3.client("secretsmanager", region_name=REGION)
    names = sorted(s["Name"] for s in secretsmanager.list_secrets()["SecretList"] if "/database/" in s["Name"])
    assert names == ["mlops-dev/database/feast", "mlops-dev/database/mlflow"]
    password = secretsmanager.get_secret_value(SecretId="mlops-dev/database/mlflow")["SecretString"]

    code, again = run(capsys, module_args(network))
    assert code == 0 and again["changed"] is False and writes(api_calls) == []
    assert secretsmanager.get_secret_value(SecretId="mlops-dev/database/mlflow")["SecretString"] == password
    assert again["role_secrets"] == result["role_secrets"]


def test_a_password_secret_someone_else_made_is_left_alone(network, api_calls, capsys):
    secretsmanager = boto3.client("secretsmanager", region_name=REGION)
    secretsmanager.create_secret(Name="mlops-dev/database/mlflow", SecretString="theirs")
    api_calls.clear()

    code, result = run(capsys, module_args(network))

    assert code != 0
    assert "config.databases" in result["msg"] and "mlops-dev/database/mlflow" in result["msg"], result["msg"]
    assert writes(api_calls) == []
    assert secretsmanager.get_secret_value(SecretId="mlops-dev/database/mlflow")["SecretString"] == "theirs"


def test_lost_security_group_answers_make_one_group_and_count_as_done(network, api_calls, capsys, lose_answers):
    """A lost CreateSecurityGroup answer finds the group by its name; lost rule answers, sent
    again, meet "already there" / "not there" and are done."""
    lost = lose_answers("CreateSecurityGroup", "AuthorizeSecurityGroupIngress", "RevokeSecurityGroupEgress")

    code, result = run(capsys, module_args(network))

    assert code == 0, result.get("msg")
    assert sorted(lost) == ["AuthorizeSecurityGroupIngress", "CreateSecurityGroup", "RevokeSecurityGroupEgress"]
    ec2 = boto3.client("ec2", region_name=REGION)
    groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [network["vpc_id"]]},
                                                   {"Name": "group-name", "Values": ["mlops-dev-postgres"]}])
    assert [group["GroupId"] for group in groups["SecurityGroups"]] == [result["security_group_id"]]
    group = owned_group(network)
    assert db.rules_of(group["IpPermissions"]) == db.desired_ingress(5432, network["cidrs"], [])
    assert group["IpPermissionsEgress"] == []
    api_calls.clear()
    code, again = run(capsys, module_args(network))
    assert again["changed"] is False and writes(api_calls) == []


def test_only_a_group_this_run_created_is_waited_for(network, api_calls, capsys, monkeypatch):
    """EC2 may not know a group for a moment after CreateSecurityGroup: the rule writes right
    after it wait that out; on a group found already there, the same refusal is the answer."""
    make_api_call = botocore.client.BaseClient._make_api_call
    refused = []

    def not_known_yet(client, operation, params):
        if operation == "AuthorizeSecurityGroupIngress" and len(refused) < 1:
            refused.append(operation)
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": "InvalidGroup.NotFound", "Message": "not yet"}}, operation)
        return make_api_call(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", not_known_yet)
    code, result = run(capsys, module_args(network))
    assert code == 0, result.get("msg")
    assert refused == ["AuthorizeSecurityGroupIngress"]

    ec2 = boto3.client("ec2", region_name=REGION)
    ec2.authorize_security_group_ingress(GroupId=result["security_group_id"], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])

    def gone(client, operation, params):
        if operation == "RevokeSecurityGroupIngress":
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": "InvalidGroup.NotFound", "Message": "gone"}}, operation)
        return make_api_call(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", gone)
    code, result = run(capsys, module_args(network))
    assert code == 1 and "InvalidGroup.NotFound" in result["msg"]
