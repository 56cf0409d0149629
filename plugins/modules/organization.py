#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: organization
short_description: Converge an AWS Organization baseline - OUs, member accounts, guardrail SCPs
version_added: 0.1.0
description:
  - Converges, from the management account, the organization (all features), a nested OU
    tree, member accounts placed in their OUs and tagged, and guardrail service control
    policies attached to their targets.
  - Reads the whole organization once, computes the difference and calls only what
    differs. Check mode predicts every creation without failing on an empty account.
  - Account creation is asynchronous. The module starts every missing account, then
    waits for all of them with a waiter. An interrupted run is recovered; an account whose
    creation is still in progress (found by name) or already done (found by e-mail) is
    adopted, never created twice.
  - Also delegates the administration of the security services to the security account and
    keeps an organization CloudTrail with its log bucket (see the notes).
  - Accounts, OUs, SCPs, the trail and its bucket carry C(config.tags) plus
    C(mlops.platform/managed=true) (accounts also their own C(tags)); missing tags are added,
    tags set by other tools are kept. The environment's tags are not used, since every
    environment's run converges the same organization.
  - Accounts are never closed, removed or moved out of the organization. An account or OU
    that is no longer in O(config) is reported in RV(unmanaged), not acted on.
  - SCP documents are built from data, compared semantically with what AWS holds
    (order-insensitive) and updated only when they differ. Policies this module owns are
    named C(mlops-*) and tagged C(mlops.platform/managed=true); a guardrail removed from
    O(config) is detached, and deleted once no target uses it.
author:
  - mlops.platform contributors (@mlops-platform)
options:
  config:
    description:
      - The C(config) of the C(organization) component, as in
        C(mlops_config.mlops_infrastructure.organization.config). Keys, defaults and
        allowed values are those of docs/configuration.md; they are merged over the
        defaults and validated before any AWS call, every problem reported with its
        dotted path.
    type: dict
    required: true
  environment:
    description:
      - Name of the environment whose member account is returned as RV(environment_account).
    type: str
  access_role_name:
    description:
      - Role that CreateAccount creates in each new member account, trusted by the
        management account; returned as each account's C(role_arn).
    type: str
    default: OrganizationAccountAccessRole
  account_creation_timeout:
    description: Seconds to wait for new accounts to be created.
    type: int
    default: 1200
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
  - mlops.platform.assume_role
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - Runs with the management account's credentials, or, with O(assume_role), as a role in the
    management account (for automation that holds credentials elsewhere). SCPs never restrict the
    management account.
  - The security account (C(config.security_account)) becomes delegated administrator of
    Security Hub, GuardDuty and Config (C(config.amazonaws.com) and
    C(config-multiaccountsetup.amazonaws.com)) through Organizations, with trusted access
    enabled first. It is then designated on Security Hub's and GuardDuty's own API
    (C(EnableOrganizationAdminAccount)) in every region of C(config.allowed_regions), or in
    the module's region when that list is empty. A region whose Security Hub or GuardDuty
    is administered by another account stops the run before any designation, with the
    path C(config.security_account); a designation is never removed or replaced.
  - Then, in the security account (entered through its O(access_role_name) role) and in each of those regions,
    Security Hub is switched on if it is off and its organization configuration set (C(AutoEnable),
    C(AutoEnableStandards)), and GuardDuty gets a detector if it has none and its organization configuration
    set (C(AutoEnableOrganizationMembers)), as C(config.security_services) says; the diff shows them under
    C(security_services.organization_configuration). A region where Security Hub uses central configuration
    stops the run with the path C(config.security_services.auto_enable).
  - A new account is waited for until its access role can be assumed (AWS refuses
    AssumeRole for a short while after CreateAccount succeeds), at most 5 minutes, so the
    environment's play can enter it right after this module.
  - With C(config.organization_trail), an organization CloudTrail C(mlops-organization-trail)
    (all regions, log file validation) writes to the bucket
    C(mlops-organization-trail-<management account id>), which is TLS-only, SSE-KMS
    encrypted with the trail's customer managed key C(alias/mlops-organization-trail) (made
    here, with the key policy CloudTrail needs; the trail's C(KmsKeyId) too), public access
    blocked, owner-enforced and tagged C(mlops.platform/managed=true). A bucket of that name
    without that tag is refused. A trail and bucket on SSE-S3 move to the key. Its objects are never touched. Both
    live in C(config.trail_region) (default the first of C(config.allowed_regions)); a trail of
    that name with another home region stops the run before any write.
  - Changes AWS applies with a delay are retried a bounded number of times (about two minutes)
    on the codes that delay produces, and only there, for the call that depends on them. Security Hub
    and GuardDuty refuse a designation in a further region until the first has settled;
    CloudTrail refuses a trail until the bucket policy and trusted access it needs are visible.
  - An SCP is this module's only if it is named C(mlops-*) and tagged
    C(mlops.platform/managed=true); an untagged C(mlops-*) SCP is never changed, and one whose name
    the configuration needs is an error. SCPs attached by others count against AWS's limit of five
    per target, checked before any write.
  - The IAM permissions this module needs are listed in docs/components/organization.md.
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: posix
  action_group:
    membership: [mlops.platform.aws]
