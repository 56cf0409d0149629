# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Amazon EKS bearer tokens, made in-process: no ``aws`` CLI, no aws-iam-authenticator.

An EKS token is a presigned STS ``GetCallerIdentity`` URL. The cluster's authenticator
replays it against STS to learn who signed it; the signed ``x-k8s-aws-id`` header binds
it to one cluster, so a token for one cluster is useless against another. The scheme is
the one of ``awscli/customizations/eks/get_token.py`` and aws-iam-authenticator's
``pkg/token/token.go``, built on botocore's own presigner: the credentials, endpoint
(regional, FIPS, China, ``AWS_ENDPOINT_URL_STS`` or a stand-in) and signature are exactly
what botocore resolves for an STS client, nothing is re-implemented here.

STS accepts such a URL for 15 minutes after its ``X-Amz-Date`` (whatever ``X-Amz-Expires``
says), so a token is treated as valid for 14, as ``aws eks get-token`` reports it, and
:class:`EksToken` replaces it a minute before that: a long wait never sends a stale one.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import datetime
import threading

from urllib.parse import parse_qs, urlsplit

try:
    from botocore.client import BaseClient
except ImportError:
    BaseClient = None  # AnsibleAWSModule reports the missing SDK

TOKEN_PREFIX = "k8s-aws-v1."
CLUSTER_ID_HEADER = "x-k8s-aws-id"
# What awscli and aws-iam-authenticator put in X-Amz-Expires; STS ignores it (see above).
PRESIGN_EXPIRES_SECONDS = 60
TOKEN_LIFETIME = datetime.timedelta(minutes=14)
REFRESH_MARGIN = datetime.timedelta(seconds=60)
# aws-iam-authenticator refuses longer tokens outright; a long session token (session
# policies, many tags) can get there, and "token too large" is clearer than a 401.
MAX_TOKEN_LENGTH = 4096

_AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
_HANDLER_ID = "mlops.platform.eks_token."


