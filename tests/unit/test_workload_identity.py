"""workload_identity: the identity table turned into trust policies, permissions and pod usage.

Pure functions, no AWS: every document is compared whole, so nothing broader than asked
for (a wildcard, another service account, another zone) can slip in unnoticed.
"""

import json

import pytest

from ansible_collections.mlops.platform.plugins.module_utils import workload_identity as wi
from ansible_collections.mlops.platform.plugins.module_utils.config_schema import EKS

from conftest import component_config

ACCOUNT = "111111111111"
REGION = "eu-west-1"
PREFIX = "mlops-dev"
ISSUER = "https://oidc.eks.eu-west-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"
ISSUER_HOST_PATH = "oidc.eks.eu-west-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"
PROVIDER = "arn:aws:iam::%s:oidc-provider/%s" % (ACCOUNT, ISSUER_HOST_PATH)
KEY = "arn:aws:kms:eu-west-1:%s:key/1234abcd-12ab-34cd-56ef-1234567890ab" % ACCOUNT
SHARED = "arn:aws:s3:::mlops-dev-lake-%s" % ACCOUNT
ZONES = ("raw", "processed", "features", "artifacts", "models")


def shared_lake():
    return {"buckets": {zone: {"name": "mlops-dev-lake-%s" % ACCOUNT, "arn": SHARED, "prefix": zone + "/"}
                        for zone in ZONES},
            "kms_key_arn": KEY}


def bucket_per_zone_lake():
    return {"buckets": {zone: {"name": "mlops-dev-lake-%s-%s" % (zone, ACCOUNT),
                               "arn": "arn:aws:s3:::mlops-dev-lake-%s-%s" % (zone, ACCOUNT), "prefix": ""}
                        for zone in ZONES},
            "kms_key_arn": KEY}


def per_zone(zone):
    return "arn:aws:s3:::mlops-dev-lake-%s-%s" % (zone, ACCOUNT)


def workload_config(**overrides):
    """The eks component's workload_identity section, validated by the one schema."""
    return component_config(EKS, workload_identity=overrides)["workload_identity"]


# --- resolve -------------------------------------------------------------------------------------


def test_resolve_gives_the_table_defaults_and_the_default_kind():
    assert wi.resolve(workload_config(), "mlflow") == {
        "kind": "irsa", "namespace": "mlflow", "service_account": "mlflow"}
    assert wi.resolve({}, "kubeflow") == {"kind": "irsa", "namespace": "kubeflow",
                                          "service_account": "pipeline-runner"}
    assert wi.resolve(None, "ebs_csi_driver")["service_account"] == "ebs-csi-controller-sa"


def test_resolve_overlays_the_config_kind_then_the_workload_entry():
    config = workload_config(kind="pod_identity", workloads={
        "mlflow": {"kind": "irsa", "namespace": "tracking"},
        "vllm": {"service_account": "vllm-server"},
    })
    assert wi.resolve(config, "mlflow") == {"kind": "irsa", "namespace": "tracking", "service_account": "mlflow"}
    assert wi.resolve(config, "vllm") == {"kind": "pod_identity", "namespace": "vllm",
                                          "service_account": "vllm-server"}
    assert wi.resolve(config, "feast") == {"kind": "pod_identity", "namespace": "feast", "service_account": "feast"}


def test_resolve_refuses_an_identity_the_table_does_not_have():
    with pytest.raises(ValueError, match="'mlfow' is not a workload identity"):
        wi.resolve({}, "mlfow")


# --- role names ----------------------------------------------------------------------------------


def test_role_names_follow_the_prefix_with_dashes():
    assert wi.role_name(PREFIX, "mlflow") == "mlops-dev-mlflow"
    assert wi.role_name(PREFIX, "external_secrets") == "mlops-dev-external-secrets"


