"""The shared AWS access layer (module_utils/aws.py) and mlops.platform.account_info, on moto.

The module's main() runs in-process with its arguments given through ansible-core's
``patch_module_args``; its result is read from stdout, i.e. exactly the JSON the
controller would receive (and print at -vvv).
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from ansible.module_utils.testing import patch_module_args
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.mlops.platform.plugins.module_utils.aws import (
    AWS_RETRY,
    MlopsAWSModule,
    assume_role_problems,
    caller_identity,
)
from ansible_collections.mlops.platform.plugins.modules import account_info

CALLER_ACCOUNT = "123456789012"  # moto's default account
MEMBER_ACCOUNT = "111111111111"
MEMBER_ROLE = f"arn:aws:iam::{MEMBER_ACCOUNT}:role/OrganizationAccountAccessRole"
REGION = "eu-west-1"


def assume_role_calls(calls: list[tuple[str, Any]]) -> list[Any]:
    return [response for operation, response in calls if operation == "AssumeRole"]


def run_account_info(capsys: pytest.CaptureFixture[str], args: dict[str, Any]) -> tuple[int, str, dict[str, Any]]:
    """Run the module's main() as Ansible would; return exit code, raw stdout and parsed result."""
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exit_info:
            account_info.main()
    stdout = capsys.readouterr().out
    return exit_info.value.code, stdout, json.loads(stdout)


def make_module(args: dict[str, Any]) -> MlopsAWSModule:
    with patch_module_args(args):
        return MlopsAWSModule(argument_spec={}, supports_check_mode=True)


def vpc_cidrs(ec2) -> set[str]:
    return {vpc["CidrBlock"] for vpc in ec2.describe_vpcs()["Vpcs"]}


def test_without_assume_role_it_acts_in_the_callers_account(aws, api_calls, capsys) -> None:
    code, stdout, result = run_account_info(capsys, {})

    assert code == 0, stdout
    assert result["changed"] is False
    assert result["account_id"] == CALLER_ACCOUNT
    assert result["arn"].split(":")[4] == CALLER_ACCOUNT
    assert result["user_id"]
    assert "assumed_role_arn" not in result
    assert assume_role_calls(api_calls) == []


def test_with_assume_role_it_acts_in_the_member_account(aws, api_calls, capsys) -> None:
    code, stdout, result = run_account_info(capsys, {"assume_role": {"role_arn": MEMBER_ROLE}})

    assert code == 0, stdout
    assert result["changed"] is False
    assert result["account_id"] == MEMBER_ACCOUNT
    assert result["arn"] == f"arn:aws:sts::{MEMBER_ACCOUNT}:assumed-role/OrganizationAccountAccessRole/mlops-platform"
    assert result["assumed_role_arn"] == MEMBER_ROLE
    assert len(assume_role_calls(api_calls)) == 1


def test_check_mode_reports_the_same_and_no_change(aws, capsys) -> None:
    args = {"assume_role": {"role_arn": MEMBER_ROLE}, "_ansible_check_mode": True}
    code, stdout, result = run_account_info(capsys, args)

    assert code == 0, stdout
    assert result["changed"] is False
    assert result["account_id"] == MEMBER_ACCOUNT


def test_session_name_and_duration_reach_sts(aws, api_calls, capsys) -> None:
    args = {"assume_role": {"role_arn": MEMBER_ROLE, "session_name": "dev-preflight", "duration_seconds": 900}}
    code, stdout, result = run_account_info(capsys, args)

    assert code == 0, stdout
    assert result["arn"].endswith(":assumed-role/OrganizationAccountAccessRole/dev-preflight")
    assert result["user_id"].endswith(":dev-preflight")
    (response,) = assume_role_calls(api_calls)
    assert response["AssumedRoleUser"]["Arn"] == result["arn"]


def test_resources_made_through_the_module_live_in_the_member_account(aws) -> None:
    member = make_module({"assume_role": {"role_arn": MEMBER_ROLE}})
    member.client("ec2", retry_decorator=AWS_RETRY).create_vpc(CidrBlock="10.99.0.0/16", aws_retry=True)

    # The caller's own account, seen with the caller's credentials, has no such VPC.
    assert "10.99.0.0/16" not in vpc_cidrs(boto3.client("ec2", region_name=REGION))
    assert "10.99.0.0/16" not in vpc_cidrs(make_module({}).client("ec2"))
    # A later run assuming the same role finds it, through a client and a resource.
    later = make_module({"assume_role": {"role_arn": MEMBER_ROLE}})
    assert "10.99.0.0/16" in vpc_cidrs(later.client("ec2"))
    assert "10.99.0.0/16" in {vpc.cidr_block for vpc in later.resource("ec2").vpcs.all()}


