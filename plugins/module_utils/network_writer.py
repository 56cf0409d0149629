# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The network component's one way to write to EC2.

``Ec2Writer`` is what the ``network`` module and its resource helpers (``network_nat``,
``network_endpoints``, ``network_flow_logs``) read owned resources by key and write through.
Check mode is decided here: a write in check mode is not sent, but reported as the change it
would be. Every write returns its own ``changed`` (``write``, ``write_once`` and ``create``
as a :data:`Write`, with the answer or the created resource; ``delete`` and ``delete_all``
as a bool), for the caller to combine with ``changed |=``.

* Creates go through ``aws.create_once``, tagged in the call itself (``TagSpecifications``),
  with a ``ClientToken`` where EC2 takes one, and found again by their key tag after a lost
  answer or an interrupted run.
* Writes that make nothing to find (AttachInternetGateway, CreateRoute, deletes) go through
  ``aws.write_once``: after a lost answer, "already there" / "already gone" counts as done.
* A call that names a resource this run created waits EC2's "not known yet" out (the bounded
  settling retry); any other call takes it as the real answer.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import functools

from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_tag_filter_dict
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_specifications
from ansible_collections.amazon.aws.plugins.module_utils.transformation import ansible_dict_to_boto3_filter_list

from ansible_collections.mlops.platform.plugins.module_utils import network as net
from ansible_collections.mlops.platform.plugins.module_utils.aws import AWS_RETRY, AWSResourceError, client_token
from ansible_collections.mlops.platform.plugins.module_utils.aws import create_once, paginate, settling_retry
from ansible_collections.mlops.platform.plugins.module_utils.aws import write_once
from ansible_collections.mlops.platform.plugins.module_utils.component import COMPONENT_TAG, ENVIRONMENT_TAG
from ansible_collections.mlops.platform.plugins.module_utils.component import MANAGED_TAG, UNKNOWN

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
# What a delete (sent again after a lost answer) meets once the first one took effect: as an
# error, or, for the calls that delete several at once, as an item of ``Unsuccessful``.
GONE = {
    "delete_nat_gateway": ("NatGatewayNotFound", "InvalidNatGatewayID.NotFound"),
    "release_address": ("InvalidAllocationID.NotFound",),
    "disassociate_route_table": ("InvalidAssociationID.NotFound",),
    "delete_subnet": ("InvalidSubnetID.NotFound",),
    "delete_route_table": ("InvalidRouteTableID.NotFound",),
    "delete_route": ("InvalidRoute.NotFound",),
    "delete_vpc_endpoints": ("InvalidVpcEndpoint.NotFound", "InvalidVpcEndpointId.NotFound"),
    "delete_flow_logs": ("InvalidFlowLogId.NotFound",),
}

# What a write did: ``changed`` (always True: a write is a change, made or, in check mode,
# predicted) and ``result``, EC2's answer (``create``: the resource made or found again),
# None in check mode.
Write = collections.namedtuple("Write", ("changed", "result"))
# A write not sent because what it names does not exist yet (check mode): a change all the same.
PLANNED = Write(True, None)


