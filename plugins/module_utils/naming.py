# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Names of the AWS resources an environment owns, derived in one place.

Every component derives its resource names here, so validation can prove before any
API call that each name fits the limits of the service that will receive it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.mlops.platform.plugins.module_utils.identities import wanted_identities

# A twelve-digit stand-in for the account id, which is unknown until the organization
# component has run; the length is what matters for the limits below.
_ACCOUNT_ID_PLACEHOLDER = "123456789012"


def name_prefix(environment):
    """The prefix of every resource name: the configured one, or ``mlops-<env>``."""
    return environment.get("name_prefix") or "mlops-%s" % environment.get("name")


def cluster_name(prefix):
    return prefix


def eks_role_names(prefix):
    """The IAM roles of the cluster and of its managed nodes."""
    return {"cluster_role": "%s-eks-cluster" % prefix, "node_role": "%s-eks-node" % prefix}


def system_node_group_name(prefix):
    return "%s-system" % prefix


def gpu_node_group_name(prefix, key):
    """``<prefix>-gpu-<key>``: the EKS name of the GPU node group ``key`` of config.node_groups."""
    return "%s-gpu-%s" % (prefix, key)


def db_instance_identifier(prefix):
    return "%s-postgres" % prefix


def lake_bucket_name(prefix, account_id, zone=None):
    """``<prefix>-lake[-<zone>]-<account id>``: the account id makes it globally unique."""
    parts = [prefix, "lake"] + ([zone] if zone else []) + [account_id]
    return "-".join(parts)


def component_role_name(prefix, component):
    """``<prefix>-<component, dashed>``: the IAM role of a component or workload identity."""
    return "%s-%s" % (prefix, component.replace("_", "-"))


ROLE_NAME_LIMIT = 64


def checked_role_name(prefix, component, what=None):
    """:func:`component_role_name`, or ValueError when IAM would refuse it: over
    :data:`ROLE_NAME_LIMIT` characters (the message says how long ``prefix`` may be for
    ``what``, by default the component) or with characters IAM does not accept."""
    name = component_role_name(prefix, component)
    if len(name) > ROLE_NAME_LIMIT:
        room = ROLE_NAME_LIMIT - len(name) + len(prefix)
        raise ValueError("makes the IAM role name %r %d characters long; IAM allows %d, so name_prefix may have at "
                         "most %d characters for %s" % (name, len(name), ROLE_NAME_LIMIT, room,
                                                        what or "the %s component" % component))
    if not _IAM_ROLE.match(name):
        raise ValueError("makes the IAM role name %r, which IAM does not accept (letters, digits and +=,.@_-)" % name)
    return name


_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]*[a-z0-9]$")
_DB_IDENTIFIER = re.compile(r"^[a-zA-Z](?!.*--)[a-zA-Z0-9-]*[a-zA-Z0-9]$")
_EKS_CLUSTER = re.compile(r"^[0-9A-Za-z][A-Za-z0-9\-_]*$")
_IAM_ROLE = re.compile(r"^[\w+=,.@-]+$")
_NODE_GROUP = re.compile(r"^[0-9A-Za-z][A-Za-z0-9_-]*$")


def derived_names(config):
    """Yield ``(what, name, limit, pattern)`` for every name the configuration implies."""
    environment = config["mlops_environment"]
    infrastructure = config["mlops_infrastructure"]
    prefix = name_prefix(environment)

    if infrastructure["eks"]["enabled"]:
        yield "the EKS cluster name", cluster_name(prefix), 100, _EKS_CLUSTER
        for role in sorted(eks_role_names(prefix).values()):
            yield "an IAM role name", role, ROLE_NAME_LIMIT, _IAM_ROLE
        yield "a node group name", system_node_group_name(prefix), 63, _NODE_GROUP
        for identity in wanted_identities(lambda group, component: config[group][component]["enabled"]):
            yield "an IAM role name", component_role_name(prefix, identity), ROLE_NAME_LIMIT, _IAM_ROLE
    if infrastructure["gpu_nodes"]["enabled"]:
        for key in sorted(infrastructure["gpu_nodes"]["config"]["node_groups"]):
            yield "a node group name", gpu_node_group_name(prefix, key), 63, _NODE_GROUP
    if infrastructure["database"]["enabled"]:
        yield "the RDS instance identifier", db_instance_identifier(prefix), 63, _DB_IDENTIFIER
    lake = infrastructure["data_lake"]
    if lake["enabled"]:
        zones = lake["config"]["zones"] if lake["config"]["layout"] == "bucket_per_zone" else [None]
        for zone in zones:
            yield "an S3 bucket name", lake_bucket_name(prefix, _ACCOUNT_ID_PLACEHOLDER, zone), 63, _BUCKET


def check_names(config):
    """Messages for every derived name that breaks its service's limits."""
    problems = []
    for what, name, limit, pattern in derived_names(config):
        if len(name) > limit:
            problems.append("makes %s %r %d characters long, the limit is %d" % (what, name, len(name), limit))
        elif not pattern.match(name):
            problems.append("makes %s %r, which AWS does not accept" % (what, name))
    return problems
