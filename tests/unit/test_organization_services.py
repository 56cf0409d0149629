# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""organization_services against moto, and against botocore's Stubber where moto
falls short.

moto 5.2.5, measured: RegisterDelegatedAdministrator accepts only
config-multiaccountsetup, guardduty, access-analyzer, macie, servicecatalog and ssm
(securityhub.amazonaws.com and config.amazonaws.com answer InvalidInputException),
list calls never paginate, CreateTrail accepts IsOrganizationTrail without checking
trusted access or the bucket policy, and DescribeTrails ignores trailNameList.  Those
parts run through Stubber, which checks every request against the botocore model.

Clients are wrapped in amazon.aws's RetryingBotoClientWrapper, as
``module.client(..., retry_decorator=...)`` does, so the code under test calls them
with ``aws_retry=True`` exactly as in the module.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from ansible_collections.amazon.aws.plugins.module_utils.policy import compare_policies
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry, RetryingBotoClientWrapper
from ansible_collections.mlops.platform.plugins.module_utils import aws as aws_utils
from ansible_collections.mlops.platform.plugins.module_utils import organization_services as services
from ansible_collections.mlops.platform.plugins.module_utils.aws import AWSResourceError
from ansible_collections.mlops.platform.plugins.module_utils.s3_policy import PUBLIC_ACCESS_BLOCK

RETRY = AWSRetry.jittered_backoff(retries=2, delay=0)
READ_PREFIXES = ("Describe", "Get", "Head", "List")
MOTO_PRINCIPALS = ["guardduty.amazonaws.com", "config-multiaccountsetup.amazonaws.com"]
TRAIL = "org-trail"
TAGS = {"platform": "mlops", "owner": "security"}


def wrapped(client):
    return RetryingBotoClientWrapper(client, RETRY)


class CallLog:
    """Names of the API operations the given clients make, in order."""

    def __init__(self, *clients):
        self.operations = []
        for client in clients:
            client.meta.events.register("before-call.*.*", self._record)

    def _record(self, model, **kwargs):
        self.operations.append(model.name)

    def take(self):
        operations, self.operations = self.operations, []
        return operations


def tag_dict(tag_list):
    return dict((tag["Key"], tag["Value"]) for tag in tag_list)


def writes(operations):
    return [operation for operation in operations if not operation.startswith(READ_PREFIXES)]


