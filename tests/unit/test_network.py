"""The environment's network: checks, subnet carving, the plan, and the converge against moto.

The module's main() runs in-process against moto (fixture ``aws``) with every API call
recorded (fixture ``api_calls``). What moto cannot show - a NAT gateway still pending,
an S3 flow-log destination with a prefix, an endpoint service a region does not offer -
is driven with botocore's Stubber, which checks every request against the real API model.
"""

import collections
import ipaddress
import json

import boto3
import botocore.client
import botocore.exceptions
import pytest
from botocore.stub import ANY, Stubber
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.mlops.platform.plugins.module_utils import network as net
from ansible_collections.mlops.platform.plugins.module_utils import network_nat
from ansible_collections.mlops.platform.plugins.module_utils import network_writer
from ansible_collections.mlops.platform.plugins.module_utils import security_group as sg
from ansible_collections.mlops.platform.plugins.module_utils.aws import AWSResourceError
from ansible_collections.mlops.platform.plugins.module_utils.config_schema import NETWORK
from ansible_collections.mlops.platform.plugins.modules import network as module_under_test

from conftest import component_config, run_module, writes

REGION = "eu-west-1"
ENVIRONMENT = "dev"
PREFIX = "mlops-dev"
LAKE_LOGS = "arn:aws:s3:::mlops-dev-lake-123456789012/vpc-flow-logs/"
LAKE_BUCKET_ONLY = "arn:aws:s3:::mlops-dev-lake-123456789012"


def config_with(**overrides):
    return component_config(NETWORK, **overrides)


def args(check_mode=False, **config):
    result = {"config": config, "environment": ENVIRONMENT, "name_prefix": PREFIX, "tags": {"Project": "test"},
              "region": REGION, "flow_logs_destination_arn": LAKE_BUCKET_ONLY}
    if check_mode:
        result["_ansible_check_mode"] = True
    return result


def operations(calls):
    return collections.Counter(operation for operation, response in calls)


# --- checks before any call ---------------------------------------------------------------------


def test_the_default_configuration_is_valid_in_every_region_of_the_table():
    for region in net.REGION_AZ_COUNT:
        assert net.check_config(config_with(), region, LAKE_LOGS) == []


def test_more_zones_than_the_region_has_is_refused_with_its_path():
    problems = [str(p) for p in net.check_config(config_with(availability_zone_count=3), "us-west-1", LAKE_LOGS)]
    assert problems == ["config.availability_zone_count: asks for 3 availability zones, but us-west-1 has 2"]


def test_overlapping_and_out_of_range_subnets_are_refused_with_their_paths():
    config = config_with(public_subnet_cidrs=["10.0.0.0/24", "10.1.0.0/24"],
                         private_subnet_cidrs=["10.0.0.0/20", "10.0.16.0/20"])
    problems = [str(p) for p in net.check_config(config, REGION, LAKE_LOGS)]
    assert problems == [
        "config.public_subnet_cidrs[1]: '10.1.0.0/24' is outside the VPC CIDR 10.0.0.0/16",
        "config.private_subnet_cidrs[0]: '10.0.0.0/20' overlaps config.public_subnet_cidrs[0] (10.0.0.0/24)",
    ]


def test_s3_flow_logs_need_the_lakes_destination():
    problems = [str(p) for p in net.check_config(config_with(), REGION, None)]
    assert len(problems) == 1 and problems[0].startswith(
        "config.flow_logs.destination: is 's3', but flow_logs_destination_arn")
    assert [p.path for p in net.check_config(config_with(), REGION, "s3://bucket/prefix")] == [
        "flow_logs_destination_arn"]
    assert net.check_config(config_with(flow_logs={"destination": "cloud-watch-logs"}), REGION, None) == []


def test_a_vpc_too_small_to_carve_asks_for_explicit_subnets():
    problems = [str(p) for p in net.check_config(config_with(cidr="10.0.0.0/24"), REGION, LAKE_LOGS)]
    assert problems == ["config.public_subnet_cidrs: is empty, and a /24 VPC is too small to carve /30 public "
                        "subnets (AWS allows /28 at most): list them explicitly or use a larger cidr"]


@pytest.mark.parametrize("bad, path", [
    ({"nat_gateway_mode": "two"}, "config.nat_gateway_mode"),
    ({"interface_endpoints": ["ecr.api", "sagemaker"]}, "config.interface_endpoints[1]"),
    ({"gateway_endpoints": ["s3", "sqs"]}, "config.gateway_endpoints[1]"),
    ({"availability_zone_count": 4}, "config.availability_zone_count"),
    ({"private_subnet_cidrs": ["10.0.0.0/19", "10.0.16.0/20"]}, "config.private_subnet_cidrs[1]"),
    ({"public_subnet_cidrs": ["10.9.0.0/24", "10.0.200.0/24"]}, "config.public_subnet_cidrs[0]"),
])
def test_bad_input_is_refused_before_any_call(aws, api_calls, capsys, bad, path):
    code, result = run_module(capsys, module_under_test.main, args(**bad))
    assert code == 1
    assert api_calls == []
    assert path in [error["path"] for error in result["errors"]], result["msg"]


def test_s3_flow_logs_without_destination_are_refused_before_any_call(aws, api_calls, capsys):
    arguments = args()
    del arguments["flow_logs_destination_arn"]
    code, result = run_module(capsys, module_under_test.main, arguments)
    assert code == 1 and api_calls == []
    assert [error["path"] for error in result["errors"]] == ["config.flow_logs.destination"]


# --- subnet carving ---------------------------------------------------------------------------------


def test_default_layout_of_a_16():
    cidrs = net.carve_subnets(config_with(intra_subnets=True), 3)
    assert cidrs == {
        "private": ["10.0.0.0/19", "10.0.32.0/19", "10.0.64.0/19"],
        "public": ["10.0.192.0/22", "10.0.196.0/22", "10.0.200.0/22"],
        "intra": ["10.0.224.0/22", "10.0.228.0/22", "10.0.232.0/22"],
    }


def test_explicit_cidrs_are_honoured_and_carving_goes_around_them():
    # The explicit public subnets sit where private zone 1 would go: it moves to the first free /19.
    config = config_with(public_subnet_cidrs=["10.0.32.0/24", "10.0.33.0/24"])
    cidrs = net.carve_subnets(config, 2)
    assert cidrs["public"] == ["10.0.32.0/24", "10.0.33.0/24"]
    assert cidrs["private"] == ["10.0.0.0/19", "10.0.64.0/19"]


