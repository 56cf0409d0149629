"""EKS bearer tokens (module_utils/eks_token.py), checked against the scheme itself.

Each token is decoded and its presigned URL taken apart; its signature is recomputed
with botocore's SigV4QueryAuth over a request built here from the scheme's definition
(GET, Action=GetCallerIdentity, Version=2011-06-15, signed header x-k8s-aws-id), not
from the code under test. No request is sent: presigning needs no network.
"""

from __future__ import annotations

import base64
import datetime
from urllib.parse import parse_qs, urlsplit

import boto3
import botocore.auth
import botocore.session
import pytest
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import NoCredentialsError

from ansible.module_utils.testing import patch_module_args
from ansible_collections.mlops.platform.plugins.module_utils import eks_token
from ansible_collections.mlops.platform.plugins.module_utils.aws import MlopsAWSModule
from ansible_collections.mlops.platform.plugins.module_utils.eks_token import (
    EksToken,
    decode_token,
    describe_token,
    get_token,
)

ACCESS_KEY = "AKIDEXAMPLEMLOPS0001"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SESSION_TOKEN = "FwoGZXIvYXdzEXAMPLESESSIONTOKEN//////////wEaDEXAMPLE"
CLUSTER = "mlops-dev"
REGION = "eu-west-1"
FOURTEEN_MINUTES = datetime.timedelta(minutes=14)


@pytest.fixture
def clean_env(aws, monkeypatch):
    """The conftest ``aws`` isolation, plus every variable that moves botocore's STS endpoint."""
    for name in ("AWS_ENDPOINT_URL_STS", "AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT",
                 "AWS_STS_REGIONAL_ENDPOINTS", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"):
        monkeypatch.delenv(name, raising=False)


def session(region=REGION, token=None):
    return boto3.Session(aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                         aws_session_token=token, region_name=region)


def recomputed_signature(monkeypatch, parts, cluster_name, region, token=None):
    """The signature botocore's SigV4QueryAuth gives the scheme's request at the token's
    own signing time: built from the definition, not from the presigner's output."""
    signed_at = parts["signed_at"].replace(tzinfo=None)
    request = AWSRequest(
        method="GET",
        url="%s://%s/?Action=GetCallerIdentity&Version=2011-06-15" % (parts["scheme"], parts["host"]),
        headers={"x-k8s-aws-id": cluster_name},
    )
    with monkeypatch.context() as patch:
        patch.setattr(botocore.auth, "get_current_datetime", lambda *args, **kwargs: signed_at)
        SigV4QueryAuth(Credentials(ACCESS_KEY, SECRET_KEY, token), "sts", region, expires=60).add_auth(request)
    return parse_qs(urlsplit(request.url).query)["X-Amz-Signature"][0]


def test_token_is_a_presigned_get_caller_identity_url_in_the_eks_format(clean_env):
    """The token is 'k8s-aws-v1.' + unpadded URL-safe base64 of a presigned GET URL to the
    regional STS host, GetCallerIdentity 2011-06-15, X-Amz-Expires=60, signed with the
    session's key for <date>/<region>/sts/aws4_request over host and x-k8s-aws-id."""
    token = get_token(session(), CLUSTER, REGION)[0]

    assert token.startswith("k8s-aws-v1.")
    body = token[len("k8s-aws-v1."):]
    assert "=" not in body and "+" not in body and "/" not in body
    url = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
    parts = urlsplit(url)
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "sts.eu-west-1.amazonaws.com", "/")
    assert query["Action"] == "GetCallerIdentity"
    assert query["Version"] == "2011-06-15"
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert query["X-Amz-Expires"] == "60"
    assert query["X-Amz-SignedHeaders"] == "host;x-k8s-aws-id"
    key, date, region, service, terminator = query["X-Amz-Credential"].split("/")
    assert (key, region, service, terminator) == (ACCESS_KEY, REGION, "sts", "aws4_request")
    assert date == query["X-Amz-Date"][:8]
    assert "X-Amz-Security-Token" not in query
    assert decode_token(token)["url"] == url


