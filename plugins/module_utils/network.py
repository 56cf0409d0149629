# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure logic of the environment's network: checks, subnet carving, the desired topology, diffs.

No Ansible and no network calls: the ``network`` module reads the live VPC once, hands
it to these functions and calls AWS only for what they say differs.

Every resource the component owns carries the ownership tags of
``component.managed_tags(environment, "network", tags)`` plus ``Name`` and
``mlops.platform/resource``, a stable key (``subnet/private/eu-west-1a``,
``nat-gateway/eu-west-1a``, ...) by which a live resource is matched to its desired
counterpart. The key, not the ``Name``, is the identity: renaming a resource in the
console does not make the module replace it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags
from ansible_collections.mlops.platform.plugins.module_utils import config_schema as platform_config
from ansible_collections.mlops.platform.plugins.module_utils import naming
from ansible_collections.mlops.platform.plugins.module_utils.component import KEY_TAG, UNKNOWN, is_owned, managed_tags  # noqa: F401 pylint: disable=unused-import
from ansible_collections.mlops.platform.plugins.module_utils.regions import REGION_AZ_COUNT  # noqa: F401 pylint: disable=unused-import
from ansible_collections.mlops.platform.plugins.module_utils.resource_policy import POLICY_VERSION
from ansible_collections.mlops.platform.plugins.module_utils.schema_engine import ConfigError
from ansible_collections.mlops.platform.plugins.module_utils.security_group import rule_sort_key, rules_of

COMPONENT = "network"
TIERS = ("public", "private", "intra")
DEFAULT_ROUTE = "0.0.0.0/0"
HTTPS = 443

# Subnet layout carved from the VPC, fixed for up to MAX_AZS zones so that a subnet's
# CIDR depends only on its tier and its zone's position, never on how many zones are
# used: growing from two zones to three adds subnets and moves none.
#   private: the VPC split in 8 (newbits 3); zone i takes block i (blocks 0-5)
#   public:  block 6 split in 8 again (newbits 6 from the VPC); zone i takes sub-block i
#   intra:   block 7, likewise
# A /16 VPC gives /19 private subnets (8,187 usable addresses each, room for EKS pods on
# the VPC CNI) and /22 public and intra subnets (1,019 each).
MAX_AZS = 6
_TIER_LAYOUT = {"private": (3, None), "public": (6, 6), "intra": (6, 7)}
MIN_SUBNET_PREFIX = 16
MAX_SUBNET_PREFIX = 28

GATEWAY_SERVICES = ("s3", "dynamodb")

# An S3 ARN of a bucket with an optional prefix: where the lake keeps its logs.
_S3_ARN = re.compile(r"^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^\s]*)?$")

# Log delivery for CloudWatch Logs flow logs: a role the flow-logs service assumes for
# this account's flow logs only, allowed to write to one log group.
FLOW_LOGS_PRINCIPAL = "vpc-flow-logs.amazonaws.com"
FLOW_LOGS_MAX_AGGREGATION_SECONDS = 600


class CarveError(Exception):
    """A tier whose subnets cannot be carved; ``path`` is the config key to fix."""

    def __init__(self, path, message):
        super(CarveError, self).__init__(message)
        self.path = path
        self.message = message


# ---------------------------------------------------------------------------------------
# Checks before any call


def schema_rule_errors(config, region, base="config"):
    """The cross-component rules of the one schema that concern this block, at ``base`` paths.

    The configuration play runs them over the whole inventory; a module call given its
    block directly gets the same checks (explicit AZs in the region, their count,
    subnets inside the VPC, sized /16-/28, not overlapping, one per AZ) from the same code.
    """
    return platform_config.component_rule_errors(
        "mlops_infrastructure", "network", config, {"name": "network", "region": region}, base)


