"""Unit tests import the collection as Ansible does: ansible_collections.mlops.platform."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(ROOT, ".collections")
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)


import collections  # noqa: E402
import copy  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
from pathlib import Path  # noqa: E402

import botocore.client  # noqa: E402
import pytest  # noqa: E402
from moto import mock_aws  # noqa: E402

from ansible.module_utils.testing import patch_module_args  # noqa: E402


@pytest.fixture
def aws(monkeypatch, tmp_path):
    """moto in-process, with fake caller credentials and no user AWS config in reach."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    with mock_aws():
        yield


@pytest.fixture
def stand_in_corrections():
    """The launcher's corrections of moto (tools/local_aws.py), applied in-process and undone after.

    The in-process moto enforces bucket policies on object calls exactly as the server does,
    so without them the lake's TLS-only Deny answers every marker PutObject with 403; and it
    refuses the security services' delegated administrators that the organization designates.
    """
    from moto.organizations.models import FakeDelegatedAdministrator
    from moto.s3.models import FakeBucket

    path = Path(__file__).resolve().parents[2] / "tools" / "local_aws.py"
    spec = importlib.util.spec_from_file_location("mlops_local_aws", path)
    launcher = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(launcher)
    get_permission = FakeBucket.__dict__["get_permission"]
    services = list(FakeDelegatedAdministrator.SUPPORTED_SERVICES)
    launcher._apply_stand_in_corrections()
    yield
    FakeBucket.get_permission = get_permission
    FakeDelegatedAdministrator.SUPPORTED_SERVICES[:] = services


# The AWS managed policies the collection attaches. moto knows them only when told to load
# its whole copy of them (as the local stand-in does), which costs seconds per test: the
# tests load these few, with moto's own data for them.
ATTACHED_MANAGED_POLICIES = (
    "AmazonEKSClusterPolicy", "AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly",
    "AmazonEKS_CNI_Policy", "AmazonEBSCSIDriverPolicy",
)


@pytest.fixture
def managed_policies(monkeypatch):
    """IAM in moto knows the AWS managed policies the collection attaches (use before ``aws``)."""
    import moto.iam.models

    everything = json.loads(moto.iam.models.aws_managed_policies_data)
    wanted = {name: data for name, data in everything.items() if name.rsplit("/", 1)[-1] in ATTACHED_MANAGED_POLICIES}
    assert len(wanted) == len(ATTACHED_MANAGED_POLICIES), sorted(wanted)
    monkeypatch.setattr(moto.iam.models, "aws_managed_policies_data", json.dumps(wanted))
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")


@pytest.fixture
def api_calls(monkeypatch):
    """Every AWS API call made by any boto3 client, as (operation name, response or error)."""
    calls = []
    make_api_call = botocore.client.BaseClient._make_api_call

    def recording(client, operation_name, api_params):
        try:
            response = make_api_call(client, operation_name, api_params)
        except Exception as error:  # an answer like NoSuchEntity is a call all the same
            calls.append((operation_name, error))
            raise
        calls.append((operation_name, response))
        return response

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    return calls


@pytest.fixture
def sent(monkeypatch):
    """Every request's parameters by operation, as botocore sends them."""
    params = collections.defaultdict(list)
    make_api_call = botocore.client.BaseClient._make_api_call

    def recording(client, operation, api_params):
        params[operation].append(copy.deepcopy(api_params))
        return make_api_call(client, operation, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    return params


@pytest.fixture
def lose_answers(monkeypatch):
    """Make moto apply the first call of each named operation, then lose its answer (the
    connection closes before the response arrives): ``lost = lose_answers("CreateVpc", ...)``."""
    from botocore.exceptions import ConnectionClosedError

    from ansible_collections.mlops.platform.plugins.module_utils import aws

    make_api_call = botocore.client.BaseClient._make_api_call
    pending = set()
    lost = []

    def lossy(client, operation, params):
        response = make_api_call(client, operation, params)
        if operation in pending:
            pending.discard(operation)
            lost.append(operation)
            raise ConnectionClosedError(endpoint_url=client.meta.endpoint_url)
        return response

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", lossy)
    monkeypatch.setattr(aws.time, "sleep", lambda seconds: None)

    def arm(*operations):
        pending.update(operations)
        return lost

    return arm


def writes(calls):
    """The operations among ``calls`` that change something (as the modules count them)."""
    from ansible_collections.mlops.platform.plugins.module_utils.aws import READ_PREFIXES

    return [operation for operation, response in calls if not operation.startswith(READ_PREFIXES)]


def run_module(capsys, main, args):
    """Run a module's main() as Ansible would; return (exit code, parsed result).

    Arguments go through ansible-core's patch_module_args; the result is the JSON the
    controller receives (and prints at -vvv), read from stdout.
    """
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exit_info:
            main()
    stdout = capsys.readouterr().out
    return exit_info.value.code, json.loads(stdout)


def warnings(result):
    """The warning messages of a result (ansible-core 2.19 returns them as WarningSummary dicts)."""
    return [w["event"]["msg"] if isinstance(w, dict) else w for w in result.get("warnings", [])]


def component_config(component, **overrides):
    """A component's config block (e.g. config.NETWORK) merged over its defaults; must be valid."""
    from ansible_collections.mlops.platform.plugins.module_utils.schema_engine import deep_merge

    option = component.options["config"]
    errors = []
    config = option.validate(deep_merge(option.default(), overrides), "config", errors)
    assert errors == []
    return config
