# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The organization's own resources in Organizations, read and converged from the management account.

``Organization(module, config, retry)`` is the live organization as this run reads and converges
it, the one picture every part below updates and the pure views of ``organization.py``
(``state``, ``outputs``) show: ``organization`` (DescribeOrganization; None before it exists),
``root_id``, ``ous`` (path -> id), ``ou_tags``, ``parents`` (account id -> path), ``accounts``
(lower e-mail -> ListAccounts entry, with ``Tags``), ``new_accounts``, ``policies`` and ``tags``
(the organization's own: ``config.tags`` plus ``mlops.platform/managed=true``). It owns the
organization itself and its root (``read``, ``ensure_organization``, ``ensure_scp_type_enabled``)
and the tags of every resource below (``resource_tags``, ``converge_tags``: tags are read and
added there only; tags set by others are kept).

The resources, each a class working on that ``Organization`` and owning its API calls:

* ``OrganizationalUnits``: the OU tree (read with the parent of every account), created parents
  first; a repeated name (a CreateOrganizationalUnit whose answer was lost) is the OU at that path.
* ``MemberAccounts``: created (every missing one started before any is waited for), creations in
  flight adopted, never started twice; waited for until their access role can be assumed; placed
  in their OU and tagged.
* ``ServiceControlPolicies``: the SCPs this collection owns (named ``mlops-*`` and tagged), checked
  against AWS's limits before any write, created, updated, attached, detached and deleted.

Every ``ensure*`` returns its own ``changed``; check mode reads and predicts (``UNKNOWN`` for what
AWS assigns). Creates go through ``aws.create_once`` on ``module.once_client``. A problem is an
``AWSResourceError`` with the config path (``config_error``); other errors are botocore's, for the
module's ``fail_json_aws``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import functools
import json

try:
    import botocore
    from botocore import waiter as core_waiter
except ImportError:
    pass  # AnsibleAWSModule reports the missing SDK

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.policy import compare_policies
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags

from ansible_collections.mlops.platform.plugins.module_utils import organization as org
from ansible_collections.mlops.platform.plugins.module_utils.aws import AWSResourceError, create_once, paginate
from ansible_collections.mlops.platform.plugins.module_utils.aws import partition_of
from ansible_collections.mlops.platform.plugins.module_utils.component import MANAGED_TAG, UNKNOWN

SCP = "SERVICE_CONTROL_POLICY"


def config_error(path, message):
    """The collection's AWSResourceError, for a path under the organization's ``config``."""
    return AWSResourceError("config.%s" % path if path else "config", message)


class Organization:
    """The live organization, read once and converged toward the desired state."""

    def __init__(self, module, config, retry):
        self.module = module
        self.config = config
        self.check_mode = module.check_mode
        self.retry = retry
        self.client = module.client("organizations", retry_decorator=retry)
        self.paginate = functools.partial(paginate, self.client, retry=retry)
        self.once = module.once_client("organizations")
        # The organization's own tags, never the environment's: every environment's run
        # converges the same organization, and must want the same tags on it.
        self.tags = dict(config["tags"])
        self.tags[MANAGED_TAG] = "true"
        self.organization = None
        self.root_id = None
        self.ous = {}           # path -> id
        self.new_accounts = set()  # names of the accounts this run created (or planned), or adopted in flight
        self.ou_tags = {}       # path -> tags (dict)
        self.parents = {}       # account id -> path of its parent (Root or an OU path)
        self.accounts = {}      # email (lower) -> account dict from ListAccounts
        self.policies = {}      # managed policy name -> {id, document, targets: set of target ids}
        self.foreign_policies = {}  # name -> id of mlops-* SCPs without the managed tag
        self.root_policy_types = {}

    def find_organization(self):
        try:
            return self.client.describe_organization(aws_retry=True)["Organization"]
        except is_boto3_error_code("AWSOrganizationsNotInUseException"):
            return None

    def read(self):
        """The organization and its root; False when there is no organization yet."""
        self.organization = self.find_organization()
        if self.organization is None:
            return False
        self.read_root()
        return True

    def read_root(self):
        root = self.paginate("list_roots", "Roots")[0]
        self.root_id = root["Id"]
        self.root_policy_types = {policy_type["Type"]: policy_type["Status"]
                                  for policy_type in root.get("PolicyTypes", [])}

    def resource_tags(self, resource_id):
        return boto3_tag_list_to_ansible_dict(self.paginate("list_tags_for_resource", "Tags", ResourceId=resource_id))

    def converge_tags(self, resource_id, current, wanted):
        """Add or correct the ``wanted`` tags (tags set by others are kept); (changed, the tags after)."""
        missing, unused = compare_aws_tags(current, wanted, purge_tags=False)
        if missing and not self.check_mode and resource_id != UNKNOWN:
            self.client.tag_resource(ResourceId=resource_id, Tags=ansible_dict_to_boto3_tag_list(missing),
                                     aws_retry=True)
        return bool(missing), dict(current, **wanted)

    def target_id(self, path):
        """The id of Root or an OU path; any other target (an account id) is its own id."""
        return self.root_id if path == org.ROOT else self.ous.get(path, path)

    def partition(self):
        """The partition of the organization (arn:<partition>:organizations::...); member roles share it."""
        return partition_of(self.organization.get("Arn", "arn:aws:"))

    def ensure_organization(self):
        if self.organization is not None:
            if self.organization.get("FeatureSet") != "ALL":
                raise config_error("", "the organization %s has only consolidated billing; enable all features "
                                   "in the console first (it needs every member's consent)"
                                   % self.organization["Id"])
            return False
        if self.check_mode:
            self.organization = {"Id": UNKNOWN, "MasterAccountId": UNKNOWN}
            self.root_id = UNKNOWN
            self.root_policy_types = {}
            return True
        response, found = create_once(
            lambda: self.once.create_organization(FeatureSet="ALL")["Organization"],
            self.find_organization, exists_codes=("AlreadyInOrganizationException",))
        self.organization = response or found
        self.read_root()
        return True

    def ensure_scp_type_enabled(self):
        if self.root_policy_types.get(SCP) == "ENABLED":
            return False
        if not self.check_mode:
            self.client.enable_policy_type(RootId=self.root_id, PolicyType=SCP, aws_retry=True)
        self.root_policy_types[SCP] = "ENABLED"
        return True

    def state(self):
        return org.state(self, self.config)

    def outputs(self):
        return org.outputs(self, self.config, self.module.params["access_role_name"], self.partition())


class _Part:
    """One kind of the organization's resources, converged on the live ``Organization``."""

    def __init__(self, live):
        self.live = live
        self.config = live.config
        self.check_mode = live.check_mode
        self.client = live.client
        self.paginate = live.paginate


class OrganizationalUnits(_Part):
    """The OU tree: its paths, the tags of the configured OUs and the parent of every account."""

    def read(self):
        live = self.live
        pending = [(org.ROOT, live.root_id)]
        while pending:
            path, parent_id = pending.pop()
            for account in self.paginate("list_accounts_for_parent", "Accounts", ParentId=parent_id):
                live.parents[account["Id"]] = path
            for unit in self.paginate("list_organizational_units_for_parent", "OrganizationalUnits",
                                      ParentId=parent_id):
                unit_path = unit["Name"] if path == org.ROOT else "%s/%s" % (path, unit["Name"])
                live.ous[unit_path] = unit["Id"]
                if unit_path in self.config["organizational_units"]:
                    live.ou_tags[unit_path] = live.resource_tags(unit["Id"])
                pending.append((unit_path, unit["Id"]))

    def find(self, parent_id, name):
        return next((unit for unit in self.paginate("list_organizational_units_for_parent", "OrganizationalUnits",
                                                    ParentId=parent_id) if unit["Name"] == name), None)

    def ensure(self):
        live = self.live
        changed = False
        for path in org.ou_paths_in_creation_order(self.config["organizational_units"]):
            if path in live.ous:
                tags_changed, live.ou_tags[path] = live.converge_tags(live.ous[path], live.ou_tags.get(path, {}),
                                                                      live.tags)
                changed |= tags_changed
                continue
            live.ou_tags[path] = dict(live.tags)
            parent, name = org.split_path(path)
            changed = True
            if self.check_mode:
                live.ous[path] = UNKNOWN
                continue
            parent_id = live.target_id(parent)
            # An OU is known by its path, as in read(): one already at the path (made by this
            # call whose answer was lost, or since the read) is the one the path names.
            response, found = create_once(
                lambda: live.once.create_organizational_unit(
                    ParentId=parent_id, Name=name, Tags=ansible_dict_to_boto3_tag_list(live.tags))["OrganizationalUnit"],
                lambda: self.find(parent_id, name),
                exists_codes=("DuplicateOrganizationalUnitException",))
            live.ous[path] = (response or found)["Id"]
        return changed


class MemberAccounts(_Part):
    """The member accounts of ``config.accounts``: created, waited for, placed and tagged."""

    def read(self):
        live = self.live
        for account in self.paginate("list_accounts", "Accounts"):
            live.accounts[account["Email"].lower()] = account
        for account in self.config["accounts"].values():
            found = live.accounts.get(account["email"].lower())
            if found is not None:
                found["Tags"] = live.resource_tags(found["Id"])

    def find_creation(self, name):
        """A creation of the account ``name`` under way or done (a CreateAccount whose answer was lost)."""
        return next((status for status in self.paginate("list_create_account_status", "CreateAccountStatuses",
                                                        States=["IN_PROGRESS", "SUCCEEDED"])
                     if status["AccountName"] == name), None)

    def ensure(self):
        """Create missing accounts (all started before any is waited for), then place and tag them."""
        live = self.live
        in_flight = {}
        started = {}
        missing = [name for name, account in self.config["accounts"].items()
                   if account["email"].lower() not in live.accounts]
        if missing and not self.check_mode and live.organization.get("Id") != UNKNOWN:
            for status in self.paginate("list_create_account_status", "CreateAccountStatuses",
                                        States=["IN_PROGRESS"]):
                in_flight[status["AccountName"]] = status["Id"]
        for name in missing:
            account = self.config["accounts"][name]
            live.new_accounts.add(name)
            if self.check_mode:
                live.accounts[account["email"].lower()] = {"Id": UNKNOWN, "Email": account["email"]}
                continue
            if name in in_flight:
                started[name] = in_flight[name]  # an interrupted run started it: adopt, never create twice
                continue
            response, found = create_once(
                lambda: live.once.create_account(
                    Email=account["email"], AccountName=name, RoleName=live.module.params["access_role_name"],
                    IamUserAccessToBilling="DENY",
                    Tags=ansible_dict_to_boto3_tag_list(org.account_tags(live.tags, account)))["CreateAccountStatus"],
                lambda: self.find_creation(name))
            started[name] = (response or found)["Id"]
            if found:
                in_flight[name] = found["Id"]  # checked against the e-mail like an adopted creation
        if started:
            self.wait_for_creations(started, adopted=[name for name in started if name in in_flight])
            for name in started:
                self.wait_for_access(name, live.accounts[self.config["accounts"][name]["email"].lower()]["Id"])
        changed = bool(missing)
        for name, account in self.config["accounts"].items():
            found = live.accounts[account["email"].lower()]
            changed |= self.place(name, found)
            changed |= self.tag(found, account)
        return changed

    def wait_for_creations(self, started, adopted=()):
        live = self.live
        model = core_waiter.WaiterModel(org.CREATE_ACCOUNT_WAITER)
        client = getattr(self.client, "client", self.client)  # the raw client under the retry wrapper
        waiter = core_waiter.create_waiter_with_client("AccountCreated", model, client)
        timeout = live.module.params["account_creation_timeout"]
        delay = org.CREATE_ACCOUNT_WAITER["waiters"]["AccountCreated"]["delay"]
        for name, request_id in started.items():
            try:
                waiter.wait(CreateAccountRequestId=request_id,
                            WaiterConfig={"Delay": delay, "MaxAttempts": max(1, timeout // delay)})
            except botocore.exceptions.WaiterError as exc:
                raise config_error("accounts.%s" % name, "account creation did not finish in %d s (%s)"
                                   % (timeout, exc))
            status = self.client.describe_create_account_status(
                CreateAccountRequestId=request_id, aws_retry=True)["CreateAccountStatus"]
            if status["State"] == "FAILED":
                raise config_error("accounts.%s.email" % name, "account creation failed: %s"
                                   % status.get("FailureReason", "no reason given"))
            email = self.config["accounts"][name]["email"]
            if name in adopted:
                # Adopted by name: make sure the creation was for this account's e-mail.
                live_email = self.client.describe_account(AccountId=status["AccountId"], aws_retry=True)["Account"]["Email"]
                if live_email.lower() != email.lower():
                    raise config_error("accounts.%s.email" % name, "a creation of an account named %s, found in "
                                       "progress, made account %s for %s, not %s; give this account another name "
                                       "or fix its e-mail" % (name, status["AccountId"], live_email, email))
            live.accounts[email.lower()] = {"Id": status["AccountId"], "Email": email, "Name": name}
            live.parents[status["AccountId"]] = org.ROOT  # CreateAccount places new accounts in the root

    def wait_for_access(self, name, account_id):
        """Wait until the access role of a new account can be assumed (see organization.ROLE_ASSUMABLE_WAITER).
        The temporary credentials it obtains are dropped at once."""
        module = self.live.module
        role_arn = org.account_role_arn(account_id, module.params["access_role_name"], self.live.partition())
        config = org.ROLE_ASSUMABLE_WAITER["waiters"]["RoleAssumable"]
        model = core_waiter.WaiterModel(org.ROLE_ASSUMABLE_WAITER)
        waiter = core_waiter.create_waiter_with_client("RoleAssumable", model, module.client("sts"))
        try:
            waiter.wait(RoleArn=role_arn, RoleSessionName=org.NEW_ACCOUNT_SESSION_NAME, DurationSeconds=900,
                        WaiterConfig={"Delay": config["delay"], "MaxAttempts": config["maxAttempts"]})
        except botocore.exceptions.WaiterError as exc:
            raise config_error("accounts.%s" % name, "the new account %s was created, but its role %s could not "
                               "be assumed within %d s (%s); re-run once it can"
                               % (account_id, role_arn, config["delay"] * config["maxAttempts"], exc))

    def place(self, name, found):
        live = self.live
        wanted = self.config["accounts"][name]["organizational_unit"]
        if found["Id"] == UNKNOWN:
            live.parents[found["Id"]] = wanted
            return False  # planned: CreateAccount counts as the change
        current = live.parents.get(found["Id"], org.ROOT)
        if current == wanted:
            return False
        if not self.check_mode:
            self.client.move_account(AccountId=found["Id"], SourceParentId=live.target_id(current),
                                     DestinationParentId=live.target_id(wanted), aws_retry=True)
        live.parents[found["Id"]] = wanted
        return True

    def tag(self, found, account):
        live = self.live
        wanted = org.account_tags(live.tags, account)
        if found["Id"] == UNKNOWN:  # planned: tagged in CreateAccount
            found["Tags"] = dict(wanted)
            return False
        if "Tags" not in found:  # created, or adopted in flight, by this run
            found["Tags"] = live.resource_tags(found["Id"])
        changed, found["Tags"] = live.converge_tags(found["Id"], found["Tags"], wanted)
        return changed


class ServiceControlPolicies(_Part):
    """The guardrail and custom SCPs this collection owns (named ``mlops-*``, tagged managed)."""

    def read(self):
        live = self.live
        for summary in self.paginate("list_policies", "Policies", Filter=SCP):
            if not org.named_like_ours(summary):
                continue
            tags = self.owned(summary)
            if tags is None:
                # Named like ours, but not made by this collection: never updated or deleted.
                live.foreign_policies[summary["Name"]] = summary["Id"]
                continue
            policy = self.client.describe_policy(PolicyId=summary["Id"], aws_retry=True)["Policy"]
            targets = self.paginate("list_targets_for_policy", "Targets", PolicyId=summary["Id"])
            live.policies[summary["Name"]] = {
                "id": summary["Id"],
                "description": summary.get("Description", ""),
                "document": json.loads(policy["Content"]),
                "targets": {org.ou_path_of(target["TargetId"], live.root_id, live.ous) for target in targets},
                "tags": tags,
            }

    def find(self, name):
        """Our SCP ``name`` (with the managed tag), or None."""
        for summary in self.paginate("list_policies", "Policies", Filter=SCP):
            if summary["Name"] == name:
                return summary if self.owned(summary) is not None else None
        return None

    def owned(self, summary):
        """The tags of the SCP ``summary`` when this collection owns it (named like ours, not
        AWS-managed, tagged ``MANAGED_TAG=true``), else None."""
        if not org.named_like_ours(summary):
            return None
        tags = self.live.resource_tags(summary["Id"])
        return tags if tags.get(MANAGED_TAG) == "true" else None

    def check_fit(self, desired):
        """Refuse, before any write, what AttachPolicy or CreatePolicy would refuse halfway:
        a policy name taken by an SCP this collection does not own, or a target whose SCPs
        attached by others (FullAWSAccess, Control Tower's, hand-made ones) leave no room
        for ours (AWS allows five per target)."""
        live = self.live
        for name, policy in sorted(desired.items()):
            if name in live.foreign_policies:
                raise config_error(policy["path"], "the SCP %s (%s) exists and was not made by this collection "
                                   "(no %s=true tag); rename or tag it" % (name, live.foreign_policies[name],
                                                                           MANAGED_TAG))
        if live.organization is None:
            return  # created by this run: nothing else is attached anywhere yet
        ours = {policy["id"] for policy in live.policies.values()}
        per_target = {}
        for name, policy in desired.items():
            for target in policy["targets"]:
                per_target.setdefault(target, []).append((name, policy["path"]))
        for target, wanted in sorted(per_target.items()):
            target_id = live.target_id(target)
            if target_id == UNKNOWN or (target != org.ROOT and target not in live.ous):
                continue  # created by this run: nothing else is attached yet
            others = sorted(attached["Name"] for attached in self.paginate(
                "list_policies_for_target", "Policies", TargetId=target_id, Filter=SCP)
                if attached["Id"] not in ours)
            if len(others) + len(wanted) > org.SCP_MAX_PER_TARGET:
                raise config_error(sorted(wanted)[0][1], "%s has %d SCP(s) attached by others (%s); with the %d "
                                   "of this configuration (%s) it would exceed AWS's limit of %d per target"
                                   % (target, len(others), ", ".join(others), len(wanted),
                                      ", ".join(sorted(name for name, unused in wanted)),
                                      org.SCP_MAX_PER_TARGET))

    def ensure(self, desired):
        live = self.live
        changed = False
        for name, policy in sorted(desired.items()):
            current = live.policies.get(name)
            content = org.minified(policy["document"])
            if current is None:
                changed = True
                new_id = UNKNOWN
                if not self.check_mode:
                    response, found = create_once(
                        lambda: live.once.create_policy(
                            Content=content, Description=policy["description"], Name=name, Type=SCP,
                            Tags=ansible_dict_to_boto3_tag_list(live.tags))["Policy"]["PolicySummary"],
                        lambda: self.find(name), exists_codes=("DuplicatePolicyException",),
                        foreign=lambda: config_error(policy["path"], "the SCP %s exists and was not made by "
                                                     "this collection (no %s=true tag); rename "
                                                     "or tag it" % (name, MANAGED_TAG)))
                    new_id = (response or found)["Id"]
                current = live.policies[name] = {"id": new_id, "description": policy["description"],
                                                 "document": policy["document"], "targets": set(),
                                                 "tags": dict(live.tags)}
            elif compare_policies(current["document"], policy["document"]) or \
                    current["description"] != policy["description"]:
                changed = True
                if not self.check_mode:
                    self.client.update_policy(PolicyId=current["id"], Content=content,
                                              Description=policy["description"], aws_retry=True)
                current["document"] = policy["document"]
                current["description"] = policy["description"]
            tags_changed, current["tags"] = live.converge_tags(current["id"], current["tags"], live.tags)
            changed |= tags_changed
            wanted = set(policy["targets"])
            # Detach before attaching, so a move between targets never exceeds five SCPs on one.
            for target in sorted(current["targets"] - wanted):
                changed = True
                if not self.check_mode:
                    self.client.detach_policy(PolicyId=current["id"], TargetId=live.target_id(target),
                                              aws_retry=True)
            for target in sorted(wanted - current["targets"]):
                changed = True
                if not self.check_mode:
                    self.client.attach_policy(PolicyId=current["id"], TargetId=live.target_id(target),
                                              aws_retry=True)
            current["targets"] = wanted
        for name in sorted(set(live.policies) - set(desired)):
            current = live.policies.pop(name)
            changed = True
            if self.check_mode:
                continue
            for target in sorted(current["targets"]):
                self.client.detach_policy(PolicyId=current["id"], TargetId=live.target_id(target), aws_retry=True)
            self.client.delete_policy(PolicyId=current["id"], aws_retry=True)
        return changed
