"""The organization baseline: guardrail builder, policy checks, and the module's real main()
against moto.

Calls the stand-in lacks (an account creation still IN_PROGRESS, a FAILED creation) are
driven with botocore's Stubber, which checks every request against the real API model; main()
still runs, its clients replaced by the stubbed ones.
"""

import collections
import copy
import json
import re

import boto3
import botocore.client
import pytest
from botocore.stub import ANY, Stubber

from conftest import component_config, run_module, writes

from ansible_collections.amazon.aws.plugins.module_utils.policy import compare_policies
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from ansible_collections.mlops.platform.plugins.module_utils import organization as org
from ansible_collections.mlops.platform.plugins.module_utils.aws import MlopsAWSModule
from ansible_collections.mlops.platform.plugins.module_utils.component import MANAGED_TAG, UNKNOWN
from ansible_collections.mlops.platform.plugins.module_utils.config_schema import ORGANIZATION
from ansible_collections.mlops.platform.plugins.modules import organization as module_under_test


def config_with(**overrides):
    overrides.setdefault("tags", {"Project": "test"})
    return component_config(ORGANIZATION, **overrides)


BASE = dict(
    accounts={
        "dev": {"email": "aws+dev@example.com", "organizational_unit": "Workloads/NonProduction", "environment": "dev"},
        "security": {"email": "aws+sec@example.com", "organizational_unit": "Security"},
    },
    allowed_regions=["eu-west-1"],
    organization_trail=False,  # its own test below
)


# --- pure logic -------------------------------------------------------------------------------

def test_every_guardrail_builds_a_valid_scp_within_limits():
    config = config_with(guardrails={"Root": sorted(org.GUARDRAILS)[:4], "Workloads": sorted(org.GUARDRAILS)[4:]},
                         allowed_regions=["eu-west-1", "us-east-1"])
    policies = org.desired_policies(config)
    assert set(policies) == {org.policy_name(name) for name in org.GUARDRAILS}
    for policy in policies.values():
        text = org.minified(policy["document"])
        assert json.loads(text) == policy["document"]
        assert len(text) <= org.SCP_MAX_CHARACTERS
        assert all(statement["Effect"] == "Deny" for statement in policy["document"]["Statement"])
    assert org.check_policies(policies, "config") == []


def test_region_guardrail_exempts_global_services_and_break_glass_roles():
    config = config_with(guardrails={"Root": ["deny_regions_outside_allow_list"]},
                         allowed_regions=["us-east-1", "eu-west-1"],
                         exempt_principal_arns=["arn:aws:iam::*:role/BreakGlass"])
    (statement,) = org.desired_policies(config)["mlops-deny-regions-outside-allow-list"]["document"]["Statement"]
    assert "iam:*" in statement["NotAction"] and "sts:*" in statement["NotAction"]
    assert statement["Condition"] == {
        "StringNotEquals": {"aws:RequestedRegion": ["eu-west-1", "us-east-1"]},
        "ArnNotLike": {"aws:PrincipalARN": ["arn:aws:iam::*:role/BreakGlass"]},
    }


def test_a_guardrail_on_several_targets_is_one_policy():
    config = config_with(guardrails={"Root": ["deny_root_user"], "Workloads": ["deny_root_user"]})
    policies = org.desired_policies(config)
    assert policies["mlops-deny-root-user"]["targets"] == ["Root", "Workloads"]


def test_oversized_custom_policy_is_refused_with_its_path():
    statements = [{"Effect": "Deny", "Action": "s3:%s" % ("x" * 100), "Resource": "*"}] * 60
    config = config_with(custom_policies={"big": {"targets": ["Root"], "statements": statements}})
    problems = [str(problem) for problem in org.check_policies(org.desired_policies(config), "config")]
    assert len(problems) == 1 and problems[0].startswith(
        "config.custom_policies.big: make SCP mlops-big ") and "an SCP holds at most 5120" in problems[0]


def test_statement_without_effect_or_action_is_refused():
    config = config_with(custom_policies={"odd": {"targets": ["Root"], "statements": [{"Resource": "*"}]}})
    assert [str(p) for p in org.check_policies(org.desired_policies(config), "config")] == [
        "config.custom_policies.odd.statements[0]: lacks Effect and Action or NotAction, which every SCP statement needs"]


def test_more_than_five_scps_on_one_target_is_refused():
    config = config_with(guardrails={"Workloads": sorted(org.GUARDRAILS)[:5]})
    problems = [str(p) for p in org.check_policies(org.desired_policies(config), "config")]
    assert problems == [
        "config.guardrails.Workloads: attach 6 SCPs to Workloads (%s, plus FullAWSAccess); AWS allows at most 5 "
        "per target" % ", ".join(sorted(org.policy_name(name) for name in sorted(org.GUARDRAILS)[:5]))]


