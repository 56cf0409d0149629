"""The platform schema and its cross-component rules, on real inventories and bad input."""

import ast
import copy
import glob
import os
import subprocess
import sys

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.mlops.platform.plugins.module_utils import config_schema as cfg

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENVIRONMENTS = ["local", "dev", "staging", "prod"]


def inventory_variables(env):
    variables = {}
    for path in sorted(glob.glob(os.path.join(ROOT, "inventories", env, "group_vars", "all", "*.yml"))):
        with open(path) as handle:
            variables.update(yaml.safe_load(handle))
    return {name: value for name, value in variables.items() if name in cfg.SCHEMA.variables}


def errors_of(variables):
    return sorted(str(error) for error in cfg.validate(variables)[1])


def paths_of(variables):
    return sorted(error.path for error in cfg.validate(variables)[1])


def minimal(**groups):
    variables = {"mlops_environment": {"name": "dev"}}
    variables.update(groups)
    return variables


@pytest.fixture
def full():
    """The local inventory: every component enabled, valid."""
    return copy.deepcopy(inventory_variables("local"))


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_inventory_is_valid(env):
    assert errors_of(inventory_variables(env)) == []


def test_inventories_differ_where_the_environments_should():
    prod = cfg.validate(inventory_variables("prod"))[0]["mlops_infrastructure"]
    dev = cfg.validate(inventory_variables("dev"))[0]["mlops_infrastructure"]
    assert prod["database"]["config"]["multi_az"] and prod["database"]["config"]["deletion_protection"]
    assert prod["network"]["config"]["availability_zone_count"] >= 2
    assert prod["network"]["config"]["nat_gateway_mode"] == "per_az"
    assert not dev["database"]["config"]["multi_az"] and dev["network"]["config"]["nat_gateway_mode"] == "single"


def test_the_shared_organization_is_declared_alike_in_every_aws_environment():
    """dev, staging and prod each converge the same organization from its management
    account: a difference between their organization blocks would be undone and redone
    by every other environment's run (tags flipping, SCPs rewritten)."""
    blocks = [inventory_variables(env)["mlops_infrastructure"]["organization"] for env in ("dev", "staging", "prod")]
    assert blocks[0] == blocks[1] == blocks[2]


def test_the_lake_replica_region_must_be_allowed_by_the_region_guardrail():
    """SCPs deny regions outside allowed_regions; moto does not enforce them, so the rule is
    checked before any call."""
    variables = copy.deepcopy(inventory_variables("prod"))
    variables["mlops_infrastructure"]["organization"]["config"]["allowed_regions"] = ["eu-west-1", "us-east-1"]
    assert errors_of(variables) == [
        "mlops_infrastructure.organization.config.allowed_regions: a list does not include "
        "eu-central-1, the data lake's replication region "
        "(mlops_infrastructure.data_lake.config.replication.destination_region), where the guardrail "
        "deny_regions_outside_allow_list would deny the replica bucket"]


def test_defaults_alone_are_valid_and_complete():
    config, errors = cfg.validate(minimal())
    assert errors == []
    assert set(config) == {"mlops_environment"} | set(cfg.GROUPS)
    assert config["mlops_infrastructure"]["network"] == {
        "enabled": False, "config": cfg.NETWORK.options["config"].default()}
    assert config["mlops_environment"]["region"] == "us-east-1"
    assert [c["name"] for c in cfg.components(config)] == [name for group, name in cfg.CONVERGE_ORDER]
    assert not any(c["enabled"] for c in cfg.components(config))


def test_inventory_values_merge_over_defaults_and_lists_replace():
    config, errors = cfg.validate(minimal(mlops_infrastructure={
        "network": {"enabled": True, "config": {"flow_logs": {"retention_days": 7}, "gateway_endpoints": ["dynamodb"]}},
    }))
    assert errors == []
    network = config["mlops_infrastructure"]["network"]["config"]
    assert network["flow_logs"] == {"enabled": True, "destination": "s3", "traffic_type": "ALL", "retention_days": 7}
    assert network["gateway_endpoints"] == ["dynamodb"]  # replaced, not ["s3", "dynamodb"]
    assert network["cidr"] == "10.0.0.0/16"


# --- the bad-input cases the foundation issue names -----------------------------------------

