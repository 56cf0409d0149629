"""The workload_identity module: its real main() against moto, and against the real EKS API
model through botocore's Stubber where moto has no Pod Identity associations (NOTES.md).

moto answers ListPodIdentityAssociations with a bare 404, so on it the capability probe
says "not served" and only the roles are converged. The association paths (create, adopt,
update, refuse, race, delete) run the same main() with IAM and STS on moto and the EKS
client stubbed: every request is checked against botocore's model of the real API.
"""

import collections
import datetime
import json

import boto3
import pytest
from botocore.stub import ANY, Stubber

from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from ansible_collections.mlops.platform.plugins.module_utils import aws as aws_utils
from ansible_collections.mlops.platform.plugins.module_utils import workload_identity as wi
from ansible_collections.mlops.platform.plugins.module_utils.component import UNKNOWN, managed_tags
from ansible_collections.mlops.platform.plugins.module_utils.workload_identity_aws import NOT_SUPPORTED
from ansible_collections.mlops.platform.plugins.modules import workload_identity as module_under_test

from conftest import run_module, warnings, writes

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's
PREFIX = "mlops-dev"
CLUSTER = "mlops-dev"
ISSUER = "https://oidc.eks.eu-west-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"
ISSUER_HOST_PATH = ISSUER[len("https://"):]
PROVIDER = "arn:aws:iam::%s:oidc-provider/%s" % (ACCOUNT, ISSUER_HOST_PATH)
LAKE = "arn:aws:s3:::mlops-dev-lake-%s" % ACCOUNT
KEY = "arn:aws:kms:eu-west-1:%s:key/1234abcd-12ab-34cd-56ef-1234567890ab" % ACCOUNT
TAGS = {"Project": "test"}
OURS = managed_tags("dev", "workload_identity", TAGS)
UNWANTED = 4  # identities of the table not in IDENTITIES below: one GetRole each when pruning
IDENTITIES = ["external_secrets", "kserve", "mlflow"]


def role_arn(name):
    return "arn:aws:iam::%s:role/mlops-dev-%s" % (ACCOUNT, name.replace("_", "-"))


def args(check_mode=False, identities=None, **overrides):
    result = {
        "config": {}, "environment": "dev", "name_prefix": PREFIX, "tags": TAGS, "region": REGION,
        "identities": IDENTITIES if identities is None else identities, "cluster_name": CLUSTER,
        "oidc_provider_arn": PROVIDER, "oidc_issuer": ISSUER,
        "lake_buckets": {zone: {"name": LAKE.split(":::")[1], "arn": LAKE, "prefix": zone + "/"}
                         for zone in ("raw", "processed", "features", "artifacts", "models")},
        "lake_kms_key_arn": KEY,
    }
    result.update(overrides)
    if check_mode:
        result["_ansible_check_mode"] = True
    return result


def pod_identity(**overrides):
    return args(config={"kind": "pod_identity"}, oidc_provider_arn=None, oidc_issuer=None, **overrides)


def run(capsys, arguments):
    return run_module(capsys, module_under_test.main, arguments)


def operations(calls):
    return dict(collections.Counter(operation for operation, unused in calls))


def live_role(name):
    return boto3.client("iam").get_role(RoleName="mlops-dev-" + name.replace("_", "-"))["Role"]


@pytest.fixture
def converged(aws, api_calls, capsys):
    code, result = run(capsys, args())
    assert code == 0 and result["changed"] is True
    del api_calls[:]
    return result


# --- roles, on moto ----------------------------------------------------------------------------


