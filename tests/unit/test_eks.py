"""The eks component: pure planning logic, validation, and the module converging against moto.

moto serves clusters, IAM roles, KMS keys and OIDC providers, so the module's real
``main()`` runs against it. What moto lacks (managed add-ons, access entries, version
updates: NOTES.md) is served by botocore's Stubber, which checks every request and answer
against the real EKS API model; the rest of the same client stays on moto (``eks_api``).
"""

import collections
import json
import datetime

import boto3
import pytest
from botocore.stub import ANY, Stubber

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.mlops.platform.plugins.module_utils import config_schema as cfg
from ansible_collections.mlops.platform.plugins.module_utils import eks as eks_logic
from ansible_collections.mlops.platform.plugins.module_utils.config_schema import EKS
from ansible_collections.mlops.platform.plugins.modules import eks as module_under_test

from conftest import component_config, run_module, warnings, writes

REGION = "eu-west-1"
PREFIX = "mlops-dev"
ACCOUNT = "123456789012"
KEY = "mlops.platform/resource"
MANAGED = {"mlops.platform/managed": "true", "mlops.platform/environment": "dev", "mlops.platform/component": "eks"}
CALLER_ROLE = "arn:aws:iam::%s:role/my-user" % ACCOUNT  # moto's caller: arn:aws:sts::123456789012:user/moto


def config_with(**overrides):
    return component_config(EKS, **overrides)


def counts(calls):
    return dict(collections.Counter(operation for operation, response in calls))


# --- pure logic -------------------------------------------------------------------------------

def test_names_follow_the_prefix():
    assert eks_logic.names(PREFIX) == {"cluster": "mlops-dev", "cluster_role": "mlops-dev-eks-cluster",
                                       "node_role": "mlops-dev-eks-node", "kms_alias": "alias/mlops-dev-eks",
                                       "system_node_group": "mlops-dev-system"}


@pytest.mark.parametrize("live, wanted, expected", [
    ("1.35", "1.35", None),
    ("1.35", "1.36", "upgrade"),
    ("1.35.1", "1.36", "upgrade"),
])
def test_version_moves_one_minor_up_at_most(live, wanted, expected):
    assert eks_logic.version_change(live, wanted) == expected


@pytest.mark.parametrize("live, wanted, message", [
    ("1.34", "1.36", "is more than one minor above the cluster's version 1.34: EKS upgrades one minor at a time; "
                     "set 1.35 first"),
    ("1.36", "1.35", "is below the cluster's version 1.36: EKS cannot downgrade a cluster"),
])
def test_a_jump_or_a_downgrade_is_refused_with_the_path(live, wanted, message):
    error = eks_logic.version_change(live, wanted)
    assert error.path == "config.kubernetes_version"
    assert error.message == message


def test_the_support_calendar_warns_sixty_days_ahead_and_after_the_end():
    end = datetime.date(*map(int, cfg.EKS_STANDARD_SUPPORT["1.35"].split("-")))
    assert eks_logic.support_warning("1.35", end - datetime.timedelta(days=61)) is None
    soon = eks_logic.support_warning("1.35", end - datetime.timedelta(days=60))
    assert "leaves EKS standard support on %s (in 60 days)" % end.isoformat() in soon
    assert "left EKS standard support" in eks_logic.support_warning("1.35", end + datetime.timedelta(days=1))
    assert cfg.SUPPORTED_KUBERNETES_VERSIONS == sorted(cfg.EKS_STANDARD_SUPPORT)


@pytest.mark.parametrize("caller, principal", [
    ("arn:aws:sts::123456789012:assumed-role/Deployer/ansible-42", "arn:aws:iam::123456789012:role/Deployer"),
    ("arn:aws-cn:sts::123456789012:assumed-role/Deployer/x", "arn:aws-cn:iam::123456789012:role/Deployer"),
    ("arn:aws:iam::123456789012:user/alice", "arn:aws:iam::123456789012:user/alice"),
    ("arn:aws:iam::123456789012:root", None),
])
def test_the_runs_own_principal_is_its_role_not_its_session(caller, principal):
    assert eks_logic.principal_arn(caller) == principal


def test_the_addon_version_is_the_default_one_for_the_cluster_minor():
    answer = {"addons": [{"addonName": "coredns", "addonVersions": [
        {"addonVersion": "v1.12.4-eksbuild.1", "compatibilities": [{"clusterVersion": "1.35", "defaultVersion": False}]},
        {"addonVersion": "v1.12.2-eksbuild.4", "compatibilities": [{"clusterVersion": "1.35", "defaultVersion": True}]},
        {"addonVersion": "v1.13.0-eksbuild.1", "compatibilities": [{"clusterVersion": "1.36", "defaultVersion": True}]},
    ]}]}
    assert eks_logic.addon_default_version(answer, "coredns", "1.35") == "v1.12.2-eksbuild.4"
    assert eks_logic.addon_default_version(answer, "coredns", "1.36") == "v1.13.0-eksbuild.1"
    for version in answer["addons"][0]["addonVersions"]:
        version["compatibilities"][0]["defaultVersion"] = False
    assert eks_logic.addon_default_version(answer, "coredns", "1.35") == "v1.12.4-eksbuild.1"  # newest
    assert eks_logic.addon_default_version(answer, "kube-proxy", "1.35") is None


