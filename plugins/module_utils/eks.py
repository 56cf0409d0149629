# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The EKS cluster of an environment: names, what is wanted, and what may change in place.

Pure: no API calls. The ``eks`` module reads the live cluster and asks these functions
what to create, what to update in place, and what to refuse. EKS changes some settings in
place (logging, endpoint access, the authentication mode towards API, the version by one
minor) and never others (subnets once set, the secrets key, turning secrets encryption
off); those are refused with the config path, never replaced behind the user's back.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

from ansible_collections.mlops.platform.plugins.module_utils import naming
from ansible_collections.mlops.platform.plugins.module_utils.component import KEY_TAG, UNKNOWN, is_unknown
from ansible_collections.mlops.platform.plugins.module_utils.config_schema import EKS_STANDARD_SUPPORT
from ansible_collections.mlops.platform.plugins.module_utils.resource_policy import POLICY_VERSION
from ansible_collections.mlops.platform.plugins.module_utils.schema_engine import ConfigError
from ansible_collections.mlops.platform.plugins.module_utils.workload_identity import IRSA_AUDIENCE

COMPONENT = "eks"
LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
CLUSTER_ADMIN_POLICY = "arn:%s:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
CLUSTER_POLICIES = ["AmazonEKSClusterPolicy"]
# The node role of every managed node group: join the cluster, pull images, and (until the
# VPC CNI gets a workload identity of its own) manage pod networking.
NODE_POLICIES = ["AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly", "AmazonEKS_CNI_Policy"]
SUPPORT_WARNING_DAYS = 60
OIDC_AUDIENCE = IRSA_AUDIENCE  # the audience IRSA tokens carry, in the provider's client ids


def names(prefix):
    """Every name the component gives: the cluster, its roles, its key alias, the system node group."""
    result = {
        "cluster": naming.cluster_name(prefix),
        "kms_alias": "alias/%s-eks" % prefix,
        "system_node_group": naming.system_node_group_name(prefix),
    }
    result.update(naming.eks_role_names(prefix))
    return result


def managed_policy_arn(partition, name):
    return "arn:%s:iam::aws:policy/%s" % (partition, name)


def service_roles(cluster_name):
    """The cluster's two service roles: ``(key in names(), trusted service, managed policies, description)``."""
    return [
        ("cluster_role", "eks.amazonaws.com", CLUSTER_POLICIES,
         "Assumed by EKS for the cluster %s (mlops.platform)" % cluster_name),
        ("node_role", "ec2.amazonaws.com", NODE_POLICIES,
         "Assumed by the managed nodes of the cluster %s (mlops.platform)" % cluster_name),
    ]


