# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The database component's pure logic: names, checks, desired state, plans and views. No network.

The RDS resources (module_utils/rds_resources.py) and the module (plugins/modules/database.py)
read the live resources, hand them to the functions here and call exactly what they say
differs. Everything that can be decided without AWS is decided here, so that it can be
unit-tested without a stand-in.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.mlops.platform.plugins.module_utils import naming
from ansible_collections.mlops.platform.plugins.module_utils.config_schema import check_storage  # noqa: F401 pylint: disable=unused-import
from ansible_collections.mlops.platform.plugins.module_utils.component import UNKNOWN, is_unknown
from ansible_collections.mlops.platform.plugins.module_utils.rds_storage import MAX_PROVISIONED_IOPS
from ansible_collections.mlops.platform.plugins.module_utils.rds_storage import MIN_PROVISIONED_IOPS
from ansible_collections.mlops.platform.plugins.module_utils.rds_storage import PROVISIONED_IOPS_TYPES
from ansible_collections.mlops.platform.plugins.module_utils.schema_engine import ConfigError, check_cidr
# The one rule form of the collection's security groups; used by name here.
from ansible_collections.mlops.platform.plugins.module_utils.security_group import (  # noqa: F401 pylint: disable=unused-import
    describe_rules,
    permissions_of,
    rules_of,
)

COMPONENT = "database"
ENGINE = "postgres"
# The master user's name is not a secret; its password is RDS's, in Secrets Manager.
MASTER_USERNAME = "mlops_admin"
# Performance Insights' free tier; longer retention is billed.
PERFORMANCE_INSIGHTS_RETENTION_DAYS = 7

# Parameters this component pins in its parameter group, with RDS's apply type for
# PostgreSQL. rds.force_ssl is dynamic on RDS for PostgreSQL (apply type "dynamic" in
# every postgresNN family), so "immediate" is valid and a repair takes effect without
# a reboot. A static parameter would need "pending-reboot".
PARAMETERS = {
    "rds.force_ssl": {"value": "1", "apply_type": "dynamic"},
}

# Settings RDS applies without downtime, or applies at once whatever ApplyImmediately
# says (RDS user guide, "Settings for DB instances"). A modification made only of these
# is sent with ApplyImmediately=true; anything else waits for the maintenance window
# unless the caller asks for apply_immediately.
HARMLESS_SETTINGS = frozenset([
    "AllocatedStorage",          # growing storage is online
    "AutoMinorVersionUpgrade",
    "BackupRetentionPeriod",     # only between two non-zero values, see modification()
    "CopyTagsToSnapshot",
    "DeletionProtection",
    "EnablePerformanceInsights",
    "MaxAllocatedStorage",
    "PreferredBackupWindow",
    "PreferredMaintenanceWindow",
    "PubliclyAccessible",
    "VpcSecurityGroupIds",
])

# When a converge's wait is over. The instance serves connections in "available" and
# also in "storage-optimization" (after any storage change or autoscaling event, for
# hours) and "backing-up"; botocore's db_instance_available waiter accepts only the
# first, so a wait after an autoscaling event would time out. A status the instance
# does not leave by itself ends the wait at once.
USABLE_STATUSES = ("available", "storage-optimization", "backing-up")
STUCK_STATUSES = ("failed", "stopped", "stopping", "storage-full", "incompatible-network", "incompatible-option-group",
                  "incompatible-parameters", "incompatible-restore", "inaccessible-encryption-credentials",
                  "inaccessible-encryption-credentials-recoverable")
USABLE_WAIT_DELAY = 30
# Statuses in which the instance will not become available without someone acting.
STOPPED_STATUSES = ("stopped", "stopping")


