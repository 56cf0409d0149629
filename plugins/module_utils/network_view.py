# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the network module shows of what it read and changed: pure views, no AWS call.

``NetworkView`` is the reading side of the module's ``Network``: resource keys for ids,
the diffable state and the module's outputs, all computed from what ``Network.read`` and
the ``ensure_*`` steps keep on the object, the helpers' among them (``network_nat``,
``network_endpoints``, ``network_flow_logs``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mlops.platform.plugins.module_utils import network as net


class NetworkView:
    """What a ``Network`` read (and its ensure steps made or predicted), and the views of it."""

    def __init__(self):
        self.desired = None
        self.vpc = None
        self.subnets = {}            # key -> DescribeSubnets item
        self.route_tables = {}       # key -> DescribeRouteTables item
        # subnet -> (route table, association id) over every table of the VPC; subnets and tables
        # this component owns by key, others by id ("refs": ids in check mode are not known yet).
        self.associations = {}
        self.refs = {}
        self.igw = None
        self.eips = []               # owned DescribeAddresses items
        self.nats = {}               # key -> live NAT gateway (pending or available)
        self.security_group = None
        self.endpoints = {}          # service -> live endpoint
        self.flow_logs = []          # owned DescribeFlowLogs items
        self.unwanted = {kind: [] for kind in ("subnets", "route_tables", "nats", "endpoints", "security_groups")}
        self.dead_nats = []          # owned NAT gateways deleting / deleted / failed

    def remember_refs(self, resources, id_key):
        for resource in resources:
            key = net.tag_dict(resource).get(net.KEY_TAG)
            if key and key not in self.refs.values():
                self.refs[resource[id_key]] = key

    def ref(self, resource_id):
        """The key of an owned resource (for a readable diff), any other id as it is."""
        return self.refs.get(resource_id, resource_id)

    def subnet_id(self, key):
        subnet = self.subnets.get(key)
        return subnet["SubnetId"] if subnet else None

    def route_table_id(self, key):
        table = self.route_tables.get(key)
        return table["RouteTableId"] if table else None

    @staticmethod
    def with_unwanted(wanted, unwanted):
        """``{key: resource}`` of the wanted resources plus the unwanted ones still there, by their key."""
        merged = dict(wanted)
        for resource in unwanted:
            key = net.tag_dict(resource).get(net.KEY_TAG, "?")
            merged["%s (duplicate)" % key if key in merged else key] = resource
        return merged

    def state(self):
        """The diffable view: the network by resource key, with ids and what a person compares."""
        if self.vpc is None:
            return {}
        tables = {}
        for key, table in sorted(self.with_unwanted(self.route_tables, self.unwanted["route_tables"]).items()):
            default = next((route for route in table.get("Routes") or []
                            if route.get("DestinationCidrBlock") == net.DEFAULT_ROUTE), None)
            tables[key] = {
                "id": table["RouteTableId"],
                "default_route": default.get("_target_ref") or self.ref(net.route_target(default)[1])
                if default else None,
                "subnets": sorted(subnet for subnet, (table_ref, association_id) in self.associations.items()
                                  if table_ref == key),
            }
        endpoints = {}
        unwanted_endpoints = {net.tag_dict(endpoint).get(net.KEY_TAG, "?").partition("/")[2] + " (to delete)": endpoint
                              for endpoint in self.unwanted["endpoints"]}
        for service, endpoint in sorted(dict(self.endpoints, **unwanted_endpoints).items()):
            entry = {"id": endpoint["VpcEndpointId"], "type": endpoint["VpcEndpointType"]}
            refs = endpoint.get("_refs") or {}
            if endpoint["VpcEndpointType"] == "Gateway":
                entry["route_tables"] = sorted(refs.get("route_tables") or [
                    self.ref(table) for table in endpoint.get("RouteTableIds") or []])
            else:
                entry["subnets"] = sorted(refs.get("subnets") or [
                    self.ref(subnet) for subnet in endpoint.get("SubnetIds") or []])
                entry["private_dns"] = bool(endpoint.get("PrivateDnsEnabled"))
            endpoints[service] = entry
        state = {
            "vpc": {"id": self.vpc["VpcId"], "cidr": self.vpc["CidrBlock"],
                    "dns_support": bool(self.vpc.get("EnableDnsSupport")),
                    "dns_hostnames": bool(self.vpc.get("EnableDnsHostnames"))},
            "subnets": {key: {"id": subnet["SubnetId"], "cidr": subnet["CidrBlock"]}
                        for key, subnet in sorted(self.with_unwanted(self.subnets, self.unwanted["subnets"]).items())},
            "internet_gateway": self.igw["InternetGatewayId"] if self.igw else None,
            "nat_gateways": {key: {"id": nat["NatGatewayId"],
                                   "subnet": nat.get("_subnet_ref") or self.ref(nat.get("SubnetId"))}
                             for key, nat in sorted(self.with_unwanted(self.nats, self.unwanted["nats"]).items())},
            "elastic_ips": sorted(address["AllocationId"] for address in self.eips),
            "route_tables": tables,
            "vpc_endpoints": endpoints,
            "flow_logs": [{"id": flow_log["FlowLogId"], "traffic_type": flow_log.get("TrafficType"),
                           "destination_type": flow_log.get("LogDestinationType"),
                           "destination": flow_log.get("LogDestination") if flow_log.get("LogDestinationType") == "s3"
                           else flow_log.get("LogGroupName")} for flow_log in self.flow_logs],
        }
        for group in ([self.security_group] if self.security_group else []) + self.unwanted["security_groups"]:
            state.setdefault("security_groups", {})[net.tag_dict(group).get(net.KEY_TAG, group["GroupId"])] = {
                "id": group["GroupId"],
                "ingress": net.describe_ingress(group.get("IpPermissions"))}
        return state

    def outputs(self):
        azs = self.desired["availability_zones"]

        def subnet_ids(tier):
            return [self.subnet_id("subnet/%s/%s" % (tier, az)) for az in azs
                    if "subnet/%s/%s" % (tier, az) in self.subnets]

        return {
            "vpc_id": self.vpc["VpcId"],
            "vpc_cidr": self.vpc["CidrBlock"],
            "availability_zones": list(azs),
            "public_subnet_ids": subnet_ids("public"),
            "private_subnet_ids": subnet_ids("private"),
            "intra_subnet_ids": subnet_ids("intra"),
            "private_subnet_cidrs": [self.subnets["subnet/private/%s" % az]["CidrBlock"] for az in azs],
            "route_table_ids": {
                "public": self.route_table_id("route-table/public"),
                "private": [self.route_table_id("route-table/private/%s" % az) for az in azs],
                "intra": self.route_table_id("route-table/intra"),
            },
            "nat_gateway_ids": [self.nats[key]["NatGatewayId"] for key in self.desired["nat_gateways"]],
            "internet_gateway_id": self.igw["InternetGatewayId"],
            "endpoint_security_group_id": self.security_group["GroupId"] if self.security_group else None,
            "vpc_endpoint_ids": {service: endpoint["VpcEndpointId"] for service, endpoint in sorted(self.endpoints.items())},
        }
