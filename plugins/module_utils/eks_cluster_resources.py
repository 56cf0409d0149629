# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an EKS cluster holds besides its node groups, once it is ACTIVE: the IAM OIDC provider
of its issuer, its cluster-admin access entries, and its managed add-ons.

The ``eks`` module keeps them with one helper each; each ``ensure`` returns
``(changed, before, after)`` and writes nothing in check mode. One ownership rule: what
does not carry this environment's and component's ownership tags is never changed.

* :class:`ClusterOidcProvider` reads the provider by its ARN (derived from the issuer, so
  there is at most one), creates it with the audience ``sts.amazonaws.com`` and the
  ownership tags, and on a provider of ours adds a missing audience and missing tags. The
  issuer belongs to the cluster alone, so a provider someone else made (eksctl, a console
  user) serves it all the same: it is used as it is, never changed, and a warning says so.
* :class:`AccessEntries` lists the cluster's entries, reads each one's tags, and asks
  ``eks.access_entry_action`` what to do with it: an entry of ours for a wanted principal
  gets its cluster-scoped admin policy checked, one made for an admin no longer configured
  is deleted, one made for an earlier run's principal is kept. An entry this collection did
  not make is never changed, even for a wanted principal (a warning says its policies are
  not checked). New entries are tagged with why they were made (``mlops.platform/resource``).
* :class:`ClusterAddons` installs each wanted add-on at the version EKS gives by default to
  the cluster's minor (``eks.addon_default_version``; ``resolveConflicts=OVERWRITE``), and
  updates one of ours that is older than that default or whose service account role differs
  (``resolveConflicts=PRESERVE``, keeping what was changed in the cluster). A newer one is
  left alone, one of someone else's is left with a warning. An add-on left out of the
  wanted list is not deleted: removing vpc-cni, kube-proxy or coredns from a running
  cluster breaks it. It is no longer updated; delete it by hand.

Creates go through ``aws.create_once`` on ``module.once_client(...)`` (with a
``clientRequestToken`` where EKS takes one): a lost answer is looked up by the resource's
name or ARN and adopted when it is ours, never sent twice.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags

from ansible_collections.mlops.platform.plugins.module_utils import eks as eks_logic
from ansible_collections.mlops.platform.plugins.module_utils.aws import AWSResourceError, client_token, create_once
from ansible_collections.mlops.platform.plugins.module_utils.aws import paginate
from ansible_collections.mlops.platform.plugins.module_utils.component import KEY_TAG, UNKNOWN, is_owned, is_unknown
from ansible_collections.mlops.platform.plugins.module_utils.component import managed_tags


class ClusterResource:
    """What the helpers below share: the cluster, whose they are, and ``tags``, the
    environment's tags, put with the ownership tags on what is made. Each helper's client
    is wrapped with ``aws.AWS_RETRY`` (``module.client(service, retry_decorator=AWS_RETRY)``)."""

    def __init__(self, module, cluster_name, environment, component, tags):
        self.module = module
        self.cluster_name = cluster_name
        self.environment = environment
        self.component = component
        self.tags = managed_tags(environment, component, tags)

    def owns(self, tags):
        """True for tags (a dict) that mark a resource as this environment's component's."""
        return is_owned(tags, self.environment, self.component)