def usable_waiter_model(max_attempts):
    """A botocore waiter model (version 2) for DescribeDBInstances of one instance that
    succeeds on a usable status and fails on a stuck one."""
    status = "DBInstances[].DBInstanceStatus"
    acceptors = [{"matcher": "pathAll", "argument": status, "expected": expected, "state": "success"}
                 for expected in USABLE_STATUSES]
    acceptors += [{"matcher": "pathAny", "argument": status, "expected": expected, "state": "failure"}
                  for expected in STUCK_STATUSES]
    # Right after CreateDBInstance, the instance may not be found yet.
    acceptors.append({"matcher": "error", "expected": "DBInstanceNotFound", "state": "retry"})
    return {"version": 2, "waiters": {"DBInstanceUsable": {
        "operation": "DescribeDBInstances", "delay": USABLE_WAIT_DELAY, "maxAttempts": max_attempts,
        "acceptors": acceptors}}}


_VPC_ID = re.compile(r"^vpc-[0-9a-f]{8,17}$")
_SUBNET_ID = re.compile(r"^subnet-[0-9a-f]{8,17}$")
_SECURITY_GROUP_ID = re.compile(r"^sg-[0-9a-f]{8,17}$")


# --- names ---------------------------------------------------------------------------------


def engine_major(version):
    """``"17.6"`` -> ``"17"``; PostgreSQL 10 and later number their major releases with one part."""
    return version.split(".")[0]


def version_tuple(version):
    return tuple(int(part) for part in version.split("."))


def names(prefix, engine_version):
    """The name of every resource the component owns."""
    major = engine_major(engine_version)
    return {
        "instance": naming.db_instance_identifier(prefix),
        "subnet_group": "%s-postgres" % prefix,
        "security_group": "%s-postgres" % prefix,
        "parameter_group": "%s-postgres%s" % (prefix, major),
        "parameter_group_family": "postgres%s" % major,
        "kms_alias": "alias/%s-database" % prefix,
    }


# --- checks before any call ------------------------------------------------------------------


def check_inputs(params, check_mode):
    """Problems with the inputs from the network component, by option name (before any call).

    Values still unknown in a check-mode plan are accepted in check mode only.
    """
    errors = []

    def unknown_allowed(path, value):
        if not is_unknown(value):
            return False
        if not check_mode:
            errors.append(ConfigError(path, "is still unknown: converge the network component first", value))
        return True

    vpc_id = params["vpc_id"]
    if not unknown_allowed("vpc_id", vpc_id) and not _VPC_ID.match(vpc_id):
        errors.append(ConfigError("vpc_id", "is not a VPC id (vpc-...)", vpc_id))
    subnet_ids = params["subnet_ids"]
    for index, subnet_id in enumerate(subnet_ids):
        path = "subnet_ids[%d]" % index
        if not unknown_allowed(path, subnet_id) and not _SUBNET_ID.match(subnet_id):
            errors.append(ConfigError(path, "is not a subnet id (subnet-...)", subnet_id))
    known = [subnet_id for subnet_id in subnet_ids if not is_unknown(subnet_id)]
    if len(set(known)) != len(known):
        errors.append(ConfigError("subnet_ids", "lists a subnet more than once"))
    if len(subnet_ids) < 2:
        errors.append(ConfigError("subnet_ids", "lists %d subnet(s); an RDS subnet group needs private subnets in at "
                                                "least two availability zones" % len(subnet_ids)))
    for index, cidr in enumerate(params["allowed_cidrs"]):
        problem = check_cidr(cidr)
        if problem:
            errors.append(ConfigError("allowed_cidrs[%d]" % index, problem, cidr))
    for index, group_id in enumerate(params["allowed_security_group_ids"]):
        path = "allowed_security_group_ids[%d]" % index
        if not unknown_allowed(path, group_id) and not _SECURITY_GROUP_ID.match(group_id):
            errors.append(ConfigError(path, "is not a security group id (sg-...)", group_id))
    return errors