def check_config(config, region, flow_logs_destination_arn=None, base="config"):
    """Every problem with the network block that can be known before any call.

    ``config`` is the block merged over the defaults and validated by the schema.
    """
    errors = schema_rule_errors(config, region, base)
    # the schema's rules include the zone count against REGION_AZ_COUNT
    count = len(config["availability_zones"]) or config["availability_zone_count"]
    if not any(error.path.startswith(base + ".") and "subnet" in error.path for error in errors):
        try:
            carve_subnets(config, count, base)
        except CarveError as exc:
            errors.append(ConfigError(exc.path, exc.message))
    flow_logs = config["flow_logs"]
    if flow_logs["enabled"] and flow_logs["destination"] == "s3":
        if not flow_logs_destination_arn:
            errors.append(ConfigError(
                base + ".flow_logs.destination",
                "is 's3', but flow_logs_destination_arn (the S3 ARN of the data lake's log prefix, "
                "from the data_lake component) is not given; converge the data lake first, or use "
                "'cloud-watch-logs', or disable flow logs"))
        elif not _S3_ARN.match(flow_logs_destination_arn):
            errors.append(ConfigError(
                "flow_logs_destination_arn", "is not an S3 bucket or prefix ARN (arn:aws:s3:::<bucket>[/<prefix>/])",
                flow_logs_destination_arn))
    seen = {}
    for error in errors:
        seen.setdefault((error.path, error.message), error)
    return list(seen.values())


def usable_zones(live_zones):
    """Names of the standard, available zones (no Local or Wavelength zones) of DescribeAvailabilityZones."""
    return sorted(zone["ZoneName"] for zone in live_zones
                  if zone.get("State", "available") == "available"
                  and zone.get("ZoneType", "availability-zone") == "availability-zone")


def select_zones(config, zone_names):
    """The zones used: the configured ones, or the first ``availability_zone_count`` of the account's."""
    if config["availability_zones"]:
        return list(config["availability_zones"])
    return list(zone_names[:config["availability_zone_count"]])


def check_live_zones(config, zone_names, base="config"):
    """Problems with the zones once DescribeAvailabilityZones has answered (``zone_names``: usable zones)."""
    errors = []
    listed = ", ".join(zone_names) or "none"
    if config["availability_zones"]:
        for index, zone in enumerate(config["availability_zones"]):
            if zone not in zone_names:
                errors.append(ConfigError("%s.availability_zones[%d]" % (base, index),
                                          "is not an available zone of this account (%s)" % listed, zone))
    elif len(zone_names) < config["availability_zone_count"]:
        errors.append(ConfigError(base + ".availability_zone_count",
                                  "asks for more zones than the %d this account has available in the region (%s)"
                                  % (len(zone_names), listed), config["availability_zone_count"]))
    return errors


# ---------------------------------------------------------------------------------------
# Subnet carving


def _block(vpc, newbits, index):
    """The ``index``-th /(vpc+newbits) block of ``vpc`` (without listing all of them)."""
    prefix = vpc.prefixlen + newbits
    size = 2 ** (32 - prefix)
    return ipaddress.IPv4Network((int(vpc.network_address) + index * size, prefix))


def carve_subnets(config, count, base="config"):
    """``{tier: [CIDR per zone]}`` for ``count`` zones: explicit CIDRs as given, the rest carved.

    Carved subnets take their fixed place in the layout (see ``_TIER_LAYOUT``); where an
    explicit CIDR occupies that place, the first free block of the same size is used
    instead. Raises :class:`CarveError` when a tier cannot be carved.
    """
    vpc = ipaddress.IPv4Network(config["cidr"])
    tiers = [tier for tier in TIERS if tier != "intra" or config["intra_subnets"]]
    result = {}
    taken = []
    for tier in tiers:
        explicit = config["%s_subnet_cidrs" % tier]
        if explicit:
            result[tier] = list(explicit)
            taken.extend(ipaddress.IPv4Network(cidr) for cidr in explicit)
    for tier in tiers:
        if tier in result:
            continue
        newbits, parent = _TIER_LAYOUT[tier]
        path = "%s.%s_subnet_cidrs" % (base, tier)
        prefix = vpc.prefixlen + newbits
        if prefix > MAX_SUBNET_PREFIX:
            raise CarveError(path, "is empty, and a /%d VPC is too small to carve /%d %s subnets (AWS allows /%d "
                                   "at most): list them explicitly or use a larger cidr"
                             % (vpc.prefixlen, prefix, tier, MAX_SUBNET_PREFIX))
        cidrs = []
        for index in range(count):
            preferred = _block(vpc, newbits, index if parent is None else parent * 8 + index)
            block = preferred if not any(preferred.overlaps(other) for other in taken) else None
            if block is None:
                block = next((candidate for candidate in vpc.subnets(new_prefix=prefix)
                              if not any(candidate.overlaps(other) for other in taken)), None)
            if block is None:
                raise CarveError(path, "is empty, and %s has no free /%d left for the %s subnet of zone %d "
                                       "besides the explicit subnets: list them explicitly"
                                 % (vpc, prefix, tier, index + 1))
            taken.append(block)
            cidrs.append(str(block))
        result[tier] = cidrs
    return result


