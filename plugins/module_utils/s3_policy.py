# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every bucket of the collection carries: no public access, owner-enforced, TLS only;
and how its settings are read back."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict

PUBLIC_ACCESS_BLOCK = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
# ACLs off: the bucket owner owns every object, whoever writes it.
OBJECT_OWNERSHIP = "BucketOwnerEnforced"


def deny_insecure_transport(bucket_arn, sid):
    """Deny every request to the bucket and its objects that does not use TLS."""
    return {
        "Sid": sid,
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, bucket_arn + "/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def _ownership(answer):
    rules = answer["OwnershipControls"]["Rules"]
    return rules[0]["ObjectOwnership"] if rules else None


# setting -> (S3 read, the error code S3 answers when the bucket has none, the value in the
# answer, the value when it has none)
_SETTINGS = {
    "encryption": ("get_bucket_encryption", "ServerSideEncryptionConfigurationNotFoundError",
                   lambda answer: answer["ServerSideEncryptionConfiguration"], None),
    "public_access_block": ("get_public_access_block", "NoSuchPublicAccessBlockConfiguration",
                            lambda answer: answer["PublicAccessBlockConfiguration"], None),
    "object_ownership": ("get_bucket_ownership_controls", "OwnershipControlsNotFoundError", _ownership, None),
    "policy": ("get_bucket_policy", "NoSuchBucketPolicy", lambda answer: json.loads(answer["Policy"]), None),
    "tags": ("get_bucket_tagging", "NoSuchTagSet", lambda answer: boto3_tag_list_to_ansible_dict(answer["TagSet"]), {}),
}


def read_bucket_settings(s3, bucket, names):
    """``{setting: value}`` for each of ``names``, read in that order, one call each, on an
    amazon.aws retry-wrapped S3 client.

    ``encryption`` is the raw ServerSideEncryptionConfiguration, for the caller's own view;
    ``object_ownership`` the ObjectOwnership of the first rule; ``policy`` the parsed
    document; ``tags`` a dict. A setting the bucket does not have is None (``tags``: {}).
    """
    settings = {}
    for name in names:
        operation, missing, value, absent = _SETTINGS[name]
        try:
            settings[name] = value(getattr(s3, operation)(Bucket=bucket, aws_retry=True))
        except is_boto3_error_code(missing):
            settings[name] = absent
    return settings