def check_subnets(config, vpc_id, subnet_ids, subnets):
    """Problems found in the one DescribeSubnets answer: existence, VPC, availability zones.

    ``subnets`` is that answer's list. Multi-AZ is also checked by the configuration's
    cross-component rule from the network's configured AZ count; this is the same rule on
    the subnets actually given.
    """
    errors = []
    found = {subnet["SubnetId"]: subnet for subnet in subnets}
    for index, subnet_id in enumerate(subnet_ids):
        subnet = found.get(subnet_id)
        if subnet is None:
            errors.append(ConfigError("subnet_ids[%d]" % index, "does not exist", subnet_id))
        elif subnet["VpcId"] != vpc_id:
            errors.append(ConfigError("subnet_ids[%d]" % index, "is in %s, not in vpc_id %s"
                                      % (subnet["VpcId"], vpc_id), subnet_id))
    if errors:
        return errors
    zones = sorted({found[subnet_id]["AvailabilityZone"] for subnet_id in subnet_ids})
    if len(zones) < 2:
        errors.append(ConfigError("subnet_ids", "are all in %s; an RDS subnet group needs subnets in at least "
                                                "two availability zones" % zones[0]))
        if config["multi_az"]:
            errors.append(ConfigError("config.multi_az", "is true, but the subnets given cover only one availability "
                                                         "zone (%s)" % zones[0], True))
    return errors


# --- security group rules ----------------------------------------------------------------------
# Rules are module_utils.security_group's tuples (protocol, from_port, to_port, kind, source).


def desired_ingress(port, cidrs, group_ids):
    """The only rules the owned security group holds: the DB port from the allowed sources."""
    rules = {("tcp", port, port, "cidr", cidr) for cidr in cidrs}
    rules |= {("tcp", port, port, "group", group_id) for group_id in group_ids}
    return rules


# --- the instance ------------------------------------------------------------------------------


def provisioned_iops(config):
    """IOPS for io1/io2 (None for gp2/gp3, whose baseline RDS sets).

    ``config.iops`` when set (``check_storage`` has checked its ratio), else one IOPS
    per GiB and at least RDS's minimum of 1000, which keeps the ratio RDS requires.
    """
    if config["storage_type"] not in PROVISIONED_IOPS_TYPES:
        return None
    if config.get("iops") is not None:
        return config["iops"]
    return min(MAX_PROVISIONED_IOPS, max(MIN_PROVISIONED_IOPS, config["allocated_storage_gib"]))


def create_request(config, resource_names, kms_key_arn, security_group_id, tags):
    """The CreateDBInstance request: every setting pinned, the password left to RDS."""
    request = dict(
        DBInstanceIdentifier=resource_names["instance"],
        Engine=ENGINE,
        EngineVersion=config["engine_version"],
        AutoMinorVersionUpgrade=config["auto_minor_version_upgrade"],
        DBInstanceClass=config["instance_class"],
        MasterUsername=MASTER_USERNAME,
        ManageMasterUserPassword=True,
        StorageEncrypted=True,
        KmsKeyId=kms_key_arn,
        StorageType=config["storage_type"],
        AllocatedStorage=config["allocated_storage_gib"],
        DBSubnetGroupName=resource_names["subnet_group"],
        VpcSecurityGroupIds=[security_group_id],
        DBParameterGroupName=resource_names["parameter_group"],
        Port=config["port"],
        MultiAZ=config["multi_az"],
        PubliclyAccessible=False,
        DeletionProtection=config["deletion_protection"],
        BackupRetentionPeriod=config["backup_retention_days"],
        PreferredBackupWindow=config["preferred_backup_window"],
        PreferredMaintenanceWindow=config["preferred_maintenance_window"],
        EnablePerformanceInsights=config["performance_insights"],
        CopyTagsToSnapshot=True,
        Tags=tags,
    )
    if config["max_allocated_storage_gib"] is not None:
        request["MaxAllocatedStorage"] = config["max_allocated_storage_gib"]
    iops = provisioned_iops(config)
    if iops is not None:
        request["Iops"] = iops
    if config["performance_insights"]:
        request["PerformanceInsightsRetentionPeriod"] = PERFORMANCE_INSIGHTS_RETENTION_DAYS
        request["PerformanceInsightsKMSKeyId"] = kms_key_arn
    return request


