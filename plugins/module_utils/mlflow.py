# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""MLflow's objects from its configuration: pure, no API calls.

The tracking server and model registry on the official ``-full`` image (it carries the
PostgreSQL and S3 drivers):

* the backend store is its logical database of the ``database`` component (or an external
  one). The URI names no user and no password: libpq reads ``PGUSER`` and ``PGPASSWORD``,
  which come from a Secret that External Secrets makes from Secrets Manager, so no
  credential is ever in a rendered file, an argument or a plain env value. TLS is required
  (RDS accepts nothing else);
* artifacts are proxied (``--serve-artifacts``) to ``s3://<lake bucket>/<artifacts zone>``
  with the pod's workload identity, no static keys;
* the allowed-hosts list holds every name of its Service and the ingress host: MLflow 3.5+
  answers 403 to any other ``Host`` (``/health`` is exempt, so probes alone would not show a
  missing name);
* ``mlflow db upgrade`` runs as a Job in sync wave -1: the engine (and Argo CD, from a
  render) waits for it to complete before the Deployment of a new version is applied. Its
  name carries a digest of its pod template, so a new version (or database) is a new Job;
* above one replica, a PodDisruptionBudget and a HorizontalPodAutoscaler, which then owns
  the replica count (the Deployment leaves ``replicas`` unset);
* with ``basic_auth``, the ``basic-auth`` app: its ini (no secret in it) in a ConfigMap
  named by its digest (a change rolls the pods), its tables in the same database (their own
  alembic version table), the admin's password and the Flask session key from the
  Secrets Manager secret ``<name_prefix>/mlflow/admin`` that the module generates once,
  through an ExternalSecret, as ``MLFLOW_AUTH_ADMIN_PASSWORD`` and
  ``MLFLOW_FLASK_SERVER_SECRET_KEY``. MLflow sets the admin's password when it first
  creates the admin user, never again: a rotation goes through MLflow's API;
* every pod meets the ``restricted`` Pod Security Standard (non-root uid 1000, read-only
  root file system with an emptyDir on ``/tmp``, no privilege escalation, no capabilities,
  RuntimeDefault seccomp).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mlops.platform.plugins.module_utils import config_schema
from ansible_collections.mlops.platform.plugins.module_utils.kube_engine import WAVE_ANNOTATION
from ansible_collections.mlops.platform.plugins.module_utils.kube_objects import (
    network_policy,
    node_selector,
    restricted_container,
    restricted_pod,
    short_digest,
)

COMPONENT = "mlflow"
NAME = "mlflow"
PORT = 5000
IMAGE = "ghcr.io/mlflow/mlflow:v%s-full"
DATABASE_SECRET = "mlflow-database"
ADMIN_SECRET = "mlflow-admin"
ADMIN_USERNAME = "admin"
AUTH_CONFIG_DIR = "/etc/mlflow-auth"
AUTH_CONFIG_FILE = "basic_auth.ini"
EXTERNAL_SECRETS_API = "external-secrets.io/v1"
# The official image runs as root; these pods run as this non-root user and group.
RUN_AS = 1000
PART_OF = {"app.kubernetes.io/part-of": NAME}
SERVER_LABELS = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/component": "tracking-server"}
UPGRADE_LABELS = {"app.kubernetes.io/name": "mlflow-db-upgrade", "app.kubernetes.io/component": "schema-migration"}


class MlflowError(Exception):
    """Inputs the objects cannot be made from, with the option's dotted path."""

    def __init__(self, path, message):
        super(MlflowError, self).__init__("%s: %s" % (path, message))
        self.path = path


def config_checks(config, environment):
    """The platform's cross-component rules that concern MLflow's ``config`` (the same rules,
    with the same messages, as a run of the whole inventory), paths under ``config``."""
    return config_schema.component_rule_errors("mlops_ml_platform", COMPONENT, config, {"name": environment})


def image(config):
    return config.get("image") or IMAGE % config["version"]


def service_hosts(namespace):
    """Every name a client in the cluster may reach the Service by, each with and without a port."""
    names = [NAME, "%s.%s" % (NAME, namespace), "%s.%s.svc" % (NAME, namespace),
             "%s.%s.svc.cluster.local" % (NAME, namespace)]
    return names + ["%s:*" % name for name in names]


def allowed_hosts(config, namespace):
    """``--allowed-hosts``: it replaces MLflow's defaults, so localhost (port-forward) is listed too."""
    hosts = service_hosts(namespace) + ["localhost", "localhost:*", "127.0.0.1", "127.0.0.1:*"]
    ingress = config.get("ingress") or {}
    extra = list(config.get("allowed_hosts") or [])
    if ingress.get("enabled") and ingress.get("host"):
        extra.insert(0, ingress["host"])
    for host in extra:
        hosts += [host, "%s:*" % host]
    result = []
    for host in hosts:
        if host not in result:
            result.append(host)
    return result