def service_trust(service):
    """A role that ``service`` (eks.amazonaws.com, ec2.amazonaws.com) assumes."""
    return {"Version": POLICY_VERSION, "Statement": [{
        "Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}


# -- versions --------------------------------------------------------------------------------


def minor_version(version):
    """``(major, minor)`` of ``"1.35"``, ``"1.35.2"`` or ``"v1.35.2-eks"``; None when not a version."""
    match = re.match(r"^v?(\d+)\.(\d+)", str(version or ""))
    return (int(match.group(1)), int(match.group(2))) if match else None


def version_change(live, wanted):
    """What moving the cluster from ``live`` to ``wanted`` takes: None (same), "upgrade" (one
    minor up), or a ConfigError saying why it is refused (a downgrade, a jump of more than one)."""
    if live == wanted:
        return None
    live_minor, wanted_minor = minor_version(live), minor_version(wanted)
    if live_minor is None or wanted_minor is None:
        return ConfigError("config.kubernetes_version", "cannot be compared with the cluster's version %s" % live,
                           wanted)
    if wanted_minor < live_minor:
        return ConfigError("config.kubernetes_version", "is below the cluster's version %s: EKS cannot downgrade a "
                                                        "cluster" % live, wanted)
    if wanted_minor[0] != live_minor[0] or wanted_minor[1] - live_minor[1] > 1:
        return ConfigError("config.kubernetes_version", "is more than one minor above the cluster's version %s: EKS "
                                                        "upgrades one minor at a time; set %d.%d first"
                           % (live, live_minor[0], live_minor[1] + 1), wanted)
    return "upgrade"


def support_warning(version, today=None):
    """A warning when ``version`` leaves EKS standard support within 60 days (or has left it)."""
    end = EKS_STANDARD_SUPPORT.get(version)
    if end is None:
        return None
    today = today or datetime.date.today()
    days = (datetime.datetime.strptime(end, "%Y-%m-%d").date() - today).days
    if days > SUPPORT_WARNING_DAYS:
        return None
    if days < 0:
        return "Kubernetes %s left EKS standard support on %s: the cluster now costs extended-support fees; " \
               "raise config.kubernetes_version" % (version, end)
    return "Kubernetes %s leaves EKS standard support on %s (in %d days): plan the upgrade (raise " \
           "config.kubernetes_version by one minor)" % (version, end, days)


# -- the cluster -------------------------------------------------------------------------------


def logging_setup(enabled):
    """The ``logging`` argument of CreateCluster/UpdateClusterConfig for the enabled types."""
    wanted = [log for log in LOG_TYPES if log in enabled]
    rest = [log for log in LOG_TYPES if log not in enabled]
    setup = []
    if wanted:
        setup.append({"types": wanted, "enabled": True})
    if rest:
        setup.append({"types": rest, "enabled": False})
    return {"clusterLogging": setup}


def live_logging(cluster):
    """The log types the live cluster sends, sorted."""
    enabled = set()
    for entry in (cluster.get("logging") or {}).get("clusterLogging") or []:
        if entry.get("enabled"):
            enabled.update(entry.get("types") or [])
    return sorted(enabled)


def endpoint_access(config):
    """The endpoint part of resourcesVpcConfig for the configuration."""
    access = {"endpointPublicAccess": config["endpoint_public_access"],
              "endpointPrivateAccess": config["endpoint_private_access"]}
    if config["endpoint_public_access"]:
        access["publicAccessCidrs"] = sorted(config["public_access_cidrs"])
    return access


def live_endpoint_access(cluster):
    vpc = cluster.get("resourcesVpcConfig") or {}
    access = {"endpointPublicAccess": bool(vpc.get("endpointPublicAccess")),
              "endpointPrivateAccess": bool(vpc.get("endpointPrivateAccess"))}
    if access["endpointPublicAccess"]:
        access["publicAccessCidrs"] = sorted(vpc.get("publicAccessCidrs") or ["0.0.0.0/0"])
    return access


def check_endpoint(config):
    """At least one way to reach the API server."""
    if not config["endpoint_public_access"] and not config["endpoint_private_access"]:
        return [ConfigError("config.endpoint_private_access",
                            "is false and so is endpoint_public_access: nothing could reach the API server", False)]
    return []


def encryption_key(cluster):
    """The KMS key ARN that encrypts the live cluster's secrets, or None."""
    for entry in cluster.get("encryptionConfig") or []:
        if "secrets" in (entry.get("resources") or []):
            return (entry.get("provider") or {}).get("keyArn")
    return None


def cluster_request(config, cluster_names, role_arn, subnet_ids, key_arn, tags, token):
    """The CreateCluster request. Access entries only (authentication mode API), with no
    implicit admin for the creator: the run's own principal gets an access entry like the
    configured admins, so access is written down and removable."""
    vpc = {"subnetIds": list(subnet_ids)}
    vpc.update(endpoint_access(config))
    request = {
        "name": cluster_names["cluster"],
        "version": config["kubernetes_version"],
        "roleArn": role_arn,
        "resourcesVpcConfig": vpc,
        "logging": logging_setup(config["logging"]),
        "accessConfig": {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False},
        "tags": dict(tags),
        "clientRequestToken": token,
    }
    if config["secrets_encryption"]:
        request["encryptionConfig"] = [{"resources": ["secrets"], "provider": {"keyArn": key_arn}}]
    return request


def refused_changes(config, cluster, subnet_ids, role_arn, key_arn):
    """What the configuration asks of the live cluster that EKS cannot do in place, as ConfigErrors."""
    errors = []
    version = version_change(cluster["version"], config["kubernetes_version"])
    if isinstance(version, ConfigError):
        errors.append(version)
    live_key = encryption_key(cluster)
    if live_key and not config["secrets_encryption"]:
        errors.append(ConfigError("config.secrets_encryption", "is false, but the cluster's secrets are encrypted "
                                                               "with %s: EKS cannot turn encryption off" % live_key,
                                  False))
    elif live_key and key_arn and live_key != key_arn and not is_unknown(key_arn):
        errors.append(ConfigError("name_prefix", "gives the secrets key %s, but the cluster's secrets are encrypted "
                                                 "with %s: EKS cannot change the key" % (key_arn, live_key)))
    live_subnets = sorted((cluster.get("resourcesVpcConfig") or {}).get("subnetIds") or [])
    # The stand-in forgets the subnets after an endpoint update (NOTES.md); an empty list is no answer.
    if live_subnets and not is_unknown(subnet_ids) and live_subnets != sorted(subnet_ids):
        errors.append(ConfigError("subnet_ids", "differ from the cluster's subnets (%s): moving the cluster's "
                                                "control-plane network interfaces is not done by this module"
                                  % ", ".join(live_subnets)))
    if cluster.get("roleArn") and not is_unknown(role_arn) and cluster["roleArn"] != role_arn:
        errors.append(ConfigError("name_prefix", "gives the cluster role %s, but the cluster uses %s: EKS cannot "
                                                 "change a cluster's role" % (role_arn, cluster["roleArn"])))
    return errors


def cluster_view(cluster):
    """What a person compares in a diff: the settings this module manages."""
    if cluster is None:
        return None
    return {
        "name": cluster["name"],
        "version": cluster.get("version"),
        "status": cluster.get("status"),
        "endpoint_access": live_endpoint_access(cluster),
        "logging": live_logging(cluster),
        "secrets_key_arn": encryption_key(cluster),
        "authentication_mode": (cluster.get("accessConfig") or {}).get("authenticationMode"),
    }


def wanted_view(config, name, status, key_arn):
    return {
        "name": name,
        "version": config["kubernetes_version"],
        "status": status,
        "endpoint_access": endpoint_access(config),
        "logging": sorted(config["logging"]),
        "secrets_key_arn": key_arn if config["secrets_encryption"] else None,
        "authentication_mode": "API",
    }


# -- access and add-ons ---------------------------------------------------------------------


def principal_arn(caller_arn):
    """The IAM principal an access entry names for the caller: an assumed-role session
    (``arn:aws:sts::1:assumed-role/Name/session``) becomes its role (``arn:aws:iam::1:role/Name``);
    users and roles are kept. None for the account root, which cannot have an access entry."""
    match = re.match(r"^arn:([\w-]+):sts::(\d{12}):assumed-role/([^/]+)/.+$", caller_arn)
    if match:
        return "arn:%s:iam::%s:role/%s" % match.groups()
    if re.match(r"^arn:[\w-]+:iam::\d{12}:root$", caller_arn):
        return None
    return caller_arn


def addon_default_version(versions_response, addon, kubernetes_version):
    """The version EKS gives ``addon`` by default on ``kubernetes_version``, from a
    DescribeAddonVersions answer; the newest compatible one when none is marked default."""
    candidates = []
    for entry in versions_response.get("addons") or []:
        if entry.get("addonName") != addon:
            continue
        for version in entry.get("addonVersions") or []:
            for compatibility in version.get("compatibilities") or []:
                if compatibility.get("clusterVersion") == kubernetes_version:
                    if compatibility.get("defaultVersion"):
                        return version["addonVersion"]
                    candidates.append(version["addonVersion"])
    return max(candidates, key=addon_version_key) if candidates else None


def addon_version_key(version):
    """``v1.19.2-eksbuild.3`` as a sortable tuple (1, 19, 2, 3)."""
    return tuple(int(part) for part in re.findall(r"\d+", version or ""))


# -- what the module plans and returns ---------------------------------------------------------

# The key tag of an access entry says why it was made: for a configured admin, or for the
# principal of a run (see access_entry_plan).
ADMIN_ENTRY = "access-entry/admin"
OPERATOR_ENTRY = "access-entry/operator"


def cluster_changes(config, cluster, key_arn):
    """What the live cluster needs, in the order EKS takes it (one update at a time):
    ``(view key, wanted view value, operation, its arguments)``, the operation being an EKS
    client method. ``key_arn`` is the secrets key, None without secrets encryption."""
    name = cluster["name"]
    changes = []
    if version_change(cluster["version"], config["kubernetes_version"]) == "upgrade":
        changes.append(("version", config["kubernetes_version"], "update_cluster_version",
                        {"name": name, "version": config["kubernetes_version"]}))
    if key_arn and not encryption_key(cluster):
        # Encryption can be turned on for an existing cluster, once.
        changes.append(("secrets_key_arn", key_arn, "associate_encryption_config",
                        {"clusterName": name,
                         "encryptionConfig": [{"resources": ["secrets"], "provider": {"keyArn": key_arn}}]}))
    if live_logging(cluster) != sorted(config["logging"]):
        changes.append(("logging", sorted(config["logging"]), "update_cluster_config",
                        {"name": name, "logging": logging_setup(config["logging"])}))
    if live_endpoint_access(cluster) != endpoint_access(config):
        changes.append(("endpoint_access", endpoint_access(config), "update_cluster_config",
                        {"name": name, "resourcesVpcConfig": endpoint_access(config)}))
    mode = (cluster.get("accessConfig") or {}).get("authenticationMode")
    # Only towards API, and only when the cluster says what it has (the stand-in does not).
    if mode and mode != "API":
        changes.append(("authentication_mode", "API", "update_cluster_config",
                        {"name": name, "accessConfig": {"authenticationMode": "API"}}))
    return changes


def wanted_principals(admin_principal_arns, caller_arn):
    """``{principal ARN: key tag}``: the configured admins, and the principal of this run (so the
    play reaches the cluster it made), which may differ from run to run; None for the run's
    own principal when it is the account's root user, which cannot have an access entry."""
    principals = dict((arn, ADMIN_ENTRY) for arn in admin_principal_arns)
    own = principal_arn(caller_arn)
    if own is not None:
        principals.setdefault(own, OPERATOR_ENTRY)
    return principals


def access_entry_action(principal, tags, wanted, owned):
    """What to do with a live access entry of ``principal`` with ``tags``: ``"check"`` (ours and
    wanted: check its admin policy), ``"delete"``, ``"keep"``, ``"foreign"`` (wanted, but not
    made by this collection: never changed) or ``"ignore"`` (not ours, not wanted).

    ``wanted`` is :func:`wanted_principals`, ``owned`` whether this collection made the entry.
    An entry made for a configured admin who is no longer configured is deleted; one made for
    the principal of an earlier run (a laptop, then AWX) is kept, since nothing says that
    access is no longer needed.
    """
    if not owned:
        return "foreign" if principal in wanted else "ignore"
    if principal in wanted:
        return "check"
    return "delete" if tags.get(KEY_TAG) == ADMIN_ENTRY else "keep"


def addon_update(live, default, role_arn):
    """The UpdateAddon arguments a live add-on of ours needs (empty: none): the default
    version when it is newer, and the role when it differs."""
    update = {}
    if default and addon_version_key(live.get("addonVersion")) < addon_version_key(default):
        update["addonVersion"] = default
    if role_arn and live.get("serviceAccountRoleArn") != role_arn:
        update["serviceAccountRoleArn"] = role_arn
    return update


def oidc_provider_arn(partition, account_id, issuer):
    """The IAM OIDC provider ARN of the cluster's issuer, and the issuer without its scheme."""
    host_path = issuer.split("://", 1)[-1]
    return "arn:%s:iam::%s:oidc-provider/%s" % (partition, account_id, host_path), host_path


def oidc_issuer(cluster):
    return ((cluster or {}).get("identity") or {}).get("oidc", {}).get("issuer")


def outputs(names, config, cluster, produced):
    """The module's outputs: what the live ``cluster`` says (``UNKNOWN`` for what a plan cannot
    know), then ``produced``, what the run made around it (roles, key, access, add-ons...)."""
    cluster = cluster or {}
    vpc = cluster.get("resourcesVpcConfig") or {}
    result = {
        "cluster_name": names["cluster"],
        "cluster_arn": cluster.get("arn", UNKNOWN),
        "status": cluster.get("status"),
        "kubernetes_version": cluster.get("version") or config["kubernetes_version"],
        "endpoint": cluster.get("endpoint"),
        "certificate_authority_data": (cluster.get("certificateAuthority") or {}).get("data"),
        "cluster_security_group_id": vpc.get("clusterSecurityGroupId"),
        "oidc_issuer": ((cluster.get("identity") or {}).get("oidc") or {}).get("issuer", UNKNOWN),
    }
    result.update(produced)
    return result