"""

EXAMPLES = r"""
- name: Converge the organization baseline from the merged configuration
  mlops.platform.organization:
    config: "{{ mlops_config.mlops_infrastructure.organization.config }}"
    environment: "{{ mlops_config.mlops_environment.name }}"

- name: A small organization given inline
  mlops.platform.organization:
    config:
      organizational_units: [Security, Workloads, Workloads/Production]
      accounts:
        prod:
          email: aws+prod@example.com
          organizational_unit: Workloads/Production
          environment: prod
      guardrails:
        Workloads: [deny_leaving_organization, deny_s3_without_tls]
"""

RETURN = r"""
organization_id:
  description: Id of the organization; C((known after apply)) in check mode before it exists.
  returned: always
  type: str
  sample: o-a1b2c3d4e5
root_id:
  description: Id of the organization's root.
  returned: always
  type: str
  sample: r-a1b2
management_account_id:
  description: Account id of the management account.
  returned: always
  type: str
  sample: "123456789012"
organizational_units:
  description: OU ids by path.
  returned: always
  type: dict
  sample: {"Workloads": "ou-a1b2-11111111", "Workloads/Production": "ou-a1b2-22222222"}
accounts:
  description: Member accounts by name, with C(id), C(email), C(organizational_unit), C(environment) and C(role_arn).
  returned: always
  type: dict
  sample:
    prod:
      id: "210987654321"
      email: aws+prod@example.com
      organizational_unit: Workloads/Production
      environment: prod
      role_arn: arn:aws:iam::210987654321:role/OrganizationAccountAccessRole
environment_accounts:
  description: The member account of each environment, C({account_id, role_arn}) by environment name.
  returned: always
  type: dict
  sample: {"prod": {"account_id": "210987654321", "role_arn": "arn:aws:iam::210987654321:role/OrganizationAccountAccessRole"}}
environment_account:
  description: The member account of O(environment), or an empty dict when it has none.
  returned: always
  type: dict
  sample: {"account_id": "210987654321", "role_arn": "arn:aws:iam::210987654321:role/OrganizationAccountAccessRole"}
new_environment_accounts:
  description:
    - The environments whose account this run created (or would create, in check mode) or whose creation it
      found in flight. Their services may not be active yet (see M(mlops.platform.account_info)). Kept out of
      the outputs above, which stay the same from run to run.
  returned: always
  type: list
  elements: str
  sample: ["dev"]
policies:
  description: SCPs this module manages, C({id, targets}) by name.
  returned: always
  type: dict
  sample: {"mlops-deny-leaving-organization": {"id": "p-abcd1234", "targets": ["Root"]}}
unmanaged:
  description: Accounts and OUs in the organization that O(config) does not declare; reported, never changed.
  returned: always
  type: dict
  sample: {"accounts": ["legacy@example.com"], "organizational_units": ["Sandbox"]}
