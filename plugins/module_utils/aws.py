# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""AWS access shared by every AWS module of the collection.

``MlopsAWSModule`` is amazon.aws's ``AnsibleAWSModule`` plus one option, ``assume_role``.
With it set, every client and resource the module makes acts in the role's account
(an environment's member account), using temporary credentials that live only in
this process. Credential resolution, endpoints, CA bundles, botocore config and
retries stay amazon.aws's: the only thing this class changes is which credentials
go into the connection arguments that ``AnsibleAWSModule.client()`` already builds.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import random
import re
import time
import uuid

try:
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, EndpointConnectionError
    from botocore.exceptions import ConnectionError as BotoCoreConnectionError
    from botocore.exceptions import HTTPClientError, IncompleteReadError, WaiterError
    from botocore.parsers import ResponseParserError
    _CONNECTION_ERRORS = (BotoCoreConnectionError, HTTPClientError, IncompleteReadError)
except ImportError:
    _CONNECTION_ERRORS = ()  # AnsibleAWSModule reports the missing SDK

from ansible_collections.amazon.aws.plugins.module_utils.botocore import paginated_query_with_retries
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

# Refusals that AWS documents as "not applied": the request may be sent again as it is.
# AWSRetry knows only some of them (not KMS's ThrottlingException, S3's SlowDown...).
THROTTLING_CODES = frozenset((
    "Throttling", "ThrottlingException", "ThrottledException", "RequestLimitExceeded", "RequestThrottled",
    "RequestThrottledException", "TooManyRequestsException", "SlowDown", "EC2ThrottledException",
    "PriorRequestNotComplete", "BandwidthLimitExceeded",
    # Organizations: "the target is being modified by a different request; try again later".
    "ConcurrentModificationException",
))
# Server-side failures: the request may or may not have been applied.
SERVER_ERROR_CODES = frozenset((
    "InternalError", "InternalFailure", "InternalFailureException", "InternalServerError",
    "InternalServerException", "ServiceUnavailable", "ServiceUnavailableException", "Unavailable",
    "ServiceFailure", "ServiceException", "KMSInternalException", "KMSInternal",
))

CONNECTION_FAILED = "(connection failed)"


class _Retry(AWSRetry):
    """AWSRetry that also retries a broken connection (reset, lost answer, read timeout), as
    botocore does only a couple of times: for reads and idempotent writes only, the calls
    made with ``aws_retry=True`` (creates go through create_once, never through this)."""

    base_class = (AWSRetry.base_class,) + _CONNECTION_ERRORS

    @staticmethod
    def status_code_from_exception(error):
        return error.response["Error"]["Code"] if isinstance(error, ClientError) else CONNECTION_FAILED


# One retry policy for the collection's reads and idempotent writes (Put*, Modify*, Tag*).
# A platform converge makes many calls in a burst against the same accounts, so
# throttling is expected: ten jittered attempts, starting at 1 s and capped at 30 s,
# ride that out within about three minutes without hiding a real outage for longer. A
# client retries a call only when it is made with aws_retry=True. Creates never use it:
# see create_once.
AWS_RETRY = _Retry.jittered_backoff(
    retries=10, delay=1, max_delay=30,
    catch_extra_error_codes=sorted(THROTTLING_CODES | SERVER_ERROR_CODES | {CONNECTION_FAILED}))


def paginate(client, operation, key, retry=AWS_RETRY, **params):
    """Every item under ``key`` of every page of ``operation``: amazon.aws's paginator, our retries.

    An answer without ``key`` on any page (ListObjectsV2's ``CommonPrefixes`` when there is
    none: botocore's full result then leaves the key out) has no item: ``[]``."""
    return paginated_query_with_retries(client, operation, retry_decorator=retry, **params).get(key, [])


def settling_retry(*error_codes):
    """Retries for what AWS refuses only until a change made moments before is visible
    (IAM propagation, a designation settling): throttling plus ``error_codes``, bounded to
    about two minutes, then the error. For the calls that depend on the change only, as
    those codes are real refusals anywhere else."""
    return AWSRetry.jittered_backoff(retries=8, delay=5, max_delay=20,
                                     catch_extra_error_codes=sorted(THROTTLING_CODES | set(error_codes)))


DEFAULT_SESSION_NAME = "mlops-platform"

# Partition (aws, aws-cn, aws-us-gov, aws-iso-b...), 12-digit account, optional path.
ROLE_ARN_PATTERN = re.compile(r"^arn:aws(-[a-z]+)*:iam::[0-9]{12}:role/([\w+=,.@-]+/)*[\w+=,.@-]{1,64}$")
SESSION_NAME_PATTERN = re.compile(r"^[\w+=,.@-]{2,64}$")
EXTERNAL_ID_PATTERN = re.compile(r"^[\w+=,.@:/-]{2,1224}$")
MIN_DURATION_SECONDS = 900
MAX_DURATION_SECONDS = 43200


def assume_role_argument_spec():
    """The ``assume_role`` option, as documented by the mlops.platform.assume_role fragment."""
    return dict(
        assume_role=dict(
            type="dict",
            options=dict(
                role_arn=dict(type="str", required=True),
                # An external ID guards against the confused-deputy problem; AWS does
                # not treat it as a secret. It is still never put into a message.
                external_id=dict(type="str", no_log=False),
                session_name=dict(type="str", default=DEFAULT_SESSION_NAME),
                duration_seconds=dict(type="int", default=3600),
            ),
        ),
    )


def assume_role_problems(assume_role):
    """Every problem with the ``assume_role`` option, as messages (empty when valid).

    The argument spec checks types; the shapes AWS would reject only after a round
    trip are checked here. No message contains the external ID.
    """
    problems = []
    role_arn = assume_role["role_arn"]
    if not ROLE_ARN_PATTERN.match(role_arn):
        problems.append(
            "assume_role.role_arn %r is not an IAM role ARN (expected arn:aws:iam::<12-digit account>:role/<name>)"
            % role_arn
        )
    if not SESSION_NAME_PATTERN.match(assume_role["session_name"]):
        problems.append(
            "assume_role.session_name %r must be 2 to 64 characters of letters, digits and +=,.@_-"
            % assume_role["session_name"]
        )
    duration = assume_role["duration_seconds"]
    if not MIN_DURATION_SECONDS <= duration <= MAX_DURATION_SECONDS:
        problems.append(
            "assume_role.duration_seconds %d is outside %d..%d" % (duration, MIN_DURATION_SECONDS, MAX_DURATION_SECONDS)
        )
    external_id = assume_role.get("external_id")
    if external_id is not None and not EXTERNAL_ID_PATTERN.match(external_id):
        problems.append("assume_role.external_id must be 2 to 1224 characters of letters, digits and +=,.@:/_-")
    return problems


# Operations that change nothing (AssumeRole only hands out credentials); the rest write.
READ_PREFIXES = ("Describe", "List", "Get", "Head", "AssumeRole")


class CallCounter:
    """Counts the API calls of every client it is attached to (retries included).

    Uses botocore's own ``before-call`` event, so it sees exactly what goes on the wire.
    """

    def __init__(self):
        self.by_operation = {}

    def attach(self, client):
        raw = getattr(client, "client", client)  # under amazon.aws's retry wrapper
        raw.meta.events.register("before-call.*.*", self.count)

    def count(self, model, **kwargs):
        self.by_operation[model.name] = self.by_operation.get(model.name, 0) + 1

    def summary(self):
        writes = sum(count for operation, count in self.by_operation.items() if not operation.startswith(READ_PREFIXES))
        return {"total": sum(self.by_operation.values()), "writes": writes,
                "by_operation": dict(sorted(self.by_operation.items()))}


def _credential_params(credentials):
    """boto3's credential arguments for an AssumeRole answer's ``Credentials``."""
    return dict(aws_access_key_id=credentials["AccessKeyId"], aws_secret_access_key=credentials["SecretAccessKey"],
                aws_session_token=credentials["SessionToken"])


def _no_retry_config():
    """The botocore config of a client that never retries by itself (see :func:`create_once`)."""
    return Config(retries={"total_max_attempts": 1})


class MlopsAWSModule(AnsibleAWSModule):
    """``AnsibleAWSModule`` whose clients act in the account of ``assume_role``, when given.

    Without ``assume_role`` it behaves exactly as ``AnsibleAWSModule``. Every result also
    carries ``api_calls``: the calls the run made, by operation, and how many wrote.
    """

    def __init__(self, **kwargs):
        argument_spec = assume_role_argument_spec()
        argument_spec.update(kwargs.get("argument_spec") or {})
        kwargs["argument_spec"] = argument_spec
        super().__init__(**kwargs)
        # Held in memory only, never in params or results; one AssumeRole per run.
        self._assumed_role_credentials = None
        self._once_clients = {}
        self._other_role_credentials = {}  # role ARN -> credentials, see role_client
        self.api_calls = CallCounter()

        assume_role = self.params.get("assume_role")
        if assume_role:
            problems = assume_role_problems(assume_role)
            if problems:
                self.fail_json(msg="Invalid assume_role: " + "; ".join(problems))

    @property
    def assumed_role_arn(self):
        """The ARN of the role the module's clients act as, or None without ``assume_role``."""
        assume_role = self.params.get("assume_role")
        return assume_role["role_arn"] if assume_role else None

    def client(self, service, retry_decorator=None, **extra_params):
        extra_params.update(self._role_connection_params())
        client = super().client(service, retry_decorator=retry_decorator, **extra_params)
        self.api_calls.attach(client)
        return client

    def once_client(self, service, region=None):
        """A client whose calls botocore never retries by itself: for :func:`create_once`."""
        key = (service, region)
        if key not in self._once_clients:
            extra = {"config": _no_retry_config()}
            if region:
                extra["region"] = region
            self._once_clients[key] = self.client(service, **extra)
        return self._once_clients[key]

    def role_client(self, role_arn, service, retry_decorator=None, once=False, region=None):
        """A client acting as ``role_arn``, a role of another account entered from the module's
        own identity (the organization's security account through its access role). One
        AssumeRole per role and run; the credentials stay in this process. With ``once``, a
        client that never retries by itself, for :func:`create_once`. Raises botocore's
        ClientError / BotoCoreError when the role cannot be assumed."""
        if role_arn not in self._other_role_credentials:
            credentials = self.client("sts", retry_decorator=AWS_RETRY).assume_role(
                RoleArn=role_arn, RoleSessionName=DEFAULT_SESSION_NAME, aws_retry=True)["Credentials"]
            self._other_role_credentials[role_arn] = _credential_params(credentials)
        extra = dict(self._other_role_credentials[role_arn])
        if once:
            extra["config"] = _no_retry_config()
        if region:
            extra["region"] = region
        client = super().client(service, retry_decorator=retry_decorator, **extra)
        self.api_calls.attach(client)
        return client

    def resource(self, service, **extra_params):
        extra_params.update(self._role_connection_params())
        resource = super().resource(service, **extra_params)
        self.api_calls.attach(resource.meta.client)
        return resource

    def exit_json(self, *args, **kwargs):
        kwargs.setdefault("api_calls", self.api_calls.summary())
        super().exit_json(*args, **kwargs)

    def fail_json(self, *args, **kwargs):
        if hasattr(self, "api_calls"):  # a failure in AnsibleAWSModule.__init__ comes before it
            kwargs.setdefault("api_calls", self.api_calls.summary())
        super().fail_json(*args, **kwargs)

    def _role_connection_params(self):
        """boto3 credential arguments for the assumed role ({} without ``assume_role``).

        AnsibleAWSModule.client() lets extra parameters override the connection
        arguments it resolved, so only the credentials change: region, endpoint_url,
        CA bundle, validate_certs, aws_config and profile settings are kept.
        """
        if not self.params.get("assume_role"):
            return {}
        if self._assumed_role_credentials is None:
            self._assumed_role_credentials = _credential_params(self._assume_role())
        return dict(self._assumed_role_credentials)

    def _assume_role(self):
        assume_role = self.params["assume_role"]
        request = dict(
            RoleArn=assume_role["role_arn"],
            RoleSessionName=assume_role["session_name"],
            DurationSeconds=assume_role["duration_seconds"],
        )
        if assume_role.get("external_id"):
            request["ExternalId"] = assume_role["external_id"]
        # The caller's own STS client: made by AnsibleAWSModule from the module's
        # credentials, profile, region and endpoint, exactly as without assume_role.
        sts = super().client("sts", retry_decorator=AWS_RETRY)
        self.api_calls.attach(sts)
        try:
            response = sts.assume_role(aws_retry=True, **request)
        except (BotoCoreError, ClientError) as e:
            self.fail_json_aws(e, msg="could not assume role %s" % assume_role["role_arn"])
        return response["Credentials"]


def partition_of(arn):
    """The partition of any ARN (``aws``, ``aws-cn``, ``aws-us-gov``...)."""
    return arn.split(":")[1]


def caller_identity(module):
    """Who the module's clients act as: ``{account_id, arn, user_id, partition}`` from
    sts:GetCallerIdentity; the one place a module learns its account and partition.

    Raises botocore's BotoCoreError / ClientError; the caller reports them.
    """
    sts = module.client("sts", retry_decorator=AWS_RETRY)
    identity = sts.get_caller_identity(aws_retry=True)
    return dict(account_id=identity["Account"], arn=identity["Arn"], user_id=identity["UserId"],
                partition=partition_of(identity["Arn"]))


# --- Writes that take effect at most once ---------------------------------------------------
#
# A create whose response is lost (connection reset, read timeout, a 5xx from a front end
# that had already passed the request on) may or may not have taken effect. botocore's own
# retries, and AWSRetry's on InternalError/ServiceUnavailable, send it again blindly: a
# second VPC, key, account. Every create therefore goes through ``create_once``: its client
# (``MlopsAWSModule.once_client``) never retries by itself, a refusal the API guarantees was
# not applied (throttling, a connection never made) is sent again, and an outcome that is
# unknown is first looked up with the caller's ``find``; only when nothing is found is the
# call sent again.

CREATE_ATTEMPTS = 10


class AWSResourceError(Exception):
    """A problem with a resource, reported with the config path it concerns (``config.cidr``,
    ``name_prefix``...). The one error type of the collection's AWS modules: raised anywhere,
    caught once in ``main()``."""

    def __init__(self, path, message):
        super(AWSResourceError, self).__init__("%s: %s" % (path, message) if path else message)
        self.path = path
        self.message = message


def error_code(exc):
    return exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None


def _outcome(exc):
    """``"refused"`` (not applied: send again), ``"unknown"`` (look before sending again) or
    ``"failed"`` (a real answer, for the caller)."""
    if isinstance(exc, ClientError):
        code = error_code(exc)
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        if code in THROTTLING_CODES:
            return "refused"
        if code in SERVER_ERROR_CODES or status >= 500:
            return "unknown"
        return "failed"
    if isinstance(exc, (EndpointConnectionError, ConnectTimeoutError)):
        return "refused"  # no connection was made: nothing reached AWS
    if isinstance(exc, (BotoCoreConnectionError, HTTPClientError, IncompleteReadError, ResponseParserError)):
        return "unknown"
    return "failed"


def _pause(sleep, attempt):
    """Wait before attempt ``attempt + 1``, on AWSRetry's jittered schedule (0..min(30, 2**attempt)
    seconds), with ``sleep`` or else ``time.sleep`` as it is now: a test that patches time.sleep
    reaches every wait of this file."""
    (sleep or time.sleep)(random.uniform(0, min(30, 2 ** attempt)))


def create_once(call, find, exists_codes=(), foreign=None, done_codes=(), settling_codes=(), sleep=None):
    """Make the create ``call()`` take effect at most once; return ``(response, found)``.

    ``call`` sends the create on a client that does not retry by itself
    (``MlopsAWSModule.once_client``); ``find()`` looks the resource up by the key it was
    created with (ownership and key tags, a name, an alias) and returns it, or None. Exactly
    one of ``response`` (this call made it) and ``found`` (it was there: made by this call
    whose answer was lost, or by an earlier, interrupted run) is set.

    An answer in ``exists_codes`` (``EntityAlreadyExists``, ``InvalidGroup.Duplicate``...)
    adopts what ``find()`` returns; when ``find()`` finds nothing of ours under that key, the
    resource is someone else's and ``foreign()`` gives the :class:`AWSResourceError` to raise.

    ``done_codes`` serve writes that make no resource to find (AttachInternetGateway,
    CreateRoute): after an unknown outcome the call is sent again, and one of those refusals
    (``Resource.AlreadyAssociated``, ``RouteAlreadyExists``) then means the first one took
    effect: ``(None, True)`` is returned. On a first attempt they are real refusals.

    ``settling_codes`` are refusals of a change made moments before that is not visible yet
    (``InvalidGroup.NotFound`` right after CreateSecurityGroup): not applied, sent again.

    ``sleep`` waits between attempts; ``time.sleep``, looked up at each wait, when None.
    """
    uncertain = False
    for attempt in range(CREATE_ATTEMPTS):
        try:
            return call(), None
        except (ClientError, BotoCoreError) as exc:
            code = error_code(exc)
            if uncertain and code in done_codes:
                return None, True
            if code in exists_codes:
                found = find()
                if found is not None:
                    return None, found
                if foreign is not None:
                    raise foreign()
                raise
            outcome = "refused" if code in settling_codes else _outcome(exc)
            if outcome == "failed" or attempt == CREATE_ATTEMPTS - 1:
                raise
            if outcome == "unknown":
                uncertain = True
                found = find()
                if found is not None:
                    return None, found
            _pause(sleep, attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def write_once(call, done_codes, settling_codes=(), sleep=None):
    """A write that AWS refuses with one of ``done_codes`` once it has taken effect
    (see :func:`create_once`); returns the answer, or None when it had taken effect."""
    return create_once(call, lambda: None, done_codes=done_codes, settling_codes=settling_codes, sleep=sleep)[0]


WAIT_ATTEMPTS = 5


def wait_until(waiter, sleep=None, **params):
    """``waiter.wait(**params)`` for a botocore waiter, which gives up at the first throttling,
    server error or broken connection of any poll: such an end says nothing of the resource,
    so the wait is started again (at most WAIT_ATTEMPTS times, with backoff). Any other end
    (a failure state, the attempts exhausted) raises WaiterError for the caller to report."""
    for attempt in range(WAIT_ATTEMPTS):
        try:
            return waiter.wait(**params)
        except WaiterError as exc:
            code = ((exc.last_response or {}).get("Error") or {}).get("Code")
            if code not in THROTTLING_CODES | SERVER_ERROR_CODES or attempt == WAIT_ATTEMPTS - 1:
                raise
        except _CONNECTION_ERRORS:
            if attempt == WAIT_ATTEMPTS - 1:
                raise
        _pause(sleep, attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def client_token():
    """A fresh idempotency token for one create (``ClientToken``): the same for every attempt
    of that create, so AWS itself returns the first result to a repeat."""
    return str(uuid.uuid4())