def test_non_boolean_enabled():
    assert errors_of(minimal(mlops_infrastructure={"network": {"enabled": "yes"}})) == [
        "mlops_infrastructure.network.enabled: 'yes' is a string, expected a boolean (true or false)"]


def test_unknown_config_key_with_suggestion():
    errors = errors_of(minimal(mlops_infrastructure={"network": {"config": {"nat_gateway_mod": "single"}}}))
    assert len(errors) == 1
    assert errors[0].startswith("mlops_infrastructure.network.config.nat_gateway_mod: is not a known key "
                                "(did you mean 'nat_gateway_mode'?)")


def test_misspelt_config():
    errors = errors_of(minimal(mlops_infrastructure={"network": {"enabled": False, "confg": {}}}))
    assert errors == ["mlops_infrastructure.network.confg: is not a known key (did you mean 'config'?); "
                      "known keys: config, enabled"]


def test_unknown_component():
    errors = errors_of(minimal(mlops_serving={"vllmm": {"enabled": True}}))
    assert errors == ["mlops_serving.vllmm: is not a known component (did you mean 'vllm'?); "
                      "known components: kserve, vllm"]


def test_group_given_as_a_list():
    assert errors_of(minimal(mlops_ml_platform=[{"mlflow": {"enabled": True}}])) == [
        "mlops_ml_platform: is a list, expected a mapping"]


def test_group_given_as_null():
    assert errors_of(minimal(mlops_pipelines=None)) == ["mlops_pipelines: null must be set (expected a mapping)"]


def test_bad_cidr():
    assert errors_of(minimal(mlops_infrastructure={"network": {"config": {"cidr": "10.0.0.0/33"}}})) == [
        "mlops_infrastructure.network.config.cidr: '10.0.0.0/33' is not a valid IPv4 CIDR (expected e.g. 10.0.0.0/16)"]


def test_vpc_cidr_outside_aws_sizes():
    assert errors_of(minimal(mlops_infrastructure={"network": {"config": {"cidr": "10.0.0.0/8"}}})) == [
        "mlops_infrastructure.network.config.cidr: '10.0.0.0/8' is not a valid VPC size: AWS allows /16 to /28"]


def test_kubernetes_component_needs_eks(full):
    full["mlops_infrastructure"]["eks"]["enabled"] = False
    errors = errors_of(full)
    for component in ("mlops_infrastructure.gpu_nodes", "mlops_ml_platform.mlflow", "mlops_ml_platform.feast",
                      "mlops_pipelines.kubeflow", "mlops_serving.kserve", "mlops_serving.vllm"):
        assert "%s.enabled: is true, but %s runs on the EKS cluster: enable mlops_infrastructure.eks" % (
            component, component.rpartition(".")[2]) in errors
    assert len(errors) == 6


def test_gpu_workloads_need_gpu_nodes(full):
    full["mlops_infrastructure"]["gpu_nodes"]["enabled"] = False
    full["mlops_serving"]["kserve"]["config"] = {"gpu_inference": True}
    assert errors_of(full) == [
        "mlops_serving.kserve.config.gpu_inference: is true, but GPU workloads need GPU nodes: "
        "enable mlops_infrastructure.gpu_nodes",
        "mlops_serving.vllm.enabled: is true, but vllm serves models on GPUs: enable mlops_infrastructure.gpu_nodes",
    ]


def test_mlflow_and_kubeflow_need_a_database(full):
    full["mlops_infrastructure"]["database"]["enabled"] = False
    assert paths_of(full) == ["mlops_ml_platform.feast.enabled", "mlops_ml_platform.mlflow.enabled",
                              "mlops_pipelines.kubeflow.enabled"]


def test_an_external_database_satisfies_the_rule_but_needs_its_details(full):
    full["mlops_infrastructure"]["database"]["enabled"] = False
    full["mlops_ml_platform"]["feast"]["config"] = {"registry": "s3"}
    full["mlops_pipelines"]["kubeflow"]["config"] = {"pipelines": {"enabled": False}}
    full["mlops_ml_platform"]["mlflow"]["config"]["external_database"] = {"host": "db.example.com"}
    assert paths_of(full) == ["mlops_ml_platform.mlflow.config.external_database.credentials_secret_arn",
                              "mlops_ml_platform.mlflow.config.external_database.name"]


