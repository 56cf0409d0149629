"""playbooks/site.yml against a fresh stand-in: converge, re-run, plan, and bad input.

Each component adds itself to the converge checks here as its issue lands.
"""

import copy
import json
import os
import re

import pytest

from census import assumed_credentials, stand_in_client as aws
from census import inventory_variables as local_inventory
from conftest import BUILD_DIR, changed_tasks, extra_vars, run_playbook


@pytest.fixture(scope="module")
def converged(stand_in):
    first = run_playbook(stand_in)
    assert first.rc == 0 and first.recap["failed"] == 0, first
    return first


@pytest.fixture(scope="module")
def outputs(converged):
    with open(os.path.join(BUILD_DIR, "local", "outputs.json")) as handle:
        return json.load(handle)


def test_check_mode_on_an_empty_environment_predicts_without_failing(empty_stand_in):
    plan = run_playbook(empty_stand_in, "--check", "--diff")
    assert plan.rc == 0 and plan.recap["failed"] == 0, plan
    assert plan.recap["changed"] > 0, plan
    assert "(known after apply)" in plan.output, plan
    # The environment's components are not planned in the management account: the plan says so.
    assert "The account of environment local does not exist yet" in plan.output, plan
    assert "network       not planned: its account does not exist yet" in plan.output, plan
    assert "TASK [mlops.platform.network" not in plan.output, plan
    orgs = aws("organizations", empty_stand_in)  # nothing was created
    with pytest.raises(orgs.exceptions.AWSOrganizationsNotInUseException):
        orgs.describe_organization()


def test_converge_summarises_the_environment(converged, stand_in, outputs):
    member = outputs["organization"]["environment_accounts"]["local"]["account_id"]
    assert "Environment local in us-east-1, names prefixed mlops-local" in converged.output
    assert "Runs in AWS account %s as arn:aws:sts::%s:assumed-role/OrganizationAccountAccessRole/" % (
        member, member) in converged.output
    assert "(stand-in at http://127.0.0.1:%d)" % stand_in in converged.output
    assert "organization  converged" in converged.output


def test_organization_is_visible_through_the_api(converged, stand_in, outputs):
    orgs = aws("organizations", stand_in)
    organization = outputs["organization"]
    accounts = {account["Email"]: account["Id"] for account in orgs.list_accounts()["Accounts"]}
    for name, account in organization["accounts"].items():
        assert accounts[account["email"]] == account["id"]
        (parent,) = orgs.list_parents(ChildId=account["id"])["Parents"]
        assert parent["Id"] == organization["organizational_units"][account["organizational_unit"]]
    workloads = organization["organizational_units"]["Workloads"]
    attached = {policy["Name"] for policy in orgs.list_policies_for_target(
        TargetId=workloads, Filter="SERVICE_CONTROL_POLICY")["Policies"]}
    assert attached == {"FullAWSAccess", "mlops-deny-regions-outside-allow-list", "mlops-deny-s3-without-tls",
                        "mlops-deny-iam-user-access-keys", "mlops-deny-disabling-security-services"}
    admins = {admin["Id"] for admin in orgs.list_delegated_administrators()["DelegatedAdministrators"]}
    security = organization["accounts"]["security"]["id"]
    assert admins == {security}
    # the services' own, per-region designation (local allows us-east-1 only)
    assert aws("guardduty", stand_in).list_organization_admin_accounts()["AdminAccounts"] == [
        {"AdminAccountId": security, "AdminStatus": "ENABLED"}]
    assert aws("securityhub", stand_in).list_organization_admin_accounts()["AdminAccounts"] == [
        {"AccountId": security, "Status": "ENABLED"}]
    trails = aws("cloudtrail", stand_in).describe_trails()["trailList"]
    assert [(trail["Name"], trail["IsOrganizationTrail"]) for trail in trails] == [("mlops-organization-trail", True)]


def test_the_environment_runs_in_its_member_account(converged, stand_in, outputs):
    """What the environment's components create is read back through the assumed role."""
    member = outputs["organization"]["environment_accounts"]["local"]
    assert outputs["account"] == {"account_id": member["account_id"], "assumed_role_arn": member["role_arn"]}
    assert member["account_id"] != outputs["organization"]["management_account_id"]
    credentials = assumed_credentials(stand_in, member["role_arn"], "test")
    assert aws("sts", stand_in, credentials=credentials).get_caller_identity()["Account"] == member["account_id"]