def test_policy_diff_is_order_insensitive():
    config = config_with(guardrails={"Root": ["deny_disabling_security_services"]})
    document = org.desired_policies(config)["mlops-deny-disabling-security-services"]["document"]
    shuffled = copy.deepcopy(document)
    shuffled["Statement"][0]["Action"] = list(reversed(shuffled["Statement"][0]["Action"]))
    assert not compare_policies(shuffled, document)
    shuffled["Statement"][0]["Action"].pop()
    assert compare_policies(shuffled, document)


def test_references_to_undeclared_ous():
    config = config_with(accounts={"x": {"email": "x@example.com", "organizational_unit": "Nowhere"}},
                         guardrails={"Elsewhere": ["deny_root_user"]})
    assert [str(p) for p in org.check_references(config, "config")] == [
        "config.accounts.x.organizational_unit: 'Nowhere' is not a declared OU "
        "(Infrastructure, Security, Workloads, Workloads/NonProduction, Workloads/Production)",
        "config.guardrails.Elsewhere: is not a declared OU"]


def test_only_mlops_named_customer_scps_can_be_ours():
    assert org.named_like_ours({"Name": "mlops-deny-root-user", "AwsManaged": False})
    assert not org.named_like_ours({"Name": "mlops-lookalike", "AwsManaged": True})
    assert not org.named_like_ours({"Name": "FullAWSAccess", "AwsManaged": True})


def test_ou_creation_order_puts_parents_first():
    assert org.ou_paths_in_creation_order(["A/B/C", "A", "D", "A/B"]) == ["A", "D", "A/B", "A/B/C"]


# --- the converge: the module's main() against moto ----------------------------------------------

@pytest.fixture(name="orgs")
def orgs_fixture(aws):
    """moto (fixture ``aws``) and an Organizations client to look at it with."""
    yield boto3.client("organizations", region_name="us-east-1")


def run(capsys, config, check_mode=False):
    """The module's main() with ``config`` (a full config block, as ``config_with`` makes it)."""
    args = {"config": config, "environment": "dev"}
    if check_mode:
        args["_ansible_check_mode"] = True
    return run_module(capsys, module_under_test.main, args)


def converged(capsys, config, check_mode=False):
    """A run that must succeed: its result."""
    rc, result = run(capsys, config, check_mode)
    assert rc == 0, result.get("msg")
    return result


def tag_dict(orgs, resource_id):
    return {t["Key"]: t["Value"] for t in orgs.list_tags_for_resource(ResourceId=resource_id)["Tags"]}


def test_converge_from_nothing_then_nothing_to_do(orgs, capsys, api_calls):
    config = config_with(**BASE)
    result = converged(capsys, config)
    assert result["changed"] and result["diff"]["before"] == {}
    dev = result["environment_accounts"]["dev"]
    assert result["environment_account"] == dev
    assert dev["role_arn"] == "arn:aws:iam::%s:role/OrganizationAccountAccessRole" % dev["account_id"]
    assert set(result["organizational_units"]) == set(config["organizational_units"])
    parents = orgs.list_parents(ChildId=dev["account_id"])["Parents"]
    assert parents == [{"Id": result["organizational_units"]["Workloads/NonProduction"],
                        "Type": "ORGANIZATIONAL_UNIT"}]
    assert tag_dict(orgs, dev["account_id"]) == {"Project": "test", MANAGED_TAG: "true"}
    workloads = result["organizational_units"]["Workloads"]
    attached = {p["Name"] for p in orgs.list_policies_for_target(TargetId=workloads,
                                                                 Filter="SERVICE_CONTROL_POLICY")["Policies"]}
    assert attached == {"FullAWSAccess", "mlops-deny-regions-outside-allow-list", "mlops-deny-s3-without-tls",
                        "mlops-deny-iam-user-access-keys", "mlops-deny-disabling-security-services"}
    assert "CreateAccount" in writes(api_calls)
    assert result["new_environment_accounts"] == ["dev"]

    api_calls.clear()
    again = converged(capsys, config)
    assert not again["changed"] and again["new_environment_accounts"] == []
    assert again["diff"]["before"] == again["diff"]["after"]
    assert writes(api_calls) == [], "a no-op run must only read"
    assert not converged(capsys, config, check_mode=True)["changed"]


