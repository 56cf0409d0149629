# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The platform base's objects, from its configuration: pure, no API calls.

What every platform component stands on:

* a Namespace per workload identity of an enabled component (the names come from the one
  table, module_utils/workload_identity.py, so a pod's service account and its IAM trust
  never disagree) and the platform's own, each labelled for Pod Security admission
  (``enforce``, ``audit`` and ``warn`` at the configured standard, pinned to the cluster's
  minor);
* in each, NetworkPolicies: deny everything, then allow DNS; External Secrets may also
  reach AWS and the API server, and receive the API server's webhook calls. Each platform
  component adds its own allows in its own namespace;
* External Secrets: its CRDs (the pinned upstream files, given by the caller), a
  ClusterSecretStore on AWS Secrets Manager that uses the operator's own workload identity,
  and, when Argo CD delivers upstream controllers, an Argo CD Application pinning the
  operator's chart, with our values (its workload identity, the system node group,
  ``restricted``-compliant security contexts, no CRDs of its own);
* the database bootstrap (module_utils/database_bootstrap.py), in the platform's own
  namespace, when the environment has a database: a Job that makes each owner role and
  logical database of the ``database`` component, with the credentials External Secrets
  brings from Secrets Manager, and a NetworkPolicy that lets it reach the database.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mlops.platform.plugins.module_utils import database_bootstrap
from ansible_collections.mlops.platform.plugins.module_utils.kube_objects import (
    RESTRICTED_CONTAINER,
    RESTRICTED_POD,
    network_policy,
    node_selector,
)

COMPONENT = "platform_base"
EXTERNAL_SECRETS = "external_secrets"
ESO_CHART_REPOSITORY = "https://charts.external-secrets.io"
ESO_API_VERSION = "external-secrets.io/v1"
ESO_WEBHOOK_PORT = 10250
PSA_PREFIX = "pod-security.kubernetes.io/"
# Identities whose namespace is the cluster's, not the platform's.
SYSTEM_NAMESPACES = frozenset(["kube-system", "kube-public", "kube-node-lease", "default"])


def namespace_labels(pod_security, kubernetes_version):
    """Pod Security admission labels: enforce, audit and warn at one standard, pinned to a minor."""
    labels = {}
    for mode in ("enforce", "audit", "warn"):
        labels[PSA_PREFIX + mode] = pod_security
        labels[PSA_PREFIX + mode + "-version"] = "v%s" % kubernetes_version
    return labels


def platform_namespaces(config, identities):
    """``{namespace: [identity names]}``: the platform's own namespace and every identity's."""
    namespaces = {config["namespace"]: []}
    for name, identity in sorted(identities.items()):
        namespace = identity.get("namespace")
        if namespace and namespace not in SYSTEM_NAMESPACES:
            namespaces.setdefault(namespace, []).append(name)
    return namespaces


def namespace(name, config, kubernetes_version):
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": namespace_labels(config["pod_security"], kubernetes_version)}}


def baseline_policies(namespace_name):
    """Deny all traffic in and out of every pod of the namespace, then let DNS out."""
    return [
        network_policy(namespace_name, "default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
        network_policy(namespace_name, "allow-dns", {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{
                "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
            }],
        }),
    ]


def external_secrets_policies(namespace_name):
    """External Secrets calls AWS and the API server (HTTPS), and serves the API server's
    admission webhook calls. Where the API server's addresses are not known in advance, any
    source may reach the webhook port, and only it."""
    return [
        network_policy(namespace_name, "allow-https-egress", {
            "podSelector": {}, "policyTypes": ["Egress"],
            "egress": [{"ports": [{"protocol": "TCP", "port": 443}]}],
        }),
        network_policy(namespace_name, "allow-webhook", {
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "external-secrets-webhook"}},
            "policyTypes": ["Ingress"],
            "ingress": [{"ports": [{"protocol": "TCP", "port": ESO_WEBHOOK_PORT}]}],
        }),
    ]