def test_the_create_request_uses_access_entries_only_and_encrypts_secrets():
    request = eks_logic.cluster_request(config_with(logging=["audit"]), eks_logic.names(PREFIX), "arn:role",
                                        ["subnet-a", "subnet-b"], "arn:key", MANAGED, "token")
    assert request["accessConfig"] == {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False}
    assert request["encryptionConfig"] == [{"resources": ["secrets"], "provider": {"keyArn": "arn:key"}}]
    assert request["resourcesVpcConfig"] == {"subnetIds": ["subnet-a", "subnet-b"], "endpointPublicAccess": False,
                                             "endpointPrivateAccess": True}
    assert request["logging"] == {"clusterLogging": [
        {"types": ["audit"], "enabled": True},
        {"types": ["api", "authenticator", "controllerManager", "scheduler"], "enabled": False}]}
    public = eks_logic.cluster_request(config_with(endpoint_public_access=True, public_access_cidrs=["192.0.2.0/24"],
                                                   secrets_encryption=False),
                                       eks_logic.names(PREFIX), "arn:role", ["s"], None, {}, "t")
    assert public["resourcesVpcConfig"]["publicAccessCidrs"] == ["192.0.2.0/24"]
    assert "encryptionConfig" not in public


def test_the_live_cluster_is_changed_one_update_at_a_time_in_order():
    live = {"name": PREFIX, "version": "1.35", "logging": {"clusterLogging": [{"types": ["api"], "enabled": True}]},
            "resourcesVpcConfig": {"endpointPublicAccess": False, "endpointPrivateAccess": True},
            "accessConfig": {"authenticationMode": "API_AND_CONFIG_MAP"}}
    changes = eks_logic.cluster_changes(config_with(kubernetes_version="1.36", logging=["audit"]), live, "arn:key")
    assert [(key, operation) for key, _value, operation, _arguments in changes] == [
        ("version", "update_cluster_version"), ("secrets_key_arn", "associate_encryption_config"),
        ("logging", "update_cluster_config"), ("authentication_mode", "update_cluster_config")]
    assert changes[0][3] == {"name": PREFIX, "version": "1.36"}
    assert changes[1][3]["clusterName"] == PREFIX
    assert eks_logic.cluster_changes(config_with(logging=["api"], secrets_encryption=False),
                                     dict(live, accessConfig={"authenticationMode": "API"}), None) == []


def test_what_a_plan_does_not_know_yet_is_not_compared_with_the_live_cluster():
    live = {"name": PREFIX, "version": "1.35", "roleArn": "arn:aws:iam::1:role/cluster",
            "resourcesVpcConfig": {"subnetIds": ["subnet-a", "subnet-b"]},
            "encryptionConfig": [{"resources": ["secrets"], "provider": {"keyArn": "arn:key"}}]}
    config = config_with(kubernetes_version="1.35")
    unknown = "(known after apply)"
    assert eks_logic.refused_changes(config, live, [unknown, unknown], unknown, unknown) == []
    assert sorted(error.path for error in eks_logic.refused_changes(
        config, live, ["subnet-c"], "arn:aws:iam::1:role/other", "arn:other-key")) == [
        "name_prefix", "name_prefix", "subnet_ids"]


def test_access_entries_of_others_are_never_changed_and_old_admins_go():
    wanted = eks_logic.wanted_principals(["arn:aws:iam::1:role/admin"],
                                         "arn:aws:sts::111111111111:assumed-role/Ops/session")
    assert wanted == {"arn:aws:iam::1:role/admin": eks_logic.ADMIN_ENTRY,
                      "arn:aws:iam::111111111111:role/Ops": eks_logic.OPERATOR_ENTRY}
    admin = {KEY: eks_logic.ADMIN_ENTRY}
    assert eks_logic.access_entry_action("arn:aws:iam::1:role/admin", {}, wanted, False) == "foreign"
    assert eks_logic.access_entry_action("arn:aws:iam::1:role/node", {}, wanted, False) == "ignore"
    assert eks_logic.access_entry_action("arn:aws:iam::1:role/admin", admin, wanted, True) == "check"
    assert eks_logic.access_entry_action("arn:aws:iam::1:role/gone", admin, wanted, True) == "delete"
    assert eks_logic.access_entry_action("arn:aws:iam::1:role/laptop", {KEY: eks_logic.OPERATOR_ENTRY}, wanted,
                                         True) == "keep"


# --- bad input, refused before any call, with the dotted path ---------------------------------

def infrastructure(eks=None, gpu_nodes=None):
    return {
        "mlops_environment": {"name": "dev", "region": REGION},
        "mlops_infrastructure": {
            "network": {"enabled": True},
            "eks": {"enabled": True, "config": eks or {}},
            "gpu_nodes": {"enabled": gpu_nodes is not None, "config": gpu_nodes or {}},
        },
    }


def problems(variables):
    return sorted(str(error) for error in cfg.validate(variables)[1])


def test_a_valid_cluster_and_gpu_groups_pass():
    assert problems(infrastructure({"kubernetes_version": "1.36"}, {"node_groups": {
        "a10": {"instance_types": ["g5.xlarge", "g5.2xlarge"]},
        "h100": {"instance_types": ["p5.48xlarge"], "ami_type": "BOTTLEROCKET_x86_64_NVIDIA", "capacity_type": "SPOT"},
    }})) == []