def effective(instance, key):
    """A setting as it will be once pending modifications apply (RDS shows them apart)."""
    pending = instance.get("PendingModifiedValues") or {}
    if key in pending:
        return pending[key]
    return instance.get(key)


def instance_port(instance):
    pending = (instance.get("PendingModifiedValues") or {}).get("Port")
    if pending is not None:
        return pending
    endpoint = instance.get("Endpoint") or {}
    return endpoint.get("Port") or instance.get("DbInstancePort") or None


def instance_state(instance):
    """The diffable view of an instance: the settings this component manages, pending changes included.

    A value RDS does not report (e.g. while creating, or a field the stand-in lacks) is None.
    """
    if instance is None:
        return {}
    parameter_groups = instance.get("DBParameterGroups") or [{}]
    max_storage = instance.get("MaxAllocatedStorage")
    return {
        "identifier": instance.get("DBInstanceIdentifier"),
        "engine_version": effective(instance, "EngineVersion"),
        "auto_minor_version_upgrade": instance.get("AutoMinorVersionUpgrade"),
        "instance_class": effective(instance, "DBInstanceClass"),
        "storage_type": effective(instance, "StorageType"),
        "allocated_storage_gib": effective(instance, "AllocatedStorage"),
        "max_allocated_storage_gib": max_storage,
        "iops": effective(instance, "Iops") if effective(instance, "StorageType") in PROVISIONED_IOPS_TYPES else None,
        "port": instance_port(instance),
        "multi_az": effective(instance, "MultiAZ"),
        "deletion_protection": instance.get("DeletionProtection"),
        "backup_retention_days": effective(instance, "BackupRetentionPeriod"),
        "preferred_backup_window": instance.get("PreferredBackupWindow"),
        "preferred_maintenance_window": instance.get("PreferredMaintenanceWindow"),
        "performance_insights": instance.get("PerformanceInsightsEnabled"),
        "parameter_group": parameter_groups[0].get("DBParameterGroupName"),
        "subnet_group": (instance.get("DBSubnetGroup") or {}).get("DBSubnetGroupName"),
        "security_group_ids": sorted(group["VpcSecurityGroupId"] for group in instance.get("VpcSecurityGroups") or []),
        "publicly_accessible": instance.get("PubliclyAccessible"),
        "copy_tags_to_snapshot": instance.get("CopyTagsToSnapshot"),
        "storage_encrypted": instance.get("StorageEncrypted"),
        "master_username": instance.get("MasterUsername"),
    }


def desired_state(config, resource_names, security_group_id, live_state=None):
    """The view :func:`instance_state` would show once converged (live values kept where the config defers)."""
    live_state = live_state or {}
    engine_version = config["engine_version"]
    live_version = live_state.get("engine_version")
    if live_version and _version_satisfies(live_version, engine_version, config["auto_minor_version_upgrade"]):
        engine_version = live_version
    allocated = config["allocated_storage_gib"]
    if live_state.get("allocated_storage_gib") and live_state["allocated_storage_gib"] > allocated:
        allocated = live_state["allocated_storage_gib"]  # storage never shrinks; autoscaling may have grown it
    return {
        "identifier": resource_names["instance"],
        "engine_version": engine_version,
        "auto_minor_version_upgrade": config["auto_minor_version_upgrade"],
        "instance_class": config["instance_class"],
        "storage_type": config["storage_type"],
        "allocated_storage_gib": allocated,
        "max_allocated_storage_gib": config["max_allocated_storage_gib"],
        "iops": provisioned_iops(config),
        "port": config["port"],
        "multi_az": config["multi_az"],
        "deletion_protection": config["deletion_protection"],
        "backup_retention_days": config["backup_retention_days"],
        "preferred_backup_window": config["preferred_backup_window"],
        "preferred_maintenance_window": config["preferred_maintenance_window"],
        "performance_insights": config["performance_insights"],
        "parameter_group": resource_names["parameter_group"],
        "subnet_group": resource_names["subnet_group"],
        "security_group_ids": [security_group_id],
        "publicly_accessible": False,
        "copy_tags_to_snapshot": True,
        "storage_encrypted": True,
        "master_username": MASTER_USERNAME,
    }


