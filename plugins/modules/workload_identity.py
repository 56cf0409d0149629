#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: workload_identity
short_description: Converge the AWS identities of the platform's workloads - one IAM role per service account, IRSA or EKS Pod Identity
version_added: 0.1.0
description:
  - Converges, in the environment's account, one IAM role per platform workload that calls AWS
    (MLflow, Feast, Kubeflow, KServe, vLLM, External Secrets), named C(<name_prefix>-<workload>)
    with C(_) written C(-), and owned through the collection's ownership tags (component
    C(workload_identity)).
  - Each workload runs as one Kubernetes service account, from the collection's one table of
    workload identities unless C(config.workloads.<workload>) names another namespace or service
    account. The role trusts that service account only.
  - With C(irsa) (the default), the trust allows C(sts:AssumeRoleWithWebIdentity) by the cluster's
    IAM OIDC provider O(oidc_provider_arn), with C(StringEquals) on C(<issuer>:sub) =
    C(system:serviceaccount:<namespace>:<service account>) and C(<issuer>:aud) = C(sts.amazonaws.com).
    The pod's service account needs the annotation returned in C(pod_annotations).
  - With C(pod_identity), the trust allows C(sts:AssumeRole) and C(sts:TagSession) by
    C(pods.eks.amazonaws.com), limited by the session tags EKS Pod Identity sets to the namespace,
    service account and cluster; an EKS Pod Identity association of the service account in
    O(cluster_name) gives the pods the role (nothing goes on the pod). An association of that
    service account to another role is updated only when it carries this component's ownership
    tags; otherwise the module fails with the workload's config path. One that already points at
    the role is adopted. Switching a workload back to C(irsa) deletes the association of ours.
  - Permissions are inline policies of least privilege. C(lake-access) covers S3 on exactly the lake
    zones the workload reads or writes (in a shared bucket, C(s3:ListBucket) only under the zones'
    prefixes and object access only below them; with a bucket per zone, those buckets) and the lake's
    KMS key (C(kms:Decrypt), plus C(kms:GenerateDataKey) to write). C(secrets-read) covers
    C(secretsmanager:GetSecretValue) and C(DescribeSecret) on C(<name_prefix>/<workload>/*), or on
    every secret of the environment C(<name_prefix>/*) for External Secrets. An empty policy is
    not written and, when present, is deleted. AWS-managed policies come from the identity table.
  - Roles of this component for workloads not in O(identities) are deleted with O(prune), after
    their associations of ours. Roles and associations that this component does not own are never
    changed or deleted.
  - Reads every role and the cluster's associations once and writes only what differs; a run with
    nothing to do makes read calls only. Check mode predicts every creation and change.
  - Where the EKS endpoint does not serve EKS Pod Identity associations (the local stand-in), the
    roles are still converged, the associations are reported as C(not supported by this endpoint)
    and one warning says so.
author:
  - mlops.platform contributors (@mlops-platform)
options:
  config:
    description:
      - The C(workload_identity) section of the C(eks) component's C(config), as in
        C(mlops_config.mlops_infrastructure.eks.config.workload_identity). Keys, defaults and allowed
        values are those of docs/configuration.md; they are merged over the defaults and validated
        before any AWS call, every problem reported with its dotted path.
    type: dict
    default: {}
  identities:
    description:
      - The workloads to converge, by their name in the identity table.
    type: list
    elements: str
    required: true
    choices: [ebs_csi_driver, external_secrets, feast, kserve, kubeflow, mlflow, vllm]
  prune:
    description:
      - Delete this component's roles (and their associations of ours) of the workloads of the table
        that are not in O(identities).
    type: bool
    default: true
  cluster_name:
    description:
      - The EKS cluster whose service accounts take the roles; its EKS Pod Identity associations are
        managed and its name pins the Pod Identity trust.
    type: str
    required: true
  oidc_provider_arn:
    description:
      - ARN of the cluster's IAM OIDC provider, from the eks component. Needed when any workload of
        O(identities) uses C(irsa); it must be in the roles' account and be the provider of O(oidc_issuer).
      - In check mode it may be C((known after apply)), when the cluster is itself only planned.
    type: str
  oidc_issuer:
    description:
      - The cluster's OIDC issuer URL (C(https://oidc.eks.<region>.amazonaws.com/id/<id>)), from the eks
        component. Needed with O(oidc_provider_arn).
    type: str
  lake_buckets:
    description:
      - The data lake's zones as the data_lake module returns them in C(buckets), each zone's name mapped to
        C(name), C(arn) and C(prefix). Zones a workload names that are missing here get no access (a warning
        says which).
      - Empty when the environment has no data lake.
    type: dict
    default: {}
  lake_kms_key_arn:
    description:
      - ARN of the data lake's KMS key (data_lake's C(kms_key_arn)). Workloads that touch the lake may
        use it; in check mode it may be C((known after apply)).
    type: str
  secret_arns:
    description:
      - Secrets of the environment whose names are not under C(<name_prefix>/), which External Secrets may
        read as well - the database's RDS-managed master secret (database's C(master_user_secret_arn)), for
        the database bootstrap. Values not known yet (check mode) are left out.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - mlops.platform.component
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
  - mlops.platform.assume_role
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - A workload whose namespace or service account changes keeps its role (the trust is updated in
    place); with C(pod_identity), the association of the old service account is not looked for and
    stays until it is deleted by hand or the workload is removed.
  - Managed policies are attached, never detached, while a workload is converged; removing the
    workload detaches them all.
  - The EBS CSI driver's role is the eks module's (component C(eks)); listing C(ebs_csi_driver) here
    fails while that role exists under the eks component.
attributes:
  check_mode:
    support: full
    description: Predicts every creation and change, with C((known after apply)) for values AWS assigns.
  diff_mode:
    support: full
    description: Returns each workload's role (trust, inline policies, tags) and association before and after.
  platform:
    platforms: posix
  action_group:
    membership: [mlops.platform.aws]
"""

EXAMPLES = r"""
- name: Give the platform's workloads their AWS identities
  mlops.platform.workload_identity:
    config: "{{ mlops_config.mlops_infrastructure.eks.config.workload_identity }}"
    environment: "{{ mlops_config.mlops_environment.name }}"
    name_prefix: mlops-dev
    tags: "{{ mlops_config.mlops_environment.tags }}"
    identities: [external_secrets, mlflow, kserve]
    cluster_name: "{{ mlops_eks.cluster_name }}"
    oidc_provider_arn: "{{ mlops_eks.oidc_provider_arn }}"
    oidc_issuer: "{{ mlops_eks.oidc_issuer }}"
    lake_buckets: "{{ mlops_data_lake.buckets }}"
    lake_kms_key_arn: "{{ mlops_data_lake.kms_key_arn }}"
    assume_role: "{{ mlops_environment_access | default(omit) }}"

- name: Annotate MLflow's service account as its identity says
  kubernetes.core.k8s:
    state: present
    definition:
      apiVersion: v1
      kind: ServiceAccount
      metadata:
        name: "{{ mlops_workload_identity.mlflow.service_account }}"
        namespace: "{{ mlops_workload_identity.mlflow.namespace }}"
        annotations: "{{ mlops_workload_identity.mlflow.pod_annotations }}"
"""

RETURN = r"""
workload_identities:
  description:
    - Per workload of O(identities), by its name, what it got and how a pod uses it.
    - C(kind), C(irsa) or C(pod_identity); C(role_arn), C((known after apply)) in check mode before the role
      exists; C(role_name); C(namespace) and C(service_account) of the workload's service account.
    - C(pod_annotations), the annotations the service account needs - C(eks.amazonaws.com/role-arn) with
      IRSA, none with Pod Identity.
    - C(association), the EKS Pod Identity association's id with C(pod_identity), null with C(irsa),
      C(not supported by this endpoint) where the EKS endpoint lacks associations, C((known after apply))
      in check mode before it exists.
  returned: always
  type: dict
  sample:
    mlflow:
      kind: irsa
      role_arn: arn:aws:iam::111111111111:role/mlops-dev-mlflow
      role_name: mlops-dev-mlflow
      namespace: mlflow
      service_account: mlflow
      pod_annotations: {"eks.amazonaws.com/role-arn": "arn:aws:iam::111111111111:role/mlops-dev-mlflow"}
      association: null
removed:
  description: Workloads whose roles (and associations) this run deleted, or would delete in check mode.
  returned: always
  type: list
  elements: str
  sample: [vllm]
api_calls:
  description: The AWS API calls this run made, by operation, with the number of writes among them.
  returned: always
  type: dict
  sample: {"total": 12, "writes": 0, "by_operation": {"GetRole": 5, "GetRolePolicy": 6, "GetCallerIdentity": 1}}
ansible_facts:
  description: The outputs under C(mlops_workload_identity), for the roles that follow.
  returned: always
  type: dict
  contains:
    mlops_workload_identity:
      description: RV(workload_identities).
      type: dict
      returned: always
"""

try:
    import botocore
except ImportError:
    pass  # handled by MlopsAWSModule

from ansible_collections.mlops.platform.plugins.module_utils import workload_identity as wi
from ansible_collections.mlops.platform.plugins.module_utils.aws import AWS_RETRY, AWSResourceError, MlopsAWSModule
from ansible_collections.mlops.platform.plugins.module_utils.aws import caller_identity
from ansible_collections.mlops.platform.plugins.module_utils.component import is_unknown
from ansible_collections.mlops.platform.plugins.module_utils.component import component_argument_spec
from ansible_collections.mlops.platform.plugins.module_utils.component import validate_config
from ansible_collections.mlops.platform.plugins.module_utils.config_schema import EKS
from ansible_collections.mlops.platform.plugins.module_utils.eks_capabilities import EksCapabilities
from ansible_collections.mlops.platform.plugins.module_utils.schema_engine import ConfigError, Option
from ansible_collections.mlops.platform.plugins.module_utils.workload_identity_aws import WorkloadIdentities

# The module's config is the eks component's workload_identity section, validated by its
# one schema (validate_config reads a component's "config" option).
SECTION = Option("dict", "The workload_identity section.",
                 options={"config": EKS.options["config"].options["workload_identity"]})


def input_problems(params, config, check_mode):
    """What is wrong with the inputs, found before any call, each with its option's path."""
    errors = []
    for name in params["identities"]:
        try:
            wi.role_name(params["name_prefix"], name)
        except ValueError as exc:
            errors.append(ConfigError("name_prefix", str(exc), params["name_prefix"]))

    irsa = [name for name in params["identities"] if wi.resolve(config, name)["kind"] == "irsa"]
    arn, issuer = params["oidc_provider_arn"], params["oidc_issuer"]
    if irsa:
        for option, value in (("oidc_provider_arn", arn), ("oidc_issuer", issuer)):
            if not value:
                errors.append(ConfigError(option, "is needed: %s use IRSA" % ", ".join(irsa)))
            elif is_unknown(value) and not check_mode:
                errors.append(ConfigError(option, "is not known yet; converge the cluster first", value))
        if arn and issuer and not (is_unknown(arn) or is_unknown(issuer)):
            problem = wi.oidc_problem(arn, issuer)
            if problem:
                errors.append(ConfigError("oidc_provider_arn", problem))

    for zone, bucket in sorted(params["lake_buckets"].items()):
        path = "lake_buckets.%s" % zone
        if not isinstance(bucket, dict) or not isinstance(bucket.get("arn"), str) \
                or not isinstance(bucket.get("prefix", ""), str):
            errors.append(ConfigError(path, "must be {name, arn, prefix} as data_lake returns it", bucket))
        elif is_unknown(bucket["arn"]) and not check_mode:
            errors.append(ConfigError(path + ".arn", "is not known yet; converge the data lake first", bucket["arn"]))
        elif not is_unknown(bucket["arn"]) and not bucket["arn"].startswith("arn:"):
            errors.append(ConfigError(path + ".arn", "is not an S3 bucket ARN", bucket["arn"]))
    key_arn = params["lake_kms_key_arn"]
    if key_arn and is_unknown(key_arn) and not check_mode:
        errors.append(ConfigError("lake_kms_key_arn", "is not known yet; converge the data lake first", key_arn))
    return errors


class WorkloadIdentityRun:
    """Converges the workloads of ``identities`` and removes the ones no longer wanted."""

    def __init__(self, module, config):
        self.module = module
        self.config = config
        self.params = module.params
        self.check_mode = module.check_mode
        self.wanted = list(dict.fromkeys(self.params["identities"]))
        eks = module.client("eks", retry_decorator=AWS_RETRY)
        self.identities = WorkloadIdentities(
            module, module.client("iam", retry_decorator=AWS_RETRY), module.once_client("iam"), eks,
            EksCapabilities(eks, self.params["cluster_name"]), self.params["environment"], wi.COMPONENT,
            self.params["tags"], self.check_mode)
        self.before = {}
        self.after = {}
        self.outputs = {}
        self.removed = []

    def ensure_identities(self):
        """The role (and association) of every wanted identity; True when any changed."""
        account = caller_identity(self.module)
        partition, account_id = account["partition"], account["account_id"]
        lake = {"buckets": self.params["lake_buckets"], "kms_key_arn": self.params["lake_kms_key_arn"]}
        changed = False
        for name in self.wanted:
            path = "config.workloads.%s" % name
            resolved = wi.resolve(self.config, name)
            try:
                trust, policies, managed = wi.role_documents(
                    name, resolved, partition, self.module.region, account_id, self.params["name_prefix"],
                    self.params["oidc_provider_arn"], self.params["oidc_issuer"], self.params["cluster_name"], lake,
                    self.params["secret_arns"])
            except ValueError as exc:
                raise AWSResourceError("oidc_provider_arn" if resolved["kind"] == "irsa" else path, str(exc))
            missing = wi.lake_zones(name, lake)[2]
            if missing and self.params["lake_buckets"]:
                self.module.warn("%s uses the lake zones %s, which lake_buckets does not have: it gets no access to "
                                 "them" % (name, ", ".join(missing)))
            one_changed, before, after, self.outputs[name] = self.identities.ensure(name, resolved, trust, policies,
                                                                                    managed, path)
            changed |= self.record(name, one_changed, before, after)
        return changed

    def ensure_pruned(self):
        """Remove the identities of ours that ``identities`` no longer names (with ``prune``);
        True when any is removed."""
        if not self.params["prune"]:
            return False
        changed = False
        for name in sorted(set(wi.IDENTITIES) - set(self.wanted)):
            try:
                wi.role_name(self.params["name_prefix"], name)
            except ValueError:
                continue  # a role IAM would refuse to name cannot exist
            removed, before, after = self.identities.remove(name, wi.resolve(self.config, name))
            if removed:
                changed |= self.record(name, removed, before, after)
                self.removed.append(name)
        return changed

    def record(self, name, changed, before, after):
        """Keep an identity's before and after for the diff; return its ``changed``."""
        self.before[name] = before
        self.after[name] = after
        return changed


def main():
    argument_spec = component_argument_spec(
        identities=dict(type="list", elements="str", required=True, choices=sorted(wi.IDENTITIES)),
        prune=dict(type="bool", default=True),
        cluster_name=dict(type="str", required=True),
        oidc_provider_arn=dict(type="str"),
        oidc_issuer=dict(type="str"),
        lake_buckets=dict(type="dict", default={}),
        lake_kms_key_arn=dict(type="str", no_log=False),  # an ARN, not a secret
        secret_arns=dict(type="list", elements="str", default=[], no_log=False),  # ARNs, not secrets
    )
    module = MlopsAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    config = validate_config(module, SECTION, lambda config: input_problems(module.params, config, module.check_mode))

    run = WorkloadIdentityRun(module, config)
    try:
        changed = run.ensure_identities()
        changed |= run.ensure_pruned()
    except AWSResourceError as exc:
        module.fail_json(msg=str(exc))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        module.fail_json_aws(exc, msg="Could not converge the workload identities")

    module.exit_json(changed=changed, diff={"before": run.before, "after": run.after},
                     workload_identities=run.outputs, removed=run.removed,
                     ansible_facts={"mlops_workload_identity": run.outputs})


if __name__ == "__main__":
    main()