@settings(max_examples=200, deadline=None)
@given(prefix=st.integers(min_value=16, max_value=22), count=st.integers(min_value=1, max_value=net.MAX_AZS),
       intra=st.booleans(), base=st.integers(min_value=0, max_value=255))
def test_carved_subnets_never_overlap_lie_inside_the_vpc_one_per_zone_and_stay_put(prefix, count, intra, base):
    vpc = ipaddress.IPv4Network("10.%d.0.0/%d" % (base, prefix), strict=False)
    config = config_with(cidr=str(vpc), intra_subnets=intra)
    cidrs = net.carve_subnets(config, count)
    assert sorted(cidrs) == sorted(["public", "private"] + (["intra"] if intra else []))
    subnets = [ipaddress.IPv4Network(cidr) for tier in cidrs.values() for cidr in tier]
    assert all(len(tier) == count for tier in cidrs.values())
    assert all(subnet.subnet_of(vpc) for subnet in subnets)
    assert all(net.MIN_SUBNET_PREFIX <= subnet.prefixlen <= net.MAX_SUBNET_PREFIX for subnet in subnets)
    assert not any(a.overlaps(b) for i, a in enumerate(subnets) for b in subnets[i + 1:])
    assert all(ipaddress.IPv4Network(p).num_addresses > ipaddress.IPv4Network(q).num_addresses
               for p in cidrs["private"] for q in cidrs["public"])
    bigger = net.carve_subnets(config, net.MAX_AZS)
    assert all(bigger[tier][:count] == cidrs[tier] for tier in cidrs), "adding zones must not move subnets"


# --- the desired topology ---------------------------------------------------------------------------


def topology(**overrides):
    return net.desired_topology(config_with(**overrides), PREFIX, ENVIRONMENT, {"Project": "test"},
                                ["eu-west-1a", "eu-west-1b"], REGION, LAKE_LOGS)


def test_subnets_are_named_and_tagged_for_eks():
    subnets = topology()["subnets"]
    public = subnets["subnet/public/eu-west-1a"]["tags"]
    private = subnets["subnet/private/eu-west-1b"]["tags"]
    assert public["Name"] == "mlops-dev-public-eu-west-1a" and private["Name"] == "mlops-dev-private-eu-west-1b"
    assert public["kubernetes.io/role/elb"] == "1" and "kubernetes.io/role/internal-elb" not in public
    assert private["kubernetes.io/role/internal-elb"] == "1"
    assert public["kubernetes.io/cluster/mlops-dev"] == private["kubernetes.io/cluster/mlops-dev"] == "shared"
    assert private["mlops.platform/component"] == "network" and private["Project"] == "test"
    assert private[net.KEY_TAG] == "subnet/private/eu-west-1b"


@pytest.mark.parametrize("mode, nats, routes", [
    ("none", [], [None, None]),
    ("single", ["nat-gateway/eu-west-1a"], ["nat-gateway/eu-west-1a", "nat-gateway/eu-west-1a"]),
    ("per_az", ["nat-gateway/eu-west-1a", "nat-gateway/eu-west-1b"],
     ["nat-gateway/eu-west-1a", "nat-gateway/eu-west-1b"]),
])
def test_nat_modes_and_private_default_routes(mode, nats, routes):
    wanted = topology(nat_gateway_mode=mode)
    assert sorted(wanted["nat_gateways"]) == nats
    assert sorted(wanted["eips"]) == [key.replace("nat-gateway", "eip") for key in nats]
    assert [wanted["route_tables"]["route-table/private/%s" % az]["default_route"]
            for az in ("eu-west-1a", "eu-west-1b")] == routes
    assert wanted["route_tables"]["route-table/public"]["default_route"] == "internet-gateway"


def test_endpoints_route_tables_and_security_group():
    wanted = topology(intra_subnets=True, gateway_endpoints=["s3", "dynamodb"], interface_endpoints=["ecr.dkr", "sts"])
    assert wanted["route_tables"]["route-table/intra"]["default_route"] is None
    s3 = wanted["vpc_endpoints"]["s3"]
    assert s3["service_name"] == "com.amazonaws.eu-west-1.s3" and s3["type"] == "Gateway"
    assert s3["route_tables"] == ["route-table/intra", "route-table/private/eu-west-1a",
                                  "route-table/private/eu-west-1b"]
    ecr = wanted["vpc_endpoints"]["ecr.dkr"]
    assert ecr["subnets"] == ["subnet/private/eu-west-1a", "subnet/private/eu-west-1b"] and ecr["private_dns"]
    assert wanted["security_group"]["ingress"] == [("tcp", 443, 443, "cidr", "10.0.0.0/16")]
    assert topology()["security_group"] is None


# --- pure diffs ---------------------------------------------------------------------------------------


def test_default_route_actions():
    igw = ("GatewayId", "igw-1")
    assert net.default_route_action([], igw, set()) == "create"
    assert net.default_route_action([{"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-1"}], igw, set()) is None
    assert net.default_route_action([{"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": "nat-1"}],
                                    ("NatGatewayId", "nat-2"), {"nat-1"}) == "replace"
    blackhole = [{"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": "nat-1", "State": "blackhole"}]
    assert net.default_route_action(blackhole, ("NatGatewayId", "nat-1"), {"nat-1"}) == "replace"
    assert net.default_route_action([{"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": "nat-1"}], None,
                                    {"nat-1"}) == "delete"
    # A transit gateway someone else routes to, in a table without NAT, is left alone.
    assert net.default_route_action([{"DestinationCidrBlock": "0.0.0.0/0", "TransitGatewayId": "tgw-1"}], None,
                                    {"nat-1"}) is None


