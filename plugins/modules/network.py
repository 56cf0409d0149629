#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: network
short_description: Converge an environment's VPC - subnets, gateways, route tables, endpoints, flow logs
version_added: 0.1.0
description:
  - Converges the network of one environment in one call - a VPC from a CIDR, public, private and
    (optional) intra subnets in N availability zones, an internet gateway, NAT gateways (none, one,
    or one per zone) with their Elastic IPs, route tables and their associations, gateway and
    interface VPC endpoints with their security group, and VPC flow logs.
  - Reads the whole topology once (one describe per resource kind, filtered by the VPC), computes
    the difference and calls only what differs. A run with nothing to do makes only read calls.
    Check mode predicts every creation on an empty account, with C((known after apply)) for ids.
  - Ownership is by tag. Every resource created carries C(mlops.platform/managed=true),
    C(mlops.platform/environment), C(mlops.platform/component=network) and
    C(mlops.platform/resource) (its stable key, e.g. C(subnet/private/eu-west-1a)). Only owned
    resources that the configuration no longer wants are deleted; foreign resources in the same
    VPC (subnets, route tables, routes, endpoints, security groups, flow logs made by other tools)
    are never touched. A security group named as the endpoints' group (C(<name_prefix>-vpc-endpoints))
    that the network does not own is refused before any change, with its id and tags.
  - Subnets are carved from C(config.cidr) deterministically - private subnets large, public and
    intra small, each zone at a fixed place so that adding a zone moves no subnet. Explicit CIDRs
    are honoured. Subnets are tagged for EKS (C(kubernetes.io/role/elb), C(kubernetes.io/role/internal-elb),
    C(kubernetes.io/cluster/<cluster>=shared)).
  - NAT gateways are all started first and then waited for together. Switching from one NAT per
    zone to a single NAT repoints the private routes first, then deletes the extra NAT gateways and
    releases their Elastic IPs.
  - The configuration is validated before any call, each problem with its dotted path - overlapping
    or out-of-range subnet CIDRs, more zones than the region has, an unknown NAT mode or endpoint
    service, S3 flow logs without a destination.
author:
  - mlops.platform contributors (@mlops-platform)
options:
  config:
    description:
      - The C(config) of the C(network) component, as in C(mlops_config.mlops_infrastructure.network.config).
        Keys, defaults and allowed values are those of docs/configuration.md; they are merged over the
        defaults and validated before any AWS call, every problem reported with its dotted path.
    type: dict
    default: {}
  flow_logs_destination_arn:
    description:
      - S3 ARN of the data lake's log prefix (for example C(arn:aws:s3:::mlops-dev-lake-123456789012/vpc-flow-logs/)),
        from the C(data_lake) component's outputs.
      - Required when flow logs are enabled with C(config.flow_logs.destination=s3).
    type: str
  wait_timeout:
    description: Seconds to wait for NAT gateways to become available, or to be deleted.
    type: int
    default: 900
extends_documentation_fragment:
  - mlops.platform.component
  - mlops.platform.assume_role
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - DNS support and DNS host names are enabled on the VPC (interface endpoints with private DNS and
    EKS need both).
  - Interface endpoints go into the private subnets (one per zone) with private DNS and the security
    group C(<prefix>-vpc-endpoints), which allows HTTPS from the VPC CIDR only. Gateway endpoints are
    associated with the private and intra route tables.
  - With C(config.flow_logs.destination=cloud-watch-logs) the module also keeps the log group
    C(/mlops/<prefix>/vpc-flow-logs) with its retention and the delivery role C(<prefix>-vpc-flow-logs)
    (trusted by C(vpc-flow-logs.amazonaws.com) for this account only, allowed to write to that log group
    only). The log group is kept when flow logs are switched off or moved to S3; its retention expires the data.
  - A route table's default route is managed only where the configuration wants one, or where it points at a
    gateway this module owns; a default route to anything else (a transit gateway) in a table without a NAT is
    left alone. Other routes are never touched.
  - A subnet's CIDR or the VPC's CIDR cannot change in place; such a change is refused with its path.
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
"""

EXAMPLES = r"""
- name: Converge the environment's network from the merged configuration
  mlops.platform.network:
    config: "{{ mlops_config.mlops_infrastructure.network.config }}"
    environment: "{{ mlops_config.mlops_environment.name }}"
    name_prefix: "{{ mlops_config.mlops_environment.name_prefix or ('mlops-' ~ mlops_config.mlops_environment.name) }}"
    tags: "{{ mlops_config.mlops_environment.tags }}"
    flow_logs_destination_arn: "{{ mlops_data_lake.flow_logs_destination_arn }}"
    assume_role: "{{ mlops_environment_access | default(omit) }}"