@pytest.mark.parametrize("eks, gpu_nodes, expected", [
    ({"kubernetes_version": "1.30"}, None, "mlops_infrastructure.eks.config.kubernetes_version: '1.30' is not one of"),
    ({"system_node_group": {"instance_types": ["g5.xlarge"]}}, None,
     "mlops_infrastructure.eks.config.system_node_group: uses the AMI type AL2023_x86_64_STANDARD, which has no "
     "NVIDIA driver, on the GPU instance type g5.xlarge"),
    ({"system_node_group": {"min_size": 3, "max_size": 2}}, None,
     "mlops_infrastructure.eks.config.system_node_group: needs min_size <= max_size, got 3 > 2"),
    ({"system_node_group": {"desired_size": 9}}, None,
     "mlops_infrastructure.eks.config.system_node_group: needs min_size <= desired_size <= max_size, got 2 <= 9 <= 4"),
    ({"workload_identity": {"kind": "static_keys"}}, None,
     "mlops_infrastructure.eks.config.workload_identity.kind: 'static_keys' is not one of"),
    ({"workload_identity": {"workloads": {"mlflow": {"kind": "kiam"}}}}, None,
     "mlops_infrastructure.eks.config.workload_identity.workloads.mlflow.kind: 'kiam' is not one of"),
    ({"workload_identity": {"workloads": {"mlflow": {"service_account": "MLflow_Server"}}}}, None,
     "mlops_infrastructure.eks.config.workload_identity.workloads.mlflow.service_account"),
    ({"workload_identity": {"workloads": {"jupyter": {"kind": "irsa"}}}}, None,
     "mlops_infrastructure.eks.config.workload_identity.workloads.jupyter: is not one of the known names"),
    ({"endpoint_private_access": False}, None, None),  # checked by the module (both off), see below
    ({"workload_identity": {"workloads": {"vllm": {"kind": "pod_identity"}}}, "addons": ["vpc-cni", "coredns"]},
     None, "mlops_infrastructure.eks.config.addons: lacks eks-pod-identity-agent, which EKS Pod Identity "
           "needs (workload_identity gives it to vllm)"),
    (None, {"node_groups": {"gpu": {"instance_types": ["m6i.large"]}}},
     "mlops_infrastructure.gpu_nodes.config.node_groups.gpu: uses the GPU AMI type AL2023_x86_64_NVIDIA on "
     "m6i.large, which has no NVIDIA GPU"),
    (None, {"node_groups": {"gpu": {"ami_type": "AL2023_ARM_64_NVIDIA"}}},
     "mlops_infrastructure.gpu_nodes.config.node_groups.gpu: uses the Arm AMI type AL2023_ARM_64_NVIDIA on g5.xlarge"),
    (None, {"node_groups": {"gpu": {"instance_types": ["g5.xlarge", "g5.12xlarge"]}}},
     "mlops_infrastructure.gpu_nodes.config.node_groups.gpu: mixes instance types with different GPU counts"),
    (None, {"node_groups": {"gpu": {"instance_types": ["x9.huge"]}}},
     "mlops_infrastructure.gpu_nodes.config.node_groups.gpu: names the instance type x9.huge, which the "
     "instance-type table does not describe"),
    (None, {"node_groups": {"gpu": {"taints": [{"key": "nvidia.com/gpu", "effect": "NoScheduleish"}]}}},
     "mlops_infrastructure.gpu_nodes.config.node_groups.gpu.taints[0].effect: 'NoScheduleish' is not one of"),
    (None, {"node_groups": {"gpu": {"min_size": 0, "max_size": 2, "desired_size": 3}}},
     "mlops_infrastructure.gpu_nodes.config.node_groups.gpu: needs min_size <= desired_size <= max_size"),
])
def test_bad_input_is_refused_with_its_path(eks, gpu_nodes, expected):
    found = problems(infrastructure(eks, gpu_nodes))
    if expected is None:
        assert found == []
    else:
        path, message = expected.split(": ", 1) if ": " in expected else (expected, "")
        assert any(problem.startswith(path + ": ") and message in problem for problem in found), found


# --- the module against moto ------------------------------------------------------------------

@pytest.fixture
def subnets(managed_policies, aws):
    """Two private subnets; IAM knows the AWS managed policies, as the local stand-in does."""
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    return [ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.%d.0/24" % index, AvailabilityZone=REGION + zone)
            ["Subnet"]["SubnetId"] for index, zone in enumerate("ab")]


def args_with(subnet_ids, check=False, **config):
    args = {"config": config, "environment": "dev", "name_prefix": PREFIX, "subnet_ids": subnet_ids,
            "region": REGION}
    if check:
        args["_ansible_check_mode"] = True
    return args


def converge(capsys, subnet_ids, check=False, **config):
    return run_module(capsys, module_under_test.main, args_with(subnet_ids, check, **config))