def test_security_group_rules_converge_to_exactly_the_wanted_ones():
    wanted = [net.ingress_rule("10.0.0.0/16")]
    # Rules naming another group are someone else's in the endpoints' group: kept.
    current = [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                "IpRanges": [{"CidrIp": "10.0.0.0/16"}, {"CidrIp": "0.0.0.0/0"}],
                "UserIdGroupPairs": [{"GroupId": "sg-1"}]}]
    authorize, revoke = sg.rule_changes(current, wanted, net.RULE_KINDS)
    assert authorize == set() and sg.permissions_of(revoke) == [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                                                                 "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    assert sg.rule_changes([], wanted, net.RULE_KINDS) == (set(wanted), set())
    # Without kinds every rule counts (the database's group holds only what it wants).
    assert sg.rule_changes(current, wanted)[1] == {("tcp", 443, 443, "cidr", "0.0.0.0/0"),
                                                   ("tcp", 443, 443, "group", "sg-1")}
    assert net.describe_ingress(current) == ["tcp/443-443 from 0.0.0.0/0", "tcp/443-443 from 10.0.0.0/16"]


def test_endpoint_changes():
    gateway = {"VpcEndpointType": "Gateway", "RouteTableIds": ["rtb-1", "rtb-9"]}
    assert net.endpoint_changes(gateway, ["rtb-1", "rtb-2"], [], [], False) == {
        "AddRouteTableIds": ["rtb-2"], "RemoveRouteTableIds": ["rtb-9"]}
    interface = {"VpcEndpointType": "Interface", "SubnetIds": ["subnet-1"], "Groups": [{"GroupId": "sg-1"}],
                 "PrivateDnsEnabled": False}
    assert net.endpoint_changes(interface, [], ["subnet-1", "subnet-2"], ["sg-1"], True) == {
        "AddSubnetIds": ["subnet-2"], "PrivateDnsEnabled": True}


def test_ownership_by_key_keeps_one_and_reports_duplicates():
    owned = {"mlops.platform/managed": "true", "mlops.platform/environment": "dev",
             "mlops.platform/component": "network", net.KEY_TAG: "subnet/public/a"}
    resources = [
        {"SubnetId": "subnet-1", "Tags": [{"Key": k, "Value": v} for k, v in owned.items()]},
        {"SubnetId": "subnet-2", "Tags": [{"Key": k, "Value": v} for k, v in owned.items()]},
        {"SubnetId": "subnet-3", "Tags": [{"Key": "Name", "Value": "foreign"}]},
        {"SubnetId": "subnet-4", "Tags": [{"Key": k, "Value": "prod" if k.endswith("environment") else v}
                                          for k, v in owned.items()]},
    ]
    by_key, duplicates = net.owned_by_key(resources, "dev")
    assert by_key == {"subnet/public/a": resources[0]} and duplicates == [resources[1]]


# --- the converge, against moto -------------------------------------------------------------------------

FULL = dict(availability_zone_count=3, nat_gateway_mode="per_az", intra_subnets=True,
            gateway_endpoints=["s3", "dynamodb"], interface_endpoints=["ecr.api", "ecr.dkr", "sts"])


@pytest.fixture
def lake(aws):
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="mlops-dev-lake-123456789012", CreateBucketConfiguration={"LocationConstraint": REGION})


def converge(capsys, config, check_mode=False):
    code, result = run_module(capsys, module_under_test.main, args(check_mode=check_mode, **config))
    assert code == 0, result.get("msg")
    return result


def test_check_mode_on_an_empty_account_predicts_everything_and_writes_nothing(lake, api_calls, capsys):
    result = converge(capsys, FULL, check_mode=True)
    assert result["changed"] is True
    assert writes(api_calls) == []
    assert result["vpc_id"] == net.UNKNOWN
    assert len(result["private_subnet_ids"]) == 3 and set(result["private_subnet_ids"]) == {net.UNKNOWN}
    assert result["private_subnet_cidrs"] == ["10.0.0.0/19", "10.0.32.0/19", "10.0.64.0/19"]
    assert result["nat_gateway_ids"] == [net.UNKNOWN] * 3
    assert sorted(result["vpc_endpoint_ids"]) == ["dynamodb", "ecr.api", "ecr.dkr", "s3", "sts"]
    after = result["diff"]["after"]
    assert result["diff"]["before"] == {}
    assert len(after["subnets"]) == 9 and len(after["route_tables"]) == 5
    assert after["route_tables"]["route-table/private/eu-west-1b"]["default_route"] == "nat-gateway/eu-west-1b"
    ec2 = boto3.client("ec2", region_name=REGION)
    assert [vpc for vpc in ec2.describe_vpcs()["Vpcs"] if not vpc["IsDefault"]] == []


def test_converge_then_nothing_to_do_with_only_a_handful_of_reads(lake, api_calls, capsys):
    result = converge(capsys, FULL)
    assert result["changed"] is True
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc_id = result["vpc_id"]
    vpc = ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]
    assert vpc["CidrBlock"] == "10.0.0.0/16"
    assert {t["Key"]: t["Value"] for t in vpc["Tags"]}["Name"] == "mlops-dev-vpc"
    assert ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsHostnames")["EnableDnsHostnames"]["Value"]
    subnets = {s["SubnetId"]: s for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]}
    assert [subnets[i]["AvailabilityZone"] for i in result["private_subnet_ids"]] == [
        "eu-west-1a", "eu-west-1b", "eu-west-1c"]
    assert [subnets[i]["CidrBlock"] for i in result["public_subnet_ids"]] == [
        "10.0.192.0/22", "10.0.196.0/22", "10.0.200.0/22"]
    nats = ec2.describe_nat_gateways(NatGatewayIds=result["nat_gateway_ids"])["NatGateways"]
    assert [nat["SubnetId"] for nat in nats] == result["public_subnet_ids"]
    tables = {t["RouteTableId"]: t for t in ec2.describe_route_tables(
        RouteTableIds=result["route_table_ids"]["private"])["RouteTables"]}
    for table_id, nat_id, subnet_id in zip(result["route_table_ids"]["private"], result["nat_gateway_ids"],
                                           result["private_subnet_ids"]):
        default = [r for r in tables[table_id]["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"]
        assert [r["NatGatewayId"] for r in default] == [nat_id]
        assert [a["SubnetId"] for a in tables[table_id]["Associations"]] == [subnet_id]
    endpoints = {e["ServiceName"]: e for e in ec2.describe_vpc_endpoints(
        VpcEndpointIds=list(result["vpc_endpoint_ids"].values()))["VpcEndpoints"]}
    sts = endpoints["com.amazonaws.eu-west-1.sts"]
    assert sts["PrivateDnsEnabled"] and sorted(sts["SubnetIds"]) == sorted(result["private_subnet_ids"])
    assert [g["GroupId"] for g in sts["Groups"]] == [result["endpoint_security_group_id"]]
    assert sorted(endpoints["com.amazonaws.eu-west-1.s3"]["RouteTableIds"]) == sorted(
        result["route_table_ids"]["private"] + [result["route_table_ids"]["intra"]])
    flow_logs = ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc_id]}])["FlowLogs"]
    assert [(f["LogDestinationType"], f["LogDestination"], f["TrafficType"]) for f in flow_logs] == [
        ("s3", LAKE_BUCKET_ONLY, "ALL")]

    api_calls.clear()
    again = converge(capsys, FULL)
    assert again["changed"] is False
    assert writes(api_calls) == [], "a no-op run must only read"
    counts = operations(api_calls)
    with capsys.disabled():
        print("\nno-op read calls:", dict(sorted(counts.items())))
    assert counts == {
        "DescribeAvailabilityZones": 1, "DescribeVpcs": 1, "DescribeVpcAttribute": 2, "DescribeAddresses": 1,
        "DescribeSubnets": 1, "DescribeRouteTables": 1, "DescribeInternetGateways": 1, "DescribeNatGateways": 1,
        "DescribeSecurityGroups": 1, "DescribeVpcEndpoints": 1, "DescribeFlowLogs": 1,
    }
    assert again["api_calls"]["writes"] == 0 and again["api_calls"]["by_operation"] == dict(counts)
    assert again["diff"]["before"] == again["diff"]["after"]
    outputs = {key: value for key, value in again.items() if key in result
               and key not in ("changed", "diff", "api_calls")}
    assert outputs == {key: value for key, value in result.items() if key in outputs}
    assert again["ansible_facts"]["mlops_network"]["vpc_id"] == vpc_id

    api_calls.clear()
    check = converge(capsys, FULL, check_mode=True)
    assert check["changed"] is False and writes(api_calls) == []