# ---------------------------------------------------------------------------------------
# Desired state


def service_name(region, service):
    """The VPC endpoint service name of ``service`` (``s3``, ``ecr.dkr``...) in ``region``."""
    return "com.amazonaws.%s.%s" % (region, service)


def nat_zones(mode, azs):
    """Zones that hold a NAT gateway: none, the first zone, or every zone."""
    if mode == "single":
        return list(azs[:1])
    if mode == "per_az":
        return list(azs)
    return []


def flow_log_group_name(prefix):
    return "/mlops/%s/vpc-flow-logs" % prefix


def flow_log_role_name(prefix):
    return "%s-vpc-flow-logs" % prefix


def _tags(base_tags, name, key, extra=None):
    tags = dict(base_tags)
    tags.update(extra or {})
    tags["Name"] = name
    tags[KEY_TAG] = key
    return tags


def desired_topology(config, prefix, environment, tags, azs, region, flow_logs_destination_arn=None):
    """Every resource the network should have, keyed by its ``mlops.platform/resource`` tag.

    References between resources are by key (a route to ``nat-gateway/eu-west-1a``),
    resolved to ids by the module once the resources exist.
    """
    base_tags = managed_tags(environment, COMPONENT, tags)
    cluster_tag = {"kubernetes.io/cluster/%s" % naming.cluster_name(prefix): "shared"}
    tier_tags = {
        "public": dict(cluster_tag, **{"kubernetes.io/role/elb": "1"}),
        "private": dict(cluster_tag, **{"kubernetes.io/role/internal-elb": "1"}),
        "intra": {},
    }
    cidrs = carve_subnets(config, len(azs))

    subnets = {}
    for tier in TIERS:
        for az, cidr in zip(azs, cidrs.get(tier, [])):
            key = "subnet/%s/%s" % (tier, az)
            name = "%s-%s-%s" % (prefix, tier, az)
            subnets[key] = {"key": key, "tier": tier, "az": az, "cidr": cidr, "name": name,
                            "tags": _tags(base_tags, name, key, tier_tags[tier])}

    nat_gateways = {}
    eips = {}
    for az in nat_zones(config["nat_gateway_mode"], azs):
        name = "%s-nat-%s" % (prefix, az)
        eip_key = "eip/%s" % az
        eips[eip_key] = {"key": eip_key, "az": az, "name": name, "tags": _tags(base_tags, name, eip_key)}
        key = "nat-gateway/%s" % az
        nat_gateways[key] = {"key": key, "az": az, "name": name, "subnet": "subnet/public/%s" % az,
                             "eip": eip_key, "tags": _tags(base_tags, name, key)}
    nat_for_zone = {}
    for az in azs:
        if config["nat_gateway_mode"] == "per_az":
            nat_for_zone[az] = "nat-gateway/%s" % az
        elif config["nat_gateway_mode"] == "single":
            nat_for_zone[az] = "nat-gateway/%s" % azs[0]

    route_tables = {}

    def add_route_table(key, name, default_route, subnet_keys):
        route_tables[key] = {"key": key, "name": name, "default_route": default_route,
                             "subnets": subnet_keys, "tags": _tags(base_tags, name, key)}

    add_route_table("route-table/public", "%s-public" % prefix, "internet-gateway",
                    ["subnet/public/%s" % az for az in azs])
    for az in azs:
        add_route_table("route-table/private/%s" % az, "%s-private-%s" % (prefix, az), nat_for_zone.get(az),
                        ["subnet/private/%s" % az])
    if config["intra_subnets"]:
        add_route_table("route-table/intra", "%s-intra" % prefix, None, ["subnet/intra/%s" % az for az in azs])

    endpoint_route_tables = sorted(key for key in route_tables if key != "route-table/public")
    vpc_endpoints = {}
    for service in config["gateway_endpoints"]:
        key = "vpc-endpoint/%s" % service
        name = "%s-%s" % (prefix, service)
        vpc_endpoints[service] = {"key": key, "service": service, "service_name": service_name(region, service),
                                  "type": "Gateway", "route_tables": endpoint_route_tables, "subnets": [],
                                  "private_dns": False, "tags": _tags(base_tags, name, key)}
    for service in config["interface_endpoints"]:
        key = "vpc-endpoint/%s" % service
        name = "%s-%s" % (prefix, service)
        vpc_endpoints[service] = {"key": key, "service": service, "service_name": service_name(region, service),
                                  "type": "Interface", "route_tables": [],
                                  "subnets": ["subnet/private/%s" % az for az in azs],
                                  "private_dns": True, "tags": _tags(base_tags, name, key)}

    security_group = None
    if config["interface_endpoints"]:
        key = "security-group/vpc-endpoints"
        name = "%s-vpc-endpoints" % prefix
        security_group = {"key": key, "name": name,
                          "description": "HTTPS from the VPC to its interface endpoints (mlops.platform)",
                          "ingress": [ingress_rule(config["cidr"])], "tags": _tags(base_tags, name, key)}

    flow_log = None
    flow_logs = config["flow_logs"]
    if flow_logs["enabled"]:
        name = "%s-vpc-flow-logs" % prefix
        flow_log = {"key": "flow-log", "name": name, "traffic_type": flow_logs["traffic_type"],
                    "destination_type": flow_logs["destination"], "retention_days": flow_logs["retention_days"],
                    "tags": _tags(base_tags, name, "flow-log")}
        if flow_logs["destination"] == "s3":
            flow_log["destination"] = flow_logs_destination_arn
        else:
            flow_log["destination"] = flow_log_group_name(prefix)
            flow_log["role_name"] = flow_log_role_name(prefix)

    vpc_name = "%s-vpc" % prefix
    igw_name = "%s-igw" % prefix
    return {
        "availability_zones": list(azs),
        "vpc": {"key": "vpc", "name": vpc_name, "cidr": config["cidr"], "tags": _tags(base_tags, vpc_name, "vpc")},
        "subnets": subnets,
        "internet_gateway": {"key": "internet-gateway", "name": igw_name,
                             "tags": _tags(base_tags, igw_name, "internet-gateway")},
        "eips": eips,
        "nat_gateways": nat_gateways,
        "route_tables": route_tables,
        "security_group": security_group,
        "vpc_endpoints": vpc_endpoints,
        "flow_log": flow_log,
        "owner_tags": base_tags,
    }


