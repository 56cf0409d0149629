# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The platform configuration: every toggle group, component and key, in one place.

``validate(variables)`` takes the inventory's variables (``mlops_environment`` and the
four toggle groups), merges them over the defaults below (maps merge, lists replace) and
returns ``(config, errors)``.  The ``configuration`` module exposes it to playbooks and
``tools/gen_config_docs.py`` renders docs/configuration.md from the same objects.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import json
import os
import re

# The schema reads tables from data modules (and naming) only, never from a component's
# module_utils: components import the schema, so the dependency goes one way
# (tests/unit/test_config_schema.py checks it).
from ansible_collections.mlops.platform.plugins.module_utils import naming
from ansible_collections.mlops.platform.plugins.module_utils.guardrails import FULL_AWS_ACCESS, GUARDRAILS, ROOT
from ansible_collections.mlops.platform.plugins.module_utils.guardrails import SCP_MAX_CHARACTERS, SCP_MAX_PER_TARGET
from ansible_collections.mlops.platform.plugins.module_utils.guardrails import desired_policies, minified
from ansible_collections.mlops.platform.plugins.module_utils.identities import DEFAULT_KIND, IDENTITIES, IDENTITY_KINDS
from ansible_collections.mlops.platform.plugins.module_utils.instance_types import INSTANCE_TYPES
from ansible_collections.mlops.platform.plugins.module_utils.instance_types import gpu_instance_types
from ansible_collections.mlops.platform.plugins.module_utils.rds_storage import IOPS_PER_GIB, MIN_STORAGE_GIB
from ansible_collections.mlops.platform.plugins.module_utils.rds_storage import PROVISIONED_IOPS_TYPES
from ansible_collections.mlops.platform.plugins.module_utils.regions import REGION_AZ_COUNT
from ansible_collections.mlops.platform.plugins.module_utils.schema_engine import (
    ConfigError,
    Option,
    Schema,
    check_cidr,
    check_cron,
    join_path,
)

try:
    import botocore

    HAS_BOTOCORE = True
except ImportError:  # pragma: no cover - boto3 is a hard requirement of the collection
    HAS_BOTOCORE = False


# ---------------------------------------------------------------------------------------
# Pinned versions of what the platform delivers: one table (ROADMAP: versions in one place).

VERSIONS = {
    "kubernetes": "1.35",
    "mlflow": "3.17.2",
    "feast": "0.66.0",
    "kubeflow_pipelines": "2.17.0",
    "kubeflow_trainer": "2.3.0",
    "kserve": "v0.20.0",
    "vllm": "v0.28.0",
    "postgres": "17.6",
    # Also the tag of its CRDs in module_utils/artifacts.py; its chart's version is this without the "v".
    "external_secrets": "v2.9.0",
}

# The Kubernetes minors EKS offers in standard support, with the day each leaves it
# (UPSTREAM.md §10; AWS's calendar, authoritative at run time: eks:DescribeClusterVersions).
# The one table of them: validation, the eks module's warning and docs read it.
EKS_STANDARD_SUPPORT = {
    "1.35": "2027-03-27",
    "1.36": "2027-08-02",
}
SUPPORTED_KUBERNETES_VERSIONS = sorted(EKS_STANDARD_SUPPORT, key=lambda version: tuple(map(int, version.split("."))))

GATEWAY_ENDPOINTS = ["s3", "dynamodb"]
INTERFACE_ENDPOINTS = [
    "autoscaling",
    "bedrock-runtime",
    "ec2",
    "ecr.api",
    "ecr.dkr",
    "eks",
    "elasticloadbalancing",
    "kms",
    "logs",
    "monitoring",
    "sagemaker.api",
    "sagemaker.runtime",
    "secretsmanager",
    "ssm",
    "sts",
]

# S3's lifecycle waterfall: an object may only move to a class further down this list.
STORAGE_CLASS_ORDER = ["STANDARD_IA", "INTELLIGENT_TIERING", "ONEZONE_IA", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"]
_MIN_DAYS_BEFORE_CLASS = {"STANDARD_IA": 30, "ONEZONE_IA": 30}

GPU_AMI_TYPES = [
    "AL2023_x86_64_NVIDIA",
    "AL2023_ARM_64_NVIDIA",
    "BOTTLEROCKET_x86_64_NVIDIA",
    "BOTTLEROCKET_ARM_64_NVIDIA",
]
CPU_AMI_TYPES = [
    "AL2023_x86_64_STANDARD",
    "AL2023_ARM_64_STANDARD",
    "BOTTLEROCKET_x86_64",
    "BOTTLEROCKET_ARM_64",
]
EKS_ADDONS = ["vpc-cni", "coredns", "kube-proxy", "eks-pod-identity-agent", "aws-ebs-csi-driver"]

KUBERNETES_COMPONENTS = {
    "mlops_infrastructure": ["gpu_nodes"],
    "mlops_ml_platform": ["mlflow", "feast"],
    "mlops_pipelines": ["kubeflow"],
    "mlops_serving": ["kserve", "vllm"],
}

# ---------------------------------------------------------------------------------------
# Value checks


_REGIONS = []


def known_regions():
    """Every region of every partition botocore knows, read once from its endpoint data.

    Read directly rather than through botocore.session, whose import costs about a second
    on every run of the configuration module.
    """
    if not _REGIONS and HAS_BOTOCORE:
        path = os.path.join(os.path.dirname(botocore.__file__), "data", "endpoints.json")
        with open(path) as handle:
            endpoints = json.load(handle)
        _REGIONS.extend(sorted({region for partition in endpoints["partitions"] for region in partition["regions"]}))
    return _REGIONS


def check_region(value):
    """A region of any AWS partition known to botocore."""
    regions = known_regions()
    if regions and value not in regions:
        return "is not an AWS region known to botocore"
    return None


def check_vpc_cidr(value):
    """An IPv4 network address, /16 to /28."""
    message = check_cidr(value)
    if message:
        return message
    prefix = ipaddress.IPv4Network(value).prefixlen
    if not 16 <= prefix <= 28:
        return "is not a valid VPC size: AWS allows /16 to /28"
    return None


def check_organizational_units(paths):
    """Every parent path declared too."""
    known = set(paths)
    for path in paths:
        parent = path.rpartition("/")[0]
        if parent and parent not in known:
            return "declares %r whose parent %r is not declared" % (path, parent)
    return None


def check_transitions(transitions):
    """Ascending days, down the S3 waterfall, IA classes from day 30."""
    rank = -1
    days = -1
    for index, transition in enumerate(transitions):
        if not isinstance(transition, dict) or not isinstance(transition.get("days"), int):
            return None  # the element's own errors are reported already
        storage_class = transition.get("storage_class")
        if storage_class not in STORAGE_CLASS_ORDER:
            return None
        if transition["days"] <= days:
            return "moves objects at day %d in item %d, not after the previous transition (day %d)" % (
                transition["days"], index, days)
        if STORAGE_CLASS_ORDER.index(storage_class) <= rank:
            return "moves objects to %s in item %d, which is not further down the S3 waterfall (%s)" % (
                storage_class, index, " > ".join(STORAGE_CLASS_ORDER))
        minimum = _MIN_DAYS_BEFORE_CLASS.get(storage_class, 0)
        if transition["days"] < minimum:
            return "moves objects to %s at day %d in item %d; S3 requires at least %d days" % (
                storage_class, transition["days"], index, minimum)
        rank = STORAGE_CLASS_ORDER.index(storage_class)
        days = transition["days"]
    return None


def check_node_group_sizes(group):
    """min_size <= desired_size <= max_size."""
    low, high, desired = group.get("min_size"), group.get("max_size"), group.get("desired_size")
    if all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high)) and low > high:
        return "needs min_size <= max_size, got %d > %d" % (low, high)
    if all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high, desired)):
        if not low <= desired <= high:
            return "needs min_size <= desired_size <= max_size, got %d <= %d <= %d" % (low, desired, high)
    return None