api_calls:
  description: The AWS API calls this run made, by operation, with the number of writes among them.
  returned: always
  type: dict
  sample: {"total": 31, "writes": 0, "by_operation": {"ListAccounts": 1, "ListPoliciesForTarget": 2}}
ansible_facts:
  description: The outputs above under C(mlops_organization), for the roles that follow.
  returned: always
  type: dict
  contains:
    mlops_organization:
      description: RV(organization_id), RV(root_id), RV(management_account_id), RV(organizational_units), RV(accounts),
        RV(environment_accounts), RV(policies).
      type: dict
    mlops_new_environment_accounts:
      description: RV(new_environment_accounts).
      type: list
      returned: always
"""

import functools
import json

try:
    import botocore
    from botocore import waiter as core_waiter
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.policy import compare_policies
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict

from ansible_collections.mlops.platform.plugins.module_utils import organization as org
from ansible_collections.mlops.platform.plugins.module_utils import organization_services as services
from ansible_collections.mlops.platform.plugins.module_utils.aws import AWS_RETRY, AWSResourceError, MlopsAWSModule
from ansible_collections.mlops.platform.plugins.module_utils.aws import create_once, paginate, partition_of
from ansible_collections.mlops.platform.plugins.module_utils.aws import settling_retry
from ansible_collections.mlops.platform.plugins.module_utils.config_schema import ORGANIZATION
from ansible_collections.mlops.platform.plugins.module_utils.component import MANAGED_TAG, UNKNOWN
from ansible_collections.mlops.platform.plugins.module_utils.component import validate_config

SCP = "SERVICE_CONTROL_POLICY"

# Services whose organization-wide administration is delegated to the security account.
DELEGATED_SERVICES = [
    "securityhub.amazonaws.com",
    "guardduty.amazonaws.com",
    "config.amazonaws.com",
    "config-multiaccountsetup.amazonaws.com",
]
TRAIL_NAME = "mlops-organization-trail"

# Only for the calls that wait on a change made moments before (see organization_services).
_ADMIN_RETRY = settling_retry(*services.ADMIN_PROPAGATION_ERRORS)
_TRAIL_RETRY = settling_retry(*services.TRAIL_PROPAGATION_ERRORS)


def trail_bucket_name(management_account_id):
    """The organization trail's log bucket: one per organization, unique through the account id."""
    return "mlops-organization-trail-%s" % management_account_id


def config_error(path, message):
    """The collection's AWSResourceError, for a path under the organization's ``config``."""
    return AWSResourceError("config.%s" % path if path else "config", message)


