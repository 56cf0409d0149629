"""EKS managed node groups (module_utils/node_group.py), driven through the gpu_nodes module's
real main() against moto; what moto does not show (version upgrades, a reported updateConfig,
node group tags, statuses other than ACTIVE) through botocore's Stubber, which checks every
request and response against the real EKS API model."""

import collections
import datetime

import boto3
import pytest
from botocore.stub import ANY, Stubber

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.mlops.platform.plugins.module_utils import naming
from ansible_collections.mlops.platform.plugins.module_utils import node_group as ng
from ansible_collections.mlops.platform.plugins.module_utils.aws import AWSResourceError
from ansible_collections.mlops.platform.plugins.module_utils.component import UNKNOWN
from ansible_collections.mlops.platform.plugins.modules import gpu_nodes as module_under_test

from conftest import run_module, warnings, writes

REGION = "eu-west-1"
PREFIX = "mlops-dev"
CLUSTER = "mlops-dev"
GROUP = "mlops-dev-gpu-a10g"
NODE_ROLE = "arn:aws:iam::123456789012:role/mlops-dev-eks-node"
SUBNETS = ["subnet-0a", "subnet-0b"]
OWNERSHIP = {"mlops.platform/managed": "true", "mlops.platform/environment": "dev",
             "mlops.platform/component": "gpu_nodes"}
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}


# --- helpers, shared with test_gpu_nodes.py -------------------------------------------------------

def make_cluster(version="1.35"):
    boto3.client("eks", region_name=REGION).create_cluster(
        name=CLUSTER, version=version, roleArn="arn:aws:iam::123456789012:role/mlops-dev-eks-cluster",
        resourcesVpcConfig={"subnetIds": SUBNETS})


def module_args(groups=None, **extra):
    config = {"node_groups": {"a10g": {"instance_types": ["g5.xlarge"], "min_size": 0, "max_size": 4,
                                       "desired_size": 1}} if groups is None else groups}
    args = dict(environment="dev", name_prefix=PREFIX, tags={"Project": "test"}, cluster_name=CLUSTER,
                node_role_arn=NODE_ROLE, subnet_ids=list(SUBNETS), kubernetes_version="1.35", config=config,
                region=REGION)
    args.update(extra)
    return args


def run(capsys, args, check_mode=False):
    if check_mode:
        args = dict(args, _ansible_check_mode=True, _ansible_diff=True)
    return run_module(capsys, module_under_test.main, args)


def converge(capsys, api_calls, args):
    code, result = run(capsys, args)
    assert code == 0, result.get("msg")
    api_calls.clear()
    return result


def live(name=GROUP):
    return boto3.client("eks", region_name=REGION).describe_nodegroup(clusterName=CLUSTER,
                                                                      nodegroupName=name)["nodegroup"]


def counts(calls):
    return dict(collections.Counter(operation for operation, unused in calls))


@pytest.fixture
def cluster(aws):
    make_cluster()


# --- converging against moto -------------------------------------------------------------------

def test_create_sends_everything_once_with_a_token_and_ownership_tags(cluster, sent, capsys):
    code, result = run(capsys, module_args())
    assert code == 0, result.get("msg")
    assert result["changed"] is True
    [request] = sent["CreateNodegroup"]
    assert request["clientRequestToken"]
    assert request["tags"] == dict(OWNERSHIP, Project="test")
    assert request["scalingConfig"] == {"minSize": 0, "maxSize": 4, "desiredSize": 1}
    assert request["updateConfig"] == {"maxUnavailablePercentage": 33}
    assert request["taints"] == [GPU_TAINT]
    assert request["labels"] == {"nvidia.com/gpu.present": "true", "mlops.platform/workload": "gpu"}
    assert (request["amiType"], request["capacityType"], request["diskSize"], request["version"]) == (
        "AL2023_x86_64_NVIDIA", "ON_DEMAND", 200, "1.35")
    assert result["diff"]["before"] == {}
    assert result["diff"]["after"][GROUP]["arn"] == live()["nodegroupArn"]