def test_a_component_zone_its_identity_may_not_use_is_refused(full):
    full["mlops_infrastructure"]["data_lake"]["config"] = {
        "zones": ["raw", "processed", "features", "artifacts", "models", "scratch"]}
    full["mlops_ml_platform"]["mlflow"]["config"]["artifact_zone"] = "raw"
    full["mlops_serving"]["kserve"].setdefault("config", {})["model_zone"] = "scratch"
    assert errors_of(full) == [
        "mlops_ml_platform.mlflow.config.artifact_zone: 'raw' is a zone the mlflow workload identity may not write "
        "(it may write: artifacts, models)",
        "mlops_serving.kserve.config.model_zone: 'scratch' is a zone the kserve workload identity may not read "
        "(it may read: models)",
    ]


def test_an_autoscaler_ceiling_below_its_floor_is_refused(full):
    full["mlops_ml_platform"]["mlflow"]["config"].update(replicas=3, max_replicas=2)
    assert errors_of(full) == ["mlops_ml_platform.mlflow.config.max_replicas: 2 must be at least replicas (3)"]


def test_multi_az_needs_two_availability_zones(full):
    full["mlops_infrastructure"]["eks"]["enabled"] = False
    for group in ("mlops_ml_platform", "mlops_pipelines", "mlops_serving"):
        for toggle in full[group].values():
            toggle["enabled"] = False
    full["mlops_infrastructure"]["gpu_nodes"]["enabled"] = False
    full["mlops_infrastructure"]["network"]["config"]["availability_zone_count"] = 1
    full["mlops_infrastructure"]["database"]["config"]["multi_az"] = True
    assert errors_of(full) == [
        "mlops_infrastructure.database.config.multi_az: is true, but Multi-AZ needs at least two availability "
        "zones (mlops_infrastructure.network.config.availability_zone_count is 1)",
        "mlops_infrastructure.network.config.availability_zone_count: 1 is 1, but an RDS subnet group needs at "
        "least two availability zones",
    ]


def test_longest_prefix_fits_every_single_bucket_name(full):
    full["mlops_environment"]["name_prefix"] = "p" * 40
    assert errors_of(full) == []
    full["mlops_environment"]["name_prefix"] = "p" * 41
    assert errors_of(full) == ["mlops_environment.name_prefix: '%s' is 41 characters long, the limit is 40" % ("p" * 41)]


def test_bucket_per_zone_names_must_fit():
    errors = errors_of(minimal(
        mlops_environment={"name": "dev", "name_prefix": "an-exceptionally-long-prefix-name-xy"},
        mlops_infrastructure={"data_lake": {"enabled": True, "config": {"layout": "bucket_per_zone"}}}))
    assert errors == [
        "mlops_environment.name_prefix: makes an S3 bucket name "
        "'an-exceptionally-long-prefix-name-xy-lake-%s-123456789012' 64 characters long, the limit is 63" % zone
        for zone in ("artifacts", "processed")
    ]


def test_subnets_inside_the_vpc_without_overlap():
    errors = errors_of(minimal(mlops_infrastructure={"network": {"config": {
        "cidr": "10.0.0.0/16",
        "public_subnet_cidrs": ["10.0.0.0/24", "10.1.0.0/24"],
        "private_subnet_cidrs": ["10.0.0.128/25", "10.0.64.0/18"],
    }}}))
    assert errors == [
        "mlops_infrastructure.network.config.private_subnet_cidrs[0]: '10.0.0.128/25' overlaps "
        "mlops_infrastructure.network.config.public_subnet_cidrs[0] (10.0.0.0/24)",
        "mlops_infrastructure.network.config.public_subnet_cidrs[1]: '10.1.0.0/24' is outside the VPC CIDR 10.0.0.0/16",
    ]


def test_lifecycle_transitions_in_waterfall_order():
    errors = errors_of(minimal(mlops_infrastructure={"data_lake": {"config": {"lifecycle": {"raw": {
        "transitions": [{"days": 90, "storage_class": "GLACIER"}, {"days": 120, "storage_class": "STANDARD_IA"}],
    }}}}}))
    assert len(errors) == 1
    assert errors[0].startswith("mlops_infrastructure.data_lake.config.lifecycle.raw.transitions: a list moves "
                                "objects to STANDARD_IA in item 1, which is not further down the S3 waterfall")