def backend_store_uri(host, port, database):
    """The backend store: the psycopg2 driver named (SQLAlchemy would otherwise choose by what
    is installed), no user or password (libpq reads PGUSER and PGPASSWORD), TLS required."""
    return "postgresql+psycopg2://%s:%d/%s?sslmode=require" % (host, int(port), database)


def artifacts_destination(bucket, prefix):
    prefix = (prefix or "").strip("/")
    return "s3://%s/%s" % (bucket, prefix) if prefix else "s3://%s" % bucket


def admin_secret_name(name_prefix):
    """The Secrets Manager secret of the basic-auth admin (``username``, ``password``,
    ``flask_secret_key``), under the environment's prefix that External Secrets may read."""
    return "%s/%s/admin" % (name_prefix, COMPONENT)


def auth_config(config, store_uri):
    """basic-auth's ini: its tables in the backend store's database; no credential in it."""
    return "\n".join([
        "[mlflow]",
        "default_permission = %s" % config["basic_auth_default_permission"],
        "database_uri = %s" % store_uri,
        "admin_username = %s" % ADMIN_USERNAME,
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth",
        ""])


def server_command(config, namespace, store_uri, destination):
    """The server container's command, run as is by the proof test."""
    command = ["mlflow", "server", "--host", "0.0.0.0", "--port", str(PORT),
               "--backend-store-uri", store_uri,
               "--artifacts-destination", destination, "--serve-artifacts",
               "--allowed-hosts", ",".join(allowed_hosts(config, namespace)),
               "--workers", str(config["workers"])]
    if config["basic_auth"]:
        command += ["--app-name", "basic-auth"]
    return command + list(config.get("extra_args") or [])


def upgrade_command(store_uri):
    return ["mlflow", "db", "upgrade", store_uri]