def test_second_run_reads_only_and_check_mode_on_the_converged_state_changes_nothing(cluster, api_calls, capsys):
    converge(capsys, api_calls, module_args())

    code, second = run(capsys, module_args())
    assert code == 0 and second["changed"] is False, second["diff"]
    assert writes(api_calls) == []
    assert counts(api_calls) == {"DescribeNodegroup": 1, "ListNodegroups": 1}
    assert second["api_calls"] == {"total": 2, "writes": 0,
                                   "by_operation": {"DescribeNodegroup": 1, "ListNodegroups": 1}}
    assert second["diff"]["before"] == second["diff"]["after"]

    api_calls.clear()
    code, checked = run(capsys, module_args(), check_mode=True)
    assert code == 0 and checked["changed"] is False
    assert writes(api_calls) == []


def test_check_mode_on_nothing_predicts_the_creation_and_creates_nothing(cluster, api_calls, capsys):
    code, result = run(capsys, module_args(node_role_arn=UNKNOWN, subnet_ids=[UNKNOWN]), check_mode=True)
    assert code == 0, result.get("msg")
    assert result["changed"] is True
    assert writes(api_calls) == []
    planned = result["diff"]["after"][GROUP]
    assert planned["arn"] == UNKNOWN and planned["desired_size"] == 1 and planned["version"] == "1.35"
    assert result["node_groups"]["a10g"]["status"] == UNKNOWN
    assert boto3.client("eks", region_name=REGION).list_nodegroups(clusterName=CLUSTER)["nodegroups"] == []


def test_check_mode_before_the_cluster_exists_predicts_the_creation(aws, capsys):
    code, result = run(capsys, module_args(), check_mode=True)
    assert code == 0, result.get("msg")
    assert result["changed"] is True and list(result["diff"]["after"]) == [GROUP]


def test_a_desired_size_set_by_an_autoscaler_is_kept_clamped_or_reset_only_when_enforced(
        cluster, api_calls, sent, capsys):
    converge(capsys, api_calls, module_args())
    eks = boto3.client("eks", region_name=REGION)
    eks.update_nodegroup_config(clusterName=CLUSTER, nodegroupName=GROUP, scalingConfig={"desiredSize": 3})
    api_calls.clear()

    code, kept = run(capsys, module_args())
    assert code == 0 and kept["changed"] is False and writes(api_calls) == []
    assert kept["node_groups"]["a10g"]["desired_size"] == 3

    # max_size lowered below it: moved into the range, min and max sent with it.
    groups = {"a10g": {"instance_types": ["g5.xlarge"], "min_size": 0, "max_size": 2, "desired_size": 1}}
    code, clamped = run(capsys, module_args(groups))
    assert code == 0 and clamped["changed"] is True
    assert sent["UpdateNodegroupConfig"][-1]["scalingConfig"] == {"minSize": 0, "maxSize": 2, "desiredSize": 2}
    assert live()["scalingConfig"] == {"minSize": 0, "maxSize": 2, "desiredSize": 2}
    assert clamped["diff"]["before"][GROUP]["desired_size"] == 3
    assert clamped["diff"]["after"][GROUP]["desired_size"] == 2

    # max_size raised: min and max only, the desired size stays the autoscaler's.
    groups["a10g"]["max_size"] = 6
    code, raised = run(capsys, module_args(groups))
    assert code == 0 and raised["changed"] is True
    assert sent["UpdateNodegroupConfig"][-1]["scalingConfig"] == {"minSize": 0, "maxSize": 6}
    assert live()["scalingConfig"]["desiredSize"] == 2

    groups["a10g"]["enforce_desired_size"] = True
    code, enforced = run(capsys, module_args(groups))
    assert code == 0 and enforced["changed"] is True
    assert live()["scalingConfig"] == {"minSize": 0, "maxSize": 6, "desiredSize": 1}
    code, again = run(capsys, module_args(groups))
    assert code == 0 and again["changed"] is False