def test_converge_from_nothing_then_nothing_to_do(subnets, api_calls, capsys):
    rc, result = converge(capsys, subnets)
    assert rc == 0, result.get("msg")
    assert result["changed"]
    cluster = boto3.client("eks", region_name=REGION).describe_cluster(name=PREFIX)["cluster"]
    assert cluster["version"] == cfg.VERSIONS["kubernetes"]
    assert cluster["tags"] == MANAGED
    assert cluster["roleArn"] == result["cluster_role_arn"]
    assert cluster["encryptionConfig"][0]["provider"]["keyArn"] == result["kms_key_arn"]
    assert sorted(cluster["resourcesVpcConfig"]["subnetIds"]) == sorted(subnets)
    assert eks_logic.live_logging(cluster) == ["api", "audit", "authenticator"]
    create = [params for operation, params in api_calls if operation == "CreateCluster"]
    assert len(create) == 1
    iam = boto3.client("iam")
    provider = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=result["oidc_provider_arn"])
    assert provider["ClientIDList"] == ["sts.amazonaws.com"]
    assert "https://" + provider["Url"] == result["oidc_issuer"] == cluster["identity"]["oidc"]["issuer"]
    attached = iam.list_attached_role_policies(RoleName="mlops-dev-eks-node")["AttachedPolicies"]
    assert sorted(policy["PolicyName"] for policy in attached) == sorted(eks_logic.NODE_POLICIES)
    # What moto lacks is named, once each, not silently dropped.
    assert result["unsupported"] == ["access entries", "managed add-ons"]
    assert result["ansible_facts"]["mlops_eks"]["cluster_name"] == PREFIX

    del api_calls[:]
    rc, again = converge(capsys, subnets)
    assert rc == 0 and not again["changed"], again["diff"]
    assert writes(api_calls) == []
    # The no-op run's reads, counted: one per resource (three roles: cluster, nodes, EBS CSI
    # driver), and one probe per EKS feature the stand-in lacks.
    assert again["api_calls"] == {"total": 18, "writes": 0, "by_operation": {
        "GetCallerIdentity": 1, "GetRole": 3, "ListAttachedRolePolicies": 3, "GetRolePolicy": 2,
        "DescribeKey": 1, "ListResourceTags": 1, "GetKeyRotationStatus": 1, "DescribeCluster": 1,
        "GetOpenIDConnectProvider": 1, "ListAccessEntries": 1, "DescribeAddonVersions": 1,
        "ListPodIdentityAssociations": 1, "DescribeNodegroup": 1}}, json.dumps(again["api_calls"])

    rc, planned = converge(capsys, subnets, check=True)
    assert rc == 0 and not planned["changed"], planned["diff"]


def test_check_mode_on_nothing_predicts_everything_and_writes_nothing(subnets, api_calls, capsys):
    rc, result = converge(capsys, subnets, check=True)
    assert rc == 0, result.get("msg")
    assert result["changed"]
    assert writes(api_calls) == []
    after = result["diff"]["after"]
    assert after["cluster"]["status"] == "CREATING" and after["cluster"]["version"] == cfg.VERSIONS["kubernetes"]
    assert after["cluster_role"]["name"] == "mlops-dev-eks-cluster"
    assert after["oidc_provider"]["client_ids"] == ["sts.amazonaws.com"]
    assert result["cluster_arn"] == "(known after apply)"


def test_wait_false_starts_the_cluster_and_leaves_the_rest_for_later(subnets, api_calls, capsys):
    rc, result = run_module(capsys, module_under_test.main, dict(args_with(subnets), wait=False))
    assert rc == 0, result.get("msg")
    assert "CreateCluster" in counts(api_calls)
    assert "CreateOpenIDConnectProvider" not in counts(api_calls)
    assert result["oidc_provider_arn"] is None
    rc, result = converge(capsys, subnets)
    assert rc == 0 and result["changed"]  # now the OIDC provider
    assert "CreateOpenIDConnectProvider" in counts(api_calls)


def test_logging_and_endpoint_access_change_in_place(subnets, api_calls, capsys):
    converge(capsys, subnets)
    del api_calls[:]
    rc, result = converge(capsys, subnets, logging=["api", "audit", "scheduler"], endpoint_public_access=True,
                          public_access_cidrs=["192.0.2.0/24"])
    assert rc == 0, result.get("msg")
    assert result["changed"]
    assert counts(api_calls)["UpdateClusterConfig"] == 2
    assert result["diff"]["before"]["cluster"]["logging"] == ["api", "audit", "authenticator"]
    assert result["diff"]["after"]["cluster"]["logging"] == ["api", "audit", "scheduler"]
    assert result["diff"]["after"]["cluster"]["endpoint_access"] == {
        "endpointPublicAccess": True, "endpointPrivateAccess": True, "publicAccessCidrs": ["192.0.2.0/24"]}
    rc, again = converge(capsys, subnets, logging=["api", "audit", "scheduler"], endpoint_public_access=True,
                         public_access_cidrs=["192.0.2.0/24"])
    assert rc == 0 and not again["changed"], again["diff"]


def test_a_cluster_of_the_same_name_made_by_someone_else_is_refused(subnets, api_calls, capsys):
    boto3.client("eks", region_name=REGION).create_cluster(
        name=PREFIX, roleArn="arn:aws:iam::%s:role/theirs" % ACCOUNT, resourcesVpcConfig={"subnetIds": subnets})
    del api_calls[:]
    rc, result = converge(capsys, subnets)
    assert rc == 1
    assert result["msg"].startswith("name_prefix: names the EKS cluster mlops-dev, which exists but is not owned")
    assert writes(api_calls) == []


def owned_cluster(subnets, version, **extra):
    boto3.client("eks", region_name=REGION).create_cluster(
        name=PREFIX, version=version, roleArn="arn:aws:iam::%s:role/mlops-dev-eks-cluster" % ACCOUNT,
        resourcesVpcConfig={"subnetIds": subnets}, tags=MANAGED, **extra)


@pytest.mark.parametrize("live, wanted, message", [
    ("1.34", "1.36", "config.kubernetes_version: '1.36' is more than one minor above the cluster's version 1.34"),
    ("1.36", "1.35", "config.kubernetes_version: '1.35' is below the cluster's version 1.36"),
])
def test_version_jumps_and_downgrades_are_refused_before_any_write(subnets, api_calls, capsys, live, wanted,
                                                                   message):
    owned_cluster(subnets, live)
    del api_calls[:]
    rc, result = converge(capsys, subnets, kubernetes_version=wanted)
    assert rc == 1
    assert message in result["msg"], result["msg"]
    assert [operation for operation in writes(api_calls) if operation.startswith(("Update", "Associate"))] == []