def test_converge_from_empty_makes_one_role_per_workload_trusting_only_its_service_account(
        aws, api_calls, capsys):
    code, result = run(capsys, args())
    assert code == 0 and result["changed"] is True
    assert sorted(writes(api_calls)) == sorted(["CreateRole"] * 3 + ["PutRolePolicy"] * 4)
    trust = live_role("mlflow")["AssumeRolePolicyDocument"]
    assert trust["Statement"] == [{
        "Sid": "ServiceAccountWebIdentity", "Effect": "Allow", "Principal": {"Federated": PROVIDER},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {ISSUER_HOST_PATH + ":sub": "system:serviceaccount:mlflow:mlflow",
                                       ISSUER_HOST_PATH + ":aud": "sts.amazonaws.com"}}}]
    assert live_role("kserve")["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]["StringEquals"][
        ISSUER_HOST_PATH + ":sub"] == "system:serviceaccount:kserve-models:kserve-models"
    iam = boto3.client("iam")
    assert sorted(iam.list_role_policies(RoleName="mlops-dev-mlflow")["PolicyNames"]) == ["lake-access",
                                                                                          "secrets-read"]
    assert iam.list_role_policies(RoleName="mlops-dev-external-secrets")["PolicyNames"] == ["secrets-read"]
    assert iam.list_role_policies(RoleName="mlops-dev-kserve")["PolicyNames"] == ["lake-access"]
    lake = iam.get_role_policy(RoleName="mlops-dev-mlflow", PolicyName="lake-access")["PolicyDocument"]
    assert lake == wi.permissions("mlflow", "aws", REGION, ACCOUNT, PREFIX,
                                  {"buckets": args()["lake_buckets"], "kms_key_arn": KEY})[0]["lake-access"]
    tags = {tag["Key"]: tag["Value"] for tag in live_role("mlflow")["Tags"]}
    assert tags == OURS
    assert result["workload_identities"]["mlflow"] == {
        "kind": "irsa", "role_arn": role_arn("mlflow"), "role_name": "mlops-dev-mlflow", "namespace": "mlflow",
        "service_account": "mlflow", "pod_annotations": {"eks.amazonaws.com/role-arn": role_arn("mlflow")},
        "association": None}
    assert result["ansible_facts"]["mlops_workload_identity"] == result["workload_identities"]
    assert result["diff"]["before"] == {"external_secrets": None, "kserve": None, "mlflow": None}
    assert result["removed"] == []


def test_second_run_changes_nothing_and_only_reads(converged, api_calls, capsys):
    code, result = run(capsys, args())
    assert code == 0 and result["changed"] is False
    assert writes(api_calls) == []
    assert operations(api_calls) == {
        "GetCallerIdentity": 1,
        "ListPodIdentityAssociations": 1,  # the capability probe (moto: 404, so no association is looked for)
        "GetRole": len(IDENTITIES) + UNWANTED,
        "GetRolePolicy": len(IDENTITIES) * len(wi.POLICY_NAMES),
    }
    assert result["api_calls"]["writes"] == 0
    assert result["diff"]["before"] == result["diff"]["after"]
    assert result["workload_identities"] == converged["workload_identities"]


def test_check_mode_on_empty_predicts_every_role_and_writes_nothing(aws, api_calls, capsys):
    code, result = run(capsys, args(check_mode=True, oidc_provider_arn=UNKNOWN, oidc_issuer=UNKNOWN,
                                    lake_kms_key_arn=UNKNOWN))
    assert code == 0 and result["changed"] is True
    assert writes(api_calls) == []
    assert result["workload_identities"]["mlflow"]["role_arn"] == UNKNOWN
    assert result["diff"]["after"]["mlflow"]["role"]["trust_policy"]["Statement"][0]["Principal"] == {
        "Federated": "arn:aws:iam::%s:oidc-provider/%s" % (ACCOUNT, UNKNOWN)}
    assert boto3.client("iam").list_roles()["Roles"] == []


def test_check_mode_on_converged_reports_nothing(converged, api_calls, capsys):
    code, result = run(capsys, args(check_mode=True))
    assert code == 0 and result["changed"] is False
    assert writes(api_calls) == []