def check_node_group(group):
    """Sizes in range; an AMI type that matches every instance type (NVIDIA for GPUs, x86_64); one GPU count."""
    # A GPU (NVIDIA) AMI on an instance without NVIDIA GPUs, or a standard AMI on a GPU
    # instance (no driver: the GPUs would be invisible), or an Arm AMI on an x86 instance,
    # is refused; so are GPU types of different GPU counts in one group (the scheduler and
    # the vLLM fit check see one shape per group). Every type in the table is x86_64.
    problem = check_node_group_sizes(group)
    if problem:
        return problem
    ami_type = group.get("ami_type")
    types = group.get("instance_types")
    if not isinstance(ami_type, str) or not isinstance(types, list):
        return None
    rows = []
    for name in types:
        if not isinstance(name, str):
            return None  # the element's own error is reported already
        if name not in INSTANCE_TYPES:
            if "NVIDIA" in ami_type:
                return "names the instance type %s, which the instance-type table does not describe; GPU node " \
                       "groups need one of: %s" % (name, ", ".join(gpu_instance_types()))
            continue
        rows.append(INSTANCE_TYPES[name])
    for row in rows:
        if "_ARM_64" in ami_type:
            return "uses the Arm AMI type %s on %s, an x86_64 instance type" % (ami_type, row.name)
        if "NVIDIA" in ami_type and not row.gpus:
            return "uses the GPU AMI type %s on %s, which has no NVIDIA GPU" % (ami_type, row.name)
        if "NVIDIA" not in ami_type and row.gpus:
            return "uses the AMI type %s, which has no NVIDIA driver, on the GPU instance type %s; use one of %s" \
                   % (ami_type, row.name, ", ".join(GPU_AMI_TYPES))
    counts = sorted(set(row.gpus for row in rows if row.gpus))
    if len(counts) > 1:
        return "mixes instance types with different GPU counts (%s); use one GPU count per node group" \
               % ", ".join("%s: %d" % (row.name, row.gpus) for row in rows)
    return None