@pytest.fixture(name="aws")
def aws_fixture(monkeypatch):
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.setenv(variable, "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield


@pytest.fixture(name="org")
def org_fixture(aws):
    client = boto3.client("organizations", region_name="us-east-1")
    organization = client.create_organization(FeatureSet="ALL")["Organization"]
    member = client.create_account(AccountName="security", Email="security@example.com")["CreateAccountStatus"]["AccountId"]
    return {"client": client, "id": organization["Id"], "management": organization["MasterAccountId"], "member": member}


# ------------------------------------------------------------- pure parts


def test_trail_arn_partition():
    assert services.organization_trail_arn("eu-west-1", "111122223333", "t1") == "arn:aws:cloudtrail:eu-west-1:111122223333:trail/t1"
    assert services.organization_trail_arn("cn-north-1", "111122223333", "t1").startswith("arn:aws-cn:cloudtrail:")
    assert services.organization_trail_arn("us-gov-west-1", "111122223333", "t1").startswith("arn:aws-us-gov:cloudtrail:")


def test_trail_bucket_policy():
    arn = "arn:aws:cloudtrail:us-east-1:111122223333:trail/org-trail"
    policy = services.trail_bucket_policy("logs", "111122223333", "o-abc123", arn)
    by_sid = dict((statement["Sid"], statement) for statement in policy["Statement"])
    assert policy["Version"] == "2012-10-17"
    assert set(by_sid) == set(services.MANAGED_SIDS)

    acl = by_sid["AWSCloudTrailAclCheck"]
    assert (acl["Effect"], acl["Action"], acl["Resource"]) == ("Allow", "s3:GetBucketAcl", "arn:aws:s3:::logs")
    assert acl["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    assert acl["Condition"] == {"StringEquals": {"aws:SourceArn": arn}}

    expected_write = {"StringEquals": {"aws:SourceArn": arn, "s3:x-amz-acl": "bucket-owner-full-control"}}
    for sid, prefix in (("AWSCloudTrailWrite", "111122223333"), ("AWSCloudTrailOrganizationWrite", "o-abc123")):
        statement = by_sid[sid]
        assert (statement["Effect"], statement["Action"]) == ("Allow", "s3:PutObject")
        assert statement["Resource"] == "arn:aws:s3:::logs/AWSLogs/%s/*" % prefix
        assert statement["Condition"] == expected_write

    deny = by_sid["DenyInsecureTransport"]
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", "s3:*")
    assert deny["Resource"] == ["arn:aws:s3:::logs", "arn:aws:s3:::logs/*"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    json.dumps(policy)


def test_trail_bucket_policy_follows_partition():
    policy = services.trail_bucket_policy("logs", "1", "o-1", "arn:aws-cn:cloudtrail:cn-north-1:1:trail/t1")
    assert policy["Statement"][0]["Resource"] == "arn:aws-cn:s3:::logs"


def test_merged_bucket_policy_keeps_foreign_statements_and_replaces_ours():
    required = services.trail_bucket_policy("logs", "1", "o-1", "arn:aws:cloudtrail:us-east-1:1:trail/t1")
    foreign = {"Sid": "AuditorsRead", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::2:root"}, "Action": "s3:GetObject", "Resource": "*"}
    stale_ours = dict(required["Statement"][0], Resource="arn:aws:s3:::elsewhere")
    merged = services.merged_bucket_policy({"Version": "2012-10-17", "Statement": [foreign, stale_ours]}, required)
    assert merged["Statement"] == required["Statement"] + [foreign]
    assert services.merged_bucket_policy(None, required) == required


# --------------------------------------------- delegated administrators, moto


def _delegated(org):
    services_list = org["client"].list_delegated_services_for_account(AccountId=org["member"])["DelegatedServices"]
    return sorted(service["ServicePrincipal"] for service in services_list)


def _trusted(org):
    return sorted(entry["ServicePrincipal"] for entry in org["client"].list_aws_service_access_for_organization()["EnabledServicePrincipals"])


def test_delegated_administrators_converge_then_noop(org):
    log = CallLog(org["client"])
    orgs = wrapped(org["client"])

    changed, before, after = services.converge_delegated_administrators(orgs, org["member"], MOTO_PRINCIPALS, check_mode=False)
    assert changed
    assert before == {"account_id": org["member"], "trusted_service_access": [], "delegated_services": [], "unmanaged": []}
    assert after == {
        "account_id": org["member"],
        "trusted_service_access": sorted(MOTO_PRINCIPALS),
        "delegated_services": sorted(MOTO_PRINCIPALS),
        "unmanaged": [],
    }
    assert writes(log.take()) == ["EnableAWSServiceAccess"] * 2 + ["RegisterDelegatedAdministrator"] * 2
    assert _delegated(org) == sorted(MOTO_PRINCIPALS)
    assert _trusted(org) == sorted(MOTO_PRINCIPALS)
    log.take()

    for check_mode in (False, True):
        changed, before, after = services.converge_delegated_administrators(orgs, org["member"], MOTO_PRINCIPALS, check_mode=check_mode)
        assert not changed
        assert before["delegated_services"] == after["delegated_services"]
        assert log.take() == ["ListAWSServiceAccessForOrganization", "ListDelegatedServicesForAccount"]


def test_delegated_administrators_check_mode_from_empty(org):
    log = CallLog(org["client"])
    changed, before, after = services.converge_delegated_administrators(wrapped(org["client"]), org["member"], MOTO_PRINCIPALS, check_mode=True)
    assert changed
    assert before["delegated_services"] == [] and after["delegated_services"] == sorted(MOTO_PRINCIPALS)
    assert log.take() == ["ListAWSServiceAccessForOrganization", "ListDelegatedServicesForAccount"]
    assert _trusted(org) == []
    with pytest.raises(org["client"].exceptions.AccountNotRegisteredException):
        _delegated(org)


def test_delegated_administrators_repair_only_the_drift(org):
    orgs = wrapped(org["client"])
    services.converge_delegated_administrators(orgs, org["member"], MOTO_PRINCIPALS, check_mode=False)
    org["client"].deregister_delegated_administrator(AccountId=org["member"], ServicePrincipal="guardduty.amazonaws.com")
    org["client"].disable_aws_service_access(ServicePrincipal="config-multiaccountsetup.amazonaws.com")
    log = CallLog(org["client"])

    assert services.converge_delegated_administrators(orgs, org["member"], MOTO_PRINCIPALS, check_mode=True)[0]
    assert not writes(log.take())

    changed, before, after = services.converge_delegated_administrators(orgs, org["member"], MOTO_PRINCIPALS, check_mode=False)
    assert changed
    assert before["delegated_services"] == ["config-multiaccountsetup.amazonaws.com"]
    assert before["trusted_service_access"] == ["guardduty.amazonaws.com"]
    assert writes(log.take()) == ["EnableAWSServiceAccess", "RegisterDelegatedAdministrator"]
    assert _delegated(org) == sorted(MOTO_PRINCIPALS)
    assert _trusted(org) == sorted(MOTO_PRINCIPALS)


def test_delegated_administrators_report_unmanaged_and_leave_them(org):
    orgs = wrapped(org["client"])
    services.converge_delegated_administrators(orgs, org["member"], MOTO_PRINCIPALS + ["macie.amazonaws.com"], check_mode=False)
    log = CallLog(org["client"])

    changed, before, after = services.converge_delegated_administrators(orgs, org["member"], MOTO_PRINCIPALS, check_mode=False)
    assert not changed
    assert after["unmanaged"] == ["macie.amazonaws.com"]
    assert before["delegated_services"] == after["delegated_services"]
    assert not writes(log.take())
    assert "macie.amazonaws.com" in _delegated(org)


# ------------------------------------------ delegated administrators, Stubber


STUB_ACCOUNT = "210987654321"
STUB_PRINCIPALS = ["securityhub.amazonaws.com", "guardduty.amazonaws.com", "config.amazonaws.com", "config-multiaccountsetup.amazonaws.com"]


def _stubbed_organizations():
    client = boto3.client("organizations", region_name="us-east-1", aws_access_key_id="stub", aws_secret_access_key="stub")
    return client, Stubber(client)


def _stub_reads(stubber, enabled, delegated):
    """Both list calls, split over two pages each, as the real API may answer."""
    enabled_entries = [{"ServicePrincipal": principal} for principal in enabled]
    stubber.add_response("list_aws_service_access_for_organization", {"EnabledServicePrincipals": enabled_entries[:1], "NextToken": "page-2"}, {})
    stubber.add_response("list_aws_service_access_for_organization", {"EnabledServicePrincipals": enabled_entries[1:]}, {"NextToken": "page-2"})
    if delegated is None:
        stubber.add_client_error(
            "list_delegated_services_for_account",
            service_error_code="AccountNotRegisteredException",
            http_status_code=400,
            expected_params={"AccountId": STUB_ACCOUNT},
        )
        return
    delegated_entries = [{"ServicePrincipal": principal} for principal in delegated]
    stubber.add_response(
        "list_delegated_services_for_account", {"DelegatedServices": delegated_entries[:1], "NextToken": "next"}, {"AccountId": STUB_ACCOUNT}
    )
    stubber.add_response(
        "list_delegated_services_for_account", {"DelegatedServices": delegated_entries[1:]}, {"AccountId": STUB_ACCOUNT, "NextToken": "next"}
    )


def test_stubbed_delegated_administrators_from_empty():
    client, stubber = _stubbed_organizations()
    _stub_reads(stubber, ["sso.amazonaws.com", "guardduty.amazonaws.com"], None)
    for principal in STUB_PRINCIPALS:
        if principal != "guardduty.amazonaws.com":
            stubber.add_response("enable_aws_service_access", {}, {"ServicePrincipal": principal})
    for principal in STUB_PRINCIPALS:
        stubber.add_response("register_delegated_administrator", {}, {"AccountId": STUB_ACCOUNT, "ServicePrincipal": principal})
    with stubber:
        changed, before, after = services.converge_delegated_administrators(wrapped(client), STUB_ACCOUNT, STUB_PRINCIPALS, check_mode=False)
    stubber.assert_no_pending_responses()
    assert changed
    assert before["trusted_service_access"] == ["guardduty.amazonaws.com"]
    assert after["delegated_services"] == sorted(STUB_PRINCIPALS)


@pytest.mark.parametrize("check_mode", [False, True])
def test_stubbed_delegated_administrators_converged(check_mode):
    client, stubber = _stubbed_organizations()
    _stub_reads(stubber, ["sso.amazonaws.com"] + STUB_PRINCIPALS, STUB_PRINCIPALS + ["macie.amazonaws.com"])
    with stubber:
        changed, before, after = services.converge_delegated_administrators(wrapped(client), STUB_ACCOUNT, STUB_PRINCIPALS, check_mode=check_mode)
    stubber.assert_no_pending_responses()
    assert not changed
    assert after["unmanaged"] == ["macie.amazonaws.com"]
    assert before["delegated_services"] == after["delegated_services"]


def test_stubbed_delegated_administrators_check_mode_from_empty():
    client, stubber = _stubbed_organizations()
    _stub_reads(stubber, ["sso.amazonaws.com"], None)
    with stubber:
        changed, before, after = services.converge_delegated_administrators(wrapped(client), STUB_ACCOUNT, STUB_PRINCIPALS, check_mode=True)
    stubber.assert_no_pending_responses()
    assert changed
    assert before["delegated_services"] == []


# ------------------------------------- per-region service administrators
#
# GuardDuty runs against moto (it has both calls); Security Hub through Stubber, since
# moto 5.2.5 lacks ListOrganizationAdminAccounts for it (the stand-in launcher supplies
# it, see tools/local_aws.py; unit tests run moto in process, without the launcher).

REGIONS = ("us-east-1", "eu-west-1")


def _guardduty_clients(regions=REGIONS):
    return dict((("guardduty", region), wrapped(boto3.client("guardduty", region_name=region))) for region in regions)


def _guardduty_admins(region):
    return boto3.client("guardduty", region_name=region).list_organization_admin_accounts()["AdminAccounts"]


def test_regional_administrators_converge_then_noop(org):
    """GuardDuty in two regions: one designation per region, then a run that only reads."""
    clients = _guardduty_clients()
    log = CallLog(*[client.client for client in clients.values()])
    changed, before, after = services.converge_regional_administrators(clients, org["member"], check_mode=False)
    assert changed
    assert before == {"guardduty": {"eu-west-1": None, "us-east-1": None}}
    assert after == {"guardduty": {"eu-west-1": org["member"], "us-east-1": org["member"]}}
    assert writes(log.take()) == ["EnableOrganizationAdminAccount"] * 2
    for region in REGIONS:
        assert _guardduty_admins(region) == [{"AdminAccountId": org["member"], "AdminStatus": "ENABLED"}]

    changed, before, after = services.converge_regional_administrators(clients, org["member"], check_mode=False)
    assert not changed and before == after
    assert log.take() == ["ListOrganizationAdminAccounts"] * 2
    changed, unused_before, unused_after = services.converge_regional_administrators(clients, org["member"], check_mode=True)
    assert not changed


def test_regional_administrators_check_mode_from_empty_only_reads(org):
    clients = _guardduty_clients()
    log = CallLog(*[client.client for client in clients.values()])
    changed, before, after = services.converge_regional_administrators(clients, org["member"], check_mode=True)
    assert changed and after["guardduty"]["eu-west-1"] == org["member"]
    assert writes(log.take()) == []
    assert _guardduty_admins("eu-west-1") == []


def test_regional_administrators_repair_only_the_missing_region(org):
    boto3.client("guardduty", region_name="us-east-1").enable_organization_admin_account(AdminAccountId=org["member"])
    clients = _guardduty_clients()
    log = CallLog(*[client.client for client in clients.values()])
    changed, before, unused_after = services.converge_regional_administrators(clients, org["member"], check_mode=False)
    assert changed and before == {"guardduty": {"eu-west-1": None, "us-east-1": org["member"]}}
    assert writes(log.take()) == ["EnableOrganizationAdminAccount"]
    assert _guardduty_admins("eu-west-1") == [{"AdminAccountId": org["member"], "AdminStatus": "ENABLED"}]


def _stubbed_securityhub(region):
    client = boto3.client("securityhub", region_name=region, aws_access_key_id="stub", aws_secret_access_key="stub")
    return client, Stubber(client)


def test_stubbed_security_hub_designated_in_each_region_over_pages():
    """Security Hub's listing, over two pages as the real API may answer, then one
    designation in the region that lacks it."""
    east, east_stub = _stubbed_securityhub("us-east-1")
    west, west_stub = _stubbed_securityhub("eu-west-1")
    east_stub.add_response("list_organization_admin_accounts", {"AdminAccounts": [], "NextToken": "page-2"}, {})
    east_stub.add_response("list_organization_admin_accounts",
                           {"AdminAccounts": [{"AccountId": STUB_ACCOUNT, "Status": "ENABLED"}]}, {"NextToken": "page-2"})
    west_stub.add_response("list_organization_admin_accounts", {"AdminAccounts": []}, {})
    west_stub.add_response("enable_organization_admin_account", {"AdminAccountId": STUB_ACCOUNT}, {"AdminAccountId": STUB_ACCOUNT})
    clients = {("securityhub", "us-east-1"): wrapped(east), ("securityhub", "eu-west-1"): wrapped(west)}
    with east_stub, west_stub:
        changed, before, after = services.converge_regional_administrators(clients, STUB_ACCOUNT, check_mode=False)
    east_stub.assert_no_pending_responses()
    west_stub.assert_no_pending_responses()
    assert changed
    assert before == {"securityhub": {"eu-west-1": None, "us-east-1": STUB_ACCOUNT}}
    assert after == {"securityhub": {"eu-west-1": STUB_ACCOUNT, "us-east-1": STUB_ACCOUNT}}


def test_stubbed_security_hub_being_removed_is_reported_not_raced():
    """Our account's designation being removed (DISABLE_IN_PROGRESS): AWS would refuse a new
    designation until the removal ends, so the run stops and says so, writing nothing."""
    client, stub = _stubbed_securityhub("us-east-1")
    stub.add_response("list_organization_admin_accounts",
                      {"AdminAccounts": [{"AccountId": STUB_ACCOUNT, "Status": "DISABLE_IN_PROGRESS"}]}, {})
    with stub, pytest.raises(services.AdministratorConflict) as error:
        services.converge_regional_administrators(
            {("securityhub", "us-east-1"): wrapped(client)}, STUB_ACCOUNT, check_mode=False)
    stub.assert_no_pending_responses()
    assert str(error.value) == ("securityhub in us-east-1: the designation of account %s is being removed "
                                "(DISABLE_IN_PROGRESS); re-run once the removal has finished" % STUB_ACCOUNT)


def test_stubbed_designation_refused_while_settling_is_retried():
    """Right after the first designation, AWS refuses the next region's with
    InvalidInputException for a while; clients made with the propagation codes retry it."""
    client, stub = _stubbed_securityhub("eu-west-1")
    stub.add_response("list_organization_admin_accounts", {"AdminAccounts": []}, {})
    stub.add_client_error("enable_organization_admin_account", service_error_code="InvalidInputException",
                          http_status_code=400, expected_params={"AdminAccountId": STUB_ACCOUNT})
    stub.add_response("enable_organization_admin_account", {"AdminAccountId": STUB_ACCOUNT}, {"AdminAccountId": STUB_ACCOUNT})
    settling = AWSRetry.jittered_backoff(retries=2, delay=0, catch_extra_error_codes=services.ADMIN_PROPAGATION_ERRORS)
    with stub:
        changed, unused_before, unused_after = services.converge_regional_administrators(
            {("securityhub", "eu-west-1"): RetryingBotoClientWrapper(client, settling)}, STUB_ACCOUNT, check_mode=False)
    stub.assert_no_pending_responses()
    assert changed


def test_stubbed_another_administrator_stops_the_run_before_any_write():
    """Another account administers Security Hub in eu-west-1: nothing is designated
    anywhere (every region is read first), and the error names service, region and account."""
    east, east_stub = _stubbed_securityhub("us-east-1")
    west, west_stub = _stubbed_securityhub("eu-west-1")
    east_stub.add_response("list_organization_admin_accounts", {"AdminAccounts": []}, {})
    west_stub.add_response("list_organization_admin_accounts",
                           {"AdminAccounts": [{"AccountId": "999999999999", "Status": "ENABLED"}]}, {})
    clients = {("securityhub", "us-east-1"): wrapped(east), ("securityhub", "eu-west-1"): wrapped(west)}
    with east_stub, west_stub, pytest.raises(services.AdministratorConflict) as error:
        services.converge_regional_administrators(clients, STUB_ACCOUNT, check_mode=False)
    assert str(error.value).startswith("securityhub in eu-west-1 is administered by account 999999999999 (ENABLED)")
    # eu-west-1 is read first (sorted) and stops the run: us-east-1 is not even read, nothing is written
    west_stub.assert_no_pending_responses()
    with pytest.raises(AssertionError):
        east_stub.assert_no_pending_responses()


def test_stubbed_trusted_access_alone():
    """CloudTrail's trusted access, without a delegated administrator."""
    client, stubber = _stubbed_organizations()
    stubber.add_response("list_aws_service_access_for_organization", {"EnabledServicePrincipals": []}, {})
    stubber.add_response("enable_aws_service_access", {}, {"ServicePrincipal": "cloudtrail.amazonaws.com"})
    with stubber:
        changed, before, after = services.converge_trusted_service_access(wrapped(client), ["cloudtrail.amazonaws.com"], check_mode=False)
    stubber.assert_no_pending_responses()
    assert changed
    assert (before, after) == ({"trusted_service_access": []}, {"trusted_service_access": ["cloudtrail.amazonaws.com"]})


# ------------- organization configuration of Security Hub and GuardDuty, Stubber
#
# moto 5.2.5 has no GuardDuty Describe/UpdateOrganizationConfiguration (the stand-in
# launcher supplies them, tools/local_aws.py); both services run here against the real
# request and response shapes.

DETECTOR = "12abc34d567e8fa901bc2d34e56789f0"
NEW_MEMBERS = {"auto_enable": "new", "auto_enable_standards": "default"}


def _stubbed(service):
    client = boto3.client(service, region_name="eu-west-1", aws_access_key_id="stub", aws_secret_access_key="stub")
    return client, Stubber(client)


def _no_client():
    raise AssertionError("no create expected")


def test_stubbed_guardduty_organization_configuration_from_nothing():
    """No detector: one CreateDetector with a ClientToken and the tags, then the
    organization configuration on that detector."""
    client, stub = _stubbed("guardduty")
    stub.add_response("list_detectors", {"DetectorIds": []}, {})
    stub.add_response("create_detector", {"DetectorId": DETECTOR},
                      {"Enable": True, "ClientToken": ANY, "Tags": TAGS})
    stub.add_response("update_organization_configuration", {},
                      {"DetectorId": DETECTOR, "AutoEnableOrganizationMembers": "NEW"})
    with stub:
        current = services.read_guardduty_organization(wrapped(client))
        changed, before, after = services.converge_guardduty_organization(
            wrapped(client), lambda: client, NEW_MEMBERS, TAGS, False, current)
    stub.assert_no_pending_responses()
    assert changed and before is None
    assert after == {"detector_id": DETECTOR, "auto_enable_organization_members": "NEW"}


@pytest.mark.parametrize("check_mode", [False, True])
def test_stubbed_guardduty_organization_configuration_converged_only_reads(check_mode):
    """An older answer without AutoEnableOrganizationMembers reads AutoEnable; a converged
    detector is a read-only run, in check mode too."""
    client, stub = _stubbed("guardduty")
    stub.add_response("list_detectors", {"DetectorIds": [DETECTOR]}, {})
    stub.add_response("describe_organization_configuration",
                      {"AutoEnable": True, "MemberAccountLimitReached": False}, {"DetectorId": DETECTOR})
    with stub:
        current = services.read_guardduty_organization(wrapped(client))
        changed, before, after = services.converge_guardduty_organization(
            wrapped(client), _no_client, NEW_MEMBERS, TAGS, check_mode, current)
    stub.assert_no_pending_responses()
    assert not changed and before == after == {"detector_id": DETECTOR, "auto_enable_organization_members": "NEW"}


def test_stubbed_guardduty_lost_create_detector_answer_adopts_the_detector(monkeypatch):
    """A CreateDetector whose answer is lost (a 503) is looked up before it is sent again."""
    monkeypatch.setattr(aws_utils.time, "sleep", lambda seconds: None)
    client, stub = _stubbed("guardduty")
    stub.add_response("list_detectors", {"DetectorIds": []}, {})
    stub.add_client_error("create_detector", service_error_code="ServiceUnavailableException", http_status_code=503)
    stub.add_response("list_detectors", {"DetectorIds": [DETECTOR]}, {})
    stub.add_response("update_organization_configuration", {},
                      {"DetectorId": DETECTOR, "AutoEnableOrganizationMembers": "ALL"})
    with stub:
        current = services.read_guardduty_organization(wrapped(client))
        changed, unused_before, after = services.converge_guardduty_organization(
            wrapped(client), lambda: client, dict(NEW_MEMBERS, auto_enable="all"), TAGS, False, current)
    stub.assert_no_pending_responses()
    assert changed and after["detector_id"] == DETECTOR


def test_stubbed_security_hub_enabled_then_configured():
    """Security Hub off in the administrator account: EnableSecurityHub (tags, default
    standards as configured), then UpdateOrganizationConfiguration."""
    client, stub = _stubbed("securityhub")
    stub.add_client_error("describe_hub", service_error_code="InvalidAccessException", http_status_code=401)
    stub.add_response("enable_security_hub", {}, {"EnableDefaultStandards": False, "Tags": TAGS})
    stub.add_response("update_organization_configuration", {}, {"AutoEnable": True, "AutoEnableStandards": "NONE"})
    settings = dict(NEW_MEMBERS, auto_enable_standards="none")
    with stub:
        current = services.read_security_hub_organization(wrapped(client))
        changed, before, after = services.converge_security_hub_organization(
            wrapped(client), lambda: client, settings, TAGS, False, current)
    stub.assert_no_pending_responses()
    assert changed and before is None
    assert after == {"enabled": True, "auto_enable": True, "auto_enable_standards": "NONE"}


def test_stubbed_security_hub_converged_only_reads():
    client, stub = _stubbed("securityhub")
    stub.add_response("describe_hub", {"HubArn": "arn:aws:securityhub:eu-west-1:210987654321:hub/default"}, {})
    stub.add_response("describe_organization_configuration", {
        "AutoEnable": True, "AutoEnableStandards": "DEFAULT", "MemberAccountLimitReached": False,
        "OrganizationConfiguration": {"ConfigurationType": "LOCAL", "Status": "ENABLED"}}, {})
    with stub:
        current = services.read_security_hub_organization(wrapped(client))
        changed, before, after = services.converge_security_hub_organization(
            wrapped(client), _no_client, NEW_MEMBERS, TAGS, False, current)
    stub.assert_no_pending_responses()
    assert not changed and before == after


def test_stubbed_security_hub_central_configuration_is_not_overridden():
    """Central configuration decides auto-enable through its policies (and refuses
    AutoEnable): the converge stops before any write instead of fighting it."""
    client, stub = _stubbed("securityhub")
    stub.add_response("describe_hub", {"HubArn": "arn:aws:securityhub:eu-west-1:210987654321:hub/default"}, {})
    stub.add_response("describe_organization_configuration", {
        "AutoEnable": False, "AutoEnableStandards": "NONE",
        "OrganizationConfiguration": {"ConfigurationType": "CENTRAL", "Status": "ENABLED"}}, {})
    with stub, pytest.raises(services.CentralConfiguration):
        current = services.read_security_hub_organization(wrapped(client))
        services.converge_security_hub_organization(wrapped(client), _no_client, NEW_MEMBERS, TAGS, False, current)
    stub.assert_no_pending_responses()


# ------------------------------------------------------ organization trail


class TrailEnv:
    """The raw clients of one region, the call log and a converge shortcut."""

    def __init__(self, org, region):
        self.org = org
        self.region = region
        self.bucket = "org-trail-logs-" + region
        self.cloudtrail = boto3.client("cloudtrail", region_name=region)
        self.s3 = boto3.client("s3", region_name=region)
        self.log = CallLog(self.cloudtrail, self.s3)

    def converge(self, check_mode=False, tags=None):
        return services.converge_organization_trail(
            wrapped(self.cloudtrail),
            wrapped(self.s3),
            self.org["management"],
            self.org["id"],
            self.region,
            TRAIL,
            self.bucket,
            TAGS if tags is None else tags,
            check_mode=check_mode,
        )

    def trail(self):
        trails = [trail for trail in self.cloudtrail.describe_trails(includeShadowTrails=False)["trailList"] if trail["Name"] == TRAIL]
        return trails[0] if trails else None

    def expected_policy(self):
        arn = services.organization_trail_arn(self.region, self.org["management"], TRAIL)
        return services.trail_bucket_policy(self.bucket, self.org["management"], self.org["id"], arn)


@pytest.fixture(name="trail_env", params=["us-east-1", "eu-west-1"])
def trail_env_fixture(request, org):
    return TrailEnv(org, request.param)


NOOP_TRAIL_READS = [
    "ListTrails",
    "DescribeTrails",
    "GetTrailStatus",
    "ListTags",
    "HeadBucket",
    "GetBucketTagging",
    "GetBucketEncryption",
    "GetPublicAccessBlock",
    "GetBucketOwnershipControls",
    "GetBucketPolicy",
]
OWNERSHIP = {"mlops.platform/managed": "true"}


def test_trail_converge_from_empty(trail_env):
    changed, before, after = trail_env.converge()
    assert changed
    assert before == {"bucket": None, "trail": None}
    operations = trail_env.log.take()
    assert writes(operations) == [
        "CreateBucket",
        "PutPublicAccessBlock",
        "PutBucketOwnershipControls",
        "PutBucketEncryption",
        "PutBucketTagging",
        "PutBucketPolicy",
        "CreateTrail",
        "StartLogging",
    ]
    assert not [operation for operation in operations if "Object" in operation]

    s3 = trail_env.s3
    location = s3.get_bucket_location(Bucket=trail_env.bucket)["LocationConstraint"]
    assert location == (None if trail_env.region == "us-east-1" else trail_env.region)
    assert all(s3.get_public_access_block(Bucket=trail_env.bucket)["PublicAccessBlockConfiguration"].values())
    assert s3.get_bucket_ownership_controls(Bucket=trail_env.bucket)["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    rule = s3.get_bucket_encryption(Bucket=trail_env.bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert not compare_policies(json.loads(s3.get_bucket_policy(Bucket=trail_env.bucket)["Policy"]), trail_env.expected_policy())
    assert tag_dict(s3.get_bucket_tagging(Bucket=trail_env.bucket)["TagSet"]) == dict(TAGS, **OWNERSHIP)

    trail = trail_env.trail()
    assert trail["S3BucketName"] == trail_env.bucket
    assert trail["IsOrganizationTrail"] and trail["IsMultiRegionTrail"]
    assert trail["IncludeGlobalServiceEvents"] and trail["LogFileValidationEnabled"]
    assert trail["TrailARN"] == services.organization_trail_arn(trail_env.region, trail_env.org["management"], TRAIL)
    assert trail_env.cloudtrail.get_trail_status(Name=TRAIL)["IsLogging"]
    tags = trail_env.cloudtrail.list_tags(ResourceIdList=[trail["TrailARN"]])["ResourceTagList"][0]["TagsList"]
    assert tag_dict(tags) == TAGS
    assert after["trail"]["arn"] == trail["TrailARN"]


def test_trail_noop_runs_read_only(trail_env):
    trail_env.converge()
    trail_env.log.take()
    for check_mode in (False, True):
        changed, before, after = trail_env.converge(check_mode=check_mode)
        assert not changed
        assert before == after
        assert trail_env.log.take() == NOOP_TRAIL_READS


def test_trail_noop_without_tags_skips_the_trail_tag_read(trail_env):
    """The bucket's tags are read all the same: they say whether the bucket is ours."""
    trail_env.converge(tags={})
    trail_env.log.take()
    assert not trail_env.converge(tags={})[0]
    assert trail_env.log.take() == [operation for operation in NOOP_TRAIL_READS if operation != "ListTags"]


def test_trail_bucket_without_the_ownership_tag_is_refused(trail_env):
    trail_env.s3.create_bucket(Bucket=trail_env.bucket, **(
        {} if trail_env.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": trail_env.region}}))
    trail_env.s3.put_bucket_tagging(Bucket=trail_env.bucket, Tagging={"TagSet": [{"Key": "team", "Value": "audit"}]})
    trail_env.log.take()
    for check_mode in (True, False):
        with pytest.raises(AWSResourceError) as error:
            trail_env.converge(check_mode=check_mode)
        assert error.value.path == "config.organization_trail"
        assert "%s exists without the ownership tags" % trail_env.bucket in str(error.value)
        assert "tag it mlops.platform/managed=true" in str(error.value)
        assert not writes(trail_env.log.take())
    assert trail_env.trail() is None


def test_trail_bucket_left_untagged_by_an_interrupted_create_is_finished_with_a_warning(trail_env):
    """What CreateBucket leaves where it drops its tags (the stand-in) and the run is killed right after."""
    trail_env.s3.create_bucket(Bucket=trail_env.bucket, **(
        {} if trail_env.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": trail_env.region}}))
    warnings = []
    changed, before, after = services.converge_organization_trail(
        wrapped(trail_env.cloudtrail), wrapped(trail_env.s3), trail_env.org["management"], trail_env.org["id"],
        trail_env.region, TRAIL, trail_env.bucket, TAGS, check_mode=False, warn=warnings.append)
    assert changed and before["bucket"]["tags"] == {}
    assert len(warnings) == 1 and trail_env.bucket in warnings[0]
    assert tag_dict(trail_env.s3.get_bucket_tagging(Bucket=trail_env.bucket)["TagSet"]) == dict(TAGS, **OWNERSHIP)
    assert not trail_env.converge()[0]


def test_trail_check_mode_from_empty_writes_nothing(trail_env):
    changed, before, after = trail_env.converge(check_mode=True)
    assert changed
    assert before == {"bucket": None, "trail": None}
    assert after["trail"]["is_logging"] and after["bucket"]["policy"] == trail_env.expected_policy()
    assert trail_env.log.take() == ["ListTrails", "HeadBucket"]
    assert trail_env.trail() is None
    assert trail_env.s3.list_buckets()["Buckets"] == []


def _delete_policy(env):
    env.s3.delete_bucket_policy(Bucket=env.bucket)


def _stop_logging(env):
    env.cloudtrail.stop_logging(Name=TRAIL)


def _disable_log_validation(env):
    env.cloudtrail.update_trail(Name=TRAIL, EnableLogFileValidation=False)


def _add_key_prefix(env):
    env.cloudtrail.update_trail(Name=TRAIL, S3KeyPrefix="elsewhere")


def _delete_public_access_block(env):
    env.s3.delete_public_access_block(Bucket=env.bucket)


def _object_writer(env):
    env.s3.put_bucket_ownership_controls(Bucket=env.bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]})


def _kms_encryption(env):
    env.s3.put_bucket_encryption(
        Bucket=env.bucket,
        ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/x"}}]},
    )


def _change_tag(env):
    env.s3.put_bucket_tagging(Bucket=env.bucket, Tagging={"TagSet": [{"Key": "owner", "Value": "someone"}, {"Key": "extra", "Value": "kept"},
                                                                     {"Key": "mlops.platform/managed", "Value": "true"}]})


def _remove_trail_tag(env):
    env.cloudtrail.remove_tags(ResourceId=env.trail()["TrailARN"], TagsList=[{"Key": "owner"}])


@pytest.mark.parametrize(
    "drift, repair",
    [
        (_delete_policy, ["PutBucketPolicy"]),
        (_stop_logging, ["StartLogging"]),
        (_disable_log_validation, ["UpdateTrail"]),
        (_add_key_prefix, ["UpdateTrail"]),
        (_delete_public_access_block, ["PutPublicAccessBlock"]),
        (_object_writer, ["PutBucketOwnershipControls"]),
        (_kms_encryption, ["PutBucketEncryption"]),
        (_change_tag, ["PutBucketTagging"]),
        (_remove_trail_tag, ["AddTags"]),
    ],
)
def test_trail_drift_is_repaired_exactly(trail_env, drift, repair):
    trail_env.converge()
    drift(trail_env)
    trail_env.log.take()

    assert trail_env.converge(check_mode=True)[0]
    assert not writes(trail_env.log.take())

    changed, before, after = trail_env.converge()
    assert changed
    assert before != after
    assert writes(trail_env.log.take()) == repair

    assert not trail_env.converge()[0]
    assert not writes(trail_env.log.take())


def test_trail_repair_keeps_foreign_tags_and_resets_prefix(trail_env):
    trail_env.converge()
    _change_tag(trail_env)
    _add_key_prefix(trail_env)
    trail_env.converge()
    tags = tag_dict(trail_env.s3.get_bucket_tagging(Bucket=trail_env.bucket)["TagSet"])
    assert tags == dict(TAGS, extra="kept", **OWNERSHIP)
    assert not trail_env.trail().get("S3KeyPrefix")


def test_trail_policy_keeps_foreign_statements(trail_env):
    trail_env.converge()
    auditors = {"Sid": "AuditorsList", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::%s:root" % trail_env.org["member"]},
                "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::%s" % trail_env.bucket}
    trail_env.s3.put_bucket_policy(Bucket=trail_env.bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [auditors]}))
    trail_env.log.take()

    assert trail_env.converge()[0]
    assert writes(trail_env.log.take()) == ["PutBucketPolicy"]
    policy = json.loads(trail_env.s3.get_bucket_policy(Bucket=trail_env.bucket)["Policy"])
    assert policy["Statement"][-1] == auditors
    assert not compare_policies(policy, services.merged_bucket_policy(policy, trail_env.expected_policy()))
    assert not trail_env.converge()[0]


def test_trail_moves_to_the_wanted_bucket(trail_env):
    trail_env.converge()
    other = TrailEnv(trail_env.org, trail_env.region)
    other.bucket = trail_env.bucket + "-new"
    other.log.take()
    assert other.converge()[0]
    assert writes(other.log.take()) == [
        "CreateBucket",
        "PutPublicAccessBlock",
        "PutBucketOwnershipControls",
        "PutBucketEncryption",
        "PutBucketTagging",
        "PutBucketPolicy",
        "UpdateTrail",
    ]
    assert other.trail()["S3BucketName"] == other.bucket
    # The old bucket and its policy stay as they were.
    assert trail_env.s3.get_bucket_policy(Bucket=trail_env.bucket)["Policy"]


# ----------------------------------------- organization trail, Stubber


def test_stubbed_trail_existing_with_real_aws_defaults():
    """Real-API shapes: a new bucket as S3 creates it today (SSE-S3 with
    BucketKeyEnabled, public access blocked, owner enforced) and a trail some other
    tool made, single-account and with a key prefix.  Only the policy, UpdateTrail
    and StartLogging are written; UpdateTrail addresses the trail by ARN."""
    region, account, org_id, bucket = "eu-central-1", "111122223333", "o-exampleorg1", "org-logs"
    arn = services.organization_trail_arn(region, account, TRAIL)
    cloudtrail = boto3.client("cloudtrail", region_name=region, aws_access_key_id="stub", aws_secret_access_key="stub")
    s3 = boto3.client("s3", region_name=region, aws_access_key_id="stub", aws_secret_access_key="stub")
    trail_stub, s3_stub = Stubber(cloudtrail), Stubber(s3)

    trail_stub.add_response("list_trails", {"Trails": [{"TrailARN": arn, "Name": TRAIL, "HomeRegion": region}]}, {})
    trail_stub.add_response(
        "describe_trails",
        {"trailList": [{
            "Name": TRAIL, "S3BucketName": bucket, "S3KeyPrefix": "legacy", "IncludeGlobalServiceEvents": True, "IsMultiRegionTrail": True,
            "HomeRegion": region, "TrailARN": arn, "LogFileValidationEnabled": True, "HasCustomEventSelectors": False,
            "HasInsightSelectors": False, "IsOrganizationTrail": False,
        }]},
        {"trailNameList": [TRAIL], "includeShadowTrails": False},
    )
    trail_stub.add_response("get_trail_status", {"IsLogging": False}, {"Name": arn})
    s3_stub.add_response("head_bucket", {"BucketRegion": region}, {"Bucket": bucket})
    s3_stub.add_response("get_bucket_tagging", {"TagSet": [{"Key": "mlops.platform/managed", "Value": "true"}]}, {"Bucket": bucket})
    s3_stub.add_response(
        "get_bucket_encryption",
        {"ServerSideEncryptionConfiguration": {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": False}]}},
        {"Bucket": bucket},
    )
    s3_stub.add_response("get_public_access_block", {"PublicAccessBlockConfiguration": dict(PUBLIC_ACCESS_BLOCK)}, {"Bucket": bucket})
    s3_stub.add_response("get_bucket_ownership_controls", {"OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}}, {"Bucket": bucket})
    s3_stub.add_client_error("get_bucket_policy", service_error_code="NoSuchBucketPolicy", http_status_code=404, expected_params={"Bucket": bucket})
    policy = services.trail_bucket_policy(bucket, account, org_id, arn)
    s3_stub.add_response("put_bucket_policy", {}, {"Bucket": bucket, "Policy": json.dumps(policy, sort_keys=True)})
    trail_stub.add_response("update_trail", {}, {"Name": arn, "S3KeyPrefix": "", "IsOrganizationTrail": True})
    trail_stub.add_response("start_logging", {}, {"Name": arn})

    with trail_stub, s3_stub:
        changed, before, after = services.converge_organization_trail(
            wrapped(cloudtrail), wrapped(s3), account, org_id, region, TRAIL, bucket, None, check_mode=False
        )
    trail_stub.assert_no_pending_responses()
    s3_stub.assert_no_pending_responses()
    assert changed
    assert before["trail"]["s3_key_prefix"] == "legacy" and after["trail"]["s3_key_prefix"] is None
    assert before["bucket"]["policy"] is None


def test_stubbed_trail_create_orders_policy_before_trail():
    """CreateTrail checks the bucket policy (InsufficientS3BucketPolicyException
    otherwise), which moto does not: the Stubber queue fails on any other order."""
    region, account, org_id, bucket = "us-east-1", "111122223333", "o-exampleorg1", "org-logs"
    arn = services.organization_trail_arn(region, account, TRAIL)
    cloudtrail = boto3.client("cloudtrail", region_name=region, aws_access_key_id="stub", aws_secret_access_key="stub")
    s3 = boto3.client("s3", region_name=region, aws_access_key_id="stub", aws_secret_access_key="stub")
    trail_stub, s3_stub = Stubber(cloudtrail), Stubber(s3)
    order = CallLog(cloudtrail, s3)

    trail_stub.add_response("list_trails", {"Trails": [], "NextToken": "page-2"}, {})
    trail_stub.add_response("list_trails", {"Trails": [{"TrailARN": "arn:aws:cloudtrail:us-east-1:111122223333:trail/other",
                                                        "Name": "other", "HomeRegion": "us-east-1"}]}, {"NextToken": "page-2"})
    s3_stub.add_client_error("head_bucket", service_error_code="404", http_status_code=404, expected_params={"Bucket": bucket})
    s3_stub.add_response("create_bucket", {"Location": "/" + bucket}, {
        "Bucket": bucket, "ObjectOwnership": "BucketOwnerEnforced",
        "CreateBucketConfiguration": {"Tags": [{"Key": "mlops.platform/managed", "Value": "true"}]}})
    s3_stub.add_response("head_bucket", {"ResponseMetadata": {"HTTPStatusCode": 200}}, {"Bucket": bucket})  # the bucket_exists waiter
    s3_stub.add_response("put_public_access_block", {}, {"Bucket": bucket, "PublicAccessBlockConfiguration": dict(PUBLIC_ACCESS_BLOCK)})
    s3_stub.add_response(
        "put_bucket_ownership_controls", {}, {"Bucket": bucket, "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}}
    )
    s3_stub.add_response(
        "put_bucket_encryption",
        {},
        {"Bucket": bucket, "ServerSideEncryptionConfiguration": {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                                                                            "BucketKeyEnabled": False}]}},
    )
    s3_stub.add_response("put_bucket_tagging", {}, {"Bucket": bucket, "Tagging": {"TagSet": [{"Key": "mlops.platform/managed", "Value": "true"}]}})
    policy = services.trail_bucket_policy(bucket, account, org_id, arn)
    s3_stub.add_response("put_bucket_policy", {}, {"Bucket": bucket, "Policy": json.dumps(policy, sort_keys=True)})
    trail_stub.add_response(
        "create_trail",
        {"Name": TRAIL, "TrailARN": arn, "S3BucketName": bucket, "IsOrganizationTrail": True, "IsMultiRegionTrail": True},
        {
            "Name": TRAIL, "S3BucketName": bucket, "IsOrganizationTrail": True, "IsMultiRegionTrail": True,
            "IncludeGlobalServiceEvents": True, "EnableLogFileValidation": True,
        },
    )
    trail_stub.add_response("start_logging", {}, {"Name": arn})

    with trail_stub, s3_stub:
        changed = services.converge_organization_trail(wrapped(cloudtrail), wrapped(s3), account, org_id, region, TRAIL, bucket, {}, check_mode=False)[0]
    trail_stub.assert_no_pending_responses()
    s3_stub.assert_no_pending_responses()
    assert changed
    operations = order.take()
    assert operations.index("PutBucketPolicy") < operations.index("CreateTrail")


def test_stubbed_trail_in_another_home_region_stops_before_any_write():
    """A run whose trail region differs from the live trail's home region must not rewrite
    the bucket policy for a trail ARN in its own region (the live trail would lose its
    bucket): it stops at the first read, naming the home region."""
    cloudtrail = boto3.client("cloudtrail", region_name="us-east-1", aws_access_key_id="stub", aws_secret_access_key="stub")
    s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="stub", aws_secret_access_key="stub")
    trail_stub, s3_stub = Stubber(cloudtrail), Stubber(s3)
    trail_stub.add_response("list_trails", {"Trails": [{
        "TrailARN": services.organization_trail_arn("eu-west-1", "111122223333", TRAIL), "Name": TRAIL,
        "HomeRegion": "eu-west-1"}]}, {})
    with trail_stub, s3_stub, pytest.raises(services.TrailElsewhere) as error:
        services.converge_organization_trail(wrapped(cloudtrail), wrapped(s3), "111122223333", "o-exampleorg1",
                                             "us-east-1", TRAIL, "org-logs", {}, check_mode=False)
    trail_stub.assert_no_pending_responses()
    assert str(error.value).startswith("the organization trail %s exists with home region eu-west-1, not us-east-1" % TRAIL)


# ------------------------------- the trail's customer managed key, through the module's main()

def _organization_args(check_mode=False):
    args = {"config": {"organization_trail": True, "tags": {"Project": "test"}}, "region": "us-east-1"}
    if check_mode:
        args["_ansible_check_mode"] = True
    return args


def _run_organization(capsys, check_mode=False):
    from conftest import run_module
    from ansible_collections.mlops.platform.plugins.modules import organization as organization_module
    code, result = run_module(capsys, organization_module.main, _organization_args(check_mode))
    assert code == 0, result.get("msg")
    return result


def _trail_key_state():
    kms = boto3.client("kms", region_name="us-east-1")
    metadata = kms.describe_key(KeyId=services.TRAIL_KEY_ALIAS)["KeyMetadata"]
    policy = json.loads(kms.get_key_policy(KeyId=metadata["KeyId"], PolicyName="default")["Policy"])
    return metadata["Arn"], policy


def _management():
    return boto3.client("organizations", region_name="us-east-1").describe_organization()["Organization"]


def test_trail_bucket_and_trail_are_encrypted_with_the_trail_key(aws, api_calls, capsys):
    from conftest import writes as write_calls
    result = _run_organization(capsys)
    assert result["changed"]
    key_arn, policy = _trail_key_state()
    management = _management()["MasterAccountId"]
    trail_arn = services.organization_trail_arn("us-east-1", management, "mlops-organization-trail")
    statements = dict((statement["Sid"], statement) for statement in policy["Statement"])
    assert statements[services.SID_KEY_ENCRYPT]["Condition"] == {
        "StringEquals": {"aws:SourceArn": trail_arn},
        "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": "arn:aws:cloudtrail:*:%s:trail/*" % management}}
    assert statements[services.SID_KEY_ADMIN]["Principal"] == {"AWS": "arn:aws:iam::%s:root" % management}
    assert statements[services.SID_KEY_DESCRIBE]["Action"] == "kms:DescribeKey"
    bucket = "mlops-organization-trail-%s" % management
    rule = boto3.client("s3", region_name="us-east-1").get_bucket_encryption(
        Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule == {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn},
                    "BucketKeyEnabled": True}
    trail = boto3.client("cloudtrail", region_name="us-east-1").describe_trails()["trailList"][0]
    assert trail["KmsKeyId"] == key_arn

    for check_mode in (False, True):
        del api_calls[:]
        again = _run_organization(capsys, check_mode=check_mode)
        assert not again["changed"] and write_calls(api_calls) == []


def test_a_trail_on_sse_s3_from_an_earlier_version_moves_to_the_key(aws, api_calls, capsys):
    from conftest import writes as write_calls
    organizations = boto3.client("organizations", region_name="us-east-1")
    organization = organizations.create_organization(FeatureSet="ALL")["Organization"]
    organizations.enable_aws_service_access(ServicePrincipal=services.CLOUDTRAIL_PRINCIPAL)
    management = organization["MasterAccountId"]
    bucket = "mlops-organization-trail-%s" % management
    services.converge_organization_trail(  # what the earlier version made: SSE-S3, no KmsKeyId
        wrapped(boto3.client("cloudtrail", region_name="us-east-1")), wrapped(boto3.client("s3", region_name="us-east-1")),
        management, organization["Id"], "us-east-1", "mlops-organization-trail", bucket,
        {"Project": "test", "mlops.platform/managed": "true"}, check_mode=False)

    del api_calls[:]
    plan = _run_organization(capsys, check_mode=True)
    assert plan["changed"] and write_calls(api_calls) == []

    del api_calls[:]
    result = _run_organization(capsys)
    assert result["changed"]
    trail_writes = [name for name in write_calls(api_calls) if name.endswith(("Key", "Alias", "Rotation", "Trail"))
                    or name.startswith(("PutBucket", "CreateBucket"))]
    assert trail_writes == ["CreateKey", "CreateAlias", "EnableKeyRotation", "PutBucketEncryption", "UpdateTrail"]
    key_arn = _trail_key_state()[0]
    assert boto3.client("cloudtrail", region_name="us-east-1").describe_trails()["trailList"][0]["KmsKeyId"] == key_arn

    del api_calls[:]
    assert not _run_organization(capsys)["changed"] and write_calls(api_calls) == []


def test_check_mode_predicts_the_trail_key_without_failing(aws, api_calls, capsys):
    from conftest import writes as write_calls
    boto3.client("organizations", region_name="us-east-1").create_organization(FeatureSet="ALL")
    del api_calls[:]
    result = _run_organization(capsys, check_mode=True)
    assert result["changed"] and write_calls(api_calls) == []
    aliases = [alias["AliasName"] for alias in boto3.client("kms", region_name="us-east-1").list_aliases()["Aliases"]]
    assert services.TRAIL_KEY_ALIAS not in aliases
    assert "(known after apply)" in json.dumps(result["diff"]["after"])