def test_labels_and_taints_are_added_changed_and_removed_in_place(cluster, api_calls, sent, capsys):
    groups = {"a10g": {"labels": {"team": "ml", "old": "yes"},
                       "taints": [GPU_TAINT, {"key": "dedicated", "value": "a", "effect": "NO_EXECUTE"}]}}
    converge(capsys, api_calls, module_args(groups))

    groups = {"a10g": {"labels": {"team": "research", "tier": "1"},
                       "taints": [GPU_TAINT, {"key": "spot", "value": "", "effect": "PREFER_NO_SCHEDULE"}]}}
    code, result = run(capsys, module_args(groups))
    assert code == 0 and result["changed"] is True, result.get("msg")
    [update] = sent["UpdateNodegroupConfig"]
    assert update["labels"] == {"addOrUpdateLabels": {"team": "research", "tier": "1"}, "removeLabels": ["old"]}
    assert update["taints"] == {"addOrUpdateTaints": [{"key": "spot", "effect": "PREFER_NO_SCHEDULE"}],
                                "removeTaints": [{"key": "dedicated", "value": "a", "effect": "NO_EXECUTE"}]}
    assert "scalingConfig" not in update and "updateConfig" not in update
    assert update["clientRequestToken"]
    group = live()
    assert group["labels"] == {"team": "research", "tier": "1", "nvidia.com/gpu.present": "true",
                               "mlops.platform/workload": "gpu"}
    assert sorted(t["key"] for t in group["taints"]) == ["nvidia.com/gpu", "spot"]
    assert [op for op in writes(api_calls) if op != "UpdateNodegroupConfig"] == []

    code, again = run(capsys, module_args(groups))
    assert code == 0 and again["changed"] is False, again["diff"]


@pytest.mark.parametrize("change, path", [
    ({"instance_types": ["g6.xlarge"]}, "config.node_groups.a10g.instance_types"),
    ({"capacity_type": "SPOT"}, "config.node_groups.a10g.capacity_type"),
    ({"disk_size_gib": 500}, "config.node_groups.a10g.disk_size_gib"),
    ({"ami_type": "BOTTLEROCKET_x86_64_NVIDIA"}, "config.node_groups.a10g.ami_type"),
])
def test_what_eks_cannot_change_in_place_is_refused_with_its_path_and_nothing_is_written(
        cluster, api_calls, capsys, change, path):
    converge(capsys, api_calls, module_args())
    groups = {"a10g": dict({"instance_types": ["g5.xlarge"], "min_size": 0, "max_size": 4, "desired_size": 1},
                           **change)}
    code, result = run(capsys, module_args(groups))
    assert code == 1
    assert result["msg"].startswith(path + ": EKS cannot change the "), result["msg"]
    assert "must be replaced under a new name" in result["msg"]
    assert writes(api_calls) == []


def test_other_subnets_or_node_role_are_refused_with_the_option_path(cluster, api_calls, capsys):
    converge(capsys, api_calls, module_args())
    code, result = run(capsys, module_args(subnet_ids=["subnet-0c"]))
    assert code == 1 and result["msg"].startswith("subnet_ids: EKS cannot change the subnets"), result["msg"]
    code, result = run(capsys, module_args(node_role_arn="arn:aws:iam::123456789012:role/other"))
    assert code == 1 and result["msg"].startswith("node_role_arn: EKS cannot change the node IAM role")
    assert writes(api_calls) == []


def test_a_group_of_that_name_without_our_ownership_tags_is_refused_and_left_alone(cluster, api_calls, capsys):
    boto3.client("eks", region_name=REGION).create_nodegroup(
        clusterName=CLUSTER, nodegroupName=GROUP, nodeRole=NODE_ROLE, subnets=SUBNETS, instanceTypes=["m5.large"],
        tags={"mlops.platform/managed": "true", "mlops.platform/environment": "prod",
              "mlops.platform/component": "gpu_nodes"})
    api_calls.clear()
    code, result = run(capsys, module_args())
    assert code == 1
    assert result["msg"].startswith("config.node_groups.a10g: the node group %s of cluster %s exists and is not owned"
                                    % (GROUP, CLUSTER)), result["msg"]
    assert writes(api_calls) == []
    assert live()["instanceTypes"] == ["m5.large"]


def test_a_lost_create_answer_makes_no_second_group_and_a_true_report(cluster, lose_answers, capsys):
    lost = lose_answers("CreateNodegroup")
    code, first = run(capsys, module_args())
    assert code == 0, first.get("msg")
    assert lost == ["CreateNodegroup"]
    assert first["changed"] is True
    assert boto3.client("eks", region_name=REGION).list_nodegroups(clusterName=CLUSTER)["nodegroups"] == [GROUP]
    assert first["node_groups"]["a10g"]["arn"] == live()["nodegroupArn"]
    code, second = run(capsys, module_args())
    assert code == 0 and second["changed"] is False


