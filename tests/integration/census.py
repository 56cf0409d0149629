"""A census of what the collection made on an AWS stand-in, comparable between stand-ins.

``census(port, regions)`` reads a moto server and returns, per AWS account (named, not
numbered: account ids differ between stand-ins), a ``collections.Counter`` of keys such as
``("ec2:vpc", "vpc")`` or ``("kms:key", ("alias/mlops-local-lake",), "Enabled")``. Resource
ids are left out and account ids are replaced by account names, so two stand-ins that
converged the same inventory give equal censuses, and a duplicate shows as a count above 1.

moto is multi-account: the management account is its default (123456789012, reached with
any credentials); member accounts made by CreateAccount are reached by AssumeRole into
their OrganizationAccountAccessRole, as the converge itself does.
"""

from __future__ import annotations

import collections
import glob
import os
import re

import boto3
import botocore.exceptions
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MANAGEMENT = "management"
TAG = "mlops.platform/resource"
RANDOM_SUFFIX = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|-[A-Za-z0-9]{6}$")


def inventory_variables(inventory="local"):
    """An inventory's group_vars/all, merged as Ansible merges them (a fresh copy each call)."""
    variables = {}
    for path in sorted(glob.glob(os.path.join(ROOT, "inventories", inventory, "group_vars", "all", "*.yml"))):
        with open(path) as handle:
            variables.update(yaml.safe_load(handle) or {})
    return variables


def inventory_regions(inventory="local"):
    """Regions an inventory's converge touches: the environment's, the guardrail's, the replica's."""
    variables = inventory_variables(inventory)
    regions = {variables.get("mlops_environment", {}).get("region", "us-east-1")}
    infrastructure = variables.get("mlops_infrastructure", {})
    organization = (infrastructure.get("organization") or {}).get("config") or {}
    regions.update(organization.get("allowed_regions") or [])
    if organization.get("trail_region"):
        regions.add(organization["trail_region"])
    replication = ((infrastructure.get("data_lake") or {}).get("config") or {}).get("replication") or {}
    if replication.get("enabled") and replication.get("destination_region"):
        regions.add(replication["destination_region"])
    return sorted(regions)


def stand_in_client(service, port, region="us-east-1", credentials=None):
    """A boto3 client of the stand-in on ``port``: the management account, or ``credentials``' account."""
    credentials = credentials or {}
    return boto3.client(service, region_name=region, endpoint_url="http://127.0.0.1:%d" % port,
                        aws_access_key_id=credentials.get("AccessKeyId", "testing"),
                        aws_secret_access_key=credentials.get("SecretAccessKey", "testing"),
                        aws_session_token=credentials.get("SessionToken"))


def _pages(client, method, key, **kwargs):
    if client.can_paginate(method):
        for page in client.get_paginator(method).paginate(**kwargs):
            yield from page.get(key, [])
    else:
        yield from getattr(client, method)(**kwargs).get(key, [])


def _tags(resource, key="Tags"):
    return {tag["Key"]: tag["Value"] for tag in resource.get(key) or []}


def _label(tags, fallback):
    """A resource's stable key: its mlops.platform/resource tag, else its Name tag, else fallback."""
    return tags.get(TAG) or tags.get("Name") or fallback


def _calls(census, account, function):
    """Run one reader; a reader the stand-in refuses is recorded, not fatal."""
    try:
        function()
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        census[account][("census:error", function.__name__, type(error).__name__)] += 1


def _accounts(port):
    """[(name, account id, credentials)] for the management account and every member."""
    management = stand_in_client("sts", port).get_caller_identity()["Account"]
    accounts = [(MANAGEMENT, management, None)]
    orgs = stand_in_client("organizations", port)
    try:
        members = list(_pages(orgs, "list_accounts", "Accounts"))
    except orgs.exceptions.AWSOrganizationsNotInUseException:
        return accounts
    seen = collections.Counter()
    for account in sorted(members, key=lambda account: (account["Name"], account.get("JoinedTimestamp", 0))):
        if account["Id"] == management:
            continue
        seen[account["Name"]] += 1
        name = account["Name"] if seen[account["Name"]] == 1 else "%s#%d" % (account["Name"], seen[account["Name"]])
        credentials = assumed_credentials(
            port, "arn:aws:iam::%s:role/OrganizationAccountAccessRole" % account["Id"], "census")
        accounts.append((name, account["Id"], credentials))
    return accounts


def assumed_credentials(port, role_arn, session_name):
    """Credentials of ``role_arn`` (a member account's role), as the converge itself assumes it."""
    return stand_in_client("sts", port).assume_role(RoleArn=role_arn, RoleSessionName=session_name)["Credentials"]


def census(port, regions=None):
    """{account name: Counter of resource keys} of everything in the stand-in on ``port``."""
    regions = regions or inventory_regions()
    accounts = _accounts(port)
    names = {account[1]: account[0] for account in accounts}

    def anonymous(text):
        text = str(text)
        for account_id, name in names.items():
            text = text.replace(account_id, "<%s>" % name)
        return text

    result = collections.defaultdict(collections.Counter)
    _organization(result, port, names, anonymous)
    for name, _account_id, credentials in accounts:
        counter = result[name]
        _global(result, name, counter, port, credentials, anonymous)
        for region in regions:
            _regional(result, name, counter, port, region, credentials, anonymous)
    return dict(result)