def test_a_role_name_over_iams_64_characters_is_refused_with_the_room_left():
    fits = "p" * (64 - len("-external-secrets"))
    assert len(wi.role_name(fits, "external_secrets")) == 64
    with pytest.raises(ValueError) as error:
        wi.role_name(fits + "x", "external_secrets")
    assert str(error.value) == (
        "makes the IAM role name %r 65 characters long; IAM allows 64, so name_prefix may have at most 47 "
        "characters for the external_secrets workload" % (fits + "x-external-secrets"))


def test_a_role_name_iam_does_not_accept_is_refused():
    with pytest.raises(ValueError, match="which IAM does not accept"):
        wi.role_name("mlops dev", "mlflow")


# --- trust ---------------------------------------------------------------------------------------


def test_irsa_trust_is_exactly_one_service_account_of_the_clusters_provider():
    assert wi.trust_policy("irsa", "aws", ACCOUNT, PROVIDER, ISSUER, "mlflow", "mlflow", cluster_name=PREFIX) == {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "ServiceAccountWebIdentity",
            "Effect": "Allow",
            "Principal": {"Federated": PROVIDER},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
                ISSUER_HOST_PATH + ":sub": "system:serviceaccount:mlflow:mlflow",
                ISSUER_HOST_PATH + ":aud": "sts.amazonaws.com",
            }},
        }],
    }


def test_pod_identity_trust_is_the_documented_one_pinned_by_session_tags():
    assert wi.trust_policy("pod_identity", "aws", ACCOUNT, None, None, "kubeflow", "pipeline-runner",
                           cluster_name=PREFIX) == {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "AllowEksAuthToAssumeRoleForPodIdentity",
            "Effect": "Allow",
            "Principal": {"Service": "pods.eks.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
            "Condition": {"StringEquals": {
                "aws:RequestTag/kubernetes-namespace": "kubeflow",
                "aws:RequestTag/kubernetes-service-account": "pipeline-runner",
                "aws:RequestTag/eks-cluster-name": PREFIX,
            }},
        }],
    }


@pytest.mark.parametrize("kind", ["irsa", "pod_identity"])
def test_no_trust_holds_a_wildcard_or_a_like_operator(kind):
    text = json.dumps(wi.trust_policy(kind, "aws", ACCOUNT, PROVIDER, ISSUER, "kserve-models", "kserve-models",
                                      cluster_name=PREFIX))
    assert "*" not in text and "?" not in text and "Like" not in text


@pytest.mark.parametrize("namespace, service_account", [("mlflow", "*"), ("ml*", "mlflow"), ("mlflow", "${aws:x}"),
                                                        ("", "mlflow")])
def test_a_service_account_that_is_not_one_exact_name_is_refused(namespace, service_account):
    for kind in ("irsa", "pod_identity"):
        with pytest.raises(ValueError, match="must be one exact name"):
            wi.trust_policy(kind, "aws", ACCOUNT, PROVIDER, ISSUER, namespace, service_account)


def test_the_issuer_is_taken_without_scheme_or_trailing_slash():
    trust = wi.trust_policy("irsa", "aws", ACCOUNT, PROVIDER, ISSUER + "/", "mlflow", "mlflow")
    assert sorted(trust["Statement"][0]["Condition"]["StringEquals"]) == [ISSUER_HOST_PATH + ":aud",
                                                                          ISSUER_HOST_PATH + ":sub"]


def test_an_oidc_provider_of_another_issuer_account_or_partition_is_refused():
    """A trust on another issuer's :sub is never met: the pods would silently get no credentials."""
    other = "arn:aws:iam::%s:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/FFFF" % ACCOUNT
    assert "not of the cluster's issuer" in wi.oidc_problem(other, ISSUER)
    assert "is in the account 222222222222" in wi.oidc_problem(PROVIDER.replace(ACCOUNT, "222222222222"), ISSUER,
                                                               "aws", ACCOUNT)
    assert "partition aws" in wi.oidc_problem(PROVIDER, ISSUER, "aws-cn", ACCOUNT)
    assert "is not an IAM OIDC provider ARN" in wi.oidc_problem("arn:aws:iam::%s:role/x" % ACCOUNT, ISSUER)
    assert wi.oidc_problem(PROVIDER, ISSUER, "aws", ACCOUNT) is None
    with pytest.raises(ValueError, match="not of the cluster's issuer"):
        wi.trust_policy("irsa", "aws", ACCOUNT, other, ISSUER, "mlflow", "mlflow")


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="'oidc' is not an identity kind"):
        wi.trust_policy("oidc", "aws", ACCOUNT, PROVIDER, ISSUER, "mlflow", "mlflow")


