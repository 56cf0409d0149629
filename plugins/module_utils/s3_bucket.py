# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The buckets a component owns: one helper for every component (the data lake's zone, log and
replica buckets, the organization trail's bucket).

Every bucket of the collection is public access blocked, ``BucketOwnerEnforced``, encrypted by
default (SSE-S3 or SSE-KMS with a customer managed key and S3 Bucket Keys), carries a policy
of which the component owns some statements, and carries the component's ownership tags, set
in CreateBucket itself where S3 takes them. The component's own settings (versioning,
lifecycle, logging, replication...) are the caller's.

One ownership rule: a bucket that exists without the component's ownership tags is refused,
never changed or used, with the config path and what would let the component take it over.
The one exception is the state CreateBucket leaves where it drops the tags it was given (S3
partitions without tags on create, the local stand-in) and a run stopped right after it: no
tag and no policy at all. That bucket is taken as the one an interrupted run made, with a
warning that names it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.policy import compare_policies
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags

from ansible_collections.mlops.platform.plugins.module_utils.aws import AWSResourceError, create_once, wait_until
from ansible_collections.mlops.platform.plugins.module_utils.resource_policy import merged_policy
from ansible_collections.mlops.platform.plugins.module_utils.s3_policy import OBJECT_OWNERSHIP
from ansible_collections.mlops.platform.plugins.module_utils.s3_policy import PUBLIC_ACCESS_BLOCK
from ansible_collections.mlops.platform.plugins.module_utils.s3_policy import read_bucket_settings

SSE_S3 = "AES256"
SSE_KMS = "aws:kms"

# The settings every bucket of ours has, in the order they are written: closed and
# owner-enforced first, encrypted and versioned next, tagged, then the policy (which other
# services, CloudTrail for one, check), so the bucket is never open while the rest is set.
SETTINGS = ("public_access_block", "object_ownership", "encryption", "versioning", "tags", "policy")

_NOT_MINE = ("404", "NoSuchBucket", "NotFound", "403", "AccessDenied", "Forbidden")


# ---------------------------------------------------------------- encryption


def kms_encryption(kms_key_arn):
    """SSE-KMS with a customer managed key and S3 Bucket Keys."""
    return {"sse_algorithm": SSE_KMS, "kms_key": kms_key_arn, "bucket_key": True}


def s3_encryption():
    return {"sse_algorithm": SSE_S3, "kms_key": None, "bucket_key": False}


def encryption_state(configuration):
    """The diffable form of a GetBucketEncryption answer (None when the bucket has none)."""
    if not configuration:
        return None
    rule = (configuration.get("Rules") or [{}])[0]
    default = rule.get("ApplyServerSideEncryptionByDefault") or {}
    return {"sse_algorithm": default.get("SSEAlgorithm"), "kms_key": default.get("KMSMasterKeyID"),
            "bucket_key": bool(rule.get("BucketKeyEnabled"))}


def encryption_request(state):
    """The ServerSideEncryptionConfiguration that sets ``state``."""
    default = {"SSEAlgorithm": state["sse_algorithm"]}
    if state["kms_key"]:
        default["KMSMasterKeyID"] = state["kms_key"]
    return {"Rules": [{"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": state["bucket_key"]}]}


# ---------------------------------------------------------------- the bucket


def bucket_region(s3, name):
    """The region of a bucket this account owns, or None (absent, or another account's)."""
    try:
        return s3.head_bucket(Bucket=name, aws_retry=True)["ResponseMetadata"]["HTTPHeaders"].get(
            "x-amz-bucket-region", "")
    except is_boto3_error_code(_NOT_MINE):
        return None


def read_bucket(s3, name, versioning=False, known=None):
    """The settings of an existing bucket that every bucket of ours has, one read each;
    ``known`` (from :func:`read_ownership`) is not read again."""
    state = {}
    if versioning:
        state["versioning"] = s3.get_bucket_versioning(Bucket=name, aws_retry=True).get("Status") or "Disabled"
    state.update(read_bucket_settings(s3, name, [setting for setting in ("encryption", "public_access_block",
                                                                         "object_ownership", "policy", "tags")
                                                 if setting not in (known or {})]))
    state.update(known or {})
    state["encryption"] = encryption_state(state["encryption"])
    return state


def read_ownership(s3, name, ownership, path, owner, warn=None):
    """Check an existing bucket's ownership (:func:`check_owned`) before anything is written:
    its tags, and its policy only when it has no tag. Returns what was read, for
    :func:`read_bucket`'s ``known``."""
    known = read_bucket_settings(s3, name, ("tags",))
    if not known["tags"]:
        known.update(read_bucket_settings(s3, name, ("policy",)))
    check_owned(name, known, ownership, path, owner, warn)
    return known


class BucketNotOwned(AWSResourceError):
    """A bucket of the name a component needs that does not carry its ownership tags."""