def test_a_deleted_private_default_route_is_repaired_with_exactly_one_create_route(lake, api_calls, capsys):
    result = converge(capsys, FULL)
    ec2 = boto3.client("ec2", region_name=REGION)
    table = result["route_table_ids"]["private"][1]
    ec2.delete_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0")

    api_calls.clear()
    plan = converge(capsys, FULL, check_mode=True)
    assert plan["changed"] is True and writes(api_calls) == []
    assert plan["diff"]["before"]["route_tables"]["route-table/private/eu-west-1b"]["default_route"] is None
    assert plan["diff"]["after"]["route_tables"]["route-table/private/eu-west-1b"]["default_route"] == \
        "nat-gateway/eu-west-1b"

    api_calls.clear()
    repaired = converge(capsys, FULL)
    assert repaired["changed"] is True
    assert writes(api_calls) == ["CreateRoute"]
    routes = ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"]
    assert [r["NatGatewayId"] for r in routes if r.get("DestinationCidrBlock") == "0.0.0.0/0"] == [
        result["nat_gateway_ids"][1]]
    api_calls.clear()
    assert converge(capsys, FULL)["changed"] is False and writes(api_calls) == []


def test_an_internet_gateway_left_unattached_is_attached_not_created_again(lake, api_calls, capsys):
    """A run interrupted between CreateInternetGateway and AttachInternetGateway leaves an
    owned gateway attached nowhere; the next run attaches that one instead of creating one
    more on every retry (five per region by default)."""
    result = converge(capsys, FULL)
    ec2 = boto3.client("ec2", region_name=REGION)
    ec2.detach_internet_gateway(InternetGatewayId=result["internet_gateway_id"], VpcId=result["vpc_id"])

    api_calls.clear()
    plan = converge(capsys, FULL, check_mode=True)
    assert plan["changed"] is True and writes(api_calls) == []
    api_calls.clear()
    repaired = converge(capsys, FULL)
    assert writes(api_calls) == ["AttachInternetGateway"]
    assert repaired["internet_gateway_id"] == result["internet_gateway_id"]
    owned = ec2.describe_internet_gateways(Filters=[{"Name": "tag:mlops.platform/environment", "Values": ["dev"]}])
    assert [(gateway["InternetGatewayId"], [a["VpcId"] for a in gateway["Attachments"]])
            for gateway in owned["InternetGateways"]] == [(result["internet_gateway_id"], [result["vpc_id"]])]
    api_calls.clear()
    assert converge(capsys, FULL)["changed"] is False and writes(api_calls) == []


def test_other_drift_is_repaired_exactly(lake, api_calls, capsys):
    result = converge(capsys, FULL)
    ec2 = boto3.client("ec2", region_name=REGION)
    # A subnet moved to another table, a tag changed, the endpoint group opened to the world.
    ec2.disassociate_route_table(AssociationId=[
        a["RouteTableAssociationId"] for a in ec2.describe_route_tables(
            RouteTableIds=[result["route_table_ids"]["intra"]])["RouteTables"][0]["Associations"]
        if a.get("SubnetId") == result["intra_subnet_ids"][0]][0])
    ec2.create_tags(Resources=[result["private_subnet_ids"][0]], Tags=[{"Key": "Name", "Value": "renamed"}])
    ec2.authorize_security_group_ingress(GroupId=result["endpoint_security_group_id"], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])

    api_calls.clear()
    repaired = converge(capsys, FULL)
    assert repaired["changed"] is True
    assert sorted(writes(api_calls)) == ["AssociateRouteTable", "CreateTags", "RevokeSecurityGroupIngress"]
    assert repaired["diff"]["before"]["tags"] == {"subnet/private/eu-west-1a": {"Name": "renamed"}}
    assert repaired["diff"]["after"]["tags"] == {"subnet/private/eu-west-1a": {"Name": "mlops-dev-private-eu-west-1a"}}
    api_calls.clear()
    assert converge(capsys, FULL)["changed"] is False and writes(api_calls) == []


