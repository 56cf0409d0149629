"""Cluster access (module_utils/kube_client.py): which source wins, and what a bad input says.

No API server is needed: an ApiClient is built without contacting its cluster, and what
it would send is read from its configuration (host, CA, TLS verification, auth header).
"""

from __future__ import annotations

import base64
import datetime
import os
import stat
import textwrap

import boto3
import botocore.auth
import certifi
import kubernetes
import pytest

from ansible_collections.mlops.platform.plugins.module_utils import eks_token, kube_client
from ansible_collections.mlops.platform.plugins.module_utils.eks_token import decode_token
from ansible_collections.mlops.platform.plugins.module_utils.kube_client import (
    ClusterAccessError,
    api_client,
    redact,
)

REGION = "eu-west-1"
ENDPOINT = "https://ABCDEF0123456789.gr7.eu-west-1.eks.amazonaws.com"
ENV_TOKEN = "awx-bearer-token-0123456789abcdef"
FILE_TOKEN = "Zq7fedcba9876543210xYw"


def leaks(secret, message):
    """Whether any 8 characters in a row of ``secret`` appear in ``message`` (error texts
    such as YAML's quote a line cut short, so the whole secret need not be there)."""
    return any(secret[i:i + 8] in message for i in range(len(secret) - 7))


def first_certificate():
    """A real PEM certificate (the first one certifi ships)."""
    with open(certifi.where()) as f:
        text = f.read()
    begin = text.index("-----BEGIN CERTIFICATE-----")
    end = text.index("-----END CERTIFICATE-----", begin) + len("-----END CERTIFICATE-----")
    return text[begin:end] + "\n"


PEM = first_certificate()
EKS = {"name": "mlops-dev", "endpoint": ENDPOINT, "certificate_authority_data": base64.b64encode(PEM.encode()).decode()}


@pytest.fixture
def no_cluster(aws, monkeypatch, tmp_path):
    """No K8S_AUTH_* variable, no KUBECONFIG, an empty home, and kubernetes' process-wide
    default Configuration restored after the test (kubernetes.core's loader sets it)."""
    for name in list(os.environ):
        if name.startswith("K8S_AUTH_") or name in ("KUBECONFIG", "AWS_ENDPOINT_URL_STS", "AWS_USE_FIPS_ENDPOINT"):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr(kubernetes.client.Configuration, "_default", None)
    return home


def session():
    return boto3.Session(aws_access_key_id="AKIDEXAMPLEKUBE00001", aws_secret_access_key="secret", region_name=REGION)


def write_kubeconfig(path, current="blue", token=FILE_TOKEN):
    """A kubeconfig with two contexts, blue and green, each its own server and token user."""
    path.write_text(textwrap.dedent("""\
        apiVersion: v1
        kind: Config
        current-context: {current}
        clusters:
        - name: blue
          cluster: {{server: "https://blue.example:6443", insecure-skip-tls-verify: true}}
        - name: green
          cluster: {{server: "https://green.example:6443", insecure-skip-tls-verify: true}}
        users:
        - name: blue
          user: {{token: "{token}-blue"}}
        - name: green
          user: {{token: "{token}-green"}}
        contexts:
        - name: blue
          context: {{cluster: blue, user: blue}}
        - name: green
          context: {{cluster: green, user: green}}
        """).format(current=current, token=token))
    return str(path)


def bearer(client):
    return client.configuration.auth_settings()["BearerToken"]["value"]


def error_of(**kwargs):
    with pytest.raises(ClusterAccessError) as error:
        api_client(**kwargs)
    return str(error.value)


# --- EKS ---------------------------------------------------------------------------------

def test_eks_client_has_endpoint_private_ca_file_and_an_eks_token(no_cluster):
    """An EKS client talks to the cluster endpoint, verifies TLS against the cluster's CA
    (written to a 0600 file holding exactly the decoded PEM) and sends 'Bearer <EKS token>'
    signed for the regional STS endpoint."""
    client = api_client(eks=EKS, session=session(), region=REGION)
    configuration = client.configuration

    assert configuration.host == ENDPOINT
    assert configuration.verify_ssl is True
    assert stat.S_IMODE(os.stat(configuration.ssl_ca_cert).st_mode) == 0o600
    with open(configuration.ssl_ca_cert) as f:
        assert f.read() == PEM
    header = bearer(client)
    assert header.startswith("Bearer k8s-aws-v1.")
    assert decode_token(header[len("Bearer "):])["host"] == "sts.eu-west-1.amazonaws.com"


