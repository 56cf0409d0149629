# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Workload identities in AWS: one IAM role per service account, and its EKS Pod Identity
association when the workload uses Pod Identity.

``WorkloadIdentities`` keeps the identities of one environment's component (the
workload_identity module's, or the eks module's own EBS CSI driver): it is given a role's
trust, policies and service account, and knows nothing of the identity table.

* The role goes through :class:`iam_role.ComponentRoles` (ownership by tags, semantic
  policy comparison, check mode). A role of that name that another component or tool
  owns is refused with the caller's config path.
* ``pod_identity``: the association of the service account is listed (one
  ListPodIdentityAssociations for the whole cluster per run), described, and created
  (``clientRequestToken`` through ``create_once``), adopted or updated. An association
  that points at another role is changed only when it carries our ownership tags; else the
  run fails with the config path. Session tags stay on: the Pod Identity trust relies on them.
* ``irsa``: an association of ours left for that service account (the workload used Pod
  Identity before) is deleted.
* An endpoint that does not serve Pod Identity associations (``EksCapabilities``) gets none:
  one warning per run, and each such association is reported as not made.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags

from ansible_collections.mlops.platform.plugins.module_utils import workload_identity as wi
from ansible_collections.mlops.platform.plugins.module_utils.aws import AWSResourceError, paginate
from ansible_collections.mlops.platform.plugins.module_utils.aws import client_token, create_once
from ansible_collections.mlops.platform.plugins.module_utils.component import UNKNOWN, is_owned, managed_tags
from ansible_collections.mlops.platform.plugins.module_utils.iam_role import ComponentRoles, RoleNotOwnedError

# What an identity's output says of an association this endpoint cannot make.
NOT_SUPPORTED = "not supported by this endpoint"


