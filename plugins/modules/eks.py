#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: eks
short_description: Converge an environment's EKS cluster - secrets encryption, access entries, add-ons, OIDC provider, system nodes
version_added: 0.1.0
description:
  - Converges, in the environment's account, the EKS cluster C(<prefix>) and everything it needs, all
    named from O(name_prefix) and owned through the collection's ownership tags.
  - IAM roles C(<prefix>-eks-cluster) (assumed by EKS, C(AmazonEKSClusterPolicy)) and C(<prefix>-eks-node)
    (assumed by EC2; C(AmazonEKSWorkerNodePolicy), C(AmazonEC2ContainerRegistryPullOnly),
    C(AmazonEKS_CNI_Policy)); the node role serves every managed node group of the environment.
  - A customer managed KMS key with rotation, aliased C(alias/<prefix>-eks), for envelope encryption of
    Kubernetes secrets (C(config.secrets_encryption)). A key behind that alias that this collection did not
    create is refused.
  - The cluster, in O(subnet_ids) (the network's private subnets), at C(config.kubernetes_version), with
    the endpoint access and control-plane log types of the configuration, and authentication mode C(API) -
    access goes through access entries only, and the creator gets no implicit admin rights.
  - Access entries with C(AmazonEKSClusterAdminPolicy) (cluster scope) for C(config.admin_principal_arns)
    and for the principal the run itself uses (an assumed-role session counts as its role), so the play can
    reach the cluster it has just made. Entries this module made that are no longer wanted are deleted;
    entries made by others (node groups' own, a console user's) are never touched.
  - The IAM OIDC provider of the cluster's issuer (audience C(sts.amazonaws.com)), for IRSA.
  - Managed add-ons (C(config.addons)) at the version EKS gives by default to the cluster's Kubernetes
    version (C(DescribeAddonVersions)); the EBS CSI driver with its own workload identity (IRSA or EKS Pod
    Identity, C(config.workload_identity)). An add-on older than that default is updated; a newer one
    is left alone.
  - The CPU system node group C(<prefix>-system) (C(config.system_node_group)).
  - Changed in place where EKS allows it - logging, endpoint access, the authentication mode toward API,
    add-on versions, access entries, node group scaling, labels and taints. The version moves one minor at
    a time, and only when C(config.kubernetes_version) is raised - control plane, then add-ons, then node
    groups. What EKS cannot change in place (a downgrade, a jump of two minors, the subnets, the cluster
    role, the secrets key, turning secrets encryption off) is refused with the config path; nothing is ever
    replaced behind the user's back.
  - What the EKS endpoint does not serve (the local stand-in lacks add-ons, access entries, pod identity
    associations and version updates) is learnt once by a capability probe, skipped, and named in a warning
    and in RV(unsupported).
  - Creating a cluster takes about ten minutes on AWS. With O(wait=false) the module converges the roles,
    the key and the cluster itself and returns at once, so the play can start the database meanwhile; a
    later call with O(wait=true) waits for the cluster and converges the rest.
author:
  - mlops.platform contributors (@mlops-platform)
options:
  config:
    description:
      - The C(config) of the C(eks) component, as in C(mlops_config.mlops_infrastructure.eks.config). Keys,
        defaults and allowed values are those of docs/configuration.md; they are merged over the defaults
        and validated before any AWS call, every problem reported with its dotted path.
    type: dict
    default: {}
  subnet_ids:
    description:
      - The private subnets of the cluster and its system node group, in at least two availability zones,
        from the network component. In check mode they may be C((known after apply)).
    type: list
    elements: str
    required: true
  wait:
    description:
      - Wait until the cluster is C(ACTIVE), then converge the OIDC provider, access entries, add-ons and
        the system node group.
      - With V(false), only the roles, the key and the cluster are converged and the module returns at once.
    type: bool
    default: true
  wait_for_nodes:
    description:
      - With O(wait=true), also wait until the system node group is C(ACTIVE).
    type: bool
    default: true
  wait_only:
    description:
      - Only wait until the system node group is C(ACTIVE) and return it as RV(system_node_group); nothing else is
        read or converged (one C(DescribeNodegroup) per poll). Returns no C(ansible_facts).
      - For the last of three calls in a play (O(wait=false), then O(wait=true) with O(wait_for_nodes=false) so
        the GPU node groups start meanwhile, then this one), so that every node group's wait overlaps.
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait for the cluster, an update of it, or the node group.
    type: int
    default: 1800
extends_documentation_fragment:
  - mlops.platform.component
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
  - mlops.platform.assume_role
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - EKS allows one update at a time per cluster; each update is waited for before the next is sent.
  - The stand-in (moto) reports every cluster C(ACTIVE) at once and forgets a cluster's subnets after an
    endpoint update; an empty subnet list is therefore not read as a change.
attributes:
  check_mode:
    support: full
    description: Predicts every creation and change, with C((known after apply)) for values AWS assigns.
  diff_mode:
    support: full
    description: Returns the roles, key, cluster settings, OIDC provider, access entries, add-on versions and system node group before and after.
  platform:
    platforms: posix
  action_group:
    membership: [mlops.platform.aws]
"""

EXAMPLES = r"""
- name: Start the cluster as soon as the network exists
  mlops.platform.eks:
    config: "{{ mlops_config.mlops_infrastructure.eks.config }}"
    environment: dev
    name_prefix: mlops-dev
    subnet_ids: "{{ mlops_network.private_subnet_ids }}"
    wait: false

- name: Wait for it and converge access, add-ons, the OIDC provider and the system nodes
  mlops.platform.eks:
    config: "{{ mlops_config.mlops_infrastructure.eks.config }}"
    environment: dev
    name_prefix: mlops-dev
    subnet_ids: "{{ mlops_network.private_subnet_ids }}"
"""

RETURN = r"""
cluster_name:
  description: Name of the cluster.
  returned: always
  type: str
  sample: mlops-dev
cluster_arn:
  description: ARN of the cluster; C((known after apply)) in check mode before it exists.
  returned: always
  type: str
  sample: arn:aws:eks:eu-west-1:111111111111:cluster/mlops-dev
status:
  description: The cluster's status (C(ACTIVE), C(CREATING), C(UPDATING)), or null before it exists.
  returned: always
  type: str
  sample: ACTIVE
kubernetes_version:
  description: The cluster's Kubernetes minor.
  returned: always
  type: str
  sample: "1.35"
endpoint:
  description: URL of the API server, null until EKS gives it.
  returned: always
  type: str
  sample: https://ABCDEF0123456789.gr7.eu-west-1.eks.amazonaws.com
certificate_authority_data:
  description: Base64 PEM of the cluster's certificate authority (public), null until EKS gives it.
  returned: always
  type: str
cluster_security_group_id:
  description: The security group EKS made for the cluster and its managed nodes, null until known.
  returned: always
  type: str
  sample: sg-0123456789abcdef0
oidc_issuer:
  description: The cluster's OIDC issuer URL.
  returned: always
  type: str
  sample: https://oidc.eks.eu-west-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF
oidc_provider_arn:
  description: ARN of the IAM OIDC provider of the issuer (IRSA trusts it).
  returned: always
  type: str
  sample: arn:aws:iam::111111111111:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF
cluster_role_arn:
  description: ARN of the cluster's IAM role.
  returned: always
  type: str
node_role_arn:
  description: ARN of the IAM role of every managed node group of the environment.
  returned: always
  type: str
kms_key_arn:
  description: ARN of the key that encrypts the cluster's secrets; null without secrets encryption.
  returned: always
  type: str
access_entries:
  description: Principals with cluster-admin access entries made by this module.
  returned: always
  type: list
  elements: str
addons:
  description: Managed add-ons by name, C({version, status, owned}).
  returned: always
  type: dict
  sample: {"vpc-cni": {"version": "v1.20.1-eksbuild.1", "status": "ACTIVE", "owned": true}}
system_node_group:
  description: The system node group, as the node group helper reports it.
  returned: always
  type: dict
ebs_csi_identity:
  description: The EBS CSI driver's workload identity (kind, role, service account), null without the add-on.
  returned: always
  type: dict
unsupported:
  description: What the EKS endpoint does not serve and was therefore skipped (empty on AWS).
  returned: always
  type: list
  elements: str
  sample: ["managed add-ons", "access entries"]
api_calls:
  description: The AWS API calls this run made, by operation, with the number of writes among them.
  returned: always
  type: dict
ansible_facts:
  description: The outputs above under C(mlops_eks), for the roles that follow.
  returned: always
  type: dict
  contains:
    mlops_eks:
      description: Every output above but RV(api_calls).
      type: dict
      returned: always
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags

from ansible_collections.mlops.platform.plugins.module_utils import eks as eks_logic
from ansible_collections.mlops.platform.plugins.module_utils.aws import AWS_RETRY, AWSResourceError, MlopsAWSModule
from ansible_collections.mlops.platform.plugins.module_utils.aws import caller_identity, client_token, create_once
from ansible_collections.mlops.platform.plugins.module_utils.aws import wait_until
from ansible_collections.mlops.platform.plugins.module_utils.component import UNKNOWN, ConfigProblems
from ansible_collections.mlops.platform.plugins.module_utils.component import component_argument_spec, fail_config
from ansible_collections.mlops.platform.plugins.module_utils.component import is_owned, managed_tags, validate_config
from ansible_collections.mlops.platform.plugins.module_utils.config_schema import EKS
from ansible_collections.mlops.platform.plugins.module_utils.eks_capabilities import EksCapabilities
from ansible_collections.mlops.platform.plugins.module_utils.eks_cluster_resources import AccessEntries
from ansible_collections.mlops.platform.plugins.module_utils.eks_cluster_resources import ClusterAddons
from ansible_collections.mlops.platform.plugins.module_utils.eks_cluster_resources import ClusterOidcProvider
from ansible_collections.mlops.platform.plugins.module_utils.iam_role import ComponentRoles, RoleNotOwnedError
from ansible_collections.mlops.platform.plugins.module_utils.kms_key import ComponentKey
from ansible_collections.mlops.platform.plugins.module_utils.node_group import NodeGroups, node_group_spec
from ansible_collections.mlops.platform.plugins.module_utils import workload_identity as wi
from ansible_collections.mlops.platform.plugins.module_utils.workload_identity_aws import WorkloadIdentities

COMPONENT = eks_logic.COMPONENT
# Every system node carries it; platform pods select these nodes with it.
SYSTEM_LABELS = {"mlops.platform/workload": "system"}
EBS_CSI_ADDON = "aws-ebs-csi-driver"
EBS_CSI_IDENTITY = "ebs_csi_driver"


class Eks:
    """Reads the cluster once and converges it, and what it needs, toward the configuration."""

    def __init__(self, module, config):
        self.module = module
        self.config = config
        self.params = module.params
        self.check_mode = module.check_mode
        self.environment = self.params["environment"]
        self.names = eks_logic.names(self.params["name_prefix"])
        self.tags = managed_tags(self.environment, COMPONENT, self.params["tags"])
        self.eks = module.client("eks", retry_decorator=AWS_RETRY)
        self.iam = module.client("iam", retry_decorator=AWS_RETRY)
        self.capabilities = EksCapabilities(self.eks, self.names["cluster"])
        self.node_groups = NodeGroups(module, self.eks, self.names["cluster"], self.environment, COMPONENT,
                                      self.params["tags"], self.check_mode, capabilities=self.capabilities)
        self.roles = ComponentRoles(self.iam, self.environment, COMPONENT, self.check_mode,
                                    iam_once=module.once_client("iam"))
        self.workload_identities = WorkloadIdentities(module, self.iam, module.once_client("iam"), self.eks,
                                                      self.capabilities, self.environment, COMPONENT,
                                                      self.params["tags"], self.check_mode)
        parts = (self.names["cluster"], self.environment, COMPONENT, self.params["tags"])
        self.oidc_provider = ClusterOidcProvider(module, self.iam, *parts)
        self.access = AccessEntries(module, self.eks, *parts)
        self.addons = ClusterAddons(module, self.eks, *parts)
        self.key = None
        if config["secrets_encryption"]:
            self.key = ComponentKey(module, self.names["kms_alias"], self.environment, COMPONENT, self.tags,
                                    "Encrypts the Kubernetes secrets of the EKS cluster %s (mlops.platform)"
                                    % self.names["cluster"], "name_prefix")
        self.identity = caller_identity(module)
        self.partition = self.identity["partition"]
        self.subnet_ids = self.params["subnet_ids"]
        self.cluster = None
        # True from a write to the cluster until it is seen ACTIVE again.
        self.cluster_settling = False
        self.role_arns = {}
        self.system_node_group = {}
        self.ebs_csi_identity = None
        self.unsupported = []
        self.before = {}
        self.after = {}

    def record(self, what, result):
        """Keep one resource's before and after of ``(changed, before, after)`` for the diff;
        return its ``changed``."""
        changed, before, after = result[:3]
        self.before[what] = before
        self.after[what] = after
        return changed

    def skipped(self, *features):
        """True when the endpoint lacks one of ``features``; they are named once in the warnings."""
        missing = [feature for feature in self.capabilities.unsupported(*features) if feature not in self.unsupported]
        for feature in missing:
            self.unsupported.append(feature)
            self.module.warn("The EKS endpoint does not serve %s: skipped. On AWS this is never the case; "
                             "on the local stand-in it is expected." % feature)
        return bool(self.capabilities.unsupported(*features))

    # -- the cluster -----------------------------------------------------------------------

    def read_cluster(self):
        try:
            cluster = self.eks.describe_cluster(name=self.names["cluster"], aws_retry=True)["cluster"]
        except is_boto3_error_code("ResourceNotFoundException"):
            cluster = None
        if cluster is not None and not is_owned(cluster.get("tags") or {}, self.environment, COMPONENT):
            raise AWSResourceError("name_prefix", "names the EKS cluster %s, which exists but is not owned by the eks "
                                                  "component of environment %s (no mlops.platform ownership tags); "
                                                  "it is left alone: remove it or choose another name_prefix"
                                   % (self.names["cluster"], self.environment))
        self.cluster = cluster
        return cluster

    def find_owned_cluster(self):
        try:
            return self.read_cluster()
        except AWSResourceError:
            return None

    def ensure_roles(self):
        changed = False
        for what, service, policies, description in eks_logic.service_roles(self.names["cluster"]):
            name = self.names[what]
            try:
                role_changed, before, after, arn = self.roles.ensure(
                    name, eks_logic.service_trust(service), {}, tags=self.params["tags"], description=description,
                    managed_policy_arns=[eks_logic.managed_policy_arn(self.partition, policy) for policy in policies])
            except RoleNotOwnedError as exc:
                raise AWSResourceError("name_prefix", str(exc))
            changed |= self.record(what, (role_changed, before, after))
            self.role_arns[what] = arn
        return changed

    def ensure_key(self):
        if self.key is None:
            return False
        self.key.read()
        return self.record("kms_key", self.key.ensure())

    @property
    def key_arn(self):
        return self.key.arn if self.key is not None else None

    def ensure_cluster(self):
        """Create the cluster, or bring the live one to the configuration in place."""
        cluster = self.cluster
        if cluster is None:
            after = eks_logic.wanted_view(self.config, self.names["cluster"], "CREATING", self.key_arn)
            if self.check_mode:
                return self.record("cluster", (True, None, after))
            request = eks_logic.cluster_request(self.config, self.names, self.role_arns["cluster_role"],
                                                self.subnet_ids, self.key_arn, self.tags, client_token())
            once = self.module.once_client("eks")
            response, found = create_once(
                lambda: once.create_cluster(**request)["cluster"], self.find_owned_cluster,
                exists_codes=("ResourceInUseException",),
                foreign=lambda: AWSResourceError("name_prefix", "names the EKS cluster %s, which another tool made"
                                                 % self.names["cluster"]))
            self.cluster = response or found
            self.cluster_settling = True
            return self.record("cluster", (True, None, after))

        if cluster.get("status") != "ACTIVE":
            if not self.params["wait"]:
                # Its settings are compared once it is ACTIVE (the next call, with wait=true):
                # an update sent now would be refused, or repeat one in progress.
                return self.record("cluster", (False, eks_logic.cluster_view(cluster), eks_logic.cluster_view(cluster)))
            self.wait_cluster()
            cluster = self.cluster
        problems = eks_logic.refused_changes(self.config, cluster, self.subnet_ids,
                                             self.role_arns.get("cluster_role", UNKNOWN), self.key_arn)
        if problems:
            raise ConfigProblems(problems)
        warning = eks_logic.support_warning(self.config["kubernetes_version"])
        if warning:
            self.module.warn(warning)
        before = eks_logic.cluster_view(cluster)
        after = dict(before)
        changed = False
        for key, value, operation, arguments in eks_logic.cluster_changes(self.config, cluster, self.key_arn):
            if operation == "update_cluster_version" and self.skipped("update_cluster_version"):
                continue
            changed = True
            after[key] = value
            if not self.check_mode:
                # EKS runs one update at a time: each waits for the cluster to be ACTIVE again.
                self.wait_cluster()
                getattr(self.eks, operation)(clientRequestToken=client_token(), aws_retry=True, **arguments)
                self.cluster_settling = True
        to_tag = compare_aws_tags(cluster.get("tags") or {}, self.tags, purge_tags=False)[0]
        if to_tag:
            changed = True
            if not self.check_mode:
                self.eks.tag_resource(resourceArn=cluster["arn"], tags=to_tag, aws_retry=True)
        return self.record("cluster", (changed, before, after))

    @property
    def cluster_version(self):
        """The live cluster's version; the configured one before the cluster exists."""
        return (self.cluster or {}).get("version") or self.config["kubernetes_version"]

    def wait_cluster(self):
        """Wait (botocore's waiter, no sleeps of our own) until the cluster is ACTIVE."""
        if self.check_mode or self.cluster is None:
            return
        if self.cluster.get("status") == "ACTIVE" and not self.cluster_settling:
            return
        delay = 15
        try:
            wait_until(self.eks.get_waiter("cluster_active"), name=self.names["cluster"],
                       WaiterConfig={"Delay": delay, "MaxAttempts": max(1, self.params["wait_timeout"] // delay)})
        except botocore.exceptions.WaiterError as exc:
            status = ((exc.last_response or {}).get("cluster") or {}).get("status")
            if status in ("FAILED", "DELETING"):
                raise AWSResourceError("name_prefix", "the EKS cluster %s is %s: it will not become ACTIVE; see its "
                                                      "health in the EKS console, delete it, and run again"
                                       % (self.names["cluster"], status))
            raise AWSResourceError("wait_timeout", "the EKS cluster %s did not become ACTIVE within %d seconds "
                                                   "(status %s)" % (self.names["cluster"],
                                                                    self.params["wait_timeout"], status))
        self.cluster_settling = False
        self.read_cluster()

    # -- what needs an ACTIVE cluster ------------------------------------------------------

    def ensure_oidc_provider(self):
        return self.record("oidc_provider", self.oidc_provider.ensure(
            eks_logic.oidc_issuer(self.cluster), self.partition, self.identity["account_id"]))

    def ensure_ebs_csi_identity(self):
        """The EBS CSI driver's own workload identity (IRSA or Pod Identity, as configured), made
        before its add-on, which takes the role: ``(changed, the role ARN for an IRSA add-on or None)``."""
        path = "config.workload_identity.workloads.%s" % EBS_CSI_IDENTITY
        if EBS_CSI_ADDON not in self.config["addons"]:
            if self.cluster is not None and not self.skipped("addons") and self.addons.find(EBS_CSI_ADDON):
                # Add-ons left out of config.addons stay installed (see ClusterAddons): so does its role.
                self.module.warn("%s is no longer in config.addons but stays installed, with its role; delete the "
                                 "add-on, and the next run removes the role" % EBS_CSI_ADDON)
                return False, None
            changed, before, after = self.workload_identities.remove(EBS_CSI_IDENTITY)
            if changed:
                self.record("ebs_csi_identity", (changed, before, after))
            return changed, None
        resolved = wi.resolve(self.config["workload_identity"], EBS_CSI_IDENTITY)
        issuer = eks_logic.oidc_issuer(self.cluster)
        try:
            trust, policies, managed = wi.role_documents(
                EBS_CSI_IDENTITY, resolved, self.partition, self.module.region, self.identity["account_id"],
                self.params["name_prefix"], self.oidc_provider.arn, issuer, self.names["cluster"], lake={})
        except ValueError as exc:
            raise AWSResourceError(path, str(exc))
        changed, before, after, output = self.workload_identities.ensure(EBS_CSI_IDENTITY, resolved, trust, policies,
                                                                         managed, path)
        self.ebs_csi_identity = output
        return self.record("ebs_csi_identity", (changed, before, after)), \
            output["role_arn"] if resolved["kind"] == "irsa" else None

    def ensure_access_entries(self):
        """Cluster-admin access entries for the configured admins and this run's principal."""
        wanted = eks_logic.wanted_principals(self.config["admin_principal_arns"], self.identity["arn"])
        if eks_logic.principal_arn(self.identity["arn"]) is None:
            self.module.warn("The run uses the account's root user, which cannot have an access entry; use a role.")
        if self.cluster is None:  # check mode, before the cluster exists
            return self.record("access_entries", self.access.planned(wanted))
        if self.skipped("access_entries"):
            return False
        return self.record("access_entries", self.access.ensure(wanted, self.partition))

    def ensure_addons(self, ebs_role_arn):
        """Managed add-ons at the version EKS gives by default to the cluster's minor (never deleted)."""
        if self.cluster is None:  # check mode, before the cluster exists
            return self.record("addons", self.addons.planned(self.config["addons"]))
        if self.skipped("addons"):
            return False
        return self.record("addons", self.addons.ensure(self.config["addons"], self.cluster_version,
                                                        {EBS_CSI_ADDON: ebs_role_arn}))

    def ensure_system_node_group(self):
        """The CPU node group of system and platform pods, through the one node group helper."""
        name = self.names["system_node_group"]
        spec = node_group_spec(self.config["system_node_group"], SYSTEM_LABELS,
                               node_role_arn=self.role_arns["node_role"], subnet_ids=self.subnet_ids,
                               kubernetes_version=self.cluster_version)
        changed = self.record("system_node_group", self.node_groups.ensure(name, spec, "config.system_node_group"))
        self.system_node_group = self.node_groups.output(name)
        return changed

    def wait_system_node_group(self):
        self.node_groups.wait([self.names["system_node_group"]], self.params["wait_timeout"])
        self.system_node_group = self.node_groups.output(self.names["system_node_group"])

    # -- outputs ---------------------------------------------------------------------------

    def outputs(self):
        return eks_logic.outputs(self.names, self.config, self.cluster, {
            "oidc_provider_arn": self.oidc_provider.arn,
            "cluster_role_arn": self.role_arns.get("cluster_role"),
            "node_role_arn": self.role_arns.get("node_role"),
            "kms_key_arn": self.key_arn,
            "access_entries": self.access.principals,
            "addons": self.addons.outputs,
            "system_node_group": self.system_node_group,
            "ebs_csi_identity": self.ebs_csi_identity,
            "unsupported": self.unsupported,
        })


def wait_only(module, config):
    """Wait for the system node group that an earlier call started; exits the module."""
    names = eks_logic.names(module.params["name_prefix"])
    groups = NodeGroups(module, module.client("eks", retry_decorator=AWS_RETRY), names["cluster"],
                        module.params["environment"], COMPONENT, module.params["tags"], module.check_mode)
    try:
        groups.read([names["system_node_group"]])
        groups.wait([names["system_node_group"]], module.params["wait_timeout"])
    except AWSResourceError as exc:
        module.fail_json(msg=str(exc))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        module.fail_json_aws(exc, msg="Could not wait for the node group %s" % names["system_node_group"])
    module.exit_json(changed=False, system_node_group=groups.output(names["system_node_group"]))


def main():
    argument_spec = component_argument_spec(
        subnet_ids=dict(type="list", elements="str", required=True),
        wait=dict(type="bool", default=True),
        wait_for_nodes=dict(type="bool", default=True),
        wait_only=dict(type="bool", default=False),
        wait_timeout=dict(type="int", default=1800),
    )
    module = MlopsAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    config = validate_config(module, EKS, eks_logic.check_endpoint)
    if module.params["wait_only"]:
        wait_only(module, config)
    try:
        cluster = Eks(module, config)
        cluster.read_cluster()
        changed = cluster.ensure_roles()
        changed |= cluster.ensure_key()
        changed |= cluster.ensure_cluster()
        if module.params["wait"]:
            cluster.wait_cluster()
            changed |= cluster.ensure_oidc_provider()
            changed |= cluster.ensure_access_entries()
            identity_changed, ebs_role_arn = cluster.ensure_ebs_csi_identity()
            changed |= identity_changed
            changed |= cluster.ensure_addons(ebs_role_arn)
            changed |= cluster.ensure_system_node_group()
            if module.params["wait_for_nodes"]:
                cluster.wait_system_node_group()
    except ConfigProblems as exc:
        fail_config(module, exc.errors)
    except AWSResourceError as exc:
        module.fail_json(msg=str(exc))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        module.fail_json_aws(exc, msg="Could not converge the EKS cluster %s"
                             % eks_logic.names(module.params["name_prefix"])["cluster"])

    outputs = cluster.outputs()
    module.exit_json(changed=changed, diff={"before": cluster.before, "after": cluster.after},
                     ansible_facts={"mlops_eks": outputs}, **outputs)


if __name__ == "__main__":
    main()
