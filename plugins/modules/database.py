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
      nothing to do makes 12 reads and no write.
  returned: always
  type: dict
  sample: {"total": 12, "writes": 0, "by_operation": {"DescribeDBInstances": 1, "ListTagsForResource": 2}}
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
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags

from ansible_collections.mlops.platform.plugins.module_utils import database as db
from ansible_collections.mlops.platform.plugins.module_utils import security_group as sg
from ansible_collections.mlops.platform.plugins.module_utils.aws import AWS_RETRY
from ansible_collections.mlops.platform.plugins.module_utils.aws import AWSResourceError, MlopsAWSModule, paginate
from ansible_collections.mlops.platform.plugins.module_utils.generated_secret import GeneratedSecrets
from ansible_collections.mlops.platform.plugins.module_utils.kms_key import ComponentKey
from ansible_collections.mlops.platform.plugins.module_utils.component import ConfigProblems
from ansible_collections.mlops.platform.plugins.module_utils.component import component_argument_spec
from ansible_collections.mlops.platform.plugins.module_utils.component import fail_config
from ansible_collections.mlops.platform.plugins.module_utils.component import is_unknown
from ansible_collections.mlops.platform.plugins.module_utils.component import managed_tags
from ansible_collections.mlops.platform.plugins.module_utils.component import validate_config
from ansible_collections.mlops.platform.plugins.module_utils.config_schema import DATABASE
from ansible_collections.mlops.platform.plugins.module_utils.rds_resources import DBInstance, DBParameterGroup
from ansible_collections.mlops.platform.plugins.module_utils.rds_resources import DBSubnetGroup

UNKNOWN = db.UNKNOWN


