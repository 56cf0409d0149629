# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The VPC's flow log, and for CloudWatch Logs its log group and delivery role.

``FlowLogs(writer, view)`` keeps one owned flow log on the VPC through the network's
``network_writer.Ec2Writer`` (``view.flow_logs``). Flow logs are immutable: one that differs
from what is wanted is deleted and created anew; a delivery role that only a deleted flow log
used is removed. With ``cloud-watch-logs``, ``FlowLogDelivery`` first keeps the log group (its
retention and tags) and the delivery role, through ``iam_role.ComponentRoles``, trusted by
the flow-logs service for this account only and allowed to write to that log group only.
Foreign log groups and roles under our names are refused with ``config.flow_logs.destination``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mlops.platform.plugins.module_utils import network as net
from ansible_collections.mlops.platform.plugins.module_utils.aws import AWS_RETRY, AWSResourceError, caller_identity
from ansible_collections.mlops.platform.plugins.module_utils.aws import client_token, settling_retry, write_once
from ansible_collections.mlops.platform.plugins.module_utils.component import UNKNOWN, is_owned
from ansible_collections.mlops.platform.plugins.module_utils.iam_role import ComponentRoles, RoleNotOwnedError

DELIVERY_POLICY_NAME = "vpc-flow-logs-delivery"
# Only for CreateFlowLogs right after this run created the delivery role, as
# InvalidParameter is otherwise a real refusal.
NEW_ROLE_RETRY = settling_retry("InvalidParameter")
PATH = "config.flow_logs.destination"


class FlowLogs:
    """The one flow log of one environment's VPC."""

    def __init__(self, writer, view):
        self.writer = writer
        self.view = view
        self.delivery = None  # the FlowLogDelivery, when flow logs go to CloudWatch Logs

    def read(self, vpc_id):
        self.view.flow_logs = [flow_log for flow_log in self.writer.paginate(
            "describe_flow_logs", "FlowLogs", Filters=[{"Name": "resource-id", "Values": [vpc_id]}])
            if is_owned(net.tag_dict(flow_log), self.writer.environment, net.COMPONENT)]

    def ensure(self):
        """Keep the wanted flow log (with its delivery), delete the others; whether anything
        changed (or would)."""
        view, writer = self.view, self.writer
        wanted = view.desired["flow_log"]
        vpc_id = view.vpc["VpcId"]
        changed = False
        role_arn = None
        if wanted is not None and wanted["destination_type"] == "cloud-watch-logs":
            self.delivery = FlowLogDelivery(writer.module, writer.environment, wanted)
            changed, role_arn = self.delivery.ensure()
        keep = None
        for flow_log in view.flow_logs:
            if keep is None and wanted is not None and net.flow_log_matches(flow_log, wanted, role_arn):
                keep = flow_log
                changed |= writer.ensure_tags(flow_log["FlowLogId"], net.tag_dict(flow_log), wanted, "flow-log")
        stale = [flow_log for flow_log in view.flow_logs if flow_log is not keep]
        if stale:
            ids = [flow_log["FlowLogId"] for flow_log in stale]
            changed |= writer.delete_all("delete_flow_logs", dict.fromkeys(ids, "config.flow_logs"), FlowLogIds=ids)
        delivery_roles = {flow_log.get("DeliverLogsPermissionArn") for flow_log in stale} - {None, role_arn}
        if delivery_roles:
            roles = FlowLogDelivery(writer.module, writer.environment, None)
            for stale_role in sorted(delivery_roles):
                changed |= roles.remove_role(stale_role)
        if wanted is not None and keep is None:
            changed = True  # created, or predicted in check mode
            keep = self.create(wanted, vpc_id, role_arn)
        view.flow_logs = [keep] if keep else []
        return changed

    def create(self, wanted, vpc_id, role_arn):
        """Create the wanted flow log; what the state shows of it."""
        writer = self.writer
        params = dict(ResourceIds=[vpc_id], ResourceType="VPC", TrafficType=wanted["traffic_type"],
                      LogDestinationType=wanted["destination_type"],
                      MaxAggregationInterval=net.FLOW_LOGS_MAX_AGGREGATION_SECONDS,
                      TagSpecifications=writer.specification("vpc-flow-log", wanted))
        if wanted["destination_type"] == "s3":
            params["LogDestination"] = wanted["destination"]
        else:
            params.update(LogGroupName=wanted["destination"], DeliverLogsPermissionArn=role_arn)
        created = None
        if vpc_id != UNKNOWN and role_arn != UNKNOWN:
            if self.delivery is not None and self.delivery.role_created and not writer.check_mode:
                # EC2 refuses a role IAM has not propagated yet ("Unable to assume given
                # IAM role", InvalidParameter) for a while after CreateRole.
                params["ClientToken"] = client_token()
                created = writer.module.client("ec2", retry_decorator=NEW_ROLE_RETRY).create_flow_logs(
                    aws_retry=True, **params)
            else:
                created = writer.create("create_flow_logs", None, wanted,
                                        ("describe_flow_logs", "FlowLogs",
                                         [{"Name": "resource-id", "Values": [vpc_id]}]), **params).result
                if created and "FlowLogId" in created:  # found again after a lost answer
                    created = {"FlowLogIds": [created["FlowLogId"]]}
        # CreateFlowLogs reports a refused destination in its answer, not as an error.
        refused = (created or {}).get("Unsuccessful") or []
        if refused:
            error = refused[0]["Error"]
            raise AWSResourceError(PATH, "CreateFlowLogs refused %s: %s (%s)"
                                   % (wanted["destination"], error.get("Message"), error.get("Code")))
        keep = {"FlowLogId": created["FlowLogIds"][0] if created else UNKNOWN}
        keep.update(TrafficType=wanted["traffic_type"], LogDestinationType=wanted["destination_type"])
        keep["LogDestination" if wanted["destination_type"] == "s3" else "LogGroupName"] = wanted["destination"]
        return keep