def test_second_converge_changes_nothing_and_no_secret_shows_even_at_vvv(converged, stand_in, outputs):
    second = run_playbook(stand_in, "-vvv")
    assert second.rc == 0 and second.recap["changed"] == 0 and second.recap["failed"] == 0, second
    # The database's passwords (the master's, made by RDS, and each role's, made by the
    # database module for the bootstrap Job) are in Secrets Manager only: not in the -vvv
    # output, not in build/.
    secretsmanager = member_clients(stand_in, outputs)("secretsmanager")
    database = outputs["database"]
    arns = [database["master_user_secret_arn"]] + [s["arn"] for s in database["role_secrets"].values()]
    passwords = [json.loads(secretsmanager.get_secret_value(SecretId=arn)["SecretString"])["password"]
                 for arn in arns]
    # (the stand-in's RDS gives every master the same short password; the roles' are ours)
    assert len(passwords) == 3 and all(len(password) >= 32 for password in passwords[1:])
    # MLflow's basic-auth admin: its password and session key, generated by the mlflow module.
    admin = json.loads(secretsmanager.get_secret_value(SecretId=outputs["mlflow"]["admin_secret"]["arn"])[
        "SecretString"])
    passwords += [admin["password"], admin["flask_secret_key"]]
    built = ""
    for directory, unused, files in os.walk(BUILD_DIR):
        for name in files:
            with open(os.path.join(directory, name), errors="replace") as handle:
                built += handle.read()
    for password in passwords:
        assert password not in second.output and password not in built


def test_check_mode_on_the_converged_environment_changes_nothing(converged, stand_in):
    plan = run_playbook(stand_in, "--check", "--diff")
    assert plan.rc == 0 and plan.recap["changed"] == 0 and plan.recap["failed"] == 0, plan
    assert "organization  planned (check mode: nothing was changed)" in plan.output


def member_clients(port, outputs):
    """Clients acting in the environment's member account, through the role the organization made."""
    role_arn = outputs["organization"]["environment_accounts"]["local"]["role_arn"]
    credentials = assumed_credentials(port, role_arn, "integration")
    return lambda service: aws(service, port, credentials=credentials)


def test_foundation_is_visible_in_the_member_account(converged, stand_in, outputs):
    client = member_clients(stand_in, outputs)
    network, lake, database = outputs["network"], outputs["data_lake"], outputs["database"]
    ec2 = client("ec2")
    (vpc,) = ec2.describe_vpcs(VpcIds=[network["vpc_id"]])["Vpcs"]
    assert vpc["CidrBlock"] == "10.0.0.0/16"
    subnets = ec2.describe_subnets(SubnetIds=network["private_subnet_ids"])["Subnets"]
    assert len({subnet["AvailabilityZone"] for subnet in subnets}) == 2
    s3 = client("s3")
    for name in lake["bucket_names"]:
        assert s3.get_bucket_versioning(Bucket=name)["Status"] == "Enabled"
        rule = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"][0]
        assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
        assert "aws:SecureTransport" in s3.get_bucket_policy(Bucket=name)["Policy"]
    (instance,) = client("rds").describe_db_instances(
        DBInstanceIdentifier=database["instance_identifier"])["DBInstances"]
    assert instance["StorageEncrypted"] and not instance["PubliclyAccessible"]
    assert instance["MasterUserSecret"]["SecretArn"] == database["master_user_secret_arn"]
    # The management account holds none of it.
    assert network["vpc_id"] not in {v["VpcId"] for v in aws("ec2", stand_in).describe_vpcs()["Vpcs"]}