def environment(region):
    """The containers' environment: credentials only as references to the database Secret."""
    return [
        {"name": "PGUSER", "valueFrom": {"secretKeyRef": {"name": DATABASE_SECRET, "key": "username"}}},
        {"name": "PGPASSWORD", "valueFrom": {"secretKeyRef": {"name": DATABASE_SECRET, "key": "password"}}},
        {"name": "AWS_REGION", "value": region},
        {"name": "AWS_DEFAULT_REGION", "value": region},
        {"name": "HOME", "value": "/tmp"},
        # The server's background job runner would start consumer processes nothing here uses.
        {"name": "MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "value": "false"},
        {"name": "MLFLOW_DISABLE_TELEMETRY", "value": "true"},
    ]


def auth_environment():
    """The server's basic-auth settings: the ini's path, and the admin's password and the
    Flask session key as references to the admin Secret."""
    return [
        {"name": "MLFLOW_AUTH_CONFIG_PATH", "value": "%s/%s" % (AUTH_CONFIG_DIR, AUTH_CONFIG_FILE)},
        {"name": "MLFLOW_AUTH_ADMIN_PASSWORD", "valueFrom": {"secretKeyRef": {"name": ADMIN_SECRET,
                                                                              "key": "password"}}},
        {"name": "MLFLOW_FLASK_SERVER_SECRET_KEY", "valueFrom": {"secretKeyRef": {"name": ADMIN_SECRET,
                                                                                  "key": "flask_secret_key"}}},
    ]


def external_secret(namespace, store, name, secret_key, fields):
    """The Secret ``name`` that External Secrets makes from the properties ``fields`` of the
    Secrets Manager secret ``secret_key`` (wave -1: before anything that reads it)."""
    return {"apiVersion": EXTERNAL_SECRETS_API, "kind": "ExternalSecret",
            "metadata": {"name": name, "namespace": namespace, "annotations": {WAVE_ANNOTATION: "-1"}},
            "spec": {"secretStoreRef": {"kind": "ClusterSecretStore", "name": store}, "refreshInterval": "1h",
                     "target": {"name": name, "creationPolicy": "Owner"},
                     "data": [{"secretKey": field, "remoteRef": {"key": secret_key, "property": field}}
                              for field in fields]}}


def _resources(config):
    resources = config["resources"]
    result = {"requests": dict((k, v) for k, v in resources["requests"].items() if v)}
    limits = dict((k, v) for k, v in (resources.get("limits") or {}).items() if v)
    if limits:
        result["limits"] = limits
    return result


def _pod(config, identity, command, env, system_node_group, labels, server, auth_config_map=None):
    container = {
        "name": "mlflow" if server else "db-upgrade", "image": image(config), "command": command, "env": env,
        "resources": _resources(config),
        "securityContext": restricted_container(RUN_AS),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    if server:
        container["ports"] = [{"name": "http", "containerPort": PORT, "protocol": "TCP"}]
        probe = {"httpGet": {"path": "/health", "port": "http"}, "periodSeconds": 10, "timeoutSeconds": 5}
        container["startupProbe"] = dict(probe, failureThreshold=30)
        container["readinessProbe"] = dict(probe, failureThreshold=3)
        container["livenessProbe"] = dict(probe, failureThreshold=6)
    spec = {"serviceAccountName": identity["service_account"],
            "securityContext": restricted_pod(RUN_AS, fs_group=True),
            "containers": [container],
            "volumes": [{"name": "tmp", "emptyDir": {}}]}
    if auth_config_map:
        container["volumeMounts"].append({"name": "auth", "mountPath": AUTH_CONFIG_DIR, "readOnly": True})
        spec["volumes"].append({"name": "auth", "configMap": {"name": auth_config_map}})
    if not server:
        spec["restartPolicy"] = "Never"
    if system_node_group:
        spec["nodeSelector"] = node_selector(system_node_group)
    if server and config["replicas"] > 1:
        spec["topologySpreadConstraints"] = [
            {"maxSkew": 1, "topologyKey": key, "whenUnsatisfiable": "ScheduleAnyway",
             "labelSelector": {"matchLabels": dict(SERVER_LABELS)}}
            for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")]
    return {"metadata": {"labels": dict(labels, **PART_OF)}, "spec": spec}


def network_policies(namespace, database_port):
    """What MLflow's pods need through the namespace's default-deny: the server takes HTTP on
    its port (clients in the cluster, the ALB's targets); the server and the migration Job
    reach the database and, over HTTPS, S3 and STS."""
    return [
        network_policy(namespace, "allow-mlflow-server", {
            "podSelector": {"matchLabels": dict(SERVER_LABELS)}, "policyTypes": ["Ingress"],
            "ingress": [{"ports": [{"protocol": "TCP", "port": PORT}]}],
        }),
        network_policy(namespace, "allow-mlflow-egress", {
            "podSelector": {"matchLabels": dict(PART_OF)}, "policyTypes": ["Egress"],
            "egress": [{"ports": [{"protocol": "TCP", "port": int(database_port)},
                                  {"protocol": "TCP", "port": 443}]}],
        }),
    ]


def ingress(config, namespace):
    settings = config["ingress"]
    annotations = {
        "alb.ingress.kubernetes.io/scheme": settings["scheme"],
        "alb.ingress.kubernetes.io/target-type": "ip",
        "alb.ingress.kubernetes.io/healthcheck-path": "/health",
    }
    if settings.get("certificate_arn"):
        annotations.update({
            "alb.ingress.kubernetes.io/certificate-arn": settings["certificate_arn"],
            "alb.ingress.kubernetes.io/listen-ports": '[{"HTTPS": 443}]',
        })
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": NAME, "namespace": namespace, "annotations": annotations},
            "spec": {"ingressClassName": settings["class_name"],
                     "rules": [{"host": settings["host"], "http": {"paths": [{
                         "path": "/", "pathType": "Prefix",
                         "backend": {"service": {"name": NAME, "port": {"name": "http"}}}}]}}]}}


def objects(config, identity, region, database, artifacts, secret_store, system_node_group=None,
            network_policies_enabled=True, admin_secret=None):
    """Every MLflow object.

    ``identity``: the mlflow workload identity's output (``namespace``, ``service_account``,
    ``pod_annotations``); ``database``: ``{host, port, name, secret}``, ``secret`` the
    Secrets Manager secret holding ``username`` and ``password``; ``artifacts``: ``{bucket,
    prefix}`` of the artifacts zone; ``secret_store``: the platform base's ClusterSecretStore;
    ``admin_secret``: with ``basic_auth``, the Secrets Manager secret of the admin
    (:func:`admin_secret_name`).
    """
    if config["basic_auth"] and not admin_secret:
        raise MlflowError("config.basic_auth", "is true, but no admin secret was given")
    namespace = identity["namespace"]
    store_uri = backend_store_uri(database["host"], database["port"], database["name"])
    destination = artifacts_destination(artifacts["bucket"], artifacts.get("prefix"))
    env = environment(region)
    extra = []
    auth_config_map = None
    server_env = env
    if config["basic_auth"]:
        text = auth_config(config, store_uri)
        auth_config_map = "mlflow-auth-%s" % short_digest(text)
        extra = [{"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": auth_config_map, "namespace": namespace,
                               "annotations": {WAVE_ANNOTATION: "-1"}},
                  "data": {AUTH_CONFIG_FILE: text}},
                 external_secret(namespace, secret_store, ADMIN_SECRET, admin_secret,
                                 ("username", "password", "flask_secret_key"))]
        server_env = env + auth_environment()
    service_account = {"apiVersion": "v1", "kind": "ServiceAccount",
                       "metadata": {"name": identity["service_account"], "namespace": namespace,
                                    "annotations": dict(identity.get("pod_annotations") or {},
                                                        **{WAVE_ANNOTATION: "-1"})}}
    template = _pod(config, identity, upgrade_command(store_uri), env, system_node_group, UPGRADE_LABELS,
                    server=False)
    upgrade = {"apiVersion": "batch/v1", "kind": "Job",
               "metadata": {"name": "mlflow-db-upgrade-%s" % short_digest(template), "namespace": namespace,
                            "labels": dict(UPGRADE_LABELS), "annotations": {WAVE_ANNOTATION: "-1"}},
               "spec": {"backoffLimit": 3, "activeDeadlineSeconds": 900, "template": template}}
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment",
                  "metadata": {"name": NAME, "namespace": namespace, "labels": dict(SERVER_LABELS)},
                  "spec": {"selector": {"matchLabels": dict(SERVER_LABELS)},
                           "strategy": {"type": "RollingUpdate",
                                        "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
                           "template": _pod(config, identity,
                                            server_command(config, namespace, store_uri, destination),
                                            server_env, system_node_group, SERVER_LABELS, server=True,
                                            auth_config_map=auth_config_map)}}
    if config["replicas"] == 1:
        deployment["spec"]["replicas"] = 1
    service = {"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": NAME, "namespace": namespace, "labels": dict(SERVER_LABELS)},
               "spec": {"selector": dict(SERVER_LABELS),
                        "ports": [{"name": "http", "port": PORT, "targetPort": "http", "protocol": "TCP"}]}}
    result = [service_account,
              external_secret(namespace, secret_store, DATABASE_SECRET, database["secret"], ("username", "password")),
              upgrade, deployment, service] + extra
    if network_policies_enabled:
        result.extend(network_policies(namespace, database["port"]))
    if config["replicas"] > 1:
        result.append({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                       "metadata": {"name": NAME, "namespace": namespace},
                       "spec": {"maxUnavailable": 1, "selector": {"matchLabels": dict(SERVER_LABELS)}}})
        result.append({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                       "metadata": {"name": NAME, "namespace": namespace},
                       "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": NAME},
                                "minReplicas": config["replicas"],
                                "maxReplicas": config.get("max_replicas") or 2 * config["replicas"],
                                "metrics": [{"type": "Resource", "resource": {
                                    "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 75}}}]}})
    if config["ingress"]["enabled"]:
        result.append(ingress(config, namespace))
    return result


def database_of(config, database_outputs):
    """``{host, port, name, secret}`` of MLflow's backend store: the external database when
    ``config.external_database.host`` is set, else its logical database of the ``database``
    component (its owner role's secret). None while that database is only planned (no
    endpoint yet). Raises MlflowError with the option's path when the outputs lack it."""
    external = config.get("external_database") or {}
    if external.get("host"):
        return {"host": external["host"], "port": external["port"], "name": external["name"],
                "secret": external["credentials_secret_arn"]}
    outputs = database_outputs or {}
    name = config["database_name"]
    databases = outputs.get("databases") or {}
    if name not in databases:
        raise MlflowError("database", "the database component's outputs declare no database %r (declared: %s)"
                          % (name, ", ".join(sorted(databases)) or "none"))
    owner = databases[name]["owner"]
    secret = ((outputs.get("role_secrets") or {}).get(owner) or {}).get("name")
    endpoint = outputs.get("endpoint")
    if not endpoint or not secret or "(known after" in "%s %s" % (endpoint, secret):
        return None
    return {"host": endpoint, "port": outputs.get("port") or 5432, "name": name, "secret": secret}


def artifacts_of(config, lake_outputs):
    """``{bucket, prefix}`` of the artifacts zone, from the data_lake module's ``buckets``."""
    zone = config["artifact_zone"]
    buckets = (lake_outputs or {}).get("buckets") or {}
    if zone not in buckets:
        raise MlflowError("data_lake", "the data lake's outputs have no zone %r (zones: %s)"
                          % (zone, ", ".join(sorted(buckets)) or "none"))
    return {"bucket": buckets[zone]["name"], "prefix": buckets[zone].get("prefix") or ""}
