# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An IAM role that one component of one environment owns: kept in shape, or removed.

``ComponentRoles(iam, environment, component, check_mode)`` keeps roles of that component
on an amazon.aws retry-wrapped IAM client (``module.client("iam", retry_decorator=...)``):

* ``ensure(name, trust_policy, inline_policies, ...)`` creates the role, or repairs its
  trust policy, the inline policies it is given, the managed policies it is given, its
  description and maximum session duration, and adds the tags that are missing. It returns
  ``(changed, before, after, arn)``; ``before``/``after`` are small JSON-able views for a
  module's ``diff``.
* ``remove(name)`` deletes the role with its inline policies and managed-policy attachments
  when the component owns it, and does nothing when it is absent or someone else's.

Ownership is by tag (``component.is_owned``): a role of the same name that is not this
environment's component's is never changed or deleted; ``ensure`` raises
:class:`RoleNotOwnedError` for the caller to report with its own config path.

What is managed, and what is left alone (no state is kept anywhere but on the role):

* inline policies: only the names given. A name given with ``None`` is one the caller
  no longer wants (a policy it wrote in an earlier release): it is deleted if present. An
  inline policy of another name is left alone, since nothing says this helper wrote it.
* managed policies: the ARNs given are attached when missing; none is ever detached by
  ``ensure``, since an attachment carries no mark of who made it. ``remove`` detaches them
  all, as IAM requires before deleting the role.
* tags: added or corrected, never removed.

A run with nothing to do reads ``GetRole`` plus one ``GetRolePolicy`` per named inline
policy, plus one ``ListAttachedRolePolicies`` only when managed policy ARNs are given.
Only ``NoSuchEntity`` on those reads is handled; every other botocore error propagates
for the caller's ``fail_json_aws``. In check mode nothing but those reads is called.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.policy import compare_policies
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags
from ansible_collections.mlops.platform.plugins.module_utils.aws import create_once, paginate, wait_until
from ansible_collections.mlops.platform.plugins.module_utils.component import UNKNOWN, is_owned, managed_tags


class RoleNotOwnedError(Exception):
    """A role of the wanted name exists and is not this environment's component's."""

    def __init__(self, name):
        self.name = name
        super(RoleNotOwnedError, self).__init__(
            "the IAM role %s exists and is not managed by this component; remove it or tag it" % name)


def _document(value):
    """A policy document as a dict (boto3 decodes IAM's URL-encoded JSON; a string is parsed)."""
    return json.loads(value) if isinstance(value, str) else value