def _organization(result, port, names, anonymous):
    counter = result[MANAGEMENT]
    orgs = stand_in_client("organizations", port)

    def organization():
        try:
            orgs.describe_organization()
        except orgs.exceptions.AWSOrganizationsNotInUseException:
            return
        counter[("organizations:organization",)] += 1
        (root,) = orgs.list_roots()["Roots"]
        for policy_type in root.get("PolicyTypes", []):
            counter[("organizations:policy-type", policy_type["Type"], policy_type["Status"])] += 1
        paths = {root["Id"]: ""}
        queue = [root["Id"]]
        while queue:
            parent = queue.pop(0)
            for unit in _pages(orgs, "list_organizational_units_for_parent", "OrganizationalUnits", ParentId=parent):
                paths[unit["Id"]] = (paths[parent] + "/" + unit["Name"]).lstrip("/")
                counter[("organizations:ou", paths[unit["Id"]])] += 1
                queue.append(unit["Id"])
            for account in _pages(orgs, "list_accounts_for_parent", "Accounts", ParentId=parent):
                counter[("organizations:account", account["Name"], account["Email"], account["Status"],
                         paths[parent] or "<root>")] += 1
        for policy in _pages(orgs, "list_policies", "Policies", Filter="SERVICE_CONTROL_POLICY"):
            counter[("organizations:policy", policy["Name"])] += 1
            for target in _pages(orgs, "list_targets_for_policy", "Targets", PolicyId=policy["Id"]):
                where = paths.get(target["TargetId"]) or names.get(target["TargetId"]) or target["Name"]
                counter[("organizations:policy-attachment", policy["Name"], where or "<root>")] += 1
        for service in _pages(orgs, "list_aws_service_access_for_organization", "EnabledServicePrincipals"):
            counter[("organizations:service-access", service["ServicePrincipal"])] += 1
        for admin in _pages(orgs, "list_delegated_administrators", "DelegatedAdministrators"):
            for service in _pages(orgs, "list_delegated_services_for_account", "DelegatedServices",
                                  AccountId=admin["Id"]):
                counter[("organizations:delegated-admin", names.get(admin["Id"], "?"),
                         service["ServicePrincipal"])] += 1

    def guardduty_admin():
        for admin in stand_in_client("guardduty", port).list_organization_admin_accounts()["AdminAccounts"]:
            counter[("guardduty:org-admin", anonymous(admin["AdminAccountId"]), admin["AdminStatus"])] += 1

    def securityhub_admin():
        for admin in stand_in_client("securityhub", port).list_organization_admin_accounts()["AdminAccounts"]:
            counter[("securityhub:org-admin", anonymous(admin["AccountId"]), admin["Status"])] += 1

    for reader in (organization, guardduty_admin, securityhub_admin):
        _calls(result, MANAGEMENT, reader)


def _global(result, name, counter, port, credentials, anonymous):
    def iam_roles():
        iam = stand_in_client("iam", port, credentials=credentials)
        for role in _pages(iam, "list_roles", "Roles"):
            counter[("iam:role", role["RoleName"], role.get("Path", "/"))] += 1

    def s3_buckets():
        s3 = stand_in_client("s3", port, credentials=credentials)
        for bucket in s3.list_buckets().get("Buckets", []):
            counter[("s3:bucket", anonymous(bucket["Name"]))] += 1

    for reader in (iam_roles, s3_buckets):
        _calls(result, name, reader)


