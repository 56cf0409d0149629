#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: database
short_description: Converge an environment's RDS PostgreSQL - private, KMS-encrypted, TLS-only, password managed by RDS
version_added: 0.1.0
description:
  - Converges, in the environment's account, one RDS for PostgreSQL instance in private subnets
    with everything it needs, all named from O(name_prefix) and owned through the collection's
    ownership tags.
  - A customer managed KMS key with automatic rotation, aliased C(alias/<prefix>-database), encrypts
    the storage and Performance Insights. A key behind that alias that this collection did not create
    (no ownership tags) is refused, never used or changed.
  - A DB subnet group C(<prefix>-postgres) over O(subnet_ids); a security group C(<prefix>-postgres)
    in O(vpc_id) whose only rules allow the database port from O(allowed_cidrs) and
    O(allowed_security_group_ids). Rules nobody asked for, including the default egress rule, are
    revoked, in this security group only.
  - A parameter group C(<prefix>-postgres<major>) of family C(postgres<major>) with C(rds.force_ssl=1).
  - The instance itself, C(<prefix>-postgres), created with C(ManageMasterUserPassword) so that RDS
    generates the master password and keeps it in AWS Secrets Manager. The password never passes
    through Ansible; the secret's ARN is returned.
  - Reads every resource once, computes the difference and calls only what differs; a run with
    nothing to do makes read calls only. Check mode predicts every creation and change without
    making any.
  - Creating an instance takes 5 to 10 minutes on AWS. With O(wait=false) the module starts the
    creation and returns at once (RV(endpoint) is null until the instance is available), so the play
    can do other work; a later call with O(wait=true) waits where the endpoint is first needed.
  - Settings are changed with C(ModifyDBInstance), only those that differ. Changes that cause
    downtime (instance class, engine version, Multi-AZ, storage type, IOPS, parameter group) wait for
    the maintenance window unless O(apply_immediately=true); the others are applied at once
    (see the notes). The master password and its secret are never touched.
  - Logical databases and roles (C(config.databases)) are not created here, because the instance is
    private; they are returned in RV(databases) for the platform to create from inside the cluster.
author:
  - mlops.platform contributors (@mlops-platform)
options:
  config:
    description:
      - The C(config) of the C(database) component, as in C(mlops_config.mlops_infrastructure.database.config).
        Keys, defaults and allowed values are those of docs/configuration.md; they are merged over the
        defaults and validated before any AWS call, every problem reported with its dotted path.
    type: dict
    default: {}
  vpc_id:
    description:
      - The environment's VPC, from the network component.
      - In check mode it may be C((known after apply)), when the network is itself only planned.
    type: str
    required: true
  subnet_ids:
    description:
      - The private subnets of the DB subnet group, in at least two availability zones, from the network component.
    type: list
    elements: str
    required: true
  allowed_cidrs:
    description:
      - IPv4 CIDRs allowed to reach the database port, typically the VPC's private subnet CIDRs until
        the EKS cluster exists.
    type: list
    elements: str
    default: []
  allowed_security_group_ids:
    description:
      - Security groups of O(vpc_id) allowed to reach the database port, typically the cluster nodes' security group.
    type: list
    elements: str
    default: []
  wait:
    description:
      - Wait until the instance serves connections and return its endpoint. Besides
        C(available), C(storage-optimization) (after a storage change or autoscaling, for hours)
        and C(backing-up) count; a status the instance does not leave by itself (C(failed),
        C(stopped), C(incompatible-*), C(storage-full), ...) ends the wait with an error at once.
      - With V(false), a creation or modification is started and the module returns at once.
    type: bool
    default: false
  wait_only:
    description:
      - Only wait for the instance that an earlier call of this module started, then return its
        endpoint; nothing is read or converged but the instance (one C(DescribeDBInstances) per poll).
      - For the second of two calls, the first (O(wait=false)) converging and starting the instance
        early in a play and this one waiting where the endpoint is first needed, so that the two
        do not read everything twice. Returns the instance's outputs only (no C(ansible_facts)).
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait with O(wait=true) or O(wait_only=true).
    type: int
    default: 3600
  apply_immediately:
    description:
      - Apply changes that cause downtime (instance class, engine version, Multi-AZ, storage type,
        IOPS, parameter group, switching automated backups on or off) at once instead of in the next
        maintenance window.
    type: bool
    default: false