- name: Three zones, one NAT per zone, ECR and STS endpoints, flow logs to CloudWatch Logs
  mlops.platform.network:
    environment: dev
    name_prefix: mlops-dev
    config:
      cidr: 10.20.0.0/16
      availability_zone_count: 3
      nat_gateway_mode: per_az
      intra_subnets: true
      interface_endpoints: [ecr.api, ecr.dkr, sts, logs]
      flow_logs:
        destination: cloud-watch-logs
        retention_days: 30
"""

RETURN = r"""
vpc_id:
  description: Id of the VPC; C((known after apply)) in check mode before it exists.
  returned: always
  type: str
  sample: vpc-0a1b2c3d4e5f67890
vpc_cidr:
  description: IPv4 CIDR of the VPC.
  returned: always
  type: str
  sample: 10.0.0.0/16
availability_zones:
  description: The zones used, in order; every per-zone list below follows this order.
  returned: always
  type: list
  elements: str
  sample: [eu-west-1a, eu-west-1b]
public_subnet_ids:
  description: Public subnets, one per zone.
  returned: always
  type: list
  elements: str
  sample: [subnet-0a1b2c3d4e5f67890, subnet-0a1b2c3d4e5f67891]
private_subnet_ids:
  description: Private subnets, one per zone (EKS nodes, interface endpoints).
  returned: always
  type: list
  elements: str
  sample: [subnet-0a1b2c3d4e5f67892, subnet-0a1b2c3d4e5f67893]
intra_subnet_ids:
  description: Intra subnets (no route to the internet), one per zone; empty without C(config.intra_subnets).
  returned: always
  type: list
  elements: str
  sample: []
private_subnet_cidrs:
  description: CIDRs of the private subnets, one per zone.
  returned: always
  type: list
  elements: str
  sample: [10.0.0.0/19, 10.0.32.0/19]
route_table_ids:
  description: Route tables - C(public) (id), C(private) (ids, one per zone) and C(intra) (id, or null).
  returned: always
  type: dict
  sample: {"public": "rtb-0a1", "private": ["rtb-0a2", "rtb-0a3"], "intra": null}
nat_gateway_ids:
  description: NAT gateways, in zone order (one, one per zone, or none).
  returned: always
  type: list
  elements: str
  sample: [nat-0a1b2c3d4e5f67890]
internet_gateway_id:
  description: Id of the internet gateway.
  returned: always
  type: str
  sample: igw-0a1b2c3d4e5f67890
endpoint_security_group_id:
  description: Security group of the interface endpoints; null without interface endpoints.
  returned: always
  type: str
  sample: sg-0a1b2c3d4e5f67890
vpc_endpoint_ids:
  description: VPC endpoint ids by service (C(s3), C(ecr.dkr), ...).
  returned: always
  type: dict
  sample: {"s3": "vpce-0a1b2c3d4e5f67890", "sts": "vpce-0a1b2c3d4e5f67891"}
api_calls:
  description: The AWS API calls this run made, by operation, with the number of writes among them.
  returned: always
  type: dict
  sample: {"total": 17, "writes": 0, "by_operation": {"DescribeSubnets": 1, "DescribeVpcs": 1}}
ansible_facts:
  description: The outputs above under C(mlops_network), for the roles that follow.
  returned: always
  type: dict
  contains:
    mlops_network:
      description: RV(vpc_id), RV(vpc_cidr), RV(availability_zones), RV(public_subnet_ids), RV(private_subnet_ids),
        RV(intra_subnet_ids), RV(private_subnet_cidrs), RV(route_table_ids), RV(nat_gateway_ids),
        RV(internet_gateway_id), RV(endpoint_security_group_id), RV(vpc_endpoint_ids).
      type: dict
      returned: always
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list

from ansible_collections.mlops.platform.plugins.module_utils import network as net
from ansible_collections.mlops.platform.plugins.module_utils.aws import AWSResourceError, MlopsAWSModule
from ansible_collections.mlops.platform.plugins.module_utils.component import (
    component_argument_spec,
    fail_config,
    is_owned,
    validate_config,
)
from ansible_collections.mlops.platform.plugins.module_utils.config_schema import NETWORK
from ansible_collections.mlops.platform.plugins.module_utils.network_endpoints import VpcEndpoints
from ansible_collections.mlops.platform.plugins.module_utils.network_flow_logs import FlowLogs
from ansible_collections.mlops.platform.plugins.module_utils.network_nat import NatGateways
from ansible_collections.mlops.platform.plugins.module_utils.network_view import NetworkView
from ansible_collections.mlops.platform.plugins.module_utils.network_writer import PLANNED, Ec2Writer