def test_a_group_far_below_the_wanted_version_is_left_with_a_warning_and_no_probe(cluster, api_calls, capsys):
    # moto gives a group created without a version 1.19: a stand-in artefact, not an upgrade to try.
    converge(capsys, api_calls, module_args(kubernetes_version=None))
    assert live()["version"] == "1.19"
    code, result = run(capsys, module_args())
    assert code == 0 and result["changed"] is False
    assert any("more than one minor below 1.35" in warning for warning in warnings(result)), result
    assert "ListUpdates" not in counts(api_calls) and writes(api_calls) == []


# --- the real API's shapes through botocore's Stubber ------------------------------------------

def nodegroup(**overrides):
    """A DescribeNodegroup nodegroup as real EKS returns it for a converged group."""
    group = {
        "nodegroupName": GROUP, "clusterName": CLUSTER, "version": "1.35", "releaseVersion": "1.35.0-20260101",
        "nodegroupArn": "arn:aws:eks:eu-west-1:123456789012:nodegroup/%s/%s/0ac9d1e2" % (CLUSTER, GROUP),
        "createdAt": datetime.datetime(2026, 1, 1), "modifiedAt": datetime.datetime(2026, 1, 1),
        "status": "ACTIVE", "capacityType": "ON_DEMAND",
        "scalingConfig": {"minSize": 0, "maxSize": 4, "desiredSize": 1},
        "instanceTypes": ["g5.xlarge"], "subnets": list(SUBNETS), "amiType": "AL2023_x86_64_NVIDIA",
        "nodeRole": NODE_ROLE, "diskSize": 200,
        "labels": {"nvidia.com/gpu.present": "true", "mlops.platform/workload": "gpu"},
        "taints": [GPU_TAINT], "health": {"issues": []},
        "updateConfig": {"maxUnavailablePercentage": 33},
        "tags": dict(OWNERSHIP, Project="test"),
    }
    group.update(overrides)
    return group


@pytest.fixture
def stub_eks(aws, monkeypatch):
    """The module's EKS client behind a Stubber (strict order, real request and response shapes)."""
    stubber = Stubber(boto3.client("eks", region_name=REGION))
    parent_client = AnsibleAWSModule.client

    def client(module, service, retry_decorator=None, **extra_params):
        made = parent_client(module, service, retry_decorator=retry_decorator, **extra_params)
        if service == "eks":
            if hasattr(made, "client"):
                made.client = stubber.client
            else:
                made = stubber.client
        return made

    monkeypatch.setattr(AnsibleAWSModule, "client", client)
    stubber.activate()
    yield stubber
    stubber.deactivate()


def expect_read(stubber, group):
    stubber.add_response("describe_nodegroup", {"nodegroup": group}, {"clusterName": CLUSTER, "nodegroupName": GROUP})


def expect_list(stubber, names=(GROUP,)):
    stubber.add_response("list_nodegroups", {"nodegroups": list(names)}, {"clusterName": CLUSTER})


def test_stubbed_converged_group_reads_only(stub_eks, capsys):
    expect_read(stub_eks, nodegroup())
    expect_list(stub_eks)
    code, result = run(capsys, module_args())
    assert code == 0 and result["changed"] is False, result.get("msg") or result["diff"]
    stub_eks.assert_no_pending_responses()


def test_a_group_one_minor_behind_is_upgraded_when_the_endpoint_serves_updates(stub_eks, capsys):
    expect_read(stub_eks, nodegroup(version="1.34"))
    stub_eks.add_response("list_updates", {"updateIds": []}, {"name": CLUSTER, "maxResults": 1})
    stub_eks.add_response("update_nodegroup_version",
                          {"update": {"id": "u-1", "status": "InProgress", "type": "VersionUpdate",
                                      "params": [{"type": "Version", "value": "1.35"}], "errors": []}},
                          {"clusterName": CLUSTER, "nodegroupName": GROUP, "version": "1.35",
                           "clientRequestToken": ANY})
    expect_list(stub_eks)
    code, result = run(capsys, module_args())
    assert code == 0, result.get("msg")
    assert result["changed"] is True
    assert (result["diff"]["before"][GROUP]["version"], result["diff"]["after"][GROUP]["version"]) == ("1.34", "1.35")
    stub_eks.assert_no_pending_responses()


