# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""iam_role.ComponentRoles against moto: create, no-op, check mode, drift, ownership, removal.

The IAM client is wrapped in amazon.aws's RetryingBotoClientWrapper, as
``module.client("iam", retry_decorator=AWS_RETRY)`` does, so the helper is called exactly
as the modules call it. ``api_calls`` records every call on the wire, waiter calls included.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import json

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry, RetryingBotoClientWrapper
from ansible_collections.mlops.platform.plugins.module_utils import data_lake as lake
from ansible_collections.mlops.platform.plugins.module_utils import iam_role
from ansible_collections.mlops.platform.plugins.module_utils import network as net
from ansible_collections.mlops.platform.plugins.module_utils.component import managed_tags

from conftest import writes

RETRY = AWSRetry.jittered_backoff(retries=2, delay=0)
ENVIRONMENT = "dev"
COMPONENT = "ml_serving"
NAME = "mlops-dev-serving"
ACCOUNT = "123456789012"  # moto's default account
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole",
                   "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}}],
}
READ_BUCKET = {"Version": "2012-10-17", "Statement": [
    {"Sid": "Read", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::models/*"]}]}
WRITE_QUEUE = {"Version": "2012-10-17", "Statement": [
    {"Sid": "Send", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:eu-west-1:%s:jobs" % ACCOUNT}]}
POLICIES = {"read-models": READ_BUCKET, "send-jobs": WRITE_QUEUE}
TAGS = {"Project": "serving"}
DESCRIPTION = "Serving role of dev (mlops.platform)"


def operations(calls):
    return dict(collections.Counter(operation for operation, unused in calls))


def roles(check_mode=False, environment=ENVIRONMENT, component=COMPONENT):
    return iam_role.ComponentRoles(RetryingBotoClientWrapper(boto3.client("iam"), RETRY), environment, component,
                                   check_mode)


def ensure(check_mode=False, **overrides):
    arguments = dict(name=NAME, trust_policy=TRUST, inline_policies=POLICIES, tags=TAGS, description=DESCRIPTION)
    arguments.update(overrides)
    return roles(check_mode).ensure(**arguments)


def live_tags(name=NAME):
    return {tag["Key"]: tag["Value"] for tag in boto3.client("iam").get_role(RoleName=name)["Role"]["Tags"]}


@pytest.fixture
def converged(aws, api_calls):
    """The role as ``ensure`` creates it, with the calls of the creation forgotten."""
    ensure()
    del api_calls[:]


def test_the_placeholder_arn_is_the_one_the_component_modules_use():
    assert iam_role.UNKNOWN == net.UNKNOWN == lake.UNKNOWN


def test_create_puts_trust_description_tags_and_each_inline_policy(aws, api_calls):
    changed, before, after, arn = ensure()
    assert changed is True and before is None
    assert arn == "arn:aws:iam::%s:role/%s" % (ACCOUNT, NAME) == after["arn"]
    assert writes(api_calls) == ["CreateRole", "PutRolePolicy", "PutRolePolicy"]
    # Waited for with IAM's role_exists waiter (a GetRole) before the policies are put.
    assert [operation for operation, unused in api_calls] == [
        "GetRole", "CreateRole", "GetRole", "PutRolePolicy", "PutRolePolicy"]
    iam = boto3.client("iam")
    role = iam.get_role(RoleName=NAME)["Role"]
    assert role["AssumeRolePolicyDocument"] == TRUST
    assert role["Description"] == DESCRIPTION
    assert live_tags() == managed_tags(ENVIRONMENT, COMPONENT, TAGS)
    for policy, document in POLICIES.items():
        assert iam.get_role_policy(RoleName=NAME, PolicyName=policy)["PolicyDocument"] == document
    assert after == {"name": NAME, "arn": arn, "trust_policy": TRUST, "inline_policies": POLICIES,
                     "tags": managed_tags(ENVIRONMENT, COMPONENT, TAGS), "description": DESCRIPTION}


def test_no_op_reads_get_role_and_one_get_role_policy_per_inline_policy_and_writes_nothing(converged, api_calls):
    changed, before, after, arn = ensure()
    assert changed is False
    assert operations(api_calls) == {"GetRole": 1, "GetRolePolicy": 2}
    assert writes(api_calls) == []
    assert before == after and arn == before["arn"]


def test_check_mode_on_the_converged_role_reports_nothing(converged, api_calls):
    changed, before, after, unused = ensure(check_mode=True)
    assert changed is False and before == after
    assert writes(api_calls) == []


def test_check_mode_on_an_empty_account_predicts_the_creation_and_writes_nothing(aws, api_calls):
    changed, before, after, arn = ensure(check_mode=True)
    assert changed is True and before is None
    assert arn == iam_role.UNKNOWN == after["arn"]
    assert after["trust_policy"] == TRUST and after["inline_policies"] == POLICIES
    assert operations(api_calls) == {"GetRole": 1}
    assert boto3.client("iam").list_roles()["Roles"] == []


def test_trust_policy_drift_is_repaired_with_one_update_assume_role_policy(converged, api_calls):
    boto3.client("iam").update_assume_role_policy(RoleName=NAME, PolicyDocument=json.dumps(dict(TRUST, Statement=[
        dict(TRUST["Statement"][0], Principal={"Service": "lambda.amazonaws.com"})])))
    del api_calls[:]
    changed, before, after, unused = ensure(check_mode=True)
    assert changed is True and writes(api_calls) == []
    assert before["trust_policy"]["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert after["trust_policy"] == TRUST
    assert ensure()[0] is True
    assert writes(api_calls) == ["UpdateAssumeRolePolicy"]
    assert boto3.client("iam").get_role(RoleName=NAME)["Role"]["AssumeRolePolicyDocument"] == TRUST


def test_a_trust_policy_equal_in_meaning_is_not_rewritten(converged, api_calls):
    """compare_policies: a one-element list and its string, the statement's key order, are the same."""
    reordered = {"Statement": [{"Action": ["sts:AssumeRole"], "Condition": TRUST["Statement"][0]["Condition"],
                                "Principal": {"Service": ["ec2.amazonaws.com"]}, "Effect": "Allow"}],
                 "Version": "2012-10-17"}
    assert ensure(trust_policy=reordered)[0] is False
    assert writes(api_calls) == []


@pytest.mark.parametrize("drift", ["changed", "deleted"])
def test_inline_policy_drift_is_repaired_with_one_put_role_policy(converged, api_calls, drift):
    iam = boto3.client("iam")
    if drift == "changed":
        iam.put_role_policy(RoleName=NAME, PolicyName="send-jobs", PolicyDocument=json.dumps(READ_BUCKET))
    else:
        iam.delete_role_policy(RoleName=NAME, PolicyName="send-jobs")
    del api_calls[:]
    changed, before, after, unused = ensure(check_mode=True)
    assert changed is True and writes(api_calls) == []
    assert before["inline_policies"].get("send-jobs") == (READ_BUCKET if drift == "changed" else None)
    assert after["inline_policies"] == POLICIES
    assert ensure()[0] is True
    assert writes(api_calls) == ["PutRolePolicy"]
    assert iam.get_role_policy(RoleName=NAME, PolicyName="send-jobs")["PolicyDocument"] == WRITE_QUEUE


def test_tag_drift_adds_only_what_is_missing_and_keeps_foreign_tags(converged, api_calls):
    iam = boto3.client("iam")
    iam.untag_role(RoleName=NAME, TagKeys=["Project"])
    iam.tag_role(RoleName=NAME, Tags=[{"Key": "CostCenter", "Value": "42"}])
    del api_calls[:]
    changed, before, after, unused = ensure(check_mode=True)
    assert changed is True and writes(api_calls) == []
    assert "Project" not in before["tags"] and after["tags"]["Project"] == "serving"
    assert "CostCenter" not in after["tags"], "the diff shows only the tags this helper manages"
    assert ensure()[0] is True
    assert writes(api_calls) == ["TagRole"]
    assert live_tags() == dict(managed_tags(ENVIRONMENT, COMPONENT, TAGS), CostCenter="42")


def test_description_and_max_session_duration_are_repaired_with_one_update_role(converged, api_calls):
    changed, before, after, unused = ensure(description="Serving, renamed", max_session_duration=7200)
    assert changed is True and writes(api_calls) == ["UpdateRole"]
    assert (before["description"], before["max_session_duration"]) == (DESCRIPTION, 3600)
    assert (after["description"], after["max_session_duration"]) == ("Serving, renamed", 7200)
    role = boto3.client("iam").get_role(RoleName=NAME)["Role"]
    assert (role["Description"], role["MaxSessionDuration"]) == ("Serving, renamed", 7200)
    # Managing only the description keeps the duration, and the other way round.
    del api_calls[:]
    assert ensure(description=DESCRIPTION)[0] is True
    role = boto3.client("iam").get_role(RoleName=NAME)["Role"]
    assert (role["Description"], role["MaxSessionDuration"]) == (DESCRIPTION, 7200)
    assert ensure(description=None, max_session_duration=7200)[0] is False


def test_an_inline_policy_asked_absent_is_deleted_and_one_never_named_is_kept(converged, api_calls):
    iam = boto3.client("iam")
    iam.put_role_policy(RoleName=NAME, PolicyName="added-by-hand", PolicyDocument=json.dumps(READ_BUCKET))
    del api_calls[:]
    changed, before, after, unused = ensure(inline_policies={"read-models": READ_BUCKET, "send-jobs": None})
    assert changed is True
    assert writes(api_calls) == ["DeleteRolePolicy"]
    assert sorted(before["inline_policies"]) == ["read-models", "send-jobs"]
    assert sorted(after["inline_policies"]) == ["read-models"]
    assert sorted(iam.list_role_policies(RoleName=NAME)["PolicyNames"]) == ["added-by-hand", "read-models"]
    del api_calls[:]
    assert ensure(inline_policies={"read-models": READ_BUCKET, "send-jobs": None})[0] is False
    assert operations(api_calls) == {"GetRole": 1, "GetRolePolicy": 2}


def test_managed_policies_given_are_attached_and_others_never_detached(converged, api_calls):
    iam = boto3.client("iam")
    wanted, foreign = [iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(READ_BUCKET))["Policy"]["Arn"]
                       for name in ("serving-read", "attached-by-hand")]
    iam.attach_role_policy(RoleName=NAME, PolicyArn=foreign)
    del api_calls[:]
    changed, before, after, unused = ensure(managed_policy_arns=[wanted])
    assert changed is True and writes(api_calls) == ["AttachRolePolicy"]
    assert before["managed_policy_arns"] == [foreign]
    assert after["managed_policy_arns"] == sorted([wanted, foreign])
    del api_calls[:]
    assert ensure(managed_policy_arns=[wanted])[0] is False
    assert operations(api_calls) == {"GetRole": 1, "GetRolePolicy": 2, "ListAttachedRolePolicies": 1}
    attached = iam.list_attached_role_policies(RoleName=NAME)["AttachedPolicies"]
    assert sorted(policy["PolicyArn"] for policy in attached) == sorted([wanted, foreign])


@pytest.mark.parametrize("tags", [
    {},
    managed_tags("prod", COMPONENT),
    managed_tags(ENVIRONMENT, "network"),
], ids=["untagged", "another environment's", "another component's"])
def test_a_role_this_component_does_not_own_is_refused_and_left_alone(aws, api_calls, tags):
    iam = boto3.client("iam")
    someone_elses = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"}]}
    iam.create_role(RoleName=NAME, AssumeRolePolicyDocument=json.dumps(someone_elses),
                    Tags=[{"Key": key, "Value": value} for key, value in tags.items()])
    del api_calls[:]
    for check_mode in (True, False):
        with pytest.raises(iam_role.RoleNotOwnedError) as refused:
            ensure(check_mode=check_mode)
        assert str(refused.value) == ("the IAM role %s exists and is not managed by this component; "
                                      "remove it or tag it" % NAME)
        assert refused.value.name == NAME
    assert roles().remove(NAME) == (False, None, None)
    assert writes(api_calls) == []
    assert operations(api_calls) == {"GetRole": 3}
    assert iam.get_role(RoleName=NAME)["Role"]["AssumeRolePolicyDocument"] == someone_elses


def test_removal_deletes_inline_policies_attachments_then_the_role_only_when_owned(converged, api_calls):
    iam = boto3.client("iam")
    managed = iam.create_policy(PolicyName="serving-read", PolicyDocument=json.dumps(READ_BUCKET))["Policy"]["Arn"]
    ensure(managed_policy_arns=[managed])
    del api_calls[:]

    changed, before, after = roles(check_mode=True).remove(NAME)
    assert changed is True and before == {"name": NAME, "arn": "arn:aws:iam::%s:role/%s" % (ACCOUNT, NAME)}
    assert after is None and writes(api_calls) == []

    assert roles().remove(NAME) == (True, before, None)
    assert writes(api_calls) == ["DeleteRolePolicy", "DeleteRolePolicy", "DetachRolePolicy", "DeleteRole"]
    assert [role["RoleName"] for role in iam.list_roles()["Roles"]] == []

    del api_calls[:]
    assert roles().remove(NAME) == (False, None, None)
    assert operations(api_calls) == {"GetRole": 1}


def test_errors_other_than_a_missing_role_reach_the_caller():
    """Only NoSuchEntity is an answer; AccessDenied and the like propagate for fail_json_aws."""
    client = boto3.client("iam", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        stubber.add_client_error("get_role", service_error_code="AccessDenied", http_status_code=403)
        helper = iam_role.ComponentRoles(RetryingBotoClientWrapper(client, RETRY), ENVIRONMENT, COMPONENT)
        with pytest.raises(ClientError, match="AccessDenied"):
            helper.ensure(NAME, TRUST, POLICIES)
