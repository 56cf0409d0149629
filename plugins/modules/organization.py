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
  - A security account that is new (created by this run, or its creation found in flight) may see its
    Security Hub and GuardDuty answer C(SubscriptionRequiredException) or C(OptInRequired) while AWS
    activates its services; each service's first read there is retried on those codes for about two
    minutes, then the run stops with the path C(config.accounts.<name>) of that account (a re-run goes on
    from there). An account that existed before the run is not waited for.
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

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.mlops.platform.plugins.module_utils import organization as org
from ansible_collections.mlops.platform.plugins.module_utils.aws import AWS_RETRY, AWSResourceError, MlopsAWSModule
from ansible_collections.mlops.platform.plugins.module_utils.config_schema import ORGANIZATION
from ansible_collections.mlops.platform.plugins.module_utils.component import validate_config
from ansible_collections.mlops.platform.plugins.module_utils.organization_resources import MemberAccounts
from ansible_collections.mlops.platform.plugins.module_utils.organization_resources import Organization
from ansible_collections.mlops.platform.plugins.module_utils.organization_resources import OrganizationalUnits
from ansible_collections.mlops.platform.plugins.module_utils.organization_resources import ServiceControlPolicies
from ansible_collections.mlops.platform.plugins.module_utils.organization_services import SecurityServices


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
    units = OrganizationalUnits(organization)
    accounts = MemberAccounts(organization)
    policies = ServiceControlPolicies(organization)
    security = SecurityServices(organization)
    changed = False
    try:
        if organization.read():  # the whole organization, once: everything below works from it
            units.read()
            accounts.read()
            policies.read()
        before = organization.state()
        policies.check_fit(desired)
        changed |= organization.ensure_organization()
        changed |= organization.ensure_scp_type_enabled()
        changed |= units.ensure()
        changed |= accounts.ensure()
        changed |= policies.ensure(desired)
        changed |= security.ensure()
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
    if security.before or security.after:
        before["security_services"] = security.before
        after["security_services"] = security.after
    new_environments = sorted(config["accounts"][name]["environment"] for name in organization.new_accounts
                              if config["accounts"][name]["environment"])
    module.exit_json(changed=changed, diff={"before": before, "after": after},
                     new_environment_accounts=new_environments,
                     ansible_facts={"mlops_organization": outputs, "mlops_new_environment_accounts": new_environments},
                     **result)


if __name__ == "__main__":
    main()