def test_secrets_encryption_cannot_be_turned_off(subnets, capsys):
    converge(capsys, subnets)
    rc, result = converge(capsys, subnets, secrets_encryption=False)
    assert rc == 1
    assert "config.secrets_encryption: false is false, but the cluster's secrets are encrypted" in result["msg"] \
        or "config.secrets_encryption" in result["msg"]


def test_other_subnets_are_refused_not_replaced(subnets, capsys):
    converge(capsys, subnets)
    rc, result = converge(capsys, subnets[:1])
    assert rc == 1
    assert "subnet_ids: differ from the cluster's subnets" in result["msg"]


def test_no_endpoint_at_all_is_refused(subnets, api_calls, capsys):
    rc, result = converge(capsys, subnets, endpoint_private_access=False)
    assert rc == 1
    assert "config.endpoint_private_access: false is false and so is endpoint_public_access" in result["msg"]
    assert api_calls == []


# --- what moto lacks: the same client, with those operations on botocore's Stubber -------------

STUBBED = ("describe_addon_versions", "describe_addon", "create_addon", "update_addon", "list_access_entries",
           "describe_access_entry", "create_access_entry", "delete_access_entry", "list_associated_access_policies",
           "associate_access_policy", "list_updates", "update_cluster_version", "list_pod_identity_associations",
           "associate_encryption_config")


class Router:
    """An EKS client whose ``STUBBED`` operations go to a Stubber, the rest to moto."""

    def __init__(self, moto_client, stubbed_client):
        self._moto = moto_client
        self._stubbed = stubbed_client

    def __getattr__(self, name):
        return getattr(self._stubbed if name in STUBBED else self._moto, name)

    def get_paginator(self, operation):
        return (self._stubbed if operation in STUBBED else self._moto).get_paginator(operation)


@pytest.fixture
def eks_api(monkeypatch, subnets):
    """The module's EKS clients, moto's for what moto serves and a Stubber's for the rest."""
    stubbed = boto3.client("eks", region_name=REGION)
    stubber = Stubber(stubbed)
    parent_client = AnsibleAWSModule.client

    def client(module, service, retry_decorator=None, **extra_params):
        made = parent_client(module, service, retry_decorator=retry_decorator, **extra_params)
        if service != "eks":
            return made
        if hasattr(made, "client"):  # amazon.aws's retry wrapper
            made.client = Router(made.client, stubbed)
            return made
        return Router(made, stubbed)

    monkeypatch.setattr(AnsibleAWSModule, "client", client)
    stubber.activate()
    yield stubber
    stubber.deactivate()


def not_found(stubber, operation, params=None):
    stubber.add_client_error(operation, "ResourceNotFoundException", "not found", 404, expected_params=params)


def addon_versions(addon, version, default):
    return {"addons": [{"addonName": addon, "addonVersions": [
        {"addonVersion": default, "compatibilities": [{"clusterVersion": version, "defaultVersion": True}]}]}]}


def expect_admin_policy(stubber, principal):
    """The cluster-scoped admin policy associated with the entry of ``principal``."""
    stubber.add_response("associate_access_policy", {"clusterName": PREFIX, "principalArn": principal},
                         {"clusterName": PREFIX, "principalArn": principal,
                          "policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
                          "accessScope": {"type": "cluster"}})


def expect_operator_entry(stubber, principal, policy):
    """Our entry for the run's ``principal``, read, with the cluster-scoped access ``policy`` (a name)."""
    stubber.add_response("describe_access_entry", {"accessEntry": {
        "clusterName": PREFIX, "principalArn": principal, "tags": dict(MANAGED, **{KEY: "access-entry/operator"})}},
        {"clusterName": PREFIX, "principalArn": principal})
    stubber.add_response("list_associated_access_policies", {"clusterName": PREFIX, "associatedAccessPolicies": [
        {"policyArn": "arn:aws:eks::aws:cluster-access-policy/" + policy, "accessScope": {"type": "cluster"}}]},
        {"clusterName": PREFIX, "principalArn": principal})


