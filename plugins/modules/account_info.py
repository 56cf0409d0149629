#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: account_info
short_description: Which AWS account a run acts in
version_added: 0.1.0
description:
  - Reports the AWS account, principal ARN and user ID that the task's AWS calls are made as,
    from C(sts:GetCallerIdentity).
  - With O(assume_role), the role is assumed first and the identity reported is the assumed
    role's, in the role's account. A playbook runs this as a preflight with the
    environment's member-account role to show that the run acts inside that account, and to
    fail early when the role cannot be assumed.
  - Nothing is changed. The temporary credentials of an assumed role are never returned.
  - With O(wait_for_services), it first waits until the account's services answer. A member
    account that Organizations has just created answers C(OptInRequired) or
    C(SubscriptionRequiredException) for several minutes after its role can be assumed, while
    AWS activates its services; a playbook passes the services only for an account created by
    this run, so an existing account costs one call per service at most.
author:
  - mlops.platform contributors (@mlops-platform)
options:
  wait_for_services:
    description:
      - Services to wait for, each probed with one cheap read (C(ec2) DescribeAvailabilityZones,
        C(s3) ListBuckets, C(kms) ListAliases, C(rds) DescribeDBInstances, C(logs)
        DescribeLogGroups, C(iam) ListRoles) until it answers something other than
        C(OptInRequired), C(SubscriptionRequiredException) or C(PendingVerification).
    type: list
    elements: str
    choices: [ec2, s3, kms, rds, logs, iam]
    default: []
  services_timeout:
    description: Seconds to wait for each service of O(wait_for_services); then the run stops with the service named.
    type: int
    default: 900
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
  - mlops.platform.assume_role
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - Only C(sts:AssumeRole) (with O(assume_role)), C(sts:GetCallerIdentity) (which needs no
    permission) and the probes of O(wait_for_services) are called.
  - The module never changes anything; O(ignore:check_mode) is supported and the result is
    the same.
seealso:
  - module: amazon.aws.aws_caller_info
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
    details: The module never changes anything, so there is no difference to show.
  platform:
    platforms: posix
  action_group:
    membership: [mlops.platform.aws]
"""

EXAMPLES = r"""
- name: Show which account the controller's own credentials act in
  mlops.platform.account_info:
    region: eu-west-1
  register: management_account

- name: Preflight - act inside the environment's member account
  mlops.platform.account_info:
    region: "{{ mlops_config.mlops_environment.region }}"
    assume_role:
      role_arn: "arn:aws:iam::111111111111:role/OrganizationAccountAccessRole"
      session_name: mlops-dev-preflight
  register: member_account

- name: Stop unless the run acts in the member account
  ansible.builtin.assert:
    that:
      - member_account.account_id == "111111111111"
    fail_msg: "Acting in {{ member_account.account_id }}, not in the member account"
"""

RETURN = r"""
account_id:
  description: The 12-digit ID of the account the task's AWS calls act in.
  returned: success
  type: str
  sample: "111111111111"
arn:
  description:
    - ARN of the principal the calls are made as; with O(assume_role), the assumed-role
      session C(arn:aws:sts::<account>:assumed-role/<role name>/<session name>).
  returned: success
  type: str
  sample: arn:aws:sts::111111111111:assumed-role/OrganizationAccountAccessRole/mlops-platform
user_id:
  description:
    - Unique ID of the principal; for an assumed role, C(<role ID>:<session name>).
  returned: success
  type: str
  sample: AROAEXAMPLEROLEID1234:mlops-platform
partition:
  description: The AWS partition of the account (C(aws), C(aws-cn), C(aws-us-gov)...).
  returned: success
  type: str
  sample: aws
api_calls:
  description: The AWS API calls this run made, by operation, with the number of writes among them.
  returned: always
  type: dict
  sample: {"total": 2, "writes": 1, "by_operation": {"AssumeRole": 1, "GetCallerIdentity": 1}}
assumed_role_arn:
  description: The role ARN given in O(assume_role.role_arn). No credential is ever returned.
  returned: when O(assume_role) is set
  type: str
  sample: arn:aws:iam::111111111111:role/OrganizationAccountAccessRole
"""

try:
    from botocore.exceptions import BotoCoreError, ClientError, WaiterError
    from botocore.waiter import WaiterModel, create_waiter_with_client
except ImportError:
    pass  # MlopsAWSModule reports the missing SDK

from ansible_collections.mlops.platform.plugins.module_utils.aws import (
    AWS_RETRY,
    MlopsAWSModule,
    caller_identity,
)


# A cheap read per service; the error codes a new account's services answer while AWS
# activates them. Only these are waited out: any other error is reported at once.
SERVICE_PROBES = {
    "ec2": ("DescribeAvailabilityZones", {}),
    "s3": ("ListBuckets", {}),
    "kms": ("ListAliases", {"Limit": 1}),
    "rds": ("DescribeDBInstances", {"MaxRecords": 20}),
    "logs": ("DescribeLogGroups", {"limit": 1}),
    "iam": ("ListRoles", {"MaxItems": 1}),
}
NOT_ACTIVE_YET = ("OptInRequired", "SubscriptionRequiredException", "PendingVerification")
SERVICE_WAIT_DELAY = 15


def service_active_waiter(operation, timeout):
    return WaiterModel({"version": 2, "waiters": {"ServiceActive": {
        "operation": operation, "delay": SERVICE_WAIT_DELAY,
        "maxAttempts": max(1, timeout // SERVICE_WAIT_DELAY),
        "acceptors": [{"matcher": "error", "expected": code, "state": "retry"} for code in NOT_ACTIVE_YET]
        + [{"matcher": "error", "expected": False, "state": "success"}],
    }}})


def wait_for_services(module, services, timeout):
    """Wait, service by service, until a new account's services answer (botocore waiters)."""
    for service in services:
        operation, params = SERVICE_PROBES[service]
        client = module.client(service, retry_decorator=AWS_RETRY)
        raw = getattr(client, "client", client)
        waiter = create_waiter_with_client("ServiceActive", service_active_waiter(operation, timeout), raw)
        try:
            waiter.wait(**params)
        except WaiterError as exc:
            if exc.last_response and exc.last_response.get("Error", {}).get("Code") not in NOT_ACTIVE_YET:
                module.fail_json(msg="%s answered %s while the account's services were checked: %s" % (
                    service, exc.last_response["Error"].get("Code"), exc.last_response["Error"].get("Message")))
            module.fail_json(msg="the account's %s service was still not active after %d s (%s); AWS activates a new "
                                 "account's services within minutes to hours: run again later" % (service, timeout, exc))


def main():
    module = MlopsAWSModule(argument_spec=dict(
        wait_for_services=dict(type="list", elements="str", default=[], choices=sorted(SERVICE_PROBES)),
        services_timeout=dict(type="int", default=900),
    ), supports_check_mode=True)

    try:
        wait_for_services(module, module.params["wait_for_services"], module.params["services_timeout"])
        identity = caller_identity(module)
    except (BotoCoreError, ClientError) as e:
        module.fail_json_aws(e, msg="could not get the caller identity")

    if module.assumed_role_arn:
        identity["assumed_role_arn"] = module.assumed_role_arn
    module.exit_json(changed=False, **identity)


if __name__ == "__main__":
    main()