def test_per_az_to_single_repoints_routes_then_removes_nats_and_releases_their_ips(lake, api_calls, capsys):
    result = converge(capsys, FULL)
    ec2 = boto3.client("ec2", region_name=REGION)
    single = {**FULL, "nat_gateway_mode": "single"}

    api_calls.clear()
    plan = converge(capsys, single, check_mode=True)
    assert plan["changed"] is True and writes(api_calls) == []
    assert sorted(plan["diff"]["before"]["nat_gateways"]) == [
        "nat-gateway/eu-west-1a", "nat-gateway/eu-west-1b", "nat-gateway/eu-west-1c"]
    assert sorted(plan["diff"]["after"]["nat_gateways"]) == ["nat-gateway/eu-west-1a"]

    api_calls.clear()
    changed = converge(capsys, single)
    assert changed["nat_gateway_ids"] == result["nat_gateway_ids"][:1]
    assert writes(api_calls) == ["ReplaceRoute", "ReplaceRoute", "DeleteNatGateway", "DeleteNatGateway",
                                 "ReleaseAddress", "ReleaseAddress"]
    for table in ec2.describe_route_tables(RouteTableIds=changed["route_table_ids"]["private"])["RouteTables"]:
        assert [r["NatGatewayId"] for r in table["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"] == \
            changed["nat_gateway_ids"]
    assert len(ec2.describe_addresses()["Addresses"]) == 1
    api_calls.clear()
    assert converge(capsys, single)["changed"] is False and writes(api_calls) == []


def test_fewer_zones_and_no_intra_delete_only_owned_resources(lake, api_calls, capsys):
    result = converge(capsys, FULL)
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc_id = result["vpc_id"]
    # Foreign resources in the same VPC: a subnet, a route table, a security group.
    foreign_subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.160.0/24",
                                       AvailabilityZone="eu-west-1c")["Subnet"]["SubnetId"]
    foreign_table = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    foreign_group = ec2.create_security_group(GroupName="other", Description="other", VpcId=vpc_id)["GroupId"]

    smaller = {**FULL, "availability_zone_count": 2, "intra_subnets": False, "interface_endpoints": [],
               "gateway_endpoints": ["s3"]}
    api_calls.clear()
    changed = converge(capsys, smaller)
    assert changed["changed"] is True
    assert changed["intra_subnet_ids"] == [] and changed["route_table_ids"]["intra"] is None
    assert changed["endpoint_security_group_id"] is None
    assert sorted(changed["vpc_endpoint_ids"]) == ["s3"]
    counts = operations(writes_calls(api_calls))
    assert counts == {"ModifyVpcEndpoint": 1, "DeleteVpcEndpoints": 1, "DeleteNatGateway": 1, "ReleaseAddress": 1,
                      "DisassociateRouteTable": 4, "DeleteSubnet": 5, "DeleteRouteTable": 2, "DeleteSecurityGroup": 1}
    left = {s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]}
    assert left == set(changed["public_subnet_ids"] + changed["private_subnet_ids"] + [foreign_subnet])
    assert foreign_table in {t["RouteTableId"] for t in ec2.describe_route_tables(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["RouteTables"]}
    assert foreign_group in {g["GroupId"] for g in ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["SecurityGroups"]}
    api_calls.clear()
    assert converge(capsys, smaller)["changed"] is False and writes(api_calls) == []


def test_a_foreign_group_under_the_endpoints_name_is_refused_before_any_write(lake, api_calls, capsys):
    """One ownership rule: a group this component did not create is neither adopted nor changed."""
    result = converge(capsys, {**FULL, "interface_endpoints": []})
    ec2 = boto3.client("ec2", region_name=REGION)
    foreign = ec2.create_security_group(GroupName="mlops-dev-vpc-endpoints", Description="someone else's",
                                        VpcId=result["vpc_id"])["GroupId"]
    api_calls.clear()

    code, refused = run_module(capsys, module_under_test.main, args(**FULL))

    assert code == 1
    assert refused["msg"].startswith("name_prefix: names the security group mlops-dev-vpc-endpoints (%s), which exists "
                                     "but is not owned by the network of environment dev" % foreign)
    assert "mlops.platform/managed=true" in refused["msg"]
    assert writes(api_calls) == []


def answering(monkeypatch, operation, *answers):
    """Answer the first calls of ``operation`` in turn with ``answers``, each a function of the
    call's parameters, ``send()`` (the stand-in's own answer) and ``lose()`` (the connection
    closes before the answer); later calls go through."""
    from botocore.exceptions import ConnectionClosedError

    from ansible_collections.mlops.platform.plugins.module_utils import aws

    make_api_call = botocore.client.BaseClient._make_api_call
    answered = []

    def answer(client, name, params):
        if name != operation or len(answered) == len(answers):
            return make_api_call(client, name, params)
        answered.append(name)

        def send():
            return make_api_call(client, name, params)

        def lose():
            raise ConnectionClosedError(endpoint_url=client.meta.endpoint_url)

        return answers[len(answered) - 1](params, send, lose)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", answer)
    monkeypatch.setattr(aws.time, "sleep", lambda seconds: None)
    return answered


def unsuccessful(code):
    """An answer of DeleteVpcEndpoints / DeleteFlowLogs that deleted nothing: each id in
    ``Unsuccessful`` with ``code``, as AWS answers it (not as an error)."""
    def answer(params, send, lose):
        ids = params.get("VpcEndpointIds") or params.get("FlowLogIds")
        return {"Unsuccessful": [{"ResourceId": resource_id, "Error": {"Code": code, "Message": "not deleted"}}
                                 for resource_id in ids]}
    return answer


def applied_then_lost(params, send, lose):
    send()
    lose()


ONE_ENDPOINT = dict(nat_gateway_mode="none", interface_endpoints=["sts"])
ONE_ENDPOINT_LESS = dict(nat_gateway_mode="none", interface_endpoints=[])


def test_a_foreign_group_made_after_the_read_is_refused_with_the_same_path(lake, capsys, monkeypatch):
    """The refusal before any write and the one at CreateSecurityGroup (InvalidGroup.Duplicate) name
    the same option: name_prefix, which names the group."""
    result = converge(capsys, ONE_ENDPOINT_LESS)
    ec2 = boto3.client("ec2", region_name=REGION)
    made = []

    def someone_else_first(params, send, lose):
        made.append(ec2.create_security_group(GroupName=params["GroupName"], Description="someone else's",
                                              VpcId=params["VpcId"])["GroupId"])
        return send()

    answering(monkeypatch, "CreateSecurityGroup", someone_else_first)
    code, refused = run_module(capsys, module_under_test.main, args(**ONE_ENDPOINT))

    assert code == 1
    assert refused["msg"].startswith("name_prefix: names the security group mlops-dev-vpc-endpoints (%s), which "
                                     "exists but is not owned by the network of environment dev" % made[0])
    assert [group["GroupId"] for group in ec2.describe_security_groups(Filters=[
        {"Name": "vpc-id", "Values": [result["vpc_id"]]},
        {"Name": "group-name", "Values": ["mlops-dev-vpc-endpoints"]}])["SecurityGroups"]] == made


def test_lost_revoke_and_delete_answers_count_as_done(lake, api_calls, capsys, lose_answers):
    """A revoke or delete whose answer is lost is sent again and meets "not there": done, not a failure."""
    result = converge(capsys, FULL)
    ec2 = boto3.client("ec2", region_name=REGION)
    ec2.authorize_security_group_ingress(GroupId=result["endpoint_security_group_id"], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    lost = lose_answers("RevokeSecurityGroupIngress")
    api_calls.clear()
    assert converge(capsys, FULL)["changed"] is True
    assert lost == ["RevokeSecurityGroupIngress"]
    assert [type(answer).__name__ if isinstance(answer, Exception) else "ok" for operation, answer in api_calls
            if operation == "RevokeSecurityGroupIngress"] == ["ok", "ClientError"]  # lost, then "not there"

    smaller = {**FULL, "intra_subnets": False, "interface_endpoints": []}
    lost = lose_answers("DeleteSubnet", "DeleteRouteTable", "DeleteSecurityGroup", "DisassociateRouteTable")
    changed = converge(capsys, smaller)
    assert changed["changed"] is True and sorted(lost[1:]) == ["DeleteRouteTable", "DeleteSecurityGroup",
                                                               "DeleteSubnet", "DisassociateRouteTable"]
    api_calls.clear()
    assert converge(capsys, smaller)["changed"] is False and writes(api_calls) == []


def test_an_endpoint_delete_vpc_endpoints_could_not_delete_fails_the_run_with_its_path(lake, capsys, monkeypatch):
    """DeleteVpcEndpoints answers what it could not delete in Unsuccessful, with HTTP 200: that
    is a failure, not a change made."""
    result = converge(capsys, ONE_ENDPOINT)
    answering(monkeypatch, "DeleteVpcEndpoints", unsuccessful("OperationNotPermitted"))

    code, refused = run_module(capsys, module_under_test.main, args(**ONE_ENDPOINT_LESS))

    assert code == 1, refused
    assert refused["msg"] == ("config.interface_endpoints: DeleteVpcEndpoints could not delete %s: not deleted "
                              "(OperationNotPermitted)" % result["vpc_endpoint_ids"]["sts"])
    ec2 = boto3.client("ec2", region_name=REGION)
    assert ec2.describe_security_groups(GroupIds=[result["endpoint_security_group_id"]])["SecurityGroups"], \
        "nothing that depends on the endpoint is deleted after the failure"


def test_an_endpoint_already_gone_after_a_lost_answer_counts_as_deleted(lake, capsys, monkeypatch):
    converge(capsys, ONE_ENDPOINT)
    answered = answering(monkeypatch, "DeleteVpcEndpoints", applied_then_lost,
                         unsuccessful("InvalidVpcEndpoint.NotFound"))

    assert converge(capsys, ONE_ENDPOINT_LESS)["changed"] is True
    assert answered == ["DeleteVpcEndpoints"] * 2
    assert converge(capsys, ONE_ENDPOINT_LESS)["changed"] is False


S3_FLOW_LOGS = dict(nat_gateway_mode="none", gateway_endpoints=[])


def test_a_flow_log_that_delete_flow_logs_could_not_delete_fails_the_run_with_its_path(lake, capsys, monkeypatch):
    converge(capsys, S3_FLOW_LOGS)
    ec2 = boto3.client("ec2", region_name=REGION)
    (old,) = ec2.describe_flow_logs()["FlowLogs"]
    answering(monkeypatch, "DeleteFlowLogs", unsuccessful("OperationNotPermitted"))

    code, refused = run_module(capsys, module_under_test.main, args(**{**S3_FLOW_LOGS,
                                                                       "flow_logs": {"traffic_type": "REJECT"}}))

    assert code == 1, refused
    assert refused["msg"] == ("config.flow_logs: DeleteFlowLogs could not delete %s: not deleted "
                              "(OperationNotPermitted)" % old["FlowLogId"])
    assert [flow_log["FlowLogId"] for flow_log in ec2.describe_flow_logs()["FlowLogs"]] == [old["FlowLogId"]]


@pytest.mark.parametrize("gone", [unsuccessful("InvalidFlowLogId.NotFound"), None], ids=["aws", "stand-in"])
def test_a_flow_log_already_gone_after_a_lost_answer_counts_as_deleted(lake, capsys, monkeypatch, gone):
    """AWS reports the flow log gone in Unsuccessful; the stand-in raises InvalidFlowLogId.NotFound."""
    converge(capsys, S3_FLOW_LOGS)
    rejected = {**S3_FLOW_LOGS, "flow_logs": {"traffic_type": "REJECT"}}
    answered = answering(monkeypatch, "DeleteFlowLogs", applied_then_lost,
                         *([gone] if gone else [lambda params, send, lose: send()]))

    assert converge(capsys, rejected)["changed"] is True
    assert answered == ["DeleteFlowLogs"] * 2
    ec2 = boto3.client("ec2", region_name=REGION)
    assert [flow_log["TrafficType"] for flow_log in ec2.describe_flow_logs()["FlowLogs"]] == ["REJECT"]
    assert converge(capsys, rejected)["changed"] is False


def test_only_calls_naming_what_this_run_created_wait_for_it(lake, api_calls, capsys, monkeypatch):
    """The settling retry is for a call right after the change it depends on; any other call
    takes "not found" as the real answer."""
    make_api_call = botocore.client.BaseClient._make_api_call
    refused = []

    def not_known_yet(client, operation, params):
        if operation == "CreateSubnet" and not refused:
            refused.append(operation)
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": "InvalidVpcID.NotFound", "Message": "not yet"}}, operation)
        return make_api_call(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", not_known_yet)
    result = converge(capsys, {**FULL, "interface_endpoints": []})
    assert refused == ["CreateSubnet"] and len(result["private_subnet_ids"]) == 3

    writer = network_writer.Ec2Writer(FakeModule(None), ENVIRONMENT)
    writer.made.add("vpc-new")
    assert writer.settling({"VpcId": "vpc-new", "TagSpecifications": []}) == network_writer.NOT_KNOWN_YET
    assert writer.settling({"VpcId": "vpc-older"}) == ()


def writes_calls(calls):
    return [(operation, response) for operation, response in calls if operation in writes(calls)]


def test_cloud_watch_logs_flow_logs_with_a_least_privilege_role(aws, api_calls, capsys):
    config = dict(flow_logs={"destination": "cloud-watch-logs", "retention_days": 30}, nat_gateway_mode="none")
    result = converge(capsys, config)
    logs = boto3.client("logs", region_name=REGION)
    group = logs.describe_log_groups(logGroupNamePrefix="/mlops/mlops-dev/vpc-flow-logs")["logGroups"][0]
    assert group["retentionInDays"] == 30
    iam = boto3.client("iam", region_name=REGION)
    role = iam.get_role(RoleName="mlops-dev-vpc-flow-logs")["Role"]
    statement = role["AssumeRolePolicyDocument"]["Statement"][0]
    assert statement["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": "123456789012"}
    policy = iam.get_role_policy(RoleName="mlops-dev-vpc-flow-logs", PolicyName="vpc-flow-logs-delivery")
    assert policy["PolicyDocument"]["Statement"][0]["Resource"] == [
        group["logGroupArn"] if "logGroupArn" in group else group["arn"][:-2], group["arn"]]
    ec2 = boto3.client("ec2", region_name=REGION)
    (flow_log,) = ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [result["vpc_id"]]}])["FlowLogs"]
    assert flow_log["LogGroupName"] == "/mlops/mlops-dev/vpc-flow-logs"
    assert flow_log["DeliverLogsPermissionArn"] == role["Arn"]

    api_calls.clear()
    again = converge(capsys, config)
    assert again["changed"] is False and writes(api_calls) == []
    counts = operations(api_calls)
    with capsys.disabled():
        print("\nno-op read calls (cloud-watch-logs):", dict(sorted(counts.items())))
    assert counts["GetCallerIdentity"] == 1 and counts["GetRole"] == 1 and counts["GetRolePolicy"] == 1
    assert counts["DescribeLogGroups"] == 1 and counts["ListTagsForResource"] == 1

    # Moving flow logs to the lake removes the CloudWatch flow log and its role, keeps the log group.
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="mlops-dev-lake-123456789012", CreateBucketConfiguration={"LocationConstraint": REGION})
    api_calls.clear()
    moved = converge(capsys, dict(nat_gateway_mode="none"))
    assert moved["changed"] is True
    assert writes(api_calls) == ["DeleteFlowLogs", "DeleteRolePolicy", "DeleteRole", "CreateFlowLogs"]
    assert logs.describe_log_groups(logGroupNamePrefix="/mlops/mlops-dev/vpc-flow-logs")["logGroups"]