def test_check_mode_on_an_empty_account_predicts_without_writing(orgs, capsys, api_calls):
    result = converged(capsys, config_with(**BASE), check_mode=True)
    assert result["changed"] and writes(api_calls) == []
    after = result["diff"]["after"]
    assert after["accounts"]["dev"] == {"id": UNKNOWN, "email": "aws+dev@example.com",
                                        "organizational_unit": "Workloads/NonProduction",
                                        "tags": {"Project": "test", "mlops.platform/managed": "true"}}
    assert after["policies"]["mlops-deny-root-user"]["targets"] == ["Root"]
    assert after["organizational_unit_tags"]["Workloads"] == {"Project": "test", "mlops.platform/managed": "true"}


def test_changed_tags_converge_on_every_ou_scp_and_account_and_show_in_the_diff(orgs, capsys):
    """Changing config.tags is a real change: every OU, SCP and account gets the new tag,
    the diff shows it, and the next run has nothing to do."""
    converged(capsys, config_with(**BASE))
    retagged = config_with(**dict(BASE, tags={"Project": "test", "CostCentre": "ml"}))

    result = converged(capsys, retagged)
    before, after = result["diff"]["before"], result["diff"]["after"]
    assert result["changed"] and before != after
    assert after["organizational_unit_tags"]["Workloads/Production"]["CostCentre"] == "ml"
    assert before["organizational_unit_tags"]["Workloads/Production"]["CostCentre"] is None
    for policy in after["policies"].values():
        assert policy["tags"]["CostCentre"] == "ml"
    for ou_id in result["organizational_units"].values():
        assert tag_dict(orgs, ou_id)["CostCentre"] == "ml"
    for account in result["accounts"].values():
        assert tag_dict(orgs, account["id"])["CostCentre"] == "ml"

    again = converged(capsys, retagged)
    assert not again["changed"] and again["diff"]["before"] == again["diff"]["after"]


def test_drift_is_repaired_exactly(orgs, capsys, api_calls):
    config = config_with(**BASE)
    outputs = converged(capsys, config)
    policy_id = outputs["policies"]["mlops-deny-s3-without-tls"]["id"]
    orgs.detach_policy(PolicyId=policy_id, TargetId=outputs["organizational_units"]["Workloads"])
    orgs.update_policy(PolicyId=outputs["policies"]["mlops-deny-root-user"]["id"],
                       Content=json.dumps(org.policy_document([{"Effect": "Allow", "Action": "*", "Resource": "*"}])))
    dev = outputs["accounts"]["dev"]["id"]
    orgs.move_account(AccountId=dev, SourceParentId=outputs["organizational_units"]["Workloads/NonProduction"],
                      DestinationParentId=outputs["root_id"])
    api_calls.clear()
    assert converged(capsys, config)["changed"]
    assert sorted(writes(api_calls)) == ["AttachPolicy", "MoveAccount", "UpdatePolicy"]
    assert not converged(capsys, config)["changed"]


def test_removed_guardrail_is_detached_and_deleted_accounts_are_kept(orgs, capsys, api_calls):
    converged(capsys, config_with(**BASE))
    smaller = copy.deepcopy(BASE)
    smaller["accounts"].pop("security")
    # maps merge over the defaults: a default entry is switched off with an empty list
    smaller["guardrails"] = {"Root": ["deny_leaving_organization"], "Workloads": []}
    api_calls.clear()
    result = converged(capsys, config_with(**smaller))
    assert result["changed"]
    done = writes(api_calls)
    assert "CloseAccount" not in done and "RemoveAccountFromOrganization" not in done
    assert done.count("DeletePolicy") == 5
    names = {p["Name"] for p in orgs.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]}
    assert names == {"FullAWSAccess", "mlops-deny-leaving-organization"}
    assert result["unmanaged"]["accounts"] == ["aws+sec@example.com"]


def test_an_scp_named_like_ours_but_not_tagged_is_never_touched(orgs, capsys, api_calls):
    """Ownership is the managed tag, not the name: a hand-made mlops-* SCP is not deleted,
    and one whose name a guardrail needs stops the run before any write, with its path."""
    root = converged(capsys, config_with(**BASE))["root_id"]
    deny_ec2 = json.dumps(org.policy_document([{"Effect": "Deny", "Action": "ec2:*", "Resource": "*"}]))
    hand_made = orgs.create_policy(Content=deny_ec2, Description="break glass", Name="mlops-break-glass",
                                   Type="SERVICE_CONTROL_POLICY")
    orgs.attach_policy(PolicyId=hand_made["Policy"]["PolicySummary"]["Id"], TargetId=root)
    api_calls.clear()
    assert not converged(capsys, config_with(**BASE))["changed"]
    assert writes(api_calls) == []

    taken = copy.deepcopy(BASE)
    taken["custom_policies"] = {"break_glass": {"targets": ["Root"], "statements": [
        {"Effect": "Deny", "Action": "s3:*", "Resource": "*"}]}}
    rc, result = run(capsys, config_with(**taken))
    assert rc == 1 and result["msg"].startswith("config.custom_policies.break_glass: the SCP mlops-break-glass (p-")
    assert writes(api_calls) == []


