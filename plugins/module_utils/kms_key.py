# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The customer managed KMS keys a component owns: one helper for every component.

A component's key is known by its alias (``alias/<prefix>-<purpose>``) and carries the
ownership tags plus the key tag ``mlops.platform/resource=<alias>``, set in CreateKey
itself. So a key whose alias was never made (a run stopped between CreateKey and
CreateAlias, or a CreateKey whose answer was lost) is found by its tags and finished, never
made twice. One ownership rule: a key behind our alias that does not carry this
environment's and component's ownership tags is refused, never used or changed.

A component whose key serves an AWS service (CloudTrail) gives the statements the key
policy must hold; they are set in CreateKey and restored when they drift, statements with
other Sids (a person's, the account's) kept after them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

try:
    from botocore.exceptions import ClientError
except ImportError:
    pass  # AnsibleAWSModule reports the missing SDK

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.policy import compare_policies
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags

from ansible_collections.mlops.platform.plugins.module_utils.aws import AWS_RETRY, AWSResourceError, create_once, paginate
from ansible_collections.mlops.platform.plugins.module_utils.component import KEY_TAG, UNKNOWN, is_owned
from ansible_collections.mlops.platform.plugins.module_utils.resource_policy import merged_policy, policy_statements


def _tag_list(tags):
    return ansible_dict_to_boto3_tag_list(tags, "TagKey", "TagValue")