class Organization:
    """Reads the live organization once and converges it toward the desired state."""

    def __init__(self, module, config, retry):
        self.module = module
        self.config = config
        self.check_mode = module.check_mode
        self.retry = retry
        self.client = module.client("organizations", retry_decorator=retry)
        self.paginate = functools.partial(paginate, self.client, retry=retry)
        self.once = module.once_client("organizations")
        self.services_before = {}
        self.services_after = {}
        # Only for ensure_security_services, whose organization-trail block (reworked on another
        # branch) still sets it; every other ensure_* returns its own changed.
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

    # -- reading ---------------------------------------------------------------------------

    def find_organization(self):
        try:
            return self.client.describe_organization(aws_retry=True)["Organization"]
        except is_boto3_error_code("AWSOrganizationsNotInUseException"):
            return None

    def find_organizational_unit(self, parent_id, name):
        return next((unit for unit in self.paginate("list_organizational_units_for_parent", "OrganizationalUnits",
                                                    ParentId=parent_id) if unit["Name"] == name), None)

    def find_account_creation(self, name):
        """A creation of the account ``name`` under way or done (a CreateAccount whose answer was lost)."""
        return next((status for status in self.paginate("list_create_account_status", "CreateAccountStatuses",
                                                        States=["IN_PROGRESS", "SUCCEEDED"])
                     if status["AccountName"] == name), None)

    def find_policy(self, name):
        """Our SCP ``name`` (with the managed tag), or None."""
        for summary in self.paginate("list_policies", "Policies", Filter=SCP):
            if summary["Name"] == name:
                return summary if self.owned_policy(summary) is not None else None
        return None

    def owned_policy(self, summary):
        """The tags of the SCP ``summary`` when this collection owns it (named like ours, not
        AWS-managed, tagged ``MANAGED_TAG=true``), else None."""
        if not org.named_like_ours(summary):
            return None
        tags = self.resource_tags(summary["Id"])
        return tags if tags.get(MANAGED_TAG) == "true" else None

    def resource_tags(self, resource_id):
        return boto3_tag_list_to_ansible_dict(self.paginate("list_tags_for_resource", "Tags", ResourceId=resource_id))

    def converge_tags(self, resource_id, current, wanted):
        """Add or correct the ``wanted`` tags (tags set by others are kept); (changed, the tags after)."""
        missing, unused = compare_aws_tags(current, wanted, purge_tags=False)
        if missing and not self.check_mode and resource_id != UNKNOWN:
            self.client.tag_resource(ResourceId=resource_id, Tags=ansible_dict_to_boto3_tag_list(missing),
                                     aws_retry=True)
        return bool(missing), dict(current, **wanted)

    def read_root(self):
        root = self.paginate("list_roots", "Roots")[0]
        self.root_id = root["Id"]
        self.root_policy_types = {policy_type["Type"]: policy_type["Status"]
                                  for policy_type in root.get("PolicyTypes", [])}

    def read(self):
        try:
            self.organization = self.client.describe_organization(aws_retry=True)["Organization"]
        except is_boto3_error_code("AWSOrganizationsNotInUseException"):
            return
        self.read_root()
        pending = [(org.ROOT, self.root_id)]
        while pending:
            path, parent_id = pending.pop()
            for account in self.paginate("list_accounts_for_parent", "Accounts", ParentId=parent_id):
                self.parents[account["Id"]] = path
            for unit in self.paginate("list_organizational_units_for_parent", "OrganizationalUnits",
                                      ParentId=parent_id):
                unit_path = unit["Name"] if path == org.ROOT else "%s/%s" % (path, unit["Name"])
                self.ous[unit_path] = unit["Id"]
                if unit_path in self.config["organizational_units"]:
                    self.ou_tags[unit_path] = self.resource_tags(unit["Id"])
                pending.append((unit_path, unit["Id"]))
        for account in self.paginate("list_accounts", "Accounts"):
            self.accounts[account["Email"].lower()] = account
        for account in self.config["accounts"].values():
            live = self.accounts.get(account["email"].lower())
            if live is not None:
                live["Tags"] = self.resource_tags(live["Id"])
        for summary in self.paginate("list_policies", "Policies", Filter=SCP):
            if not org.named_like_ours(summary):
                continue
            tags = self.owned_policy(summary)
            if tags is None:
                # Named like ours, but not made by this collection: never updated or deleted.
                self.foreign_policies[summary["Name"]] = summary["Id"]
                continue
            policy = self.client.describe_policy(PolicyId=summary["Id"], aws_retry=True)["Policy"]
            targets = self.paginate("list_targets_for_policy", "Targets", PolicyId=summary["Id"])
            self.policies[summary["Name"]] = {
                "id": summary["Id"],
                "description": summary.get("Description", ""),
                "document": json.loads(policy["Content"]),
                "targets": {org.ou_path_of(target["TargetId"], self.root_id, self.ous) for target in targets},
                "tags": tags,
            }

    # -- converging ------------------------------------------------------------------------

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

    def target_id(self, path):
        """The id of Root or an OU path; any other target (an account id) is its own id."""
        return self.root_id if path == org.ROOT else self.ous.get(path, path)

    def ensure_organizational_units(self):
        changed = False
        for path in org.ou_paths_in_creation_order(self.config["organizational_units"]):
            if path in self.ous:
                tags_changed, self.ou_tags[path] = self.converge_tags(self.ous[path], self.ou_tags.get(path, {}),
                                                                      self.tags)
                changed |= tags_changed
                continue
            self.ou_tags[path] = dict(self.tags)
            parent, name = org.split_path(path)
            changed = True
            if self.check_mode:
                self.ous[path] = UNKNOWN
                continue
            parent_id = self.target_id(parent)
            # An OU is known by its path, as in read(): one already at the path (made by this
            # call whose answer was lost, or since the read) is the one the path names.
            response, found = create_once(
                lambda: self.once.create_organizational_unit(
                    ParentId=parent_id, Name=name, Tags=ansible_dict_to_boto3_tag_list(self.tags))["OrganizationalUnit"],
                lambda: self.find_organizational_unit(parent_id, name),
                exists_codes=("DuplicateOrganizationalUnitException",))
            self.ous[path] = (response or found)["Id"]
        return changed

    def ensure_accounts(self):
        """Create missing accounts (all started before any is waited for), then place and tag them."""
        in_flight = {}
        started = {}
        missing = [name for name, account in self.config["accounts"].items()
                   if account["email"].lower() not in self.accounts]
        if missing and not self.check_mode and self.organization.get("Id") != UNKNOWN:
            for status in self.paginate("list_create_account_status", "CreateAccountStatuses",
                                        States=["IN_PROGRESS"]):
                in_flight[status["AccountName"]] = status["Id"]
        for name in missing:
            account = self.config["accounts"][name]
            self.new_accounts.add(name)
            if self.check_mode:
                self.accounts[account["email"].lower()] = {"Id": UNKNOWN, "Email": account["email"]}
                continue
            if name in in_flight:
                started[name] = in_flight[name]  # an interrupted run started it: adopt, never create twice
                continue
            response, found = create_once(
                lambda: self.once.create_account(
                    Email=account["email"], AccountName=name, RoleName=self.module.params["access_role_name"],
                    IamUserAccessToBilling="DENY",
                    Tags=ansible_dict_to_boto3_tag_list(org.account_tags(self.tags, account)))["CreateAccountStatus"],
                lambda: self.find_account_creation(name))
            started[name] = (response or found)["Id"]
            if found:
                in_flight[name] = found["Id"]  # checked against the e-mail like an adopted creation
        if started:
            self.wait_for_accounts(started, adopted=[name for name in started if name in in_flight])
            for name in started:
                self.wait_for_access(name, self.accounts[self.config["accounts"][name]["email"].lower()]["Id"])
        changed = bool(missing)
        for name, account in self.config["accounts"].items():
            live = self.accounts[account["email"].lower()]
            changed |= self.place_account(name, live)
            changed |= self.tag_account(live, account)
        return changed

    def wait_for_accounts(self, started, adopted=()):
        model = core_waiter.WaiterModel(org.CREATE_ACCOUNT_WAITER)
        client = getattr(self.client, "client", self.client)  # the raw client under the retry wrapper
        waiter = core_waiter.create_waiter_with_client("AccountCreated", model, client)
        timeout = self.module.params["account_creation_timeout"]
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
            account = {"Id": status["AccountId"], "Email": email, "Name": name}
            self.accounts[email.lower()] = account
            self.parents[status["AccountId"]] = org.ROOT  # CreateAccount places new accounts in the root

    def wait_for_access(self, name, account_id):
        """Wait until the access role of a new account can be assumed (see organization.ROLE_ASSUMABLE_WAITER).
        The temporary credentials it obtains are dropped at once."""
        role_arn = org.account_role_arn(account_id, self.module.params["access_role_name"], self.partition())
        config = org.ROLE_ASSUMABLE_WAITER["waiters"]["RoleAssumable"]
        model = core_waiter.WaiterModel(org.ROLE_ASSUMABLE_WAITER)
        waiter = core_waiter.create_waiter_with_client("RoleAssumable", model, self.module.client("sts"))
        try:
            waiter.wait(RoleArn=role_arn, RoleSessionName=org.NEW_ACCOUNT_SESSION_NAME, DurationSeconds=900,
                        WaiterConfig={"Delay": config["delay"], "MaxAttempts": config["maxAttempts"]})
        except botocore.exceptions.WaiterError as exc:
            raise config_error("accounts.%s" % name, "the new account %s was created, but its role %s could not "
                               "be assumed within %d s (%s); re-run once it can"
                               % (account_id, role_arn, config["delay"] * config["maxAttempts"], exc))

    def partition(self):
        """The partition of the organization (arn:<partition>:organizations::...); member roles share it."""
        return partition_of(self.organization.get("Arn", "arn:aws:"))

    def place_account(self, name, live):
        wanted = self.config["accounts"][name]["organizational_unit"]
        if live["Id"] == UNKNOWN:
            self.parents[live["Id"]] = wanted
            return False  # planned: CreateAccount counts as the change
        current = self.parents.get(live["Id"], org.ROOT)
        if current == wanted:
            return False
        if not self.check_mode:
            self.client.move_account(AccountId=live["Id"], SourceParentId=self.target_id(current),
                                     DestinationParentId=self.target_id(wanted), aws_retry=True)
        self.parents[live["Id"]] = wanted
        return True

    def tag_account(self, live, account):
        wanted = org.account_tags(self.tags, account)
        if live["Id"] == UNKNOWN:  # planned: tagged in CreateAccount
            live["Tags"] = dict(wanted)
            return False
        if "Tags" not in live:  # created, or adopted in flight, by this run
            live["Tags"] = self.resource_tags(live["Id"])
        changed, live["Tags"] = self.converge_tags(live["Id"], live["Tags"], wanted)
        return changed

    def check_policies_fit(self, desired):
        """Refuse, before any write, what AttachPolicy or CreatePolicy would refuse halfway:
        a policy name taken by an SCP this collection does not own, or a target whose SCPs
        attached by others (FullAWSAccess, Control Tower's, hand-made ones) leave no room
        for ours (AWS allows five per target)."""
        for name, policy in sorted(desired.items()):
            if name in self.foreign_policies:
                raise config_error(policy["path"], "the SCP %s (%s) exists and was not made by this collection "
                                   "(no %s=true tag); rename or tag it" % (name, self.foreign_policies[name],
                                                                           MANAGED_TAG))
        if self.organization is None:
            return  # created by this run: nothing else is attached anywhere yet
        ours = {policy["id"] for policy in self.policies.values()}
        per_target = {}
        for name, policy in desired.items():
            for target in policy["targets"]:
                per_target.setdefault(target, []).append((name, policy["path"]))
        for target, wanted in sorted(per_target.items()):
            target_id = self.target_id(target)
            if target_id == UNKNOWN or (target != org.ROOT and target not in self.ous):
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

    def ensure_policies(self, desired):
        changed = False
        for name, policy in sorted(desired.items()):
            current = self.policies.get(name)
            content = org.minified(policy["document"])
            if current is None:
                changed = True
                new_id = UNKNOWN
                if not self.check_mode:
                    response, found = create_once(
                        lambda: self.once.create_policy(
                            Content=content, Description=policy["description"], Name=name, Type=SCP,
                            Tags=ansible_dict_to_boto3_tag_list(self.tags))["Policy"]["PolicySummary"],
                        lambda: self.find_policy(name), exists_codes=("DuplicatePolicyException",),
                        foreign=lambda: config_error(policy["path"], "the SCP %s exists and was not made by "
                                                     "this collection (no %s=true tag); rename "
                                                     "or tag it" % (name, MANAGED_TAG)))
                    new_id = (response or found)["Id"]
                current = self.policies[name] = {"id": new_id, "description": policy["description"],
                                                 "document": policy["document"], "targets": set(),
                                                 "tags": dict(self.tags)}
            elif compare_policies(current["document"], policy["document"]) or \
                    current["description"] != policy["description"]:
                changed = True
                if not self.check_mode:
                    self.client.update_policy(PolicyId=current["id"], Content=content,
                                              Description=policy["description"], aws_retry=True)
                current["document"] = policy["document"]
                current["description"] = policy["description"]
            tags_changed, current["tags"] = self.converge_tags(current["id"], current["tags"], self.tags)
            changed |= tags_changed
            wanted = set(policy["targets"])
            # Detach before attaching, so a move between targets never exceeds five SCPs on one.
            for target in sorted(current["targets"] - wanted):
                changed = True
                if not self.check_mode:
                    self.client.detach_policy(PolicyId=current["id"], TargetId=self.target_id(target),
                                              aws_retry=True)
            for target in sorted(wanted - current["targets"]):
                changed = True
                if not self.check_mode:
                    self.client.attach_policy(PolicyId=current["id"], TargetId=self.target_id(target),
                                              aws_retry=True)
            current["targets"] = wanted
        for name in sorted(set(self.policies) - set(desired)):
            current = self.policies.pop(name)
            changed = True
            if self.check_mode:
                continue
            for target in sorted(current["targets"]):
                self.client.detach_policy(PolicyId=current["id"], TargetId=self.target_id(target), aws_retry=True)
            self.client.delete_policy(PolicyId=current["id"], aws_retry=True)
        return changed

    def ensure_security_services(self):
        """Delegated administrators for the security services, their organization configuration;
        the organization trail, its bucket and its key. True when something changed."""
        changed = False
        unknown = self.organization["Id"] == UNKNOWN
        security = self.config["security_account"]
        if security:
            account_id = self.accounts[self.config["accounts"][security]["email"].lower()]["Id"]
            regions = self.security_regions()
            if unknown or account_id == UNKNOWN:
                changed = True  # nothing to read yet: everything will be created
                self.services_after["delegated_administrators"] = {"account_id": account_id,
                                                                   "delegated_services": sorted(DELEGATED_SERVICES)}
                self.services_after["regional_administrators"] = {
                    service: {region: account_id for region in regions}
                    for service in sorted(services.REGIONAL_ADMIN_SERVICES)}
                changed |= self.ensure_organization_configurations(None, {})
            else:
                clients = {(service, region): self.module.client(service, retry_decorator=_ADMIN_RETRY, region=region)
                           for service in services.REGIONAL_ADMIN_SERVICES for region in regions}
                try:  # every region is read before anything is registered or designated
                    designated = services.read_regional_administrators(clients, account_id)
                except services.AdministratorConflict as exc:
                    raise config_error("security_account", str(exc))
                changed |= self.record("delegated_administrators", *services.converge_delegated_administrators(
                    self.client, account_id, DELEGATED_SERVICES, self.check_mode))
                changed |= self.record("regional_administrators", *services.converge_regional_administrators(
                    clients, account_id, self.check_mode, designated))
                changed |= self.ensure_organization_configurations(account_id, designated)
        if self.config["organization_trail"]:
            management = self.organization["MasterAccountId"]
            if unknown:
                self.services_after["organization_trail"] = {"trail": TRAIL_NAME}
                return True
            changed |= self.record("trusted_service_access", *services.converge_trusted_service_access(
                self.client, [services.CLOUDTRAIL_PRINCIPAL], self.check_mode))
            region = self.trail_region()
            try:
                trail = services.converge_organization_trail(
                    self.module.client("cloudtrail", retry_decorator=_TRAIL_RETRY, region=region),
                    self.module.client("s3", retry_decorator=self.retry, region=region),
                    management, self.organization["Id"], region, TRAIL_NAME,
                    trail_bucket_name(management), self.tags, self.check_mode,
                    s3_once=self.module.once_client("s3", region),
                    warn=self.module.warn,
                    kms_key=services.trail_key(self.module, region, management, TRAIL_NAME, self.tags))
            except services.TrailElsewhere as exc:
                raise config_error("trail_region", str(exc))
            changed |= self.record("organization_trail", *trail)
        return changed

    def ensure_organization_configurations(self, account_id, designated):
        """Security Hub's and GuardDuty's organization configuration, made where the services
        require it: in the security account ``account_id`` (through its access role), in each
        region, once the account is the administrator there. ``designated`` is what
        read_regional_administrators found before this run's designations; a region the
        account administers only from this run on is read with the settling retry. Without an
        account (None) or its designation (in check mode), the configuration is planned, not read."""
        settings = self.config["security_services"]
        role_arn = None if account_id is None else org.account_role_arn(
            account_id, self.module.params["access_role_name"], self.partition())
        changed, before, after = False, {}, {}
        for region in self.security_regions():
            for service, read, converge in services.ORGANIZATION_CONFIGURATIONS:
                client = once = current = None
                if account_id is not None and (designated.get((service, region)) or not self.check_mode):
                    retry = self.retry if designated.get((service, region)) else _ADMIN_RETRY
                    try:
                        client = self.module.role_client(role_arn, service, retry_decorator=retry, region=region)
                    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
                        raise config_error("security_account", "could not enter the security account through %s: %s"
                                           % (role_arn, exc))
                    current = read(client)
                    once = functools.partial(self.module.role_client, role_arn, service, once=True, region=region)
                try:
                    one_changed, one_before, one_after = converge(client, once, settings, self.tags,
                                                                  self.check_mode or client is None, current)
                except services.CentralConfiguration as exc:
                    raise config_error("security_services.auto_enable", "%s in %s: %s" % (service, region, exc))
                changed |= one_changed
                before.setdefault(service, {})[region] = one_before
                after.setdefault(service, {})[region] = one_after
        return self.record("organization_configuration", changed, before, after)

    def trail_region(self):
        """The organization trail's home region: configured, else the first allowed region,
        else the run's region."""
        return self.config["trail_region"] or (self.config["allowed_regions"] or [self.module.region])[0]

    def security_regions(self):
        """Where Security Hub and GuardDuty get their administrator: the regions the
        organization allows, or the run's region when it sets no allow-list."""
        return self.config["allowed_regions"] or [self.module.region]

    def record(self, key, changed, before, after):
        """Keeps a security service's before and after for the diff; returns its ``changed``."""
        self.services_before[key] = before
        self.services_after[key] = after
        return changed

    def state(self):
        return org.state(self, self.config)

    def outputs(self):
        return org.outputs(self, self.config, self.module.params["access_role_name"], self.partition())

    # -- reporting -------------------------------------------------------------------------


