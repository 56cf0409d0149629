#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: mlflow
short_description: Converge the MLflow tracking server and model registry on an environment's cluster
version_added: 0.1.0
description:
  - Applies, with the collection's Kubernetes engine (server-side apply under the field manager
    C(mlops.platform)), MLflow in the namespace of its workload identity.
  - A Deployment of C(mlflow server) on the official C(-full) image of C(config.version) (it has the PostgreSQL and
    S3 drivers), a Service, and above one replica a PodDisruptionBudget and a HorizontalPodAutoscaler (which then
    owns the replica count); with C(config.ingress.enabled) an Ingress for the AWS Load Balancer Controller,
    internal by default.
  - The backend store is MLflow's logical database of the database component (or C(config.external_database)).
    Its user and password reach the pods as C(PGUSER) and C(PGPASSWORD) from a Secret that External Secrets makes
    from Secrets Manager; no credential is in an argument, a plain env value or a rendered file.
  - Artifacts are served through the server (C(--serve-artifacts)) from C(s3://<lake bucket>/<artifacts zone>)
    with the workload identity of the service account (its IRSA annotation, or none with Pod Identity).
  - With C(config.basic_auth) (the default), the C(basic-auth) app - every request but C(/health) needs a user.
    The C(admin) user's password and the server's session key are generated once, by this module, into the Secrets
    Manager secret C(<name_prefix>/mlflow/admin) (never returned, logged or rendered), and reach the server through
    an ExternalSecret. MLflow sets the admin's password only when it first creates the user; to rotate it, use
    MLflow's API. A secret of that name that the collection did not make is refused.
  - C(mlflow db upgrade) runs as a Job in sync wave -1; the Deployment of a new version is applied only once
    it completed (Argo CD follows the same waves from a render).
  - The server's C(--allowed-hosts) lists every name of its Service, the ingress host and C(config.allowed_hosts);
    probes ask C(/health). Every pod meets the C(restricted) Pod Security Standard.
  - Check mode is a server-side dry run with a C({before, after}) diff per object; a re-run with nothing to change
    makes no write. With O(enabled=false) every object MLflow applied earlier is pruned.
author:
  - mlops.platform contributors (@mlops-platform)
options:
  config:
    description:
      - The C(config) of the C(mlflow) component, as in C(mlops_config.mlops_ml_platform.mlflow.config), merged over
        the defaults of docs/configuration.md and validated before any request, every problem reported with its
        dotted path.
    type: dict
    default: {}
  enabled:
    description:
      - Whether MLflow is converged. With V(false) its objects are pruned.
    type: bool
    default: true
  workload_identities:
    description:
      - The workload_identity module's output (fact C(mlops_workload_identity)); its C(mlflow) entry gives the
        namespace, the service account and its annotations.
    type: dict
    default: {}
  database:
    description:
      - The database module's outputs (fact C(mlops_database)) - C(endpoint), C(port), C(databases) and
        C(role_secrets). Not used with C(config.external_database.host).
    type: dict
    default: {}
  data_lake:
    description:
      - The data_lake module's outputs (fact C(mlops_data_lake)); C(buckets[config.artifact_zone]) is where artifacts
        go.
    type: dict
    default: {}
  secret_store:
    description:
      - The platform base's ClusterSecretStore on AWS Secrets Manager.
    type: str
    default: aws-secrets-manager
  platform_namespace:
    description:
      - The platform base's own namespace, where MLflow's ApplySet record (what it applied, for pruning) is kept;
        it outlives MLflow's namespace, so turning MLflow off still finds what to prune.
    type: str
    default: mlops-system
  name_prefix:
    description:
      - Prefix of the environment's resource names, as C(mlops_environment.name_prefix) or C(mlops-<environment>).
        With C(config.basic_auth), the admin's secret is C(<name_prefix>/mlflow/admin).
    type: str
  tags:
    description:
      - Tags put on the admin's secret, with the ownership tags.
    type: dict
    default: {}
  network_policies:
    description:
      - Whether the namespace has the platform base's default-deny NetworkPolicies; MLflow then adds the allows
        its pods need (HTTP in to the server; the database port and HTTPS out).
    type: bool
    default: true
  system_node_group:
    description:
      - The EKS managed node group MLflow's pods are placed on (its C(eks.amazonaws.com/nodegroup) label).
    type: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
  - mlops.platform.kubernetes
  - mlops.platform.assume_role
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
attributes:
  check_mode:
    support: full
    description: A server-side dry run of every object; creations in a namespace that does not exist yet are
      predicted without asking.
  diff_mode:
    support: full
    description: One C({before, after}) per changed object, limited to the fields the collection owns.
  platform:
    platforms: posix
  action_group:
    membership: [mlops.platform.aws]
notes:
  - Needs the C(kubernetes) Python package. No kubectl, helm or aws CLI is used.
  - Needs the platform base (namespace, External Secrets, the database bootstrap that makes MLflow's role and
    database) converged first; the site playbook does so.
"""

EXAMPLES = r"""
- name: Converge MLflow on the environment's EKS cluster
  mlops.platform.mlflow:
    config: "{{ mlops_config.mlops_ml_platform.mlflow.config }}"
    environment: dev
    workload_identities: "{{ mlops_workload_identity }}"
    database: "{{ mlops_database }}"
    data_lake: "{{ mlops_data_lake }}"
    system_node_group: mlops-dev-system
    eks:
      name: "{{ mlops_eks.cluster_name }}"
      endpoint: "{{ mlops_eks.endpoint }}"
      certificate_authority_data: "{{ mlops_eks.certificate_authority_data }}"

- name: Turn MLflow off (prunes what it made)
  mlops.platform.mlflow:
    environment: dev
    enabled: false
    kubeconfig: ~/.kube/dev
"""

RETURN = r"""
created:
  description: The objects created (or that would be, in check mode), as C(<apiVersion> <kind> <namespace>/<name>).
  returned: when applied
  type: list
  elements: str
updated:
  description: The objects changed.
  returned: when applied
  type: list
  elements: str
deleted:
  description: The objects pruned.
  returned: when applied
  type: list
  elements: str
kept:
  description: Objects no longer wanted but kept because they hold data (see O(prune_data)).
  returned: when applied
  type: list
  elements: str
unchanged:
  description: How many objects needed nothing.
  returned: when applied
  type: int
requests:
  description: The requests sent to the API server, by HTTP method, and C(discovery).
  returned: when applied
  type: dict
files:
  description: The files of the render.
  returned: with O(render_dir)
  type: list
  elements: str
ansible_facts:
  description: Facts for later components.
  returned: always
  type: dict
  contains:
    mlops_mlflow:
      description: C(enabled), C(namespace), C(service_account), C(tracking_uri) (in the cluster), C(ingress_host),
        C(image), C(version), C(artifacts_destination) and, with basic auth, C(admin_secret) (C(name), C(arn)).
      type: dict
"""

import json
import secrets

try:
    import botocore
except ImportError:
    pass  # handled by MlopsAWSModule

from ansible_collections.mlops.platform.plugins.module_utils import mlflow
from ansible_collections.mlops.platform.plugins.module_utils.aws import AWSResourceError, MlopsAWSModule
from ansible_collections.mlops.platform.plugins.module_utils.component import managed_tags, validate_config
from ansible_collections.mlops.platform.plugins.module_utils.generated_secret import GeneratedSecrets
from ansible_collections.mlops.platform.plugins.module_utils.config_schema import MLFLOW
from ansible_collections.mlops.platform.plugins.module_utils.kube_component import converge, kube_argument_spec


def ensure_admin_secret(module, name_prefix):
    """The basic-auth admin's secret, generated once (``{"name", "arn"}``, ``aws_changes``)."""
    environment = module.params["environment"]
    name = mlflow.admin_secret_name(name_prefix)
    admin = GeneratedSecrets(module, name.rpartition("/")[0] + "/", environment, mlflow.COMPONENT,
                             managed_tags(environment, mlflow.COMPONENT, module.params["tags"]))
    admin.read()
    changed = admin.ensure(
        name, lambda: json.dumps({"username": mlflow.ADMIN_USERNAME, "password": secrets.token_urlsafe(32),
                                  "flask_secret_key": secrets.token_urlsafe(48)}),
        "Admin credentials and session key of the MLflow tracking server of %s (mlops.platform)" % environment,
        lambda: AWSResourceError("name_prefix", "names the secret %s, which exists but is not owned by the MLflow "
                                                "of environment %s (no mlops.platform ownership tags); it is left "
                                                "alone: remove it or choose another name_prefix" % (name, environment)))
    secret = {"name": name, "arn": admin.arn(name)}
    return secret, [{"before": {}, "after": {"secret": name}, "after_header": "Secrets Manager secret %s" % name}] \
        if changed else []


def main():
    module = MlopsAWSModule(argument_spec=kube_argument_spec(
        enabled=dict(type="bool", default=True),
        workload_identities=dict(type="dict", default={}),
        database=dict(type="dict", default={}),
        data_lake=dict(type="dict", default={}),
        secret_store=dict(type="str", default="aws-secrets-manager", no_log=False),
        platform_namespace=dict(type="str", default="mlops-system"),
        name_prefix=dict(type="str"),
        tags=dict(type="dict", default={}),
        network_policies=dict(type="bool", default=True),
        system_node_group=dict(type="str"),
    ), supports_check_mode=True)
    config = validate_config(module, MLFLOW,
                             extra_checks=lambda c: mlflow.config_checks(c, module.params["environment"]))
    params = module.params
    facts = {"enabled": params["enabled"]}
    objects = []
    aws_changes = []
    if params["enabled"]:
        if not module.region:
            module.fail_json(msg="region: MLflow's S3 client names the lake's region; set region "
                                 "(the plays set it from mlops_environment.region)")
        identity = params["workload_identities"].get(mlflow.COMPONENT)
        if not identity or not identity.get("namespace") or not identity.get("service_account"):
            module.fail_json(msg="workload_identities.mlflow: no workload identity for MLflow (namespace, "
                                 "service_account); converge the workload_identity component first")
        try:
            database = mlflow.database_of(config, params["database"])
            artifacts = mlflow.artifacts_of(config, params["data_lake"])
        except mlflow.MlflowError as e:
            module.fail_json(msg=str(e))
        if database is None:
            module.fail_json(msg="database: the database component has no endpoint or no password secret for "
                                 "MLflow's role yet (only planned?); converge the database first")
        admin = None
        if config["basic_auth"]:
            if not params["name_prefix"]:
                module.fail_json(msg="name_prefix: needed with config.basic_auth, to name the admin's secret "
                                     "(<name_prefix>/mlflow/admin)")
            try:
                admin, aws_changes = ensure_admin_secret(module, params["name_prefix"])
            except AWSResourceError as e:
                module.fail_json(msg=str(e))
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
                module.fail_json_aws(e, msg="Could not converge MLflow's admin secret in Secrets Manager")
            facts["admin_secret"] = admin
        objects = mlflow.objects(config, identity, module.region, database, artifacts, params["secret_store"],
                                 params["system_node_group"], params["network_policies"],
                                 admin_secret=admin["name"] if admin else None)
        namespace = identity["namespace"]
        facts.update(
            namespace=namespace, service_account=identity["service_account"],
            tracking_uri="http://%s.%s.svc.cluster.local:%d" % (mlflow.NAME, namespace, mlflow.PORT),
            ingress_host=config["ingress"]["host"] if config["ingress"]["enabled"] else None,
            image=mlflow.image(config), version=config["version"],
            artifacts_destination=mlflow.artifacts_destination(artifacts["bucket"], artifacts["prefix"]))
    converge(module, mlflow.COMPONENT, params["platform_namespace"], objects, facts={"mlops_mlflow": facts},
             aws_changes=aws_changes)


if __name__ == "__main__":
    main()
