"""Creates that take effect at most once (module_utils/aws.py ``create_once``).

First the rule on its own: which failures are sent again, which are looked up first, which
adopt. Then the modules' real ``main()`` against moto with an answer lost after the create
took effect (the request reached AWS, the connection broke before the answer came back):
each run ends with exactly one of the resource, as a clean run does.
"""

import boto3
import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError

from ansible_collections.mlops.platform.plugins.module_utils import aws
from ansible_collections.mlops.platform.plugins.modules import database as database_module
from ansible_collections.mlops.platform.plugins.modules import network as network_module

from conftest import run_module

REGION = "eu-west-1"


def client_error(code, status=400):
    return ClientError({"Error": {"Code": code, "Message": code},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, "CreateThing")


class Script:
    """A create call that fails as told, attempt by attempt, then answers ``"made"``."""

    def __init__(self, *failures):
        self.failures = list(failures)
        self.calls = 0

    def __call__(self):
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "made"


def no_sleep(seconds):
    pass


# --- the rule ---------------------------------------------------------------------------------

def test_a_lost_answer_is_looked_up_and_never_sent_twice_when_it_took_effect():
    call = Script(ConnectionClosedError(endpoint_url="https://ec2"))
    looked = []
    assert aws.create_once(call, lambda: looked.append(1) or "found", sleep=no_sleep) == (None, "found")
    assert call.calls == 1 and looked == [1]


def test_an_unknown_outcome_that_did_not_take_effect_is_sent_again():
    call = Script(client_error("InternalError", 500), client_error("ServiceUnavailable", 503))
    looked = []
    assert aws.create_once(call, lambda: looked.append(1), sleep=no_sleep) == ("made", None)
    assert call.calls == 3 and len(looked) == 2


def test_throttling_and_a_connection_never_made_are_sent_again_without_a_lookup():
    call = Script(client_error("ThrottlingException"), client_error("RequestLimitExceeded", 503),
                  EndpointConnectionError(endpoint_url="https://kms"))
    assert aws.create_once(call, lambda: pytest.fail("not applied: nothing to look up"), sleep=no_sleep) == (
        "made", None)
    assert call.calls == 4


def test_a_real_refusal_is_raised_at_once():
    call = Script(client_error("InvalidParameterValue"))
    with pytest.raises(ClientError):
        aws.create_once(call, lambda: pytest.fail("a refusal is not looked up"), sleep=no_sleep)
    assert call.calls == 1


def test_already_exists_adopts_ours_and_refuses_what_is_not():
    assert aws.create_once(Script(client_error("EntityAlreadyExists", 409)), lambda: "ours",
                           exists_codes=("EntityAlreadyExists",), sleep=no_sleep) == (None, "ours")
    with pytest.raises(aws.AWSResourceError) as error:
        aws.create_once(Script(client_error("EntityAlreadyExists", 409)), lambda: None,
                        exists_codes=("EntityAlreadyExists",), sleep=no_sleep,
                        foreign=lambda: aws.AWSResourceError("config.name", "exists and is not ours"))
    assert str(error.value) == "config.name: exists and is not ours"


def test_done_codes_mean_done_only_after_an_unknown_outcome():
    call = Script(ConnectionClosedError(endpoint_url="https://ec2"), client_error("Resource.AlreadyAssociated"))
    assert aws.write_once(call, ("Resource.AlreadyAssociated",), sleep=no_sleep) is None
    assert call.calls == 2
    with pytest.raises(ClientError):  # on a first attempt it is a real conflict
        aws.write_once(Script(client_error("Resource.AlreadyAssociated")), ("Resource.AlreadyAssociated",),
                       sleep=no_sleep)


def test_attempts_are_bounded():
    call = Script(*[client_error("Throttling")] * 20)
    with pytest.raises(ClientError):
        aws.create_once(call, lambda: None, sleep=no_sleep)
    assert call.calls == aws.CREATE_ATTEMPTS


def test_the_retry_policy_knows_every_services_throttling(monkeypatch):
    monkeypatch.setattr(aws.time, "sleep", no_sleep)
    for code in ("ThrottlingException", "TooManyRequestsException", "SlowDown", "Throttling",
                 "RequestLimitExceeded", "ServiceUnavailableException"):
        attempts = []

        @aws.AWS_RETRY
        def call():
            attempts.append(1)
            if len(attempts) == 1:
                raise client_error(code)
            return "ok"

        assert call() == "ok" and len(attempts) == 2, code


# --- the modules, with an answer lost after the create took effect ----------------------------

NETWORK_CREATES = ("CreateVpc", "CreateSubnet", "CreateInternetGateway", "AttachInternetGateway",
                   "CreateRouteTable", "AssociateRouteTable", "CreateRoute", "AllocateAddress", "CreateNatGateway",
                   "CreateSecurityGroup", "AuthorizeSecurityGroupIngress", "CreateVpcEndpoint", "CreateFlowLogs")


def network_args(**config):
    base = {"cidr": "10.0.0.0/16", "availability_zone_count": 2, "nat_gateway_mode": "single",
            "interface_endpoints": ["sts"], "flow_logs": {"enabled": True, "destination": "s3"}}
    base.update(config)
    return {"config": base, "environment": "dev", "name_prefix": "mlops-dev", "region": REGION,
            "flow_logs_destination_arn": "arn:aws:s3:::mlops-dev-lake-123456789012"}  # moto: bucket ARNs only


def test_network_lost_answers_leave_one_of_everything_and_a_true_report(aws_env, lose_answers, capsys):
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket="mlops-dev-lake-123456789012", CreateBucketConfiguration={"LocationConstraint": REGION})
    lost = lose_answers(*NETWORK_CREATES)

    code, first = run_module(capsys, network_module.main, network_args())
    assert code == 0, first.get("msg")
    assert sorted(lost) == sorted(NETWORK_CREATES), "every create lost its first answer"

    ec2 = boto3.client("ec2", region_name=REGION)
    owned = [{"Name": "tag:mlops.platform/component", "Values": ["network"]}]
    assert len(ec2.describe_vpcs(Filters=owned)["Vpcs"]) == 1
    assert len(ec2.describe_subnets(Filters=owned)["Subnets"]) == 4
    assert len(ec2.describe_internet_gateways(Filters=owned)["InternetGateways"]) == 1
    assert len(ec2.describe_route_tables(Filters=owned)["RouteTables"]) == 3
    assert len(ec2.describe_addresses(Filters=owned)["Addresses"]) == 1
    assert len([nat for nat in ec2.describe_nat_gateways(Filter=owned)["NatGateways"]
                if nat["State"] in ("pending", "available")]) == 1
    assert len(ec2.describe_security_groups(Filters=owned)["SecurityGroups"]) == 1
    assert len(ec2.describe_vpc_endpoints(Filters=owned)["VpcEndpoints"]) == 2
    assert len(ec2.describe_flow_logs(Filters=owned)["FlowLogs"]) == 1

    # The first run's report was the truth: nothing is left to do.
    code, second = run_module(capsys, network_module.main, network_args())
    assert code == 0 and second["changed"] is False, second.get("diff")