def test_addons_and_access_entries_are_made_on_an_endpoint_that_serves_them(eks_api, subnets, capsys):
    owned_cluster(subnets, "1.35")
    # Access entries: the probe, then the list, then one new entry for the caller.
    eks_api.add_response("list_access_entries", {"accessEntries": []},
                         {"clusterName": PREFIX, "maxResults": 1})
    old_admin, old_operator, node = ("arn:aws:iam::%s:role/%s" % (ACCOUNT, role)
                                     for role in ("old-admin", "laptop", "node"))
    eks_api.add_response("list_access_entries", {"accessEntries": [old_admin, old_operator, node]},
                         {"clusterName": PREFIX})
    # Made for an admin no longer configured: deleted. Made for an earlier run's principal: kept.
    # Not ours (EKS made it for a node role): never touched.
    for principal, tags in ((old_admin, dict(MANAGED, **{KEY: "access-entry/admin"})),
                            (old_operator, dict(MANAGED, **{KEY: "access-entry/operator"})), (node, {})):
        eks_api.add_response("describe_access_entry", {"accessEntry": {
            "clusterName": PREFIX, "principalArn": principal, "tags": tags, "type": "STANDARD"}},
            {"clusterName": PREFIX, "principalArn": principal})
        if principal == old_admin:
            eks_api.add_response("delete_access_entry", {}, {"clusterName": PREFIX, "principalArn": principal})
    caller = boto3.client("sts").get_caller_identity()["Arn"]
    admin = "arn:aws:iam::%s:role/platform-admins" % ACCOUNT
    for principal, why in sorted([(admin, "access-entry/admin"), (caller, "access-entry/operator")]):
        eks_api.add_response("create_access_entry", {"accessEntry": {"principalArn": principal}},
                             {"clusterName": PREFIX, "principalArn": principal, "type": "STANDARD",
                              "tags": dict(MANAGED, **{KEY: why}), "clientRequestToken": ANY})
        expect_admin_policy(eks_api, principal)
    # Add-ons: the probe; the EBS CSI driver (not wanted) is looked for, since its role stays
    # while it is installed; then per add-on a read, its default version, and its creation.
    eks_api.add_response("describe_addon_versions", {"addons": []}, {"maxResults": 1})
    not_found(eks_api, "describe_addon", {"clusterName": PREFIX, "addonName": "aws-ebs-csi-driver"})
    for addon in ["vpc-cni", "coredns"]:
        not_found(eks_api, "describe_addon", {"clusterName": PREFIX, "addonName": addon})
        eks_api.add_response("describe_addon_versions", addon_versions(addon, "1.35", "v1.0.0-eksbuild.1"),
                             {"kubernetesVersion": "1.35", "addonName": addon})
        eks_api.add_response("create_addon", {"addon": {"addonName": addon}},
                             {"clusterName": PREFIX, "addonName": addon, "addonVersion": "v1.0.0-eksbuild.1",
                              "resolveConflicts": "OVERWRITE", "tags": MANAGED, "clientRequestToken": ANY})
    rc, result = converge(capsys, subnets, addons=["vpc-cni", "coredns"], secrets_encryption=False,
                          admin_principal_arns=["arn:aws:iam::%s:role/platform-admins" % ACCOUNT])
    assert rc == 0, result.get("msg")
    eks_api.assert_no_pending_responses()
    assert result["unsupported"] == []
    assert result["access_entries"] == sorted([admin, caller, old_operator])
    assert result["addons"]["coredns"] == {"version": "v1.0.0-eksbuild.1", "status": "CREATING", "owned": True}
    assert result["diff"]["before"]["access_entries"] == sorted([old_admin, old_operator])


def test_raising_the_version_upgrades_the_control_plane_then_the_addons(eks_api, subnets, capsys):
    owned_cluster(subnets, "1.35")
    eks_api.add_response("list_updates", {"updateIds": []}, {"name": PREFIX, "maxResults": 1})
    eks_api.add_response("update_cluster_version", {"update": {"id": "u-1", "status": "InProgress",
                                                               "type": "VersionUpdate"}},
                         {"name": PREFIX, "version": "1.36", "clientRequestToken": ANY})
    eks_api.add_response("list_access_entries", {"accessEntries": []}, {"clusterName": PREFIX, "maxResults": 1})
    caller = boto3.client("sts").get_caller_identity()["Arn"]
    eks_api.add_response("list_access_entries", {"accessEntries": [caller]}, {"clusterName": PREFIX})
    expect_operator_entry(eks_api, caller, "AmazonEKSClusterAdminPolicy")
    eks_api.add_response("describe_addon_versions", {"addons": []}, {"maxResults": 1})
    not_found(eks_api, "describe_addon", {"clusterName": PREFIX, "addonName": "aws-ebs-csi-driver"})
    eks_api.add_response("describe_addon", {"addon": {"addonName": "kube-proxy", "clusterName": PREFIX,
                                                      "addonVersion": "v1.35.0-eksbuild.2", "status": "ACTIVE",
                                                      "tags": MANAGED}},
                         {"clusterName": PREFIX, "addonName": "kube-proxy"})
    # moto's cluster does not move to 1.36, so the add-on versions are those of the cluster as read.
    eks_api.add_response("describe_addon_versions", addon_versions("kube-proxy", "1.35", "v1.35.1-eksbuild.1"),
                         {"kubernetesVersion": "1.35", "addonName": "kube-proxy"})
    eks_api.add_response("update_addon", {"update": {"id": "u-2", "status": "InProgress", "type": "VersionUpdate"}},
                         {"clusterName": PREFIX, "addonName": "kube-proxy", "addonVersion": "v1.35.1-eksbuild.1",
                          "resolveConflicts": "PRESERVE", "clientRequestToken": ANY})
    rc, result = converge(capsys, subnets, kubernetes_version="1.36", addons=["kube-proxy"], secrets_encryption=False)
    assert rc == 0, result.get("msg")
    eks_api.assert_no_pending_responses()
    assert result["diff"]["before"]["cluster"]["version"] == "1.35"
    assert result["diff"]["after"]["cluster"]["version"] == "1.36"
    assert result["diff"]["after"]["addons"] == {"kube-proxy": "v1.35.1-eksbuild.1"}