def test_signature_matches_an_independent_sigv4_of_the_scheme(clean_env, monkeypatch):
    """botocore's SigV4QueryAuth, given the scheme's request (cluster name as signed header)
    at the token's X-Amz-Date, yields the token's signature; another cluster name does not."""
    token = get_token(session(), CLUSTER, REGION)[0]
    parts = decode_token(token)

    assert recomputed_signature(monkeypatch, parts, CLUSTER, REGION) == parts["query"]["X-Amz-Signature"]
    assert recomputed_signature(monkeypatch, parts, "other-cluster", REGION) != parts["query"]["X-Amz-Signature"]


def test_session_token_is_carried_and_signed(clean_env, monkeypatch):
    """With temporary credentials the URL carries X-Amz-Security-Token, and the signature
    recomputed with that session token still matches."""
    token = get_token(session(token=SESSION_TOKEN), CLUSTER, REGION)[0]
    parts = decode_token(token)

    assert parts["query"]["X-Amz-Security-Token"] == SESSION_TOKEN
    assert recomputed_signature(monkeypatch, parts, CLUSTER, REGION, SESSION_TOKEN) == parts["query"]["X-Amz-Signature"]


def test_changing_the_cluster_name_changes_the_signature(clean_env, monkeypatch):
    """Two tokens signed at the same instant differ only by cluster: their signatures differ."""
    fixed = datetime.datetime(2026, 11, 30, 12, 0, 0)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *args, **kwargs: fixed)
    first = decode_token(get_token(session(), "cluster-a", REGION)[0])
    second = decode_token(get_token(session(), "cluster-b", REGION)[0])

    assert first["query"]["X-Amz-Date"] == second["query"]["X-Amz-Date"] == "20261130T120000Z"
    assert first["query"]["X-Amz-Signature"] != second["query"]["X-Amz-Signature"]


def test_expires_at_is_signing_time_plus_fourteen_minutes(clean_env):
    """expires_at is the URL's own X-Amz-Date plus 14 minutes, as an aware UTC datetime."""
    token, expires_at = get_token(session(), CLUSTER, REGION)

    assert expires_at.tzinfo is not None and expires_at.utcoffset() == datetime.timedelta(0)
    assert expires_at == decode_token(token)["signed_at"] + FOURTEEN_MINUTES


def test_an_earlier_caller_clock_moves_expiry_earlier_never_later(clean_env):
    """A ``now`` before the signing time counts the 14 minutes from ``now``; a later one is
    ignored, so expires_at never passes what STS accepts."""
    earlier = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    token, expires_at = get_token(session(), CLUSTER, REGION, now=earlier)
    assert expires_at == earlier + FOURTEEN_MINUTES

    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
    token, expires_at = get_token(session(), CLUSTER, REGION, now=later.replace(tzinfo=None))
    assert expires_at == decode_token(token)["signed_at"] + FOURTEEN_MINUTES


@pytest.mark.parametrize("region, host", [
    ("eu-west-1", "sts.eu-west-1.amazonaws.com"),
    ("us-east-1", "sts.us-east-1.amazonaws.com"),
    ("cn-north-1", "sts.cn-north-1.amazonaws.com.cn"),
    ("us-gov-west-1", "sts.us-gov-west-1.amazonaws.com"),
])
def test_host_is_the_regional_sts_endpoint_of_the_partition(clean_env, region, host):
    """The URL's host is the regional STS endpoint of the region's partition (us-east-1
    included: not the global sts.amazonaws.com), and the credential scope names the region."""
    parts = decode_token(get_token(session(region), CLUSTER, region)[0])

    assert parts["host"] == host
    assert parts["credential"]["region"] == region