def ingress_rule(cidr):
    """HTTPS from ``cidr``, as a security_group rule."""
    return ("tcp", HTTPS, HTTPS, "cidr", cidr)


def flow_log_trust_policy(account_id, partition, region):
    """Trust for the flow-logs service, for this account's flow logs only (confused deputy)."""
    return {
        "Version": POLICY_VERSION,
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": FLOW_LOGS_PRINCIPAL},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account_id},
                "ArnLike": {"aws:SourceArn": "arn:%s:ec2:%s:%s:vpc-flow-log/*" % (partition, region, account_id)},
            },
        }],
    }


def flow_log_delivery_policy(log_group_arn):
    """What delivery needs, on the one log group: its streams and events."""
    return {
        "Version": POLICY_VERSION,
        "Statement": [{
            "Sid": "DeliverVpcFlowLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogGroups",
                       "logs:DescribeLogStreams"],
            "Resource": [log_group_arn, log_group_arn + ":*"],
        }],
    }


# ---------------------------------------------------------------------------------------
# Reading: live resources matched to their keys


def tag_dict(resource):
    """A describe result's ``Tags`` as a dict."""
    return boto3_tag_list_to_ansible_dict(resource.get("Tags") or [])


def owned_by_key(resources, environment):
    """``({key: resource}, [unwanted duplicates])`` of the resources this component owns.

    ``resources`` are describe results. When two owned resources claim one key (an
    interrupted run that created twice), the oldest, by id order of the describe, is
    kept and the other is returned as a duplicate to remove.
    """
    by_key = {}
    duplicates = []
    for resource in resources:
        tags = tag_dict(resource)
        if not is_owned(tags, environment, COMPONENT) or not tags.get(KEY_TAG):
            continue
        if tags[KEY_TAG] in by_key:
            duplicates.append(resource)
        else:
            by_key[tags[KEY_TAG]] = resource
    return by_key, duplicates