def test_switching_a_workload_to_pod_identity_rewrites_the_trust_in_place(converged, api_calls, capsys):
    config = {"workloads": {"mlflow": {"kind": "pod_identity"}}}
    code, result = run(capsys, args(check_mode=True, config=config))
    assert code == 0 and result["changed"] is True and writes(api_calls) == []
    code, result = run(capsys, args(config=config))
    assert code == 0 and result["changed"] is True
    assert writes(api_calls) == ["UpdateAssumeRolePolicy"]
    assert live_role("mlflow")["Arn"] == role_arn("mlflow")
    assert live_role("mlflow")["AssumeRolePolicyDocument"] == wi.trust_policy(
        "pod_identity", "aws", ACCOUNT, None, None, "mlflow", "mlflow", cluster_name=CLUSTER)
    mlflow = result["workload_identities"]["mlflow"]
    assert (mlflow["kind"], mlflow["pod_annotations"], mlflow["association"]) == ("pod_identity", {}, NOT_SUPPORTED)
    assert [warning for warning in warnings(result) if "Pod Identity" in warning] == [
        "This EKS endpoint does not serve EKS Pod Identity associations: the associations of the pod_identity "
        "workloads were not made, and their pods get no AWS credentials until they are (each is reported as "
        "'not supported by this endpoint')"]
    del api_calls[:]
    assert run(capsys, args(config=config))[1]["changed"] is False