def test_foreign_log_group_is_refused(aws, capsys):
    boto3.client("logs", region_name=REGION).create_log_group(logGroupName="/mlops/mlops-dev/vpc-flow-logs")
    code, result = run_module(capsys, module_under_test.main,
                              args(flow_logs={"destination": "cloud-watch-logs"}, nat_gateway_mode="none"))
    assert code == 1
    assert result["msg"].startswith("config.flow_logs.destination: the log group /mlops/mlops-dev/vpc-flow-logs "
                                    "exists and is not managed by this component")


def test_foreign_delivery_role_is_refused_and_left_alone(aws, api_calls, capsys):
    iam = boto3.client("iam", region_name=REGION)
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "vpc-flow-logs.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    iam.create_role(RoleName="mlops-dev-vpc-flow-logs", AssumeRolePolicyDocument=json.dumps(trust))
    del api_calls[:]
    code, result = run_module(capsys, module_under_test.main,
                              args(flow_logs={"destination": "cloud-watch-logs"}, nat_gateway_mode="none"))
    assert code == 1
    assert result["msg"].startswith("config.flow_logs.destination: the IAM role mlops-dev-vpc-flow-logs "
                                    "exists and is not managed by this component")
    assert [operation for operation in writes(api_calls) if "Role" in operation] == []
    assert iam.get_role(RoleName="mlops-dev-vpc-flow-logs")["Role"]["AssumeRolePolicyDocument"] == trust