def main():
    argument_spec = dict(
        config=dict(type="dict", required=True),
        environment=dict(type="str"),
        access_role_name=dict(type="str", default="OrganizationAccountAccessRole"),
        account_creation_timeout=dict(type="int", default=1200),
    )
    module = MlopsAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    config = validate_config(module, ORGANIZATION, lambda config: (
        org.check_references(config, "config") + org.check_policies(org.desired_policies(config), "config")))
    desired = org.desired_policies(config)

    organization = Organization(module, config, AWS_RETRY)
    changed = False
    try:
        organization.read()
        before = organization.state()
        organization.check_policies_fit(desired)
        changed |= organization.ensure_organization()
        changed |= organization.ensure_scp_type_enabled()
        changed |= organization.ensure_organizational_units()
        changed |= organization.ensure_accounts()
        changed |= organization.ensure_policies(desired)
        changed |= organization.ensure_security_services()
    except AWSResourceError as exc:
        module.fail_json(msg=str(exc))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        module.fail_json_aws(exc, msg="Could not converge the organization")

    outputs = organization.outputs()
    result = dict(outputs)
    result["unmanaged"] = outputs.pop("unmanaged")
    environment = module.params["environment"]
    result["environment_account"] = outputs["environment_accounts"].get(environment, {}) if environment else {}
    after = organization.state()
    if organization.services_before or organization.services_after:
        before["security_services"] = organization.services_before
        after["security_services"] = organization.services_after
    new_environments = sorted(organization.config["accounts"][name]["environment"] for name in organization.new_accounts
                              if organization.config["accounts"][name]["environment"])
    module.exit_json(changed=changed, diff={"before": before, "after": after},
                     new_environment_accounts=new_environments,
                     ansible_facts={"mlops_organization": outputs, "mlops_new_environment_accounts": new_environments},
                     **result)


if __name__ == "__main__":
    main()