LIVE_NAT_STATES = ("pending", "available")
LIVE_ENDPOINT_STATES = ("pendingacceptance", "pending", "available")


# ---------------------------------------------------------------------------------------
# Differences


def tags_to_set(current, desired):
    """Tags to add or correct; tags set by other tools are left alone (no purge)."""
    return compare_aws_tags(current, desired, purge_tags=False)[0]


def route_target(route):
    """``(kind, id)`` of a route's target; kinds match the EC2 CreateRoute parameters."""
    for kind in ("NatGatewayId", "GatewayId", "TransitGatewayId", "VpcPeeringConnectionId", "NetworkInterfaceId",
                 "InstanceId", "EgressOnlyInternetGatewayId", "LocalGatewayId", "CarrierGatewayId",
                 "CoreNetworkArn"):
        if route.get(kind):
            return kind, route[kind]
    return None, None


def default_route_action(routes, wanted, owned_targets):
    """What to do with a route table's IPv4 default route.

    ``routes``: the table's Routes from DescribeRouteTables; ``wanted``: ``(kind, id)``
    or None; ``owned_targets``: ids of gateways this component owns. Returns
    ``"create"``, ``"replace"``, ``"delete"`` or None. Without a wanted route, a
    default route to something the component does not own (a transit gateway set up by
    a network team) is left alone.
    """
    current = next((route for route in routes if route.get("DestinationCidrBlock") == DEFAULT_ROUTE), None)
    if wanted is None:
        if current is None:
            return None
        kind, target = route_target(current)
        if target in owned_targets or current.get("State") == "blackhole":
            return "delete"
        return None
    if current is None:
        return "create"
    if route_target(current) != tuple(wanted) or current.get("State") == "blackhole":
        return "replace"
    return None


# The endpoints' group holds IPv4 CIDR rules; rules naming other groups or prefix lists are
# someone else's and kept.
RULE_KINDS = ("cidr",)


def describe_ingress(permissions):
    """The group's IPv4 CIDR rules for the diff: ``tcp/443-443 from 10.0.0.0/16``."""
    return ["%s/%s-%s from %s" % (protocol, from_port, to_port, source) for protocol, from_port, to_port, unused, source
            in sorted(rules_of(permissions, RULE_KINDS), key=rule_sort_key)]


def ids_in(value):
    """Every string in a call's parameters (nested lists and dicts): the ids it names."""
    if isinstance(value, dict):
        return {item for nested in value.values() for item in ids_in(nested)}
    if isinstance(value, (list, tuple)):
        return {item for nested in value for item in ids_in(nested)}
    return {value} if isinstance(value, str) else set()


def _attachment_changes(changes, current, wanted, name):
    """Add ``Add<name>``/``Remove<name>`` to ``changes`` where ``current`` differs from ``wanted``."""
    add, remove = sorted(set(wanted) - set(current)), sorted(set(current) - set(wanted))
    if add:
        changes["Add" + name] = add
    if remove:
        changes["Remove" + name] = remove


def endpoint_changes(live, route_table_ids, subnet_ids, group_ids, private_dns):
    """ModifyVpcEndpoint parameters that bring ``live`` to the wanted attachments ({} if none)."""
    changes = {}
    if live["VpcEndpointType"] == "Gateway":
        _attachment_changes(changes, live.get("RouteTableIds") or [], route_table_ids, "RouteTableIds")
        return changes
    _attachment_changes(changes, live.get("SubnetIds") or [], subnet_ids, "SubnetIds")
    _attachment_changes(changes, [group["GroupId"] for group in live.get("Groups") or []], group_ids,
                        "SecurityGroupIds")
    if bool(live.get("PrivateDnsEnabled")) != private_dns:
        changes["PrivateDnsEnabled"] = private_dns
    return changes


def flow_log_matches(live, wanted, role_arn=None):
    """Whether a live flow log (DescribeFlowLogs) records what ``wanted`` asks; flow logs are immutable."""
    if live.get("TrafficType") != wanted["traffic_type"] or live.get("LogDestinationType") != wanted["destination_type"]:
        return False
    if wanted["destination_type"] == "s3":
        return live.get("LogDestination") == wanted["destination"]
    return live.get("LogGroupName") == wanted["destination"] and (
        role_arn is None or live.get("DeliverLogsPermissionArn") == role_arn)