def test_database_lost_answers_make_one_key_group_and_instance(aws_env, lose_answers, capsys):
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.%d.0/24" % index,
                                 AvailabilityZone=REGION + zone)["Subnet"]["SubnetId"]
               for index, zone in ((1, "a"), (2, "b"))]
    creates = ("CreateKey", "CreateAlias", "CreateSecurityGroup", "AuthorizeSecurityGroupIngress",
               "RevokeSecurityGroupEgress", "CreateDBSubnetGroup", "CreateDBParameterGroup",
               "CreateDBInstance")
    lost = lose_answers(*creates)
    args = dict(environment="dev", name_prefix="mlops-dev", vpc_id=vpc_id, subnet_ids=subnets,
                allowed_cidrs=["10.0.0.0/16"], config={}, region=REGION)

    code, first = run_module(capsys, database_module.main, args)
    assert code == 0, first.get("msg")
    assert sorted(lost) == sorted(creates)

    kms = boto3.client("kms", region_name=REGION)
    ours = [key["KeyId"] for key in kms.list_keys()["Keys"]
            if {"TagKey": "mlops.platform/component", "TagValue": "database"}
            in kms.list_resource_tags(KeyId=key["KeyId"])["Tags"]]
    assert len(ours) == 1
    rds = boto3.client("rds", region_name=REGION)
    assert len(rds.describe_db_instances()["DBInstances"]) == 1
    groups = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["mlops-dev-postgres"]}])
    assert len(groups["SecurityGroups"]) == 1

    code, second = run_module(capsys, database_module.main, args)
    assert code == 0 and second["changed"] is False, second.get("diff")