def _regional(result, name, counter, port, region, credentials, anonymous):
    def client(service):
        return stand_in_client(service, port, region, credentials)

    def ec2():
        ec2 = client("ec2")
        vpcs = {}
        for vpc in _pages(ec2, "describe_vpcs", "Vpcs"):
            vpcs[vpc["VpcId"]] = "default-vpc" if vpc.get("IsDefault") else _label(_tags(vpc), vpc["CidrBlock"])
            counter[("ec2:vpc", region, vpcs[vpc["VpcId"]], vpc["CidrBlock"])] += 1
        for subnet in _pages(ec2, "describe_subnets", "Subnets"):
            counter[("ec2:subnet", region, vpcs.get(subnet["VpcId"], "?"),
                     _label(_tags(subnet), subnet["CidrBlock"]))] += 1
        for gateway in _pages(ec2, "describe_internet_gateways", "InternetGateways"):
            attachments = tuple(sorted((vpcs.get(attachment["VpcId"], "?"), attachment["State"])
                                       for attachment in gateway.get("Attachments", [])))
            counter[("ec2:internet-gateway", region, _label(_tags(gateway), "untagged"), attachments)] += 1
        for table in _pages(ec2, "describe_route_tables", "RouteTables"):
            main = any(association.get("Main") for association in table.get("Associations", []))
            label = _label(_tags(table), "main" if main else "untagged")
            counter[("ec2:route-table", region, vpcs.get(table["VpcId"], "?"), label)] += 1
        for group in _pages(ec2, "describe_security_groups", "SecurityGroups"):
            counter[("ec2:security-group", region, vpcs.get(group.get("VpcId"), "?"), group["GroupName"])] += 1
        for address in ec2.describe_addresses().get("Addresses", []):
            counter[("ec2:eip", region, _label(_tags(address), "untagged"),
                     "associated" if address.get("AssociationId") or address.get("NetworkInterfaceId") else "free")] += 1
        for gateway in _pages(ec2, "describe_nat_gateways", "NatGateways"):
            if gateway["State"] in ("deleted", "deleting", "failed"):
                continue
            counter[("ec2:nat-gateway", region, vpcs.get(gateway["VpcId"], "?"),
                     _label(_tags(gateway), "untagged"), gateway["State"])] += 1
        for endpoint in _pages(ec2, "describe_vpc_endpoints", "VpcEndpoints"):
            if endpoint["State"].lower() in ("deleted", "deleting"):
                continue
            counter[("ec2:vpc-endpoint", region, vpcs.get(endpoint["VpcId"], "?"),
                     endpoint["ServiceName"], endpoint["VpcEndpointType"])] += 1
        for flow_log in _pages(ec2, "describe_flow_logs", "FlowLogs"):
            counter[("ec2:flow-log", region, vpcs.get(flow_log["ResourceId"], flow_log["ResourceId"][:6]),
                     flow_log.get("LogDestinationType"), anonymous(flow_log.get("LogDestination")
                                                                   or flow_log.get("LogGroupName")))] += 1

    def kms():
        kms = client("kms")
        aliases = collections.defaultdict(list)
        for alias in _pages(kms, "list_aliases", "Aliases"):
            if alias["AliasName"].startswith("alias/aws/"):
                continue
            counter[("kms:alias", region, alias["AliasName"], "target" if alias.get("TargetKeyId") else "none")] += 1
            if alias.get("TargetKeyId"):
                aliases[alias["TargetKeyId"]].append(alias["AliasName"])
        for key in _pages(kms, "list_keys", "Keys"):
            metadata = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
            if metadata.get("KeyManager") == "AWS":
                continue
            tags = {tag["TagKey"]: tag["TagValue"] for tag in
                    kms.list_resource_tags(KeyId=key["KeyId"]).get("Tags", [])}
            label = tuple(sorted(aliases.get(key["KeyId"], []))) or (
                "no alias", _label(tags, metadata.get("Description") or "untagged"))
            counter[("kms:key", region, label, metadata["KeyState"])] += 1

    def rds():
        rds = client("rds")
        for instance in _pages(rds, "describe_db_instances", "DBInstances"):
            counter[("rds:instance", region, instance["DBInstanceIdentifier"])] += 1
        for group in _pages(rds, "describe_db_subnet_groups", "DBSubnetGroups"):
            counter[("rds:subnet-group", region, group["DBSubnetGroupName"])] += 1
        for group in _pages(rds, "describe_db_parameter_groups", "DBParameterGroups"):
            if group["DBParameterGroupName"].startswith("default."):
                continue
            counter[("rds:parameter-group", region, group["DBParameterGroupName"])] += 1

    def secrets():
        for secret in _pages(client("secretsmanager"), "list_secrets", "SecretList"):
            counter[("secretsmanager:secret", region, RANDOM_SUFFIX.sub("<random>", anonymous(secret["Name"])))] += 1

    def logs():
        for group in _pages(client("logs"), "describe_log_groups", "logGroups"):
            counter[("logs:log-group", region, anonymous(group["logGroupName"]))] += 1

    def cloudtrail():
        for trail in client("cloudtrail").describe_trails(includeShadowTrails=False).get("trailList", []):
            counter[("cloudtrail:trail", region, trail["Name"], trail.get("IsOrganizationTrail", False),
                     anonymous(trail.get("S3BucketName")))] += 1

    def guardduty():
        for _detector in _pages(client("guardduty"), "list_detectors", "DetectorIds"):
            counter[("guardduty:detector", region)] += 1

    for reader in (ec2, kms, rds, secrets, logs, cloudtrail, guardduty):
        _calls(result, name, reader)


def difference(reference, actual):
    """Human-readable lines: what ``actual`` has more (duplicates, extras) or less than ``reference``."""
    lines = []
    for account in sorted(set(reference) | set(actual)):
        want, have = reference.get(account, collections.Counter()), actual.get(account, collections.Counter())
        for key in sorted(set(want) | set(have), key=repr):
            if want[key] != have[key]:
                kind = "duplicate" if have[key] > want[key] > 0 else "extra" if have[key] > want[key] else "missing"
                lines.append("%s %s: %s x%d (clean converge: x%d)" % (kind, account, key, have[key], want[key]))
    return lines


def duplicates(reference, actual):
    """The keys ``actual`` has more of than ``reference`` (duplicates and extras)."""
    return [line for line in difference(reference, actual) if not line.startswith("missing")]