class FlowLogDelivery:
    """The log group and delivery role of CloudWatch Logs flow logs (``wanted``: the desired
    flow log; None to remove roles only). ``before`` / ``after`` show them in the diff."""

    def __init__(self, module, environment, wanted):
        self.module = module
        self.wanted = wanted
        self.check_mode = module.check_mode
        self.roles = ComponentRoles(module.client("iam", retry_decorator=AWS_RETRY), environment, net.COMPONENT,
                                    module.check_mode, iam_once=module.once_client("iam"))
        self.environment = environment
        self.role_created = False  # the delivery role was created by this run
        self.before = None
        self.after = None

    def ensure(self):
        """Keep the log group (retention, tags) and the role: ``(changed, the role's ARN)``."""
        identity = caller_identity(self.module)
        account_id = identity["account_id"]
        partition = identity["partition"]
        region = self.module.region
        logs = self.module.client("logs", retry_decorator=AWS_RETRY)
        name = self.wanted["destination"]
        group_arn = "arn:%s:logs:%s:%s:log-group:%s" % (partition, region, account_id, name)
        group = next((group for group in logs.describe_log_groups(logGroupNamePrefix=name, aws_retry=True)["logGroups"]
                      if group["logGroupName"] == name), None)
        changed = False
        if group is None:
            changed = True
            if not self.check_mode:
                write_once(lambda: self.module.once_client("logs").create_log_group(
                    logGroupName=name, tags=self.wanted["tags"]), ("ResourceAlreadyExistsException",))
                logs.put_retention_policy(logGroupName=name, retentionInDays=self.wanted["retention_days"],
                                          aws_retry=True)
        else:
            tags = logs.list_tags_for_resource(resourceArn=group_arn, aws_retry=True).get("tags", {})
            if not is_owned(tags, self.environment, net.COMPONENT):
                raise AWSResourceError(PATH, "the log group %s exists and is not managed by this component; remove it "
                                       "or tag it" % name)
            missing = net.tags_to_set(tags, self.wanted["tags"])
            if missing:
                changed = True
                if not self.check_mode:
                    logs.tag_resource(resourceArn=group_arn, tags=missing, aws_retry=True)
            if group.get("retentionInDays") != self.wanted["retention_days"]:
                changed = True
                if not self.check_mode:
                    logs.put_retention_policy(logGroupName=name, retentionInDays=self.wanted["retention_days"],
                                              aws_retry=True)
        self.before = {"log_group": group["logGroupName"] if group else None,
                       "retention_days": group.get("retentionInDays") if group else None}
        self.after = {"log_group": name, "retention_days": self.wanted["retention_days"]}
        role_changed, role_arn = self.ensure_role(self.wanted["role_name"], account_id, partition, region, group_arn)
        return changed or role_changed, role_arn

    def ensure_role(self, role_name, account_id, partition, region, group_arn):
        """The delivery role: ``(changed, its ARN)``."""
        try:
            changed, before, after, arn = self.roles.ensure(
                role_name, net.flow_log_trust_policy(account_id, partition, region),
                {DELIVERY_POLICY_NAME: net.flow_log_delivery_policy(group_arn)}, tags=self.wanted["tags"],
                description="Delivers the VPC flow logs of %s to CloudWatch Logs (mlops.platform)" % role_name)
        except RoleNotOwnedError as exc:
            raise AWSResourceError(PATH, str(exc))
        self.role_created = before is None
        self.before["role"] = before
        self.after["role"] = after
        return changed, arn

    def remove_role(self, role_arn):
        """Delete a delivery role of a removed flow log, if this component owns it; whether it was."""
        return self.roles.remove(role_arn.rpartition("/")[2])[0]