def _version_satisfies(live, wanted, auto_minor):
    """True when the live engine version needs no upgrade for ``wanted``.

    ``wanted`` may be a major version only ("17"), which any 17.x satisfies; with minor
    upgrades opted in, a newer minor of the same major (RDS upgraded it) satisfies it too.
    """
    if "." not in wanted:
        return engine_major(live) == wanted
    if live == wanted:
        return True
    return auto_minor and engine_major(live) == engine_major(wanted) and version_tuple(live) > version_tuple(wanted)


def pending_window_changes(instance):
    """Names of the modifications RDS holds for the maintenance window (the master password,
    which RDS manages and applies on its own, aside)."""
    pending = instance.get("PendingModifiedValues") or {}
    return sorted(key for key, value in pending.items() if key != "MasterUserPassword" and value not in (None, {}, []))


def modification(config, resource_names, security_group_id, kms_key_arn, instance, apply_immediately=False):
    """``(request, problems, warnings)`` to bring a live instance to the configuration.

    ``request`` holds only the ModifyDBInstance parameters whose value differs (empty when
    nothing differs), with ApplyImmediately decided by :data:`HARMLESS_SETTINGS`.
    ``problems`` are refusals (a downgrade); ``warnings`` are differences that cannot be
    changed in place (encryption, subnet group) and are left as they are. The master
    password and its secret are never part of a request.
    """
    live = instance_state(instance)
    request = {}
    problems = []
    warnings = []

    def differs(key, wanted, name):
        # None: RDS did not report the setting (the stand-in omits some); never modify on a guess.
        current = live[key]
        if current is not None and current != wanted:
            request[name] = wanted

    # Engine version: upgrades only, and only when engine_version changes.
    wanted_version = config["engine_version"]
    live_version = live["engine_version"]
    if live_version and not _version_satisfies(live_version, wanted_version, config["auto_minor_version_upgrade"]):
        wanted_major, live_major = int(engine_major(wanted_version)), int(engine_major(live_version))
        if wanted_major < live_major:
            problems.append(ConfigError("config.engine_version", "is a major downgrade from the running %s; RDS cannot "
                                                                 "downgrade an instance (restore a snapshot instead)"
                                        % live_version, wanted_version))
        elif wanted_major == live_major and "." in wanted_version and \
                version_tuple(wanted_version) < version_tuple(live_version):
            problems.append(ConfigError("config.engine_version", "is older than the running %s; RDS cannot downgrade "
                                                                 "an instance: pin %s" % (live_version, live_version),
                                        wanted_version))
        else:
            request["EngineVersion"] = wanted_version
            if wanted_major > live_major:
                request["AllowMajorVersionUpgrade"] = True
    pending_version = (instance.get("PendingModifiedValues") or {}).get("EngineVersion")
    if not (pending_version and live["parameter_group"] and
            engine_major(pending_version) != engine_major(instance.get("EngineVersion") or pending_version)):
        # A scheduled major upgrade carries its new parameter group with it; RDS shows the
        # old one until then, which is not a difference to repair.
        differs("parameter_group", resource_names["parameter_group"], "DBParameterGroupName")
    differs("auto_minor_version_upgrade", config["auto_minor_version_upgrade"], "AutoMinorVersionUpgrade")
    differs("instance_class", config["instance_class"], "DBInstanceClass")
    differs("storage_type", config["storage_type"], "StorageType")

    # Storage never shrinks; with autoscaling on, RDS grows it past the configured size.
    allocated = live["allocated_storage_gib"]
    wanted_storage = config["allocated_storage_gib"]
    if allocated is not None and allocated < wanted_storage:
        request["AllocatedStorage"] = wanted_storage
    elif allocated is not None and allocated > wanted_storage and config["max_allocated_storage_gib"] is None:
        warnings.append("config.allocated_storage_gib is %d GiB but the instance has %d GiB; RDS cannot shrink "
                        "storage, so it stays" % (wanted_storage, allocated))
    ceiling = config["max_allocated_storage_gib"]
    if ceiling is not None and live["max_allocated_storage_gib"] != ceiling:
        request["MaxAllocatedStorage"] = ceiling
    elif ceiling is None and live["max_allocated_storage_gib"] is not None:
        # RDS turns autoscaling off when the ceiling equals the allocated storage.
        request["MaxAllocatedStorage"] = max(allocated or 0, wanted_storage)
    iops = provisioned_iops(config)
    if iops is not None and ("StorageType" in request or live["iops"] not in (None, iops)):
        request["Iops"] = iops

    differs("port", config["port"], "DBPortNumber")
    differs("multi_az", config["multi_az"], "MultiAZ")
    differs("deletion_protection", config["deletion_protection"], "DeletionProtection")
    differs("backup_retention_days", config["backup_retention_days"], "BackupRetentionPeriod")
    differs("preferred_backup_window", config["preferred_backup_window"], "PreferredBackupWindow")
    differs("preferred_maintenance_window", config["preferred_maintenance_window"], "PreferredMaintenanceWindow")
    differs("performance_insights", config["performance_insights"], "EnablePerformanceInsights")
    if request.get("EnablePerformanceInsights"):
        request["PerformanceInsightsRetentionPeriod"] = PERFORMANCE_INSIGHTS_RETENTION_DAYS
        request["PerformanceInsightsKMSKeyId"] = kms_key_arn
    if live["security_group_ids"] != [security_group_id]:
        request["VpcSecurityGroupIds"] = [security_group_id]
    differs("publicly_accessible", False, "PubliclyAccessible")
    differs("copy_tags_to_snapshot", True, "CopyTagsToSnapshot")

    if live["storage_encrypted"] is False:
        warnings.append("the instance %s is not encrypted at rest; RDS cannot encrypt a running instance (restore an "
                        "encrypted snapshot copy instead)" % resource_names["instance"])
    if "DBPortNumber" in request:
        warnings.append("changing the port of %s from %s to %d restarts it at once, whatever apply_immediately says "
                        "(RDS applies a port change immediately)"
                        % (resource_names["instance"], live["port"], config["port"]))
    groups = instance.get("DBParameterGroups") or []
    if groups and groups[0].get("ParameterApplyStatus") == "pending-reboot":
        warnings.append("the parameters of %s (rds.force_ssl among them) take effect only after a reboot, which this "
                        "module never does; reboot it when convenient" % resource_names["instance"])
    if live["subnet_group"] not in (None, resource_names["subnet_group"]):
        warnings.append("the instance %s is in the subnet group %s, not %s; moving it is not done by this module"
                        % (resource_names["instance"], live["subnet_group"], resource_names["subnet_group"]))

    if problems or not request:
        return {}, problems, warnings
    harmless = set(request) - {"PerformanceInsightsRetentionPeriod", "PerformanceInsightsKMSKeyId"} <= HARMLESS_SETTINGS
    if "BackupRetentionPeriod" in request and 0 in (request["BackupRetentionPeriod"], live["backup_retention_days"]):
        harmless = False  # switching automated backups on or off restarts the instance
    queued = pending_window_changes(instance)
    if harmless and queued and not apply_immediately:
        # ApplyImmediately applies the request *and every pending modification* at once:
        # a harmless change must not pull a queued instance class change or major
        # upgrade out of the maintenance window. A new window could also start now.
        harmless = False
        warnings.append("changes queued for the maintenance window (%s) would be applied at once with this "
                        "modification, so it waits for the window too (apply_immediately=true applies all now)"
                        % ", ".join(queued))
    request["DBInstanceIdentifier"] = resource_names["instance"]
    request["ApplyImmediately"] = bool(apply_immediately or harmless)
    return request, problems, warnings