def test_role_is_assumed_once_however_many_clients_a_run_makes(aws, api_calls) -> None:
    module = make_module({"assume_role": {"role_arn": MEMBER_ROLE}})
    assert assume_role_calls(api_calls) == [], "nothing is assumed before a client is needed"

    module.client("ec2", retry_decorator=AWS_RETRY).describe_vpcs(aws_retry=True)
    module.client("s3").list_buckets()
    module.resource("ec2")
    identity = caller_identity(module)
    caller_identity(module)

    assert identity["account_id"] == MEMBER_ACCOUNT
    assert len(assume_role_calls(api_calls)) == 1


def test_a_refused_assume_role_fails_clearly(aws, api_calls, capsys, monkeypatch) -> None:
    """STS refuses (stubbed): one message naming the role, no traceback, no external ID."""
    stubbers = []
    parent_client = AnsibleAWSModule.client

    def stubbed_sts(module, service, retry_decorator=None, **extra_params):
        client = parent_client(module, service, retry_decorator=retry_decorator, **extra_params)
        if service == "sts":
            stubber = Stubber(client.client)
            stubber.add_client_error(
                "assume_role",
                service_error_code="AccessDenied",
                service_message=f"User: arn:aws:iam::{CALLER_ACCOUNT}:user/moto is not authorized "
                f"to perform: sts:AssumeRole on resource: {MEMBER_ROLE}",
                http_status_code=403,
            )
            stubber.activate()
            stubbers.append(stubber)
        return client

    monkeypatch.setattr(AnsibleAWSModule, "client", stubbed_sts)
    args = {"assume_role": {"role_arn": MEMBER_ROLE, "external_id": "ext-id-4242"}}
    code, stdout, result = run_account_info(capsys, args)

    assert code == 1
    assert result["failed"] is True
    assert result["msg"].startswith(f"could not assume role {MEMBER_ROLE}: ")
    assert "AccessDenied" in result["msg"]
    assert "Traceback" not in stdout
    assert "ext-id-4242" not in result["msg"]
    assert "account_id" not in result
    assert len(stubbers) == 1, "one STS client, made once"
    stubbers[0].assert_no_pending_responses()


@pytest.mark.parametrize(
    "role_arn",
    [
        "OrganizationAccountAccessRole",
        "arn:aws:iam::1111:role/OrganizationAccountAccessRole",
        "arn:aws:iam::111111111111:user/admin",
        "arn:aws:sts::111111111111:assumed-role/OrganizationAccountAccessRole/s",
    ],
)
def test_a_malformed_role_arn_is_rejected_before_any_call(aws, api_calls, capsys, role_arn) -> None:
    code, stdout, result = run_account_info(capsys, {"assume_role": {"role_arn": role_arn}})

    assert code == 1
    assert result["msg"].startswith("Invalid assume_role: ")
    assert repr(role_arn) in result["msg"]
    assert "Traceback" not in result["msg"]
    assert api_calls == []


@pytest.mark.parametrize("debug_botocore_endpoint_logs", [False, True])
def test_credentials_never_reach_the_result(aws, api_calls, capsys, debug_botocore_endpoint_logs) -> None:
    """Neither in the result nor in what amazon.aws adds from botocore's endpoint log."""
    args = {
        "assume_role": {"role_arn": MEMBER_ROLE, "external_id": "ext-id-4242"},
        "debug_botocore_endpoint_logs": debug_botocore_endpoint_logs,
    }
    code, stdout, result = run_account_info(capsys, args)

    assert code == 0, stdout
    (response,) = assume_role_calls(api_calls)
    credentials = response["Credentials"]
    for field in ("AccessKeyId", "SecretAccessKey", "SessionToken"):
        assert credentials[field]
        assert credentials[field] not in stdout, field
    assert "credentials" not in {key.lower() for key in result}
    assert ("resource_actions" in result) == debug_botocore_endpoint_logs