class ComponentRoles:
    """The IAM roles of one environment's component, on a retry-wrapped IAM client."""

    def __init__(self, iam, environment, component, check_mode=False, iam_once=None):
        self.iam = iam
        # CreateRole goes through aws.create_once, on a client without botocore's own retries
        # (MlopsAWSModule.once_client) when given.
        self.iam_once = iam_once or getattr(iam, "client", iam)
        self.environment = environment
        self.component = component
        self.check_mode = check_mode

    # -- reading -------------------------------------------------------------------------

    def _get_role(self, name):
        try:
            return self.iam.get_role(RoleName=name, aws_retry=True)["Role"]
        except is_boto3_error_code("NoSuchEntity"):
            return None

    def _get_inline_policy(self, name, policy_name):
        try:
            return _document(self.iam.get_role_policy(RoleName=name, PolicyName=policy_name,
                                                      aws_retry=True)["PolicyDocument"])
        except is_boto3_error_code("NoSuchEntity"):
            return None

    def _attached_policy_arns(self, name):
        attached = paginate(self.iam, "list_attached_role_policies", "AttachedPolicies", RoleName=name)
        return sorted(policy["PolicyArn"] for policy in attached)

    def _find_owned(self, name):
        try:
            role = self.iam.get_role(RoleName=name, aws_retry=True)["Role"]
        except is_boto3_error_code("NoSuchEntity"):
            return None
        return role if self._owned(role) else None

    def _owned(self, role):
        return is_owned(boto3_tag_list_to_ansible_dict(role.get("Tags") or []), self.environment, self.component)

    # -- converging ----------------------------------------------------------------------

    def ensure(self, name, trust_policy, inline_policies, tags=None, description=None,
               managed_policy_arns=None, max_session_duration=None):
        """Create or repair the role ``name``; return ``(changed, before, after, arn)``.

        ``trust_policy`` and the values of ``inline_policies`` (``{policy name: document}``)
        are policy documents as dicts, compared semantically (``compare_policies``); a value
        of ``None`` asks for that inline policy to be absent. ``tags`` are put under the
        ownership tags. ``description`` and ``max_session_duration`` (seconds) are managed
        when given; ``managed_policy_arns`` are attached when given and missing.

        ``before`` is None for a missing role; ``arn`` is :data:`UNKNOWN` when check mode
        would create the role. Raises :class:`RoleNotOwnedError` for a role of that name that
        this component does not own, before any write.
        """
        wanted_tags = managed_tags(self.environment, self.component, tags)
        wanted_policies = {policy: document for policy, document in inline_policies.items() if document is not None}
        retired_policies = sorted(policy for policy, document in inline_policies.items() if document is None)
        wanted_arns = sorted(set(managed_policy_arns)) if managed_policy_arns is not None else None
        wanted_settings = {key: value for key, value in (("description", description),
                                                         ("max_session_duration", max_session_duration))
                           if value is not None}

        role = self._get_role(name)
        if role is None:
            return self._create(name, trust_policy, wanted_policies, wanted_tags, wanted_settings, wanted_arns)
        if not self._owned(role):
            raise RoleNotOwnedError(name)

        arn = role["Arn"]
        current_tags = boto3_tag_list_to_ansible_dict(role.get("Tags") or [])
        current_trust = _document(role["AssumeRolePolicyDocument"])
        current_policies = {policy: self._get_inline_policy(name, policy) for policy in sorted(inline_policies)}
        current_arns = self._attached_policy_arns(name) if wanted_arns is not None else None
        current_settings = {"description": role.get("Description"), "max_session_duration": role.get("MaxSessionDuration")}

        before = self._view(name, arn, current_trust,
                            {policy: document for policy, document in current_policies.items() if document is not None},
                            {key: value for key, value in current_tags.items() if key in wanted_tags},
                            {key: current_settings[key] for key in wanted_settings}, current_arns)

        settings_differ = any(current_settings[key] != value for key, value in wanted_settings.items())
        trust_differs = compare_policies(current_trust, trust_policy)
        to_put = sorted(policy for policy, document in wanted_policies.items()
                        if current_policies[policy] is None or compare_policies(current_policies[policy], document))
        to_delete = [policy for policy in retired_policies if current_policies[policy] is not None]
        to_attach = sorted(set(wanted_arns or []) - set(current_arns or []))
        to_tag = compare_aws_tags(current_tags, wanted_tags, purge_tags=False)[0]

        # Where nothing differs, ``after`` shows the live value, so a no-op diff is empty.
        after = dict(before, inline_policies=dict(before["inline_policies"]), tags=dict(before["tags"]))
        after.update(wanted_settings)
        if trust_differs:
            after["trust_policy"] = trust_policy
        for policy in to_put:
            after["inline_policies"][policy] = wanted_policies[policy]
        for policy in to_delete:
            del after["inline_policies"][policy]
        if to_attach:
            after["managed_policy_arns"] = sorted(set(current_arns) | set(to_attach))
        after["tags"].update(to_tag)

        changed = bool(settings_differ or trust_differs or to_put or to_delete or to_attach or to_tag)
        if changed and not self.check_mode:
            if settings_differ:
                # Both values, always: an implementation may reset the one left out (moto does).
                self.iam.update_role(
                    RoleName=name, Description=wanted_settings.get("description", current_settings["description"] or ""),
                    MaxSessionDuration=wanted_settings.get("max_session_duration",
                                                           current_settings["max_session_duration"]),
                    aws_retry=True)
            if trust_differs:
                self.iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust_policy),
                                                   aws_retry=True)
            for policy in to_put:
                self.iam.put_role_policy(RoleName=name, PolicyName=policy,
                                         PolicyDocument=json.dumps(wanted_policies[policy]), aws_retry=True)
            for policy in to_delete:
                self.iam.delete_role_policy(RoleName=name, PolicyName=policy, aws_retry=True)
            for policy_arn in to_attach:
                self.iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn, aws_retry=True)
            if to_tag:
                self.iam.tag_role(RoleName=name, Tags=ansible_dict_to_boto3_tag_list(to_tag), aws_retry=True)
        return changed, before, after, arn

    def _create(self, name, trust_policy, policies, tags, settings, policy_arns):
        arn = UNKNOWN
        if not self.check_mode:
            request = dict(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust_policy),
                           Tags=ansible_dict_to_boto3_tag_list(tags))
            if "description" in settings:
                request["Description"] = settings["description"]
            if "max_session_duration" in settings:
                request["MaxSessionDuration"] = settings["max_session_duration"]
            response, found = create_once(lambda: self.iam_once.create_role(**request)["Role"],
                                          lambda: self._find_owned(name), exists_codes=("EntityAlreadyExists",),
                                          foreign=lambda: RoleNotOwnedError(name))
            arn = (response or found)["Arn"]
            # IAM is eventually consistent: the new role may not be found yet by the calls below.
            wait_until(getattr(self.iam, "client", self.iam).get_waiter("role_exists"), RoleName=name)
            for policy in sorted(policies):
                self.iam.put_role_policy(RoleName=name, PolicyName=policy, PolicyDocument=json.dumps(policies[policy]),
                                         aws_retry=True)
            for policy_arn in policy_arns or []:
                self.iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn, aws_retry=True)
        return True, None, self._view(name, arn, trust_policy, dict(policies), dict(tags), settings, policy_arns), arn

    @staticmethod
    def _view(name, arn, trust_policy, inline_policies, tags, settings, policy_arns):
        """What a person compares in a diff; settings and managed policies only when managed."""
        view = {"name": name, "arn": arn, "trust_policy": trust_policy, "inline_policies": inline_policies,
                "tags": tags}
        view.update(settings)
        if policy_arns is not None:
            view["managed_policy_arns"] = list(policy_arns)
        return view

    # -- removing ------------------------------------------------------------------------

    def remove(self, name):
        """Delete the role ``name`` if this component owns it; return ``(changed, before, after)``.

        Its inline policies are deleted and its managed policies detached first (IAM refuses
        to delete a role that has any). A role that is absent, or not owned, is left alone.
        """
        role = self._get_role(name)
        if role is None or not self._owned(role):
            return False, None, None
        before = {"name": name, "arn": role["Arn"]}
        if not self.check_mode:
            inline = paginate(self.iam, "list_role_policies", "PolicyNames", RoleName=name)
            for policy in inline:
                self.iam.delete_role_policy(RoleName=name, PolicyName=policy, aws_retry=True)
            for policy_arn in self._attached_policy_arns(name):
                self.iam.detach_role_policy(RoleName=name, PolicyArn=policy_arn, aws_retry=True)
            self.iam.delete_role(RoleName=name, aws_retry=True)
        return True, before, None
