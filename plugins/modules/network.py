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

import functools

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.transformation import ansible_dict_to_boto3_filter_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_tag_filter_dict
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_specifications

from ansible_collections.mlops.platform.plugins.module_utils import network as net
from ansible_collections.mlops.platform.plugins.module_utils import security_group as sg
from ansible_collections.mlops.platform.plugins.module_utils.network_view import NetworkView
from ansible_collections.mlops.platform.plugins.module_utils.aws import AWS_RETRY, AWSResourceError, MlopsAWSModule
from ansible_collections.mlops.platform.plugins.module_utils.aws import caller_identity, client_token, create_once
from ansible_collections.mlops.platform.plugins.module_utils.aws import paginate, settling_retry
from ansible_collections.mlops.platform.plugins.module_utils.aws import wait_until, write_once
from ansible_collections.mlops.platform.plugins.module_utils.component import (
    COMPONENT_TAG,
    ENVIRONMENT_TAG,
    MANAGED_TAG,
    component_argument_spec,
    fail_config,
    is_owned,
    validate_config,
)
from ansible_collections.mlops.platform.plugins.module_utils.config_schema import NETWORK
from ansible_collections.mlops.platform.plugins.module_utils.iam_role import ComponentRoles, RoleNotOwnedError

UNKNOWN = net.UNKNOWN

# Right after a create, EC2 may not know the new id yet (eventual consistency): a call that
# names a resource this run created waits these refusals out (the bounded settling retry),
# every other call takes them as the real answers they are.
NOT_KNOWN_YET = (
    "InvalidVpcID.NotFound", "InvalidSubnetID.NotFound", "InvalidRouteTableID.NotFound",
    "InvalidInternetGatewayID.NotFound", "InvalidAllocationID.NotFound", "InvalidNatGatewayID.NotFound",
    "InvalidGroup.NotFound", "InvalidVpcEndpointId.NotFound",
)
# The key of the id of the resource each create makes, in its answer.
CREATED_ID = {"create_vpc": "VpcId", "create_subnet": "SubnetId", "create_internet_gateway": "InternetGatewayId",
              "create_route_table": "RouteTableId", "create_nat_gateway": "NatGatewayId",
              "allocate_address": "AllocationId", "create_vpc_endpoint": "VpcEndpointId"}
# A subnet or group may still hold an ENI of an endpoint or NAT gateway deleted moments before.
DEPENDENCY_SETTLING = ("DependencyViolation",)
# What a delete (sent again after a lost answer) meets once the first one took effect.
GONE = {
    "delete_nat_gateway": ("NatGatewayNotFound", "InvalidNatGatewayID.NotFound"),
    "release_address": ("InvalidAllocationID.NotFound",),
    "disassociate_route_table": ("InvalidAssociationID.NotFound",),
    "delete_subnet": ("InvalidSubnetID.NotFound",),
    "delete_route_table": ("InvalidRouteTableID.NotFound",),
    "delete_route": ("InvalidRoute.NotFound",),
}

DELIVERY_POLICY_NAME = "vpc-flow-logs-delivery"
# Only for CreateFlowLogs right after this run created the delivery role, as
# InvalidParameter is otherwise a real refusal.
NEW_ROLE_RETRY = settling_retry("InvalidParameter")
_NAT_WAIT_DELAY = 15