def test_eks_token_is_refreshed_through_the_configuration(no_cluster, monkeypatch):
    """The client's header is refreshed by refresh_api_key_hook: 20 minutes later (clock
    and signer moved together) the next request carries a token signed then."""
    now = [datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)]
    monkeypatch.setattr(eks_token, "utc_now", lambda: now[0])
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *args, **kwargs: now[0].replace(tzinfo=None))
    client = api_client(eks=EKS, session=session(), region=REGION)
    first = bearer(client)
    assert bearer(client) == first

    now[0] += datetime.timedelta(minutes=20)
    second = bearer(client)
    assert second != first
    assert decode_token(second[len("Bearer "):])["signed_at"] == now[0]


def test_eks_ca_file_is_removed_at_exit(no_cluster, monkeypatch):
    """The CA file is registered with atexit, and what is registered deletes it."""
    registered = []
    monkeypatch.setattr(kube_client.atexit, "register", lambda function, *args: registered.append((function, args)))
    monkeypatch.setattr(kube_client, "_ca_files", {})
    path = api_client(eks=EKS, session=session(), region=REGION).configuration.ssl_ca_cert

    assert len(registered) == 1
    function, args = registered[0]
    function(*args)
    assert not os.path.exists(path)


def test_eks_accepts_describe_cluster_snake_case_and_session_region(no_cluster):
    """camel_dict_to_snake_dict's ``certificate_authority: {data}`` is accepted, and the
    region defaults to the session's."""
    eks = {"name": "mlops-dev", "endpoint": ENDPOINT + "/",
           "certificate_authority": {"data": EKS["certificate_authority_data"]}}
    client = api_client(eks=eks, session=boto3.Session(aws_access_key_id="AKIDEXAMPLEKUBE00001",
                                                       aws_secret_access_key="secret", region_name="cn-north-1"))

    assert client.configuration.host == ENDPOINT
    assert decode_token(bearer(client)[len("Bearer "):])["host"] == "sts.cn-north-1.amazonaws.com.cn"


def test_eks_wins_over_kubeconfig_and_environment(no_cluster, monkeypatch, tmp_path):
    """With eks, kubeconfig and K8S_AUTH_* all given, the EKS cluster is the one used."""
    monkeypatch.setenv("K8S_AUTH_HOST", "https://env.example:6443")
    monkeypatch.setenv("K8S_AUTH_API_KEY", ENV_TOKEN)
    client = api_client(eks=EKS, session=session(), region=REGION,
                        kubeconfig=write_kubeconfig(tmp_path / "kubeconfig"), context="green")

    assert client.configuration.host == ENDPOINT
    assert bearer(client).startswith("Bearer k8s-aws-v1.")


@pytest.mark.parametrize("eks, expected", [
    ({"endpoint": ENDPOINT, "certificate_authority_data": EKS["certificate_authority_data"]}, "missing name"),
    ({"name": "c", "certificate_authority_data": EKS["certificate_authority_data"]}, "missing endpoint"),
    ({"name": "c", "endpoint": ENDPOINT}, "missing certificate_authority_data"),
    (dict(EKS, endpoint="http://plain.example"), "must be an https:// URL"),
    (dict(EKS, certificate_authority_data="not base64 at all!"), "not a base64-encoded PEM"),
    (dict(EKS, certificate_authority_data=base64.b64encode(b"just text").decode()), "not a base64-encoded PEM"),
    ("mlops-dev", "must be a dict"),
])
def test_bad_eks_inputs_are_cluster_access_errors(no_cluster, eks, expected):
    """Each malformed eks input is refused with a message saying what is wrong."""
    assert expected in error_of(eks=eks, session=session(), region=REGION)