class WorkloadIdentities:
    """The workload roles and Pod Identity associations of one environment's component.

    ``iam`` and ``eks`` are clients wrapped with ``aws.AWS_RETRY``; ``iam_once`` is the
    IAM client of ``create_once`` (``module.once_client("iam")``); the EKS one is taken
    from ``module.once_client("eks")``. ``capabilities`` is the run's
    :class:`eks_capabilities.EksCapabilities` of the cluster; ``tags`` the environment's
    tags, put with the ownership tags on roles and associations.
    """

    def __init__(self, module, iam, iam_once, eks, capabilities, environment, component, tags, check_mode):
        self.module = module
        self.iam = iam
        self.eks = eks
        self.capabilities = capabilities
        self.cluster_name = capabilities.cluster_name
        self.environment = environment
        self.component = component
        self.tags = dict(tags or {})
        self.check_mode = check_mode
        self.name_prefix = module.params["name_prefix"]
        self.roles = ComponentRoles(iam, environment, component, check_mode, iam_once=iam_once)
        self._eks_once = None
        self._associations = None  # the cluster's association summaries, read once
        self._cluster_missing = False
        self._warned = False

    # -- roles -----------------------------------------------------------------------------

    def role_name(self, identity_name):
        try:
            return wi.role_name(self.name_prefix, identity_name)
        except ValueError as exc:
            raise AWSResourceError("name_prefix", str(exc))

    def _owned_role(self, name):
        try:
            role = self.iam.get_role(RoleName=name, aws_retry=True)["Role"]
        except is_boto3_error_code("NoSuchEntity"):
            return None
        tags = boto3_tag_list_to_ansible_dict(role.get("Tags") or [])
        return role if is_owned(tags, self.environment, self.component) else None

    # -- associations ----------------------------------------------------------------------

    @property
    def eks_once(self):
        if self._eks_once is None:
            self._eks_once = self.module.once_client("eks")
        return self._eks_once

    def _summaries(self, refresh=False):
        """The cluster's associations (summaries: no role, no tags); [] for a cluster that
        does not exist yet (check mode before the cluster is made)."""
        if self._associations is None or refresh:
            try:
                self._associations = paginate(self.eks, "list_pod_identity_associations", "associations",
                                              clusterName=self.cluster_name)
            except is_boto3_error_code("ResourceNotFoundException"):
                self._associations = []
                self._cluster_missing = True
        return self._associations

    def _describe(self, association_id):
        try:
            return self.eks.describe_pod_identity_association(clusterName=self.cluster_name,
                                                              associationId=association_id,
                                                              aws_retry=True)["association"]
        except is_boto3_error_code("ResourceNotFoundException"):
            return None  # deleted since it was listed

    def _association_of(self, namespace, service_account, refresh=False):
        """The association of one service account, described (EKS allows one), or None."""
        for summary in self._summaries(refresh):
            if summary["namespace"] == namespace and summary["serviceAccount"] == service_account:
                return self._describe(summary["associationId"])
        return None

    def _owns(self, association):
        return is_owned(association.get("tags") or {}, self.environment, self.component)

    @staticmethod
    def _view(association):
        if association is None:
            return None
        return {"id": association["associationId"], "namespace": association["namespace"],
                "service_account": association["serviceAccount"], "role_arn": association["roleArn"],
                "disable_session_tags": bool(association.get("disableSessionTags")),
                "tags": dict(association.get("tags") or {})}

    def _warn_unsupported(self):
        if not self._warned:
            self._warned = True
            self.module.warn("This EKS endpoint does not serve EKS Pod Identity associations: the associations of "
                             "the pod_identity workloads were not made, and their pods get no AWS credentials until "
                             "they are (each is reported as '%s')" % NOT_SUPPORTED)

    def _refuse(self, path, association, role_arn, why):
        return AWSResourceError(path, "the service account %s/%s of the cluster %s already has the EKS Pod Identity "
                                      "association %s to %s, %s; it is left alone: remove it, or give this workload "
                                      "another service account" % (association["namespace"],
                                                                   association["serviceAccount"], self.cluster_name,
                                                                   association["associationId"],
                                                                   association["roleArn"], why))

    def _ensure_association(self, resolved, role_arn, path):
        """Returns ``(changed, before, after, association id or NOT_SUPPORTED/UNKNOWN)``."""
        if not self.capabilities.supports("pod_identity"):
            self._warn_unsupported()
            return False, None, None, NOT_SUPPORTED
        namespace, service_account = resolved["namespace"], resolved["service_account"]
        wanted_tags = managed_tags(self.environment, self.component, self.tags)
        live = self._association_of(namespace, service_account)
        if live is None:
            planned = {"associationId": UNKNOWN, "namespace": namespace, "serviceAccount": service_account,
                       "roleArn": role_arn, "disableSessionTags": False, "tags": wanted_tags}
            if self.check_mode:
                return True, None, self._view(planned), UNKNOWN
            if self._cluster_missing:
                raise AWSResourceError("cluster_name", "the EKS cluster %s does not exist; converge the cluster "
                                                       "before its workload identities" % self.cluster_name)
            token = client_token()
            response, found = create_once(
                lambda: self.eks_once.create_pod_identity_association(
                    clusterName=self.cluster_name, namespace=namespace, serviceAccount=service_account,
                    roleArn=role_arn, disableSessionTags=False, tags=wanted_tags,
                    clientRequestToken=token)["association"],
                lambda: self._association_of(namespace, service_account, refresh=True),
                exists_codes=("ResourceInUseException",))
            if response is not None:
                return True, None, self._view(response), response["associationId"]
            live = found  # made meanwhile, by an earlier attempt or by someone else: judged below
        return self._reconcile(live, role_arn, wanted_tags, path)

    def _reconcile(self, live, role_arn, wanted_tags, path):
        owned = self._owns(live)
        if live["roleArn"] != role_arn:
            if not owned:
                raise self._refuse(path, live, role_arn, "which this component does not manage")
            if live.get("ownerArn"):
                raise self._refuse(path, live, role_arn, "which %s manages" % live["ownerArn"])
        before = self._view(live)
        after = dict(before, role_arn=role_arn, disable_session_tags=False, tags=dict(before["tags"]))
        # An association that already gives our role to the service account is adopted: tagged ours.
        missing_tags = compare_aws_tags(before["tags"], wanted_tags, purge_tags=False)[0]
        after["tags"].update(missing_tags)
        update = before["role_arn"] != role_arn or before["disable_session_tags"]
        if not self.check_mode:
            if update:
                self.eks.update_pod_identity_association(clusterName=self.cluster_name,
                                                         associationId=live["associationId"], roleArn=role_arn,
                                                         disableSessionTags=False, aws_retry=True)
            if missing_tags:
                self.eks.tag_resource(resourceArn=live["associationArn"], tags=missing_tags, aws_retry=True)
        return bool(update or missing_tags), before, after, live["associationId"]

    def _drop_association(self, resolved, role_arn=None):
        """Delete our association of the service account (pointing at ``role_arn`` when given);
        ``(changed, before)``."""
        if not self.capabilities.supports("pod_identity"):
            return False, None
        live = self._association_of(resolved["namespace"], resolved["service_account"])
        if live is None or not self._owns(live) or (role_arn is not None and live["roleArn"] != role_arn):
            return False, None
        if not self.check_mode:
            try:
                self.eks.delete_pod_identity_association(clusterName=self.cluster_name,
                                                         associationId=live["associationId"], aws_retry=True)
            except is_boto3_error_code("ResourceNotFoundException"):
                pass  # gone already
        return True, self._view(live)

    # -- the identities ----------------------------------------------------------------------

    def ensure(self, identity_name, resolved, trust, policies, managed_arns, path):
        """Converge one identity; return ``(changed, before, after, output)``.

        ``resolved`` is ``{kind, namespace, service_account}``; ``trust`` and the values of
        ``policies`` (``{name: document or None}``, None: absent) are policy documents;
        ``managed_arns`` AWS-managed policy ARNs to attach; ``path`` the config path that
        errors about this identity name. ``output`` is what a pod of the service account
        needs: ``{kind, role_arn, role_name, namespace, service_account, pod_annotations,
        association}``, ``association`` being the association id, None for IRSA,
        :data:`NOT_SUPPORTED` or, in check mode, ``(known after apply)``.
        """
        name = self.role_name(identity_name)
        kind = resolved["kind"]
        try:
            role_changed, role_before, role_after, role_arn = self.roles.ensure(
                name, trust, policies, tags=self.tags, managed_policy_arns=list(managed_arns or []) or None,
                description="AWS identity of the %s workload (%s/%s) of the environment %s (mlops.platform)"
                            % (identity_name, resolved["namespace"], resolved["service_account"], self.environment))
        except RoleNotOwnedError as exc:
            raise AWSResourceError(path, str(exc))

        if kind == "pod_identity":
            association_changed, association_before, association_after, association = \
                self._ensure_association(resolved, role_arn, path)
        else:
            association_changed, association_before = self._drop_association(resolved)
            association_after, association = None, None

        before = None if role_before is None else {"role": role_before, "association": association_before}
        after = {"role": role_after, "association": association_after}
        output = {"kind": kind, "role_arn": role_arn, "role_name": name, "namespace": resolved["namespace"],
                  "service_account": resolved["service_account"],
                  "pod_annotations": wi.pod_usage(kind, role_arn)["annotations"], "association": association}
        return role_changed or association_changed, before, after, output

    def remove(self, identity_name, resolved=None):
        """Remove the identity's role if this component owns it, with its associations of ours
        first; ``(changed, before, after)``.

        With ``resolved`` (``{namespace, service_account}``), the association of that service
        account is looked at; without, every association of the cluster (one describe each).
        A role that is absent or someone else's is left alone, and so are its associations.
        """
        name = self.role_name(identity_name)
        role = self._owned_role(name)
        if role is None:
            return False, None, None
        dropped = []
        if self.capabilities.supports("pod_identity"):
            if resolved is not None:
                candidates = [resolved]
            else:
                candidates = [{"namespace": summary["namespace"], "service_account": summary["serviceAccount"]}
                              for summary in self._summaries()]
            for candidate in candidates:
                changed, view = self._drop_association(candidate, role["Arn"])
                if changed:
                    dropped.append(view)
        role_before = self.roles.remove(name)[1]
        before = {"role": role_before, "association": dropped[0] if len(dropped) == 1 else (dropped or None)}
        return True, before, None
