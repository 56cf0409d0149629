"""Fake nodes shaped like an EKS managed node group's (module_utils/fake_nodes.py) and the
instance-type table they come from (module_utils/instance_types.py)."""

import pytest

from ansible_collections.mlops.platform.plugins.module_utils.fake_nodes import (
    FakeNodeError,
    node_group_nodes,
    node_resources,
    reserved_cpu_millicores,
)
from ansible_collections.mlops.platform.plugins.module_utils.instance_types import (
    INSTANCE_TYPES,
    UnknownInstanceType,
    gpu_instance_types,
    instance_type,
)


def test_the_table_covers_the_types_the_platform_uses():
    wanted = ["%s.%s" % (family, size) for family in ("m5", "m6i", "m7i", "c5", "c6i", "r5")
              for size in ("large", "xlarge", "2xlarge", "4xlarge")]
    wanted += ["t3.medium", "t3.large", "p4d.24xlarge", "p5.48xlarge"]
    wanted += ["%s.%s" % (family, size) for family in ("g5", "g6", "g6e")
               for size in ("xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge", "48xlarge")]
    assert sorted(set(wanted) - set(INSTANCE_TYPES)) == []


@pytest.mark.parametrize("name, vcpus, memory_gib, gpus, model, gpu_memory, max_pods", [
    ("m5.xlarge", 4, 16, 0, None, 0, 58),
    ("t3.medium", 2, 4, 0, None, 0, 17),
    ("r5.large", 2, 16, 0, None, 0, 29),
    ("g5.xlarge", 4, 16, 1, "A10G", 24, 58),
    ("g5.12xlarge", 48, 192, 4, "A10G", 24, 737),
    ("g5.48xlarge", 192, 768, 8, "A10G", 24, 345),
    ("g6.48xlarge", 192, 768, 8, "L4", 24, 737),
    ("g6e.12xlarge", 48, 384, 4, "L40S", 48, 292),
    ("p4d.24xlarge", 96, 1152, 8, "A100", 40, 737),
    ("p5.48xlarge", 192, 2048, 8, "H100", 80, 100),
])
def test_rows_hold_the_aws_figures(name, vcpus, memory_gib, gpus, model, gpu_memory, max_pods):
    row = instance_type(name)
    assert (row.vcpus, row.memory_mib, row.gpus, row.gpu_model, row.gpu_memory_gib, row.max_pods) == (
        vcpus, memory_gib * 1024, gpus, model, gpu_memory, max_pods)


def test_every_row_is_consistent():
    for name, row in INSTANCE_TYPES.items():
        assert row.name == name
        assert row.vcpus > 0 and row.memory_mib >= 1024 * row.vcpus // 2 and row.max_pods > 0
        assert (row.gpus > 0) == (row.gpu_model is not None) == (row.gpu_memory_gib > 0), name
    assert "g5.xlarge" in gpu_instance_types() and "m5.large" not in gpu_instance_types()


def test_unknown_instance_type_names_the_known_ones():
    with pytest.raises(UnknownInstanceType, match="'m5.huge' is not a known instance type; known: .*m5.large"):
        instance_type("m5.huge")


def test_nodes_carry_the_labels_eks_puts_on_them():
    nodes = node_group_nodes("cpu", 3, "m6i.large", ["eu-west-1a", "eu-west-1b"], capacity_type="SPOT",
                             labels={"team": "ml"})
    assert len(nodes) == 3
    for index, node in enumerate(nodes):
        labels = node["metadata"]["labels"]
        assert labels == {
            "team": "ml",
            "eks.amazonaws.com/nodegroup": "cpu",
            "eks.amazonaws.com/capacityType": "SPOT",
            "node.kubernetes.io/instance-type": "m6i.large",
            "beta.kubernetes.io/instance-type": "m6i.large",
            "topology.kubernetes.io/zone": ["eu-west-1a", "eu-west-1b"][index % 2],
            "topology.kubernetes.io/region": "eu-west-1",
            "kubernetes.io/os": "linux",
            "beta.kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "beta.kubernetes.io/arch": "amd64",
            "kubernetes.io/hostname": node["metadata"]["name"],
        }
        assert node["metadata"]["annotations"] == {"kwok.x-k8s.io/node": "fake"}
        assert node["metadata"]["name"].endswith(".eu-west-1.compute.internal")
        assert node["spec"]["providerID"].startswith("aws:///%s/i-0" % labels["topology.kubernetes.io/zone"])
        assert "taints" not in node["spec"]
    assert len({node["metadata"]["name"] for node in nodes}) == 3