def test_secrets_encryption_is_turned_on_for_a_cluster_that_has_none(eks_api, subnets, capsys):
    owned_cluster(subnets, "1.35")  # made without encryption
    eks_api.add_response("associate_encryption_config", {"update": {"id": "u-3", "status": "InProgress",
                                                                    "type": "AssociateEncryptionConfig"}},
                         {"clusterName": PREFIX, "clientRequestToken": ANY,
                          "encryptionConfig": [{"resources": ["secrets"], "provider": {"keyArn": ANY}}]})
    rc, result = run_module(capsys, module_under_test.main, dict(args_with(subnets), wait=False))
    assert rc == 0, result.get("msg")
    eks_api.assert_no_pending_responses()
    assert result["diff"]["before"]["cluster"]["secrets_key_arn"] is None
    assert result["diff"]["after"]["cluster"]["secrets_key_arn"] == result["kms_key_arn"]
    assert result["kms_key_arn"].startswith("arn:aws:kms:")


def test_an_entry_of_ours_gets_its_admin_policy_and_one_of_someone_else_is_left_alone(eks_api, subnets, capsys):
    owned_cluster(subnets, "1.35")
    caller = boto3.client("sts").get_caller_identity()["Arn"]
    admin = "arn:aws:iam::%s:role/platform-admins" % ACCOUNT
    eks_api.add_response("list_access_entries", {"accessEntries": []}, {"clusterName": PREFIX, "maxResults": 1})
    eks_api.add_response("list_access_entries", {"accessEntries": [admin, caller]}, {"clusterName": PREFIX})
    # The configured admin's entry was made by someone else: never changed, its policies not read.
    eks_api.add_response("describe_access_entry", {"accessEntry": {"clusterName": PREFIX, "principalArn": admin}},
                         {"clusterName": PREFIX, "principalArn": admin})
    expect_operator_entry(eks_api, caller, "AmazonEKSViewPolicy")
    expect_admin_policy(eks_api, caller)
    eks_api.add_response("describe_addon_versions", {"addons": []}, {"maxResults": 1})
    not_found(eks_api, "describe_addon", {"clusterName": PREFIX, "addonName": "aws-ebs-csi-driver"})
    rc, result = converge(capsys, subnets, addons=[], secrets_encryption=False, admin_principal_arns=[admin])
    assert rc == 0, result.get("msg")
    eks_api.assert_no_pending_responses()
    assert result["changed"]
    assert result["access_entries"] == [caller]
    assert result["diff"]["before"]["access_entries"] == result["diff"]["after"]["access_entries"] == [caller]
    assert "The access entry of %s was not made by this collection: it is left as it is, and its access " \
           "policies are not checked." % admin in warnings(result)


@pytest.mark.parametrize("check", [False, True])
def test_addons_of_others_and_newer_ones_are_left_and_ours_gets_its_role(eks_api, subnets, capsys, check):
    owned_cluster(subnets, "1.35")
    role = "arn:aws:iam::%s:role/mlops-dev-ebs-csi-driver" % ACCOUNT
    eks_api.add_client_error("list_access_entries", "NotImplemented", "Not yet implemented", 404,
                             expected_params={"clusterName": PREFIX, "maxResults": 1})
    # The EBS CSI driver's IRSA role: any Pod Identity association of ours for it would go.
    eks_api.add_response("list_pod_identity_associations", {"associations": []},
                         {"clusterName": PREFIX, "maxResults": 1})
    eks_api.add_response("list_pod_identity_associations", {"associations": []}, {"clusterName": PREFIX})
    eks_api.add_response("describe_addon_versions", {"addons": []}, {"maxResults": 1})
    live = {"aws-ebs-csi-driver": ("v1.50.0-eksbuild.1", MANAGED, "arn:aws:iam::%s:role/old" % ACCOUNT),
            "coredns": ("v1.11.0-eksbuild.1", {}, None),
            "kube-proxy": ("v1.35.2-eksbuild.1", MANAGED, None)}
    for addon, (version, tags, role_arn) in live.items():
        addon_live = {"addonName": addon, "clusterName": PREFIX, "addonVersion": version, "status": "ACTIVE",
                      "tags": tags}
        if role_arn:
            addon_live["serviceAccountRoleArn"] = role_arn
        eks_api.add_response("describe_addon", {"addon": addon_live}, {"clusterName": PREFIX, "addonName": addon})
        # The defaults: the same version, a newer one (someone else's add-on), an older one.
        default = {"aws-ebs-csi-driver": version, "coredns": "v1.12.0-eksbuild.1",
                   "kube-proxy": "v1.35.1-eksbuild.1"}[addon]
        eks_api.add_response("describe_addon_versions", addon_versions(addon, "1.35", default),
                             {"kubernetesVersion": "1.35", "addonName": addon})
        if addon == "aws-ebs-csi-driver" and not check:
            eks_api.add_response("update_addon", {"update": {"id": "u-4", "status": "InProgress",
                                                             "type": "AddonUpdate"}},
                                 {"clusterName": PREFIX, "addonName": addon, "serviceAccountRoleArn": role,
                                  "resolveConflicts": "PRESERVE", "clientRequestToken": ANY})
    rc, result = converge(capsys, subnets, check=check, addons=list(live), secrets_encryption=False)
    assert rc == 0, result.get("msg")
    eks_api.assert_no_pending_responses()
    assert result["changed"]
    assert result["unsupported"] == ["access entries"]
    assert result["addons"] == {"aws-ebs-csi-driver": {"version": "v1.50.0-eksbuild.1", "status": "ACTIVE",
                                                       "owned": True},
                                "coredns": {"version": "v1.11.0-eksbuild.1", "status": "ACTIVE", "owned": False},
                                "kube-proxy": {"version": "v1.35.2-eksbuild.1", "status": "ACTIVE", "owned": True}}
    assert result["diff"]["before"]["addons"] == result["diff"]["after"]["addons"] == dict(
        (addon, version) for addon, (version, unused, unused_role) in live.items())
    assert "The add-on coredns was not made by this collection: it is left as it is." in warnings(result)


