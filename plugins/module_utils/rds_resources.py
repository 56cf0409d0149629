# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The database component's RDS resources: its DB subnet group, DB parameter group and DB instance.

Each class works on the module's RDS client wrapped with ``aws.AWS_RETRY`` and knows one
resource by its name:

* ``read()``: one describe (plus ListTagsForResource for the groups, whose tags RDS keeps
  apart); ``live`` is the describe item with its tags as a dict under ``"tags"``, or None.
* ``ensure(...)``: creates the resource or brings it to what is wanted with only the calls
  that differ, and returns whether anything changed (in check mode: would change, with no
  write). ``ensure_tags()`` adds missing tags (tags set by other tools stay); the groups'
  ``ensure`` includes it, the instance's does not, since only a created or modified instance
  is waited for.
* ``view()``: the diffable view of ``live``.

Creates go through ``aws.create_once`` on a client that never retries by itself, tagged in
the create call: a lost answer or an interrupted run is found again by name and adopted when
it carries the ownership tags. One ownership rule: a resource under our name without this
environment's and component's ownership tags is never changed or adopted; ``not_owned()``
is the one refusal, naming what was found, its tags and the tags that would hand it over,
under the config path that names it (``name_prefix``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

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
from ansible_collections.mlops.platform.plugins.module_utils.aws import AWSResourceError, create_once, paginate
from ansible_collections.mlops.platform.plugins.module_utils.aws import wait_until
from ansible_collections.mlops.platform.plugins.module_utils.component import COMPONENT_TAG, ENVIRONMENT_TAG
from ansible_collections.mlops.platform.plugins.module_utils.component import MANAGED_TAG, UNKNOWN
from ansible_collections.mlops.platform.plugins.module_utils.component import ConfigProblems, is_owned


class RdsResource:
    """What the RDS resources share: a name, the ownership rule, the one refusal, tags.

    ``tags`` are the wanted tags (the environment's plus the ownership tags).
    """

    what = None      # "DB subnet group", for messages
    arn_key = None   # the ARN's key in the describe item

    def __init__(self, module, rds, name, environment, component, tags, path="name_prefix"):
        self.module = module
        self.rds = rds
        self.rds_once = module.once_client("rds")
        self.check_mode = module.check_mode
        self.name = name
        self.environment = environment
        self.component = component
        self.tags = tags
        self.path = path  # the config path that names the resource
        self.live = None

    def read(self):  # pragma: no cover - each resource reads its own way
        raise NotImplementedError

    def owned(self):
        """True when the resource read carries this environment's component's ownership tags."""
        return self.live is not None and is_owned(self.live["tags"], self.environment, self.component)

    def find_owned(self):
        """The resource as it is now when it is ours, else None (``find`` of ``create_once``)."""
        self.read()
        return self.live if self.owned() else None

    def not_owned(self):
        """The refusal for the resource under our name that this component does not own."""
        live = self.live or {}
        found = "%s %s (%s)" % (self.what, self.name, live[self.arn_key]) if self.arn_key in live \
            else "%s %s" % (self.what, self.name)
        tags = ", ".join("%s=%s" % item for item in sorted((live.get("tags") or {}).items())) or "none"
        return AWSResourceError(self.path, (
            "names the %s, which exists but is not owned by the %s of environment %s (no mlops.platform ownership "
            "tags; its tags: %s); it is left alone: remove it, choose another %s, or tag it %s=true, %s=%s, %s=%s "
            "to let this module take it over")
            % (found, self.component, self.environment, tags, self.path, MANAGED_TAG, ENVIRONMENT_TAG,
               self.environment, COMPONENT_TAG, self.component))

    def read_tags(self, arn):
        return boto3_tag_list_to_ansible_dict(
            self.rds.list_tags_for_resource(ResourceName=arn, aws_retry=True).get("TagList", []))

    def ensure_tags(self):
        """Add the wanted tags that are missing or differ; True when there were any."""
        if self.live is None:
            return False
        missing = compare_aws_tags(self.live["tags"], self.tags, purge_tags=False)[0]
        if missing and not self.check_mode:
            self.rds.add_tags_to_resource(ResourceName=self.live[self.arn_key], aws_retry=True,
                                          Tags=ansible_dict_to_boto3_tag_list(missing))
        self.live["tags"].update(missing)
        return bool(missing)

    def tag_view(self, tags):
        return db.managed_tag_view(tags, self.tags)

    def create(self, call, exists_code):
        """``call()`` at most once (see ``aws.create_once``); the created or adopted describe item."""
        response, found = create_once(call, self.find_owned, exists_codes=(exists_code,), foreign=self.not_owned)
        return response or found


class DBSubnetGroup(RdsResource):
    """The DB subnet group over the private subnets given."""

    what = "DB subnet group"
    arn_key = "DBSubnetGroupArn"

    def __init__(self, module, rds, name, environment, component, tags, description):
        super(DBSubnetGroup, self).__init__(module, rds, name, environment, component, tags)
        self.description = description

    def read(self):
        try:
            group = self.rds.describe_db_subnet_groups(DBSubnetGroupName=self.name, aws_retry=True)["DBSubnetGroups"][0]
        except is_boto3_error_code("DBSubnetGroupNotFoundFault"):
            return None
        self.live = dict(group, tags=self.read_tags(group[self.arn_key]))
        return self.live

    def subnet_ids(self):
        return sorted(subnet["SubnetIdentifier"] for subnet in self.live["Subnets"])

    def ensure(self, subnet_ids):
        wanted = sorted(subnet_ids)
        if self.live is None:
            arn = UNKNOWN
            if not self.check_mode:
                arn = self.create(lambda: self.rds_once.create_db_subnet_group(
                    DBSubnetGroupName=self.name, SubnetIds=wanted, Tags=ansible_dict_to_boto3_tag_list(self.tags),
                    DBSubnetGroupDescription=self.description)["DBSubnetGroup"],
                    "DBSubnetGroupAlreadyExists")[self.arn_key]
            self.live = {"DBSubnetGroupName": self.name, "tags": dict(self.tags), self.arn_key: arn,
                         "Subnets": [{"SubnetIdentifier": subnet} for subnet in wanted]}
            return True
        changed = self.subnet_ids() != wanted
        if changed:
            if not self.check_mode:
                self.rds.modify_db_subnet_group(DBSubnetGroupName=self.name, SubnetIds=wanted, aws_retry=True)
            self.live["Subnets"] = [{"SubnetIdentifier": subnet} for subnet in wanted]
        changed |= self.ensure_tags()
        return changed

    def view(self):
        return {"name": self.name, "subnet_ids": self.subnet_ids(), "tags": self.tag_view(self.live["tags"])}


class DBParameterGroup(RdsResource):
    """The DB parameter group of one family, holding ``parameters`` (``{name: {value, apply_type}}``)."""

    what = "DB parameter group"
    arn_key = "DBParameterGroupArn"

    def __init__(self, module, rds, name, environment, component, tags, family, description, parameters):
        super(DBParameterGroup, self).__init__(module, rds, name, environment, component, tags)
        self.family = family
        self.description = description
        self.parameters = parameters

    def read(self):
        try:
            groups = self.rds.describe_db_parameter_groups(DBParameterGroupName=self.name,
                                                           aws_retry=True)["DBParameterGroups"]
        except is_boto3_error_code("DBParameterGroupNotFound"):
            return None
        if not groups:  # the stand-in answers an empty list where AWS answers DBParameterGroupNotFound
            return None
        group = groups[0]
        # Only the parameters set on the group (Source=user): the engine defaults are hundreds.
        parameters = paginate(self.rds, "describe_db_parameters", "Parameters",
                              DBParameterGroupName=self.name, Source="user")
        self.live = dict(group, tags=self.read_tags(group[self.arn_key]),
                         parameters={p["ParameterName"]: p.get("ParameterValue") for p in parameters})
        return self.live

    def ensure(self):
        changed = self.live is None
        if changed:
            arn = UNKNOWN
            if not self.check_mode:
                arn = self.create(lambda: self.rds_once.create_db_parameter_group(
                    DBParameterGroupName=self.name, DBParameterGroupFamily=self.family, Description=self.description,
                    Tags=ansible_dict_to_boto3_tag_list(self.tags))["DBParameterGroup"],
                    "DBParameterGroupAlreadyExists")[self.arn_key]
            self.live = {"DBParameterGroupName": self.name, self.arn_key: arn, "DBParameterGroupFamily": self.family,
                         "tags": dict(self.tags), "parameters": {}}
        live = self.live["parameters"]
        differing = [
            {"ParameterName": parameter, "ParameterValue": wanted["value"],
             "ApplyMethod": "immediate" if wanted["apply_type"] == "dynamic" else "pending-reboot"}
            for parameter, wanted in sorted(self.parameters.items()) if live.get(parameter) != wanted["value"]]
        if differing:
            if not self.check_mode:
                self.rds.modify_db_parameter_group(DBParameterGroupName=self.name, Parameters=differing,
                                                   aws_retry=True)
            live.update({parameter["ParameterName"]: parameter["ParameterValue"] for parameter in differing})
            changed = True
        changed |= self.ensure_tags()
        return changed

    def view(self):
        return {"name": self.name, "family": self.live["DBParameterGroupFamily"],
                "parameters": {name: self.live["parameters"].get(name) for name in sorted(self.parameters)},
                "tags": self.tag_view(self.live["tags"])}


class DBInstance(RdsResource):
    """The component's DB instance, created from and converged toward its configuration
    (``database.create_request`` / ``database.modification``)."""

    what = "DB instance"
    arn_key = "DBInstanceArn"

    def __init__(self, module, rds, config, names, environment, component, tags):
        super(DBInstance, self).__init__(module, rds, names["instance"], environment, component, tags)
        self.config = config
        self.names = names

    @staticmethod
    def _with_tags(instance):
        return dict(instance, tags=boto3_tag_list_to_ansible_dict(instance.get("TagList", [])))

    def read(self):
        try:
            instance = self.rds.describe_db_instances(DBInstanceIdentifier=self.name, aws_retry=True)["DBInstances"][0]
        except is_boto3_error_code("DBInstanceNotFound"):
            self.live = None
            return None
        self.live = self._with_tags(instance)
        return self.live

    def problems(self, kms_key_arn, security_group_id):
        """What the configuration asks that cannot be done to the live instance (a downgrade)."""
        if self.live is None:
            return []
        return db.modification(self.config, self.names, security_group_id, kms_key_arn, self.live)[1]

    def ensure(self, kms_key_arn, security_group_id, apply_immediately):
        """Create the instance, or send one ModifyDBInstance with what differs; True when the
        instance was created or modified (what a wait is for). Tags: :meth:`ensure_tags`."""
        if self.live is None:
            if not self.check_mode:
                request = db.create_request(self.config, self.names, kms_key_arn, security_group_id,
                                            ansible_dict_to_boto3_tag_list(self.tags))
                created = self.create(lambda: self.rds_once.create_db_instance(**request)["DBInstance"],
                                      "DBInstanceAlreadyExists")
                # Tagged in the create call: nothing to add.
                self.live = dict(created, tags=dict(self.tags))
            return True
        request, problems, warnings = db.modification(self.config, self.names, security_group_id, kms_key_arn,
                                                      self.live, apply_immediately)
        if problems:  # already refused after the read; kept for safety
            raise ConfigProblems(problems)
        for warning in warnings:
            self.module.warn(warning)
        if not request:
            return False
        if not self.check_mode:
            self.live = self._with_tags(self.rds.modify_db_instance(aws_retry=True, **request)["DBInstance"])
        return True

    def wait(self, timeout, changed):
        """Wait until the instance serves connections (``database.usable_waiter_model``), then read
        it again for its endpoint; nothing to do for a usable instance this run did not change."""
        if self.check_mode or self.live is None:
            return
        status = self.live.get("DBInstanceStatus")
        if status in db.STOPPED_STATUSES:
            raise AWSResourceError(None, "the DB instance %s is %s; it will not become available until it is started "
                                   "(this module never starts or stops it)" % (self.name, status))
        if status in db.USABLE_STATUSES and not changed:
            return
        model = core_waiter.WaiterModel(db.usable_waiter_model(max(1, timeout // db.USABLE_WAIT_DELAY)))
        waiter = core_waiter.create_waiter_with_client("DBInstanceUsable", model, getattr(self.rds, "client", self.rds))
        try:
            wait_until(waiter, DBInstanceIdentifier=self.name)
        except botocore.exceptions.WaiterError as exc:
            last = [instance.get("DBInstanceStatus") for instance in (exc.last_response or {}).get("DBInstances", [])]
            if any(status in db.STUCK_STATUSES for status in last):
                raise AWSResourceError(None, "the DB instance %s is %s, which it does not leave by itself; see its "
                                       "events in the RDS console" % (self.name, ", ".join(last)))
            raise AWSResourceError(None, "the DB instance %s did not become usable (%s) within %d s; its status is %s"
                                   % (self.name, ", ".join(db.USABLE_STATUSES), timeout, ", ".join(last) or "unknown"))
        self.read()

    def view(self):
        view = db.instance_state(self.live)
        view["tags"] = self.tag_view(self.live["tags"])
        return view

    def converged_view(self, live_view, security_group_id):
        """The view once converged; for a planned or just-started change, the desired settings.
        ``live_view`` is :meth:`view` as read before any change ({} without an instance)."""
        desired = db.desired_state(self.config, self.names, security_group_id,
                                   db.instance_state(self.live) if self.live else None)
        view = db.converged_state(desired, {key: value for key, value in live_view.items() if key != "tags"})
        view["tags"] = self.tag_view(self.tags)
        return view