class Database:
    """Reads the component's resources once and converges them toward the configuration;
    each ``ensure_*`` returns whether it changed something (in check mode: would)."""

    def __init__(self, module, config):
        self.module = module
        self.config = config
        self.params = module.params
        self.check_mode = module.check_mode
        self.names = db.names(self.params["name_prefix"], config["engine_version"])
        self.environment = self.params["environment"]
        self.tags = managed_tags(self.environment, db.COMPONENT, self.params["tags"])
        self.ec2 = module.client("ec2", retry_decorator=AWS_RETRY)
        rds = module.client("rds", retry_decorator=AWS_RETRY)
        self.groups = sg.ComponentSecurityGroups(module, self.ec2, self.environment, db.COMPONENT)
        self.secrets = GeneratedSecrets(module, db.role_secret_name(self.params["name_prefix"], ""),
                                        self.environment, db.COMPONENT, self.tags)
        self.kms_key = ComponentKey(module, self.names["kms_alias"], self.environment, db.COMPONENT, self.tags,
                                    "Encrypts the PostgreSQL database %s (mlops.platform)" % self.names["instance"],
                                    "name_prefix")
        self.subnet_group = DBSubnetGroup(
            module, rds, self.names["subnet_group"], self.environment, db.COMPONENT, self.tags,
            "Private subnets of the PostgreSQL database %s (mlops.platform)" % self.names["instance"])
        self.parameter_group = DBParameterGroup(
            module, rds, self.names["parameter_group"], self.environment, db.COMPONENT, self.tags,
            self.names["parameter_group_family"], "PostgreSQL %s: TLS only (mlops.platform)" % self.names["instance"],
            db.PARAMETERS)
        self.instance = DBInstance(module, rds, config, self.names, self.environment, db.COMPONENT, self.tags)
        self.key_after = None
        self.vpc_known = not is_unknown(self.params["vpc_id"])
        self.subnets_known = not any(is_unknown(subnet) for subnet in self.params["subnet_ids"])
        # The security group as DescribeSecurityGroups gives it (None: absent), its tags as a dict under "tags".
        self.security_group = None
        self.before = {}

    # -- reading ---------------------------------------------------------------------------

    def read(self):
        # The subnets first: a wrong subnet list is refused after this one read.
        errors = self.read_subnets()
        if errors:
            raise ConfigProblems(errors)
        errors = self.read_security_groups()
        self.kms_key.read()
        self.subnet_group.read()
        self.parameter_group.read()
        self.instance.read()
        self.secrets.read()
        errors += self.ownership_problems()
        if errors:
            raise ConfigProblems(errors)
        self.before = self.state()

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

    def secret_not_owned(self, role):
        return AWSResourceError("config.databases", (
            "names the role %s, whose password secret %s exists but is not owned by the database of environment %s "
            "(no mlops.platform ownership tags); it is left alone: remove it or choose another name_prefix"
            % (role, db.role_secret_name(self.params["name_prefix"], role), self.environment)))

    def ownership_problems(self):
        """Resources under our names that this environment's database does not own are never changed."""
        refusals = []
        if self.security_group is not None and not self.groups.owned(self.security_group):
            refusals.append((self.groups.not_owned(self.security_group), self.params["name_prefix"]))
        refusals += [(resource.not_owned(), self.params["name_prefix"])
                     for resource in (self.subnet_group, self.parameter_group, self.instance)
                     if resource.live is not None and not resource.owned()]
        refusals += [(self.secret_not_owned(role), role) for role in db.owner_roles(self.config)
                     if self.secrets.foreign(db.role_secret_name(self.params["name_prefix"], role))]
        errors = [db.ConfigError(refusal.path, refusal.message, value) for refusal, value in refusals]
        subnet_group = self.subnet_group.live
        if subnet_group is not None and self.vpc_known and subnet_group["VpcId"] != self.params["vpc_id"]:
            errors.append(db.ConfigError("vpc_id", "differs from the VPC %s of the DB subnet group %s; moving the "
                                                   "database to another VPC is not done by this module"
                                         % (subnet_group["VpcId"], self.names["subnet_group"]),
                                         self.params["vpc_id"]))
        parameter_group = self.parameter_group.live
        if parameter_group is not None and parameter_group["DBParameterGroupFamily"] != self.parameter_group.family:
            errors.append(db.ConfigError("name_prefix", "names the DB parameter group %s, whose family is %s, not %s"
                                         % (self.names["parameter_group"], parameter_group["DBParameterGroupFamily"],
                                            self.parameter_group.family), self.params["name_prefix"]))
        if not errors:
            errors += self.instance.problems(self.key_arn, self.security_group_id)
        return errors

    # -- converging ------------------------------------------------------------------------

    @property
    def key_arn(self):
        return self.kms_key.arn

    @property
    def security_group_id(self):
        return self.security_group["GroupId"] if self.security_group else UNKNOWN

    def ensure_key(self):
        changed, unused, self.key_after = self.kms_key.ensure()
        return changed

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
        wanted_ingress = db.desired_ingress(self.config["port"], self.params["allowed_cidrs"],
                                            self.params["allowed_security_group_ids"])
        changed |= self.groups.converge_rules(group, "ingress", wanted_ingress,
                                              description="PostgreSQL client (mlops.platform)")
        changed |= self.groups.converge_rules(group, "egress", set())
        missing = compare_aws_tags(group["tags"], wanted_tags, purge_tags=False)[0]
        if missing:
            changed = True
            if not self.check_mode:
                self.ec2.create_tags(Resources=[group["GroupId"]], Tags=ansible_dict_to_boto3_tag_list(missing),
                                     aws_retry=True)
            group["tags"].update(missing)
        return changed

    def ensure_subnet_group(self):
        return self.subnet_group.ensure(self.params["subnet_ids"])

    def ensure_parameter_group(self):
        return self.parameter_group.ensure()

    def ensure_instance(self):
        """True when the instance is created or modified: what ``wait`` waits for."""
        return self.instance.ensure(self.key_arn, self.security_group_id, self.params["apply_immediately"])

    def ensure_instance_tags(self):
        return self.instance.ensure_tags()

    def ensure_role_secrets(self):
        """One secret per owner role, ``{"username", "password"}``, its password generated here
        when the secret is made and never again: a re-run changes nothing, and the value is
        never returned. The database bootstrap Job reads it (through External Secrets) to
        set the role's password; so do the role's pods."""
        changed = False
        for role in db.owner_roles(self.config):
            changed |= self.secrets.ensure(
                db.role_secret_name(self.params["name_prefix"], role),
                lambda role=role: json.dumps({"username": role, "password": secrets.token_urlsafe(32)}),
                "Password of the PostgreSQL role %s of %s (mlops.platform)" % (role, self.names["instance"]),
                lambda role=role: self.secret_not_owned(role))
        return changed

    def wait(self, instance_changed):
        """Wait for the instance to serve connections, then read its endpoint."""
        self.instance.wait(self.params["wait_timeout"], instance_changed)

    # -- reporting -------------------------------------------------------------------------

    def state(self):
        """The diffable view: what a person compares between before and after."""
        result = {}
        if self.kms_key.live is not None:
            result["kms_key"] = self.kms_key.view(self.kms_key.live)
        if self.security_group is not None:
            result["security_group"] = db.security_group_view(self.security_group, self.names["security_group"],
                                                              self.security_group_tags())
        for key, resource in (("subnet_group", self.subnet_group), ("parameter_group", self.parameter_group)):
            if resource.live is not None:
                result[key] = resource.view()
        secrets_view = db.role_secrets_view(self.config, self.params["name_prefix"], self.secrets.live, self.tags)
        if secrets_view:
            result["role_secrets"] = secrets_view
        if self.instance.live is not None:
            result["instance"] = self.instance.view()
        return result

    def after_state(self):
        """The view once converged; for a planned or just-started change, the desired settings."""
        result = self.state()
        if self.key_after is not None:
            result["kms_key"] = self.key_after
        result["instance"] = self.instance.converged_view(self.before.get("instance", {}), self.security_group_id)
        return result

    def outputs(self):
        return db.outputs(self.config, self.names, self.instance.live, self.security_group_id, self.key_arn,
                          db.role_secrets_output(self.config, self.params["name_prefix"], self.secrets.live))


def wait_only(module, database):
    """The second call of a start-then-wait pair: wait for the instance and return its outputs."""
    try:
        database.instance.read()
        if database.instance.live is None and not module.check_mode:
            raise AWSResourceError(None, "there is no DB instance %s to wait for; converge the database first "
                                         "(wait_only=false)" % database.names["instance"])
        database.wait(instance_changed=False)
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
    changed = False
    try:
        database.read()
        changed |= database.ensure_key()
        changed |= database.ensure_security_group()
        changed |= database.ensure_subnet_group()
        changed |= database.ensure_parameter_group()
        instance_changed = database.ensure_instance()
        changed |= instance_changed
        changed |= database.ensure_instance_tags()
        changed |= database.ensure_role_secrets()
        if module.params["wait"]:
            database.wait(instance_changed)
    except ConfigProblems as exc:
        fail_config(module, exc.errors)
    except AWSResourceError as exc:
        module.fail_json(msg=str(exc))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        module.fail_json_aws(exc, msg="Could not converge the database %s" % database.names["instance"])

    outputs = database.outputs()
    module.exit_json(changed=changed, diff={"before": database.before, "after": database.after_state()},
                     ansible_facts={"mlops_database": outputs}, **outputs)


if __name__ == "__main__":
    main()