def converged_state(desired, live_state):
    """The view after a converge: the desired one, except settings RDS does not report stay unreported."""
    if not live_state:
        return dict(desired)
    return {key: None if live_state.get(key) is None else value for key, value in desired.items()}


def owner_roles(config):
    """The owner roles of the configured databases, sorted, each once."""
    return sorted(set(database["owner"] for database in config["databases"].values()))


def role_secret_name(name_prefix, role):
    """The Secrets Manager name of an owner role's password (readable by External Secrets,
    whose identity may read ``<name_prefix>/*``)."""
    return "%s/database/%s" % (name_prefix, role)


def databases_output(config):
    """Logical databases and owner roles, for the platform to create from inside the cluster."""
    return {name: {"owner": database["owner"]} for name, database in sorted(config["databases"].items())}


# --- views: what a person compares, and what later components read ------------------------------


def managed_tag_view(tags, wanted):
    """The values of a resource's ``tags`` for the keys this component sets (``wanted``)."""
    return {key: tags.get(key) for key in sorted(wanted)}


def security_group_view(group, name, wanted_tags):
    """The diffable view of the component's security group (a DescribeSecurityGroups item, its tags as a dict)."""
    return {
        "name": name, "id": group["GroupId"],
        "ingress": describe_rules(rules_of(group.get("IpPermissions", []))),
        "egress": describe_rules(rules_of(group.get("IpPermissionsEgress", [])), "to"),
        "tags": managed_tag_view(group["tags"], wanted_tags),
    }