UNKNOWN = net.UNKNOWN


class Network(NetworkView):
    """Reads the environment's network once and converges its VPC, subnets, internet gateway and
    route tables; NAT gateways, endpoints and flow logs through their helpers (module_utils
    network_nat, network_endpoints, network_flow_logs). Every write goes through one
    ``Ec2Writer``; every ensure_* returns its own changed. Views, state and outputs:
    module_utils.network_view."""

    def __init__(self, module, config, environment):
        super(Network, self).__init__()
        self.module = module
        self.config = config
        self.environment = environment
        self.writer = Ec2Writer(module, environment)
        self.ec2 = self.writer.ec2
        self.nat_gateways = NatGateways(self.writer, self, module.params["wait_timeout"])
        self.vpc_endpoints = VpcEndpoints(self.writer, self, config)
        self.vpc_flow_logs = FlowLogs(self.writer, self)
        self.igw_detached = False  # an owned gateway an interrupted run left unattached

    # -- reading ---------------------------------------------------------------------------

    def read_zones(self):
        return self.ec2.describe_availability_zones(aws_retry=True)["AvailabilityZones"]

    def read(self, desired):
        self.desired = desired
        paginate = self.writer.paginate
        vpcs, duplicates = net.owned_by_key(paginate("describe_vpcs", "Vpcs", Filters=self.writer.owner_filters()),
                                            self.environment)
        if duplicates:
            raise AWSResourceError("config", "this environment owns several VPCs (%s); remove the extra ones by hand"
                                   % ", ".join(sorted(v["VpcId"] for v in [vpcs["vpc"]] + duplicates)))
        self.vpc = vpcs.get("vpc")
        self.nat_gateways.read_addresses()
        if self.vpc is None:
            return
        vpc_id = self.vpc["VpcId"]
        for attribute, key in (("enableDnsSupport", "EnableDnsSupport"), ("enableDnsHostnames", "EnableDnsHostnames")):
            answer = self.ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute=attribute, aws_retry=True)
            self.vpc[key] = answer[key]["Value"]
        in_vpc = self.in_vpc()

        self.subnets, duplicates = net.owned_by_key(paginate("describe_subnets", "Subnets", Filters=in_vpc),
                                                    self.environment)
        self.unwanted["subnets"] = duplicates + [self.subnets.pop(key) for key in sorted(self.subnets)
                                                 if key not in desired["subnets"]]

        tables = paginate("describe_route_tables", "RouteTables", Filters=in_vpc)
        self.route_tables, duplicates = net.owned_by_key(tables, self.environment)
        self.unwanted["route_tables"] = duplicates + [self.route_tables.pop(key) for key in sorted(self.route_tables)
                                                      if key not in desired["route_tables"]]
        self.remember_refs(list(self.subnets.values()) + self.unwanted["subnets"], "SubnetId")
        self.remember_refs(list(self.route_tables.values()) + self.unwanted["route_tables"], "RouteTableId")
        for table in tables:
            for association in table.get("Associations") or []:
                if association.get("SubnetId"):
                    self.associations[self.ref(association["SubnetId"])] = (self.ref(table["RouteTableId"]),
                                                                            association["RouteTableAssociationId"])
        self.read_internet_gateway(vpc_id)
        self.nat_gateways.read(in_vpc)
        self.vpc_endpoints.read(in_vpc)
        self.vpc_flow_logs.read(vpc_id)

    def read_internet_gateway(self, vpc_id):
        for gateway in self.writer.paginate("describe_internet_gateways", "InternetGateways",
                                            Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}]):
            if not is_owned(net.tag_dict(gateway), self.environment, net.COMPONENT):
                raise AWSResourceError("config", "the VPC %s has the internet gateway %s, which this component does not "
                                       "own; a VPC takes only one" % (vpc_id, gateway["InternetGatewayId"]))
            self.igw = gateway
            self.refs[gateway["InternetGatewayId"]] = "internet-gateway"
        if self.igw is None:
            # A run interrupted between CreateInternetGateway and its attachment left an
            # owned gateway attached nowhere: adopt it, never create another one.
            detached = [gateway for gateway in self.writer.paginate("describe_internet_gateways", "InternetGateways",
                                                                    Filters=self.writer.owner_filters())
                        if not [attachment for attachment in gateway.get("Attachments") or []
                                if attachment.get("State") != "detached"]]
            if detached:
                self.igw = sorted(detached, key=lambda gateway: gateway["InternetGatewayId"])[0]
                self.igw_detached = True
                self.refs[self.igw["InternetGatewayId"]] = "internet-gateway"

    def preflight(self):
        """What the live state makes impossible, found before any write."""
        desired = self.desired
        self.vpc_endpoints.refuse_foreign_group()
        if self.vpc is not None and self.vpc["CidrBlock"] != desired["vpc"]["cidr"]:
            raise AWSResourceError("config.cidr", "%r differs from %s of the environment's VPC %s; a VPC's CIDR cannot "
                                   "change: tear the network down first"
                                   % (desired["vpc"]["cidr"], self.vpc["CidrBlock"], self.vpc["VpcId"]))
        for key, subnet in sorted(self.subnets.items()):
            wanted = desired["subnets"][key]
            if subnet["CidrBlock"] != wanted["cidr"]:
                index = desired["availability_zones"].index(wanted["az"])
                raise AWSResourceError(
                    "config.%s_subnet_cidrs[%d]" % (wanted["tier"], index),
                    "would be %s, but the subnet %s (%s) holds %s; a subnet's CIDR cannot change: keep %s or "
                    "delete the subnet first" % (wanted["cidr"], subnet["SubnetId"], wanted["name"],
                                                 subnet["CidrBlock"], subnet["CidrBlock"]))
        self.vpc_endpoints.check_services()

    def in_vpc(self):
        return [{"Name": "vpc-id", "Values": [self.vpc["VpcId"]]}]

    # -- converging ------------------------------------------------------------------------

    def ensure_vpc(self):
        wanted = self.desired["vpc"]
        changed = False
        if self.vpc is None:
            created = self.writer.create("create_vpc", "Vpc", wanted, ("describe_vpcs", "Vpcs"),
                                         CidrBlock=wanted["cidr"],
                                         TagSpecifications=self.writer.specification("vpc", wanted))
            changed = created.changed
            self.vpc = created.result or {"VpcId": UNKNOWN, "CidrBlock": wanted["cidr"]}
            self.vpc.update(Tags=ansible_dict_to_boto3_tag_list(wanted["tags"]), EnableDnsSupport=True,
                            EnableDnsHostnames=False)
        for attribute in ("EnableDnsSupport", "EnableDnsHostnames"):
            if not self.vpc.get(attribute):
                known = self.vpc["VpcId"] != UNKNOWN
                changed |= (self.writer.write("modify_vpc_attribute", VpcId=self.vpc["VpcId"],
                                              **{attribute: {"Value": True}}) if known else PLANNED).changed
                self.vpc[attribute] = True
        changed |= self.writer.ensure_tags(self.vpc["VpcId"], net.tag_dict(self.vpc), wanted, "vpc")
        return changed

    def ensure_subnets(self):
        vpc_id = self.vpc["VpcId"]
        changed = False
        for key, wanted in self.desired["subnets"].items():
            subnet = self.subnets.get(key)
            if subnet is None:
                created = self.writer.create(
                    "create_subnet", "Subnet", wanted, ("describe_subnets", "Subnets", self.in_vpc()),
                    VpcId=vpc_id, CidrBlock=wanted["cidr"], AvailabilityZone=wanted["az"],
                    TagSpecifications=self.writer.specification("subnet", wanted)) if vpc_id != UNKNOWN else PLANNED
                changed |= created.changed
                subnet = created.result or {"SubnetId": UNKNOWN}
                subnet.update(CidrBlock=wanted["cidr"], AvailabilityZone=wanted["az"],
                              Tags=ansible_dict_to_boto3_tag_list(wanted["tags"]))
                self.subnets[key] = subnet
            else:
                changed |= self.writer.ensure_tags(subnet["SubnetId"], net.tag_dict(subnet), wanted, key)
        return changed

    def ensure_internet_gateway(self):
        wanted = self.desired["internet_gateway"]
        if self.igw is not None:
            changed = self.attach_internet_gateway() if self.igw_detached else False
            changed |= self.writer.ensure_tags(self.igw["InternetGatewayId"], net.tag_dict(self.igw), wanted,
                                               "internet-gateway")
            return changed
        created = self.writer.create("create_internet_gateway", "InternetGateway", wanted,
                                     ("describe_internet_gateways", "InternetGateways"),
                                     TagSpecifications=self.writer.specification("internet-gateway", wanted))
        changed = created.changed
        self.igw = created.result or {"InternetGatewayId": UNKNOWN}
        self.igw["Tags"] = ansible_dict_to_boto3_tag_list(wanted["tags"])
        # Found again after a lost answer: attached only if that run got so far.
        attached = [attachment for attachment in self.igw.get("Attachments") or []
                    if attachment.get("State") != "detached"]
        if self.vpc["VpcId"] != UNKNOWN and created.result and not attached:
            changed |= self.attach_internet_gateway()
        return changed

    def attach_internet_gateway(self):
        return self.writer.write_once("attach_internet_gateway", ("Resource.AlreadyAssociated",),
                                      InternetGatewayId=self.igw["InternetGatewayId"], VpcId=self.vpc["VpcId"]).changed

    def ensure_route_tables(self):
        vpc_id = self.vpc["VpcId"]
        changed = False
        for key, wanted in self.desired["route_tables"].items():
            table = self.route_tables.get(key)
            if table is None:
                created = self.writer.create(
                    "create_route_table", "RouteTable", wanted, ("describe_route_tables", "RouteTables", self.in_vpc()),
                    VpcId=vpc_id, TagSpecifications=self.writer.specification("route-table", wanted)) \
                    if vpc_id != UNKNOWN else PLANNED
                changed |= created.changed
                table = created.result or {"RouteTableId": UNKNOWN, "Routes": []}
                table.update(Tags=ansible_dict_to_boto3_tag_list(wanted["tags"]))
                for association in table.get("Associations") or []:  # found again after a lost answer
                    if association.get("SubnetId"):
                        self.associations[self.ref(association["SubnetId"])] = (key, association["RouteTableAssociationId"])
                self.route_tables[key] = table
            else:
                changed |= self.writer.ensure_tags(table["RouteTableId"], net.tag_dict(table), wanted, key)
            for subnet_key in wanted["subnets"]:
                changed |= self.ensure_association(key, subnet_key)
        changed |= self.ensure_default_route("route-table/public")
        return changed

    def ensure_association(self, table_key, subnet_key):
        current = self.associations.get(subnet_key)
        if current and current[0] == table_key:
            return False
        subnet_id = self.subnet_id(subnet_key)
        table_id = self.route_table_id(table_key)
        if UNKNOWN in (subnet_id, table_id):
            written, association_id = PLANNED, UNKNOWN
        elif current:
            written = self.writer.write("replace_route_table_association", AssociationId=current[1],
                                        RouteTableId=table_id)
            association_id = written.result["NewAssociationId"] if written.result else current[1]
        else:
            written = self.writer.write_once("associate_route_table", ("Resource.AlreadyAssociated",),
                                             RouteTableId=table_id, SubnetId=subnet_id)
            association_id = written.result["AssociationId"] if written.result else UNKNOWN
        self.associations[subnet_key] = (table_key, association_id)
        return written.changed

    def wanted_default_route(self, key):
        target = self.desired["route_tables"][key]["default_route"]
        if target is None:
            return None
        if target == "internet-gateway":
            return ("GatewayId", self.igw["InternetGatewayId"])
        return ("NatGatewayId", self.nats[target]["NatGatewayId"])

    def owned_gateway_ids(self):
        ids = {nat["NatGatewayId"] for nat in list(self.nats.values()) + self.unwanted["nats"] + self.dead_nats}
        if self.igw:
            ids.add(self.igw["InternetGatewayId"])
        return ids

    def ensure_default_route(self, key):
        table = self.route_tables[key]
        wanted = self.wanted_default_route(key)
        action = net.default_route_action(table.get("Routes") or [], wanted, self.owned_gateway_ids())
        if action is None:
            return False
        table_id = table["RouteTableId"]
        route = dict(RouteTableId=table_id, DestinationCidrBlock=net.DEFAULT_ROUTE)
        if table_id == UNKNOWN or (wanted is not None and wanted[1] == UNKNOWN):
            changed = True  # predicted: the table or its target is not made yet
        elif action == "create":
            changed = self.writer.write_once("create_route", ("RouteAlreadyExists",), **dict(route, **{
                wanted[0]: wanted[1]})).changed
        elif action == "replace":
            changed = self.writer.write("replace_route", **dict(route, **{wanted[0]: wanted[1]})).changed
        else:
            changed = self.writer.delete("delete_route", **route)
        routes = [route for route in table.get("Routes") or [] if route.get("DestinationCidrBlock") != net.DEFAULT_ROUTE]
        if wanted is not None:
            routes.append({"DestinationCidrBlock": net.DEFAULT_ROUTE, wanted[0]: wanted[1], "State": "active",
                           "_target_ref": self.desired["route_tables"][key]["default_route"]})
        table["Routes"] = routes
        return changed

    def ensure_private_routes(self):
        changed = False
        for key in self.desired["route_tables"]:
            if key != "route-table/public":
                changed |= self.ensure_default_route(key)
        return changed

    # -- removing what is no longer wanted ------------------------------------------------------

    def remove_unwanted(self):
        """Delete owned resources the configuration no longer wants, dependants first."""
        changed = self.vpc_endpoints.remove_endpoints()
        changed |= self.nat_gateways.remove_unwanted()
        # A table is deleted only without associations: its owned subnets are let go first.
        unwanted_tables = {self.ref(table["RouteTableId"]) for table in self.unwanted["route_tables"]}
        for subnet in self.unwanted["subnets"]:
            association = self.associations.get(self.ref(subnet["SubnetId"]))
            if association and association[0] in unwanted_tables:
                changed |= self.writer.delete("disassociate_route_table", AssociationId=association[1])
            changed |= self.writer.delete("delete_subnet", SubnetId=subnet["SubnetId"])
        owned_subnets = set(self.subnets) | {self.ref(subnet["SubnetId"]) for subnet in self.unwanted["subnets"]}
        for table in self.unwanted["route_tables"]:
            foreign = sorted(subnet for subnet, (table_ref, association_id) in self.associations.items()
                             if table_ref == self.ref(table["RouteTableId"]) and subnet not in owned_subnets)
            if foreign:
                # Deleting it would change the routing of subnets this component does not own.
                self.module.warn("route table %s is no longer wanted but still routes %s, which this component does "
                                 "not own; it is kept" % (table["RouteTableId"], ", ".join(foreign)))
                continue
            changed |= self.writer.delete("delete_route_table", RouteTableId=table["RouteTableId"])
        changed |= self.vpc_endpoints.remove_groups()
        for subnet in self.unwanted["subnets"]:
            self.associations.pop(self.ref(subnet["SubnetId"]), None)
        for kind in self.unwanted:
            self.unwanted[kind] = []
        return changed