def test_scps_attached_by_others_count_against_the_limit_before_any_write(orgs, capsys, api_calls):
    """Five SCPs per target, whoever attached them: a target with others' policies that leave
    no room is refused up front, not after half the attachments."""
    workloads = converged(capsys, config_with(**BASE))["organizational_units"]["Workloads"]
    deny_ec2 = json.dumps(org.policy_document([{"Effect": "Deny", "Action": "ec2:*", "Resource": "*"}]))
    others = orgs.create_policy(Content=deny_ec2, Description="", Name="control-tower-guardrail",
                                Type="SERVICE_CONTROL_POLICY")
    orgs.attach_policy(PolicyId=others["Policy"]["PolicySummary"]["Id"], TargetId=workloads)
    api_calls.clear()
    rc, result = run(capsys, config_with(**BASE))
    assert rc == 1 and result["msg"] == (
        "config.guardrails.Workloads: Workloads has 2 SCP(s) attached by others (FullAWSAccess, "
        "control-tower-guardrail); with the 4 of this configuration (mlops-deny-disabling-security-services, "
        "mlops-deny-iam-user-access-keys, mlops-deny-regions-outside-allow-list, mlops-deny-s3-without-tls) it "
        "would exceed AWS's limit of 5 per target")
    assert writes(api_calls) == []


def test_an_account_created_earlier_is_adopted_by_email(orgs, capsys, api_calls):
    orgs.create_organization(FeatureSet="ALL")
    earlier = orgs.create_account(Email="AWS+dev@example.com", AccountName="made-by-hand")["CreateAccountStatus"]
    api_calls.clear()
    result = converged(capsys, config_with(**BASE))
    assert writes(api_calls).count("CreateAccount") == 1  # only "security"; dev is adopted
    assert result["environment_accounts"]["dev"]["account_id"] == earlier["AccountId"]


def test_organization_trail_converges_once(orgs, capsys, api_calls):
    with_trail = dict(BASE)
    with_trail["organization_trail"] = True
    config = config_with(**with_trail)
    result = converged(capsys, config)
    assert result["diff"]["after"]["security_services"]["organization_trail"]["trail"]["is_organization_trail"]
    trail = boto3.client("cloudtrail", region_name="eu-west-1").describe_trails()["trailList"][0]
    assert trail["S3BucketName"] == "mlops-organization-trail-%s" % result["management_account_id"]
    api_calls.clear()
    assert not converged(capsys, config)["changed"]
    assert writes(api_calls) == []


# --- what the stand-in cannot do: Stubber against the real API shapes --------------------------

def stubbed_client():
    client = boto3.client("organizations", region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="x")
    return client, Stubber(client)


def _existing_organization(stub):
    stub.add_response("describe_organization", {"Organization": {
        "Id": "o-abcdefghij", "Arn": "arn:aws:organizations::111111111111:organization/o-abcdefghij",
        "FeatureSet": "ALL", "MasterAccountId": "111111111111"}})
    stub.add_response("list_roots", {"Roots": [{"Id": "r-ab12", "Name": "Root",
                                                "PolicyTypes": [{"Type": "SERVICE_CONTROL_POLICY",
                                                                 "Status": "ENABLED"}]}]})
    stub.add_response("list_accounts_for_parent", {"Accounts": []}, {"ParentId": "r-ab12"})
    stub.add_response("list_organizational_units_for_parent", {"OrganizationalUnits": [
        {"Id": "ou-ab12-11111111", "Name": "Workloads"}]}, {"ParentId": "r-ab12"})
    stub.add_response("list_tags_for_resource", {"Tags": [{"Key": "Project", "Value": "test"},
                                                          {"Key": "mlops.platform/managed", "Value": "true"}]},
                      {"ResourceId": "ou-ab12-11111111"})
    stub.add_response("list_accounts_for_parent", {"Accounts": []}, {"ParentId": "ou-ab12-11111111"})
    stub.add_response("list_organizational_units_for_parent", {"OrganizationalUnits": []},
                      {"ParentId": "ou-ab12-11111111"})
    stub.add_response("list_accounts", {"Accounts": []})
    stub.add_response("list_policies", {"Policies": []}, {"Filter": "SERVICE_CONTROL_POLICY"})