def test_endpoint_is_the_one_botocore_resolves(clean_env, monkeypatch):
    """AWS_ENDPOINT_URL_STS (a stand-in) and AWS_USE_FIPS_ENDPOINT are honoured because the
    token uses the STS client's own endpoint."""
    monkeypatch.setenv("AWS_USE_FIPS_ENDPOINT", "true")
    assert decode_token(get_token(session("us-east-1"), CLUSTER, "us-east-1")[0])["host"] == \
        "sts-fips.us-east-1.amazonaws.com"

    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:5000")
    parts = decode_token(get_token(session(), CLUSTER, REGION)[0])
    assert (parts["scheme"], parts["host"]) == ("http", "127.0.0.1:5000")


def test_botocore_session_and_sts_client_are_accepted(clean_env):
    """A botocore session and a ready STS client sign with their own credentials; a client
    for another region is refused rather than signing the wrong credential scope."""
    core = botocore.session.Session()
    core.set_credentials(ACCESS_KEY, SECRET_KEY)
    assert decode_token(get_token(core, CLUSTER, REGION)[0])["credential"]["access_key_id"] == ACCESS_KEY

    client = session().client("sts", region_name=REGION)
    assert decode_token(get_token(client, CLUSTER, REGION)[0])["host"] == "sts.eu-west-1.amazonaws.com"
    with pytest.raises(ValueError, match="region eu-west-1.*us-east-1"):
        get_token(client, CLUSTER, "us-east-1")


def test_an_ansible_aws_module_signs_with_its_resolved_credentials(aws, api_calls):
    """From MlopsAWSModule, the token is signed with the credentials the module resolved:
    the caller's environment key, or, with assume_role, the role's temporary key (ASIA...,
    with its session token), obtained through the module's own AssumeRole."""
    import os

    with patch_module_args({"region": REGION}):
        module = MlopsAWSModule(argument_spec={}, supports_check_mode=True)
    parts = decode_token(get_token(module, CLUSTER, REGION)[0])
    assert parts["credential"]["access_key_id"] == os.environ["AWS_ACCESS_KEY_ID"]
    assert parts["host"] == "sts.eu-west-1.amazonaws.com"

    role = {"role_arn": "arn:aws:iam::111111111111:role/OrganizationAccountAccessRole"}
    with patch_module_args({"region": REGION, "assume_role": role}):
        module = MlopsAWSModule(argument_spec={}, supports_check_mode=True)
    parts = decode_token(EksToken(module, CLUSTER).get())
    assumed = [response for operation, response in api_calls if operation == "AssumeRole"]
    assert len(assumed) == 1
    assert parts["credential"]["access_key_id"] == assumed[0]["Credentials"]["AccessKeyId"]
    assert parts["query"]["X-Amz-Security-Token"] == assumed[0]["Credentials"]["SessionToken"]
    # Presigning is not an API call: nothing besides AssumeRole went out.
    assert [call[0] for call in api_calls] == ["AssumeRole"]


def test_missing_inputs_and_credentials_fail_clearly(clean_env, monkeypatch):
    """No cluster name or region is a ValueError; no credentials at all is botocore's
    NoCredentialsError, raised as such for fail_json_aws."""
    with pytest.raises(ValueError, match="cluster name"):
        get_token(session(), "", REGION)
    with pytest.raises(ValueError, match="region"):
        get_token(session(), CLUSTER, None)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(NoCredentialsError):
        get_token(boto3.Session(region_name=REGION), CLUSTER, REGION)


def test_too_long_a_token_is_refused(clean_env):
    """A token over the authenticator's 4 KiB limit (a huge session token) is refused here,
    and the message names the cluster but quotes neither token nor session token."""
    huge = "S" * 3500
    with pytest.raises(ValueError) as error:
        get_token(session(token=huge), CLUSTER, REGION)
    assert CLUSTER in str(error.value) and "4096" in str(error.value)
    assert huge not in str(error.value) and "k8s-aws-v1." not in str(error.value)


