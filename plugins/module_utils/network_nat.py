# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The network's NAT gateways and their Elastic IPs: read, started, waited for, removed.

``NatGateways(writer, view, wait_timeout)`` works through the network's
``network_writer.Ec2Writer`` on the network's ``network_view.NetworkView`` (``nats``,
``eips``, ``dead_nats``, ``unwanted["nats"]``), so that the module's state and outputs show
what it did. Every missing NAT gateway is started first (each with a tagged Elastic IP; one
that an interrupted run allocated and left free is used, not allocated twice), then all are
waited for together, with those an interrupted run left pending. Removing deletes the
unwanted gateways, waits for them, and releases the owned addresses no live gateway uses.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

try:
    from botocore.exceptions import WaiterError
except ImportError:
    pass  # AnsibleAWSModule reports the missing SDK

from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list

from ansible_collections.mlops.platform.plugins.module_utils import network as net
from ansible_collections.mlops.platform.plugins.module_utils.aws import AWSResourceError, wait_until
from ansible_collections.mlops.platform.plugins.module_utils.component import UNKNOWN, is_owned

# Seconds between two polls of the NAT gateway waiters.
NAT_WAIT_DELAY = 15


class NatGateways:
    """The NAT gateways of one environment's network, each with its Elastic IP."""

    def __init__(self, writer, view, wait_timeout):
        self.writer = writer
        self.view = view
        self.wait_timeout = wait_timeout

    def read_addresses(self):
        """The owned Elastic IPs, whether or not the VPC exists yet."""
        self.view.eips = self.writer.ec2.describe_addresses(Filters=self.writer.owner_filters(),
                                                            aws_retry=True)["Addresses"]

    def read(self, in_vpc):
        """The owned NAT gateways of the VPC: live ones by key, the rest as dead or unwanted
        (a duplicate, one no longer wanted, or one no longer in its zone's public subnet)."""
        view = self.view
        live_nats = []
        for nat in self.writer.paginate("describe_nat_gateways", "NatGateways", Filter=in_vpc):
            if not is_owned(net.tag_dict(nat), self.writer.environment, net.COMPONENT):
                continue
            (live_nats if nat["State"] in net.LIVE_NAT_STATES else view.dead_nats).append(nat)
        view.nats, duplicates = net.owned_by_key(live_nats, self.writer.environment)
        view.unwanted["nats"] = duplicates
        view.remember_refs(live_nats, "NatGatewayId")
        for key in sorted(view.nats):
            wanted = view.desired["nat_gateways"].get(key)
            subnet = view.subnets.get(wanted["subnet"]) if wanted else None
            if subnet is None or view.nats[key]["SubnetId"] != subnet["SubnetId"]:
                view.unwanted["nats"].append(view.nats.pop(key))

    def ensure(self):
        """Start every missing NAT gateway (each with its Elastic IP), then wait for all at once,
        with those still pending from an interrupted run: private routes and the nodes behind
        them need egress when this returns. Whether anything changed (or would)."""
        view, writer = self.view, self.writer
        changed = False
        started = []
        used_allocations = {address["AllocationId"] for nat in view.nats.values()
                            for address in nat.get("NatGatewayAddresses") or []}
        for key, wanted in view.desired["nat_gateways"].items():
            eip_wanted = view.desired["eips"][wanted["eip"]]
            nat = view.nats.get(key)
            if nat is not None:
                if nat.get("State") == "pending" and not writer.check_mode:
                    started.append(nat["NatGatewayId"])  # started by an earlier, interrupted run
                changed |= writer.ensure_tags(nat["NatGatewayId"], net.tag_dict(nat), wanted, key)
                nat_allocations = {address["AllocationId"] for address in nat.get("NatGatewayAddresses") or []}
                for address in view.eips:
                    if address["AllocationId"] in nat_allocations:
                        changed |= writer.ensure_tags(address["AllocationId"], net.tag_dict(address), eip_wanted,
                                                      wanted["eip"])
                continue
            changed = True  # a NAT gateway to start: started, or predicted in check mode
            address = self.free_address(wanted["eip"], used_allocations)
            if address is None:
                allocated = writer.create("allocate_address", "AllocationId", eip_wanted,
                                          ("describe_addresses", "Addresses"), Domain="vpc",
                                          TagSpecifications=writer.specification("elastic-ip", eip_wanted)).result
                if isinstance(allocated, dict):
                    allocated = allocated["AllocationId"]
                address = {"AllocationId": allocated or UNKNOWN,
                           "Tags": ansible_dict_to_boto3_tag_list(eip_wanted["tags"])}
                view.eips.append(address)
            else:
                writer.ensure_tags(address["AllocationId"], net.tag_dict(address), eip_wanted, wanted["eip"])
            used_allocations.add(address["AllocationId"])
            subnet_id = view.subnet_id(wanted["subnet"])
            created = None
            if subnet_id != UNKNOWN and address["AllocationId"] != UNKNOWN:
                created = writer.create("create_nat_gateway", "NatGateway", wanted,
                                        ("describe_nat_gateways", "NatGateways",
                                         [{"Name": "subnet-id", "Values": [subnet_id]}], net.LIVE_NAT_STATES),
                                        SubnetId=subnet_id, AllocationId=address["AllocationId"],
                                        ConnectivityType="public",
                                        TagSpecifications=writer.specification("natgateway", wanted)).result
            nat = created or {"NatGatewayId": UNKNOWN, "SubnetId": subnet_id}
            nat.update(Tags=ansible_dict_to_boto3_tag_list(wanted["tags"]), _subnet_ref=wanted["subnet"],
                       NatGatewayAddresses=[{"AllocationId": address["AllocationId"]}])
            view.nats[key] = nat
            if created:
                started.append(nat["NatGatewayId"])
        if started:
            self.wait("nat_gateway_available", started)
        return changed

    def free_address(self, eip_key, used_allocations):
        """An Elastic IP of this zone left free by an interrupted run: used, not allocated twice."""
        return next((address for address in self.view.eips
                     if net.tag_dict(address).get(net.KEY_TAG) == eip_key
                     and address["AllocationId"] not in used_allocations and not address.get("AssociationId")), None)

    def wait(self, waiter, ids):
        """botocore's own NAT gateway waiters: unlike amazon.aws's, "available" fails at once on a
        gateway that failed, whose FailureMessage (an exhausted address quota, a subnet without a
        route to the internet gateway) is then reported instead of a timeout."""
        ec2 = self.writer.ec2
        try:
            wait_until(
                getattr(ec2, "client", ec2).get_waiter(waiter), NatGatewayIds=sorted(ids),
                WaiterConfig={"Delay": NAT_WAIT_DELAY, "MaxAttempts": max(1, self.wait_timeout // NAT_WAIT_DELAY)})
        except WaiterError as exc:
            nats = ec2.describe_nat_gateways(NatGatewayIds=sorted(ids), aws_retry=True)["NatGateways"]
            failed = ["%s (%s): %s" % (nat["NatGatewayId"], nat["State"], nat.get("FailureMessage") or nat.get(
                "FailureCode") or "no reason given") for nat in nats if nat["State"] in ("failed", "deleting", "deleted")
                and waiter == "nat_gateway_available"]
            if failed:
                raise AWSResourceError("config.nat_gateway_mode", "NAT gateway creation failed: " + "; ".join(failed))
            raise AWSResourceError("wait_timeout", "the NAT gateways %s did not become %s within %d s (%s)"
                                   % (", ".join(sorted(ids)), waiter.rpartition("_")[2], self.wait_timeout, exc))

    def remove_unwanted(self):
        """Delete the unwanted NAT gateways (their routes were repointed before), wait for them
        and for those an interrupted run left deleting, then release the freed addresses.
        Whether anything changed (or would)."""
        view = self.view
        changed = False
        nats = [nat["NatGatewayId"] for nat in view.unwanted["nats"]]
        for nat_id in nats:
            changed |= self.writer.delete("delete_nat_gateway", NatGatewayId=nat_id)
        waiting = nats + [nat["NatGatewayId"] for nat in view.dead_nats if nat["State"] == "deleting"]
        if waiting and not self.writer.check_mode:
            self.wait("nat_gateway_deleted", waiting)
        changed |= self.release_addresses()
        return changed

    def release_addresses(self):
        """Release owned Elastic IPs that no live NAT gateway of this component uses; whether any was."""
        view = self.view
        changed = False
        in_use = {address["AllocationId"] for nat in view.nats.values()
                  for address in nat.get("NatGatewayAddresses") or []}
        # An address still shown associated with a NAT gateway that is gone is free: AWS
        # disassociates it when the NAT gateway is deleted.
        freed = {address.get("AllocationId") for nat in view.unwanted["nats"] + view.dead_nats
                 for address in nat.get("NatGatewayAddresses") or []}
        for address in view.eips:
            allocation = address["AllocationId"]
            if allocation in in_use or allocation == UNKNOWN:
                continue
            if address.get("AssociationId") and allocation not in freed:
                continue  # associated with something else: not ours to cut off
            changed |= self.writer.delete("release_address", AllocationId=allocation)
        view.eips = [address for address in view.eips if address["AllocationId"] in in_use]
        return changed