def test_node_group_labels_cannot_override_the_eks_ones():
    node = node_group_nodes("cpu", 1, "m5.large", ["us-east-1a"], labels={"eks.amazonaws.com/nodegroup": "x"})[0]
    assert node["metadata"]["labels"]["eks.amazonaws.com/nodegroup"] == "cpu"


def test_names_are_stable_and_differ_between_groups():
    first = node_group_nodes("gpu", 2, "g5.xlarge", ["eu-west-1a"])
    assert first == node_group_nodes("gpu", 2, "g5.xlarge", ["eu-west-1a"])
    other = node_group_nodes("cpu", 2, "g5.xlarge", ["eu-west-1a"])
    assert {n["metadata"]["name"] for n in first}.isdisjoint(n["metadata"]["name"] for n in other)


def test_gpu_nodes_advertise_their_gpus_and_take_the_group_taints():
    node = node_group_nodes("gpu", 1, "g5.12xlarge", ["eu-west-1a"],
                            taints=[{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"},
                                    {"key": "dedicated", "effect": "NoExecute"}])[0]
    assert node["spec"]["taints"] == [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"},
                                      {"key": "dedicated", "effect": "NoExecute"}]
    status = node["status"]
    assert status["capacity"] == {"cpu": "48", "memory": "196608Mi", "pods": "737",
                                  "ephemeral-storage": "20Gi", "nvidia.com/gpu": "4"}
    assert status["allocatable"]["nvidia.com/gpu"] == "4"
    assert status["allocatable"]["pods"] == "737"


def test_allocatable_is_capacity_minus_what_eks_reserves():
    capacity, allocatable = node_resources("m5.xlarge")
    assert "nvidia.com/gpu" not in capacity
    # kube-reserved CPU: 60m + 10m + 5m + 5m for 4 cores.
    assert reserved_cpu_millicores(4) == 80
    assert allocatable["cpu"] == "3920m"
    # kube-reserved memory 255Mi + 11Mi * 58 pods, eviction threshold 100Mi.
    assert allocatable["memory"] == "%dMi" % (16384 - 255 - 11 * 58 - 100)
    assert 0 < int(allocatable["ephemeral-storage"]) < 20 * 1024 ** 3


@pytest.mark.parametrize("kwargs, message", [
    (dict(node_group="", count=1, instance_type_name="m5.large", zones=["eu-west-1a"]), "node group name"),
    (dict(node_group="a b", count=1, instance_type_name="m5.large", zones=["eu-west-1a"]), "node group name"),
    (dict(node_group="g", count=-1, instance_type_name="m5.large", zones=["eu-west-1a"]), "count -1"),
    (dict(node_group="g", count=True, instance_type_name="m5.large", zones=["eu-west-1a"]), "count True"),
    (dict(node_group="g", count=1, instance_type_name="m5.large", zones=[]), "zones"),
    (dict(node_group="g", count=1, instance_type_name="m5.large", zones="eu-west-1a"), "zones"),
    (dict(node_group="g", count=1, instance_type_name="m5.large", zones=["west"]), "'west' is not an availability zone"),
    (dict(node_group="g", count=1, instance_type_name="m5.large", zones=["eu-west-1a", "us-east-1a"]), "several regions"),
    (dict(node_group="g", count=1, instance_type_name="m5.large", zones=["eu-west-1a"], capacity_type="spot"),
     "capacity type 'spot'"),
    (dict(node_group="g", count=1, instance_type_name="m5.large", zones=["eu-west-1a"],
          taints=[{"key": "k", "effect": "Sometimes"}]), "effect must be one of"),
    (dict(node_group="g", count=1, instance_type_name="m5.large", zones=["eu-west-1a"], taints=[{"effect": "NoSchedule"}]),
     "needs a key"),
])
def test_bad_input_is_refused_with_a_message(kwargs, message):
    with pytest.raises(FakeNodeError, match=message):
        node_group_nodes(**kwargs)


def test_unknown_instance_type_is_refused():
    with pytest.raises(UnknownInstanceType):
        node_group_nodes("g", 1, "x1.tiny", ["eu-west-1a"])