@pytest.mark.parametrize(
    ("assume_role", "expected"),
    [
        ({"role_arn": MEMBER_ROLE, "session_name": "mlops-platform", "duration_seconds": 3600}, []),
        ({"role_arn": "arn:aws-us-gov:iam::111111111111:role/ops/admin", "session_name": "a.b@c", "duration_seconds": 43200}, []),
        ({"role_arn": MEMBER_ROLE, "session_name": "x", "duration_seconds": 3600}, ["session_name"]),
        ({"role_arn": MEMBER_ROLE, "session_name": "has space", "duration_seconds": 3600}, ["session_name"]),
        ({"role_arn": MEMBER_ROLE, "session_name": "s" * 65, "duration_seconds": 3600}, ["session_name"]),
        ({"role_arn": MEMBER_ROLE, "session_name": "ok", "duration_seconds": 899}, ["duration_seconds"]),
        ({"role_arn": MEMBER_ROLE, "session_name": "ok", "duration_seconds": 43201}, ["duration_seconds"]),
        ({"role_arn": "nope", "session_name": "x", "duration_seconds": 1}, ["role_arn", "session_name", "duration_seconds"]),
    ],
)
def test_assume_role_problems(assume_role, expected) -> None:
    problems = assume_role_problems(assume_role)

    assert [problem.split(" ")[0] for problem in problems] == [f"assume_role.{name}" for name in expected]


def test_an_invalid_external_id_is_reported_without_its_value() -> None:
    problems = assume_role_problems(
        {"role_arn": MEMBER_ROLE, "session_name": "ok", "duration_seconds": 3600, "external_id": "bad id!"}
    )

    assert len(problems) == 1
    assert problems[0].startswith("assume_role.external_id ")
    assert "bad id!" not in problems[0]


@pytest.fixture
def stubbed_ec2(monkeypatch):
    """account_info's EC2 client behind a Stubber (real API shapes); STS stays on moto."""
    stubbers = []
    parent_client = AnsibleAWSModule.client

    def client(module, service, retry_decorator=None, **extra_params):
        made = parent_client(module, service, retry_decorator=retry_decorator, **extra_params)
        if service == "ec2":
            stubber = Stubber(getattr(made, "client", made))
            stubber.activate()
            stubbers.append(stubber)
        return made

    monkeypatch.setattr(AnsibleAWSModule, "client", client)
    monkeypatch.setattr(account_info, "SERVICE_WAIT_DELAY", 1)
    return stubbers


def test_a_new_accounts_services_are_waited_for_until_they_answer(aws, stubbed_ec2, capsys, monkeypatch) -> None:
    """A just-created account answers OptInRequired for a while: waited out, then the run goes on."""
    real = {"AvailabilityZones": [{"ZoneName": "eu-west-1a", "State": "available", "RegionName": REGION}]}
    original = Stubber.activate

    def with_responses(stubber):
        original(stubber)
        stubber.add_client_error("describe_availability_zones", service_error_code="OptInRequired",
                                 http_status_code=401)
        stubber.add_client_error("describe_availability_zones", service_error_code="OptInRequired",
                                 http_status_code=401)
        stubber.add_response("describe_availability_zones", real)

    monkeypatch.setattr(Stubber, "activate", with_responses)
    code, stdout, result = run_account_info(capsys, {"wait_for_services": ["ec2"]})
    assert code == 0, stdout
    assert result["account_id"] == CALLER_ACCOUNT
    stubbed_ec2[0].assert_no_pending_responses()  # two refusals waited out, then the answer


def test_another_error_from_a_service_is_reported_at_once(aws, stubbed_ec2, capsys, monkeypatch) -> None:
    original = Stubber.activate

    def with_responses(stubber):
        original(stubber)
        stubber.add_client_error("describe_availability_zones", service_error_code="UnauthorizedOperation",
                                 service_message="not allowed", http_status_code=403)

    monkeypatch.setattr(Stubber, "activate", with_responses)
    code, stdout, result = run_account_info(capsys, {"wait_for_services": ["ec2"]})
    assert code == 1
    assert result["msg"] == "ec2 answered UnauthorizedOperation while the account's services were checked: not allowed"


def test_services_are_not_probed_unless_asked(aws, api_calls, capsys) -> None:
    code, stdout, result = run_account_info(capsys, {})
    assert code == 0 and list(result["api_calls"]["by_operation"]) == ["GetCallerIdentity"]


def test_every_service_probe_is_a_call_the_stand_in_answers(aws, capsys) -> None:
    """A first converge of the local environment probes every service of a new account."""
    code, stdout, result = run_account_info(capsys, {"wait_for_services": sorted(account_info.SERVICE_PROBES)})
    assert code == 0, stdout
