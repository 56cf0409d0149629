# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""One way into any cluster: a ``kubernetes.client.ApiClient``, with no kubectl, aws CLI
or aws-iam-authenticator on the controller.

The cluster is chosen by the first of these that is given:

1. ``eks``: an EKS cluster as DescribeCluster describes it; requests carry an EKS token
   (:mod:`eks_token`) signed with the caller's AWS session, renewed before it expires;
2. ``kubeconfig`` and/or ``context``: a kubeconfig file the caller names;
3. the ``K8S_AUTH_*`` environment variables, as AWX's OpenShift or Kubernetes API Bearer
   Token credential injects them, read by kubernetes.core's own code so that they mean
   exactly what they mean to kubernetes.core's modules;
4. the default kubeconfig (``KUBECONFIG``, else ``~/.kube/config``).

The pod's in-cluster service account is deliberately never used on its own: an AWX job
running in a container group would otherwise act on AWX's own cluster without being told.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import atexit
import base64
import binascii
import os
import re
import ssl
import tempfile

try:
    import kubernetes
    from kubernetes.config.config_exception import ConfigException
    import yaml
    HAS_KUBERNETES = True
except ImportError:
    HAS_KUBERNETES = False

try:
    from botocore.exceptions import BotoCoreError, ClientError
    _AWS_ERRORS = (BotoCoreError, ClientError)
except ImportError:
    _AWS_ERRORS = ()

try:
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import (
        _create_auth_spec,
        _create_configuration,
    )
    HAS_KUBERNETES_CORE = True
except ImportError:
    HAS_KUBERNETES_CORE = False

from ansible_collections.mlops.platform.plugins.module_utils.eks_token import EksToken

DEFAULT_KUBECONFIG = "~/.kube/config"

# Anything that may be a credential, whatever produced the text.
_SECRET_PATTERNS = (
    re.compile(r"k8s-aws-v1\.[A-Za-z0-9_-]+"),
    re.compile(r"(?i)(bearer\s+)\S+"),
    re.compile(r"(?i)(X-Amz-(Signature|Security-Token|Credential)=)[^&\s]+"),
)


class ClusterAccessError(Exception):
    """Cluster access that cannot be set up from what was given. The message never
    contains a token, API key or password."""

    def __init__(self, message):
        super(ClusterAccessError, self).__init__(message)
        self.message = message


def redact(text, secrets=()):
    """``text`` with the given ``secrets`` and anything shaped like a token removed."""
    text = str(text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "<redacted>")
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda match: (match.group(1) if match.re.groups else "") + "<redacted>", text)
    return text


def api_client(eks=None, session=None, region=None, kubeconfig=None, context=None):
    """A ``kubernetes.client.ApiClient`` for the first cluster given (see the module's doc).

    ``eks``: ``{"name", "endpoint", "certificate_authority_data"}`` (the base64 PEM of
    DescribeCluster's ``certificateAuthority.data``; ``certificate_authority: {data}`` as
    ``camel_dict_to_snake_dict`` makes it is accepted too), signed with ``session``
    (anything :func:`eks_token.sts_client` takes, an ``AnsibleAWSModule`` included) in
    ``region`` (default: the session's). The first token is made here, so missing AWS
    credentials are reported now rather than at the first request.
    ``kubeconfig``: a kubeconfig path; ``context``: one of its contexts (with no
    ``kubeconfig``, of the default kubeconfig).

    Raises :class:`ClusterAccessError` for missing or unusable inputs.
    """
    if not HAS_KUBERNETES:
        raise ClusterAccessError("the kubernetes Python package is required to reach a cluster")
    if eks is not None:
        return _eks_client(eks, session, region)
    if kubeconfig or context:
        return _kubeconfig_client(kubeconfig, context)
    environment = _environment_client()
    if environment is not None:
        return environment
    return _kubeconfig_client(None, None)


# --- 1. EKS ------------------------------------------------------------------------------

def _eks_client(eks, session, region):
    if not isinstance(eks, dict):
        raise ClusterAccessError("eks must be a dict with name, endpoint and certificate_authority_data")
    name = eks.get("name")
    endpoint = eks.get("endpoint")
    ca_data = eks.get("certificate_authority_data") or (eks.get("certificate_authority") or {}).get("data")
    missing = [key for key, value in (("name", name), ("endpoint", endpoint),
                                      ("certificate_authority_data", ca_data)) if not value]
    if missing:
        raise ClusterAccessError("eks is missing %s (as DescribeCluster returns them once the cluster is ACTIVE)"
                                 % ", ".join(missing))
    if not endpoint.startswith("https://"):
        raise ClusterAccessError("eks.endpoint of cluster %s must be an https:// URL, got %r" % (name, endpoint))
    if session is None:
        raise ClusterAccessError("an AWS session is needed to sign the token of EKS cluster %s" % name)
    ca_file = _ca_file(name, ca_data)

    try:
        token = EksToken(session, name, region)
    except _AWS_ERRORS + (TypeError, ValueError) as e:  # a profile not found, no region...
        raise ClusterAccessError("cannot sign tokens for EKS cluster %s: %s" % (name, redact(e)))

    configuration = kubernetes.client.Configuration(host=endpoint.rstrip("/"), ssl_ca_cert=ca_file)
    configuration.verify_ssl = True
    try:
        token.attach(configuration)
    except _AWS_ERRORS + (ValueError,) as e:
        raise ClusterAccessError("cannot sign a token for EKS cluster %s in %s: %s" % (name, token.region, redact(e)))
    return kubernetes.client.ApiClient(configuration)