extends_documentation_fragment:
  - mlops.platform.component
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
  - mlops.platform.assume_role
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - Applied at once whatever O(apply_immediately) says, because RDS applies them without downtime or
    ignores ApplyImmediately for them - backup retention between two non-zero values, growing storage,
    the storage autoscaling ceiling, backup and maintenance windows, deletion protection, Performance
    Insights, minor version upgrades, copying tags to snapshots, public accessibility, security groups.
  - Changing C(config.port) restarts the instance at once; RDS ignores ApplyImmediately for the port.
  - Engine upgrades happen only when C(config.engine_version) changes; a major upgrade also moves the
    instance to the new major's parameter group. Downgrades are refused. With
    C(config.auto_minor_version_upgrade), a newer minor version applied by RDS is accepted.
  - Storage encryption and its KMS key can only be chosen at creation; an unencrypted instance found
    under the identifier is reported, not changed. The KMS key is not compared after creation.
  - Storage is never shrunk (RDS cannot); with autoscaling, storage grown by RDS is kept.
  - io1 and io2 storage get C(config.iops) provisioned IOPS, or one per GiB (at least 1000) when it is null.
  - The master user secret is encrypted with Secrets Manager's AWS managed key, so that readers
    of the secret (External Secrets) need no grant on the database key.
  - Resources are never deleted by this module; teardown is a separate playbook.
attributes:
  check_mode:
    support: full
    description: Predicts every creation and change, with C((known after apply)) for values AWS assigns.
  diff_mode:
    support: full
    description: Returns the KMS key, security group rules, subnet group, parameter group and instance settings before and after.
  platform:
    platforms: posix
  action_group:
    membership: [mlops.platform.aws]
"""

EXAMPLES = r"""
- name: Start the database early, without waiting for it
  mlops.platform.database:
    config: "{{ mlops_config.mlops_infrastructure.database.config }}"
    environment: "{{ mlops_config.mlops_environment.name }}"
    name_prefix: mlops-dev
    tags: "{{ mlops_config.mlops_environment.tags }}"
    vpc_id: "{{ mlops_network.vpc_id }}"
    subnet_ids: "{{ mlops_network.private_subnet_ids }}"
    allowed_cidrs: "{{ mlops_network.private_subnet_cidrs }}"
    assume_role: "{{ mlops_environment_access | default(omit) }}"

- name: Later, where the endpoint is first needed - nothing to change, wait for it
  mlops.platform.database:
    config: "{{ mlops_config.mlops_infrastructure.database.config }}"
    environment: dev
    name_prefix: mlops-dev
    vpc_id: vpc-0123456789abcdef0
    subnet_ids: [subnet-0123456789abcdef0, subnet-0fedcba9876543210]
    allowed_security_group_ids: [sg-0123456789abcdef0]
    wait: true
  register: database

- name: Use the outputs
  ansible.builtin.debug:
    msg: "{{ database.endpoint }}:{{ database.port }}, credentials in {{ database.master_user_secret_arn }}"
"""

RETURN = r"""
instance_identifier:
  description: The DB instance identifier.
  returned: always
  type: str
  sample: mlops-dev-postgres
status:
  description: The instance's status (C(creating), C(available), C(modifying)...); C((known after apply)) when only planned.
  returned: always
  type: str
  sample: available
endpoint:
  description: The instance's DNS name; null while it is being created.
  returned: always
  type: str
  sample: mlops-dev-postgres.abcdefghijkl.eu-west-1.rds.amazonaws.com
port:
  description: The port the instance listens on.
  returned: always
  type: int
  sample: 5432
master_username:
  description: The master user's name (not a secret).
  returned: always
  type: str
  sample: mlops_admin
master_user_secret_arn:
  description:
    - ARN of the Secrets Manager secret in which RDS keeps the master user's credentials. The ARN is not
      itself a secret; the secret's value is never read by this module.
    - Null if the instance does not manage its master password through RDS.
  returned: always
  type: str
  sample: "arn:aws:secretsmanager:eu-west-1:111111111111:secret:rds!db-0c9d4b2a-1111-2222-3333-444455556666-AbCdEf"
security_group_id:
  description: The database security group.
  returned: always
  type: str
  sample: sg-0123456789abcdef0
subnet_group:
  description: Name of the DB subnet group.
  returned: always
  type: str
  sample: mlops-dev-postgres
parameter_group:
  description: Name of the DB parameter group.
  returned: always
  type: str
  sample: mlops-dev-postgres17
kms_key_arn:
  description: ARN of the KMS key that encrypts the storage and Performance Insights.
  returned: always
  type: str
  sample: arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab
databases:
  description: Logical databases to create from inside the cluster, with their owner roles, from C(config.databases).
  returned: always
  type: dict
  sample: {"mlflow": {"owner": "mlflow"}, "feast_registry": {"owner": "feast"}}
api_calls:
  description:
    - The AWS API calls this run made, by operation, with the number of writes among them. A run with
      nothing to do makes 11 reads and no write.
  returned: always
  type: dict
  sample: {"total": 11, "writes": 0, "by_operation": {"DescribeDBInstances": 1, "ListTagsForResource": 2}}
ansible_facts:
  description: The outputs above under C(mlops_database), for the roles that follow.
  returned: always
  type: dict
  contains:
    mlops_database:
      description: RV(instance_identifier), RV(status), RV(endpoint), RV(port), RV(master_username),
        RV(master_user_secret_arn), RV(security_group_id), RV(subnet_group), RV(parameter_group),
        RV(kms_key_arn), RV(databases).
      type: dict
      returned: always
"""

import json
import secrets

try:
    import botocore
    from botocore import waiter as core_waiter
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags

from ansible_collections.mlops.platform.plugins.module_utils import database as db
from ansible_collections.mlops.platform.plugins.module_utils import security_group as sg
from ansible_collections.mlops.platform.plugins.module_utils.aws import AWS_RETRY
from ansible_collections.mlops.platform.plugins.module_utils.aws import AWSResourceError, MlopsAWSModule, create_once
from ansible_collections.mlops.platform.plugins.module_utils.aws import paginate, wait_until
from ansible_collections.mlops.platform.plugins.module_utils.generated_secret import GeneratedSecrets
from ansible_collections.mlops.platform.plugins.module_utils.kms_key import ComponentKey
from ansible_collections.mlops.platform.plugins.module_utils.component import ConfigProblems
from ansible_collections.mlops.platform.plugins.module_utils.component import component_argument_spec
from ansible_collections.mlops.platform.plugins.module_utils.component import fail_config
from ansible_collections.mlops.platform.plugins.module_utils.component import is_owned, is_unknown
from ansible_collections.mlops.platform.plugins.module_utils.component import managed_tags
from ansible_collections.mlops.platform.plugins.module_utils.component import validate_config
from ansible_collections.mlops.platform.plugins.module_utils.config_schema import DATABASE

UNKNOWN = db.UNKNOWN

# Statuses in which the instance will not become available without someone acting.
STOPPED_STATUSES = ("stopped", "stopping")


class Database:
    """Reads the component's resources once and converges them toward the configuration."""

    def __init__(self, module, config):
        self.module = module
        self.config = config
        self.params = module.params
        self.check_mode = module.check_mode
        self.names = db.names(self.params["name_prefix"], config["engine_version"])
        self.environment = self.params["environment"]
        self.tags = managed_tags(self.environment, db.COMPONENT, self.params["tags"])
        self.ec2 = module.client("ec2", retry_decorator=AWS_RETRY)
        self.rds = module.client("rds", retry_decorator=AWS_RETRY)
        self.rds_once = module.once_client("rds")
        self.groups = sg.ComponentSecurityGroups(module, self.ec2, self.environment, db.COMPONENT)
        self.secrets = GeneratedSecrets(module, db.role_secret_name(self.params["name_prefix"], ""),
                                        self.environment, db.COMPONENT, self.tags)
        self.kms_key = ComponentKey(module, self.names["kms_alias"], self.environment, db.COMPONENT, self.tags,
                                    "Encrypts the PostgreSQL database %s (mlops.platform)" % self.names["instance"],
                                    "name_prefix")
        self.key_after = None
        self.changed = False
        self.instance_changed = False
        self.vpc_known = not is_unknown(self.params["vpc_id"])
        self.subnets_known = not any(is_unknown(subnet) for subnet in self.params["subnet_ids"])
        # Live resources (None: absent), each with its tags as a dict under "tags".
        self.security_group = None
        self.subnet_group = None
        self.parameter_group = None
        self.instance = None
        self.before = {}
        self.after = {}

    # -- reading ---------------------------------------------------------------------------

    def read(self):
        # The subnets first: a wrong subnet list is refused after this one read.
        errors = self.read_subnets()
        if errors:
            raise ConfigProblems(errors)
        errors = self.read_security_groups()
        self.kms_key.read()
        self.read_subnet_group()
        self.read_parameter_group()
        self.read_instance()
        self.secrets.read()
        errors += self.ownership_problems()
        if errors:
            raise ConfigProblems(errors)
        self.before = self.state()

    @property
    def role_secrets(self):
        """The owner roles' password secrets, ``<name_prefix>/database/<role>``, by name."""
        return self.secrets.live

    def read_subnets(self):
        """One DescribeSubnets: the subnets exist, lie in the VPC and cover two AZs (Multi-AZ too)."""
        if not (self.vpc_known and self.subnets_known):
            return []
        subnets = paginate(self.ec2, "describe_subnets", "Subnets",
                           Filters=[{"Name": "subnet-id", "Values": self.params["subnet_ids"]}])
        return db.check_subnets(self.config, self.params["vpc_id"], self.params["subnet_ids"], subnets)

    def read_security_groups(self):
        """One DescribeSecurityGroups over the VPC: the owned group, and the allowed groups exist there."""
        if not self.vpc_known:
            return []
        errors = []
        vpc_id = self.params["vpc_id"]
        groups = paginate(self.ec2, "describe_security_groups", "SecurityGroups",
                          Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
        ids = {group["GroupId"] for group in groups}
        for index, group_id in enumerate(self.params["allowed_security_group_ids"]):
            if not is_unknown(group_id) and group_id not in ids:
                errors.append(db.ConfigError("allowed_security_group_ids[%d]" % index,
                                             "is not a security group of vpc_id %s" % vpc_id, group_id))
        for group in groups:
            if group["GroupName"] == self.names["security_group"]:
                self.security_group = dict(group, tags=boto3_tag_list_to_ansible_dict(group.get("Tags", [])))
        return errors

    def owned_or_none(self, resource):
        return resource if resource is not None and is_owned(resource["tags"], self.environment, db.COMPONENT) \
            else None

    def not_owned(self, what, name):
        return AWSResourceError("name_prefix", "names the %s %s, which exists but is not owned by the database of "
                                               "environment %s (no mlops.platform ownership tags); it is left alone: "
                                               "remove it or choose another name_prefix" % (what, name, self.environment))

    def find_owned_instance(self):
        self.read_instance()
        if self.instance is not None and is_owned(boto3_tag_list_to_ansible_dict(self.instance.get("TagList", [])),
                                                  self.environment, db.COMPONENT):
            return self.instance
        return None

    def rds_tags(self, arn):
        return boto3_tag_list_to_ansible_dict(
            self.rds.list_tags_for_resource(ResourceName=arn, aws_retry=True).get("TagList", []))

    def read_subnet_group(self):
        try:
            group = self.rds.describe_db_subnet_groups(DBSubnetGroupName=self.names["subnet_group"],
                                                       aws_retry=True)["DBSubnetGroups"][0]
        except is_boto3_error_code("DBSubnetGroupNotFoundFault"):
            return None
        self.subnet_group = dict(group, tags=self.rds_tags(group["DBSubnetGroupArn"]))
        return self.subnet_group

    def read_parameter_group(self):
        name = self.names["parameter_group"]
        try:
            groups = self.rds.describe_db_parameter_groups(DBParameterGroupName=name, aws_retry=True)["DBParameterGroups"]
        except is_boto3_error_code("DBParameterGroupNotFound"):
            return None
        if not groups:  # the stand-in answers an empty list where AWS answers DBParameterGroupNotFound
            return None
        group = groups[0]
        # Only the parameters set on the group (Source=user): the engine defaults are hundreds.
        parameters = paginate(self.rds, "describe_db_parameters", "Parameters",
                              DBParameterGroupName=name, Source="user")
        self.parameter_group = dict(group, tags=self.rds_tags(group["DBParameterGroupArn"]),
                                    parameters={p["ParameterName"]: p.get("ParameterValue") for p in parameters})
        return self.parameter_group

    def read_instance(self):
        try:
            self.instance = self.rds.describe_db_instances(DBInstanceIdentifier=self.names["instance"],
                                                           aws_retry=True)["DBInstances"][0]
        except is_boto3_error_code("DBInstanceNotFound"):
            self.instance = None

    def ownership_problems(self):
        """Resources under our names that this environment's database does not own are never changed."""
        errors = []
        if self.security_group is not None and not self.groups.owned(self.security_group):
            errors.append(db.ConfigError("name_prefix", self.groups.not_owned(self.security_group).message,
                                         self.params["name_prefix"]))
        found = [
            ("DB subnet group", self.names["subnet_group"], self.subnet_group, "DBSubnetGroupArn"),
            ("DB parameter group", self.names["parameter_group"], self.parameter_group, "DBParameterGroupArn"),
        ]
        if self.instance is not None:
            found.append(("DB instance", self.names["instance"],
                          dict(self.instance, tags=boto3_tag_list_to_ansible_dict(self.instance.get("TagList", []))),
                          "DBInstanceArn"))
        for what, name, resource, id_key in found:
            if resource is not None and not is_owned(resource["tags"], self.environment, db.COMPONENT):
                errors.append(db.ConfigError(
                    "name_prefix", "names the %s %s (%s), which exists but is not owned by the database of "
                                   "environment %s (no mlops.platform ownership tags); it is left alone: remove it "
                                   "or choose another name_prefix" % (what, name, resource[id_key], self.environment),
                    self.params["name_prefix"]))
        for role in db.owner_roles(self.config):
            name = db.role_secret_name(self.params["name_prefix"], role)
            if self.secrets.foreign(name):
                errors.append(db.ConfigError(
                    "config.databases", "names the role %s, whose password secret %s exists but is not owned by the "
                                        "database of environment %s (no mlops.platform ownership tags); it is left "
                                        "alone: remove it or choose another name_prefix"
                                        % (role, name, self.environment), role))
        if self.subnet_group is not None and self.vpc_known and self.subnet_group["VpcId"] != self.params["vpc_id"]:
            errors.append(db.ConfigError("vpc_id", "differs from the VPC %s of the DB subnet group %s; moving the "
                                                   "database to another VPC is not done by this module"
                                         % (self.subnet_group["VpcId"], self.names["subnet_group"]),
                                         self.params["vpc_id"]))
        if self.parameter_group is not None and \
                self.parameter_group["DBParameterGroupFamily"] != self.names["parameter_group_family"]:
            errors.append(db.ConfigError("name_prefix", "names the DB parameter group %s, whose family is %s, not %s"
                                         % (self.names["parameter_group"],
                                            self.parameter_group["DBParameterGroupFamily"],
                                            self.names["parameter_group_family"]), self.params["name_prefix"]))
        if self.instance is not None and not errors:
            problems = db.modification(self.config, self.names, self.security_group_id, self.key_arn,
                                       self.instance)[1]
            errors += problems
        return errors

    # -- converging ------------------------------------------------------------------------

    @property
    def key_arn(self):
        return self.kms_key.arn

    @property
    def security_group_id(self):
        return self.security_group["GroupId"] if self.security_group else UNKNOWN

    def write(self):
        """Record a change; True when the call is to be made (not in check mode)."""
        self.changed = True
        return not self.check_mode

    def ensure_key(self):
        changed, unused, self.key_after = self.kms_key.ensure()
        self.changed |= changed

    def security_group_tags(self):
        return dict(self.tags, Name=self.names["security_group"])

    def ensure_security_group(self):
        wanted_tags = self.security_group_tags()
        changed = False
        if self.security_group is None:
            changed = True
            if self.check_mode:
                # A new group gets EC2's default egress rule, which is then revoked.
                group = {"GroupId": UNKNOWN, "IpPermissions": [], "IpPermissionsEgress": sg.DEFAULT_EGRESS}
            else:
                group = self.groups.create(
                    self.params["vpc_id"], self.names["security_group"],
                    "PostgreSQL %s: the database port from the allowed sources only (mlops.platform)"
                    % self.names["instance"], wanted_tags)
            self.security_group = dict(group, tags=boto3_tag_list_to_ansible_dict(group.get("Tags") or []))
        group = self.security_group
        changed |= self.groups.converge_rules(group, "ingress", self.wanted_ingress(),
                                              description="PostgreSQL client (mlops.platform)")
        changed |= self.groups.converge_rules(group, "egress", set())
        missing = compare_aws_tags(group["tags"], wanted_tags, purge_tags=False)[0]
        if missing:
            changed = True
            if not self.check_mode:
                self.ec2.create_tags(Resources=[group["GroupId"]], Tags=ansible_dict_to_boto3_tag_list(missing),
                                     aws_retry=True)
            group["tags"].update(missing)
        self.changed |= changed
        return changed

    def wanted_ingress(self):
        return db.desired_ingress(self.config["port"], self.params["allowed_cidrs"],
                                  self.params["allowed_security_group_ids"])

    def ensure_subnet_group(self):
        name = self.names["subnet_group"]
        wanted = sorted(self.params["subnet_ids"])
        if self.subnet_group is None:
            arn = UNKNOWN
            if self.write():
                response, found = create_once(
                    lambda: self.rds_once.create_db_subnet_group(
                        DBSubnetGroupName=name, SubnetIds=wanted, Tags=ansible_dict_to_boto3_tag_list(self.tags),
                        DBSubnetGroupDescription="Private subnets of the PostgreSQL database %s (mlops.platform)"
                                                 % self.names["instance"])["DBSubnetGroup"],
                    lambda: self.owned_or_none(self.read_subnet_group()), exists_codes=("DBSubnetGroupAlreadyExists",),
                    foreign=lambda: self.not_owned("DB subnet group", name))
                arn = (response or found)["DBSubnetGroupArn"]
            self.subnet_group = {"DBSubnetGroupName": name, "tags": dict(self.tags), "DBSubnetGroupArn": arn,
                                 "Subnets": [{"SubnetIdentifier": subnet} for subnet in wanted]}
            return
        live = sorted(subnet["SubnetIdentifier"] for subnet in self.subnet_group["Subnets"])
        if live != wanted:
            if self.write():
                self.rds.modify_db_subnet_group(DBSubnetGroupName=name, SubnetIds=wanted, aws_retry=True)
            self.subnet_group["Subnets"] = [{"SubnetIdentifier": subnet} for subnet in wanted]
        self.tag_rds(self.subnet_group, "DBSubnetGroupArn")

    def tag_rds(self, resource, arn_key):
        missing = compare_aws_tags(resource["tags"], self.tags, purge_tags=False)[0]
        if missing:
            if self.write():
                self.rds.add_tags_to_resource(ResourceName=resource[arn_key], aws_retry=True,
                                              Tags=ansible_dict_to_boto3_tag_list(missing))
            resource["tags"].update(missing)

    def ensure_parameter_group(self):
        name = self.names["parameter_group"]
        if self.parameter_group is None:
            arn = UNKNOWN
            if self.write():
                response, found = create_once(
                    lambda: self.rds_once.create_db_parameter_group(
                        DBParameterGroupName=name, DBParameterGroupFamily=self.names["parameter_group_family"],
                        Description="PostgreSQL %s: TLS only (mlops.platform)" % self.names["instance"],
                        Tags=ansible_dict_to_boto3_tag_list(self.tags))["DBParameterGroup"],
                    lambda: self.owned_or_none(self.read_parameter_group()),
                    exists_codes=("DBParameterGroupAlreadyExists",),
                    foreign=lambda: self.not_owned("DB parameter group", name))
                arn = (response or found)["DBParameterGroupArn"]
            self.parameter_group = {"DBParameterGroupName": name, "DBParameterGroupArn": arn,
                                    "DBParameterGroupFamily": self.names["parameter_group_family"],
                                    "tags": dict(self.tags), "parameters": {}}
        live = self.parameter_group["parameters"]
        differing = [
            {"ParameterName": parameter, "ParameterValue": wanted["value"],
             "ApplyMethod": "immediate" if wanted["apply_type"] == "dynamic" else "pending-reboot"}
            for parameter, wanted in sorted(db.PARAMETERS.items()) if live.get(parameter) != wanted["value"]]
        if differing:
            if self.write():
                self.rds.modify_db_parameter_group(DBParameterGroupName=name, Parameters=differing, aws_retry=True)
            live.update({parameter["ParameterName"]: parameter["ParameterValue"] for parameter in differing})
        self.tag_rds(self.parameter_group, "DBParameterGroupArn")

    def ensure_instance(self):
        if self.instance is None:
            request = db.create_request(self.config, self.names, self.key_arn, self.security_group_id,
                                        ansible_dict_to_boto3_tag_list(self.tags))
            self.instance_changed = True
            if self.write():
                response, found = create_once(
                    lambda: self.rds_once.create_db_instance(**request)["DBInstance"],
                    self.find_owned_instance, exists_codes=("DBInstanceAlreadyExists",),
                    foreign=lambda: self.not_owned("DB instance", self.names["instance"]))
                self.instance = response or found
            return
        request, problems, warnings = db.modification(self.config, self.names, self.security_group_id, self.key_arn,
                                                      self.instance, self.params["apply_immediately"])
        if problems:  # already refused in read(); kept for safety
            raise ConfigProblems(problems)
        for warning in warnings:
            self.module.warn(warning)
        if request:
            self.instance_changed = True
            if self.write():
                self.instance = self.rds.modify_db_instance(aws_retry=True, **request)["DBInstance"]
        live_tags = boto3_tag_list_to_ansible_dict(self.instance.get("TagList", []))
        missing = compare_aws_tags(live_tags, self.tags, purge_tags=False)[0]
        if missing:
            if self.write():
                self.rds.add_tags_to_resource(ResourceName=self.instance["DBInstanceArn"], aws_retry=True,
                                              Tags=ansible_dict_to_boto3_tag_list(missing))
            self.instance["TagList"] = ansible_dict_to_boto3_tag_list(dict(live_tags, **missing))

    def ensure_role_secrets(self):
        """One secret per owner role, ``{"username", "password"}``, its password generated here
        when the secret is made and never again: a re-run changes nothing, and the value is
        never returned. The database bootstrap Job reads it (through External Secrets) to
        set the role's password; so do the role's pods."""
        for role in db.owner_roles(self.config):
            name = db.role_secret_name(self.params["name_prefix"], role)
            self.changed |= self.secrets.ensure(
                name, lambda role=role: json.dumps({"username": role, "password": secrets.token_urlsafe(32)}),
                "Password of the PostgreSQL role %s of %s (mlops.platform)" % (role, self.names["instance"]),
                lambda name=name: self.not_owned("secret", name))

    def wait(self):
        """Wait for the instance to be available (amazon.aws's RDS waiter), then read its endpoint."""
        if self.check_mode or self.instance is None:
            return
        status = self.instance.get("DBInstanceStatus")
        if status in STOPPED_STATUSES:
            raise AWSResourceError(None, "the DB instance %s is %s; it will not become available until it is started "
                                   "(this module never starts or stops it)" % (self.names["instance"], status))
        if status in db.USABLE_STATUSES and not self.instance_changed:
            return
        model = core_waiter.WaiterModel(db.usable_waiter_model(max(1, self.module.params["wait_timeout"]
                                                                   // db.USABLE_WAIT_DELAY)))
        waiter = core_waiter.create_waiter_with_client("DBInstanceUsable", model, getattr(self.rds, "client", self.rds))
        try:
            wait_until(waiter, DBInstanceIdentifier=self.names["instance"])
        except botocore.exceptions.WaiterError as exc:
            last = [instance.get("DBInstanceStatus") for instance in (exc.last_response or {}).get("DBInstances", [])]
            if any(status in db.STUCK_STATUSES for status in last):
                raise AWSResourceError(None, "the DB instance %s is %s, which it does not leave by itself; see its events in "
                                       "the RDS console" % (self.names["instance"], ", ".join(last)))
            raise AWSResourceError(None, "the DB instance %s did not become usable (%s) within %d s; its status is %s"
                                   % (self.names["instance"], ", ".join(db.USABLE_STATUSES),
                                      self.module.params["wait_timeout"], ", ".join(last) or "unknown"))
        self.read_instance()

    # -- reporting -------------------------------------------------------------------------

    def managed_tag_view(self, tags):
        return {key: tags.get(key) for key in sorted(self.tags)}

    def state(self):
        """The diffable view: what a person compares between before and after."""
        result = {}
        if self.kms_key.live is not None:
            result["kms_key"] = self.kms_key.view(self.kms_key.live)
        if self.security_group is not None:
            group = self.security_group
            result["security_group"] = {
                "name": self.names["security_group"], "id": group["GroupId"],
                "ingress": db.describe_rules(db.rules_of(group.get("IpPermissions", []))),
                "egress": db.describe_rules(db.rules_of(group.get("IpPermissionsEgress", [])), "to"),
                "tags": {key: group["tags"].get(key) for key in sorted(self.security_group_tags())},
            }
        if self.subnet_group is not None:
            result["subnet_group"] = {
                "name": self.names["subnet_group"],
                "subnet_ids": sorted(subnet["SubnetIdentifier"] for subnet in self.subnet_group["Subnets"]),
                "tags": self.managed_tag_view(self.subnet_group["tags"]),
            }
        if self.parameter_group is not None:
            result["parameter_group"] = {
                "name": self.names["parameter_group"], "family": self.parameter_group["DBParameterGroupFamily"],
                "parameters": {name: self.parameter_group["parameters"].get(name) for name in sorted(db.PARAMETERS)},
                "tags": self.managed_tag_view(self.parameter_group["tags"]),
            }
        secrets_view = self.role_secrets_view()
        if secrets_view:
            result["role_secrets"] = secrets_view
        if self.instance is not None:
            result["instance"] = db.instance_state(self.instance)
            result["instance"]["tags"] = self.managed_tag_view(
                boto3_tag_list_to_ansible_dict(self.instance.get("TagList", [])))
        return result

    def after_state(self):
        """The view once converged; for a planned or just-started change, the desired settings."""
        result = self.state()
        if self.key_after is not None:
            result["kms_key"] = self.key_after
        desired = db.desired_state(self.config, self.names, self.security_group_id,
                                   db.instance_state(self.instance) if self.instance else None)
        live = self.before.get("instance", {})
        result["instance"] = db.converged_state(desired, {key: value for key, value in live.items() if key != "tags"})
        result["instance"]["tags"] = self.managed_tag_view(self.tags)
        return result

    def outputs(self):
        instance = self.instance or {}
        endpoint = instance.get("Endpoint") or {}
        secret = instance.get("MasterUserSecret") or {}
        planned = self.instance is None
        return {
            "instance_identifier": self.names["instance"],
            "status": UNKNOWN if planned else instance.get("DBInstanceStatus"),
            "endpoint": endpoint.get("Address"),
            "port": endpoint.get("Port") or self.config["port"],
            "master_username": instance.get("MasterUsername", db.MASTER_USERNAME),
            "master_user_secret_arn": UNKNOWN if planned else secret.get("SecretArn"),
            "security_group_id": self.security_group_id,
            "subnet_group": self.names["subnet_group"],
            "parameter_group": self.names["parameter_group"],
            "kms_key_arn": self.key_arn,
            "databases": db.databases_output(self.config),
            "role_secrets": self.role_secrets_output(),
        }

    def role_secrets_view(self):
        """``{role: {name, tags}}`` of the owner roles' secrets that exist (never their values)."""
        result = {}
        for role in db.owner_roles(self.config):
            secret = self.role_secrets.get(db.role_secret_name(self.params["name_prefix"], role))
            if secret is not None:
                result[role] = {"name": secret["Name"], "tags": self.managed_tag_view(secret["tags"])}
        return result

    def role_secrets_output(self):
        """``{role: {name, arn}}`` of the owner roles' password secrets."""
        result = {}
        for role in db.owner_roles(self.config):
            secret = self.role_secrets.get(db.role_secret_name(self.params["name_prefix"], role)) or {}
            result[role] = {"name": db.role_secret_name(self.params["name_prefix"], role),
                            "arn": secret.get("ARN", UNKNOWN)}
        return result


def wait_only(module, database):
    """The second call of a start-then-wait pair: wait for the instance and return its outputs."""
    try:
        database.read_instance()
        if database.instance is None and not module.check_mode:
            raise AWSResourceError(None, "there is no DB instance %s to wait for; converge the database first "
                                         "(wait_only=false)" % database.names["instance"])
        database.wait()
    except AWSResourceError as exc:
        module.fail_json(msg=str(exc))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        module.fail_json_aws(exc, msg="Could not wait for the database %s" % database.names["instance"])
    outputs = database.outputs()
    module.exit_json(changed=False, **{key: outputs[key] for key in INSTANCE_OUTPUTS})


# The outputs that come from the DB instance itself (what wait_only returns).
INSTANCE_OUTPUTS = ("instance_identifier", "status", "endpoint", "port", "master_user_secret_arn")


def main():
    argument_spec = component_argument_spec(
        vpc_id=dict(type="str", required=True),
        subnet_ids=dict(type="list", elements="str", required=True),
        allowed_cidrs=dict(type="list", elements="str", default=[]),
        allowed_security_group_ids=dict(type="list", elements="str", default=[]),
        wait=dict(type="bool", default=False),
        wait_only=dict(type="bool", default=False),
        wait_timeout=dict(type="int", default=3600),
        apply_immediately=dict(type="bool", default=False),
    )
    module = MlopsAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    config = validate_config(module, DATABASE, lambda config: (
        db.check_storage(config) + db.check_inputs(module.params, module.check_mode)))
    if not module.params["allowed_cidrs"] and not module.params["allowed_security_group_ids"]:
        module.warn("allowed_cidrs and allowed_security_group_ids are both empty: nothing can reach the database")

    database = Database(module, config)
    if module.params["wait_only"]:
        wait_only(module, database)
    try:
        database.read()
        database.ensure_key()
        database.ensure_security_group()
        database.ensure_subnet_group()
        database.ensure_parameter_group()
        database.ensure_instance()
        database.ensure_role_secrets()
        if module.params["wait"]:
            database.wait()
    except ConfigProblems as exc:
        fail_config(module, exc.errors)
    except AWSResourceError as exc:
        module.fail_json(msg=str(exc))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        module.fail_json_aws(exc, msg="Could not converge the database %s" % database.names["instance"])

    outputs = database.outputs()
    module.exit_json(changed=database.changed, diff={"before": database.before, "after": database.after_state()},
                     ansible_facts={"mlops_database": outputs}, **outputs)


if __name__ == "__main__":
    main()