def test_check_mode_predicts_the_upgrade_with_reads_only(stub_eks, capsys):
    expect_read(stub_eks, nodegroup(version="1.34"))
    stub_eks.add_response("list_updates", {"updateIds": []}, {"name": CLUSTER, "maxResults": 1})
    expect_list(stub_eks)
    code, result = run(capsys, module_args(), check_mode=True)
    assert code == 0 and result["changed"] is True
    stub_eks.assert_no_pending_responses()


def test_an_endpoint_without_updates_skips_the_upgrade_with_one_warning(stub_eks, capsys):
    expect_read(stub_eks, nodegroup(version="1.34"))
    stub_eks.add_client_error("list_updates", service_error_code="404", service_message="Not yet implemented",
                              http_status_code=404, expected_params={"name": CLUSTER, "maxResults": 1})
    expect_list(stub_eks)
    code, result = run(capsys, module_args())
    assert code == 0 and result["changed"] is False, result.get("msg")
    skipped = [warning for warning in warnings(result) if "does not serve updates" in warning]
    assert len(skipped) == 1 and "stays at 1.34" in skipped[0]
    stub_eks.assert_no_pending_responses()


def test_a_reported_update_config_that_differs_is_updated_and_one_that_matches_is_not(stub_eks, capsys):
    expect_read(stub_eks, nodegroup(updateConfig={"maxUnavailable": 1}))
    stub_eks.add_response("update_nodegroup_config",
                          {"update": {"id": "u-2", "status": "InProgress", "type": "ConfigUpdate"}},
                          {"clusterName": CLUSTER, "nodegroupName": GROUP, "clientRequestToken": ANY,
                           "updateConfig": {"maxUnavailablePercentage": 33}})
    expect_list(stub_eks)
    code, result = run(capsys, module_args())
    assert code == 0 and result["changed"] is True, result.get("msg")
    assert result["diff"]["before"][GROUP]["max_unavailable_percentage"] is None
    assert result["diff"]["after"][GROUP]["max_unavailable_percentage"] == 33
    stub_eks.assert_no_pending_responses()


def test_a_missing_update_config_is_unknown_and_never_a_change(stub_eks, capsys):
    group = nodegroup()
    del group["updateConfig"]
    expect_read(stub_eks, group)
    expect_list(stub_eks)
    code, result = run(capsys, module_args())
    assert code == 0 and result["changed"] is False
    stub_eks.assert_no_pending_responses()


def test_missing_tags_are_added_and_other_tags_kept(stub_eks, capsys):
    expect_read(stub_eks, nodegroup(tags=dict(OWNERSHIP, Owner="someone")))
    stub_eks.add_response("tag_resource", {}, {"resourceArn": nodegroup()["nodegroupArn"], "tags": {"Project": "test"}})
    expect_list(stub_eks)
    code, result = run(capsys, module_args())
    assert code == 0 and result["changed"] is True, result.get("msg")
    assert result["diff"]["before"][GROUP]["tags"]["Project"] is None
    assert result["diff"]["after"][GROUP]["tags"]["Project"] == "test"
    stub_eks.assert_no_pending_responses()


def test_a_busy_group_is_waited_for_before_it_is_updated(stub_eks, capsys, monkeypatch):
    monkeypatch.setattr(ng, "WAIT_DELAY", 0)
    expect_read(stub_eks, nodegroup(status="UPDATING", labels={"nvidia.com/gpu.present": "true"}))
    expect_read(stub_eks, nodegroup(labels={"nvidia.com/gpu.present": "true"}))  # the waiter's poll
    expect_read(stub_eks, nodegroup(labels={"nvidia.com/gpu.present": "true"}))  # read again
    stub_eks.add_response("update_nodegroup_config", {"update": {"id": "u-3", "status": "InProgress"}},
                          {"clusterName": CLUSTER, "nodegroupName": GROUP, "clientRequestToken": ANY,
                           "labels": {"addOrUpdateLabels": {"mlops.platform/workload": "gpu"}}})
    expect_list(stub_eks)
    code, result = run(capsys, module_args())
    assert code == 0 and result["changed"] is True, result.get("msg")
    stub_eks.assert_no_pending_responses()