def check_storage(config, base="config"):
    """Storage RDS would refuse that types and ranges cannot express; paths start with ``base``."""
    errors = []
    minimum = MIN_STORAGE_GIB[config["storage_type"]]
    if config["allocated_storage_gib"] < minimum:
        errors.append(ConfigError(
            base + ".allocated_storage_gib",
            "is below the minimum of %d GiB for %s storage (storage_type)" % (minimum, config["storage_type"]),
            config["allocated_storage_gib"]))
    ceiling = config["max_allocated_storage_gib"]
    # RDS refuses an autoscaling ceiling less than 10% above the allocated storage.
    lowest = -(-config["allocated_storage_gib"] * 11 // 10)
    if ceiling is not None and ceiling < lowest:
        errors.append(ConfigError(base + ".max_allocated_storage_gib",
                                  "must be at least 10%% above allocated_storage_gib (%d): %d or more"
                                  % (config["allocated_storage_gib"], lowest), ceiling))
    iops = config.get("iops")
    if iops is not None:
        if config["storage_type"] not in PROVISIONED_IOPS_TYPES:
            errors.append(ConfigError(base + ".iops", "applies only to io1 and io2 storage (storage_type is %s)"
                                      % config["storage_type"], iops))
        else:
            low, high = IOPS_PER_GIB[config["storage_type"]]
            gib = config["allocated_storage_gib"]
            if not low * gib <= iops <= high * gib:
                errors.append(ConfigError(
                    base + ".iops", "must be %s to %s IOPS per GiB of allocated_storage_gib (%d GiB) for %s storage"
                    % (low, high, gib, config["storage_type"]), iops))
    return errors


def check_policies(policies, prefix):
    """What the real API would refuse and the stand-in accepts: size, statement shape, attachments.

    Every target keeps AWS's ``FullAWSAccess`` (without an Allow, the Deny guardrails
    would deny everything), which shares the limit of five SCPs per target. Returns
    :class:`ConfigError` objects whose paths start with ``prefix``.
    """
    problems = []
    for name, policy in sorted(policies.items()):
        path = join_path(prefix, policy["path"])
        size = len(minified(policy["document"]))
        if size > SCP_MAX_CHARACTERS:
            problems.append(ConfigError(path, "make SCP %s %d characters long; an SCP holds at most %d"
                                        % (name, size, SCP_MAX_CHARACTERS)))
        for index, statement in enumerate(policy["document"]["Statement"]):
            statement_path = "%s.statements[%d]" % (path, index)
            missing = [] if "Effect" in statement else ["Effect"]
            if not ("Action" in statement or "NotAction" in statement):
                missing.append("Action or NotAction")
            if missing:
                problems.append(ConfigError(statement_path, "lacks %s, which every SCP statement needs"
                                            % " and ".join(missing)))
            elif statement["Effect"] not in ("Allow", "Deny"):
                problems.append(ConfigError(statement_path + ".Effect", "is not Allow or Deny", statement["Effect"]))
    per_target = {}
    for name, policy in policies.items():
        for target in policy["targets"]:
            per_target.setdefault(target, []).append(name)
    for target, names in sorted(per_target.items()):
        if len(names) + 1 > SCP_MAX_PER_TARGET:
            problems.append(ConfigError(
                join_path(prefix, "guardrails.%s" % target),
                "attach %d SCPs to %s (%s, plus %s); AWS allows at most %d per target"
                % (len(names) + 1, target, ", ".join(sorted(names)), FULL_AWS_ACCESS, SCP_MAX_PER_TARGET)))
    return problems


def check_references(config, prefix):
    """Accounts, guardrails and policies name declared OUs; e-mails are unique; the security account exists."""
    problems = []
    ous = set(config["organizational_units"])
    described = ", ".join(sorted(ous))
    emails = {}
    for name, account in sorted(config["accounts"].items()):
        path = join_path(prefix, "accounts.%s" % name)
        if account["organizational_unit"] not in ous:
            problems.append(ConfigError(path + ".organizational_unit", "is not a declared OU (%s)" % described,
                                        account["organizational_unit"]))
        other = emails.setdefault(account["email"].lower(), name)
        if other != name:
            problems.append(ConfigError(path + ".email", "is also the e-mail of account %r" % other, account["email"]))
    for target in sorted(config["guardrails"]):
        if target != ROOT and target not in ous:
            problems.append(ConfigError(join_path(prefix, "guardrails.%s" % target), "is not a declared OU"))
    for name, policy in sorted(config["custom_policies"].items()):
        for index, target in enumerate(policy["targets"]):
            if target != ROOT and target not in ous:
                problems.append(ConfigError(join_path(prefix, "custom_policies.%s.targets[%d]" % (name, index)),
                                            "is not a declared OU", target))
    if config["security_account"] and config["security_account"] not in config["accounts"]:
        problems.append(ConfigError(join_path(prefix, "security_account"), "is not an account of accounts",
                                    config["security_account"]))
    return problems


# ---------------------------------------------------------------------------------------
# Building blocks


def _str(description, default=None, **kwargs):
    return Option("str", description, default=default, **kwargs)


def _int(description, default=None, **kwargs):
    return Option("int", description, default=default, **kwargs)


def _bool(description, default):
    return Option("bool", description, default=default)


def _list(description, elements, default=None, **kwargs):
    return Option("list", description, default=list(default or []), elements=elements, **kwargs)


def _dict(description, options, **kwargs):
    return Option("dict", description, options=options, **kwargs)


def _tags(description):
    return Option(
        "map",
        description,
        default={},
        key_pattern=r"^(?!aws:)[\w .:/=+\-@]{1,128}$",
        values=_str("A tag value.", max_length=256, nullable=False, default=""),
        max_items=50,
    )


def _external_database(component):
    return _dict(
        "A database outside this environment for %s; when `host` is set it is used instead of the "
        "`database` component." % component,
        {
            "host": _str("Host name of the external database; null uses the `database` component."),
            "port": _int("Port of the external database.", 5432, minimum=1, maximum=65535),
            "name": _str("Database name on the external server."),
            "credentials_secret_arn": _str(
                "ARN of the AWS Secrets Manager secret holding `username` and `password`.",
                pattern=r"^arn:aws[\w-]*:secretsmanager:[\w-]+:\d{12}:secret:.+$",
            ),
        },
    )


def _component(description, config_options, enabled=False):
    return _dict(
        description,
        {
            "enabled": _bool("Whether this component is converged.", enabled),
            "config": _dict("Settings of the component.", config_options),
        },
    )


_DNS_LABEL = r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$"
_DNS_SUBDOMAIN = r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
_INSTANCE_TYPE = r"^[a-z][a-z0-9-]*\.[a-z0-9]+$"
# A container image reference: [registry[:port]/]path[:tag][@sha256:digest] (the distribution grammar).
_IMAGE = (r"^(?=.{1,512}$)(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
          r"(?::[0-9]+)?|localhost(?::[0-9]+)?)/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
          r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
          r"(?:@sha256:[0-9a-f]{64})?$")
_IAM_ARN = r"^arn:aws[\w-]*:(iam|sts)::\d{12}:.+$"
_OU_PATH = r"^[\w+=,.@ -]{1,128}(/[\w+=,.@ -]{1,128})*$"
_EMAIL = r"^[^@\s]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$"


# ---------------------------------------------------------------------------------------
# The environment's own settings

ENVIRONMENT = _dict(
    "The environment's own settings: who it is, where it runs, how names and tags are made.",
    {
        "name": _str(
            "Name of the environment (local, dev, staging, prod, ...); part of every resource name.",
            required=True, pattern=r"^[a-z][a-z0-9-]{0,19}$"),
        "region": _str("AWS region of the environment's resources.", "us-east-1", check=check_region),
        "name_prefix": _str(
            "Prefix of every resource name; null means `mlops-<name>`. Lower case, digits and hyphens.",
            pattern=r"^[a-z](?!.*--)[a-z0-9-]*[a-z0-9]$", max_length=40),
        "tags": _tags("Tags put on every AWS resource the environment's components create; the organization, "
                      "shared by every environment, has its own `mlops_infrastructure.organization.config.tags`."),
        "account": _dict(
            "How a play reaches the environment's AWS account.",
            {
                "id": _str(
                    "The environment's account id; null means the account the organization component "
                    "creates for this environment (or the caller's own account).",
                    pattern=r"^\d{12}$"),
                "role_name": _str(
                    "Role assumed in the environment's account.", "OrganizationAccountAccessRole",
                    pattern=r"^[\w+=,.@-]{1,64}$"),
                "external_id": _str(
                    "External id required by the role's trust policy, if any.", pattern=r"^[\w+=,.@:/-]{2,1224}$"),
                "session_name": _str("Session name of the assumed role.", "mlops-platform",
                                     pattern=r"^[\w+=,.@-]{2,64}$"),
                "session_duration_seconds": _int(
                    "Lifetime of the assumed role's credentials.", 3600, minimum=900, maximum=43200),
            },
        ),
    },
)


# ---------------------------------------------------------------------------------------
# mlops_infrastructure

ORGANIZATION = _component(
    "AWS Organization baseline: OUs, one member account per environment, guardrail SCPs, "
    "delegated administrators and the organization trail. Runs in the management account.",
    {
        "organizational_units": _list(
            "OU paths under the root, parents before children (`Workloads/Production`).",
            _str("An OU path.", pattern=_OU_PATH, nullable=False),
            default=["Security", "Infrastructure", "Workloads", "Workloads/NonProduction", "Workloads/Production"],
            unique=True, check=check_organizational_units),
        "accounts": Option(
            "map", "Member accounts by name.", default={}, key_pattern=r"^[a-z][a-z0-9-]{0,49}$",
            values=_dict("A member account.", {
                "email": _str("Root e-mail address of the account; unique across AWS.", required=True,
                              pattern=_EMAIL, max_length=64),
                "organizational_unit": _str("OU path the account is placed in.", required=True, pattern=_OU_PATH),
                "environment": _str("The environment this account hosts, if any.", pattern=r"^[a-z][a-z0-9-]{0,19}$"),
                "tags": _tags("Tags of the account."),
            })),
        "guardrails": Option(
            "map", "Guardrail SCPs switched on per OU path (or `Root`).",
            default={"Root": ["deny_leaving_organization", "deny_root_user"],
                     "Workloads": ["deny_regions_outside_allow_list", "deny_s3_without_tls",
                                   "deny_iam_user_access_keys", "deny_disabling_security_services"]},
            key_pattern=r"^(Root|" + _OU_PATH[1:-1] + r")$",
            values=_list("Guardrail names.", _str("A guardrail.", choices=sorted(GUARDRAILS), nullable=False),
                         unique=True)),
        "allowed_regions": _list(
            "Regions `deny_regions_outside_allow_list` permits; must include the environment's region.",
            _str("A region.", check=check_region, nullable=False), unique=True),
        "exempt_principal_arns": _list(
            "Break-glass principals the region guardrail does not apply to (ARN patterns).",
            _str("An IAM ARN pattern.", pattern=r"^arn:aws[\w-]*:(iam|sts)::(\d{12}|\*):.+$", nullable=False)),
        "custom_policies": Option(
            "map", "Extra SCPs by name: statements and the OU paths they attach to.", default={},
            key_pattern=r"^[\w+=,.@-]{1,128}$",
            values=_dict("A custom SCP.", {
                "description": _str("What the policy is for.", "", max_length=512),
                "targets": _list("OU paths (or `Root`) the policy is attached to.",
                                 _str("A target.", nullable=False), min_items=1),
                "statements": _list("IAM policy statements, as in an IAM policy document.",
                                    Option("map", "An IAM policy statement.", default={}), min_items=1),
            })),
        "tags": _tags("Tags on every account, OU, SCP, trail and log bucket this component manages (plus "
                      "`mlops.platform/managed=true`); an account's own `tags` come on top. The organization is "
                      "shared by every environment, so its tags are not the environment's `mlops_environment.tags`: "
                      "keep them the same in every inventory."),
        "security_account": _str("Name of the account that is delegated administrator of Security Hub, "
                                 "GuardDuty and Config; null for none."),
        "security_services": _dict(
            "Organization configuration of Security Hub and GuardDuty, set in the security account (the "
            "delegated administrator) in each region of `allowed_regions`; used only with `security_account`.", {
                "auto_enable": _str(
                    "Which member accounts the services are switched on for: `new` (accounts that join from now "
                    "on), `all` (GuardDuty also enables the existing ones; Security Hub's organization "
                    "configuration covers new accounts only) or `none`.", "new",
                    choices=["new", "all", "none"], nullable=False),
                "auto_enable_standards": _str(
                    "Security Hub's default standards for the accounts it is switched on for (and the security "
                    "account itself when it first enables Security Hub): `default` or `none`.", "default",
                    choices=["default", "none"], nullable=False),
            }),
        "organization_trail": _bool("Create an organization CloudTrail with its own log bucket.", True),
        "trail_region": _str("Home region of the organization trail and its bucket (the trail records every "
                             "region); null: the first of `allowed_regions`, or the run's region when that list is "
                             "empty.", check=check_region),
    },
)

NETWORK = _component(
    "VPC, subnets, gateways, route tables, VPC endpoints and flow logs of the environment.",
    {
        "cidr": _str("IPv4 CIDR of the VPC (/16 to /28).", "10.0.0.0/16", check=check_vpc_cidr),
        "availability_zone_count": _int("Number of availability zones used.", 2, minimum=1, maximum=6),
        "availability_zones": _list(
            "Explicit availability zones; empty picks the first `availability_zone_count` of the region.",
            _str("An AZ name.", pattern=r"^[a-z]{2}(-[a-z]+)+-\d[a-z]$", nullable=False), unique=True),
        "public_subnet_cidrs": _list("Explicit public subnet CIDRs, one per AZ; empty carves them from `cidr`.",
                                     _str("A CIDR.", check=check_cidr, nullable=False), unique=True),
        "private_subnet_cidrs": _list("Explicit private subnet CIDRs, one per AZ; empty carves them from `cidr`.",
                                      _str("A CIDR.", check=check_cidr, nullable=False), unique=True),
        "intra_subnets": _bool("Add intra subnets (no route to the internet) for databases and endpoints.", False),
        "intra_subnet_cidrs": _list("Explicit intra subnet CIDRs, one per AZ; empty carves them from `cidr`.",
                                    _str("A CIDR.", check=check_cidr, nullable=False), unique=True),
        "nat_gateway_mode": _str("NAT gateways: none, one for the VPC, or one per AZ.", "single",
                                 choices=["none", "single", "per_az"]),
        "gateway_endpoints": _list("Gateway VPC endpoints.",
                                   _str("A service.", choices=GATEWAY_ENDPOINTS, nullable=False),
                                   default=["s3"], unique=True),
        "interface_endpoints": _list(
            "Interface VPC endpoints (private DNS on), which keep ML traffic off the NAT.",
            _str("A service.", choices=INTERFACE_ENDPOINTS, nullable=False), unique=True),
        "flow_logs": _dict("VPC flow logs.", {
            "enabled": _bool("Record VPC flow logs.", True),
            "destination": _str("Where flow logs go: the data lake's log prefix or CloudWatch Logs.", "s3",
                                choices=["s3", "cloud-watch-logs"]),
            "traffic_type": _str("Which traffic is logged.", "ALL", choices=["ALL", "ACCEPT", "REJECT"]),
            "retention_days": _int("Retention of flow logs in days.", 90, minimum=1, maximum=3653),
        }),
    },
)

_TAINT_EFFECTS = ["NO_SCHEDULE", "NO_EXECUTE", "PREFER_NO_SCHEDULE"]
_LABEL_KEY = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
_LABEL_VALUE = r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$"
_NODE_LABEL_VALUE = r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
_GPU_TAINT = {"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}


def _node_group(description, gpu):
    """The options of a managed node group; GPU groups default to NVIDIA AMIs and the GPU taint."""
    return _dict(description, {
        "instance_types": _list("EC2 instance types%s." % (" (all with the same GPU count)" if gpu else ""),
                                _str("An instance type.", pattern=_INSTANCE_TYPE, nullable=False),
                                default=["g5.xlarge"] if gpu else ["m6i.large"], min_items=1, unique=True),
        "ami_type": _str("EKS AMI type; it must match the instance types (NVIDIA for GPUs, x86_64 or Arm).",
                         "AL2023_x86_64_NVIDIA" if gpu else "AL2023_x86_64_STANDARD",
                         choices=GPU_AMI_TYPES + CPU_AMI_TYPES),
        "capacity_type": _str("On-demand or spot capacity.", "ON_DEMAND", choices=["ON_DEMAND", "SPOT"]),
        "min_size": _int("Minimum number of nodes.", 0 if gpu else 2, minimum=0, maximum=1000),
        "max_size": _int("Maximum number of nodes.", 2 if gpu else 4, minimum=1, maximum=1000),
        "desired_size": _int("Nodes at creation. Later runs keep what an autoscaler set, unless "
                             "`enforce_desired_size` is true.", 0 if gpu else 2, minimum=0, maximum=1000),
        "enforce_desired_size": _bool("Reset the desired size to `desired_size` on every run.", False),
        "disk_size_gib": _int("Root volume size in GiB%s." % (" (model weights are cached here)" if gpu else ""),
                              200 if gpu else 50, minimum=20, maximum=16384),
        # EKS takes node group label values of 1 to 63 characters (an empty one is refused).
        "labels": Option("map", "Extra Kubernetes node labels.", default={}, key_pattern=_LABEL_KEY,
                         values=_str("A label value.", nullable=False, pattern=_NODE_LABEL_VALUE)),
        "taints": _list("Kubernetes taints of the nodes.", _dict("A taint.", {
            "key": _str("Taint key.", required=True, pattern=_LABEL_KEY),
            "value": _str("Taint value.", "", nullable=False, pattern=_LABEL_VALUE),
            "effect": _str("Taint effect.", "NO_SCHEDULE", choices=_TAINT_EFFECTS),
        }), default=[_GPU_TAINT] if gpu else [], max_items=50),
        "max_unavailable_percentage": _int("Nodes replaced at once during an update, in percent.", 33,
                                           minimum=1, maximum=100),
    }, check=check_node_group)


_SYSTEM_NODE_GROUP = _node_group("The CPU node group for system and platform workloads.", gpu=False)

_WORKLOAD_IDENTITY = _dict(
    "How pods get AWS credentials: IRSA or EKS Pod Identity, per workload (docs/components/workload_identity.md).",
    {
        "kind": _str("The default kind for every workload.", DEFAULT_KIND, choices=IDENTITY_KINDS),
        "workloads": Option(
            "map", "Per workload: its kind and, when it must differ, its namespace and service account.",
            default={}, key_choices=sorted(IDENTITIES),
            values=_dict("One workload's identity.", {
                "kind": _str("IRSA or EKS Pod Identity; null uses `kind` above.", choices=IDENTITY_KINDS),
                "namespace": _str("Namespace of the workload's service account; null uses the default.",
                                  pattern=_DNS_LABEL),
                "service_account": _str("The service account; null uses the default.", pattern=_DNS_SUBDOMAIN),
            })),
    })

EKS = _component(
    "EKS cluster with its KMS key, logging, access entries, managed add-ons, OIDC provider and system nodes.",
    {
        "kubernetes_version": _str("Kubernetes minor of the cluster; raising it by one upgrades the control plane, "
                                   "then the add-ons, then the node groups.", VERSIONS["kubernetes"],
                                   choices=SUPPORTED_KUBERNETES_VERSIONS),
        "endpoint_public_access": _bool("Expose the API server endpoint publicly (to public_access_cidrs).", False),
        "endpoint_private_access": _bool("Expose the API server endpoint inside the VPC.", True),
        "public_access_cidrs": _list("CIDRs allowed to reach the public endpoint.",
                                     _str("A CIDR.", check=check_cidr, nullable=False),
                                     default=["0.0.0.0/0"], min_items=1, max_items=40),
        "secrets_encryption": _bool("Encrypt Kubernetes secrets with the cluster's own KMS key (cannot be "
                                    "turned off once on).", True),
        "logging": _list("Control plane log types sent to CloudWatch.",
                         _str("A log type.", choices=["api", "audit", "authenticator", "controllerManager",
                                                      "scheduler"], nullable=False),
                         default=["api", "audit", "authenticator"], unique=True),
        "admin_principal_arns": _list("IAM principals given cluster-admin access entries (the role the run "
                                      "uses gets one too).",
                                      _str("An IAM role or user ARN.", pattern=_IAM_ARN, nullable=False), unique=True),
        "addons": _list("EKS managed add-ons, at the default version EKS gives the cluster's Kubernetes version.",
                        _str("An add-on.", choices=EKS_ADDONS, nullable=False),
                        default=EKS_ADDONS, unique=True),
        "system_node_group": _SYSTEM_NODE_GROUP,
        "workload_identity": _WORKLOAD_IDENTITY,
    },
)

GPU_NODES = _component(
    "GPU managed node groups (NVIDIA AMIs, GPU taint and labels) for training and inference.",
    {
        "node_groups": Option(
            "map", "GPU node groups by name.", default={}, key_pattern=r"^[a-z][a-z0-9-]{0,38}$",
            values=_node_group("A GPU node group (labelled nvidia.com/gpu.present=true and "
                               "mlops.platform/workload=<workload>).", gpu=True)),
        "workload": _str("Value of the mlops.platform/workload label on every GPU node.", "gpu",
                         pattern=_LABEL_VALUE),
    },
)

DATA_LAKE = _component(
    "S3 data lake: KMS-encrypted, versioned, TLS-only buckets with a prefix (or a bucket) per zone.",
    {
        "layout": _str("One bucket with a prefix per zone, or one bucket per zone.", "single_bucket",
                       choices=["single_bucket", "bucket_per_zone"]),
        "zones": _list("Zones of the lake.", _str("A zone name.", pattern=r"^[a-z][a-z0-9-]{0,19}$", nullable=False),
                       default=["raw", "processed", "features", "models", "artifacts"], unique=True, min_items=1),
        "versioning": _bool("Keep object versions.", True),
        "kms_key_deletion_window_days": _int("Waiting period before the lake's KMS key is deleted.", 30,
                                             minimum=7, maximum=30),
        "access_logging": _bool("Write S3 server access logs to the lake's log prefix.", True),
        "abort_incomplete_multipart_upload_days": _int("Abort incomplete multipart uploads after this many days.",
                                                       7, minimum=1, maximum=365),
        "lifecycle": Option(
            "map", "Lifecycle rules by zone.", default={}, key_pattern=r"^[a-z][a-z0-9-]{0,19}$",
            values=_dict("The lifecycle of one zone.", {
                "transitions": _list(
                    "Storage class transitions, in waterfall order.",
                    _dict("A transition.", {
                        "days": _int("Age in days at which objects move.", required=True, minimum=0, maximum=36500),
                        "storage_class": _str("Target storage class.", required=True, choices=STORAGE_CLASS_ORDER),
                    }),
                    check=check_transitions),
                "noncurrent_version_expiration_days": _int("Delete noncurrent versions after this many days.",
                                                           minimum=1, maximum=36500),
            })),
        "replication": _dict("Cross-region replication.", {
            "enabled": _bool("Replicate the lake to another region.", False),
            "destination_region": _str("Region of the replica buckets.", check=check_region),
        }),
    },
)

DATABASE = _component(
    "RDS PostgreSQL in private subnets, KMS-encrypted, TLS-only, its master password managed by RDS "
    "in Secrets Manager.",
    {
        "engine_version": _str("PostgreSQL engine version (pinned).", VERSIONS["postgres"],
                               pattern=r"^\d{2}(\.\d+)?$"),
        "auto_minor_version_upgrade": _bool("Let RDS apply minor version upgrades.", False),
        "instance_class": _str("RDS instance class.", "db.t4g.medium", pattern=r"^db\.[a-z0-9-]+\.[a-z0-9]+$"),
        "allocated_storage_gib": _int("Allocated storage in GiB (PostgreSQL minimum 20).", 20,
                                      minimum=20, maximum=65536),
        "max_allocated_storage_gib": _int("Storage autoscaling ceiling in GiB; null disables autoscaling.",
                                          minimum=21, maximum=65536),
        "storage_type": _str("Storage type.", "gp3", choices=["gp3", "gp2", "io1", "io2"]),
        "iops": _int("Provisioned IOPS of io1/io2 storage; null derives one per GiB, at least 1000. "
                     "Not allowed with gp2/gp3.", minimum=1000, maximum=256000),
        "port": _int("Port the database listens on.", 5432, minimum=1150, maximum=65535),
        "multi_az": _bool("Run a standby in a second AZ.", False),
        "deletion_protection": _bool("Refuse deletion of the instance.", False),
        "backup_retention_days": _int("Days automated backups are kept.", 7, minimum=0, maximum=35),
        "preferred_backup_window": _str("Daily backup window (UTC).", "03:00-04:00",
                                        pattern=r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$"),
        "preferred_maintenance_window": _str(
            "Weekly maintenance window (UTC).", "sun:04:30-sun:05:30",
            pattern=r"^(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):[0-5]\d-"
                    r"(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):[0-5]\d$"),
        "performance_insights": _bool("Enable Performance Insights.", True),
        "databases": Option(
            "map", "Logical databases and their owner roles, created from inside the cluster.",
            default={"mlflow": {"owner": "mlflow"}, "feast_registry": {"owner": "feast"}},
            key_pattern=r"^[a-z_][a-z0-9_]{0,62}$",
            values=_dict("A logical database.", {
                "owner": _str("Role owning the database.", required=True, pattern=r"^[a-z_][a-z0-9_]{0,62}$"),
            })),
    },
)

PLATFORM_BASE = _component(
    "What every platform component stands on, converged whenever one of them is enabled: the components' "
    "namespaces under Pod Security admission, default-deny NetworkPolicies, and External Secrets (its CRDs, a "
    "ClusterSecretStore on Secrets Manager through its workload identity, the operator through Argo CD).",
    {
        "namespace": _str("Namespace of the platform's own objects.", "mlops-system", pattern=_DNS_LABEL),
        "pod_security": _str("Pod Security Standard enforced on every namespace of the platform.", "restricted",
                             choices=["restricted", "baseline"]),
        "network_policies": _bool("Default-deny NetworkPolicies, plus DNS and what each component needs, in "
                                  "every namespace of the platform.", True),
        "secret_store_name": _str("Name of the ClusterSecretStore on AWS Secrets Manager.", "aws-secrets-manager",
                                  pattern=_DNS_SUBDOMAIN),
        "database_bootstrap_image": _str(
            "Image of the database bootstrap Job (its `psql`, no older than the server).",
            "docker.io/library/postgres:%s-alpine" % VERSIONS["postgres"], pattern=_IMAGE),
        "argocd": _dict("How upstream controllers are delivered: Argo CD Applications pinned to their releases.", {
            "enabled": _bool("Deliver the upstream controllers (External Secrets) as Argo CD Applications to an "
                             "Argo CD that runs in the cluster. Off: only their CRDs and our own objects are "
                             "applied, and the controllers are installed by other means.", True),
            "namespace": _str("Namespace Argo CD watches for Applications.", "argocd", pattern=_DNS_LABEL),
            "project": _str("Argo CD project of the Applications.", "default", pattern=_DNS_SUBDOMAIN),
        }),
    },
    enabled=True,
)

MLOPS_INFRASTRUCTURE = _dict(
    "The AWS foundation of an environment.", key_noun="component", options={
        "organization": ORGANIZATION,
        "network": NETWORK,
        "eks": EKS,
        "gpu_nodes": GPU_NODES,
        "data_lake": DATA_LAKE,
        "database": DATABASE,
        "platform_base": PLATFORM_BASE,
    },
)

# ---------------------------------------------------------------------------------------
# Platform components on Kubernetes

_CPU = r"^(\d+m|\d+(\.\d{1,3})?)$"
_MEMORY = r"^\d+(Ki|Mi|Gi|Ti|k|M|G|T)?$"
_QUANTITY_UNITS = {"m": 0.001, "": 1, "k": 10 ** 3, "M": 10 ** 6, "G": 10 ** 9, "T": 10 ** 12,
                   "Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40}


def quantity(value):
    """A Kubernetes quantity of the forms the schema accepts (``500m``, ``1.5``, ``2Gi``) as a number."""
    match = re.match(r"^(\d+(?:\.\d+)?)([a-zA-Z]*)$", value or "")
    if not match or match.group(2) not in _QUANTITY_UNITS:
        return None
    return float(match.group(1)) * _QUANTITY_UNITS[match.group(2)]


def check_resources(resources):
    """Each limit, when set, at least its request (the API server refuses the pod otherwise)."""
    requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
    for name in ("cpu", "memory"):
        request, limit = quantity(requests.get(name)), quantity(limits.get(name))
        if request is not None and limit is not None and limit < request:
            return "needs limits.%s >= requests.%s, got %s < %s" % (name, name, limits[name], requests[name])
    return None


def _resources(cpu, memory, memory_limit):
    return _dict("Requests and limits of the container (Kubernetes quantities); no CPU limit by default, so a "
                 "busy pod is never throttled below what the node can give.", {
                     "requests": _dict("What the scheduler reserves.", {
                         "cpu": _str("CPU request.", cpu, pattern=_CPU, nullable=False),
                         "memory": _str("Memory request.", memory, pattern=_MEMORY, nullable=False),
                     }),
                     "limits": _dict("The most the container may use; null: no limit.", {
                         "cpu": _str("CPU limit.", pattern=_CPU),
                         "memory": _str("Memory limit (the container is killed above it).", memory_limit,
                                        pattern=_MEMORY),
                     }),
                 }, check=check_resources)


# Flags of `mlflow server` the collection sets itself; `extra_args` may not repeat them.
MLFLOW_OWNED_FLAGS = ("--host", "--port", "--backend-store-uri", "--default-artifact-root",
                      "--artifacts-destination", "--serve-artifacts", "--no-serve-artifacts", "--artifacts-only",
                      "--allowed-hosts", "--workers", "--app-name", "--registry-store-uri", "-h", "-p", "-w")


def check_mlflow_flag(flag):
    """A flag (``--name`` or ``--name=value``) the collection does not set itself."""
    if not flag.startswith("-"):
        return "is not a flag (a flag starts with '--'; give its value as '--flag=value')"
    if flag.split("=", 1)[0] in MLFLOW_OWNED_FLAGS:
        return "is set by the collection from the component's config; it cannot be given again"
    return None


def check_ingress(ingress):
    """A host when the Ingress is on."""
    if ingress.get("enabled") and not ingress.get("host"):
        return "is enabled without a host: set host to the DNS name clients use"
    return None


MLFLOW = _component(
    "MLflow tracking server and model registry on PostgreSQL and the lake, through its workload identity.",
    {
        "version": _str("MLflow release.", VERSIONS["mlflow"], pattern=r"^\d+\.\d+\.\d+$"),
        "image": _str("Image of the server and of its schema migration Job; null: the official image of `version` "
                      "with the PostgreSQL and S3 drivers (`ghcr.io/mlflow/mlflow:v<version>-full`).",
                      pattern=_IMAGE),
        "replicas": _int("Tracking server replicas; above 1, a PodDisruptionBudget and a HorizontalPodAutoscaler "
                         "(which then owns the replica count).", 2, minimum=1, maximum=20),
        "max_replicas": _int("Most replicas the HorizontalPodAutoscaler may scale to; null: twice `replicas`.",
                             minimum=1, maximum=40),
        "workers": _int("Server worker processes per pod.", 2, minimum=1, maximum=16),
        "database_name": _str("Logical database of the `database` component used as backend store.", "mlflow",
                              pattern=r"^[a-z_][a-z0-9_]{0,62}$"),
        "external_database": _external_database("MLflow"),
        "artifact_zone": _str("Data lake zone holding run artifacts.", "artifacts"),
        "basic_auth": _bool("Turn on MLflow's basic-auth app: every request but `/health` needs a user. The "
                            "`admin` user's password is generated once into the Secrets Manager secret "
                            "`<name_prefix>/mlflow/admin` (never in inventory or output).", True),
        "basic_auth_default_permission": _str("Permission every user has on what others made, with basic auth.",
                                              "READ", choices=["READ", "EDIT", "MANAGE", "NO_PERMISSIONS"]),
        "allowed_hosts": _list("Extra host names the server answers to (its Service's names and the ingress host "
                               "are always allowed).", _str("A host name.", nullable=False, pattern=_DNS_SUBDOMAIN)),
        "resources": _resources("500m", "1Gi", "2Gi"),
        "ingress": _dict("An Ingress for the server, on the AWS Load Balancer Controller's ALB.", {
            "enabled": _bool("Make the Ingress.", False),
            "host": _str("Host name clients use (required when enabled).", pattern=_DNS_SUBDOMAIN),
            "class_name": _str("IngressClass.", "alb", pattern=_DNS_SUBDOMAIN),
            "scheme": _str("ALB scheme: reachable inside the VPC only, or from the internet.", "internal",
                           choices=["internal", "internet-facing"]),
            "certificate_arn": _str("ACM certificate for HTTPS; null: HTTP only.",
                                    pattern=r"^arn:aws[\w-]*:acm:[\w-]+:\d{12}:certificate/.+$"),
        }, check=check_ingress),
        "extra_args": _list("Further `mlflow server` flags, as `--flag` or `--flag=value`.",
                            _str("A flag.", nullable=False, check=check_mlflow_flag)),
    },
)

FEAST = _component(
    "Feast feature store: registry, offline store on the lake, online store, scheduled materialization.",
    {
        "version": _str("Feast release.", VERSIONS["feast"], pattern=r"^\d+\.\d+\.\d+$"),
        "project": _str("Feast project name.", "mlops", pattern=r"^[a-z][a-z0-9_]{0,62}$"),
        "registry": _str("Registry backend: SQL on the database, or a file in the lake.", "sql",
                         choices=["sql", "s3"]),
        "registry_database_name": _str("Logical database of the SQL registry.", "feast_registry",
                                       pattern=r"^[a-z_][a-z0-9_]{0,62}$"),
        "external_database": _external_database("the Feast SQL registry"),
        "online_store": _str("Online store.", "dynamodb", choices=["dynamodb", "redis", "postgres"]),
        "offline_store": _str("Offline store over the lake's Parquet files.", "duckdb",
                              choices=["file", "duckdb", "athena"]),
        "feature_zone": _str("Data lake zone holding feature data.", "features"),
        "materialization_schedule": _str("Cron schedule of `feast materialize-incremental`.", "0 * * * *",
                                         check=check_cron),
    },
)

KUBEFLOW = _component(
    "Kubeflow Pipelines v2 and the Kubeflow Trainer.",
    {
        "pipelines": _dict("Kubeflow Pipelines.", {
            "enabled": _bool("Install Kubeflow Pipelines.", True),
            "version": _str("Kubeflow Pipelines release.", VERSIONS["kubeflow_pipelines"],
                            pattern=r"^\d+\.\d+\.\d+$"),
        }),
        "trainer": _dict("Kubeflow Trainer (TrainJob).", {
            "enabled": _bool("Install the Kubeflow Trainer.", True),
            "version": _str("Kubeflow Trainer release.", VERSIONS["kubeflow_trainer"], pattern=r"^\d+\.\d+\.\d+$"),
            "gpu_training": _bool("Allow TrainJobs on the GPU node groups.", False),
        }),
        "external_database": _external_database("Kubeflow Pipelines"),
        "pipeline_root_zone": _str("Data lake zone holding pipeline artifacts.", "artifacts"),
    },
)

KSERVE = _component(
    "KServe in Standard (raw deployment) mode, models from the lake through IRSA.",
    {
        "version": _str("KServe release.", VERSIONS["kserve"], pattern=r"^v\d+\.\d+\.\d+$"),
        "deployment_mode": _str("Default deployment mode.", "Standard", choices=["Standard", "Knative"]),
        "ingress_class_name": _str("IngressClass of InferenceService ingresses.", "alb", pattern=_DNS_LABEL),
        "model_zone": _str("Data lake zone holding models.", "models"),
        "gpu_inference": _bool("Allow predictors on the GPU node groups.", False),
    },
)

_VLLM_MODEL = _dict("A served model.", {
    "name": _str("Name of the Deployment and Service.", required=True, pattern=_DNS_LABEL),
    "model": _str("Model to serve: a Hugging Face id or an `s3://` URI in the lake.", required=True,
                  max_length=512),
    "served_model_name": _str("Name clients ask for; null uses `model`."),
    "node_group": _str("The `gpu_nodes` node group the model runs on.", required=True),
    "replicas": _int("Replicas.", 1, minimum=0, maximum=100),
    "tensor_parallel_size": _int("GPUs per replica (tensor parallelism).", 1, choices=[1, 2, 4, 8]),
    "gpu_memory_utilization": Option("float", "Share of GPU memory vLLM may use.", default=0.9, minimum=0.1,
                                     maximum=1.0),
    "max_model_len": _int("Maximum context length; null lets vLLM derive it.", minimum=1),
    "dtype": _str("Weights dtype.", "auto", choices=["auto", "half", "bfloat16", "float16", "float32"]),
    "extra_args": _list("Further `vllm serve` flags, checked against the pinned release.",
                        _str("A flag.", nullable=False)),
})

VLLM = _component(
    "vLLM OpenAI-compatible servers on the GPU node groups.",
    {
        "version": _str("vLLM release (image tag).", VERSIONS["vllm"], pattern=r"^v\d+\.\d+\.\d+$"),
        "models": _list("Models to serve.", _VLLM_MODEL, unique=False),
    },
)

SCHEMA = Schema({
    "mlops_environment": ENVIRONMENT,
    "mlops_infrastructure": MLOPS_INFRASTRUCTURE,
    "mlops_ml_platform": _dict("Experiment tracking and features.", {"mlflow": MLFLOW, "feast": FEAST},
                               key_noun="component"),
    "mlops_pipelines": _dict("Pipelines and training.", {"kubeflow": KUBEFLOW}, key_noun="component"),
    "mlops_serving": _dict("Model serving.", {"kserve": KSERVE, "vllm": VLLM}, key_noun="component"),
})

GROUPS = ["mlops_infrastructure", "mlops_ml_platform", "mlops_pipelines", "mlops_serving"]

# ---------------------------------------------------------------------------------------
# Cross-component rules


class _View:
    """Read access to the merged configuration that knows which paths failed validation.

    A rule reads a value through ``get``; if that value (or anything under it) already
    failed, ``get`` raises ``_Skip`` so that one mistake is reported once, where it is.
    """

    def __init__(self, config, errors):
        self.config = config
        self.bad = [error.path for error in errors]

    def get(self, path):
        for bad in self.bad:
            if bad == path or bad.startswith(path + ".") or bad.startswith(path + "[") or \
                    path.startswith(bad + ".") or path.startswith(bad + "["):
                raise _Skip()
        value = self.config
        for part in path.split("."):
            value = value[part]
        return value

    def enabled(self, group, component):
        return self.get("%s.%s.enabled" % (group, component))


class _Skip(Exception):
    pass


def _rule_needs(view, errors):
    """Components that live on another component need it enabled."""
    needs = []
    for group, components in KUBERNETES_COMPONENTS.items():
        for component in components:
            needs.append((group, component, "mlops_infrastructure", "eks", "runs on the EKS cluster"))
    needs += [
        ("mlops_infrastructure", "eks", "mlops_infrastructure", "network", "runs in the environment's VPC"),
        ("mlops_infrastructure", "database", "mlops_infrastructure", "network", "runs in the environment's VPC"),
        ("mlops_serving", "vllm", "mlops_infrastructure", "gpu_nodes", "serves models on GPUs"),
    ]
    needs += [(group, component, "mlops_infrastructure", "platform_base",
               "stands on the platform base (namespaces, policies, External Secrets)")
              for group, components in KUBERNETES_COMPONENTS.items() if group != "mlops_infrastructure"
              for component in components]
    for group, component, needed_group, needed, reason in needs:
        try:
            if view.enabled(group, component) and not view.enabled(needed_group, needed):
                errors.append(ConfigError(
                    "%s.%s.enabled" % (group, component),
                    "is true, but %s %s: enable %s.%s" % (component, reason, needed_group, needed)))
        except _Skip:
            pass
    gpu_switches = [
        ("mlops_serving.kserve", "gpu_inference"),
        ("mlops_pipelines.kubeflow", "trainer.gpu_training"),
    ]
    for component, switch in gpu_switches:
        try:
            if view.get(component + ".enabled") and view.get("%s.config.%s" % (component, switch)) \
                    and not view.enabled("mlops_infrastructure", "gpu_nodes"):
                errors.append(ConfigError(
                    "%s.config.%s" % (component, switch),
                    "is true, but GPU workloads need GPU nodes: enable mlops_infrastructure.gpu_nodes"))
        except _Skip:
            pass


def _rule_databases(view, errors):
    """MLflow, Kubeflow Pipelines and the Feast SQL registry need a database."""
    users = [
        ("mlops_ml_platform.mlflow", None, "database_name"),
        ("mlops_pipelines.kubeflow", "pipelines.enabled", None),
        ("mlops_ml_platform.feast", None, "registry_database_name"),
    ]
    for component, switch, database_key in users:
        try:
            if not view.get(component + ".enabled"):
                continue
            if switch and not view.get("%s.config.%s" % (component, switch)):
                continue
            if component.endswith("feast") and view.get(component + ".config.registry") != "sql":
                continue
            external = view.get(component + ".config.external_database")
            if external["host"]:
                for key in ("name", "credentials_secret_arn"):
                    if not external[key]:
                        errors.append(ConfigError(
                            "%s.config.external_database.%s" % (component, key),
                            "must be set when external_database.host is set"))
                continue
            if not view.enabled("mlops_infrastructure", "database"):
                errors.append(ConfigError(
                    component + ".enabled",
                    "is true, but %s needs a database: enable mlops_infrastructure.database or set "
                    "%s.config.external_database.host" % (component.rpartition(".")[2], component)))
            elif database_key:
                name = view.get("%s.config.%s" % (component, database_key))
                declared = view.get("mlops_infrastructure.database.config.databases")
                if name not in declared:
                    errors.append(ConfigError(
                        "%s.config.%s" % (component, database_key),
                        "is not declared in mlops_infrastructure.database.config.databases (declared: %s)"
                        % (", ".join(sorted(declared)) or "none"), name))
        except _Skip:
            pass


def _rule_lake_zones(view, errors):
    """Components that keep data in the lake need it, their zone, and their identity's access to it."""
    users = [
        ("mlops_ml_platform.mlflow", "artifact_zone", "mlflow", True),
        ("mlops_ml_platform.feast", "feature_zone", "feast", True),
        ("mlops_pipelines.kubeflow", "pipeline_root_zone", "kubeflow", True),
        ("mlops_serving.kserve", "model_zone", "kserve", False),
    ]
    for component, key, identity, writes in users:
        try:
            if not view.get(component + ".enabled"):
                continue
            if not view.enabled("mlops_infrastructure", "data_lake"):
                errors.append(ConfigError(
                    component + ".enabled",
                    "is true, but %s keeps its data in the lake: enable mlops_infrastructure.data_lake"
                    % component.rpartition(".")[2]))
                continue
            zone = view.get("%s.config.%s" % (component, key))
            zones = view.get("mlops_infrastructure.data_lake.config.zones")
            if zone not in zones:
                errors.append(ConfigError("%s.config.%s" % (component, key),
                                          "is not a zone of the data lake (%s)" % ", ".join(zones), zone))
                continue
            row = IDENTITIES[identity]
            allowed = row.write_zones if writes else row.read_zones + row.write_zones
            if zone not in allowed:
                errors.append(ConfigError("%s.config.%s" % (component, key),
                                          "is a zone the %s workload identity may not %s (it may %s: %s)"
                                          % (identity, "write" if writes else "read", "write" if writes else "read",
                                             ", ".join(allowed)), zone))
        except _Skip:
            pass
    try:
        lake = "mlops_infrastructure.data_lake.config"
        zones = view.get(lake + ".zones")
        for zone in view.get(lake + ".lifecycle"):
            if zone not in zones:
                errors.append(ConfigError("%s.lifecycle.%s" % (lake, zone),
                                          "is not a zone of the data lake (%s)" % ", ".join(zones)))
        replication = view.get(lake + ".replication")
        if replication["enabled"]:
            if not replication["destination_region"]:
                errors.append(ConfigError(lake + ".replication.destination_region",
                                          "must be set when replication is enabled"))
            elif replication["destination_region"] == view.get("mlops_environment.region"):
                errors.append(ConfigError(lake + ".replication.destination_region",
                                          "is the environment's own region; replication needs another one",
                                          replication["destination_region"]))
    except _Skip:
        pass


def _rule_availability_zones(view, errors):
    """AZs of the region, consistent with their count; two AZs where AWS needs them."""
    base = "mlops_infrastructure.network.config"
    try:
        count = view.get(base + ".availability_zone_count")
        zones = view.get(base + ".availability_zones")
        region = view.get("mlops_environment.region")
    except _Skip:
        return
    for index, zone in enumerate(zones):
        if not zone.startswith(region):
            errors.append(ConfigError("%s.availability_zones[%d]" % (base, index),
                                      "is not in the environment's region %s" % region, zone))
    if zones and len(zones) != count:
        errors.append(ConfigError(base + ".availability_zone_count",
                                  "is %d but availability_zones lists %d zones" % (count, len(zones)), count))
    count = len(zones) or count
    available = REGION_AZ_COUNT.get(region)
    if available is not None and count > available:
        errors.append(ConfigError(base + (".availability_zones" if zones else ".availability_zone_count"),
                                  "asks for %d availability zones, but %s has %d" % (count, region, available)))
    needs_two = [
        ("eks", "EKS needs subnets in at least two availability zones"),
        ("database", "an RDS subnet group needs at least two availability zones"),
    ]
    try:
        for component, reason in needs_two:
            if view.enabled("mlops_infrastructure", component) and count < 2:
                errors.append(ConfigError(base + ".availability_zone_count",
                                          "is %d, but %s" % (count, reason), count))
        if view.enabled("mlops_infrastructure", "database") and \
                view.get("mlops_infrastructure.database.config.multi_az") and count < 2:
            errors.append(ConfigError("mlops_infrastructure.database.config.multi_az",
                                      "is true, but Multi-AZ needs at least two availability zones "
                                      "(mlops_infrastructure.network.config.availability_zone_count is %d)" % count))
    except _Skip:
        pass


def _rule_subnets(view, errors):
    """Explicit subnets lie inside the VPC, do not overlap, and come one per AZ."""
    base = "mlops_infrastructure.network.config"
    try:
        network = view.get(base)
    except _Skip:
        return
    count = len(network["availability_zones"]) or network["availability_zone_count"]
    vpc = ipaddress.IPv4Network(network["cidr"])
    seen = []
    for kind in ["public", "private", "intra"]:
        key = "%s_subnet_cidrs" % kind
        cidrs = network[key]
        if cidrs and kind == "intra" and not network["intra_subnets"]:
            errors.append(ConfigError("%s.%s" % (base, key), "is set but intra_subnets is false"))
            continue
        if cidrs and len(cidrs) != count:
            errors.append(ConfigError("%s.%s" % (base, key),
                                      "lists %d subnets for %d availability zones" % (len(cidrs), count)))
        for index, cidr in enumerate(cidrs):
            path = "%s.%s[%d]" % (base, key, index)
            subnet = ipaddress.IPv4Network(cidr)
            if not subnet.subnet_of(vpc):
                errors.append(ConfigError(path, "is outside the VPC CIDR %s" % vpc, cidr))
                continue
            if not 16 <= subnet.prefixlen <= 28:
                errors.append(ConfigError(path, "is not a valid subnet size: AWS allows /16 to /28", cidr))
            for other_path, other in seen:
                if subnet.overlaps(other):
                    errors.append(ConfigError(path, "overlaps %s (%s)" % (other_path, other), cidr))
            seen.append((path, subnet))


def _rule_pod_identity(view, errors):
    """A workload on EKS Pod Identity needs the eks-pod-identity-agent add-on."""
    base = "mlops_infrastructure.eks.config"
    try:
        if not view.enabled("mlops_infrastructure", "eks"):
            return
        identity = view.get(base + ".workload_identity")
        addons = view.get(base + ".addons")
    except _Skip:
        return
    users = sorted(name for name in IDENTITIES
                   if ((identity["workloads"].get(name) or {}).get("kind") or identity["kind"]) == "pod_identity")
    if users and "eks-pod-identity-agent" not in addons:
        errors.append(ConfigError(base + ".addons", "lacks eks-pod-identity-agent, which EKS Pod Identity needs "
                                                    "(workload_identity gives it to %s)" % ", ".join(users)))


def _rule_compute(view, errors):
    """vLLM models name existing GPU node groups; database storage fits its type's minimum and ceiling."""
    try:
        groups = view.get("mlops_infrastructure.gpu_nodes.config.node_groups")
        if view.enabled("mlops_infrastructure", "gpu_nodes") and not groups:
            errors.append(ConfigError("mlops_infrastructure.gpu_nodes.config.node_groups",
                                      "is empty, but gpu_nodes is enabled: declare at least one node group"))
        if view.enabled("mlops_serving", "vllm"):
            for index, model in enumerate(view.get("mlops_serving.vllm.config.models")):
                if model["node_group"] not in groups:
                    errors.append(ConfigError(
                        "mlops_serving.vllm.config.models[%d].node_group" % index,
                        "is not a node group of mlops_infrastructure.gpu_nodes.config.node_groups (%s)"
                        % (", ".join(sorted(groups)) or "none declared"), model["node_group"]))
    except _Skip:
        pass
    try:
        base = "mlops_infrastructure.database.config"
        errors.extend(check_storage(view.get(base), base))
    except _Skip:
        pass


def _rule_organization(view, errors):
    """Accounts and guardrails refer to declared OUs; e-mails are unique; SCPs fit AWS's limits; regions allowed."""
    base = "mlops_infrastructure.organization.config"
    org = view.get(base)
    errors.extend(check_references(org, base))
    errors.extend(check_policies(desired_policies(org), base))
    uses_region_guardrail = any("deny_regions_outside_allow_list" in names for names in org["guardrails"].values())
    region = view.get("mlops_environment.region")
    if uses_region_guardrail and view.enabled("mlops_infrastructure", "organization") \
            and region not in org["allowed_regions"]:
        errors.append(ConfigError(base + ".allowed_regions",
                                  "does not include the environment's region %s, which the guardrail "
                                  "deny_regions_outside_allow_list would lock out" % region,
                                  org["allowed_regions"]))
    try:
        replication = view.get("mlops_infrastructure.data_lake.config.replication")
        lake_enabled = view.enabled("mlops_infrastructure", "data_lake")
    except _Skip:
        return
    destination = replication["destination_region"]
    if uses_region_guardrail and view.enabled("mlops_infrastructure", "organization") and lake_enabled \
            and replication["enabled"] and destination and destination not in org["allowed_regions"]:
        errors.append(ConfigError(base + ".allowed_regions",
                                  "does not include %s, the data lake's replication region "
                                  "(mlops_infrastructure.data_lake.config.replication.destination_region), "
                                  "where the guardrail deny_regions_outside_allow_list would deny the replica "
                                  "bucket" % destination, org["allowed_regions"]))


def _rule_names(view, errors):
    """Every derived resource name fits its service's limits."""
    try:
        view.get("mlops_environment")
        for group in GROUPS:
            view.get(group)
    except _Skip:
        return
    prefix_path = "mlops_environment.name_prefix"
    if view.config["mlops_environment"]["name_prefix"] is None:
        prefix_path = "mlops_environment.name"
    for problem in naming.check_names(view.config):
        errors.append(ConfigError(prefix_path, problem))


def _rule_autoscaling(view, errors):
    """An autoscaler's ceiling is at least its floor."""
    try:
        if view.enabled("mlops_ml_platform", "mlflow"):
            config = view.get("mlops_ml_platform.mlflow.config")
            if config["max_replicas"] is not None and config["max_replicas"] < config["replicas"]:
                errors.append(ConfigError("mlops_ml_platform.mlflow.config.max_replicas",
                                          "must be at least replicas (%d)" % config["replicas"],
                                          config["max_replicas"]))
    except _Skip:
        pass


RULES = [_rule_needs, _rule_pod_identity, _rule_databases, _rule_lake_zones, _rule_availability_zones, _rule_subnets, _rule_compute,
         _rule_organization, _rule_names, _rule_autoscaling]


def validate(variables):
    """Merge the inventory's variables over the defaults and validate them.

    Returns ``(config, errors)``; ``errors`` is a list of :class:`ConfigError`, empty when
    the configuration is valid.  Never raises on bad input.
    """
    if not isinstance(variables, dict):
        return {}, [ConfigError("(variables)", "must be a mapping of variable names", variables)]
    config, errors = SCHEMA.validate(variables)
    if len(config) == len(SCHEMA.variables):
        view = _View(config, errors)
        for rule in RULES:
            try:
                rule(view, errors)
            except _Skip:
                pass  # a value the rule reads is already reported as broken
    return config, errors


def component_rule_errors(group, component, block, environment, base="config", environment_options=None):
    """The cross-component rules that concern one component's ``block``, for a module
    given that block on its own (outside the configuration play).

    ``block`` is the component's config, merged over the defaults and schema-valid;
    ``environment`` the ``mlops_environment`` keys the rules read (``name``, ``region``,
    ``name_prefix``). The rules run over a configuration holding only this component,
    enabled, so the module gets the same checks, with the same messages, as a run of
    the whole inventory. Paths under ``<group>.<component>.config`` are moved to
    ``base``; ``environment_options`` maps an ``mlops_environment.<key>`` path to the
    module option it came from. Any other problem is the whole configuration's, not
    this block's, and is dropped.
    """
    variables = {"mlops_environment": dict(environment),
                 group: {component: {"enabled": True, "config": block}}}
    prefix = "%s.%s.config" % (group, component)
    moved = environment_options or {}
    errors = []
    for error in validate(variables)[1]:
        if error.path == prefix or error.path.startswith((prefix + ".", prefix + "[")):
            path = base + error.path[len(prefix):]
        elif error.path in moved:
            path = moved[error.path]
        else:
            continue
        errors.append(ConfigError(path, error.message.replace(prefix, base), error.value))
    return errors


# The order of a converge (ARCHITECTURE.md): foundation, then what runs on it.
CONVERGE_ORDER = [
    ("mlops_infrastructure", "organization"),
    ("mlops_infrastructure", "network"),
    ("mlops_infrastructure", "eks"),
    ("mlops_infrastructure", "data_lake"),
    ("mlops_infrastructure", "database"),
    ("mlops_infrastructure", "gpu_nodes"),
    ("mlops_infrastructure", "platform_base"),
    ("mlops_ml_platform", "mlflow"),
    ("mlops_ml_platform", "feast"),
    ("mlops_pipelines", "kubeflow"),
    ("mlops_serving", "kserve"),
    ("mlops_serving", "vllm"),
]


def platform_base_enabled(config):
    """The platform base is converged whenever it is enabled and a platform component is."""
    return config["mlops_infrastructure"]["platform_base"]["enabled"] and any(
        config[group][component]["enabled"] for group, names in KUBERNETES_COMPONENTS.items()
        if group != "mlops_infrastructure" for component in names)


def components(config):
    """Every component of a validated configuration, in converge order, with whether it is
    converged (the platform base: only under an enabled platform component)."""
    return [{"name": name, "group": group,
             "enabled": platform_base_enabled(config) if name == "platform_base" else config[group][name]["enabled"]}
            for group, name in CONVERGE_ORDER]


def _path_sort_key(error):
    return error.path


def format_errors(errors):
    """One line per error, sorted by path so related mistakes stand together."""
    return "\n".join("- %s" % error for error in sorted(errors, key=_path_sort_key))


__all__ = ["SCHEMA", "GROUPS", "VERSIONS", "GUARDRAILS", "CONVERGE_ORDER", "components", "validate",
           "format_errors"]