def main():
    argument_spec = component_argument_spec(
        flow_logs_destination_arn=dict(type="str"),
        wait_timeout=dict(type="int", default=900),
    )
    module = MlopsAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    region = module.region
    if not region:
        module.fail_json(msg="The network needs a region: set region (or AWS_REGION)")
    params = module.params
    config = validate_config(module, NETWORK, lambda config: net.check_config(
        config, region, params["flow_logs_destination_arn"]))

    network = Network(module, config, params["environment"])
    try:
        zone_names = net.usable_zones(network.read_zones())
        problems = net.check_live_zones(config, zone_names)
        if problems:
            fail_config(module, problems)
        desired = net.desired_topology(config, params["name_prefix"], params["environment"], params["tags"],
                                       net.select_zones(config, zone_names), region,
                                       params["flow_logs_destination_arn"])
        network.read(desired)
        network.preflight()
        before = network.state()
        changed = network.ensure_vpc()
        changed |= network.ensure_subnets()
        changed |= network.ensure_internet_gateway()
        changed |= network.ensure_route_tables()
        changed |= network.nat_gateways.ensure()
        changed |= network.ensure_private_routes()
        changed |= network.vpc_endpoints.ensure_security_group()
        changed |= network.vpc_endpoints.ensure()
        changed |= network.vpc_flow_logs.ensure()
        changed |= network.remove_unwanted()
    except AWSResourceError as exc:
        module.fail_json(msg=str(exc))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        module.fail_json_aws(exc, msg="Could not converge the network")

    outputs = network.outputs()
    after = network.state()
    delivery = network.vpc_flow_logs.delivery
    if delivery is not None:
        before["flow_log_delivery"] = delivery.before
        after["flow_log_delivery"] = delivery.after
    tag_drift = network.writer.tag_drift
    if tag_drift["after"]:
        before["tags"] = tag_drift["before"]
        after["tags"] = tag_drift["after"]
    module.exit_json(changed=changed, diff={"before": before, "after": after},
                     ansible_facts={"mlops_network": outputs}, **outputs)


if __name__ == "__main__":
    main()