def check_owned(name, current, ownership, path, owner, warn=None):
    """Refuse a bucket whose tags lack any of ``ownership`` (``{tag: value}``); ``owner`` says
    whose it should be (``the data_lake of environment dev``)."""
    tags = current.get("tags") or {}
    if all(tags.get(key) == value for key, value in ownership.items()):
        return
    if not tags and not current.get("policy"):
        if warn:
            warn("the bucket %s had no tag and no policy, as CreateBucket leaves it when a run stops right after "
                 "it; it is taken as that run's and given the ownership tags of %s" % (name, owner))
        return
    raise BucketNotOwned(path, (
        "the bucket %s exists without the ownership tags of %s (it carries %s); it is neither used nor changed. "
        "Choose another name, or, to hand the bucket to it, tag it %s"
        % (name, owner, json.dumps(tags, sort_keys=True) if tags else "no tags",
           ", ".join("%s=%s" % item for item in sorted(ownership.items())))))


def plan_bucket(current, encryption, statements, is_ours, tags, versioning=None):
    """``(desired, writes)``: what the bucket should carry of :data:`SETTINGS` and which of
    them to write, in :data:`SETTINGS` order. ``current`` is :func:`read_bucket`'s (None for a
    bucket to create); ``tags`` are added to the bucket's, the others kept (compared through
    amazon.aws's ``compare_aws_tags``); ``versioning`` (``Enabled``, ``Suspended``, or
    ``Disabled`` for a bucket never versioned) is left alone when None."""
    live_tags = (current or {}).get("tags") or {}
    missing_tags = compare_aws_tags(live_tags, tags, purge_tags=False)[0]
    desired = {
        "public_access_block": dict(PUBLIC_ACCESS_BLOCK),
        "object_ownership": OBJECT_OWNERSHIP,
        "encryption": encryption,
        "tags": dict(live_tags, **missing_tags),
        "policy": merged_policy((current or {}).get("policy"), statements, is_ours),
    }
    if versioning is not None:
        desired["versioning"] = versioning
    writes = []
    for setting in SETTINGS:
        if setting not in desired or setting == "versioning" and desired[setting] == "Disabled":
            continue
        if setting == "tags":
            if missing_tags:
                writes.append(setting)
        elif current is None:
            writes.append(setting)  # what a new bucket starts with depends on S3's defaults of the day
        elif setting == "policy":
            if current["policy"] is None or compare_policies(current["policy"], desired["policy"]):
                writes.append(setting)
        elif current[setting] != desired[setting]:
            writes.append(setting)
    return desired, writes


def create_bucket(s3, s3_once, name, region, tags, path):
    """CreateBucket (owner-enforced, tagged where S3 takes tags on create) at most once, then
    wait until S3 answers for it. ``s3_once`` is a client that does not retry by itself."""
    configuration = {}
    if region != "us-east-1":
        configuration["LocationConstraint"] = region
    if "Tags" in getattr(s3, "client", s3).meta.service_model.shape_for("CreateBucketConfiguration").members:
        configuration["Tags"] = ansible_dict_to_boto3_tag_list(tags)
    create = {"Bucket": name, "ObjectOwnership": OBJECT_OWNERSHIP}
    if configuration:
        create["CreateBucketConfiguration"] = configuration
    # BucketAlreadyOwnedByYou: this run's own CreateBucket whose answer was lost (or a bucket made
    # since the read) - the read after it checks the ownership tags like any bucket's.
    create_once(lambda: s3_once.create_bucket(**create), lambda: bucket_region(s3, name),
                exists_codes=("BucketAlreadyOwnedByYou", "BucketAlreadyExists"),
                foreign=lambda: AWSResourceError(path, "the bucket name %s is taken by another AWS account (bucket "
                                                       "names are global); choose another name" % name))
    wait_until(getattr(s3, "client", s3).get_waiter("bucket_exists"), Bucket=name)


def write_settings(s3, name, writes, desired):
    """Write each of ``writes`` (:data:`SETTINGS`, in that order) as ``desired`` has it."""
    for setting in SETTINGS:
        if setting not in writes:
            continue
        value = desired[setting]
        if setting == "public_access_block":
            s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=dict(value), aws_retry=True)
        elif setting == "object_ownership":
            s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls={"Rules": [{"ObjectOwnership": value}]},
                                             aws_retry=True)
        elif setting == "encryption":
            s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration=encryption_request(value),
                                     aws_retry=True)
        elif setting == "versioning":
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": value}, aws_retry=True)
        elif setting == "tags":  # PutBucketTagging replaces the set: the others' tags are sent too
            s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": ansible_dict_to_boto3_tag_list(value)},
                                  aws_retry=True)
        else:
            s3.put_bucket_policy(Bucket=name, Policy=json.dumps(value, sort_keys=True), aws_retry=True)