def test_cluster_nodes_and_identities_are_made_in_the_member_account(converged, stand_in, outputs, kube_client):
    """The done-means of the EKS issue: a cluster with secrets encryption, a CPU and a GPU node
    group (NVIDIA AMI, GPU taint), the OIDC provider and the component roles in the
    environment's account, and the node groups' nodes in the local control plane."""
    from kubernetes import client as k8s

    client = member_clients(stand_in, outputs)
    eks_out, gpu_out, identities = outputs["eks"], outputs["gpu_nodes"], outputs["workload_identity"]
    eks = client("eks")
    cluster = eks.describe_cluster(name=eks_out["cluster_name"])["cluster"]
    assert cluster["encryptionConfig"][0]["provider"]["keyArn"] == eks_out["kms_key_arn"]
    assert sorted(cluster["resourcesVpcConfig"]["subnetIds"]) == sorted(outputs["network"]["private_subnet_ids"])
    assert not cluster["resourcesVpcConfig"]["endpointPublicAccess"]
    system = eks.describe_nodegroup(clusterName=cluster["name"], nodegroupName="mlops-local-system")["nodegroup"]
    assert system["instanceTypes"] == ["t3.large"] and system["amiType"] == "AL2023_x86_64_STANDARD"
    gpu = eks.describe_nodegroup(clusterName=cluster["name"], nodegroupName=gpu_out["node_groups"]["gpu"]["name"])
    gpu = gpu["nodegroup"]
    assert gpu["amiType"] == "AL2023_x86_64_NVIDIA" and gpu["capacityType"] == "SPOT"
    assert gpu["taints"] == [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}]
    assert gpu["labels"]["nvidia.com/gpu.present"] == "true"

    iam = client("iam")
    provider = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=eks_out["oidc_provider_arn"])
    assert provider["ClientIDList"] == ["sts.amazonaws.com"]
    assert sorted(identities) == ["external_secrets", "feast", "kserve", "kubeflow", "mlflow", "vllm"]
    for name, identity in identities.items():
        role = iam.get_role(RoleName=identity["role_name"])["Role"]
        (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
        assert statement["Principal"] == {"Federated": eks_out["oidc_provider_arn"]}, name
        assert list(statement["Condition"]["StringEquals"].values())[0] == "system:serviceaccount:%s:%s" % (
            identity["namespace"], identity["service_account"]), name
        assert identity["pod_annotations"] == {"eks.amazonaws.com/role-arn": role["Arn"]}, name
    assert iam.get_role(RoleName="mlops-local-ebs-csi-driver")["Role"]["Arn"] == eks_out["ebs_csi_identity"]["role_arn"]

    selector = "eks.amazonaws.com/nodegroup in (mlops-local-system,mlops-local-gpu-gpu)"
    nodes = k8s.CoreV1Api(kube_client).list_node(label_selector=selector).items
    by_group = {}
    for node in nodes:
        by_group.setdefault(node.metadata.labels["eks.amazonaws.com/nodegroup"], []).append(node)
    assert len(by_group["mlops-local-system"]) == system["scalingConfig"]["desiredSize"]
    (gpu_node,) = by_group["mlops-local-gpu-gpu"]
    assert [(taint.key, taint.value, taint.effect) for taint in gpu_node.spec.taints
            if not taint.key.startswith("node.kubernetes.io/")] == [
        ("nvidia.com/gpu", "true", "NoSchedule")]
    assert gpu_node.status.allocatable["nvidia.com/gpu"] == "1"


def test_mlflow_serves_from_the_system_nodes_with_its_identity(converged, outputs, kube_client):
    """The done-means of the MLflow issue, on `make demo`'s path: the platform base and MLflow
    accepted by the real API server, the migration Job complete, the Deployment Available
    with its pods on the system node group's nodes, its service account carrying the
    identity the AWS layer made."""
    from kubernetes import client as k8s

    facts = outputs["mlflow"]
    ns = facts["namespace"]
    apps, core = k8s.AppsV1Api(kube_client), k8s.CoreV1Api(kube_client)
    deployment = apps.read_namespaced_deployment("mlflow", ns)
    assert deployment.status.available_replicas == deployment.spec.replicas == 1
    system = set(n.metadata.name for n in core.list_node(
        label_selector="eks.amazonaws.com/nodegroup=mlops-local-system").items)
    pods = core.list_namespaced_pod(ns, label_selector="app.kubernetes.io/name=mlflow").items
    assert pods and set(p.spec.node_name for p in pods) <= system
    (job,) = k8s.BatchV1Api(kube_client).list_namespaced_job(ns).items
    assert job.status.succeeded == 1
    account = core.read_namespaced_service_account("mlflow", ns)
    identity = outputs["workload_identity"]["mlflow"]["pod_annotations"]
    assert identity and dict((k, account.metadata.annotations.get(k)) for k in identity) == identity
    command = deployment.spec.template.spec.containers[0].command
    assert command[command.index("--artifacts-destination") + 1] == facts["artifacts_destination"]
    assert facts["artifacts_destination"].startswith("s3://%s" % outputs["data_lake"]["buckets"]["artifacts"]["name"])


def test_drift_is_repaired_exactly(converged, stand_in, outputs):
    """Behind the modules' backs: a route deleted, versioning suspended, the TLS policy removed."""
    client = member_clients(stand_in, outputs)
    network, lake = outputs["network"], outputs["data_lake"]
    ec2, s3 = client("ec2"), client("s3")
    private_table = network["route_table_ids"]["private"][0]
    ec2.delete_route(RouteTableId=private_table, DestinationCidrBlock="0.0.0.0/0")
    bucket = lake["bucket_names"][0]
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    s3.delete_bucket_policy(Bucket=bucket)

    repair = run_playbook(stand_in, "--diff")
    assert repair.rc == 0 and repair.recap["failed"] == 0, repair
    # exactly the two components whose resources drifted, nothing else
    assert [task.split(" : ")[0] for task in changed_tasks(repair)] == [
        "mlops.platform.data_lake", "mlops.platform.network"], repair
    routes = ec2.describe_route_tables(RouteTableIds=[private_table])["RouteTables"][0]["Routes"]
    assert any(route.get("DestinationCidrBlock") == "0.0.0.0/0" for route in routes)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert "aws:SecureTransport" in s3.get_bucket_policy(Bucket=bucket)["Policy"]

    again = run_playbook(stand_in)
    assert again.rc == 0 and again.recap["changed"] == 0, again


def test_kubernetes_drift_is_planned_and_repaired_and_mlflow_off_prunes_it(converged, stand_in, outputs,
                                                                           kube_client):
    """Behind the play's back: MLflow scaled, the bootstrap's ConfigMap deleted. `--check
    --diff` plans exactly those; the next run repairs exactly those. Then MLflow turned off:
    its objects are pruned (the last test of the converged environment)."""
    from kubernetes import client as k8s

    ns, base = outputs["mlflow"]["namespace"], outputs["platform_base"]["namespace"]
    apps, core = k8s.AppsV1Api(kube_client), k8s.CoreV1Api(kube_client)
    apps.patch_namespaced_deployment_scale("mlflow", ns, {"spec": {"replicas": 3}})
    (config_map,) = [c.metadata.name for c in core.list_namespaced_config_map(base).items
                     if c.metadata.name.startswith("database-bootstrap-")]
    core.delete_namespaced_config_map(config_map, base)

    plan = run_playbook(stand_in, "--check", "--diff")
    assert plan.rc == 0 and plan.recap["changed"] == 2, plan
    assert [task.split(" : ")[0] for task in changed_tasks(plan)] == [
        "mlops.platform.platform_base", "mlops.platform.mlflow"], plan
    assert re.search(r"-\s+\"?replicas\"?: 3", plan.output) and re.search(r"\+\s+\"?replicas\"?: 1", plan.output), plan
    assert apps.read_namespaced_deployment("mlflow", ns).spec.replicas == 3  # a plan writes nothing

    repair = run_playbook(stand_in, "--diff")
    assert repair.rc == 0 and [task.split(" : ")[0] for task in changed_tasks(repair)] == [
        "mlops.platform.platform_base", "mlops.platform.mlflow"], repair
    assert apps.read_namespaced_deployment("mlflow", ns).spec.replicas == 1
    core.read_namespaced_config_map(config_map, base)

    ml_platform = copy.deepcopy(local_inventory()["mlops_ml_platform"])
    ml_platform["mlflow"]["enabled"] = False
    off = run_playbook(stand_in, *extra_vars({"mlops_ml_platform": ml_platform}))
    assert off.rc == 0 and off.recap["failed"] == 0, off
    assert apps.list_namespaced_deployment(ns).items == []
    assert k8s.BatchV1Api(kube_client).list_namespaced_job(ns).items == []
    assert core.list_namespaced_service(ns).items == []


def test_unreachable_aws_is_a_clear_failure_after_validation(silent_endpoint):
    unreachable = {"mlops_aws_environment": {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}}
    run = run_playbook(silent_endpoint.port, *extra_vars(unreachable), env={"AWS_MAX_ATTEMPTS": "1"})
    assert run.rc != 0, run
    assert "Traceback" not in run.output, run
    assert "Could not converge the organization: Could not connect to the endpoint URL" in run.output, run


def _mutate(path, value):
    """Extra vars replacing one value of the local inventory (extra vars replace whole variables)."""
    def apply(variables):
        target = variables
        for key in path[:-1]:
            target = target[key]
        if value is _DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = value
    return apply


_DELETE = object()


def _rename(path, new_name):
    def apply(variables):
        target = variables
        for key in path[:-1]:
            target = target[key]
        target[new_name] = target.pop(path[-1])
    return apply


BAD_INPUT = {
    "non-boolean enabled": (
        _mutate(["mlops_infrastructure", "network", "enabled"], "yes"),
        ["mlops_infrastructure.network.enabled: 'yes' is a string, expected a boolean (true or false)"]),
    "unknown config key": (
        _mutate(["mlops_infrastructure", "network", "config", "nat_mode"], "single"),
        ["mlops_infrastructure.network.config.nat_mode: is not a known key (did you mean 'nat_gateway_mode'?)"]),
    "misspelt config": (
        _rename(["mlops_infrastructure", "eks", "config"], "confg"),
        ["mlops_infrastructure.eks.confg: is not a known key (did you mean 'config'?)"]),
    "unknown component": (
        _rename(["mlops_serving", "vllm"], "vllmm"),
        ["mlops_serving.vllmm: is not a known component (did you mean 'vllm'?)"]),
    "group given as a list": (
        _mutate(["mlops_pipelines"], [{"kubeflow": {"enabled": True}}]),
        ["mlops_pipelines: is a list, expected a mapping"]),
    "cross-component rule": (
        _mutate(["mlops_infrastructure", "database", "enabled"], False),
        ["mlops_ml_platform.mlflow.enabled: is true, but mlflow needs a database",
         "mlops_pipelines.kubeflow.enabled: is true, but kubeflow needs a database"]),
    "bad CIDR": (
        _mutate(["mlops_infrastructure", "network", "config", "cidr"], "10.0.0.0/33"),
        ["mlops_infrastructure.network.config.cidr: '10.0.0.0/33' is not a valid IPv4 CIDR"]),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_is_refused_before_any_aws_call(case, silent_endpoint):
    mutate, expected = BAD_INPUT[case]
    variables = local_inventory()
    broken = copy.deepcopy(variables)
    broken["mlops_aws_environment"]["AWS_ENDPOINT_URL"] = "http://127.0.0.1:%d" % silent_endpoint.port
    mutate(broken)
    run = run_playbook(silent_endpoint.port, *extra_vars(broken))
    assert run.rc != 0, run
    for message in expected:
        assert message in run.output, run
    assert "Traceback" not in run.output, run
    assert "Converge the organization" not in run.output, run
    assert silent_endpoint.connections() == 0, "an AWS call was made before validation failed"


def test_several_problems_are_reported_together(silent_endpoint):
    broken = local_inventory()
    broken["mlops_aws_environment"]["AWS_ENDPOINT_URL"] = "http://127.0.0.1:%d" % silent_endpoint.port
    for mutate, expected in BAD_INPUT.values():
        mutate(broken)
    run = run_playbook(silent_endpoint.port, *extra_vars(broken))
    assert run.rc != 0
    for mutate, expected in BAD_INPUT.values():
        for message in expected:
            if message.startswith("mlops_pipelines.kubeflow"):
                continue  # masked: mlops_pipelines itself is broken, so its rules are not evaluated
            assert message in run.output, (message, run)
    assert silent_endpoint.connections() == 0