class Network(NetworkView):
    """Reads the environment's network once and converges it toward the desired topology
    (its views, state and outputs: module_utils.network_view)."""

    def __init__(self, module, config, environment):
        self.module = module
        self.config = config
        self.environment = environment
        self.check_mode = module.check_mode
        self.ec2 = module.client("ec2", retry_decorator=AWS_RETRY)
        self.paginate = functools.partial(paginate, self.ec2)
        self.groups = sg.ComponentSecurityGroups(module, self.ec2, environment, net.COMPONENT)
        self.made = set()            # ids of the resources this run created
        self.removed = False         # this run deleted something a later delete may depend on
        self.foreign_group = None    # a group under our name that this component does not own
        self._settling_ec2 = None
        super(Network, self).__init__()
        self.changed = False
        self.igw_detached = False  # an owned gateway an interrupted run left unattached
        self.delivery_role_created = False  # the flow-log delivery role was created by this run
        self.tag_drift = {"before": {}, "after": {}}
        self.delivery_before = None  # the CloudWatch Logs log group and role, when used
        self.delivery_after = None

    # -- reading ---------------------------------------------------------------------------

    def read_zones(self):
        return self.ec2.describe_availability_zones(aws_retry=True)["AvailabilityZones"]

    def owner_filters(self):
        return ansible_dict_to_boto3_filter_list(ansible_dict_to_tag_filter_dict({
            MANAGED_TAG: "true", ENVIRONMENT_TAG: self.environment, COMPONENT_TAG: net.COMPONENT}))

    def read(self, desired):
        self.desired = desired
        vpcs, duplicates = net.owned_by_key(self.paginate("describe_vpcs", "Vpcs", Filters=self.owner_filters()),
                                            self.environment)
        if duplicates:
            raise AWSResourceError("config", "this environment owns several VPCs (%s); remove the extra ones by hand"
                                   % ", ".join(sorted(v["VpcId"] for v in [vpcs["vpc"]] + duplicates)))
        self.vpc = vpcs.get("vpc")
        self.eips = self.ec2.describe_addresses(Filters=self.owner_filters(), aws_retry=True)["Addresses"]
        if self.vpc is None:
            return
        vpc_id = self.vpc["VpcId"]
        for attribute, key in (("enableDnsSupport", "EnableDnsSupport"), ("enableDnsHostnames", "EnableDnsHostnames")):
            answer = self.ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute=attribute, aws_retry=True)
            self.vpc[key] = answer[key]["Value"]
        in_vpc = [{"Name": "vpc-id", "Values": [vpc_id]}]

        self.subnets, duplicates = net.owned_by_key(self.paginate("describe_subnets", "Subnets", Filters=in_vpc),
                                                    self.environment)
        self.unwanted["subnets"] = duplicates + [self.subnets.pop(key) for key in sorted(self.subnets)
                                                 if key not in desired["subnets"]]

        tables = self.paginate("describe_route_tables", "RouteTables", Filters=in_vpc)
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

        gateways = self.paginate("describe_internet_gateways", "InternetGateways",
                                 Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}])
        for gateway in gateways:
            if not is_owned(net.tag_dict(gateway), self.environment, net.COMPONENT):
                raise AWSResourceError("config", "the VPC %s has the internet gateway %s, which this component does not "
                                       "own; a VPC takes only one" % (vpc_id, gateway["InternetGatewayId"]))
            self.igw = gateway
            self.refs[gateway["InternetGatewayId"]] = "internet-gateway"
        if self.igw is None:
            # A run interrupted between CreateInternetGateway and its attachment left an
            # owned gateway attached nowhere: adopt it, never create another one.
            detached = [gateway for gateway in self.paginate("describe_internet_gateways", "InternetGateways",
                                                             Filters=self.owner_filters())
                        if not [attachment for attachment in gateway.get("Attachments") or []
                                if attachment.get("State") != "detached"]]
            if detached:
                self.igw = sorted(detached, key=lambda gateway: gateway["InternetGatewayId"])[0]
                self.igw_detached = True
                self.refs[self.igw["InternetGatewayId"]] = "internet-gateway"

        live_nats = []
        for nat in self.paginate("describe_nat_gateways", "NatGateways", Filter=in_vpc):
            if not is_owned(net.tag_dict(nat), self.environment, net.COMPONENT):
                continue
            (live_nats if nat["State"] in net.LIVE_NAT_STATES else self.dead_nats).append(nat)
        self.nats, duplicates = net.owned_by_key(live_nats, self.environment)
        self.unwanted["nats"] = duplicates
        self.remember_refs(live_nats, "NatGatewayId")
        for key in sorted(self.nats):
            wanted = desired["nat_gateways"].get(key)
            subnet = self.subnets.get(wanted["subnet"]) if wanted else None
            if subnet is None or self.nats[key]["SubnetId"] != subnet["SubnetId"]:
                self.unwanted["nats"].append(self.nats.pop(key))

        all_groups = self.paginate("describe_security_groups", "SecurityGroups", Filters=in_vpc)
        groups, duplicates = net.owned_by_key(all_groups, self.environment)
        if desired["security_group"] is not None:
            self.foreign_group = next((group for group in all_groups if group["GroupName"] == desired[
                "security_group"]["name"] and not self.groups.owned(group)), None)
        self.security_group = groups.pop("security-group/vpc-endpoints", None)
        if desired["security_group"] is None and self.security_group is not None:
            duplicates.append(self.security_group)
            self.security_group = None
        self.unwanted["security_groups"] = duplicates + list(groups.values())

        live_endpoints = [endpoint for endpoint in self.paginate("describe_vpc_endpoints", "VpcEndpoints", Filters=in_vpc)
                          if endpoint["State"].lower() in net.LIVE_ENDPOINT_STATES]
        endpoints, duplicates = net.owned_by_key(live_endpoints, self.environment)
        self.unwanted["endpoints"] = duplicates
        for key, endpoint in sorted(endpoints.items()):
            service = key.partition("/")[2]
            wanted = desired["vpc_endpoints"].get(service)
            if wanted and wanted["service_name"] == endpoint["ServiceName"] and wanted["type"] == endpoint["VpcEndpointType"]:
                self.endpoints[service] = endpoint
            else:
                self.unwanted["endpoints"].append(endpoint)

        self.flow_logs = [flow_log for flow_log in self.paginate(
            "describe_flow_logs", "FlowLogs", Filters=[{"Name": "resource-id", "Values": [vpc_id]}])
            if is_owned(net.tag_dict(flow_log), self.environment, net.COMPONENT)]

    def preflight(self):
        """What the live state makes impossible, found before any write."""
        desired = self.desired
        if self.foreign_group is not None:
            raise self.groups.not_owned(self.foreign_group)
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
        missing = [endpoint for service, endpoint in desired["vpc_endpoints"].items() if service not in self.endpoints]
        if missing:
            names = [endpoint["service_name"] for endpoint in missing]
            try:
                self.ec2.describe_vpc_endpoint_services(ServiceNames=names, aws_retry=True)
            except is_boto3_error_code("InvalidServiceName") as exc:
                message = exc.response["Error"].get("Message", "")
                for endpoint in missing:
                    if endpoint["service_name"] in message:
                        key = "gateway_endpoints" if endpoint["type"] == "Gateway" else "interface_endpoints"
                        index = self.config[key].index(endpoint["service"])
                        raise AWSResourceError("config.%s[%d]" % (key, index), "%r is not offered in this region (%s)"
                                               % (endpoint["service"], endpoint["service_name"]))
                raise AWSResourceError("config.interface_endpoints", "names a service not offered in this region: %s"
                                       % message)

    # -- helpers ---------------------------------------------------------------------------

    def settling(self, params):
        """The refusals to wait out for a call with ``params``: EC2's "not known yet" when it
        names a resource this run created, none otherwise."""
        return NOT_KNOWN_YET if self.made.intersection(net.ids_in(params)) else ()

    def write(self, operation, **params):
        """One idempotent EC2 write, or nothing in check mode; every write marks the run as changed.
        Sent with the access layer's retries, or the settling retry when it names a resource
        this run just created."""
        self.changed = True
        if self.check_mode:
            return None
        client = self.ec2
        if self.settling(params):
            if self._settling_ec2 is None:
                self._settling_ec2 = self.module.client("ec2", retry_decorator=settling_retry(*NOT_KNOWN_YET))
            client = self._settling_ec2
        return getattr(client, operation)(aws_retry=True, **params)

    def write_once(self, operation, done_codes, **params):
        """A write AWS refuses with ``done_codes`` once made (see aws.write_once); None in check mode."""
        self.changed = True
        if self.check_mode:
            return None
        return write_once(lambda: getattr(self.module.once_client("ec2"), operation)(**params), done_codes,
                          self.settling(params))

    def delete(self, operation, **params):
        """Delete (or release) an owned resource; one already gone (a lost answer, sent again)
        counts as done. Once this run has deleted something, a DependencyViolation is a
        dependant still going away (an ENI of a deleted NAT gateway or endpoint) and is waited
        out, boundedly."""
        self.changed = True
        if self.check_mode:
            return
        write_once(lambda: getattr(self.module.once_client("ec2"), operation)(**params), GONE[operation],
                   DEPENDENCY_SETTLING if self.removed else ())
        self.removed = True

    def create(self, operation, item, wanted, describe, exists_codes=(), **params):
        """Create the resource ``wanted`` at most once (aws.create_once), found again by its key tag
        through ``describe`` (``(operation, result key, extra filters)``); its describe item, or None
        in check mode."""
        self.changed = True
        if self.check_mode:
            return None
        if self.takes_client_token(operation):
            params["ClientToken"] = client_token()
        response, found = create_once(
            lambda: getattr(self.module.once_client("ec2"), operation)(**params),
            lambda: self.find_by_key(wanted["tags"][net.KEY_TAG], *describe), exists_codes=exists_codes,
            foreign=lambda: AWSResourceError("config", "%s exists and is not this component's; remove it or tag it"
                                             % wanted.get("name", wanted["tags"][net.KEY_TAG])),
            settling_codes=self.settling(params))
        if response is None:
            return found
        result = response[item] if item else response
        if operation in CREATED_ID:
            self.made.add(result if isinstance(result, str) else result[CREATED_ID[operation]])
        return result

    _client_token_operations = {}

    def takes_client_token(self, operation):
        """Whether EC2's ``operation`` takes an idempotency token: read from the service model
        once per operation."""
        if operation not in self._client_token_operations:
            meta = getattr(self.ec2, "client", self.ec2).meta
            model = meta.service_model.operation_model(meta.method_to_api_mapping[operation])
            self._client_token_operations[operation] = "ClientToken" in model.input_shape.members
        return self._client_token_operations[operation]

    def find_by_key(self, key, operation, result_key, filters=(), live=None):
        """The owned resource tagged with ``key`` (and in one of the ``live`` states), or None."""
        owner = ansible_dict_to_boto3_filter_list(ansible_dict_to_tag_filter_dict({
            MANAGED_TAG: "true", ENVIRONMENT_TAG: self.environment, COMPONENT_TAG: net.COMPONENT, net.KEY_TAG: key}))
        name = "Filter" if operation == "describe_nat_gateways" else "Filters"
        params = {name: owner + list(filters)}
        if getattr(self.ec2, "client", self.ec2).can_paginate(operation):
            found = self.paginate(operation, result_key, **params)
        else:
            found = getattr(self.ec2, operation)(aws_retry=True, **params)[result_key]
        for resource in found:
            state = resource.get("State")
            if live is None or (state or "").lower() in live:
                return resource
        return None

    def ensure_tags(self, resource_id, live_tags, wanted, label):
        missing = net.tags_to_set(live_tags, wanted["tags"])
        if not missing:
            return
        self.tag_drift["before"][label] = {key: live_tags.get(key) for key in sorted(missing)}
        self.tag_drift["after"][label] = {key: missing[key] for key in sorted(missing)}
        if resource_id != UNKNOWN:
            self.write("create_tags", Resources=[resource_id], Tags=ansible_dict_to_boto3_tag_list(missing))

    def specification(self, resource_type, wanted):
        return boto3_tag_specifications(wanted["tags"], [resource_type])

    # -- converging ------------------------------------------------------------------------

    def ensure_vpc(self):
        wanted = self.desired["vpc"]
        if self.vpc is None:
            created = self.create("create_vpc", "Vpc", wanted, ("describe_vpcs", "Vpcs"), CidrBlock=wanted["cidr"],
                                  TagSpecifications=self.specification("vpc", wanted))
            self.vpc = created or {"VpcId": UNKNOWN, "CidrBlock": wanted["cidr"]}
            self.vpc.update(Tags=ansible_dict_to_boto3_tag_list(wanted["tags"]), EnableDnsSupport=True,
                            EnableDnsHostnames=False)
        for attribute in ("EnableDnsSupport", "EnableDnsHostnames"):
            if not self.vpc.get(attribute):
                if self.vpc["VpcId"] != UNKNOWN:
                    self.write("modify_vpc_attribute", VpcId=self.vpc["VpcId"], **{attribute: {"Value": True}})
                else:
                    self.changed = True
                self.vpc[attribute] = True
        self.ensure_tags(self.vpc["VpcId"], net.tag_dict(self.vpc), wanted, "vpc")

    def ensure_subnets(self):
        vpc_id = self.vpc["VpcId"]
        for key, wanted in self.desired["subnets"].items():
            subnet = self.subnets.get(key)
            if subnet is None:
                created = self.create("create_subnet", "Subnet", wanted, ("describe_subnets", "Subnets", self.in_vpc()),
                                      VpcId=vpc_id, CidrBlock=wanted["cidr"], AvailabilityZone=wanted["az"],
                                      TagSpecifications=self.specification("subnet", wanted)) \
                    if vpc_id != UNKNOWN else None
                self.changed = True
                subnet = created or {"SubnetId": UNKNOWN}
                subnet.update(CidrBlock=wanted["cidr"], AvailabilityZone=wanted["az"],
                              Tags=ansible_dict_to_boto3_tag_list(wanted["tags"]))
                self.subnets[key] = subnet
            else:
                self.ensure_tags(subnet["SubnetId"], net.tag_dict(subnet), wanted, key)

    def ensure_internet_gateway(self):
        wanted = self.desired["internet_gateway"]
        if self.igw is None:
            created = self.create("create_internet_gateway", "InternetGateway", wanted,
                                  ("describe_internet_gateways", "InternetGateways"),
                                  TagSpecifications=self.specification("internet-gateway", wanted))
            self.igw = created or {"InternetGatewayId": UNKNOWN}
            self.igw["Tags"] = ansible_dict_to_boto3_tag_list(wanted["tags"])
            # Found again after a lost answer: attached only if that run got so far.
            attached = [attachment for attachment in self.igw.get("Attachments") or []
                        if attachment.get("State") != "detached"]
            if self.vpc["VpcId"] != UNKNOWN and created and not attached:
                self.attach_internet_gateway()
        else:
            if self.igw_detached:
                self.attach_internet_gateway()
            self.ensure_tags(self.igw["InternetGatewayId"], net.tag_dict(self.igw), wanted, "internet-gateway")

    def attach_internet_gateway(self):
        self.write_once("attach_internet_gateway", ("Resource.AlreadyAssociated",),
                        InternetGatewayId=self.igw["InternetGatewayId"], VpcId=self.vpc["VpcId"])

    def in_vpc(self):
        return [{"Name": "vpc-id", "Values": [self.vpc["VpcId"]]}]

    def ensure_route_tables(self):
        vpc_id = self.vpc["VpcId"]
        for key, wanted in self.desired["route_tables"].items():
            table = self.route_tables.get(key)
            if table is None:
                created = self.create("create_route_table", "RouteTable", wanted,
                                      ("describe_route_tables", "RouteTables", self.in_vpc()), VpcId=vpc_id,
                                      TagSpecifications=self.specification("route-table", wanted)) \
                    if vpc_id != UNKNOWN else None
                self.changed = True
                table = created or {"RouteTableId": UNKNOWN, "Routes": []}
                table.update(Tags=ansible_dict_to_boto3_tag_list(wanted["tags"]))
                for association in table.get("Associations") or []:  # found again after a lost answer
                    if association.get("SubnetId"):
                        self.associations[self.ref(association["SubnetId"])] = (key, association["RouteTableAssociationId"])
                self.route_tables[key] = table
            else:
                self.ensure_tags(table["RouteTableId"], net.tag_dict(table), wanted, key)
            for subnet_key in wanted["subnets"]:
                self.ensure_association(key, subnet_key)
        self.ensure_default_route("route-table/public")

    def ensure_association(self, table_key, subnet_key):
        current = self.associations.get(subnet_key)
        if current and current[0] == table_key:
            return
        subnet_id = self.subnet_id(subnet_key)
        table_id = self.route_table_id(table_key)
        if UNKNOWN in (subnet_id, table_id):
            self.changed = True
            association_id = UNKNOWN
        elif current:
            answer = self.write("replace_route_table_association", AssociationId=current[1], RouteTableId=table_id)
            association_id = answer["NewAssociationId"] if answer else current[1]
        else:
            answer = self.write_once("associate_route_table", ("Resource.AlreadyAssociated",),
                                     RouteTableId=table_id, SubnetId=subnet_id)
            association_id = answer["AssociationId"] if answer else UNKNOWN
        self.associations[subnet_key] = (table_key, association_id)

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
            return
        table_id = table["RouteTableId"]
        known = table_id != UNKNOWN and (wanted is None or wanted[1] != UNKNOWN)
        if action == "create" and known:
            self.write_once("create_route", ("RouteAlreadyExists",), RouteTableId=table_id,
                            DestinationCidrBlock=net.DEFAULT_ROUTE, **{wanted[0]: wanted[1]})
        elif action == "replace" and known:
            self.write("replace_route", RouteTableId=table_id, DestinationCidrBlock=net.DEFAULT_ROUTE,
                       **{wanted[0]: wanted[1]})
        elif action == "delete" and known:
            self.delete("delete_route", RouteTableId=table_id, DestinationCidrBlock=net.DEFAULT_ROUTE)
        else:
            self.changed = True
        routes = [route for route in table.get("Routes") or [] if route.get("DestinationCidrBlock") != net.DEFAULT_ROUTE]
        if wanted is not None:
            routes.append({"DestinationCidrBlock": net.DEFAULT_ROUTE, wanted[0]: wanted[1], "State": "active",
                           "_target_ref": self.desired["route_tables"][key]["default_route"]})
        table["Routes"] = routes

    def ensure_nat_gateways(self):
        """Start every missing NAT gateway (each with its Elastic IP), then wait for all at once,
        with those still pending from an interrupted run: private routes and the nodes behind
        them need egress when this returns."""
        started = []
        used_allocations = {address["AllocationId"] for nat in self.nats.values()
                            for address in nat.get("NatGatewayAddresses") or []}
        for key, wanted in self.desired["nat_gateways"].items():
            eip_wanted = self.desired["eips"][wanted["eip"]]
            nat = self.nats.get(key)
            if nat is not None:
                if nat.get("State") == "pending" and not self.check_mode:
                    started.append(nat["NatGatewayId"])  # started by an earlier, interrupted run
                self.ensure_tags(nat["NatGatewayId"], net.tag_dict(nat), wanted, key)
                nat_allocations = {address["AllocationId"] for address in nat.get("NatGatewayAddresses") or []}
                for address in self.eips:
                    if address["AllocationId"] in nat_allocations:
                        self.ensure_tags(address["AllocationId"], net.tag_dict(address), eip_wanted, wanted["eip"])
                continue
            # An Elastic IP of this zone left free by an interrupted run is used, not allocated twice.
            address = next((address for address in self.eips
                            if net.tag_dict(address).get(net.KEY_TAG) == wanted["eip"]
                            and address["AllocationId"] not in used_allocations and not address.get("AssociationId")),
                           None)
            if address is None:
                allocated = self.create("allocate_address", "AllocationId", eip_wanted,
                                        ("describe_addresses", "Addresses"), Domain="vpc",
                                        TagSpecifications=self.specification("elastic-ip", eip_wanted))
                if isinstance(allocated, dict):
                    allocated = allocated["AllocationId"]
                address = {"AllocationId": allocated or UNKNOWN,
                           "Tags": ansible_dict_to_boto3_tag_list(eip_wanted["tags"])}
                self.eips.append(address)
            else:
                self.ensure_tags(address["AllocationId"], net.tag_dict(address), eip_wanted, wanted["eip"])
            used_allocations.add(address["AllocationId"])
            subnet_id = self.subnet_id(wanted["subnet"])
            created = None
            if subnet_id != UNKNOWN and address["AllocationId"] != UNKNOWN:
                created = self.create("create_nat_gateway", "NatGateway", wanted,
                                      ("describe_nat_gateways", "NatGateways",
                                       [{"Name": "subnet-id", "Values": [subnet_id]}], net.LIVE_NAT_STATES),
                                      SubnetId=subnet_id, AllocationId=address["AllocationId"],
                                      ConnectivityType="public", TagSpecifications=self.specification("natgateway", wanted))
            self.changed = True
            nat = created or {"NatGatewayId": UNKNOWN, "SubnetId": subnet_id}
            nat.update(Tags=ansible_dict_to_boto3_tag_list(wanted["tags"]), _subnet_ref=wanted["subnet"],
                       NatGatewayAddresses=[{"AllocationId": address["AllocationId"]}])
            self.nats[key] = nat
            if created:
                started.append(nat["NatGatewayId"])
        if started:
            self.wait_for_nats("nat_gateway_available", started)

    def wait_for_nats(self, waiter, ids):
        """botocore's own NAT gateway waiters: unlike amazon.aws's, "available" fails at once on a
        gateway that failed, whose FailureMessage (an exhausted address quota, a subnet without a
        route to the internet gateway) is then reported instead of a timeout."""
        timeout = self.module.params["wait_timeout"]
        try:
            wait_until(
                getattr(self.ec2, "client", self.ec2).get_waiter(waiter), NatGatewayIds=sorted(ids),
                WaiterConfig={"Delay": _NAT_WAIT_DELAY, "MaxAttempts": max(1, timeout // _NAT_WAIT_DELAY)})
        except botocore.exceptions.WaiterError as exc:
            nats = self.ec2.describe_nat_gateways(NatGatewayIds=sorted(ids), aws_retry=True)["NatGateways"]
            failed = ["%s (%s): %s" % (nat["NatGatewayId"], nat["State"], nat.get("FailureMessage") or nat.get(
                "FailureCode") or "no reason given") for nat in nats if nat["State"] in ("failed", "deleting", "deleted")
                and waiter == "nat_gateway_available"]
            if failed:
                raise AWSResourceError("config.nat_gateway_mode", "NAT gateway creation failed: " + "; ".join(failed))
            raise AWSResourceError("wait_timeout", "the NAT gateways %s did not become %s within %d s (%s)"
                                   % (", ".join(sorted(ids)), waiter.rpartition("_")[2], timeout, exc))

    def ensure_private_routes(self):
        for key in self.desired["route_tables"]:
            if key != "route-table/public":
                self.ensure_default_route(key)

    def ensure_security_group(self):
        wanted = self.desired["security_group"]
        if wanted is None:
            return
        group = self.security_group
        if group is None:
            self.changed = True
            group = {"GroupId": UNKNOWN, "IpPermissions": [], "Tags": ansible_dict_to_boto3_tag_list(wanted["tags"])}
            if self.vpc["VpcId"] != UNKNOWN and not self.check_mode:
                group = self.groups.create(self.vpc["VpcId"], wanted["name"], wanted["description"], wanted["tags"],
                                           settling=self.settling([self.vpc["VpcId"]]))
                self.made |= self.groups.created
            self.security_group = group
        else:
            self.ensure_tags(group["GroupId"], net.tag_dict(group), wanted, wanted["key"])
        self.changed |= self.groups.converge_rules(group, "ingress", wanted["ingress"], kinds=net.RULE_KINDS)

    def ensure_endpoints(self):
        vpc_id = self.vpc["VpcId"]
        group_id = self.security_group["GroupId"] if self.security_group else None
        for service, wanted in self.desired["vpc_endpoints"].items():
            route_tables = [self.route_table_id(key) for key in wanted["route_tables"]]
            subnets = [self.subnet_id(key) for key in wanted["subnets"]]
            groups = [group_id] if wanted["type"] == "Interface" else []
            endpoint = self.endpoints.get(service)
            if endpoint is None:
                params = dict(VpcId=vpc_id, ServiceName=wanted["service_name"], VpcEndpointType=wanted["type"],
                              TagSpecifications=self.specification("vpc-endpoint", wanted))
                if wanted["type"] == "Gateway":
                    params["RouteTableIds"] = route_tables
                else:
                    params.update(SubnetIds=subnets, SecurityGroupIds=groups, PrivateDnsEnabled=wanted["private_dns"])
                known = UNKNOWN not in [vpc_id] + route_tables + subnets + groups
                created = self.create("create_vpc_endpoint", "VpcEndpoint", wanted,
                                      ("describe_vpc_endpoints", "VpcEndpoints", self.in_vpc(), net.LIVE_ENDPOINT_STATES),
                                      **params) if known else None
                self.changed = True
                endpoint = created or {"VpcEndpointId": UNKNOWN}
                endpoint.update(VpcEndpointType=wanted["type"], ServiceName=wanted["service_name"],
                                RouteTableIds=route_tables, SubnetIds=subnets, _refs=wanted,
                                Groups=[{"GroupId": group} for group in groups], PrivateDnsEnabled=wanted["private_dns"],
                                Tags=ansible_dict_to_boto3_tag_list(wanted["tags"]))
                self.endpoints[service] = endpoint
                continue
            self.ensure_tags(endpoint["VpcEndpointId"], net.tag_dict(endpoint), wanted, wanted["key"])
            changes = net.endpoint_changes(endpoint, route_tables, subnets, groups, wanted["private_dns"])
            if not changes:
                continue
            if UNKNOWN in route_tables + subnets + groups:
                self.changed = True
            else:
                self.write("modify_vpc_endpoint", VpcEndpointId=endpoint["VpcEndpointId"], **changes)
            endpoint.update(RouteTableIds=route_tables, SubnetIds=subnets, _refs=wanted,
                            Groups=[{"GroupId": group} for group in groups], PrivateDnsEnabled=wanted["private_dns"])

    # -- flow logs ---------------------------------------------------------------------------

    def ensure_flow_logs(self):
        wanted = self.desired["flow_log"]
        vpc_id = self.vpc["VpcId"]
        role_arn = None
        if wanted is not None and wanted["destination_type"] == "cloud-watch-logs":
            role_arn = FlowLogDelivery(self, wanted).ensure()
        keep = None
        for flow_log in self.flow_logs:
            if keep is None and wanted is not None and net.flow_log_matches(flow_log, wanted, role_arn):
                keep = flow_log
                self.ensure_tags(flow_log["FlowLogId"], net.tag_dict(flow_log), wanted, "flow-log")
        stale = [flow_log for flow_log in self.flow_logs if flow_log is not keep]
        if stale:
            self.write("delete_flow_logs", FlowLogIds=[flow_log["FlowLogId"] for flow_log in stale])
        delivery_roles = {flow_log.get("DeliverLogsPermissionArn") for flow_log in stale} - {None, role_arn}
        for stale_role in sorted(delivery_roles):
            FlowLogDelivery(self, None).remove_role(stale_role)
        if wanted is not None and keep is None:
            params = dict(ResourceIds=[vpc_id], ResourceType="VPC", TrafficType=wanted["traffic_type"],
                          LogDestinationType=wanted["destination_type"],
                          MaxAggregationInterval=net.FLOW_LOGS_MAX_AGGREGATION_SECONDS,
                          TagSpecifications=self.specification("vpc-flow-log", wanted))
            if wanted["destination_type"] == "s3":
                params["LogDestination"] = wanted["destination"]
            else:
                params.update(LogGroupName=wanted["destination"], DeliverLogsPermissionArn=role_arn)
            created = None
            if vpc_id != UNKNOWN and role_arn != UNKNOWN:
                if self.delivery_role_created and not self.check_mode:
                    # EC2 refuses a role IAM has not propagated yet ("Unable to assume given
                    # IAM role", InvalidParameter) for a while after CreateRole.
                    self.changed = True
                    params["ClientToken"] = client_token()
                    created = self.module.client("ec2", retry_decorator=NEW_ROLE_RETRY).create_flow_logs(
                        aws_retry=True, **params)
                else:
                    created = self.create("create_flow_logs", None, wanted,
                                          ("describe_flow_logs", "FlowLogs",
                                           [{"Name": "resource-id", "Values": [vpc_id]}]), **params)
                    if created and "FlowLogId" in created:  # found again after a lost answer
                        created = {"FlowLogIds": [created["FlowLogId"]]}
            # CreateFlowLogs reports a refused destination in its answer, not as an error.
            refused = (created or {}).get("Unsuccessful") or []
            if refused:
                error = refused[0]["Error"]
                raise AWSResourceError("config.flow_logs.destination", "CreateFlowLogs refused %s: %s (%s)"
                                       % (wanted["destination"], error.get("Message"), error.get("Code")))
            self.changed = True
            keep = {"FlowLogId": created["FlowLogIds"][0] if created else UNKNOWN}
            keep.update(TrafficType=wanted["traffic_type"], LogDestinationType=wanted["destination_type"])
            keep["LogDestination" if wanted["destination_type"] == "s3" else "LogGroupName"] = wanted["destination"]
        self.flow_logs = [keep] if keep else []

    # -- removing what is no longer wanted ------------------------------------------------------

    def remove_unwanted(self):
        """Delete owned resources the configuration no longer wants, dependants first."""
        endpoints = [endpoint["VpcEndpointId"] for endpoint in self.unwanted["endpoints"]]
        if endpoints:
            # A repeat after a lost answer reports the endpoints gone in Unsuccessful, not as an error.
            self.write("delete_vpc_endpoints", VpcEndpointIds=sorted(endpoints))
            self.removed = True
        nats = [nat["NatGatewayId"] for nat in self.unwanted["nats"]]
        for nat_id in nats:
            self.delete("delete_nat_gateway", NatGatewayId=nat_id)
        waiting = nats + [nat["NatGatewayId"] for nat in self.dead_nats if nat["State"] == "deleting"]
        if waiting and not self.check_mode:
            self.wait_for_nats("nat_gateway_deleted", waiting)
        self.release_addresses()
        # A table is deleted only without associations: its owned subnets are let go first.
        unwanted_tables = {self.ref(table["RouteTableId"]) for table in self.unwanted["route_tables"]}
        for subnet in self.unwanted["subnets"]:
            association = self.associations.get(self.ref(subnet["SubnetId"]))
            if association and association[0] in unwanted_tables:
                self.delete("disassociate_route_table", AssociationId=association[1])
            self.delete("delete_subnet", SubnetId=subnet["SubnetId"])
        owned_subnets = set(self.subnets) | {self.ref(subnet["SubnetId"]) for subnet in self.unwanted["subnets"]}
        for table in self.unwanted["route_tables"]:
            foreign = sorted(subnet for subnet, (table_ref, association_id) in self.associations.items()
                             if table_ref == self.ref(table["RouteTableId"]) and subnet not in owned_subnets)
            if foreign:
                # Deleting it would change the routing of subnets this component does not own.
                self.module.warn("route table %s is no longer wanted but still routes %s, which this component does "
                                 "not own; it is kept" % (table["RouteTableId"], ", ".join(foreign)))
                continue
            self.delete("delete_route_table", RouteTableId=table["RouteTableId"])
        for group in self.unwanted["security_groups"]:
            self.changed = True
            self.groups.delete(group["GroupId"], DEPENDENCY_SETTLING if self.removed else ())
            self.removed = True
        for subnet in self.unwanted["subnets"]:
            self.associations.pop(self.ref(subnet["SubnetId"]), None)
        for kind in self.unwanted:
            self.unwanted[kind] = []

    def release_addresses(self):
        """Release owned Elastic IPs that no live NAT gateway of this component uses."""
        in_use = {address["AllocationId"] for nat in self.nats.values()
                  for address in nat.get("NatGatewayAddresses") or []}
        # An address still shown associated with a NAT gateway that is gone is free: AWS
        # disassociates it when the NAT gateway is deleted.
        freed = {address.get("AllocationId") for nat in self.unwanted["nats"] + self.dead_nats
                 for address in nat.get("NatGatewayAddresses") or []}
        for address in self.eips:
            allocation = address["AllocationId"]
            if allocation in in_use or allocation == UNKNOWN:
                continue
            if address.get("AssociationId") and allocation not in freed:
                continue  # associated with something else: not ours to cut off
            self.delete("release_address", AllocationId=allocation)
        self.eips = [address for address in self.eips if address["AllocationId"] in in_use]


class FlowLogDelivery:
    """The log group and delivery role of CloudWatch Logs flow logs."""

    def __init__(self, network, wanted):
        self.network = network
        self.wanted = wanted
        self.module = network.module
        self.roles = ComponentRoles(self.module.client("iam", retry_decorator=AWS_RETRY), network.environment,
                                    net.COMPONENT, network.check_mode, iam_once=self.module.once_client("iam"))

    def ensure(self):
        """Keep the log group (retention, tags) and the role; return the role's ARN."""
        network = self.network
        identity = caller_identity(self.module)
        account_id = identity["account_id"]
        partition = identity["partition"]
        region = self.module.region
        logs = self.module.client("logs", retry_decorator=AWS_RETRY)
        name = self.wanted["destination"]
        group_arn = "arn:%s:logs:%s:%s:log-group:%s" % (partition, region, account_id, name)
        group = next((group for group in logs.describe_log_groups(logGroupNamePrefix=name, aws_retry=True)["logGroups"]
                      if group["logGroupName"] == name), None)
        if group is None:
            network.changed = True
            if not network.check_mode:
                write_once(lambda: self.module.once_client("logs").create_log_group(
                    logGroupName=name, tags=self.wanted["tags"]), ("ResourceAlreadyExistsException",))
                logs.put_retention_policy(logGroupName=name, retentionInDays=self.wanted["retention_days"],
                                          aws_retry=True)
        else:
            tags = logs.list_tags_for_resource(resourceArn=group_arn, aws_retry=True).get("tags", {})
            if not is_owned(tags, network.environment, net.COMPONENT):
                raise AWSResourceError("config.flow_logs.destination",
                                       "the log group %s exists and is not managed by this component; remove it or tag it"
                                       % name)
            missing = net.tags_to_set(tags, self.wanted["tags"])
            if missing:
                network.changed = True
                if not network.check_mode:
                    logs.tag_resource(resourceArn=group_arn, tags=missing, aws_retry=True)
            if group.get("retentionInDays") != self.wanted["retention_days"]:
                network.changed = True
                if not network.check_mode:
                    logs.put_retention_policy(logGroupName=name, retentionInDays=self.wanted["retention_days"],
                                              aws_retry=True)
        network.delivery_before = {"log_group": group["logGroupName"] if group else None,
                                   "retention_days": group.get("retentionInDays") if group else None}
        network.delivery_after = {"log_group": name, "retention_days": self.wanted["retention_days"]}
        return self.ensure_role(self.wanted["role_name"], account_id, partition, region, group_arn)

    def ensure_role(self, role_name, account_id, partition, region, group_arn):
        network = self.network
        try:
            changed, before, after, arn = self.roles.ensure(
                role_name, net.flow_log_trust_policy(account_id, partition, region),
                {DELIVERY_POLICY_NAME: net.flow_log_delivery_policy(group_arn)}, tags=self.wanted["tags"],
                description="Delivers the VPC flow logs of %s to CloudWatch Logs (mlops.platform)" % role_name)
        except RoleNotOwnedError as exc:
            raise AWSResourceError("config.flow_logs.destination", str(exc))
        network.changed |= changed
        network.delivery_role_created = before is None
        network.delivery_before["role"] = before
        network.delivery_after["role"] = after
        return arn

    def remove_role(self, role_arn):
        """Delete a delivery role of a removed flow log, if this component owns it."""
        changed = self.roles.remove(role_arn.rpartition("/")[2])[0]
        self.network.changed |= changed


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
        network.ensure_vpc()
        network.ensure_subnets()
        network.ensure_internet_gateway()
        network.ensure_route_tables()
        network.ensure_nat_gateways()
        network.ensure_private_routes()
        network.ensure_security_group()
        network.ensure_endpoints()
        network.ensure_flow_logs()
        network.remove_unwanted()
    except AWSResourceError as exc:
        module.fail_json(msg=str(exc))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        module.fail_json_aws(exc, msg="Could not converge the network")

    outputs = network.outputs()
    after = network.state()
    if network.delivery_after is not None:
        before["flow_log_delivery"] = network.delivery_before
        after["flow_log_delivery"] = network.delivery_after
    if network.tag_drift["after"]:
        before["tags"] = network.tag_drift["before"]
        after["tags"] = network.tag_drift["after"]
    module.exit_json(changed=network.changed, diff={"before": before, "after": after},
                     ansible_facts={"mlops_network": outputs}, **outputs)


if __name__ == "__main__":
    main()