def test_eks_without_session_or_credentials_says_so(no_cluster, monkeypatch):
    """No session, or a session without credentials, is a ClusterAccessError naming the
    cluster (raised while building the client, not at the first request)."""
    assert "AWS session is needed" in error_of(eks=EKS, region=REGION)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    message = error_of(eks=EKS, session=boto3.Session(region_name=REGION), region=REGION)
    assert "mlops-dev" in message and "credentials" in message.lower()


# --- kubeconfig --------------------------------------------------------------------------

def test_explicit_kubeconfig_and_context(no_cluster, tmp_path):
    """An explicit kubeconfig is used at its current context, or at the context named."""
    path = write_kubeconfig(tmp_path / "kubeconfig")

    current = api_client(kubeconfig=path)
    assert current.configuration.host == "https://blue.example:6443"
    assert bearer(current) == "Bearer %s-blue" % FILE_TOKEN
    green = api_client(kubeconfig=path, context="green")
    assert green.configuration.host == "https://green.example:6443"
    assert bearer(green) == "Bearer %s-green" % FILE_TOKEN


def test_explicit_kubeconfig_wins_over_environment(no_cluster, monkeypatch, tmp_path):
    """A kubeconfig given by the caller beats K8S_AUTH_* from the environment."""
    monkeypatch.setenv("K8S_AUTH_HOST", "https://env.example:6443")
    monkeypatch.setenv("K8S_AUTH_API_KEY", ENV_TOKEN)

    assert api_client(kubeconfig=write_kubeconfig(tmp_path / "kubeconfig")).configuration.host == \
        "https://blue.example:6443"


def test_context_alone_selects_in_the_default_kubeconfig(no_cluster, monkeypatch, tmp_path):
    """A context without a kubeconfig picks that context of the default kubeconfig
    (KUBECONFIG, read at call time rather than when kubernetes was imported)."""
    monkeypatch.setenv("KUBECONFIG", write_kubeconfig(tmp_path / "kubeconfig"))

    assert api_client(context="green").configuration.host == "https://green.example:6443"


def test_kubeconfig_errors_name_the_problem_not_the_secrets(no_cluster, monkeypatch, tmp_path):
    """A missing file names the path; an unknown context names the context; a file that is
    not YAML (given directly or as K8S_AUTH_KUBECONFIG) gives the line number, never the
    line (which holds a token)."""
    assert "kubeconfig %s does not exist" % (tmp_path / "nope") in error_of(kubeconfig=str(tmp_path / "nope"))

    path = write_kubeconfig(tmp_path / "kubeconfig")
    message = error_of(kubeconfig=path, context="purple")
    assert "purple" in message and not leaks(FILE_TOKEN, message)

    broken = tmp_path / "broken"
    broken.write_text("users:\n- name: u\n  user: {token: %s, [}\n" % FILE_TOKEN)
    message = error_of(kubeconfig=str(broken))
    assert "not valid YAML (line 3)" in message
    assert not leaks(FILE_TOKEN, message)

    monkeypatch.setenv("K8S_AUTH_KUBECONFIG", str(broken))
    message = error_of()
    assert "K8S_AUTH_KUBECONFIG %s is not valid YAML" % broken in message
    assert not leaks(FILE_TOKEN, message)


# --- K8S_AUTH_* environment (AWX credentials) ----------------------------------------------

def test_awx_bearer_token_credential_environment(no_cluster, monkeypatch, tmp_path):
    """What AWX's Kubernetes API Bearer Token credential injects (host, api key, CA file,
    verify flag as 'False') gives a client for that host with that token, CA and flag."""
    ca = tmp_path / "ca.pem"
    ca.write_text(PEM)
    monkeypatch.setenv("K8S_AUTH_HOST", "https://awx-cluster.example:6443/")
    monkeypatch.setenv("K8S_AUTH_API_KEY", ENV_TOKEN)
    monkeypatch.setenv("K8S_AUTH_SSL_CA_CERT", str(ca))
    monkeypatch.setenv("K8S_AUTH_VERIFY_SSL", "False")
    configuration = api_client().configuration

    assert configuration.host == "https://awx-cluster.example:6443"
    assert configuration.auth_settings()["BearerToken"]["value"] == "Bearer " + ENV_TOKEN
    assert configuration.ssl_ca_cert == str(ca)
    assert configuration.verify_ssl is False


