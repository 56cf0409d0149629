# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Security groups, the one way of the collection's modules (network, database, EKS next).

A rule is a tuple ``(protocol, from_port, to_port, kind, source)``; ``kind`` is one of
``cidr``, ``cidr6``, ``prefix_list``, ``group``; ports are None for protocol ``-1``. Live
rules are read into that form, diffed as sets and written back as IpPermissions.

:class:`ComponentSecurityGroups` creates a group at most once (``aws.create_once``, tagged
in the CreateSecurityGroup call), finds it again by its name (unique in a VPC), and changes
rules only through ``aws.write_once``, so that a lost answer followed by "already there" /
"not there" counts as done. One ownership rule: a group without the component's ownership
tags is never changed or adopted; :meth:`ComponentSecurityGroups.not_owned` says what was
found and what would let the module take it over.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_specifications
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags

from ansible_collections.mlops.platform.plugins.module_utils.aws import AWSResourceError, create_once, paginate
from ansible_collections.mlops.platform.plugins.module_utils.aws import write_once
from ansible_collections.mlops.platform.plugins.module_utils.component import COMPONENT_TAG, ENVIRONMENT_TAG
from ansible_collections.mlops.platform.plugins.module_utils.component import MANAGED_TAG, is_owned, is_unknown

_SOURCE_KEYS = {
    "cidr": ("IpRanges", "CidrIp"),
    "cidr6": ("Ipv6Ranges", "CidrIpv6"),
    "prefix_list": ("PrefixListIds", "PrefixListId"),
    "group": ("UserIdGroupPairs", "GroupId"),
}

# EC2 gives every new VPC security group this egress rule (allow all traffic out).
DEFAULT_EGRESS = [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]

# A rule write whose answer was lost and that is sent again meets these once the first took effect.
ALREADY_THERE = ("InvalidPermission.Duplicate",)
NOT_THERE = ("InvalidPermission.NotFound",)
# Right after CreateSecurityGroup EC2 may not know the new group for a moment.
NOT_KNOWN_YET = ("InvalidGroup.NotFound",)
# A group that is already gone (a retried DeleteSecurityGroup whose first answer was lost).
GONE = ("InvalidGroup.NotFound",)

_DIRECTIONS = {
    "ingress": ("IpPermissions", "authorize_security_group_ingress", "revoke_security_group_ingress"),
    "egress": ("IpPermissionsEgress", "authorize_security_group_egress", "revoke_security_group_egress"),
}


def rules_of(permissions, kinds=None):
    """The rule tuples of an EC2 IpPermissions (or IpPermissionsEgress) list; only the
    source ``kinds`` given (all without)."""
    rules = set()
    for permission in permissions or []:
        head = (permission["IpProtocol"], permission.get("FromPort"), permission.get("ToPort"))
        for kind, (list_key, id_key) in _SOURCE_KEYS.items():
            if kinds is None or kind in kinds:
                rules.update(head + (kind, entry[id_key]) for entry in permission.get(list_key) or [])
    return rules


def rule_sort_key(rule):
    return tuple("" if part is None else str(part) for part in rule)


def permissions_of(rules, description=None):
    """EC2 IpPermissions for a set of rule tuples, one permission per protocol and port range."""
    grouped = {}
    for protocol, from_port, to_port, kind, source in sorted(rules, key=rule_sort_key):
        permission = grouped.setdefault((protocol, from_port, to_port), {"IpProtocol": protocol})
        if from_port is not None:
            permission["FromPort"] = from_port
            permission["ToPort"] = to_port
        list_key, id_key = _SOURCE_KEYS[kind]
        entry = {id_key: source}
        if description:
            entry["Description"] = description
        permission.setdefault(list_key, []).append(entry)
    return [grouped[key] for key in sorted(grouped, key=rule_sort_key)]


def rule_changes(permissions, wanted, kinds=None):
    """``(to authorize, to revoke)``, as rule sets, that make the live ``permissions`` exactly
    ``wanted``; with ``kinds``, rules of other source kinds are someone else's and kept."""
    live = rules_of(permissions, kinds)
    wanted = set(wanted)
    return wanted - live, live - wanted


def describe_rules(rules, direction="from"):
    """Rules as short strings for a diff: ``tcp/5432 from 10.0.1.0/24`` (``to`` for egress)."""
    result = []
    for protocol, from_port, to_port, unused_kind, source in sorted(rules, key=rule_sort_key):
        if protocol == "-1":
            what = "all traffic"
        elif from_port == to_port:
            what = "%s/%s" % (protocol, from_port)
        else:
            what = "%s/%s-%s" % (protocol, from_port, to_port)
        result.append("%s %s %s" % (what, direction, source))
    return result