class ComponentKey:
    """A component's symmetric encryption key with automatic rotation, known by its alias.

    ``read()`` looks it up (reads only, for the plan and the pre-flight checks);
    ``ensure()`` then converges it and returns ``(changed, before, after)``.
    """

    def __init__(self, module, alias, environment, component, tags, description, path, region=None, policy=None):
        extra = {"region": region} if region else {}
        self.module = module
        self.kms = module.client("kms", retry_decorator=AWS_RETRY, **extra)
        self.kms_once = module.once_client("kms", region)
        self.alias = alias
        self.environment = environment
        self.component = component
        self.tags = dict(tags, **{KEY_TAG: alias})
        self.description = description
        self.path = path  # the config path a problem with the key is reported under
        self.region = region or module.region
        self.policy = policy  # the statements (each with a Sid) the key policy must hold; None: not managed
        self.live = None
        self.read_done = False

    @property
    def arn(self):
        return self.live["arn"] if self.live else UNKNOWN

    def read(self):
        """The key as it is (``None`` when there is none): by its alias, else by its key tag."""
        if self.read_done:
            return self.live
        self.read_done = True
        try:
            metadata = self.kms.describe_key(KeyId=self.alias, aws_retry=True)["KeyMetadata"]
            aliased = True
        except is_boto3_error_code("NotFoundException"):
            metadata, aliased = self.find_unaliased(), False
            if metadata is None:
                return None
        tags = self.key_tags(metadata["KeyId"])
        if not is_owned(tags, self.environment, self.component):
            raise AWSResourceError(self.path, (
                "the alias %s (%s) points at the KMS key %s, which this collection did not create (it lacks the "
                "mlops.platform ownership tags of the %s of environment %s); it is neither used nor changed. Point "
                "the alias elsewhere, or, to hand the key to this component, tag it mlops.platform/managed=true, "
                "mlops.platform/environment=%s, mlops.platform/component=%s"
                % (self.alias, self.region, metadata["Arn"], self.component, self.environment, self.environment,
                   self.component)))
        if metadata["KeyState"] != "Enabled":
            raise AWSResourceError(self.path, (
                "the KMS key %s (%s, %s) is %s; what it encrypts cannot be read or written with it. Re-enable it "
                "(or cancel its deletion) before converging" % (metadata["Arn"], self.alias, self.region,
                                                                metadata["KeyState"])))
        rotation = self.kms.get_key_rotation_status(KeyId=metadata["KeyId"], aws_retry=True)["KeyRotationEnabled"]
        self.live = {"arn": metadata["Arn"], "key_id": metadata["KeyId"], "aliased": aliased,
                     "rotation": rotation, "tags": tags}
        if self.policy is not None:
            self.live["policy"] = json.loads(self.kms.get_key_policy(KeyId=metadata["KeyId"], PolicyName="default",
                                                                     aws_retry=True)["Policy"])
        return self.live

    def _held_statements(self, policy):
        """The Sids of the required statements that ``policy`` holds as required."""
        live = dict((statement.get("Sid"), statement) for statement in policy_statements(policy))
        return sorted(statement["Sid"] for statement in self.policy if statement["Sid"] in live
                      and not compare_policies({"Statement": [live[statement["Sid"]]]}, {"Statement": [statement]}))

    def _policy_document(self, current):
        sids = set(statement["Sid"] for statement in self.policy)
        return merged_policy(current, self.policy, lambda statement: statement.get("Sid") in sids)

    def key_tags(self, key_id):
        return boto3_tag_list_to_ansible_dict(paginate(self.kms, "list_resource_tags", "Tags", KeyId=key_id),
                                              "TagKey", "TagValue")

    def find_unaliased(self):
        """An enabled key of ours carrying this alias as its key tag, whose alias is missing.

        Only reached when the alias does not exist (a first run, or one after an interruption),
        so a converged environment never pays for the scan."""
        for entry in paginate(self.kms, "list_keys", "Keys"):
            try:
                tags = self.key_tags(entry["KeyId"])
            except ClientError:
                continue  # AWS managed keys, keys whose policy shuts us out: not ours
            if tags.get(KEY_TAG) == self.alias and is_owned(tags, self.environment, self.component):
                metadata = self.kms.describe_key(KeyId=entry["KeyId"], aws_retry=True)["KeyMetadata"]
                if metadata["KeyState"] == "Enabled":
                    return metadata
        return None

    def view(self, live):
        if live is None:
            return None
        view = {"alias": self.alias if live["aliased"] else None, "arn": live["arn"], "rotation": live["rotation"]}
        missing = compare_aws_tags(live["tags"], self.tags, purge_tags=False)[0]
        if missing:
            view["missing_tags"] = sorted(missing)
        if self.policy is not None:
            view["policy_statements"] = self._held_statements(live["policy"])
        return view

    def ensure(self):
        """Create what is missing (key, alias), turn rotation on, add missing tags."""
        live = self.read()
        before = self.view(live)
        after = {"alias": self.alias, "arn": live["arn"] if live else UNKNOWN, "rotation": True}
        if self.policy is not None:
            after["policy_statements"] = sorted(statement["Sid"] for statement in self.policy)
        changed = before != after
        if self.module.check_mode or not changed:
            return changed, before, after
        if live is None:
            create = dict(Description=self.description, KeyUsage="ENCRYPT_DECRYPT", KeySpec="SYMMETRIC_DEFAULT",
                          Tags=_tag_list(self.tags))
            if self.policy is not None:
                create["Policy"] = json.dumps(self._policy_document(None), sort_keys=True)
            response, found = create_once(lambda: self.kms_once.create_key(**create)["KeyMetadata"], self.find_unaliased)
            metadata = response or found
            live = self.live = {"arn": metadata["Arn"], "key_id": metadata["KeyId"], "aliased": False,
                                "rotation": False, "tags": dict(self.tags)}
            if self.policy is not None:
                # A key found after a lost answer was created with the policy too (the same call).
                live["policy"] = self._policy_document(None)
        if not live["aliased"]:
            create_once(lambda: self.kms_once.create_alias(AliasName=self.alias, TargetKeyId=live["key_id"]),
                        self.alias_target_is_ours, exists_codes=("AlreadyExistsException",),
                        foreign=lambda: AWSResourceError(self.path, "the alias %s was just made for another key; "
                                                                    "run again to see which" % self.alias))
            live["aliased"] = True
        if not live["rotation"]:
            self.kms.enable_key_rotation(KeyId=live["key_id"], aws_retry=True)
            live["rotation"] = True
        if self.policy is not None and self._held_statements(live["policy"]) != after["policy_statements"]:
            live["policy"] = self._policy_document(live["policy"])
            self.kms.put_key_policy(KeyId=live["key_id"], PolicyName="default",
                                    Policy=json.dumps(live["policy"], sort_keys=True), aws_retry=True)
        missing = compare_aws_tags(live["tags"], self.tags, purge_tags=False)[0]
        if missing:
            self.kms.tag_resource(KeyId=live["key_id"], Tags=_tag_list(missing), aws_retry=True)
            live["tags"].update(missing)
        after["arn"] = live["arn"]
        return changed, before, after

    def alias_target_is_ours(self):
        try:
            metadata = self.kms.describe_key(KeyId=self.alias, aws_retry=True)["KeyMetadata"]
        except is_boto3_error_code("NotFoundException"):
            return None
        return metadata if metadata["KeyId"] == self.live["key_id"] else None