def role_secrets_view(config, name_prefix, secrets, wanted_tags):
    """``{role: {name, tags}}`` of the owner roles' secrets that exist (never their values);
    ``secrets`` are the listed secrets by name, their tags as a dict."""
    result = {}
    for role in owner_roles(config):
        secret = secrets.get(role_secret_name(name_prefix, role))
        if secret is not None:
            result[role] = {"name": secret["Name"], "tags": managed_tag_view(secret["tags"], wanted_tags)}
    return result


def role_secrets_output(config, name_prefix, secrets):
    """``{role: {name, arn}}`` of the owner roles' password secrets."""
    result = {}
    for role in owner_roles(config):
        name = role_secret_name(name_prefix, role)
        result[role] = {"name": name, "arn": (secrets.get(name) or {}).get("ARN", UNKNOWN)}
    return result


def outputs(config, resource_names, instance, security_group_id, kms_key_arn, role_secrets):
    """The module's outputs; ``instance`` is the DescribeDBInstances item (None: only planned)."""
    planned = instance is None
    instance = instance or {}
    endpoint = instance.get("Endpoint") or {}
    secret = instance.get("MasterUserSecret") or {}
    return {
        "instance_identifier": resource_names["instance"],
        "status": UNKNOWN if planned else instance.get("DBInstanceStatus"),
        "endpoint": endpoint.get("Address"),
        "port": endpoint.get("Port") or config["port"],
        "master_username": instance.get("MasterUsername", MASTER_USERNAME),
        "master_user_secret_arn": UNKNOWN if planned else secret.get("SecretArn"),
        "security_group_id": security_group_id,
        "subnet_group": resource_names["subnet_group"],
        "parameter_group": resource_names["parameter_group"],
        "kms_key_arn": kms_key_arn,
        "databases": databases_output(config),
        "role_secrets": role_secrets,
    }