def test_lifecycle_of_an_unknown_zone():
    assert paths_of(minimal(mlops_infrastructure={"data_lake": {"config": {"lifecycle": {"rw": {}}}}})) == [
        "mlops_infrastructure.data_lake.config.lifecycle.rw"]


def test_organization_references_and_emails(full):
    org = full["mlops_infrastructure"]["organization"]["config"]
    org["accounts"]["twin"] = {"email": "AWS+mlops-local@example.com", "organizational_unit": "Workloads/Nowhere"}
    org["accounts"]["bad"] = {"email": "not-an-email", "organizational_unit": "Security"}
    org["organizational_units"] = ["Security", "Workloads", "Workloads/NonProduction", "Orphans/Child"]
    org["guardrails"] = {"Workloads": ["deny_leaving_organisation"]}
    assert errors_of(full) == [
        "mlops_infrastructure.organization.config.accounts.bad.email: 'not-an-email' does not match "
        + cfg.ORGANIZATION.options["config"].options["accounts"].values.options["email"].pattern.pattern,
        "mlops_infrastructure.organization.config.guardrails.Workloads[0]: 'deny_leaving_organisation' is not one "
        "of " + ", ".join(sorted(cfg.GUARDRAILS)) + " (did you mean 'deny_leaving_organization'?)",
        "mlops_infrastructure.organization.config.organizational_units: a list declares 'Orphans/Child' whose "
        "parent 'Orphans' is not declared",
    ]


def test_organization_cross_references(full):
    org = full["mlops_infrastructure"]["organization"]["config"]
    org["accounts"]["twin"] = {"email": "AWS+mlops-local@example.com", "organizational_unit": "Workloads/Nowhere"}
    org["allowed_regions"] = ["eu-west-1"]
    org["security_account"] = "secops"
    assert errors_of(full) == [
        "mlops_infrastructure.organization.config.accounts.twin.email: 'AWS+mlops-local@example.com' is also the "
        "e-mail of account 'local'",
        "mlops_infrastructure.organization.config.accounts.twin.organizational_unit: 'Workloads/Nowhere' is not a "
        "declared OU (Infrastructure, Security, Workloads, Workloads/NonProduction, Workloads/Production)",
        "mlops_infrastructure.organization.config.allowed_regions: a list does not include the environment's "
        "region us-east-1, which the guardrail deny_regions_outside_allow_list would lock out",
        "mlops_infrastructure.organization.config.security_account: 'secops' is not an account of accounts",
    ]


def test_region_is_checked_against_botocore():
    assert errors_of(minimal(mlops_environment={"name": "dev", "region": "eu-wset-1"})) == [
        "mlops_environment.region: 'eu-wset-1' is not an AWS region known to botocore"]


def test_vllm_model_on_an_undeclared_node_group(full):
    full["mlops_serving"]["vllm"]["config"]["models"][0]["node_group"] = "gpus"
    assert errors_of(full) == [
        "mlops_serving.vllm.config.models[0].node_group: 'gpus' is not a node group of "
        "mlops_infrastructure.gpu_nodes.config.node_groups (gpu)"]


def test_node_group_sizes_are_ordered(full):
    full["mlops_infrastructure"]["gpu_nodes"]["config"]["node_groups"]["gpu"].update(min_size=2, desired_size=1)
    assert errors_of(full) == [
        "mlops_infrastructure.gpu_nodes.config.node_groups.gpu: a mapping needs min_size <= desired_size <= "
        "max_size, got 2 <= 1 <= 2"]


def test_one_mistake_is_reported_once(full):
    """A broken value is reported where it is, not again by every rule that reads it."""
    full["mlops_infrastructure"]["database"]["enabled"] = "true"
    assert errors_of(full) == [
        "mlops_infrastructure.database.enabled: 'true' is a string, expected a boolean (true or false)"]


def test_all_errors_are_reported_at_once():
    errors = paths_of({
        "mlops_environment": {"name": "Dev!", "region": "mars-1"},
        "mlops_infrastructure": {"network": {"enabled": "yes", "config": {"cidr": "x"}}, "kafka": {}},
        "mlops_serving": [],
        "mlops_pipelines": {"kubeflow": {"confg": {}}},
    })
    assert errors == ["mlops_environment.name", "mlops_environment.region", "mlops_infrastructure.kafka",
                      "mlops_infrastructure.network.config.cidr", "mlops_infrastructure.network.enabled",
                      "mlops_pipelines.kubeflow.confg", "mlops_serving"]