class ClusterOidcProvider(ClusterResource):
    """The OIDC provider of the cluster's issuer, through ``iam``. After :meth:`ensure`,
    ``arn`` is the provider's ARN (``(known after apply)`` while the issuer is unknown)."""

    def __init__(self, module, iam, cluster_name, environment, component, tags):
        super().__init__(module, cluster_name, environment, component, tags)
        self.iam = iam
        self.arn = None

    def ensure(self, issuer, partition, account_id):
        """The provider of ``issuer`` (None: not known yet, a plan before the cluster exists);
        returns ``(changed, before, after)``, each side ``{url, client_ids}``."""
        if not issuer:
            self.arn = UNKNOWN
            return True, None, {"url": UNKNOWN, "client_ids": [eks_logic.OIDC_AUDIENCE]}
        arn, host_path = eks_logic.oidc_provider_arn(partition, account_id, issuer)
        self.arn = arn
        provider = self._read(arn)
        if provider is None:
            if not self.module.check_mode:
                once = self.module.once_client("iam")
                create_once(lambda: once.create_open_id_connect_provider(
                    Url=issuer, ClientIDList=[eks_logic.OIDC_AUDIENCE], Tags=ansible_dict_to_boto3_tag_list(self.tags)),
                    lambda: self.find(arn), exists_codes=("EntityAlreadyExists",),
                    foreign=lambda: AWSResourceError("name_prefix", "the OIDC provider %s exists" % arn))
            return True, None, {"url": host_path, "client_ids": [eks_logic.OIDC_AUDIENCE]}
        tags = boto3_tag_list_to_ansible_dict(provider.get("Tags") or [])
        before = {"url": provider["Url"], "client_ids": sorted(provider.get("ClientIDList") or [])}
        if not self.owns(tags):
            # The issuer is this cluster's alone, so the provider serves it whoever made it.
            self.module.warn("The IAM OIDC provider %s was not made by this collection: it is used as it is and "
                             "not changed." % arn)
            return False, before, before
        after = dict(before)
        changed = False
        if eks_logic.OIDC_AUDIENCE not in before["client_ids"]:
            changed = True
            after["client_ids"] = sorted(before["client_ids"] + [eks_logic.OIDC_AUDIENCE])
            if not self.module.check_mode:
                self.iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn,
                                                                   ClientID=eks_logic.OIDC_AUDIENCE, aws_retry=True)
        to_tag = compare_aws_tags(tags, self.tags, purge_tags=False)[0]
        if to_tag:
            changed = True
            if not self.module.check_mode:
                self.iam.tag_open_id_connect_provider(OpenIDConnectProviderArn=arn,
                                                      Tags=ansible_dict_to_boto3_tag_list(to_tag), aws_retry=True)
        return changed, before, after

    def _read(self, arn):
        try:
            return self.iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn, aws_retry=True)
        except is_boto3_error_code("NoSuchEntity"):
            return None

    def find(self, arn):
        """The provider of ``arn`` when it is ours (after a lost CreateOpenIDConnectProvider answer), else None."""
        provider = self._read(arn)
        if provider is None:
            return None
        return provider if self.owns(boto3_tag_list_to_ansible_dict(provider.get("Tags") or [])) else None


class AccessEntries(ClusterResource):
    """The cluster's access entries, through ``eks``. ``principals`` holds, after
    :meth:`planned` or :meth:`ensure`, the principals of our entries."""

    def __init__(self, module, eks, cluster_name, environment, component, tags):
        super().__init__(module, cluster_name, environment, component, tags)
        self.eks = eks
        self.principals = []

    def planned(self, wanted):
        """``(changed, before, after)`` of a plan before the cluster exists: every entry made."""
        self.principals = sorted(wanted)
        return True, None, sorted(wanted)

    def ensure(self, wanted, partition):
        """Entries with the cluster admin policy for ``wanted`` (``eks.wanted_principals``) on an
        existing cluster; returns ``(changed, before, after)``, the principals of our entries."""
        name = self.cluster_name
        check_mode = self.module.check_mode
        live = paginate(self.eks, "list_access_entries", "accessEntries", clusterName=name)
        policy = eks_logic.CLUSTER_ADMIN_POLICY % partition
        before, after, changed = [], [], False
        for principal in live:
            tags = self.eks.describe_access_entry(clusterName=name, principalArn=principal,
                                                  aws_retry=True)["accessEntry"].get("tags") or {}
            action = eks_logic.access_entry_action(principal, tags, wanted, self.owns(tags))
            if action == "foreign":
                self.module.warn("The access entry of %s was not made by this collection: it is left as it is, "
                                 "and its access policies are not checked." % principal)
            if action in ("foreign", "ignore"):
                continue
            before.append(principal)
            if action == "delete":
                changed = True
                if not check_mode:
                    self.eks.delete_access_entry(clusterName=name, principalArn=principal, aws_retry=True)
                continue
            after.append(principal)
            if action == "check":
                changed |= self._ensure_admin_policy(principal, policy, new=False)
        for principal in sorted(set(wanted) - set(live)):
            changed = True
            after.append(principal)
            if check_mode:
                continue
            once = self.module.once_client("eks")
            create_once(lambda principal=principal: once.create_access_entry(
                clusterName=name, principalArn=principal, type="STANDARD",
                tags=dict(self.tags, **{KEY_TAG: wanted[principal]}), clientRequestToken=client_token()),
                lambda principal=principal: self.find(principal),
                exists_codes=("ResourceInUseException",),
                foreign=lambda principal=principal: AWSResourceError(
                    "config.admin_principal_arns", "%s already has an access entry that this collection did not "
                                                   "make; it is left alone" % principal))
            self._ensure_admin_policy(principal, policy, new=True)
        self.principals = sorted(after)
        return changed, sorted(before), self.principals

    def _ensure_admin_policy(self, principal, policy, new):
        """The cluster-scoped admin policy on an entry of ours; True when it had to be associated."""
        if not new:
            associated = paginate(self.eks, "list_associated_access_policies", "associatedAccessPolicies",
                                  clusterName=self.cluster_name, principalArn=principal)
            if any(item["policyArn"] == policy and item["accessScope"]["type"] == "cluster" for item in associated):
                return False
        if not self.module.check_mode:
            self.eks.associate_access_policy(clusterName=self.cluster_name, principalArn=principal,
                                             policyArn=policy, accessScope={"type": "cluster"}, aws_retry=True)
        return True

    def find(self, principal):
        """The entry of ``principal`` when it is ours (after a lost CreateAccessEntry answer), else None."""
        try:
            entry = self.eks.describe_access_entry(clusterName=self.cluster_name, principalArn=principal,
                                                   aws_retry=True)["accessEntry"]
        except is_boto3_error_code("ResourceNotFoundException"):
            return None
        return entry if self.owns(entry.get("tags") or {}) else None