def test_changing_a_subnet_cidr_is_refused_before_any_write(lake, api_calls, capsys):
    converge(capsys, dict(nat_gateway_mode="none"))
    api_calls.clear()
    code, result = run_module(capsys, module_under_test.main, args(
        nat_gateway_mode="none", private_subnet_cidrs=["10.0.0.0/20", "10.0.32.0/20"]))
    assert code == 1 and writes(api_calls) == []
    assert result["msg"].startswith("config.private_subnet_cidrs[0]: would be 10.0.0.0/20, but the subnet ")


def test_nat_gateway_tags_converge_through_describe_only(lake, api_calls, capsys):
    """moto files NAT gateway tags under `nat-gateway` in DescribeTags (AWS: `natgateway`); the module never asks."""
    converge(capsys, dict(nat_gateway_mode="single"))
    api_calls.clear()
    assert converge(capsys, dict(nat_gateway_mode="single"))["changed"] is False
    assert "DescribeTags" not in operations(api_calls) and writes(api_calls) == []


def test_more_zones_than_the_account_has_is_refused_before_any_write(aws, api_calls, capsys):
    code, result = run_module(capsys, module_under_test.main,
                              args(availability_zones=["eu-west-1a", "eu-west-1d"], availability_zone_count=2))
    assert code == 1 and writes(api_calls) == []
    assert [error["path"] for error in result["errors"]] == ["config.availability_zones[1]"]
    assert operations(api_calls) == {"DescribeAvailabilityZones": 1}


# --- what moto cannot show: real API shapes through Stubber -----------------------------------------------


class FakeModule:
    def __init__(self, ec2, check_mode=False):
        self._ec2 = ec2
        self.check_mode = check_mode
        self.params = {"wait_timeout": 30}
        self.region = REGION
        self.warnings = []

    def client(self, service, retry_decorator=None):
        from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
        return RetryingBotoClientWrapper(self._ec2, retry_decorator)

    def once_client(self, service, region=None):
        return self._ec2

    def warn(self, message):
        self.warnings.append(message)

    def fail_json_aws(self, exc, msg):
        raise AssertionError("%s: %s" % (msg, exc))