def _utc(moment):
    """``moment`` as an aware UTC datetime (a naive one is taken to be UTC already)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone(datetime.timezone.utc)


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def _session_region(session):
    """The region a session, client or module would use by default, or None."""
    meta = getattr(session, "meta", None)  # a client
    if meta is not None and getattr(meta, "region_name", None):
        return meta.region_name
    inner = getattr(session, "client", None)  # amazon.aws's RetryingBotoClientWrapper
    if BaseClient is not None and isinstance(inner, BaseClient):
        return inner.meta.region_name
    if hasattr(session, "params"):  # an AnsibleAWSModule: its own region resolution
        return session.region
    if hasattr(session, "create_client"):  # a botocore session
        return session.get_config_variable("region")
    return getattr(session, "region_name", None)  # a boto3 session


def sts_client(session, region):
    """The STS client that signs tokens for ``region``, with the token's event handlers.

    ``session`` is any of: a boto3 ``Session``; a botocore session; an STS client already
    made (e.g. ``module.client("sts", region=region)``); or an ``AnsibleAWSModule`` (also
    ``MlopsAWSModule``), whose ``client()`` resolves credentials, profile, endpoint, CA
    bundle and ``assume_role`` exactly as for its other clients. A client must be for
    ``region``: the credential scope of the signature is the client's region.
    """
    if not region:
        raise ValueError("an AWS region is needed to sign an EKS token")
    inner = getattr(session, "client", None)
    if BaseClient is not None and isinstance(session, BaseClient):
        client = session
    elif BaseClient is not None and isinstance(inner, BaseClient):
        client = inner  # under amazon.aws's retry wrapper; presigning sends nothing
    elif hasattr(session, "params") and callable(inner):
        client = session.client("sts", region=region)
        client = getattr(client, "client", client)
    elif hasattr(session, "create_client"):
        client = session.create_client("sts", region_name=region)
    elif callable(inner):
        client = session.client("sts", region_name=region)
    else:
        raise TypeError("expected a boto3 or botocore session, an STS client or an AnsibleAWSModule, got %s"
                        % type(session).__name__)

    if client.meta.service_model.service_name != "sts":
        raise ValueError("an EKS token is signed by an STS client, not %s" % client.meta.service_model.service_name)
    if client.meta.region_name != region:
        raise ValueError("the STS client is for region %s, the token is asked for %s" % (client.meta.region_name, region))
    # unique_id: registering twice on a client (a second EksToken) keeps one handler.
    client.meta.events.register("provide-client-params.sts.GetCallerIdentity", _take_cluster_name,
                                unique_id=_HANDLER_ID + "params")
    client.meta.events.register("before-sign.sts.GetCallerIdentity", _add_cluster_header,
                                unique_id=_HANDLER_ID + "header")
    return client


def _take_cluster_name(params, context, **kwargs):
    """Move the cluster name out of the API parameters (STS has no such parameter) into
    the request context, before botocore validates the parameters."""
    if CLUSTER_ID_HEADER in params:
        context[CLUSTER_ID_HEADER] = params.pop(CLUSTER_ID_HEADER)


def _add_cluster_header(request, **kwargs):
    """Add the cluster name as a header just before signing, so that it is a signed header."""
    if CLUSTER_ID_HEADER in request.context:
        request.headers[CLUSTER_ID_HEADER] = request.context[CLUSTER_ID_HEADER]


def get_token(session, cluster_name, region, now=None):
    """A bearer token for the EKS cluster ``cluster_name``: ``(token, expires_at)``.

    ``session`` is anything :func:`sts_client` takes. ``expires_at`` (aware UTC) is the
    signing time (the URL's ``X-Amz-Date``) plus 14 minutes. ``now`` is the caller's clock
    reading taken before the call (aware or naive UTC); when given and earlier than the
    signing time, the 14 minutes count from it instead, so that a caller comparing its
    own clock against ``expires_at`` never keeps a token longer than STS accepts it.

    Raises botocore's errors (``NoCredentialsError``...) as they are, and ValueError for
    a missing cluster name or region, or a token the authenticator would refuse as too long.
    """
    if not cluster_name:
        raise ValueError("an EKS token needs the cluster name")
    client = sts_client(session, region)
    url = client.generate_presigned_url(
        "get_caller_identity",
        Params={CLUSTER_ID_HEADER: cluster_name},
        ExpiresIn=PRESIGN_EXPIRES_SECONDS,
        HttpMethod="GET",
    )
    token = TOKEN_PREFIX + base64.urlsafe_b64encode(url.encode("utf-8")).decode("ascii").rstrip("=")
    if len(token) > MAX_TOKEN_LENGTH:
        raise ValueError("the EKS token for cluster %s is %d bytes, more than the %d the authenticator accepts "
                         "(a very long session token?)" % (cluster_name, len(token), MAX_TOKEN_LENGTH))
    signed_at = _signing_time(_query(url))
    start = signed_at if now is None else min(signed_at, _utc(now))
    return token, start + TOKEN_LIFETIME


def _query(url):
    return dict((name, values[0]) for name, values in parse_qs(urlsplit(url).query, keep_blank_values=True).items())


def _signing_time(query):
    return datetime.datetime.strptime(query["X-Amz-Date"], _AMZ_DATE_FORMAT).replace(tzinfo=datetime.timezone.utc)


def decode_token(token):
    """The presigned URL inside an EKS token, in parts: ``url``, ``scheme``, ``host``,
    ``path``, ``query`` (one value per name), ``signed_headers`` (list), ``credential``
    (``access_key_id``, ``date``, ``region``, ``service``, ``terminator``) and
    ``signed_at`` (aware UTC).

    The parts include the signature and any session token: they are as secret as the
    token itself. For a message, use :func:`describe_token`. Raises ValueError, whose
    message never quotes the token, for anything that is not an EKS token.
    """
    if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX):
        raise ValueError("not an EKS token (no %s prefix)" % TOKEN_PREFIX)
    encoded = token[len(TOKEN_PREFIX):]
    try:
        # validate: urlsafe_b64decode would skip any character outside the alphabet.
        url = base64.b64decode(encoded + "=" * (-len(encoded) % 4), altchars=b"-_", validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise ValueError("not an EKS token (the text after the prefix is not URL-safe base64 of a URL)")
    parts = urlsplit(url)
    query = _query(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or "X-Amz-Credential" not in query:
        raise ValueError("not an EKS token (no presigned URL inside)")
    scope = query["X-Amz-Credential"].split("/")
    if len(scope) != 5 or "X-Amz-Date" not in query:
        raise ValueError("not an EKS token (malformed SigV4 credential or date)")
    try:
        signed_at = _signing_time(query)
    except ValueError:
        raise ValueError("not an EKS token (malformed X-Amz-Date)")
    return dict(
        url=url,
        scheme=parts.scheme,
        host=parts.netloc,
        path=parts.path,
        query=query,
        signed_headers=query.get("X-Amz-SignedHeaders", "").split(";"),
        credential=dict(zip(("access_key_id", "date", "region", "service", "terminator"), scope)),
        signed_at=signed_at,
    )


def describe_token(token):
    """What may be said about a token in a message: where and when it was signed, never
    the signature, the session token or the access key."""
    try:
        parts = decode_token(token)
    except ValueError as e:
        return str(e)
    return "EKS token signed for %s in %s at %s" % (
        parts["host"], parts["credential"]["region"], parts["signed_at"].strftime("%Y-%m-%dT%H:%M:%SZ"))


class EksToken:
    """The bearer token of one EKS cluster, made once and replaced when fewer than 60 s
    remain before its ``expires_at``, so that callers may ask for it before every request.

    Thread-safe: the kubernetes client may send requests from a pool of threads.
    ``clock`` (returning an aware UTC datetime) is there for tests.
    """

    def __init__(self, session, cluster_name, region=None, clock=None, margin=REFRESH_MARGIN):
        if not cluster_name:
            raise ValueError("an EKS token needs the cluster name")
        self.cluster_name = cluster_name
        self.region = region or _session_region(session)
        # One client for every refresh: creating a client is slow and resolves credentials.
        self._sts = sts_client(session, self.region)
        self._clock = clock or utc_now
        self._margin = margin
        self._lock = threading.Lock()
        self._token = None
        self._expires_at = None

    @property
    def expires_at(self):
        """When the current token stops being used (None before the first one)."""
        return self._expires_at

    def get(self):
        """A token with at least ``margin`` left, made anew when needed."""
        with self._lock:
            now = self._clock()
            if self._token is None or self._expires_at - now < self._margin:
                self._token, self._expires_at = get_token(self._sts, self.cluster_name, self.region, now=now)
            return self._token

    def attach(self, configuration):
        """Make every request of a ``kubernetes.client.Configuration`` carry this token.

        The client calls ``refresh_api_key_hook`` before each request, but only once an
        API key is there: a hook set alone never runs. So the first token is put in now
        (which also reports missing AWS credentials now, not at the first request).
        """
        configuration.refresh_api_key_hook = self.refresh_api_key_hook
        self.refresh_api_key_hook(configuration)

    def refresh_api_key_hook(self, configuration):
        """``Configuration.refresh_api_key_hook``: the request carries what it leaves in ``api_key``."""
        configuration.api_key["BearerToken"] = self.get()
        configuration.api_key_prefix["BearerToken"] = "Bearer"

    def __repr__(self):
        return "EksToken(cluster_name=%r, region=%r, expires_at=%s)" % (
            self.cluster_name, self.region, self._expires_at.isoformat() if self._expires_at else None)