def test_a_failed_group_ends_the_wait_with_its_health_issues(stub_eks, capsys, monkeypatch):
    monkeypatch.setattr(ng, "WAIT_DELAY", 0)
    stub_eks.add_client_error("describe_nodegroup", service_error_code="ResourceNotFoundException",
                              http_status_code=404, expected_params={"clusterName": CLUSTER, "nodegroupName": GROUP})
    created = nodegroup(status="CREATING")
    stub_eks.add_response("create_nodegroup", {"nodegroup": created})
    failed = nodegroup(status="CREATE_FAILED", health={"issues": [
        {"code": "InsufficientFreeAddresses", "message": "Subnet has too few free addresses",
         "resourceIds": ["subnet-0a"]}]})
    expect_list(stub_eks)
    expect_read(stub_eks, failed)  # the waiter's poll
    code, result = run(capsys, module_args(wait=True))
    assert code == 1
    assert result["msg"] == (
        "config.node_groups.a10g: the node group %s of cluster %s did not become ACTIVE within 1800 s: it is "
        "CREATE_FAILED; health issues: InsufficientFreeAddresses: Subnet has too few free addresses (subnet-0a)"
        % (GROUP, CLUSTER))
    stub_eks.assert_no_pending_responses()


def test_a_wait_times_out_with_the_group_its_status_and_issues(aws, monkeypatch):
    """NodeGroups on its own: a group that stays CREATING past the timeout."""
    monkeypatch.setattr(ng, "WAIT_DELAY", 0)
    eks = boto3.client("eks", region_name=REGION)
    stubber = Stubber(eks)
    degraded = nodegroup(status="CREATING", health={"issues": [{"code": "Ec2LaunchTemplateNotFound",
                                                                "message": "launch template gone"}]})
    for unused in range(3):
        stubber.add_response("describe_nodegroup", {"nodegroup": degraded})

    class Module:
        warnings = []

        def warn(self, message):
            self.warnings.append(message)

    groups = ng.NodeGroups(Module(), eks, CLUSTER, "dev", "gpu_nodes")
    groups.live[GROUP] = degraded
    groups.paths[GROUP] = "config.node_groups.a10g"
    with stubber, pytest.raises(AWSResourceError) as error:
        groups.wait([GROUP], timeout=3)
    assert error.value.path == "config.node_groups.a10g"
    assert "did not become ACTIVE within 3 s: it is CREATING; health issues: Ec2LaunchTemplateNotFound: " \
           "launch template gone" in str(error.value)


# --- pure logic ----------------------------------------------------------------------------------

def test_desired_size_is_kept_clamped_or_enforced():
    spec = {"min_size": 1, "max_size": 4, "desired_size": 2, "enforce_desired_size": False}
    assert ng.desired_size(spec, 3) == 3
    assert ng.desired_size(spec, 0) == 1
    assert ng.desired_size(spec, 9) == 4
    assert ng.desired_size(spec, None) == 2
    assert ng.desired_size(dict(spec, enforce_desired_size=True), 3) == 2


def test_taint_forms_and_tolerations():
    assert ng.eks_taint({"key": "a", "value": "", "effect": "NO_SCHEDULE"}) == {"key": "a", "effect": "NO_SCHEDULE"}
    assert ng.kubernetes_taint(GPU_TAINT) == {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}
    assert ng.toleration(GPU_TAINT) == {"key": "nvidia.com/gpu", "operator": "Equal", "value": "true",
                                        "effect": "NoSchedule"}
    assert ng.toleration({"key": "spot", "effect": "PREFER_NO_SCHEDULE"}) == {
        "key": "spot", "operator": "Exists", "effect": "PreferNoSchedule"}


def test_names_and_versions():
    assert naming.gpu_node_group_name("mlops-dev", "a10g") == "mlops-dev-gpu-a10g"
    assert ng.name_problem("mlops-dev-gpu-a10g") is None
    assert "limit is 63" in ng.name_problem("x" * 64)
    assert ng.minor_version("1.35") == (1, 35) and ng.minor_version("v1.36.5-eks") == (1, 36)
    assert ng.minor_version("latest") is None
