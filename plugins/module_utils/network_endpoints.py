# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The network's VPC endpoints and the security group of its interface endpoints.

``VpcEndpoints(writer, view, config)`` works through the network's
``network_writer.Ec2Writer`` on its ``network_view.NetworkView`` (``endpoints``,
``security_group``, ``unwanted["endpoints"]``, ``unwanted["security_groups"]``). Gateway
endpoints go on the private and intra route tables, interface endpoints into the private
subnets with private DNS and the group ``<prefix>-vpc-endpoints`` (HTTPS from the VPC CIDR),
kept by ``security_group.ComponentSecurityGroups``: a group of that name that the network
does not own is refused with ``name_prefix`` (the option that names it), before any write and
again if one appears between the read and the create.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list

from ansible_collections.mlops.platform.plugins.module_utils import network as net
from ansible_collections.mlops.platform.plugins.module_utils import security_group as sg
from ansible_collections.mlops.platform.plugins.module_utils.aws import AWSResourceError
from ansible_collections.mlops.platform.plugins.module_utils.component import UNKNOWN
from ansible_collections.mlops.platform.plugins.module_utils.network_writer import DEPENDENCY_SETTLING

ENDPOINT_GROUP_KEY = "security-group/vpc-endpoints"


def endpoints_path(endpoint_type):
    """The config list that asks for an endpoint of ``endpoint_type`` (``Gateway``, ``Interface``)."""
    return "config.gateway_endpoints" if endpoint_type == "Gateway" else "config.interface_endpoints"