class Ec2Writer:
    """EC2 reads by ownership and writes of one environment's network, on the module's clients."""

    def __init__(self, module, environment):
        self.module = module
        self.environment = environment
        self.check_mode = module.check_mode
        self.ec2 = module.client("ec2", retry_decorator=AWS_RETRY)
        self.paginate = functools.partial(paginate, self.ec2)
        self.made = set()            # ids of the resources this run created
        self.removed = False         # this run deleted something a later delete may depend on
        # The tags a run adds or corrects, by resource key, for the diff.
        self.tag_drift = {"before": {}, "after": {}}
        self._settling_ec2 = None
        self._client_token_operations = {}

    # -- reading by ownership --------------------------------------------------------------

    def owner_filters(self, key=None):
        """Describe filters for the resources this environment's network owns (with ``key``: that one)."""
        tags = {MANAGED_TAG: "true", ENVIRONMENT_TAG: self.environment, COMPONENT_TAG: net.COMPONENT}
        if key is not None:
            tags[net.KEY_TAG] = key
        return ansible_dict_to_boto3_filter_list(ansible_dict_to_tag_filter_dict(tags))

    def find_by_key(self, key, operation, result_key, filters=(), live=None):
        """The owned resource tagged with ``key`` (and in one of the ``live`` states), or None."""
        name = "Filter" if operation == "describe_nat_gateways" else "Filters"
        params = {name: self.owner_filters(key) + list(filters)}
        if getattr(self.ec2, "client", self.ec2).can_paginate(operation):
            found = self.paginate(operation, result_key, **params)
        else:
            found = getattr(self.ec2, operation)(aws_retry=True, **params)[result_key]
        for resource in found:
            state = resource.get("State")
            if live is None or (state or "").lower() in live:
                return resource
        return None

    # -- writing ---------------------------------------------------------------------------

    def settling(self, params):
        """The refusals to wait out for a call with ``params``: EC2's "not known yet" when it
        names a resource this run created, none otherwise."""
        return NOT_KNOWN_YET if self.made.intersection(net.ids_in(params)) else ()

    def write(self, operation, **params):
        """One idempotent EC2 write (Modify*, Replace*, CreateTags), not sent in check mode.
        Sent with the access layer's retries, or the settling retry when it names a resource
        this run just created."""
        if self.check_mode:
            return Write(True, None)
        client = self.ec2
        if self.settling(params):
            if self._settling_ec2 is None:
                self._settling_ec2 = self.module.client("ec2", retry_decorator=settling_retry(*NOT_KNOWN_YET))
            client = self._settling_ec2
        return Write(True, getattr(client, operation)(aws_retry=True, **params))

    def write_once(self, operation, done_codes, **params):
        """A write AWS refuses with ``done_codes`` once made (see aws.write_once); not sent in check mode."""
        if self.check_mode:
            return Write(True, None)
        return Write(True, write_once(lambda: getattr(self.module.once_client("ec2"), operation)(**params),
                                      done_codes, self.settling(params)))

    def delete(self, operation, **params):
        """Delete (or release) an owned resource; one already gone (a lost answer, sent again)
        counts as done. Once this run has deleted something, a DependencyViolation is a
        dependant still going away (an ENI of a deleted NAT gateway or endpoint) and is waited
        out, boundedly. True: a change."""
        if not self.check_mode:
            write_once(lambda: getattr(self.module.once_client("ec2"), operation)(**params), GONE[operation],
                       DEPENDENCY_SETTLING if self.removed else ())
            self.removed = True
        return True

    def delete_all(self, operation, paths, **params):
        """One call that deletes several owned resources (DeleteVpcEndpoints, DeleteFlowLogs).
        Such a call answers what it could not delete in ``Unsuccessful``, not as an error: an
        item there that is not "already gone" (a lost answer, sent again) fails the run with
        the config path of its resource (``paths``: id -> path). True: a change."""
        if self.check_mode:
            return True
        answer = write_once(lambda: getattr(self.module.once_client("ec2"), operation)(**params), GONE[operation])
        failed = [(item.get("ResourceId"), item.get("Error") or {}) for item in (answer or {}).get("Unsuccessful") or []]
        failed = [(resource_id, error) for resource_id, error in failed if error.get("Code") not in GONE[operation]]
        if failed:
            raise AWSResourceError(paths.get(failed[0][0], "config"), "%s could not delete %s" % (
                self._api_name(operation), "; ".join("%s: %s (%s)" % (
                    resource_id, error.get("Message") or "no reason given", error.get("Code"))
                    for resource_id, error in failed)))
        return True

    def _api_name(self, operation):
        """EC2's own name of a client method (``delete_flow_logs`` -> ``DeleteFlowLogs``)."""
        return getattr(self.ec2, "client", self.ec2).meta.method_to_api_mapping[operation]

    def create(self, operation, item, wanted, describe, **params):
        """Create the resource ``wanted`` at most once (aws.create_once), found again by its key tag
        through ``describe`` (``(operation, result key, extra filters, live states)``); the
        result is its describe item, or None in check mode."""
        if self.check_mode:
            return Write(True, None)
        if self.takes_client_token(operation):
            params["ClientToken"] = client_token()
        response, found = create_once(
            lambda: getattr(self.module.once_client("ec2"), operation)(**params),
            lambda: self.find_by_key(wanted["tags"][net.KEY_TAG], *describe), settling_codes=self.settling(params))
        if response is None:
            return Write(True, found)
        result = response[item] if item else response
        if operation in CREATED_ID:
            self.made.add(result if isinstance(result, str) else result[CREATED_ID[operation]])
        return Write(True, result)

    def takes_client_token(self, operation):
        """Whether EC2's ``operation`` takes an idempotency token: read from the service model
        once per operation."""
        if operation not in self._client_token_operations:
            meta = getattr(self.ec2, "client", self.ec2).meta
            model = meta.service_model.operation_model(meta.method_to_api_mapping[operation])
            self._client_token_operations[operation] = "ClientToken" in model.input_shape.members
        return self._client_token_operations[operation]

    def ensure_tags(self, resource_id, live_tags, wanted, label):
        """Add or correct the ``wanted`` tags of a resource (tags set by other tools are kept),
        noted for the diff under ``label``; whether any was missing."""
        missing = net.tags_to_set(live_tags, wanted["tags"])
        if not missing:
            return False
        self.tag_drift["before"][label] = {key: live_tags.get(key) for key in sorted(missing)}
        self.tag_drift["after"][label] = {key: missing[key] for key in sorted(missing)}
        if resource_id != UNKNOWN:
            self.write("create_tags", Resources=[resource_id], Tags=ansible_dict_to_boto3_tag_list(missing))
        return True

    @staticmethod
    def specification(resource_type, wanted):
        """The TagSpecifications that tag a create with ``wanted``'s tags."""
        return boto3_tag_specifications(wanted["tags"], [resource_type])
