"""The gpu_nodes module: GPU labels and outputs, validation before any call, pruning of the
component's groups no longer configured, waiting, and check mode - its real main() on moto.
(The node group behaviours it shares with the eks module are in test_node_group.py.)"""

import boto3
import pytest

from ansible_collections.mlops.platform.plugins.module_utils.component import UNKNOWN
from ansible_collections.mlops.platform.plugins.modules import gpu_nodes as module_under_test

from conftest import writes
from test_node_group import CLUSTER, NODE_ROLE, OWNERSHIP, REGION, SUBNETS
from test_node_group import converge, live, make_cluster, module_args, run, warnings

TWO_GROUPS = {
    "a10g": {"instance_types": ["g5.xlarge"], "labels": {"team": "ml"}},
    "l40s": {"instance_types": ["g6e.12xlarge", "g6e.24xlarge"], "capacity_type": "SPOT", "max_size": 1,
             "taints": []},
}


@pytest.fixture
def cluster(aws):
    make_cluster()


def node_group_names():
    return sorted(boto3.client("eks", region_name=REGION).list_nodegroups(clusterName=CLUSTER)["nodegroups"])


def test_gpu_labels_and_outputs_from_the_instance_type_table(cluster, capsys):
    code, result = run(capsys, module_args(TWO_GROUPS, config=dict(node_groups=TWO_GROUPS, workload="llm")))
    assert code == 0, result.get("msg")
    assert node_group_names() == ["mlops-dev-gpu-a10g", "mlops-dev-gpu-l40s"]
    assert live("mlops-dev-gpu-a10g")["labels"] == {"team": "ml", "nvidia.com/gpu.present": "true",
                                                    "mlops.platform/workload": "llm"}

    a10g, l40s = result["node_groups"]["a10g"], result["node_groups"]["l40s"]
    assert (a10g["gpus_per_node"], a10g["gpu_model"], a10g["gpu_memory_gib"]) == (1, "A10G", 24)
    assert (l40s["gpus_per_node"], l40s["gpu_model"], l40s["gpu_memory_gib"]) == (4, "L40S", 48)
    assert a10g["taints"] == [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}]
    assert a10g["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Equal", "value": "true",
                                    "effect": "NoSchedule"}]
    assert l40s["taints"] == [] and l40s["capacity_type"] == "SPOT"
    assert (a10g["min_size"], a10g["max_size"], a10g["desired_size"]) == (0, 2, 0)
    assert a10g["name"] == "mlops-dev-gpu-a10g" and a10g["status"] == "ACTIVE"
    assert result["workload"] == "llm" and result["removed"] == []
    assert result["ansible_facts"]["mlops_gpu_nodes"] == {
        "node_groups": result["node_groups"], "workload": "llm", "removed": []}


def test_bad_config_and_names_are_refused_before_any_call(aws, api_calls, capsys):
    code, result = run(capsys, module_args({"a10g": {"min_size": 3, "max_size": 2}}))
    assert code == 1 and "config.node_groups.a10g" in result["msg"] and "min_size <= max_size" in result["msg"]
    assert api_calls == []

    code, result = run(capsys, module_args(name_prefix="p" * 40, groups={"a" * 20: {}}))
    assert code == 1, result
    assert [error["path"] for error in result["errors"]] == ["config.node_groups." + "a" * 20]
    assert "limit is 63" in result["msg"]
    assert api_calls == []


def test_unknown_inputs_are_accepted_in_check_mode_only(cluster, api_calls, capsys):
    args = module_args(node_role_arn=UNKNOWN, subnet_ids=[UNKNOWN, UNKNOWN])
    code, result = run(capsys, args, check_mode=True)
    assert code == 0 and result["changed"] is True, result.get("msg")
    code, result = run(capsys, args)
    assert code == 1
    assert sorted(error["path"] for error in result["errors"]) == ["node_role_arn", "subnet_ids"]
    assert writes(api_calls) == []


def test_groups_removed_from_config_are_pruned_only_when_ours(cluster, api_calls, capsys):
    converge(capsys, api_calls, module_args(TWO_GROUPS))
    # Somebody else's group under our naming pattern, and another environment's.
    eks = boto3.client("eks", region_name=REGION)
    eks.create_nodegroup(clusterName=CLUSTER, nodegroupName="mlops-dev-gpu-manual", nodeRole=NODE_ROLE,
                         subnets=SUBNETS)
    eks.create_nodegroup(clusterName=CLUSTER, nodegroupName="mlops-dev-gpu-prod", nodeRole=NODE_ROLE,
                         subnets=SUBNETS, tags=dict(OWNERSHIP, **{"mlops.platform/environment": "prod"}))
    only_a10g = {"a10g": TWO_GROUPS["a10g"]}

    code, kept = run(capsys, module_args(only_a10g, prune=False))
    assert code == 0 and kept["changed"] is False
    assert any("mlops-dev-gpu-l40s" in warning and "prune=false" in warning for warning in warnings(kept))
    assert len(node_group_names()) == 4

    api_calls.clear()
    code, planned = run(capsys, module_args(only_a10g), check_mode=True)
    assert code == 0 and planned["changed"] is True and planned["removed"] == ["mlops-dev-gpu-l40s"]
    assert "mlops-dev-gpu-l40s" in planned["diff"]["before"] and "mlops-dev-gpu-l40s" not in planned["diff"]["after"]
    assert writes(api_calls) == [] and len(node_group_names()) == 4

    code, pruned = run(capsys, module_args(only_a10g, wait=True))
    assert code == 0 and pruned["changed"] is True and pruned["removed"] == ["mlops-dev-gpu-l40s"]
    assert node_group_names() == ["mlops-dev-gpu-a10g", "mlops-dev-gpu-manual", "mlops-dev-gpu-prod"]
    code, again = run(capsys, module_args(only_a10g))
    assert code == 0 and again["changed"] is False and again["removed"] == []


def test_wait_and_wait_only(cluster, api_calls, capsys):
    code, result = run(capsys, module_args(wait=True))
    assert code == 0 and result["changed"] is True and result["node_groups"]["a10g"]["status"] == "ACTIVE"
    api_calls.clear()
    code, waited = run(capsys, module_args(wait_only=True))
    assert code == 0 and waited["changed"] is False
    assert waited["node_groups"] == result["node_groups"]
    assert writes(api_calls) == []


def test_an_empty_config_before_the_cluster_exists_reads_little_and_plans_nothing(aws, api_calls, capsys):
    code, result = run(capsys, module_args({}), check_mode=True)
    assert code == 0 and result["changed"] is False and result["node_groups"] == {}
    assert result["api_calls"]["by_operation"] == {"DescribeCluster": 1}


def test_documentation_matches_the_argument_spec():
    import yaml

    documentation = yaml.safe_load(module_under_test.DOCUMENTATION)
    documented = documentation["options"]
    for option in ("cluster_name", "node_role_arn", "subnet_ids", "kubernetes_version", "prune", "wait",
                   "wait_only", "wait_timeout", "config"):
        assert option in documented, option
    # environment, name_prefix and tags are documented once, in the doc fragment of component_argument_spec.
    assert "mlops.platform.component" in documentation["extends_documentation_fragment"]
    assert documented["prune"]["default"] is True
    returned = yaml.safe_load(module_under_test.RETURN)
    assert set(returned["node_groups"]["contains"]) >= {
        "name", "arn", "instance_types", "ami_type", "capacity_type", "min_size", "max_size", "desired_size", "labels",
        "taints", "gpus_per_node", "gpu_model", "gpu_memory_gib"}