def _single_account_config():
    return config_with(organizational_units=["Workloads"], guardrails={"Root": [], "Workloads": []},
                       organization_trail=False,
                       accounts={"dev": {"email": "aws+dev@example.com", "organizational_unit": "Workloads",
                                         "environment": "dev"}})


@pytest.fixture(name="stubbed")
def stubbed_fixture(aws, monkeypatch, capsys):
    """main() on the single-account configuration, its clients the given raw (stubbed) ones by
    service, wrapped with the module's retry decorator as MlopsAWSModule.client would."""

    def run_with(**clients):
        def client(unused_module, service, retry_decorator=None, **unused_extra):
            raw = clients[service]
            return raw if retry_decorator is None else RetryingBotoClientWrapper(raw, retry_decorator)

        monkeypatch.setattr(MlopsAWSModule, "client", client)
        return run(capsys, _single_account_config())

    return run_with


ASSUMED = {"Credentials": {"AccessKeyId": "ASIAEXAMPLEEXAMPLE", "SecretAccessKey": "x" * 40,
                           "SessionToken": "token", "Expiration": "2026-11-25T22:00:00Z"},
           "AssumedRoleUser": {"AssumedRoleId": "AROAEXAMPLE:mlops-platform-new-account-check",
                               "Arn": "arn:aws:sts::222222222222:assumed-role/OrganizationAccountAccessRole/"
                                      "mlops-platform-new-account-check"}}
ASSUME_NEW_ACCOUNT = {"RoleArn": "arn:aws:iam::222222222222:role/OrganizationAccountAccessRole",
                      "RoleSessionName": "mlops-platform-new-account-check", "DurationSeconds": 900}