# --- permissions ---------------------------------------------------------------------------------


def test_shared_bucket_lists_and_touches_only_the_zone_prefixes():
    """Feast reads raw/ and processed/, writes features/: nothing else of the bucket."""
    policies, managed = wi.permissions("feast", "aws", REGION, ACCOUNT, PREFIX, shared_lake())
    assert managed == []
    assert policies[wi.LAKE_POLICY] == {"Version": "2012-10-17", "Statement": [
        {"Sid": "LocateLakeBuckets", "Effect": "Allow", "Action": "s3:GetBucketLocation", "Resource": [SHARED]},
        {"Sid": "ListLakeZones", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": SHARED,
         "Condition": {"StringLike": {"s3:prefix": ["features/*", "processed/*", "raw/*"]}}},
        {"Sid": "ReadLakeObjects", "Effect": "Allow", "Action": ["s3:GetObject"],
         "Resource": [SHARED + "/processed/*", SHARED + "/raw/*"]},
        {"Sid": "WriteLakeObjects", "Effect": "Allow",
         "Action": ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:ListMultipartUploadParts",
                    "s3:PutObject"],
         "Resource": [SHARED + "/features/*"]},
        {"Sid": "UseLakeKey", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": KEY},
    ]}


def test_bucket_per_zone_gives_exactly_the_zones_buckets_whole():
    policies, unused = wi.permissions("feast", "aws", REGION, ACCOUNT, PREFIX, bucket_per_zone_lake())
    buckets = sorted(per_zone(zone) for zone in ("raw", "processed", "features"))
    assert policies[wi.LAKE_POLICY]["Statement"] == [
        {"Sid": "LocateLakeBuckets", "Effect": "Allow", "Action": "s3:GetBucketLocation", "Resource": buckets},
        {"Sid": "ListLakeBuckets", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": buckets},
        {"Sid": "ReadLakeObjects", "Effect": "Allow", "Action": ["s3:GetObject"],
         "Resource": [per_zone("processed") + "/*", per_zone("raw") + "/*"]},
        {"Sid": "WriteLakeObjects", "Effect": "Allow",
         "Action": ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:ListMultipartUploadParts",
                    "s3:PutObject"],
         "Resource": [per_zone("features") + "/*"]},
        {"Sid": "UseLakeKey", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": KEY},
    ]


def test_a_reader_gets_decrypt_only_and_no_write_statement():
    policies, unused = wi.permissions("kserve", "aws", REGION, ACCOUNT, PREFIX, shared_lake())
    statements = {statement["Sid"]: statement for statement in policies[wi.LAKE_POLICY]["Statement"]}
    assert sorted(statements) == ["ListLakeZones", "LocateLakeBuckets", "ReadLakeObjects", "UseLakeKey"]
    assert statements["ListLakeZones"]["Condition"] == {"StringLike": {"s3:prefix": ["models/*"]}}
    assert statements["ReadLakeObjects"]["Resource"] == [SHARED + "/models/*"]
    assert statements["UseLakeKey"]["Action"] == ["kms:Decrypt"]
    assert set(policies) == {wi.LAKE_POLICY}  # kserve reads no secrets


def test_every_s3_and_kms_resource_is_a_lake_zone_or_the_lake_key():
    for name in sorted(wi.IDENTITIES):
        for lake in (shared_lake(), bucket_per_zone_lake()):
            policies, unused = wi.permissions(name, "aws", REGION, ACCOUNT, PREFIX, lake)
            row = wi.IDENTITIES[name]
            allowed = {KEY}
            for zone in row.read_zones + row.write_zones:
                bucket = lake["buckets"][zone]
                allowed |= {bucket["arn"], "%s/%s*" % (bucket["arn"], bucket["prefix"])}
            for statement in policies.get(wi.LAKE_POLICY, {"Statement": []})["Statement"]:
                resources = statement["Resource"] if isinstance(statement["Resource"], list) \
                    else [statement["Resource"]]
                assert set(resources) <= allowed, (name, statement)
                assert statement["Effect"] == "Allow" and "s3:*" not in json.dumps(statement)


def test_no_lake_or_a_lake_without_the_zones_gives_no_lake_policy_and_no_key():
    assert wi.LAKE_POLICY not in wi.permissions("mlflow", "aws", REGION, ACCOUNT, PREFIX, None)[0]
    lake = {"buckets": {"raw": shared_lake()["buckets"]["raw"]}, "kms_key_arn": KEY}
    assert wi.LAKE_POLICY not in wi.permissions("mlflow", "aws", REGION, ACCOUNT, PREFIX, lake)[0]
    assert wi.lake_zones("mlflow", lake) == ([], [], ["artifacts", "models"])
    assert wi.lake_zones("feast", lake) == (["raw"], [], ["features", "processed"])


def test_own_secrets_are_the_workloads_path_only():
    policies, unused = wi.permissions("mlflow", "aws", REGION, ACCOUNT, PREFIX, None)
    assert policies == {wi.SECRETS_POLICY: {"Version": "2012-10-17", "Statement": [{
        "Sid": "ReadOwnSecrets", "Effect": "Allow",
        "Action": ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"],
        "Resource": "arn:aws:secretsmanager:eu-west-1:%s:secret:mlops-dev/mlflow/*" % ACCOUNT}]}}


def test_external_secrets_reads_the_environments_secrets_and_nothing_else():
    policies, managed = wi.permissions("external_secrets", "aws-us-gov", "us-gov-west-1", ACCOUNT, PREFIX,
                                       shared_lake())
    assert managed == []
    assert policies == {wi.SECRETS_POLICY: {"Version": "2012-10-17", "Statement": [{
        "Sid": "ReadEnvironmentSecrets", "Effect": "Allow",
        "Action": ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"],
        "Resource": "arn:aws-us-gov:secretsmanager:us-gov-west-1:%s:secret:mlops-dev/*" % ACCOUNT}]}}


def test_managed_policies_are_arns_of_the_partition_and_empty_policies_are_left_out():
    assert wi.permissions("ebs_csi_driver", "aws", REGION, ACCOUNT, PREFIX, shared_lake()) == (
        {}, ["arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"])
    assert wi.permissions("ebs_csi_driver", "aws-cn", "cn-north-1", ACCOUNT, PREFIX, None)[1] == [
        "arn:aws-cn:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"]


# --- pod usage -----------------------------------------------------------------------------------


def test_pod_usage_is_the_irsa_annotation_or_nothing():
    arn = "arn:aws:iam::%s:role/mlops-dev-mlflow" % ACCOUNT
    assert wi.pod_usage("irsa", arn) == {"annotations": {"eks.amazonaws.com/role-arn": arn}}
    usage = wi.pod_usage("pod_identity", arn)
    assert usage["annotations"] == {} and "association" in usage["note"]


def test_external_secrets_may_read_the_database_master_secret_and_no_one_else_may():
    master = "arn:aws:secretsmanager:%s:%s:secret:rds!db-0123-AbCdEf" % (REGION, ACCOUNT)
    policies, unused = wi.permissions("external_secrets", "aws", REGION, ACCOUNT, PREFIX, None,
                                      [master, wi.UNKNOWN_VALUE])
    statements = policies[wi.SECRETS_POLICY]["Statement"]
    assert statements[1] == {"Sid": "ReadEnvironmentSecretsElsewhere", "Effect": "Allow",
                             "Action": statements[0]["Action"], "Resource": [master]}
    mlflow, unused = wi.permissions("mlflow", "aws", REGION, ACCOUNT, PREFIX, None, [master])
    assert master not in json.dumps(mlflow)