def test_a_role_of_that_name_that_is_not_ours_is_refused_with_the_workloads_path(aws, api_calls, capsys):
    boto3.client("iam").create_role(RoleName="mlops-dev-mlflow", AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                                 "Action": "sts:AssumeRole"}]}))
    del api_calls[:]
    code, result = run(capsys, args(identities=["mlflow"]))
    assert code == 1
    assert result["msg"] == ("config.workloads.mlflow: the IAM role mlops-dev-mlflow exists and is not managed by "
                             "this component; remove it or tag it")
    assert writes(api_calls) == []
    assert live_role("mlflow")["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "ec2.amazonaws.com"}


def test_prune_removes_a_workload_no_longer_wanted_and_only_ours(converged, api_calls, capsys):
    code, result = run(capsys, args(identities=["external_secrets", "mlflow"], prune=False))
    assert code == 0 and result["changed"] is False and writes(api_calls) == []
    code, result = run(capsys, args(identities=["external_secrets", "mlflow"], check_mode=True))
    assert result["changed"] is True and result["removed"] == ["kserve"] and writes(api_calls) == []
    code, result = run(capsys, args(identities=["external_secrets", "mlflow"]))
    assert code == 0 and result["changed"] is True and result["removed"] == ["kserve"]
    assert sorted(writes(api_calls)) == ["DeleteRole", "DeleteRolePolicy"]
    assert result["diff"]["before"]["kserve"]["role"]["name"] == "mlops-dev-kserve"
    assert result["diff"]["after"]["kserve"] is None
    assert "kserve" not in result["workload_identities"]
    names = sorted(role["RoleName"] for role in boto3.client("iam").list_roles()["Roles"])
    assert names == ["mlops-dev-external-secrets", "mlops-dev-mlflow"]


def test_a_policy_the_workload_no_longer_needs_is_deleted(converged, api_calls, capsys):
    """Without a lake, MLflow keeps its secrets policy and loses its lake policy."""
    code, result = run(capsys, args(identities=IDENTITIES, lake_buckets={}, lake_kms_key_arn=None))
    assert code == 0 and result["changed"] is True
    assert sorted(writes(api_calls)) == ["DeleteRolePolicy", "DeleteRolePolicy"]
    assert boto3.client("iam").list_role_policies(RoleName="mlops-dev-mlflow")["PolicyNames"] == ["secrets-read"]


def test_managed_policies_of_the_table_are_attached(aws, api_calls, capsys, monkeypatch):
    # moto loads AWS managed policies only when told to (NOTES.md).
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    from moto.core.config import default_user_config
    monkeypatch.setitem(default_user_config, "iam", {"load_aws_managed_policies": True})
    code, result = run(capsys, args(identities=["ebs_csi_driver"]))
    assert code == 0, result
    attached = boto3.client("iam").list_attached_role_policies(RoleName="mlops-dev-ebs-csi-driver")
    assert [policy["PolicyArn"] for policy in attached["AttachedPolicies"]] == [
        "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"]
    assert boto3.client("iam").list_role_policies(RoleName="mlops-dev-ebs-csi-driver")["PolicyNames"] == []


# --- bad input, before any call ----------------------------------------------------------------


@pytest.mark.parametrize("overrides, message", [
    ({"oidc_provider_arn": None},
     "oidc_provider_arn: is needed: external_secrets, kserve, mlflow use IRSA"),
    ({"oidc_issuer": "https://oidc.eks.eu-west-1.amazonaws.com/id/FFFF"},
     "oidc_provider_arn: %r is the provider of %s, not of the cluster's issuer "
     "'https://oidc.eks.eu-west-1.amazonaws.com/id/FFFF'" % (PROVIDER, ISSUER_HOST_PATH)),
    ({"oidc_provider_arn": UNKNOWN},
     "oidc_provider_arn: '(known after apply)' is not known yet; converge the cluster first"),
    ({"lake_kms_key_arn": UNKNOWN},
     "lake_kms_key_arn: '(known after apply)' is not known yet; converge the data lake first"),
    ({"config": {"workloads": {"mlflow": {"kind": "oidc"}}}},
     "config.workloads.mlflow.kind: 'oidc' is not one of irsa, pod_identity"),
    ({"config": {"workloads": {"mlflow": {"service_account": "MLflow_SA"}}}},
     "config.workloads.mlflow.service_account: 'MLflow_SA' does not match"),
    ({"name_prefix": "p" * 50}, "name_prefix: %r makes the IAM role name" % ("p" * 50)),
    ({"lake_buckets": {"raw": "mlops-dev-lake"}},
     "lake_buckets.raw: 'mlops-dev-lake' must be {name, arn, prefix} as data_lake returns it"),
])
def test_bad_input_is_refused_before_any_call_with_its_path(aws, api_calls, capsys, overrides, message):
    code, result = run(capsys, args(**overrides))
    assert code == 1
    assert message in result["msg"], result["msg"]
    assert api_calls == []


def test_pod_identity_needs_no_oidc_provider_and_a_missing_feature_is_told_once(aws, capsys):
    code, result = run(capsys, pod_identity(identities=["vllm", "mlflow"]))
    assert code == 0
    assert [result["workload_identities"][name]["association"] for name in ("mlflow", "vllm")] == [NOT_SUPPORTED] * 2
    assert len([warning for warning in warnings(result) if "Pod Identity" in warning]) == 1


# --- associations, through the real EKS API model -----------------------------------------------


@pytest.fixture
def eks(aws, monkeypatch):
    """One stubbed EKS client behind every client the module makes for EKS."""
    raw = boto3.client("eks", region_name=REGION)
    stubber = Stubber(raw)
    original = aws_utils.MlopsAWSModule.client

    def client(self, service, retry_decorator=None, **extra):
        if service != "eks":
            return original(self, service, retry_decorator=retry_decorator, **extra)
        return RetryingBotoClientWrapper(raw, retry_decorator) if retry_decorator else raw

    monkeypatch.setattr(aws_utils.MlopsAWSModule, "client", client)
    stubber.activate()
    yield stubber
    stubber.deactivate()


ASSOCIATION_ID = "a-1a2b3c4d5e6f7a8b9"
ASSOCIATION_ARN = "arn:aws:eks:eu-west-1:%s:podidentityassociation/%s/%s" % (ACCOUNT, CLUSTER, ASSOCIATION_ID)
NOW = datetime.datetime(2026, 12, 1, tzinfo=datetime.timezone.utc)


def association(role="mlflow", tags=None, namespace="mlflow", service_account="mlflow", **extra):
    result = {"clusterName": CLUSTER, "namespace": namespace, "serviceAccount": service_account,
              "roleArn": role if role.startswith("arn:") else role_arn(role), "associationArn": ASSOCIATION_ARN,
              "associationId": ASSOCIATION_ID, "tags": OURS if tags is None else tags, "createdAt": NOW,
              "modifiedAt": NOW, "disableSessionTags": False}
    result.update(extra)
    return result


def summary(namespace="mlflow", service_account="mlflow"):
    return {"clusterName": CLUSTER, "namespace": namespace, "serviceAccount": service_account,
            "associationArn": ASSOCIATION_ARN, "associationId": ASSOCIATION_ID}


def expect_listing(stubber, *summaries):
    stubber.add_response("list_pod_identity_associations", {"associations": []},
                         {"clusterName": CLUSTER, "maxResults": 1})  # the capability probe
    stubber.add_response("list_pod_identity_associations", {"associations": list(summaries)},
                         {"clusterName": CLUSTER})


def expect_describe(stubber, described):
    stubber.add_response("describe_pod_identity_association", {"association": described},
                         {"clusterName": CLUSTER, "associationId": ASSOCIATION_ID})


def eks_writes(calls):
    return [operation for operation in writes(calls) if "PodIdentity" in operation or operation == "TagResource"]


def test_pod_identity_creates_the_association_with_a_client_token_and_our_tags(eks, api_calls, capsys):
    expect_listing(eks)
    eks.add_response("create_pod_identity_association", {"association": association()}, {
        "clusterName": CLUSTER, "namespace": "mlflow", "serviceAccount": "mlflow", "roleArn": role_arn("mlflow"),
        "disableSessionTags": False, "tags": OURS, "clientRequestToken": ANY})
    code, result = run(capsys, pod_identity(identities=["mlflow"]))
    assert code == 0 and result["changed"] is True, result
    eks.assert_no_pending_responses()
    assert eks_writes(api_calls) == ["CreatePodIdentityAssociation"]
    mlflow = result["workload_identities"]["mlflow"]
    assert (mlflow["association"], mlflow["pod_annotations"]) == (ASSOCIATION_ID, {})
    assert result["diff"]["after"]["mlflow"]["association"] == {
        "id": ASSOCIATION_ID, "namespace": "mlflow", "service_account": "mlflow", "role_arn": role_arn("mlflow"),
        "disable_session_tags": False, "tags": OURS}


def make_roles_where_associations_are_not_served(eks, capsys, **overrides):
    eks.add_client_error("list_pod_identity_associations", "404", "Not yet implemented", 404,
                         expected_params={"clusterName": CLUSTER, "maxResults": 1})
    assert run(capsys, pod_identity(**overrides))[0] == 0
    eks.assert_no_pending_responses()


def test_a_converged_association_is_only_read(eks, api_calls, capsys):
    make_roles_where_associations_are_not_served(eks, capsys, identities=["mlflow"])
    del api_calls[:]
    expect_listing(eks, summary())
    expect_describe(eks, association())
    code, result = run(capsys, pod_identity(identities=["mlflow"]))
    assert code == 0 and result["changed"] is False, result
    eks.assert_no_pending_responses()
    assert writes(api_calls) == []
    assert {operation: count for operation, count in operations(api_calls).items() if "PodIdentity" in operation} \
        == {"ListPodIdentityAssociations": 2, "DescribePodIdentityAssociation": 1}
    assert result["diff"]["before"] == result["diff"]["after"]
    assert result["workload_identities"]["mlflow"]["association"] == ASSOCIATION_ID


def test_check_mode_before_the_cluster_exists_predicts_the_association(eks, api_calls, capsys):
    eks.add_client_error("list_pod_identity_associations", "ResourceNotFoundException", "No cluster found",
                         404, expected_params={"clusterName": CLUSTER, "maxResults": 1})
    eks.add_client_error("list_pod_identity_associations", "ResourceNotFoundException", "No cluster found",
                         404, expected_params={"clusterName": CLUSTER})
    code, result = run(capsys, pod_identity(identities=["mlflow"], check_mode=True))
    assert code == 0 and result["changed"] is True
    eks.assert_no_pending_responses()
    assert writes(api_calls) == []
    assert result["workload_identities"]["mlflow"]["association"] == UNKNOWN


def test_an_association_already_giving_our_role_is_adopted_by_tagging_it(eks, api_calls, capsys):
    expect_listing(eks, summary())
    expect_describe(eks, association(tags={}))
    eks.add_response("tag_resource", {}, {"resourceArn": ASSOCIATION_ARN, "tags": OURS})
    code, result = run(capsys, pod_identity(identities=["mlflow"]))
    assert code == 0 and result["changed"] is True, result
    eks.assert_no_pending_responses()
    assert eks_writes(api_calls) == ["TagResource"]
    assert result["diff"]["before"]["mlflow"] is None  # the role was new
    assert result["workload_identities"]["mlflow"]["association"] == ASSOCIATION_ID


def test_our_association_to_another_role_is_updated_and_session_tags_turned_back_on(eks, api_calls, capsys):
    expect_listing(eks, summary())
    expect_describe(eks, association(role="arn:aws:iam::%s:role/old" % ACCOUNT, disableSessionTags=True))
    eks.add_response("update_pod_identity_association", {"association": association()}, {
        "clusterName": CLUSTER, "associationId": ASSOCIATION_ID, "roleArn": role_arn("mlflow"),
        "disableSessionTags": False})
    code, result = run(capsys, pod_identity(identities=["mlflow"]))
    assert code == 0 and result["changed"] is True, result
    eks.assert_no_pending_responses()
    assert eks_writes(api_calls) == ["UpdatePodIdentityAssociation"]


def test_someone_elses_association_of_the_service_account_is_refused_with_the_path(eks, api_calls, capsys):
    expect_listing(eks, summary())
    expect_describe(eks, association(role="arn:aws:iam::%s:role/theirs" % ACCOUNT, tags={"team": "data"}))
    code, result = run(capsys, pod_identity(identities=["mlflow"]))
    assert code == 1
    assert result["msg"] == (
        "config.workloads.mlflow: the service account mlflow/mlflow of the cluster mlops-dev already has the EKS Pod "
        "Identity association %s to arn:aws:iam::%s:role/theirs, which this component does not manage; it is left "
        "alone: remove it, or give this workload another service account" % (ASSOCIATION_ID, ACCOUNT))
    eks.assert_no_pending_responses()
    assert eks_writes(api_calls) == []


def test_an_association_made_meanwhile_is_found_and_adopted_not_duplicated(eks, api_calls, capsys):
    expect_listing(eks)
    eks.add_client_error("create_pod_identity_association", "ResourceInUseException",
                         "Association already exists", 409)
    eks.add_response("list_pod_identity_associations", {"associations": [summary()]}, {"clusterName": CLUSTER})
    expect_describe(eks, association(tags={}))
    eks.add_response("tag_resource", {}, {"resourceArn": ASSOCIATION_ARN, "tags": OURS})
    code, result = run(capsys, pod_identity(identities=["mlflow"]))
    assert code == 0 and result["changed"] is True, result
    eks.assert_no_pending_responses()
    assert eks_writes(api_calls) == ["CreatePodIdentityAssociation", "TagResource"]


def test_back_to_irsa_deletes_our_association_of_the_service_account(eks, api_calls, capsys):
    expect_listing(eks, summary())
    expect_describe(eks, association())
    eks.add_response("delete_pod_identity_association", {"association": association()},
                     {"clusterName": CLUSTER, "associationId": ASSOCIATION_ID})
    code, result = run(capsys, args(identities=["mlflow"]))
    assert code == 0 and result["changed"] is True, result
    eks.assert_no_pending_responses()
    assert eks_writes(api_calls) == ["DeletePodIdentityAssociation"]
    assert result["diff"]["after"]["mlflow"]["association"] is None
    assert result["workload_identities"]["mlflow"]["association"] is None


def test_prune_deletes_the_association_then_the_role(eks, api_calls, capsys):
    make_roles_where_associations_are_not_served(eks, capsys, identities=["mlflow"])
    del api_calls[:]

    expect_listing(eks, summary())
    expect_describe(eks, association())
    eks.add_response("delete_pod_identity_association", {"association": association()},
                     {"clusterName": CLUSTER, "associationId": ASSOCIATION_ID})
    code, result = run(capsys, pod_identity(identities=[]))
    assert code == 0 and result["changed"] is True and result["removed"] == ["mlflow"], result
    eks.assert_no_pending_responses()
    assert [operation for operation in writes(api_calls) if operation.startswith("Delete")] == [
        "DeletePodIdentityAssociation", "DeleteRolePolicy", "DeleteRolePolicy", "DeleteRole"]