def stubbed_network(config, check_mode=False):
    ec2 = boto3.client("ec2", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    network = module_under_test.Network(FakeModule(ec2, check_mode), config, ENVIRONMENT)
    return network, Stubber(ec2)


def test_nat_gateways_are_all_started_then_waited_for_together(monkeypatch):
    config = config_with(nat_gateway_mode="per_az", flow_logs={"enabled": False}, gateway_endpoints=[])
    wanted = net.desired_topology(config, PREFIX, ENVIRONMENT, {}, ["eu-west-1a", "eu-west-1b"], REGION)
    network, stub = stubbed_network(config)
    network.desired = wanted
    network.subnets = {key: {"SubnetId": "subnet-%d" % index} for index, key in enumerate(sorted(wanted["subnets"]))}
    for index, az in enumerate(["eu-west-1a", "eu-west-1b"]):
        stub.add_response("allocate_address", {"AllocationId": "eipalloc-%d" % index},
                          {"Domain": "vpc", "TagSpecifications": ANY})
        stub.add_response("create_nat_gateway", {"NatGateway": {"NatGatewayId": "nat-%d" % index, "State": "pending"}},
                          {"SubnetId": network.subnets["subnet/public/%s" % az]["SubnetId"],
                           "AllocationId": "eipalloc-%d" % index, "ConnectivityType": "public",
                           "TagSpecifications": ANY, "ClientToken": ANY})
    # One waiter for both: the first poll sees one still pending, the second sees both available.
    stub.add_response("describe_nat_gateways", {"NatGateways": [{"NatGatewayId": "nat-0", "State": "available"},
                                                                {"NatGatewayId": "nat-1", "State": "pending"}]},
                      {"NatGatewayIds": ["nat-0", "nat-1"]})
    stub.add_response("describe_nat_gateways", {"NatGateways": [{"NatGatewayId": "nat-0", "State": "available"},
                                                                {"NatGatewayId": "nat-1", "State": "available"}]},
                      {"NatGatewayIds": ["nat-0", "nat-1"]})
    monkeypatch.setattr(network_nat, "NAT_WAIT_DELAY", 1)
    with stub:
        assert network.nat_gateways.ensure() is True
    stub.assert_no_pending_responses()
    assert [network.nats[key]["NatGatewayId"] for key in sorted(network.nats)] == ["nat-0", "nat-1"]


def test_a_nat_gateway_left_pending_by_an_interrupted_run_is_waited_for(monkeypatch):
    """The run that started it was interrupted before its wait: this run waits too, so
    private routes point at a gateway that passes traffic when the module returns."""
    config = config_with(nat_gateway_mode="single", flow_logs={"enabled": False}, gateway_endpoints=[])
    wanted = net.desired_topology(config, PREFIX, ENVIRONMENT, {}, ["eu-west-1a", "eu-west-1b"], REGION)
    network, stub = stubbed_network(config)
    network.desired = wanted
    key = next(iter(wanted["nat_gateways"]))  # "single": one NAT gateway
    network.nats = {key: {"NatGatewayId": "nat-0", "State": "pending", "Tags": ansible_dict_to_boto3_tag_list(
        wanted["nat_gateways"][key]["tags"]), "NatGatewayAddresses": []}}
    stub.add_response("describe_nat_gateways", {"NatGateways": [{"NatGatewayId": "nat-0", "State": "available"}]},
                      {"NatGatewayIds": ["nat-0"]})
    monkeypatch.setattr(network_nat, "NAT_WAIT_DELAY", 1)
    with stub:
        changed = network.nat_gateways.ensure()
    stub.assert_no_pending_responses()
    assert changed is False


def test_flow_logs_to_the_lakes_log_prefix_and_a_refused_destination():
    config = config_with(nat_gateway_mode="none")
    wanted = net.desired_topology(config, PREFIX, ENVIRONMENT, {}, ["eu-west-1a"], REGION, LAKE_LOGS)
    network, stub = stubbed_network(config)
    network.desired = wanted
    network.vpc = {"VpcId": "vpc-1"}
    request = {"ResourceIds": ["vpc-1"], "ResourceType": "VPC", "TrafficType": "ALL", "LogDestinationType": "s3",
               "LogDestination": LAKE_LOGS, "MaxAggregationInterval": 600, "TagSpecifications": ANY, "ClientToken": ANY}
    stub.add_response("create_flow_logs", {"FlowLogIds": ["fl-1"], "Unsuccessful": []}, request)
    with stub:
        changed = network.vpc_flow_logs.ensure()
    assert network.flow_logs[0]["FlowLogId"] == "fl-1" and changed is True

    network, stub = stubbed_network(config)
    network.desired = wanted
    network.vpc = {"VpcId": "vpc-1"}
    stub.add_response("create_flow_logs", {"FlowLogIds": [], "Unsuccessful": [
        {"ResourceId": "vpc-1", "Error": {"Code": "400", "Message": "Access Denied for LogDestination"}}]}, request)
    with stub, pytest.raises(AWSResourceError) as error:
        network.vpc_flow_logs.ensure()
    assert str(error.value).startswith("config.flow_logs.destination: CreateFlowLogs refused " + LAKE_LOGS)


def test_an_endpoint_service_the_region_does_not_offer_is_refused_before_any_write():
    config = config_with(interface_endpoints=["ecr.api", "bedrock-runtime"], flow_logs={"enabled": False})
    wanted = net.desired_topology(config, PREFIX, ENVIRONMENT, {}, ["eu-west-1a"], REGION)
    network, stub = stubbed_network(config)
    network.desired = wanted
    stub.add_client_error("describe_vpc_endpoint_services", "InvalidServiceName",
                          "The Vpc Endpoint Service 'com.amazonaws.eu-west-1.bedrock-runtime' does not exist",
                          expected_params={"ServiceNames": ANY})
    with stub, pytest.raises(AWSResourceError) as error:
        network.preflight()
    assert str(error.value) == ("config.interface_endpoints[1]: 'bedrock-runtime' is not offered in this region "
                                "(com.amazonaws.eu-west-1.bedrock-runtime)")


def test_a_nat_gateway_that_fails_reports_its_failure_message_at_once(monkeypatch):
    """botocore's waiter stops on a failed gateway; its FailureMessage is the error, not a timeout."""
    config = config_with(nat_gateway_mode="single", flow_logs={"enabled": False}, gateway_endpoints=[])
    network, stub = stubbed_network(config)
    monkeypatch.setattr(network_nat, "NAT_WAIT_DELAY", 1)
    failed = {"NatGatewayId": "nat-0", "State": "failed", "FailureCode": "InsufficientFreeAddressesInSubnet",
              "FailureMessage": "Subnet has insufficient free addresses to create this NAT gateway"}
    stub.add_response("describe_nat_gateways", {"NatGateways": [failed]}, {"NatGatewayIds": ["nat-0"]})
    stub.add_response("describe_nat_gateways", {"NatGateways": [failed]}, {"NatGatewayIds": ["nat-0"]})
    with stub, pytest.raises(AWSResourceError) as error:
        network.nat_gateways.wait("nat_gateway_available", ["nat-0"])
    stub.assert_no_pending_responses()
    assert str(error.value) == ("config.nat_gateway_mode: NAT gateway creation failed: nat-0 (failed): Subnet has "
                                "insufficient free addresses to create this NAT gateway")