def test_missing_environment_name():
    assert errors_of({}) == [
        "mlops_environment.name: is required: Name of the environment (local, dev, staging, prod, ...); "
        "part of every resource name."]


JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8)),
    lambda children: st.one_of(st.lists(children, max_size=3),
                               st.dictionaries(st.one_of(st.text(max_size=8), st.sampled_from(
                                   ["enabled", "config", "network", "eks", "mlflow", "cidr", "name", "models"])),
                                   children, max_size=4)),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["mlops_environment"] + cfg.GROUPS + ["other"]), JSONISH, max_size=5))
def test_no_input_raises(variables):
    """Whatever the inventory holds, the user gets errors, never a traceback."""
    config, errors = cfg.validate(variables)
    for error in errors:
        assert error.path and str(error)


@settings(max_examples=100, deadline=None)
@given(JSONISH)
def test_no_input_raises_anywhere_in_a_valid_tree(junk):
    """Junk at any single leaf of a valid configuration is reported, never raised."""
    base = inventory_variables("local")
    paths = []

    def walk(tree, path):
        paths.append(path)
        if isinstance(tree, dict):
            for key, value in tree.items():
                walk(value, path + [key])
        elif isinstance(tree, list):
            for index, value in enumerate(tree):
                walk(value, path + [index])

    walk(base, [])
    for path in paths[1:]:
        variables = copy.deepcopy(base)
        target = variables
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = junk
        cfg.validate(variables)


# --- the configuration code depends on no component ------------------------------------------

MODULE_UTILS = os.path.join(ROOT, "plugins", "module_utils")
PACKAGE = "ansible_collections.mlops.platform.plugins.module_utils"
# What the schema and the engine may import: themselves and the data modules beside them.
CONFIGURATION_MODULES = {"config_schema", "schema_engine", "naming", "guardrails", "identities", "instance_types",
                         "rds_storage", "regions", "resource_policy"}


def module_utils_imports(name):
    """The module_utils files ``name`` imports anywhere in it, a function's body included."""
    with open(os.path.join(MODULE_UTILS, name + ".py")) as handle:
        tree = ast.parse(handle.read())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == PACKAGE:
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(PACKAGE + "."):
            imported.add(node.module[len(PACKAGE) + 1:].split(".")[0])
        elif isinstance(node, ast.Import):
            imported.update(alias.name[len(PACKAGE) + 1:].split(".")[0] for alias in node.names
                            if alias.name.startswith(PACKAGE + "."))
    return imported


def import_graph():
    names = sorted(os.path.basename(path)[:-3] for path in glob.glob(os.path.join(MODULE_UTILS, "*.py"))
                   if not path.endswith("__init__.py"))
    return {name: module_utils_imports(name) for name in names}


def test_module_utils_import_one_another_without_a_cycle():
    graph = import_graph()
    done, path = set(), []

    def visit(name):
        if name in path:
            return path[path.index(name):] + [name]
        if name in done:
            return None
        path.append(name)
        for other in sorted(graph.get(name, ())):
            cycle = visit(other)
            if cycle:
                return cycle
        path.pop()
        done.add(name)
        return None

    for name in graph:
        cycle = visit(name)
        assert cycle is None, "import cycle: %s" % " -> ".join(cycle)


def test_the_schema_and_the_engine_import_no_component():
    graph = import_graph()
    reached, todo = set(), ["config_schema", "schema_engine"]
    while todo:
        name = todo.pop()
        if name not in reached:
            reached.add(name)
            todo.extend(graph[name])
    assert sorted(reached - CONFIGURATION_MODULES) == []


@pytest.mark.parametrize("first", ["network", "database", "organization", "workload_identity", "naming", "eks",
                                   "config_schema"])
def test_any_module_utils_file_imports_first_in_a_fresh_interpreter(first):
    code = "import %s.%s; from %s import config_schema; config_schema.validate({})" % (PACKAGE, first, PACKAGE)
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                            env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)), check=False)
    assert result.returncode == 0, result.stderr
