# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every bucket of the collection carries: no public access, owner-enforced, TLS only."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

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