class ClusterAddons(ClusterResource):
    """The cluster's managed add-ons, through ``eks``. ``outputs`` holds, after
    :meth:`planned` or :meth:`ensure`, ``{version, status, owned}`` by add-on name."""

    def __init__(self, module, eks, cluster_name, environment, component, tags):
        super().__init__(module, cluster_name, environment, component, tags)
        self.eks = eks
        self.outputs = {}

    def planned(self, wanted):
        """``(changed, before, after)`` of a plan before the cluster exists: every add-on made."""
        self.outputs = dict((addon, {"version": UNKNOWN, "status": None, "owned": True}) for addon in wanted)
        return bool(wanted), None, dict((addon, UNKNOWN) for addon in wanted)

    def ensure(self, wanted, kubernetes_version, role_arns):
        """The add-ons ``wanted`` on the existing cluster of ``kubernetes_version``, each with
        ``role_arns[addon]`` as its service account role when given (and known: a plan may not
        know it yet); returns ``(changed, before, after)``, each side the versions by name."""
        name = self.cluster_name
        before, after, changed = {}, {}, False
        for addon in wanted:
            live = self._read(addon)
            default = eks_logic.addon_default_version(
                self.eks.describe_addon_versions(kubernetesVersion=kubernetes_version, addonName=addon,
                                                 aws_retry=True), addon, kubernetes_version)
            role_arn = role_arns.get(addon)
            if is_unknown(role_arn):
                role_arn = None
            if live is None:
                changed = True
                after[addon] = default
                self.outputs[addon] = {"version": default, "status": "CREATING", "owned": True}
                if not self.module.check_mode:
                    self._create(addon, default, role_arn)
                continue
            owned = self.owns(live.get("tags") or {})
            before[addon] = live.get("addonVersion")
            after[addon] = live.get("addonVersion")
            self.outputs[addon] = {"version": live.get("addonVersion"), "status": live.get("status"), "owned": owned}
            if not owned:
                self.module.warn("The add-on %s was not made by this collection: it is left as it is." % addon)
                continue
            update = eks_logic.addon_update(live, default, role_arn)
            after[addon] = update.get("addonVersion", after[addon])
            if update:
                changed = True
                if not self.module.check_mode:
                    self.eks.update_addon(clusterName=name, addonName=addon, resolveConflicts="PRESERVE",
                                          clientRequestToken=client_token(), aws_retry=True, **update)
        return changed, before, after

    def _create(self, addon, version, role_arn):
        request = dict(clusterName=self.cluster_name, addonName=addon, resolveConflicts="OVERWRITE", tags=self.tags,
                       clientRequestToken=client_token())
        if version:
            request["addonVersion"] = version
        if role_arn:
            request["serviceAccountRoleArn"] = role_arn
        once = self.module.once_client("eks")
        create_once(lambda: once.create_addon(**request), lambda: self.find(addon),
                    exists_codes=("ResourceInUseException",),
                    foreign=lambda: AWSResourceError("config.addons", "the add-on %s exists and was not made by this "
                                                                      "collection" % addon))

    def _read(self, addon):
        try:
            return self.eks.describe_addon(clusterName=self.cluster_name, addonName=addon, aws_retry=True)["addon"]
        except is_boto3_error_code("ResourceNotFoundException"):
            return None

    def find(self, addon):
        """The add-on when it is installed and ours, else None."""
        live = self._read(addon)
        return live if live is not None and self.owns(live.get("tags") or {}) else None
