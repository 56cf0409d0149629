"""Unit tests import the collection as Ansible does: ansible_collections.mlops.platform."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(ROOT, ".collections")
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)


import json  # noqa: E402

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


def component_config(component, **overrides):
    """A component's config block (e.g. config.NETWORK) merged over its defaults; must be valid."""
    from ansible_collections.mlops.platform.plugins.module_utils.schema_engine import deep_merge

    option = component.options["config"]
    errors = []
    config = option.validate(deep_merge(option.default(), overrides), "config", errors)
    assert errors == []
    return config
