# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment:
    # The assume_role option of every AWS module built on
    # plugins/module_utils/aws.py (MlopsAWSModule). Use it together with
    # amazon.aws.common.modules, amazon.aws.region.modules and amazon.aws.boto3.
    DOCUMENTATION = r"""
options:
  assume_role:
    description:
      - Act in another AWS account by assuming an IAM role there, typically an environment's
        member account (C(arn:aws:iam::<member account>:role/OrganizationAccountAccessRole)).
      - The role is assumed once per task with an STS client made from the task's own connection
        settings (credentials, profile, region, endpoint URL), and every AWS call of the task is then
        made with the temporary credentials, in the same region and through the same endpoint.
      - The temporary credentials stay in the module's memory; they are never returned or logged.
      - When omitted, the task acts with its own credentials, as any amazon.aws module does.
    type: dict
    suboptions:
      role_arn:
        description:
          - ARN of the IAM role to assume, C(arn:<partition>:iam::<12-digit account>:role/[<path>/]<name>).
          - The task's own credentials must be allowed C(sts:AssumeRole) on it.
        type: str
        required: true
      external_id:
        description:
          - External ID required by the role's trust policy, if any (2 to 1224 characters).
          - It is sent to STS only; no message of the module repeats it.
        type: str
      session_name:
        description:
          - Role session name, visible in CloudTrail and in the assumed-role ARN.
          - 2 to 64 characters of letters, digits and C(+=,.@_-).
        type: str
        default: mlops-platform
      duration_seconds:
        description:
          - Lifetime of the temporary credentials, from 900 to 43200 seconds.
          - It cannot exceed the role's maximum session duration, and AWS limits a role assumed
            from another role's session (role chaining) to 3600 seconds.
        type: int
        default: 3600
"""
