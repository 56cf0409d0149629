# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""EKS managed node groups of one environment's component: created, kept in shape, upgraded, removed.

The one helper for node groups: the ``eks`` module keeps the CPU system group with it,
``gpu_nodes`` the GPU groups. ``NodeGroups(module, eks, cluster_name, environment,
component, tags, check_mode, capabilities=None)`` works on an EKS client wrapped with
``aws.AWS_RETRY`` (``module.client("eks", retry_decorator=AWS_RETRY)``); pass the caller's
``EksCapabilities`` as ``capabilities`` so that each feature is probed once per run. Creates
use ``module.once_client("eks")``. ``module.warn`` receives the warnings.

* ``read(names)``: one ``DescribeNodegroup`` per name (absent groups, and a cluster that
  does not exist yet, read as None). Every other method reads lazily what it was not given.
* ``ensure(name, spec, path)`` -> ``(changed, before, after)``: creates the group, or brings
  an existing one to ``spec`` in place. ``spec`` is built by :func:`node_group_spec`:
  instance_types, ami_type, capacity_type, min_size, max_size, desired_size,
  enforce_desired_size, disk_size_gib, labels (the final map), taints (EKS form),
  max_unavailable_percentage, node_role_arn, subnet_ids, kubernetes_version (None: the
  cluster's at creation, never upgraded). ``path`` is the config path of the group
  (``config.node_groups.a10g``); every refusal names it (or the module option concerned).
* ``owned_names(prefix)``: names under ``prefix`` that this environment's component owns
  (``ListNodegroups``, then a read of each candidate not read yet; when no group read so far
  proves that the cluster exists, one ``DescribeCluster`` first).
* ``remove(name)`` -> ``(changed, before, after)``: deletes a group this component owns;
  an absent group, one being deleted, or one of anybody else is left alone.
* ``wait(names, timeout)`` / ``wait_deleted(names, timeout)``: botocore's
  ``nodegroup_active`` / ``nodegroup_deleted`` waiters, only for groups changed by this run
  or not ACTIVE; a timeout names the group, its status and its health issues.
* ``output(name)``: the group's outputs (live desired size included).

What is converged in place, with one ``UpdateNodegroupConfig`` (labels and taints added,
changed and removed; scaling; update config), ``UpdateNodegroupVersion`` and
``TagResource``:

* The desired size is set at creation. Later runs keep what an autoscaler set, clamped
  into a changed [min, max] range, unless ``enforce_desired_size`` asks to reset it.
* ``maxUnavailablePercentage`` is sent only when the group reports an ``updateConfig`` that
  differs: EKS always reports one, and a group that reports none (the local stand-in does
  not for a group it created) has an unknown value, which is neither reported nor
  "repaired" on every run.
* A group one minor behind ``kubernetes_version`` is upgraded, when the endpoint serves
  updates (``EksCapabilities.supports("update_cluster_version")``, learnt once; else one
  warning). A group further behind, or ahead, is reported with a warning and left alone:
  upgrades go one minor at a time.
* Instance types, AMI type, capacity type, disk size, subnets and node role cannot change
  in place: they are refused with the config path, saying that the group must be
  replaced under a new name. Nothing is ever replaced silently.
* Tags: missing or different ones are added, none removed.

Ownership is by tag (``component.is_owned``): a group of the wanted name that is not this
environment's component's is never changed or deleted (:class:`AWSResourceError`).
Creates go through ``aws.create_once`` with a ``clientRequestToken``: a lost answer is
looked up, never sent twice. Check mode makes the reads only and predicts the rest;
``after`` shows ``(known after apply)`` for what AWS assigns. Errors other than the
ones handled here are botocore's, for the module's ``fail_json_aws``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

try:
    import botocore
except ImportError:  # pragma: no cover - handled by AnsibleAWSModule
    pass

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags
from ansible_collections.mlops.platform.plugins.module_utils.aws import AWSResourceError, paginate
from ansible_collections.mlops.platform.plugins.module_utils.aws import client_token, create_once, wait_until
from ansible_collections.mlops.platform.plugins.module_utils.component import UNKNOWN, is_owned, is_unknown, managed_tags
from ansible_collections.mlops.platform.plugins.module_utils.eks import minor_version
from ansible_collections.mlops.platform.plugins.module_utils.eks_capabilities import EksCapabilities

# EKS node group names: 1-63 letters, digits, - and _, starting with a letter or digit.
NAME_MAX_LENGTH = 63
NAME_PATTERN = re.compile(r"^[0-9A-Za-z][A-Za-z0-9_-]{0,62}$")

# Statuses in which EKS refuses an update until the current operation is over.
BUSY_STATUSES = ("CREATING", "UPDATING")
# Statuses a group does not leave by itself.
FAILED_STATUSES = ("CREATE_FAILED", "DELETE_FAILED")
# botocore's node group waiters poll every 30 s.
WAIT_DELAY = 30
DEFAULT_WAIT_TIMEOUT = 1800

# What cannot change on an existing group: (spec key, view key, what EKS calls it).
IMMUTABLE = (
    ("instance_types", "instance_types", "instance types"),
    ("ami_type", "ami_type", "AMI type"),
    ("capacity_type", "capacity_type", "capacity type"),
    ("disk_size_gib", "disk_size_gib", "disk size"),
    ("subnet_ids", "subnet_ids", "subnets"),
    ("node_role_arn", "node_role_arn", "node IAM role"),
)
# Spec keys that are module options rather than keys of the group's config: their paths.
OPTION_PATHS = {"subnet_ids": "subnet_ids", "node_role_arn": "node_role_arn", "kubernetes_version": "kubernetes_version"}

# Taint effects: EKS spells them NO_SCHEDULE, Kubernetes NoSchedule.
KUBERNETES_EFFECTS = {"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute", "PREFER_NO_SCHEDULE": "PreferNoSchedule"}


def name_problem(name):
    """Why EKS would refuse ``name`` as a node group name, or None."""
    if len(name) > NAME_MAX_LENGTH:
        return "makes the node group name %r %d characters long, the limit is %d" % (name, len(name), NAME_MAX_LENGTH)
    if not NAME_PATTERN.match(name):
        return "makes the node group name %r, which EKS does not accept" % name
    return None


def node_group_spec(group, labels=None, node_role_arn=None, subnet_ids=None, kubernetes_version=None):
    """The ``spec`` of :meth:`NodeGroups.ensure` from a validated node group config block
    (config_schema ``_node_group``), with ``labels`` merged over the group's own."""
    final_labels = dict(group.get("labels") or {})
    final_labels.update(labels or {})
    return {
        "instance_types": list(group["instance_types"]),
        "ami_type": group["ami_type"],
        "capacity_type": group["capacity_type"],
        "min_size": group["min_size"],
        "max_size": group["max_size"],
        "desired_size": group["desired_size"],
        "enforce_desired_size": group["enforce_desired_size"],
        "disk_size_gib": group["disk_size_gib"],
        "labels": final_labels,
        "taints": [eks_taint(taint) for taint in group.get("taints") or []],
        "max_unavailable_percentage": group["max_unavailable_percentage"],
        "node_role_arn": node_role_arn,
        "subnet_ids": list(subnet_ids or []),
        "kubernetes_version": kubernetes_version,
    }


def eks_taint(taint):
    """A taint as the EKS API takes it: no ``value`` key when the value is empty."""
    result = {"key": taint["key"], "effect": taint["effect"]}
    if taint.get("value") not in (None, ""):
        result["value"] = taint["value"]
    return result


def kubernetes_taint(taint):
    """A taint as Kubernetes shows it on the Node: ``{key, value, effect: NoSchedule}``."""
    return {"key": taint["key"], "value": taint.get("value") or "",
            "effect": KUBERNETES_EFFECTS.get(taint["effect"], taint["effect"])}


def toleration(taint):
    """The pod toleration of a taint (EKS or Kubernetes form)."""
    taint = kubernetes_taint(taint)
    if taint["value"]:
        return {"key": taint["key"], "operator": "Equal", "value": taint["value"], "effect": taint["effect"]}
    return {"key": taint["key"], "operator": "Exists", "effect": taint["effect"]}


def _taint_key(taint):
    return (taint["key"], taint["effect"])


def _sorted_taints(taints):
    return sorted((eks_taint(taint) for taint in taints or []), key=_taint_key)


def desired_size(spec, live_desired):
    """What the desired size must be: the configured one at creation or when enforced; else
    the live one (an autoscaler's), clamped into the configured [min, max]."""
    if live_desired is None or spec["enforce_desired_size"]:
        return spec["desired_size"]
    return min(max(live_desired, spec["min_size"]), spec["max_size"])


def health_issues(group):
    """The group's health issues as one line each (``code: message (resources)``)."""
    lines = []
    for issue in ((group or {}).get("health") or {}).get("issues") or []:
        line = "%s: %s" % (issue.get("code", "?"), issue.get("message", ""))
        if issue.get("resourceIds"):
            line += " (%s)" % ", ".join(issue["resourceIds"])
        lines.append(line)
    return lines


class NodeGroups:
    """The managed node groups of one environment's component in one cluster."""

    def __init__(self, module, eks, cluster_name, environment, component, tags=None, check_mode=False,
                 capabilities=None, eks_once=None):
        self.module = module
        self.eks = eks
        self.raw = getattr(eks, "client", eks)  # under amazon.aws's retry wrapper: for waiters
        self._eks_once = eks_once
        self.cluster_name = cluster_name
        self.environment = environment
        self.component = component
        self.tags = managed_tags(environment, component, tags)
        self.check_mode = check_mode
        # Shared with the caller when given, so that each feature is probed once per run.
        self.capabilities = capabilities or EksCapabilities(eks, cluster_name)
        self.live = {}      # name -> DescribeNodegroup's nodegroup, or None when absent
        self.paths = {}     # name -> config path, for messages
        self.touched = set()  # names created or updated by this run (they are not ACTIVE for a while)
        self.removed = set()
        self.planned = {}   # name -> the view check mode predicts for a group it would create
        self._warned_updates = False
        self._warnings = set()

    def _warn(self, message):
        if message not in self._warnings:  # a plan may be made twice for a busy group
            self._warnings.add(message)
            self.module.warn(message)

    @property
    def eks_once(self):
        # CreateNodegroup goes through create_once on a client without botocore's own retries.
        if self._eks_once is None:
            once_client = getattr(self.module, "once_client", None)
            self._eks_once = once_client("eks") if once_client else self.raw
        return self._eks_once

    # -- reading -------------------------------------------------------------------------

    def _describe(self, name):
        try:
            return self.eks.describe_nodegroup(clusterName=self.cluster_name, nodegroupName=name,
                                               aws_retry=True)["nodegroup"]
        except is_boto3_error_code("ResourceNotFoundException"):
            return None  # the group, or the whole cluster, does not exist (yet)

    def read(self, names):
        """Read each group (one DescribeNodegroup per name); return ``{name: group or None}``."""
        for name in names:
            self.live[name] = self._describe(name)
        return {name: self.live[name] for name in names}

    def _live(self, name):
        if name not in self.live:
            self.read([name])
        return self.live[name]

    def owned(self, group):
        return group is not None and is_owned(group.get("tags") or {}, self.environment, self.component)

    def owned_names(self, prefix=""):
        """Names of this component's groups whose name starts with ``prefix``, sorted."""
        if not any(group is not None for group in self.live.values()) and not self._cluster_exists():
            # No group read so far proves the cluster exists (check mode before it is made).
            # EKS answers ListNodegroups on a missing cluster with ResourceNotFoundException,
            # the local stand-in with a 500 that would be retried for minutes: one
            # DescribeCluster settles it.
            return []
        try:
            names = paginate(self.eks, "list_nodegroups", "nodegroups", clusterName=self.cluster_name)
        except is_boto3_error_code("ResourceNotFoundException"):
            return []  # no cluster, no groups
        return sorted(name for name in names if name.startswith(prefix) and self.owned(self._live(name)))

    def _cluster_exists(self):
        try:
            self.eks.describe_cluster(name=self.cluster_name, aws_retry=True)
        except is_boto3_error_code("ResourceNotFoundException"):
            return False
        return True

    def _not_owned(self, name, path):
        return AWSResourceError(path, "the node group %s of cluster %s exists and is not owned by the %s component of "
                                      "environment %s (no mlops.platform ownership tags); it is left alone: remove "
                                      "it or choose another name" % (name, self.cluster_name, self.component,
                                                                     self.environment))

    # -- views ---------------------------------------------------------------------------

    def view(self, group):
        """The diffable view of a live group: what this helper manages."""
        scaling = group.get("scalingConfig") or {}
        update_config = group.get("updateConfig")
        tags = group.get("tags") or {}
        disk_size = group.get("diskSize")
        return {
            "name": group["nodegroupName"],
            "arn": group.get("nodegroupArn"),
            "version": group.get("version"),
            "instance_types": list(group.get("instanceTypes") or []) or None,
            "ami_type": group.get("amiType"),
            "capacity_type": group.get("capacityType"),
            "disk_size_gib": int(disk_size) if disk_size not in (None, "") else None,
            "min_size": scaling.get("minSize"),
            "max_size": scaling.get("maxSize"),
            "desired_size": scaling.get("desiredSize"),
            "labels": dict(group.get("labels") or {}),
            "taints": _sorted_taints(group.get("taints")),
            # None: the endpoint did not say (see the module docstring).
            "max_unavailable_percentage": update_config.get("maxUnavailablePercentage") if update_config else None,
            "node_role_arn": group.get("nodeRole"),
            "subnet_ids": sorted(group.get("subnets") or []),
            "tags": {key: tags.get(key) for key in sorted(self.tags)},
        }

    def planned_view(self, name, spec):
        """The view of a group this run creates; what AWS assigns is (known after apply)."""
        return {
            "name": name,
            "arn": UNKNOWN,
            "version": spec["kubernetes_version"] or UNKNOWN,
            "instance_types": list(spec["instance_types"]),
            "ami_type": spec["ami_type"],
            "capacity_type": spec["capacity_type"],
            "disk_size_gib": spec["disk_size_gib"],
            "min_size": spec["min_size"],
            "max_size": spec["max_size"],
            "desired_size": spec["desired_size"],
            "labels": dict(spec["labels"]),
            "taints": _sorted_taints(spec["taints"]),
            "max_unavailable_percentage": spec["max_unavailable_percentage"],
            "node_role_arn": spec["node_role_arn"],
            "subnet_ids": sorted(spec["subnet_ids"]),
            "tags": dict(sorted(self.tags.items())),
        }

    def output(self, name):
        """The group's outputs: its view plus its status; None when absent."""
        group = self.live.get(name)
        if group is None:
            if name not in self.planned:
                return None
            return dict(self.planned[name], status=UNKNOWN)
        result = self.view(group)
        result["status"] = group.get("status")
        return result

    # -- converging ----------------------------------------------------------------------

    def ensure(self, name, spec, path):
        """Create ``name`` or bring it to ``spec``; return ``(changed, before, after)``.

        ``before`` is None for a group that does not exist. Raises :class:`AWSResourceError`
        (with ``path``) for a group that is not this component's, one in a failed or
        deleting state, and for differences EKS cannot make in place, before any write.
        """
        self.paths[name] = path
        group = self._live(name)
        if group is None:
            return self._create(name, spec, path)
        if not self.owned(group):
            raise self._not_owned(name, path)
        if group.get("status") in BUSY_STATUSES and not self.check_mode and any(self._plan(group, spec, path)[:2]):
            # EKS takes one change at a time: let the current one (an update from another
            # run, a creation) finish, then compare again.
            self._wait_active(name, DEFAULT_WAIT_TIMEOUT)
            group = self.live[name] = self._describe(name)
            if group is None:
                return self._create(name, spec, path)
        return self._update(name, group, spec, path, False)

    def _create(self, name, spec, path):
        after = self.planned[name] = self.planned_view(name, spec)
        if self.check_mode:
            return True, None, after
        request = dict(
            clusterName=self.cluster_name,
            nodegroupName=name,
            scalingConfig={"minSize": spec["min_size"], "maxSize": spec["max_size"],
                           "desiredSize": spec["desired_size"]},
            diskSize=spec["disk_size_gib"],
            subnets=list(spec["subnet_ids"]),
            instanceTypes=list(spec["instance_types"]),
            amiType=spec["ami_type"],
            capacityType=spec["capacity_type"],
            nodeRole=spec["node_role_arn"],
            updateConfig={"maxUnavailablePercentage": spec["max_unavailable_percentage"]},
            tags=dict(self.tags),
            # The same token on every attempt: EKS answers a repeat with the first result.
            clientRequestToken=client_token(),
        )
        if spec["labels"]:
            request["labels"] = dict(spec["labels"])
        if spec["taints"]:
            request["taints"] = [eks_taint(taint) for taint in spec["taints"]]
        if spec["kubernetes_version"]:
            request["version"] = spec["kubernetes_version"]
        seen = {}

        def find():
            group = seen["group"] = self._describe(name)
            return group if self.owned(group) else None

        def foreign():
            if seen.get("group") is not None:
                return self._not_owned(name, path)
            return AWSResourceError(path, "EKS refused to create the node group %s of cluster %s as in use, yet no "
                                          "such group can be read; run again" % (name, self.cluster_name))

        response, found = create_once(lambda: self.eks_once.create_nodegroup(**request)["nodegroup"], find,
                                      exists_codes=("ResourceInUseException",), foreign=foreign)
        self.touched.add(name)
        del self.planned[name]
        if found is not None:
            # Made by this create whose answer was lost, or by a run interrupted before:
            # from here it is an existing group, kept in shape like any other.
            self.live[name] = found
            return True, None, self._update(name, found, spec, path, True)[2]
        self.live[name] = response
        return True, None, self.view(response)

    def _plan(self, group, spec, path):
        """``(config_update, version, tags, after)`` for a live group; raises for the impossible."""
        before = self.view(group)
        after = dict(before, labels=dict(before["labels"]), tags=dict(before["tags"]))
        name = before["name"]

        refused = []
        for spec_key, view_key, what in IMMUTABLE:
            wanted, current = spec[spec_key], before[view_key]
            if current is None or is_unknown(wanted):
                continue  # not reported (a launch template), or not known before apply
            if spec_key == "subnet_ids":
                wanted = sorted(wanted)
            if wanted != current:
                refused.append((OPTION_PATHS.get(spec_key, "%s.%s" % (path, spec_key)), what, current, wanted))
        if refused:
            changes = "; ".join("%s from %s to %s" % (what, current, wanted)
                                for unused_path, what, current, wanted in refused)
            raise AWSResourceError(refused[0][0], "EKS cannot change the %s of the node group %s in place (%s); the "
                                                  "group must be replaced under a new name: add it under a new key, "
                                                  "move the workloads, then remove this one. Nothing was changed"
                                   % (", ".join(refusal[1] for refusal in refused), name, changes))
        status = group.get("status")
        if status in FAILED_STATUSES or status == "DELETING":
            issues = health_issues(group)
            raise AWSResourceError(path, "the node group %s is %s%s; it cannot be changed: delete it (or remove it "
                                         "from the configuration) and run again"
                                   % (name, status, " (%s)" % "; ".join(issues) if issues else ""))

        update = {}
        labels = spec["labels"]
        add_labels = {key: value for key, value in labels.items() if before["labels"].get(key) != value}
        remove_labels = sorted(key for key in before["labels"] if key not in labels)
        if add_labels or remove_labels:
            update["labels"] = {}
            if add_labels:
                update["labels"]["addOrUpdateLabels"] = add_labels
            if remove_labels:
                update["labels"]["removeLabels"] = remove_labels
            after["labels"] = dict(labels)

        wanted_taints = dict((_taint_key(taint), taint) for taint in _sorted_taints(spec["taints"]))
        live_taints = dict((_taint_key(taint), taint) for taint in before["taints"])
        add_taints = [taint for key, taint in sorted(wanted_taints.items()) if live_taints.get(key) != taint]
        remove_taints = [taint for key, taint in sorted(live_taints.items()) if key not in wanted_taints]
        if add_taints or remove_taints:
            update["taints"] = {}
            if add_taints:
                update["taints"]["addOrUpdateTaints"] = add_taints
            if remove_taints:
                update["taints"]["removeTaints"] = remove_taints
            after["taints"] = sorted(wanted_taints.values(), key=_taint_key)

        scaling = {}
        if before["min_size"] != spec["min_size"] or before["max_size"] != spec["max_size"]:
            scaling.update(minSize=spec["min_size"], maxSize=spec["max_size"])
        desired = desired_size(spec, before["desired_size"])
        if desired != before["desired_size"]:
            # Sent only when it must change: a desired size an autoscaler set is kept.
            scaling.update(minSize=spec["min_size"], maxSize=spec["max_size"], desiredSize=desired)
        if scaling:
            update["scalingConfig"] = scaling
            after.update(min_size=spec["min_size"], max_size=spec["max_size"], desired_size=desired)

        # Only a value the group reports is compared: a missing updateConfig is unknown, and
        # sending it on every run would report a change forever (see the module docstring).
        live_percentage = before["max_unavailable_percentage"]
        if group.get("updateConfig") and live_percentage != spec["max_unavailable_percentage"]:
            update["updateConfig"] = {"maxUnavailablePercentage": spec["max_unavailable_percentage"]}
            after["max_unavailable_percentage"] = spec["max_unavailable_percentage"]

        version = self._version_change(name, before["version"], spec["kubernetes_version"])
        if version:
            after["version"] = version

        tags = compare_aws_tags(group.get("tags") or {}, self.tags, purge_tags=False)[0]
        after["tags"].update((key, value) for key, value in tags.items() if key in after["tags"])
        return update, version, tags, after

    def _version_change(self, name, live, wanted):
        """The version to upgrade ``name`` to, or None (with a warning when it is not done)."""
        live_minor, wanted_minor = minor_version(live), minor_version(wanted)
        if live_minor is None or wanted_minor is None or live_minor == wanted_minor:
            return None
        if live_minor > wanted_minor:
            self._warn("the node group %s runs Kubernetes %s, newer than %s; EKS cannot downgrade a node group, "
                       "so it is left as it is" % (name, live, wanted))
            return None
        if (live_minor[0], live_minor[1] + 1) != wanted_minor:
            self._warn("the node group %s runs Kubernetes %s, more than one minor below %s; node groups are "
                       "upgraded one minor at a time, so it is left as it is (upgrade it step by step)"
                       % (name, live, wanted))
            return None
        if not self.capabilities.supports("update_cluster_version"):
            if not self._warned_updates:
                self._warned_updates = True
                self._warn("the EKS endpoint does not serve updates (ListUpdates); node group version "
                           "upgrades are skipped (%s stays at %s, not %s)" % (name, live, wanted))
            return None
        return "%d.%d" % wanted_minor

    def _update(self, name, group, spec, path, created):
        update, version, tags, after = self._plan(group, spec, path)
        before = None if created else self.view(group)
        changed = bool(update or version or tags)
        if changed and not self.check_mode:
            if update:
                self.eks.update_nodegroup_config(clusterName=self.cluster_name, nodegroupName=name,
                                                 clientRequestToken=client_token(), aws_retry=True, **update)
            if version:
                if update:
                    # EKS refuses a second update while the first is in progress.
                    self._wait_active(name, DEFAULT_WAIT_TIMEOUT)
                self.eks.update_nodegroup_version(clusterName=self.cluster_name, nodegroupName=name, version=version,
                                                  clientRequestToken=client_token(), aws_retry=True)
            if tags:
                self.eks.tag_resource(resourceArn=group["nodegroupArn"], tags=tags, aws_retry=True)
            self.touched.add(name)
            self.live[name] = self._applied(group, after, "UPDATING" if update or version else group.get("status"))
        return changed or created, before, after

    @staticmethod
    def _applied(group, after, status):
        """The live group as it is once the updates just sent apply (no read needed)."""
        result = dict(group, status=status)
        result["labels"] = dict(after["labels"])
        result["taints"] = list(after["taints"])
        result["scalingConfig"] = {"minSize": after["min_size"], "maxSize": after["max_size"],
                                   "desiredSize": after["desired_size"]}
        if after["max_unavailable_percentage"] is not None:
            result["updateConfig"] = {"maxUnavailablePercentage": after["max_unavailable_percentage"]}
        result["version"] = after["version"]
        result["tags"] = dict(group.get("tags") or {}, **after["tags"])
        return result

    # -- removing ------------------------------------------------------------------------

    def remove(self, name):
        """Delete ``name`` if this component owns it; return ``(changed, before, after)``.

        A group that is absent, already being deleted, or not this component's is left alone.
        """
        group = self._live(name)
        if group is None or not self.owned(group) or group.get("status") == "DELETING":
            return False, None, None
        before = self.view(group)
        if not self.check_mode:
            try:
                self.eks.delete_nodegroup(clusterName=self.cluster_name, nodegroupName=name, aws_retry=True)
            except is_boto3_error_code("ResourceNotFoundException"):
                self.live[name] = None
                return False, None, None
        self.removed.add(name)
        self.live[name] = None
        return True, before, None

    # -- waiting -------------------------------------------------------------------------

    def _waiter(self, waiter_name, name, timeout):
        delay = WAIT_DELAY
        wait_until(self.raw.get_waiter(waiter_name), clusterName=self.cluster_name, nodegroupName=name,
                   WaiterConfig={"Delay": delay, "MaxAttempts": max(1, int(timeout // max(delay, 1)))})

    def _wait_active(self, name, timeout):
        try:
            self._waiter("nodegroup_active", name, timeout)
        except botocore.exceptions.WaiterError as exc:
            group = (exc.last_response or {}).get("nodegroup")
            issues = health_issues(group)
            status = (group or {}).get("status") or "unknown"
            raise AWSResourceError(self.paths.get(name), "the node group %s of cluster %s did not become ACTIVE within "
                                                         "%d s: it is %s; health issues: %s"
                                   % (name, self.cluster_name, timeout, status, "; ".join(issues) or "none reported"))

    def wait(self, names, timeout=DEFAULT_WAIT_TIMEOUT):
        """Wait until each group of ``names`` that this run created or updated, or that is not
        ACTIVE, is ACTIVE; then read it again. Nothing to do in check mode."""
        if self.check_mode:
            return
        for name in names:
            group = self.live.get(name)
            if group is None or (name not in self.touched and group.get("status") == "ACTIVE"):
                continue
            self._wait_active(name, timeout)
            self.live[name] = self._describe(name)

    def wait_deleted(self, names, timeout=DEFAULT_WAIT_TIMEOUT):
        """Wait until each group of ``names`` that this run deleted is gone."""
        if self.check_mode:
            return
        for name in names:
            if name not in self.removed:
                continue
            try:
                self._waiter("nodegroup_deleted", name, timeout)
            except botocore.exceptions.WaiterError as exc:
                group = (exc.last_response or {}).get("nodegroup")
                issues = health_issues(group)
                raise AWSResourceError(None, "the node group %s of cluster %s was not deleted within %d s: it is %s; "
                                             "health issues: %s"
                                       % (name, self.cluster_name, timeout, (group or {}).get("status") or "unknown",
                                          "; ".join(issues) or "none reported"))