@pytest.fixture
def aws_env(aws):
    yield


def test_the_retry_policy_rides_out_a_broken_connection_on_reads(monkeypatch):
    monkeypatch.setattr(aws.time, "sleep", no_sleep)
    attempts = []

    @aws.AWS_RETRY
    def read():
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionClosedError(endpoint_url="https://rds")
        return "ok"

    assert read() == "ok" and len(attempts) == 3


# --- waits that a throttled poll does not end ----------------------------------------------------

class Waits:
    """A stand-in for a botocore waiter: each wait() ends as scripted (an exception, or done)."""

    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.calls = []

    def wait(self, **params):
        self.calls.append(params)
        outcome = self.outcomes.pop(0)
        if outcome is not None:
            raise outcome


def waiter_error(code):
    from botocore.exceptions import WaiterError

    return WaiterError(name="ClusterActive", reason="An error occurred (%s): no" % code,
                       last_response={"Error": {"Code": code, "Message": "no"}})


def test_a_wait_ended_by_throttling_or_a_broken_connection_is_started_again():
    waits = Waits(waiter_error("Throttling"), ConnectionClosedError(endpoint_url="https://eks"), None)
    aws.wait_until(waits, sleep=no_sleep, name="c")
    assert waits.calls == [{"name": "c"}] * 3


def test_a_wait_ended_by_the_resource_is_reported_at_once():
    from botocore.exceptions import WaiterError

    failed = WaiterError(name="ClusterActive", reason="Waiter encountered a terminal failure state",
                         last_response={"cluster": {"status": "FAILED"}})
    waits = Waits(failed, None)
    with pytest.raises(WaiterError):
        aws.wait_until(waits, sleep=no_sleep, name="c")
    assert len(waits.calls) == 1
    endless = Waits(*[waiter_error("ThrottlingException")] * aws.WAIT_ATTEMPTS)
    with pytest.raises(WaiterError):
        aws.wait_until(endless, sleep=no_sleep)
    assert len(endless.calls) == aws.WAIT_ATTEMPTS


def test_every_wait_goes_through_time_sleep_as_it_is_when_it_waits(monkeypatch):
    """A patch of time.sleep (lose_answers's) reaches create_once, write_once and wait_until."""
    slept = []
    monkeypatch.setattr(aws.time, "sleep", slept.append)
    assert aws.create_once(Script(client_error("Throttling")), lambda: None) == ("made", None)
    assert aws.write_once(Script(client_error("SlowDown")), ()) == "made"
    aws.wait_until(Waits(waiter_error("Throttling"), None), name="c")
    assert len(slept) == 3 and all(0 <= seconds <= 1 for seconds in slept)


# --- paginate ----------------------------------------------------------------------------------------

def test_paginate_gives_every_item_and_nothing_for_a_key_no_page_carries(aws_env):
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="mlops-pages", CreateBucketConfiguration={"LocationConstraint": REGION})
    assert aws.paginate(s3, "list_objects_v2", "CommonPrefixes", Bucket="mlops-pages", Delimiter="/") == []
    for key in ("raw/", "processed/x", "top"):
        s3.put_object(Bucket="mlops-pages", Key=key, Body=b"")
    assert [entry["Prefix"] for entry in aws.paginate(s3, "list_objects_v2", "CommonPrefixes", Bucket="mlops-pages",
                                                      Delimiter="/", MaxKeys=1)] == ["processed/", "raw/"]