def cluster_secret_store(config, region):
    """Secrets Manager in the environment's region, with the operator's own workload identity
    (no ``auth``: the controller pod's IRSA or Pod Identity credentials)."""
    return {"apiVersion": ESO_API_VERSION, "kind": "ClusterSecretStore",
            "metadata": {"name": config["secret_store_name"]},
            "spec": {"provider": {"aws": {"service": "SecretsManager", "region": region}}}}


def external_secrets_application(config, version, identity, system_node_group):
    """An Argo CD Application that installs the operator's chart at the pinned release."""
    placement = {"nodeSelector": node_selector(system_node_group)} if system_node_group else {}
    security = {"podSecurityContext": dict(RESTRICTED_POD), "securityContext": dict(RESTRICTED_CONTAINER)}
    values = dict({
        "installCRDs": False,  # applied, and kept, by the platform base
        "serviceAccount": {"create": True, "name": identity["service_account"],
                           "annotations": dict(identity.get("pod_annotations") or {})},
        "webhook": dict(placement, **security),
        "certController": dict(placement, **security),
    }, **dict(placement, **security))
    return {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": "external-secrets", "namespace": config["argocd"]["namespace"],
                     "finalizers": ["resources-finalizer.argocd.argoproj.io"]},
        "spec": {
            "project": config["argocd"]["project"],
            "source": {"repoURL": ESO_CHART_REPOSITORY, "chart": "external-secrets",
                       "targetRevision": version.lstrip("v"),
                       "helm": {"releaseName": "external-secrets", "valuesObject": values}},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": identity["namespace"]},
            "syncPolicy": {"automated": {"prune": True, "selfHeal": True},
                           "syncOptions": ["ServerSideApply=true"]},
        },
    }


def database_ready(database):
    """Whether the database's outputs are complete enough to bootstrap it (an endpoint, the
    master secret and each owner's password secret known; not a database only planned)."""
    if not database or not database.get("databases"):
        return False
    values = [database.get("endpoint"), database.get("master_user_secret_arn")] + [
        (database.get("role_secrets") or {}).get(spec["owner"], {}).get("name")
        for spec in database["databases"].values()]
    return all(value and "(known after" not in str(value) for value in values)


def bootstrap_objects(config, database, system_node_group):
    namespace_name = config["namespace"]
    placement = node_selector(system_node_group)
    result = database_bootstrap.job_objects(
        namespace_name, database["databases"], database["endpoint"], database["port"],
        config["database_bootstrap_image"], database["master_user_secret_arn"],
        dict((role, secret["name"]) for role, secret in database["role_secrets"].items()),
        config["secret_store_name"], node_selector=placement)
    if config["network_policies"]:
        result.append(network_policy(namespace_name, "allow-database-bootstrap", {
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "database-bootstrap"}},
            "policyTypes": ["Egress"],
            "egress": [{"ports": [{"protocol": "TCP", "port": int(database["port"])}]}],
        }))
    return result


def objects(config, enabled, identities, region, kubernetes_version, external_secrets_version,
            external_secrets_crds, system_node_group=None, database=None):
    """Every object of the platform base; none when it is not converged (so its objects are pruned).

    ``identities``: the workload_identity module's output (``{identity: {namespace,
    service_account, pod_annotations}}``); ``external_secrets_crds``: the operator's CRDs
    as documents of its pinned release; ``database``: the database module's outputs, or
    None without a database (then no bootstrap).
    """
    if not enabled:
        return []
    result = []
    for name in sorted(platform_namespaces(config, identities)):
        result.append(namespace(name, config, kubernetes_version))
        if config["network_policies"]:
            result.extend(baseline_policies(name))
    result.extend(external_secrets_crds)
    eso = identities.get(EXTERNAL_SECRETS)
    if eso:
        if config["network_policies"]:
            result.extend(external_secrets_policies(eso["namespace"]))
        result.append(cluster_secret_store(config, region))
        if config["argocd"]["enabled"]:
            result.append(external_secrets_application(config, external_secrets_version, eso, system_node_group))
        if database_ready(database):
            result.extend(bootstrap_objects(config, database, system_node_group))
    return result