# --- the OIDC provider --------------------------------------------------------------------------

def issuer_provider(result, client_ids, tags):
    """Replace the converged OIDC provider by one with ``client_ids`` and ``tags``."""
    iam = boto3.client("iam")
    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=result["oidc_provider_arn"])
    iam.create_open_id_connect_provider(Url=result["oidc_issuer"], ClientIDList=client_ids,
                                        Tags=[{"Key": key, "Value": value} for key, value in tags.items()])


def test_an_oidc_provider_someone_else_made_is_used_as_it_is(subnets, api_calls, capsys):
    rc, result = converge(capsys, subnets)
    issuer_provider(result, ["sts.amazonaws.com", "other"], {})
    del api_calls[:]
    rc, result = converge(capsys, subnets)
    assert rc == 0 and not result["changed"], result["diff"]
    assert writes(api_calls) == []
    assert "The IAM OIDC provider %s was not made by this collection: it is used as it is and not changed." \
        % result["oidc_provider_arn"] in warnings(result)


def test_an_oidc_provider_of_ours_gets_the_audience_and_tags_it_lacks(subnets, api_calls, capsys):
    args = dict(args_with(subnets), tags={"Project": "mlops"})
    rc, result = run_module(capsys, module_under_test.main, args)
    assert rc == 0, result.get("msg")
    issuer_provider(result, ["other"], MANAGED)
    del api_calls[:]
    rc, planned = run_module(capsys, module_under_test.main, dict(args, _ansible_check_mode=True))
    assert rc == 0 and planned["changed"]
    assert writes(api_calls) == []
    assert planned["diff"]["before"]["oidc_provider"]["client_ids"] == ["other"]
    assert planned["diff"]["after"]["oidc_provider"]["client_ids"] == ["other", "sts.amazonaws.com"]
    # With the audience there, only the environment's tag is missing (the stand-in lacks
    # AddClientIDToOpenIDConnectProvider, not TagOpenIDConnectProvider).
    issuer_provider(result, ["sts.amazonaws.com"], MANAGED)
    del api_calls[:]
    rc, tagged = run_module(capsys, module_under_test.main, args)
    assert rc == 0 and tagged["changed"], tagged.get("msg")
    assert writes(api_calls) == ["TagOpenIDConnectProvider"]
    provider = boto3.client("iam").get_open_id_connect_provider(OpenIDConnectProviderArn=result["oidc_provider_arn"])
    assert {"Key": "Project", "Value": "mlops"} in provider["Tags"]
    assert tagged["diff"]["before"]["oidc_provider"] == tagged["diff"]["after"]["oidc_provider"]


# --- a lost answer never makes a second cluster ----------------------------------------------

def test_a_lost_create_cluster_answer_adopts_the_cluster_it_made(subnets, lose_answers, capsys):
    lost = lose_answers("CreateCluster", "CreateOpenIDConnectProvider")
    rc, result = converge(capsys, subnets)
    assert rc == 0, result.get("msg")
    assert lost == ["CreateCluster", "CreateOpenIDConnectProvider"]
    assert boto3.client("eks", region_name=REGION).list_clusters()["clusters"] == [PREFIX]
    assert len(boto3.client("iam").list_open_id_connect_providers()["OpenIDConnectProviderList"]) == 1
    assert result["cluster_arn"].endswith(":cluster/" + PREFIX)
    rc, again = converge(capsys, subnets)
    assert rc == 0 and not again["changed"], again["diff"]


# --- a cluster that is busy (creating or updating) ---------------------------------------------

def set_status(status):
    """The stand-in's cluster in another status (moto makes every cluster ACTIVE at once)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.eks.models import eks_backends

    eks_backends[DEFAULT_ACCOUNT_ID][REGION].clusters[PREFIX].status = status


def test_a_busy_cluster_is_not_compared_before_it_is_active(subnets, api_calls, capsys):
    converge(capsys, subnets)
    set_status("UPDATING")
    del api_calls[:]
    # The start call (wait=false) leaves a busy cluster to the call that waits for it.
    rc, result = run_module(capsys, module_under_test.main, dict(args_with(subnets, logging=["api"]), wait=False))
    assert rc == 0, result.get("msg")
    assert "UpdateClusterConfig" not in counts(api_calls)
    assert result["status"] == "UPDATING"
    # The call that waits says plainly when the cluster does not become ACTIVE in time.
    rc, result = run_module(capsys, module_under_test.main, dict(args_with(subnets, logging=["api"]), wait_timeout=1))
    assert rc == 1
    assert result["msg"] == "wait_timeout: the EKS cluster mlops-dev did not become ACTIVE within 1 seconds " \
                            "(status UPDATING)"
    assert "UpdateClusterConfig" not in counts(api_calls)
    set_status("ACTIVE")
    rc, result = converge(capsys, subnets, logging=["api"])
    assert rc == 0 and result["changed"] and counts(api_calls)["UpdateClusterConfig"] == 1


def test_a_failed_cluster_is_reported_as_such_not_as_a_timeout(subnets, capsys):
    converge(capsys, subnets)
    set_status("FAILED")
    rc, result = converge(capsys, subnets)
    assert rc == 1
    assert result["msg"] == "name_prefix: the EKS cluster mlops-dev is FAILED: it will not become ACTIVE; see its " \
                            "health in the EKS console, delete it, and run again"
