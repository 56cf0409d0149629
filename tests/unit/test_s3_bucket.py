"""The one bucket helper: what it plans to write, its ownership rule, its policy merge order."""

import pytest

from ansible_collections.mlops.platform.plugins.module_utils import s3_bucket
from ansible_collections.mlops.platform.plugins.module_utils.aws import AWSResourceError
from ansible_collections.mlops.platform.plugins.module_utils.s3_policy import PUBLIC_ACCESS_BLOCK

OURS = {"Sid": "OursDeny", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"}
FOREIGN = {"Sid": "Auditors", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:root"},
           "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b"}
OWNERSHIP = {"mlops.platform/managed": "true"}


def is_ours(statement):
    return statement.get("Sid", "").startswith("Ours")


def converged(**changes):
    state = {"public_access_block": dict(PUBLIC_ACCESS_BLOCK), "object_ownership": "BucketOwnerEnforced",
             "encryption": s3_bucket.s3_encryption(), "tags": dict(OWNERSHIP, team="data"),
             "policy": {"Version": "2012-10-17", "Statement": [OURS, FOREIGN]}, "versioning": "Enabled"}
    state.update(changes)
    return state


def test_a_new_bucket_gets_every_setting_in_the_one_order():
    desired, writes = s3_bucket.plan_bucket(None, s3_bucket.s3_encryption(), [OURS], is_ours, OWNERSHIP, "Enabled")
    assert writes == ["public_access_block", "object_ownership", "encryption", "versioning", "tags", "policy"]
    assert desired["policy"]["Statement"] == [OURS]
    assert s3_bucket.plan_bucket(None, s3_bucket.s3_encryption(), [OURS], is_ours, {}, "Disabled")[1] == [
        "public_access_block", "object_ownership", "encryption", "policy"]


def test_a_converged_bucket_plans_nothing_and_keeps_others_tags_and_statements():
    desired, writes = s3_bucket.plan_bucket(converged(), s3_bucket.s3_encryption(), [OURS], is_ours, OWNERSHIP, "Enabled")
    assert writes == []
    assert desired["tags"] == dict(OWNERSHIP, team="data")
    assert desired["policy"]["Statement"] == [OURS, FOREIGN]


def test_only_what_differs_is_written():
    current = converged(tags={"team": "data", "mlops.platform/managed": "false"},
                        policy={"Statement": [FOREIGN]}, encryption=None)
    desired, writes = s3_bucket.plan_bucket(current, s3_bucket.kms_encryption("arn:k"), [OURS], is_ours, OWNERSHIP)
    assert writes == ["encryption", "tags", "policy"]
    assert desired["tags"] == dict(OWNERSHIP, team="data")
    assert desired["policy"]["Statement"] == [OURS, FOREIGN]  # ours first, then others', for every bucket
    assert s3_bucket.encryption_request(desired["encryption"]) == {"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "arn:k"},
        "BucketKeyEnabled": True}]}


def test_the_ownership_rule():
    s3_bucket.check_owned("b", {"tags": dict(OWNERSHIP, team="x")}, OWNERSHIP, "config.x", "us")
    with pytest.raises(AWSResourceError) as error:
        s3_bucket.check_owned("b", {"tags": {"team": "x"}, "policy": None}, OWNERSHIP, "config.x", "us")
    assert error.value.path == "config.x"
    assert 'the bucket b exists without the ownership tags of us (it carries {"team": "x"})' in error.value.message
    assert error.value.message.endswith("tag it mlops.platform/managed=true")
    with pytest.raises(AWSResourceError):  # no tag, but someone's policy: not a bucket an interrupted run left
        s3_bucket.check_owned("b", {"tags": {}, "policy": {"Statement": [FOREIGN]}}, OWNERSHIP, "config.x", "us")
    warned = []
    s3_bucket.check_owned("b", {"tags": {}, "policy": None}, OWNERSHIP, "config.x", "us", warned.append)
    assert len(warned) == 1 and "the bucket b had no tag and no policy" in warned[0]