class ComponentSecurityGroups:
    """The security groups of one component of one environment, on the module's EC2 clients.

    ``ec2`` is the module's client with the access layer's retries (``aws.AWS_RETRY``);
    writes in check mode are not made but reported as changes. ``path`` is the config path
    that names the groups (``name_prefix``), used in every refusal.
    """

    def __init__(self, module, ec2, environment, component, path="name_prefix"):
        self.module = module
        self.ec2 = ec2
        self.environment = environment
        self.component = component
        self.path = path
        self.check_mode = module.check_mode
        # Ids of the groups this run created: EC2 may not know them yet (see NOT_KNOWN_YET).
        self.created = set()

    def owned(self, group):
        return is_owned(boto3_tag_list_to_ansible_dict(group.get("Tags") or []), self.environment, self.component)

    def not_owned(self, group):
        """The refusal for a group under our name that this component does not own."""
        tags = boto3_tag_list_to_ansible_dict(group.get("Tags") or [])
        found = ", ".join("%s=%s" % item for item in sorted(tags.items())) or "none"
        return AWSResourceError(self.path, (
            "names the security group %s (%s), which exists but is not owned by the %s of environment %s (no "
            "mlops.platform ownership tags; its tags: %s); it is left alone: remove it, choose another %s, or tag it "
            "%s=true, %s=%s, %s=%s to let this module take it over")
            % (group["GroupName"], group["GroupId"], self.component, self.environment, found, self.path,
               MANAGED_TAG, ENVIRONMENT_TAG, self.environment, COMPONENT_TAG, self.component))

    def find(self, vpc_id, name):
        """The group ``name`` of the VPC (a name is unique in a VPC), owned or not, or None."""
        groups = paginate(self.ec2, "describe_security_groups", "SecurityGroups", Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": [name]}])
        return groups[0] if groups else None

    def create(self, vpc_id, name, description, tags, settling=()):
        """Create the group at most once, tagged ``tags`` in the same call; its describe item
        (found again after a lost answer or an interrupted run), or a new group's own view
        (no ingress, EC2's default egress). Never in check mode. A group of that name that
        this component does not own is refused (:meth:`not_owned`). ``settling``: refusals to
        wait out (the VPC was created moments before)."""
        found_foreign = []

        def find_owned():
            group = self.find(vpc_id, name)
            if group is not None and not self.owned(group):
                found_foreign.append(group)
                return None
            return group

        response, found = create_once(
            lambda: self.module.once_client("ec2").create_security_group(
                GroupName=name, VpcId=vpc_id, Description=description,
                TagSpecifications=boto3_tag_specifications(tags, ["security-group"])),
            find_owned, exists_codes=("InvalidGroup.Duplicate",), settling_codes=settling,
            foreign=lambda: self.not_owned(found_foreign[-1]) if found_foreign else AWSResourceError(
                self.path, "names the security group %s, which exists in %s but could not be read" % (name, vpc_id)))
        if found is not None:
            return found
        self.created.add(response["GroupId"])
        return {"GroupId": response["GroupId"], "GroupName": name, "VpcId": vpc_id,
                "Tags": ansible_dict_to_boto3_tag_list(tags), "IpPermissions": [],
                "IpPermissionsEgress": [dict(permission) for permission in DEFAULT_EGRESS]}

    def converge_rules(self, group, direction, wanted, kinds=None, description=None):
        """Make the group's ``direction`` (``ingress`` / ``egress``) rules exactly ``wanted``
        (of the source ``kinds`` given); True when something changed (or would, in check
        mode). The new rules are authorized before the unwanted ones are revoked, so that
        allowed traffic is never cut off. ``group`` is updated to the result."""
        permissions_key, authorize_operation, revoke_operation = _DIRECTIONS[direction]
        authorize, revoke = rule_changes(group.get(permissions_key), wanted, kinds)
        group_id = group["GroupId"]
        if (authorize or revoke) and not self.check_mode and not is_unknown(group_id):
            settling = NOT_KNOWN_YET if group_id in self.created else ()
            ec2 = self.module.once_client("ec2")
            if authorize:
                write_once(lambda: getattr(ec2, authorize_operation)(
                    GroupId=group_id, IpPermissions=permissions_of(authorize, description)), ALREADY_THERE, settling)
            if revoke:
                write_once(lambda: getattr(ec2, revoke_operation)(
                    GroupId=group_id, IpPermissions=permissions_of(revoke)), NOT_THERE, settling)
        kept = rules_of(group.get(permissions_key)) - rules_of(group.get(permissions_key), kinds) \
            if kinds is not None else set()
        group[permissions_key] = permissions_of(kept | set(wanted), description)
        return bool(authorize or revoke)

    def tags_to_set(self, group, wanted_tags):
        """Tags to add or correct on the group (tags set by other tools are kept)."""
        return compare_aws_tags(boto3_tag_list_to_ansible_dict(group.get("Tags") or []), wanted_tags,
                                purge_tags=False)[0]

    def delete(self, group_id, settling=()):
        """Delete a group of this component; one already gone counts as done. ``settling``:
        refusals to wait out (``DependencyViolation`` right after its users were deleted)."""
        if self.check_mode:
            return
        write_once(lambda: self.module.once_client("ec2").delete_security_group(GroupId=group_id), GONE, settling)