def stubbed_sts():
    client = boto3.client("sts", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    return client, Stubber(client)


@pytest.fixture(name="fast_access_waiter")
def fast_access_waiter_fixture(monkeypatch):
    """The new-account access waiter without its pauses, and with three attempts."""
    waiter = org.ROLE_ASSUMABLE_WAITER["waiters"]["RoleAssumable"]
    monkeypatch.setitem(waiter, "delay", 0)
    monkeypatch.setitem(waiter, "maxAttempts", 3)


def _adopted_creation(stub):
    """An existing organization in which an interrupted run left the creation of dev in flight."""
    _existing_organization(stub)
    stub.add_response("list_create_account_status", {"CreateAccountStatuses": [
        {"Id": "car-0123456789abcdef", "AccountName": "dev", "State": "IN_PROGRESS"}]}, {"States": ["IN_PROGRESS"]})
    for unused in range(2):  # the waiter's poll, then the status read
        stub.add_response("describe_create_account_status", {"CreateAccountStatus": {
            "Id": "car-0123456789abcdef", "AccountName": "dev", "State": "SUCCEEDED", "AccountId": "222222222222"}},
            {"CreateAccountRequestId": "car-0123456789abcdef"})
    _described(stub, "aws+dev@example.com")


def _described(stub, email):
    """DescribeAccount of the adopted account: the e-mail it was created for."""
    stub.add_response("describe_account", {"Account": {"Id": "222222222222", "Email": email, "Name": "dev"}},
                      {"AccountId": "222222222222"})


def test_a_new_account_is_waited_for_until_its_role_can_be_assumed(fast_access_waiter, stubbed):
    """AWS refuses AssumeRole into a brand-new account for a while: AccessDenied is retried
    by the waiter, then the run goes on (placing and tagging the account)."""
    client, stub = stubbed_client()
    _adopted_creation(stub)
    stub.add_response("move_account", {}, {"AccountId": "222222222222", "SourceParentId": "r-ab12",
                                           "DestinationParentId": "ou-ab12-11111111"})
    stub.add_response("list_tags_for_resource", {"Tags": []}, {"ResourceId": "222222222222"})
    stub.add_response("tag_resource", {}, {"ResourceId": "222222222222", "Tags": ANY})
    sts, sts_stub = stubbed_sts()
    sts_stub.add_client_error("assume_role", service_error_code="AccessDenied", http_status_code=403,
                              expected_params=ASSUME_NEW_ACCOUNT)
    sts_stub.add_response("assume_role", ASSUMED, ASSUME_NEW_ACCOUNT)
    with stub, sts_stub:
        rc, result = stubbed(organizations=client, sts=sts)
        stub.assert_no_pending_responses()
        sts_stub.assert_no_pending_responses()
    assert rc == 0 and result["environment_accounts"]["dev"]["account_id"] == "222222222222"


def test_a_new_account_that_stays_closed_is_reported_with_its_path(fast_access_waiter, stubbed):
    """The wait is bounded: a role still refused after the last attempt stops the run with
    the account's config path, and nothing more is done to the account."""
    client, stub = stubbed_client()
    _adopted_creation(stub)
    sts, sts_stub = stubbed_sts()
    for unused in range(3):
        sts_stub.add_client_error("assume_role", service_error_code="AccessDenied", http_status_code=403,
                                  expected_params=ASSUME_NEW_ACCOUNT)
    with stub, sts_stub:
        rc, result = stubbed(organizations=client, sts=sts)
    sts_stub.assert_no_pending_responses()
    message = result["msg"]
    assert rc == 1
    assert message.startswith("config.accounts.dev: the new account 222222222222 was created, but its role "
                              "arn:aws:iam::222222222222:role/OrganizationAccountAccessRole could not be assumed")
    assert "Max attempts exceeded" in message


def test_an_interrupted_creation_is_adopted_not_repeated(stubbed):
    client, stub = stubbed_client()
    _existing_organization(stub)
    stub.add_response("list_create_account_status", {"CreateAccountStatuses": [
        {"Id": "car-0123456789abcdef", "AccountName": "dev", "State": "IN_PROGRESS"}]}, {"States": ["IN_PROGRESS"]})
    # no create_account: the waiter polls the request the interrupted run started
    stub.add_response("describe_create_account_status", {"CreateAccountStatus": {
        "Id": "car-0123456789abcdef", "AccountName": "dev", "State": "SUCCEEDED", "AccountId": "222222222222"}},
        {"CreateAccountRequestId": "car-0123456789abcdef"})
    stub.add_response("describe_create_account_status", {"CreateAccountStatus": {
        "Id": "car-0123456789abcdef", "AccountName": "dev", "State": "SUCCEEDED", "AccountId": "222222222222"}},
        {"CreateAccountRequestId": "car-0123456789abcdef"})
    _described(stub, "AWS+dev@example.com")  # e-mails compare case-insensitively
    stub.add_response("move_account", {}, {"AccountId": "222222222222", "SourceParentId": "r-ab12",
                                           "DestinationParentId": "ou-ab12-11111111"})
    stub.add_response("list_tags_for_resource", {"Tags": []}, {"ResourceId": "222222222222"})
    stub.add_response("tag_resource", {}, {"ResourceId": "222222222222", "Tags": ANY})
    sts, sts_stub = stubbed_sts()
    sts_stub.add_response("assume_role", ASSUMED, ASSUME_NEW_ACCOUNT)
    with stub, sts_stub:
        rc, result = stubbed(organizations=client, sts=sts)
        stub.assert_no_pending_responses()
    assert rc == 0 and result["environment_accounts"]["dev"]["account_id"] == "222222222222"


def test_an_in_flight_creation_for_another_email_is_not_adopted(stubbed):
    """Adoption is by account name; the e-mail the creation was for must be this account's,
    or the run stops before moving or tagging someone else's account."""
    client, stub = stubbed_client()
    _existing_organization(stub)
    stub.add_response("list_create_account_status", {"CreateAccountStatuses": [
        {"Id": "car-0123456789abcdef", "AccountName": "dev", "State": "IN_PROGRESS"}]}, {"States": ["IN_PROGRESS"]})
    for unused in range(2):
        stub.add_response("describe_create_account_status", {"CreateAccountStatus": {
            "Id": "car-0123456789abcdef", "AccountName": "dev", "State": "SUCCEEDED", "AccountId": "222222222222"}},
            {"CreateAccountRequestId": "car-0123456789abcdef"})
    _described(stub, "someone-else@example.com")
    with stub:
        rc, result = stubbed(organizations=client)
    stub.assert_no_pending_responses()
    assert rc == 1 and result["msg"] == (
        "config.accounts.dev.email: a creation of an account named dev, found in progress, made account "
        "222222222222 for someone-else@example.com, not aws+dev@example.com; give this account another name or "
        "fix its e-mail")


def test_a_failed_creation_names_the_account_and_the_reason(stubbed):
    client, stub = stubbed_client()
    _existing_organization(stub)
    stub.add_response("list_create_account_status", {"CreateAccountStatuses": []}, {"States": ["IN_PROGRESS"]})
    stub.add_response("create_account", {"CreateAccountStatus": {"Id": "car-0123456789abcdef", "State": "IN_PROGRESS"}},
                      {"Email": "aws+dev@example.com", "AccountName": "dev", "RoleName": "OrganizationAccountAccessRole",
                       "IamUserAccessToBilling": "DENY", "Tags": ANY})
    failed = {"CreateAccountStatus": {"Id": "car-0123456789abcdef", "State": "FAILED",
                                      "FailureReason": "EMAIL_ALREADY_EXISTS"}}
    stub.add_response("describe_create_account_status", failed, {"CreateAccountRequestId": "car-0123456789abcdef"})
    stub.add_response("describe_create_account_status", failed, {"CreateAccountRequestId": "car-0123456789abcdef"})
    with stub:
        rc, result = stubbed(organizations=client)
    assert rc == 1 and result["msg"] == "config.accounts.dev.email: account creation failed: EMAIL_ALREADY_EXISTS"


# --- Security Hub's and GuardDuty's organization configuration, through main() -------------------
#
# The module's real main() against moto with the stand-in launcher's corrections
# (tools/local_aws.py): they supply what moto 5.2.5 lacks here (the delegated administrator of
# securityhub.amazonaws.com, Security Hub's ListOrganizationAdminAccounts, GuardDuty's
# Describe/UpdateOrganizationConfiguration). The real API shapes of those calls are checked
# with Stubber in test_organization_services.py.

SECURITY = dict(accounts={"security": {"email": "aws+sec@example.com", "organizational_unit": "Security"}},
                allowed_regions=["eu-west-1"], security_account="security", organization_trail=False)


@pytest.fixture(name="security_aws")
def security_aws_fixture(stand_in_corrections, aws, fast_access_waiter):
    yield


def run_security(capsys, check_mode=False, **overrides):
    args = {"config": dict(SECURITY, **overrides)}
    if check_mode:
        args["_ansible_check_mode"] = True
    return run_module(capsys, module_under_test.main, args)


def _security_account_client(service, account_id):
    credentials = boto3.client("sts", region_name="eu-west-1").assume_role(
        RoleArn="arn:aws:iam::%s:role/OrganizationAccountAccessRole" % account_id,
        RoleSessionName="test")["Credentials"]
    return boto3.client(service, region_name="eu-west-1", aws_access_key_id=credentials["AccessKeyId"],
                        aws_secret_access_key=credentials["SecretAccessKey"],
                        aws_session_token=credentials["SessionToken"])


def test_security_services_organization_configuration_converges_once(security_aws, capsys, sent, api_calls):
    """Check mode on nothing plans it; a converge switches Security Hub and a GuardDuty
    detector on in the security account, tagged, and sets both to auto-enable new accounts;
    then a re-run and check mode only read."""
    rc, planned = run_security(capsys, check_mode=True)
    assert rc == 0 and planned["changed"] and writes(api_calls) == []
    wanted = {"securityhub": {"eu-west-1": {"enabled": True, "auto_enable": True, "auto_enable_standards": "DEFAULT"}},
              "guardduty": {"eu-west-1": {"detector_id": UNKNOWN,
                                          "auto_enable_organization_members": "NEW"}}}
    assert planned["diff"]["after"]["security_services"]["organization_configuration"] == wanted

    rc, result = run_security(capsys)
    assert rc == 0 and result["changed"], result.get("msg")
    security = result["accounts"]["security"]["id"]
    configured = result["diff"]["after"]["security_services"]["organization_configuration"]
    detector = configured["guardduty"]["eu-west-1"]["detector_id"]
    assert configured == dict(wanted, guardduty={"eu-west-1": {"detector_id": detector,
                                                               "auto_enable_organization_members": "NEW"}})
    assert result["diff"]["before"]["security_services"]["organization_configuration"] == {
        "securityhub": {"eu-west-1": None}, "guardduty": {"eu-west-1": None}}
    (create_detector,) = sent["CreateDetector"]
    assert create_detector["ClientToken"] and create_detector["Tags"] == {MANAGED_TAG: "true"}
    assert sent["EnableSecurityHub"] == [{"EnableDefaultStandards": True, "Tags": {MANAGED_TAG: "true"}}]
    assert {"DetectorId": detector, "AutoEnableOrganizationMembers": "NEW"} in sent["UpdateOrganizationConfiguration"]
    assert _security_account_client("securityhub", security).describe_organization_configuration()["AutoEnable"]
    assert _security_account_client("guardduty", security).list_detectors()["DetectorIds"] == [detector]

    api_calls.clear()
    rc, again = run_security(capsys)
    assert rc == 0 and not again["changed"] and writes(api_calls) == []
    assert again["diff"]["before"]["security_services"] == again["diff"]["after"]["security_services"]
    rc, check = run_security(capsys, check_mode=True)
    assert rc == 0 and not check["changed"]


def test_auto_enable_change_is_one_update_per_service(security_aws, capsys, api_calls):
    """`all` enables GuardDuty for existing accounts too; Security Hub's flag stays on; `none`
    turns both off. Only UpdateOrganizationConfiguration is written."""
    run_security(capsys)
    api_calls.clear()
    rc, result = run_security(capsys, security_services={"auto_enable": "all"})
    assert rc == 0 and result["changed"]
    assert writes(api_calls) == ["UpdateOrganizationConfiguration"]
    before = result["diff"]["before"]["security_services"]["organization_configuration"]
    after = result["diff"]["after"]["security_services"]["organization_configuration"]
    assert before["guardduty"]["eu-west-1"]["auto_enable_organization_members"] == "NEW"
    assert after["guardduty"]["eu-west-1"]["auto_enable_organization_members"] == "ALL"
    api_calls.clear()
    rc, result = run_security(capsys, security_services={"auto_enable": "none", "auto_enable_standards": "none"})
    assert rc == 0 and result["changed"]
    assert writes(api_calls) == ["UpdateOrganizationConfiguration"] * 2
    rc, result = run_security(capsys, security_services={"auto_enable": "none", "auto_enable_standards": "none"})
    assert rc == 0 and not result["changed"]


def test_a_bad_auto_enable_is_refused_with_its_path_before_any_call(security_aws, capsys, api_calls):
    rc, result = run_security(capsys, security_services={"auto_enable": "always"})
    assert rc == 1 and api_calls == []
    assert "config.security_services.auto_enable: 'always' is not one of new, all, none" in result["msg"]


# --- a new security account's services, still being activated -------------------------------------

@pytest.fixture(name="inactive_services")
def inactive_services_fixture(monkeypatch):
    """Calls answering as a new account's services do while AWS activates them:
    ``inactive_services("DescribeHub", "SubscriptionRequiredException", times=2)`` (``times=None``: every
    call); the refused calls are returned by operation. The settling retry without its pauses."""
    from botocore.exceptions import ClientError

    from ansible_collections.amazon.aws.plugins.module_utils import cloud

    monkeypatch.setattr(cloud.time, "sleep", lambda seconds: None)
    make_api_call = botocore.client.BaseClient._make_api_call
    pending = {}
    refused = collections.defaultdict(int)

    def refusing(client, operation, params):
        code, times = pending.get(operation, (None, 0))
        if code and times != 0:
            pending[operation] = (code, None if times is None else times - 1)
            refused[operation] += 1
            raise ClientError({"Error": {"Code": code, "Message": "The AWS Access Key Id needs a subscription "
                                         "for the service"}, "ResponseMetadata": {"HTTPStatusCode": 400}}, operation)
        return make_api_call(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", refusing)

    def arm(operation, code, times=None):
        pending[operation] = (code, times)
        return refused

    return arm


def test_a_new_security_accounts_services_are_waited_for(security_aws, capsys, inactive_services):
    """The security account made by this run: Security Hub and GuardDuty there answer
    SubscriptionRequiredException / OptInRequired for a while; that is waited out, bounded."""
    inactive_services("DescribeHub", "SubscriptionRequiredException", times=2)
    refused = inactive_services("ListDetectors", "OptInRequired", times=1)
    rc, result = run_security(capsys)
    assert rc == 0, result.get("msg")
    assert refused == {"DescribeHub": 2, "ListDetectors": 1}
    configured = result["diff"]["after"]["security_services"]["organization_configuration"]
    assert configured["securityhub"]["eu-west-1"]["auto_enable"]
    assert configured["guardduty"]["eu-west-1"]["detector_id"] != UNKNOWN


def test_a_new_security_account_whose_services_stay_inactive_is_reported_with_its_path(
        security_aws, capsys, inactive_services, api_calls):
    """The wait is bounded: still refused after it, the run stops with the account's path,
    before anything is written in the account."""
    refused = inactive_services("DescribeHub", "SubscriptionRequiredException")
    rc, result = run_security(capsys)
    assert rc == 1 and refused["DescribeHub"] == 8  # the settling retry's bound: eight attempts
    assert re.match(r"config\.accounts\.security: the new account [0-9]{12} still answered "
                    r"SubscriptionRequiredException from securityhub in eu-west-1 after about two minutes", result["msg"])
    assert "EnableSecurityHub" not in writes(api_calls) and "CreateDetector" not in writes(api_calls)


def test_an_existing_security_account_is_not_waited_for(security_aws, capsys, inactive_services):
    """The wait is for a new account only: an account that existed before the run and answers
    SubscriptionRequiredException is reported at once, as any other refusal."""
    assert run_security(capsys)[0] == 0
    refused = inactive_services("DescribeHub", "SubscriptionRequiredException")
    rc, result = run_security(capsys)
    assert rc == 1 and refused == {"DescribeHub": 1}
    assert result["msg"].startswith("Could not converge the organization")