class VpcEndpoints:
    """The gateway and interface endpoints of one environment's VPC, and their security group."""

    def __init__(self, writer, view, config):
        self.writer = writer
        self.view = view
        self.config = config
        # The group's name comes from name_prefix: that is what a user changes to avoid a foreign group.
        self.groups = sg.ComponentSecurityGroups(writer.module, writer.ec2, writer.environment, net.COMPONENT,
                                                 path="name_prefix")
        self.foreign_group = None    # a group under our name that this component does not own

    def read(self, in_vpc):
        """The VPC's groups (the endpoints' own, other owned ones to delete, a foreign one under
        its name) and its live endpoints (the wanted ones by service, the rest to delete)."""
        view, desired = self.view, self.view.desired
        all_groups = self.writer.paginate("describe_security_groups", "SecurityGroups", Filters=in_vpc)
        groups, duplicates = net.owned_by_key(all_groups, self.writer.environment)
        if desired["security_group"] is not None:
            self.foreign_group = next((group for group in all_groups if group["GroupName"] == desired[
                "security_group"]["name"] and not self.groups.owned(group)), None)
        view.security_group = groups.pop(ENDPOINT_GROUP_KEY, None)
        if desired["security_group"] is None and view.security_group is not None:
            duplicates.append(view.security_group)
            view.security_group = None
        view.unwanted["security_groups"] = duplicates + list(groups.values())

        live_endpoints = [endpoint for endpoint in self.writer.paginate("describe_vpc_endpoints", "VpcEndpoints",
                                                                        Filters=in_vpc)
                          if endpoint["State"].lower() in net.LIVE_ENDPOINT_STATES]
        endpoints, duplicates = net.owned_by_key(live_endpoints, self.writer.environment)
        view.unwanted["endpoints"] = duplicates
        for key, endpoint in sorted(endpoints.items()):
            service = key.partition("/")[2]
            wanted = desired["vpc_endpoints"].get(service)
            if wanted and wanted["service_name"] == endpoint["ServiceName"] and wanted["type"] == endpoint["VpcEndpointType"]:
                view.endpoints[service] = endpoint
            else:
                view.unwanted["endpoints"].append(endpoint)

    def refuse_foreign_group(self):
        """Before any write: a group under the endpoints' group name that this component does not own."""
        if self.foreign_group is not None:
            raise self.groups.not_owned(self.foreign_group)

    def check_services(self):
        """Before any write: the services of the endpoints to create are offered in the region
        (one DescribeVpcEndpointServices, only when an endpoint is missing)."""
        missing = [endpoint for service, endpoint in self.view.desired["vpc_endpoints"].items()
                   if service not in self.view.endpoints]
        if not missing:
            return
        names = [endpoint["service_name"] for endpoint in missing]
        try:
            self.writer.ec2.describe_vpc_endpoint_services(ServiceNames=names, aws_retry=True)
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

    def ensure_security_group(self):
        """The interface endpoints' group, with exactly its HTTPS-from-the-VPC ingress (rules of
        other kinds kept); whether anything changed (or would)."""
        view, writer = self.view, self.writer
        wanted = view.desired["security_group"]
        if wanted is None:
            return False
        group = view.security_group
        if group is None:
            changed = True
            group = {"GroupId": UNKNOWN, "IpPermissions": [], "Tags": ansible_dict_to_boto3_tag_list(wanted["tags"])}
            if view.vpc["VpcId"] != UNKNOWN and not writer.check_mode:
                group = self.groups.create(view.vpc["VpcId"], wanted["name"], wanted["description"], wanted["tags"],
                                           settling=writer.settling([view.vpc["VpcId"]]))
                writer.made |= self.groups.created
            view.security_group = group
        else:
            changed = writer.ensure_tags(group["GroupId"], net.tag_dict(group), wanted, wanted["key"])
        changed |= self.groups.converge_rules(group, "ingress", wanted["ingress"], kinds=net.RULE_KINDS)
        return changed

    def ensure(self):
        """Create the missing endpoints and bring the others' route tables, subnets, group and
        private DNS to what is wanted; whether anything changed (or would)."""
        view, writer = self.view, self.writer
        changed = False
        vpc_id = view.vpc["VpcId"]
        group_id = view.security_group["GroupId"] if view.security_group else None
        for service, wanted in view.desired["vpc_endpoints"].items():
            route_tables = [view.route_table_id(key) for key in wanted["route_tables"]]
            subnets = [view.subnet_id(key) for key in wanted["subnets"]]
            groups = [group_id] if wanted["type"] == "Interface" else []
            endpoint = view.endpoints.get(service)
            if endpoint is None:
                params = dict(VpcId=vpc_id, ServiceName=wanted["service_name"], VpcEndpointType=wanted["type"],
                              TagSpecifications=writer.specification("vpc-endpoint", wanted))
                if wanted["type"] == "Gateway":
                    params["RouteTableIds"] = route_tables
                else:
                    params.update(SubnetIds=subnets, SecurityGroupIds=groups, PrivateDnsEnabled=wanted["private_dns"])
                known = UNKNOWN not in [vpc_id] + route_tables + subnets + groups
                created = writer.create("create_vpc_endpoint", "VpcEndpoint", wanted,
                                        ("describe_vpc_endpoints", "VpcEndpoints", [{"Name": "vpc-id", "Values": [vpc_id]}],
                                         net.LIVE_ENDPOINT_STATES), **params).result if known else None
                changed = True  # created, or predicted in check mode
                endpoint = created or {"VpcEndpointId": UNKNOWN}
                endpoint.update(VpcEndpointType=wanted["type"], ServiceName=wanted["service_name"],
                                RouteTableIds=route_tables, SubnetIds=subnets, _refs=wanted,
                                Groups=[{"GroupId": group} for group in groups], PrivateDnsEnabled=wanted["private_dns"],
                                Tags=ansible_dict_to_boto3_tag_list(wanted["tags"]))
                view.endpoints[service] = endpoint
                continue
            changed |= writer.ensure_tags(endpoint["VpcEndpointId"], net.tag_dict(endpoint), wanted, wanted["key"])
            changes = net.endpoint_changes(endpoint, route_tables, subnets, groups, wanted["private_dns"])
            if not changes:
                continue
            changed = True  # modified, or predicted while an id is not known yet
            if UNKNOWN not in route_tables + subnets + groups:
                writer.write("modify_vpc_endpoint", VpcEndpointId=endpoint["VpcEndpointId"], **changes)
            endpoint.update(RouteTableIds=route_tables, SubnetIds=subnets, _refs=wanted,
                            Groups=[{"GroupId": group} for group in groups], PrivateDnsEnabled=wanted["private_dns"])
        return changed

    def remove_endpoints(self):
        """Delete the owned endpoints no longer wanted, in one call; whether there were any."""
        unwanted = self.view.unwanted["endpoints"]
        if not unwanted:
            return False
        self.writer.delete_all("delete_vpc_endpoints", {
            endpoint["VpcEndpointId"]: endpoints_path(endpoint["VpcEndpointType"]) for endpoint in unwanted},
            VpcEndpointIds=sorted(endpoint["VpcEndpointId"] for endpoint in unwanted))
        self.writer.removed = True  # their network interfaces may hold up the deletes that follow
        return True

    def remove_groups(self):
        """Delete the owned groups no longer wanted (last: endpoints used them); whether there were any."""
        changed = False
        for group in self.view.unwanted["security_groups"]:
            changed = True
            self.groups.delete(group["GroupId"], DEPENDENCY_SETTLING if self.writer.removed else ())
            self.writer.removed = True
        return changed