class Clock:
    """A settable UTC clock, whole seconds as X-Amz-Date has them."""

    def __init__(self):
        self.now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)

    def __call__(self):
        return self.now

    def advance(self, **kwargs):
        self.now += datetime.timedelta(**kwargs)


@pytest.fixture
def clock(monkeypatch):
    """One clock for EksToken and for botocore's signer, so that tokens are signed at its time."""
    clock = Clock()
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *args, **kwargs: clock.now.replace(tzinfo=None))
    return clock


def test_eks_token_is_reused_until_sixty_seconds_before_expiry(clean_env, clock, monkeypatch):
    """EksToken makes one token and hands it out while at least 60 s remain; with fewer
    (13 min 1 s later) it makes a new one, valid 14 minutes from then."""
    signed = []
    real_get_token = eks_token.get_token
    monkeypatch.setattr(eks_token, "get_token", lambda *args, **kwargs: signed.append(1) or real_get_token(*args, **kwargs))
    token = EksToken(session(), CLUSTER, REGION, clock=clock)

    first = token.get()
    assert token.expires_at == clock.now + FOURTEEN_MINUTES
    clock.advance(minutes=13)  # exactly 60 s left: still good
    assert token.get() is first
    assert len(signed) == 1

    clock.advance(seconds=1)
    token.get()
    assert len(signed) == 2
    assert token.expires_at == clock.now + FOURTEEN_MINUTES
    assert decode_token(token.get())["signed_at"] == clock.now


def test_eks_token_never_hands_out_an_expired_token_after_a_long_wait(clean_env, clock):
    """After an hour's wait the token handed out was signed after the wait."""
    token = EksToken(session(), CLUSTER, REGION, clock=clock)
    token.get()
    clock.advance(hours=1)
    token.get()

    assert token.expires_at - clock.now == FOURTEEN_MINUTES
    assert decode_token(token.get())["signed_at"] == clock.now


def test_attach_makes_every_request_carry_a_fresh_bearer_token(clean_env, clock):
    """After attach(), the kubernetes client's auth header is 'Bearer <token>', and a token
    replaced by the refresh shows up in the next header. (The client calls the hook only
    when a key is already there: a hook set alone never runs, hence attach.)"""
    from kubernetes.client import Configuration

    bare = Configuration(host="https://example.eks.amazonaws.com")
    bare.refresh_api_key_hook = EksToken(session(), CLUSTER, REGION).refresh_api_key_hook
    assert "BearerToken" not in bare.auth_settings()

    token = EksToken(session(), CLUSTER, REGION, clock=clock)
    configuration = Configuration(host="https://example.eks.amazonaws.com")
    token.attach(configuration)
    first = configuration.auth_settings()["BearerToken"]["value"]
    assert first == "Bearer " + token.get()

    clock.advance(minutes=20)
    second = configuration.auth_settings()["BearerToken"]["value"]
    assert second != first
    assert decode_token(second[len("Bearer "):])["signed_at"] == clock.now


def test_no_token_text_in_repr_or_messages(clean_env):
    """repr/str of an EksToken, describe_token and decode_token's errors never contain the
    token, its base64 body, its signature or the session token."""
    token = EksToken(session(token=SESSION_TOKEN), CLUSTER, REGION)
    text = token.get()
    parts = decode_token(text)
    secrets = [text, text[len("k8s-aws-v1."):][:40], parts["query"]["X-Amz-Signature"], SESSION_TOKEN]
    said = [repr(token), str(token), describe_token(text)]
    for broken in (text[:-7] + "!!!!!!!", "k8s-aws-v1." + base64.urlsafe_b64encode(b"https://x/?a=1").decode(),
                   text[len("k8s-aws-v1."):]):
        with pytest.raises(ValueError) as error:
            decode_token(broken)
        said.append(str(error.value))
        said.append(describe_token(broken))

    assert "eu-west-1" in describe_token(text)
    for message in said:
        for secret in secrets:
            assert secret not in message, message
        assert ACCESS_KEY not in message