def test_environment_kubeconfig_and_context(no_cluster, monkeypatch, tmp_path):
    """K8S_AUTH_KUBECONFIG and K8S_AUTH_CONTEXT select a file and context."""
    monkeypatch.setenv("K8S_AUTH_KUBECONFIG", write_kubeconfig(tmp_path / "kubeconfig"))
    monkeypatch.setenv("K8S_AUTH_CONTEXT", "green")
    client = api_client()

    assert client.configuration.host == "https://green.example:6443"
    assert bearer(client) == "Bearer %s-green" % FILE_TOKEN


def test_environment_wins_over_default_kubeconfig(no_cluster, monkeypatch, tmp_path):
    """K8S_AUTH_* beat the default kubeconfig (here ~/.kube/config)."""
    (no_cluster / ".kube").mkdir()
    write_kubeconfig(no_cluster / ".kube" / "config")
    monkeypatch.setenv("K8S_AUTH_HOST", "https://env.example:6443")
    monkeypatch.setenv("K8S_AUTH_API_KEY", ENV_TOKEN)

    assert api_client().configuration.host == "https://env.example:6443"


@pytest.mark.parametrize("variables, expected", [
    ({"K8S_AUTH_API_KEY": ENV_TOKEN}, "K8S_AUTH_HOST is not"),
    ({"K8S_AUTH_HOST": "https://env.example:6443"}, "without credentials"),
    ({"K8S_AUTH_HOST": "https://env.example:6443", "K8S_AUTH_API_KEY": ENV_TOKEN,
      "K8S_AUTH_SSL_CA_CERT": "/nonexistent/ca.pem"}, "K8S_AUTH_SSL_CA_CERT /nonexistent/ca.pem does not exist"),
    ({"K8S_AUTH_KUBECONFIG": "/nonexistent/kubeconfig"}, "K8S_AUTH_KUBECONFIG /nonexistent/kubeconfig does not"),
])
def test_incomplete_environment_is_refused_without_the_key(no_cluster, monkeypatch, variables, expected):
    """Half a credential is refused (not filled in from another cluster's config), and the
    message never contains the API key."""
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    message = error_of()

    assert expected in message
    assert ENV_TOKEN not in message


def test_environment_context_missing_from_kubeconfig(no_cluster, monkeypatch, tmp_path):
    """An unknown K8S_AUTH_CONTEXT is a ClusterAccessError naming it, without any token."""
    monkeypatch.setenv("K8S_AUTH_KUBECONFIG", write_kubeconfig(tmp_path / "kubeconfig"))
    monkeypatch.setenv("K8S_AUTH_CONTEXT", "purple")
    message = error_of()

    assert "purple" in message and not leaks(FILE_TOKEN, message)


# --- default kubeconfig ------------------------------------------------------------------------

def test_default_kubeconfig_from_home(no_cluster):
    """With nothing else given, ~/.kube/config is used at its current context."""
    (no_cluster / ".kube").mkdir()
    write_kubeconfig(no_cluster / ".kube" / "config", current="green")

    assert api_client().configuration.host == "https://green.example:6443"


def test_nothing_configured_says_what_would_do(no_cluster):
    """No source at all is a ClusterAccessError listing the ways to name a cluster."""
    message = error_of()

    assert "no cluster to reach" in message
    assert "K8S_AUTH_HOST" in message and "kubeconfig" in message


def test_redact_removes_tokens_keys_and_signatures():
    """redact() removes the given secrets, EKS tokens, bearer values and presigned-URL secrets."""
    text = ("Bearer abc.def k8s-aws-v1.aHR0cHM6Ly9zdHM key=%s "
            "https://sts/?X-Amz-Signature=deadbeef&X-Amz-Security-Token=FwoG&Action=GetCallerIdentity" % ENV_TOKEN)
    cleaned = redact(text, [ENV_TOKEN])

    for secret in ("abc.def", "aHR0cHM6Ly9zdHM", ENV_TOKEN, "deadbeef", "FwoG"):
        assert secret not in cleaned
    assert "Action=GetCallerIdentity" in cleaned