# One file per CA for the life of the process: the websocket client (exec, attach,
# port-forward) reads a CA only from a file, never from Configuration.ca_cert_data.
_ca_files = {}


def _ca_file(cluster_name, ca_data):
    try:
        pem = base64.b64decode(ca_data, validate=True).decode("ascii")
        ssl.PEM_cert_to_DER_cert(pem.strip())
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ClusterAccessError("eks.certificate_authority_data of cluster %s is not a base64-encoded PEM certificate"
                                 % cluster_name)
    if pem not in _ca_files:
        fd, path = tempfile.mkstemp(prefix="mlops-eks-ca-", suffix=".pem")  # mode 0600
        with os.fdopen(fd, "w") as f:
            f.write(pem)
        atexit.register(_remove, path)
        _ca_files[pem] = path
    return _ca_files[pem]


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


# --- 2. and 4. kubeconfig ------------------------------------------------------------------

def _kubeconfig_client(kubeconfig, context):
    # kubernetes reads KUBECONFIG once, when it is imported; read it now instead.
    path = kubeconfig or os.environ.get("KUBECONFIG") or DEFAULT_KUBECONFIG
    paths = [os.path.expanduser(p) for p in path.split(os.pathsep) if p]
    if not any(os.path.isfile(p) for p in paths):
        if kubeconfig:
            raise ClusterAccessError("kubeconfig %s does not exist" % kubeconfig)
        raise ClusterAccessError(
            "no cluster to reach: give an EKS cluster or a kubeconfig, set K8S_AUTH_HOST and K8S_AUTH_API_KEY "
            "(an AWX Kubernetes credential does) or K8S_AUTH_KUBECONFIG, or provide %s" % path)
    try:
        # persist_config=False: never write refreshed credentials back into the user's file.
        return kubernetes.config.new_client_from_config(config_file=path, context=context, persist_config=False)
    except yaml.YAMLError as e:
        raise _not_yaml("kubeconfig %s" % path, e)
    except (ConfigException, ValueError, TypeError, KeyError, OSError) as e:
        which = " context %s" % context if context else ""
        raise ClusterAccessError("cannot use kubeconfig %s%s: %s" % (path, which, redact(e)))


def _not_yaml(what, error):
    """A YAML error quotes the offending line, which may hold a token: say its number only."""
    mark = getattr(error, "problem_mark", None)
    where = " (line %d)" % (mark.line + 1) if mark is not None else ""
    return ClusterAccessError("%s is not valid YAML%s" % (what, where))


# --- 3. K8S_AUTH_* environment ---------------------------------------------------------------

def _environment_client():
    """The client the ``K8S_AUTH_*`` variables describe, or None when none names a cluster."""
    if not HAS_KUBERNETES_CORE:
        return None
    auth = _create_auth_spec(None)
    secrets = [auth.get("api_key"), auth.get("password")]
    if not (auth.get("host") or auth.get("kubeconfig") or auth.get("context")):
        if auth.get("api_key"):
            raise ClusterAccessError("K8S_AUTH_API_KEY is set but K8S_AUTH_HOST is not: which cluster is it for?")
        return None
    if auth.get("host") and not (auth.get("api_key") or (auth.get("username") and auth.get("password"))
                                 or (auth.get("cert_file") and auth.get("key_file"))):
        # kubernetes.core would then fall back to the pod's service account or the default
        # kubeconfig and only point it at this host: a cluster's credentials sent to another.
        raise ClusterAccessError("K8S_AUTH_HOST %s is set without credentials: set K8S_AUTH_API_KEY, "
                                 "K8S_AUTH_USERNAME and K8S_AUTH_PASSWORD, or K8S_AUTH_CERT_FILE and "
                                 "K8S_AUTH_KEY_FILE" % auth["host"])
    kubeconfig = auth.get("kubeconfig")
    if kubeconfig and isinstance(kubeconfig, str) and not os.path.isfile(os.path.expanduser(kubeconfig)):
        raise ClusterAccessError("K8S_AUTH_KUBECONFIG %s does not exist" % kubeconfig)
    for name in ("ssl_ca_cert", "cert_file", "key_file"):
        if auth.get(name) and not os.path.isfile(auth[name]):
            raise ClusterAccessError("K8S_AUTH_%s %s does not exist" % (name.upper(), auth[name]))
    try:
        # kubernetes.core's own: loading a kubeconfig through it also sets the process's
        # default kubernetes Configuration, as it does for kubernetes.core's modules.
        configuration = _create_configuration(auth)
    except yaml.YAMLError as e:
        raise _not_yaml("K8S_AUTH_KUBECONFIG %s" % kubeconfig, e)
    except (ConfigException, ValueError, TypeError, KeyError, OSError) as e:
        raise ClusterAccessError("cannot use the K8S_AUTH_* settings: %s" % redact(e, secrets))
    return kubernetes.client.ApiClient(configuration)
