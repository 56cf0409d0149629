# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The database bootstrap: each platform component's role and logical database, made from
inside the cluster (RDS is private) by a Job that runs ``psql`` with a script rendered here.

Pure: the psql script and the Job's objects, no API calls. The script is safe to run again
and again: a run on a converged database changes nothing, and says so. For each owner role
of ``mlops_infrastructure.database.config.databases``:

* the role is created (``LOGIN``) unless it exists;
* its password, read by psql from the environment (``MLOPS_PASSWORD_<ROLE>``, put there from
  a Secret that External Secrets keeps in step with Secrets Manager, so the script holds
  no secret), is set only when it changed. The role's comment keeps a digest of the password
  it was last set to, so no password is rewritten, or re-hashed, without need. (The digest
  is a truncated SHA-256 of a random 32-character password and the role name: it tells
  nothing about the password.) This works on RDS, where the master user cannot read
  ``pg_authid``;
* the connecting user is made a member of the role where needed (PostgreSQL 16+ asks it,
  to create a database owned by the role).

Then each database is created with its owner, ownership is set back if it drifted, and
``PUBLIC`` loses ``CONNECT`` and ``TEMP`` on it. psql prints the tag of each statement it
runs (``CREATE ROLE``, ``ALTER ROLE``, ``CREATE DATABASE``...). A run that changes nothing
prints none, only its closing line.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mlops.platform.plugins.module_utils.kube_objects import (
    restricted_container,
    restricted_pod,
    short_digest,
)

SCRIPT_KEY = "bootstrap.sql"
MOUNT_PATH = "/etc/mlops-database-bootstrap"
PASSWORD_ENV = "MLOPS_PASSWORD_%s"
MARKER_PREFIX = "mlops.platform password "
MASTER_SECRET = "database-master"
ROLE_SECRET = "database-role-%s"
# The official image's "postgres" user (Alpine variant): not root, as Pod Security's
# restricted standard requires.
POSTGRES_UID = 70
MIN_PASSWORD_LENGTH = 16


def owners(databases):
    """The owner roles of ``databases`` (``{name: {"owner": role}}``), sorted, each once."""
    return sorted(set(spec["owner"] for spec in databases.values()))


def password_env(role):
    return PASSWORD_ENV % role.upper()


def script(databases):
    """The psql script that makes ``databases`` and their owners (see the module's doc)."""
    lines = [
        "-- mlops.platform database bootstrap: safe to run again; a run that changes nothing runs no statement.",
        "\\set ON_ERROR_STOP on",
        "\\set QUIET on",
        "SET client_min_messages = warning;",
        "\\set QUIET off",
    ]
    for role in owners(databases):
        env = password_env(role)
        lines += [
            "",
            "-- role %s" % role,
            "\\set role '%s'" % role,
            "\\getenv password %s" % env,
            "\\if :{?password}",
            "\\else",
            "  \\set password ''",
            "\\endif",
            "SELECT length(:'password') < %d AS weak \\gset" % MIN_PASSWORD_LENGTH,
            "\\if :weak",
            "  DO $$ BEGIN RAISE EXCEPTION '%s (the password of role %s) is not set or shorter than %d characters'; "
            "END $$;" % (env, role, MIN_PASSWORD_LENGTH),
            "\\endif",
            "SELECT format('CREATE ROLE %I LOGIN', :'role')",
            "  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \\gexec",
            "SELECT format('ALTER ROLE %I LOGIN', :'role') FROM pg_roles",
            "  WHERE rolname = :'role' AND NOT rolcanlogin \\gexec",
            "SELECT '%s' || left(encode(sha256(convert_to(:'role' || ':' || :'password', 'UTF8')), 'hex'), 32)"
            % MARKER_PREFIX,
            "  AS marker \\gset",
            "SELECT format('ALTER ROLE %I PASSWORD %L', :'role', :'password'),",
            "       format('COMMENT ON ROLE %I IS %L', :'role', :'marker')",
            "  FROM pg_roles WHERE rolname = :'role'",
            "  AND shobj_description(oid, 'pg_authid') IS DISTINCT FROM :'marker' \\gexec",
            "SELECT format('GRANT %I TO CURRENT_USER', :'role')",
            "  WHERE NOT pg_has_role(CURRENT_USER, :'role', 'MEMBER') \\gexec",
            "\\unset password",
            "\\unset marker",
        ]
    for name, spec in sorted(databases.items()):
        lines += [
            "",
            "-- database %s" % name,
            "\\set database '%s'" % name,
            "\\set owner '%s'" % spec["owner"],
            "SELECT format('CREATE DATABASE %I OWNER %I', :'database', :'owner')",
            "  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'database') \\gexec",
            "SELECT format('ALTER DATABASE %I OWNER TO %I', :'database', :'owner') FROM pg_database",
            "  WHERE datname = :'database' AND pg_get_userbyid(datdba) <> :'owner' \\gexec",
            "SELECT format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', :'database')",
            "  WHERE has_database_privilege('public', :'database', 'CONNECT')",
            "     OR has_database_privilege('public', :'database', 'TEMPORARY') \\gexec",
        ]
    lines += ["", "\\echo 'mlops.platform database bootstrap: done'", ""]
    return "\n".join(lines)


def job_objects(namespace, databases, host, port, image, master_secret_arn, role_secret_names, secret_store,
                node_selector=None, tolerations=None):
    """The bootstrap's objects in ``namespace``: the script's ConfigMap, the ExternalSecrets
    that bring the master credentials and each role's password from Secrets Manager, and the
    Job. The Job's name carries a digest of its script and image, so a changed bootstrap is a
    new Job (a Job's pod template cannot change) and the old one is pruned. The names carry
    digests: the ConfigMap's of its script, the Job's of its whole pod template (image,
    database endpoint, script's ConfigMap...), so any change is a new Job, never a refused
    update of an immutable one.

    ``role_secret_names``: ``{role: Secrets Manager name}`` of each owner's password secret.
    """
    text = script(databases)
    config_map = {"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": "database-bootstrap-%s" % short_digest(text), "namespace": namespace},
                  "data": {SCRIPT_KEY: text}}
    secrets = [_external_secret(namespace, MASTER_SECRET, secret_store,
                                [{"secretKey": key, "remoteRef": {"key": master_secret_arn, "property": key}}
                                 for key in ("username", "password")])]
    env = [
        {"name": "PGHOST", "value": host},
        {"name": "PGPORT", "value": str(port)},
        {"name": "PGDATABASE", "value": "postgres"},
        # RDS refuses unencrypted connections (rds.force_ssl).
        {"name": "PGSSLMODE", "value": "require"},
        {"name": "PGCONNECT_TIMEOUT", "value": "10"},
        {"name": "PGUSER", "valueFrom": {"secretKeyRef": {"name": MASTER_SECRET, "key": "username"}}},
        {"name": "PGPASSWORD", "valueFrom": {"secretKeyRef": {"name": MASTER_SECRET, "key": "password"}}},
    ]
    for role in owners(databases):
        name = ROLE_SECRET % role.replace("_", "-")
        secrets.append(_external_secret(namespace, name, secret_store, [
            {"secretKey": "password", "remoteRef": {"key": role_secret_names[role], "property": "password"}}]))
        env.append({"name": password_env(role), "valueFrom": {"secretKeyRef": {"name": name, "key": "password"}}})
    pod = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "securityContext": restricted_pod(POSTGRES_UID),
        "containers": [{
            "name": "psql",
            "image": image,
            "command": ["psql", "--no-psqlrc", "--file", "%s/%s" % (MOUNT_PATH, SCRIPT_KEY)],
            "env": env,
            "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
            "securityContext": restricted_container(),
            "volumeMounts": [{"name": "script", "mountPath": MOUNT_PATH, "readOnly": True}],
        }],
        "volumes": [{"name": "script", "configMap": {"name": config_map["metadata"]["name"]}}],
    }
    if node_selector:
        pod["nodeSelector"] = dict(node_selector)
    if tolerations:
        pod["tolerations"] = list(tolerations)
    template = {"metadata": {"labels": {"app.kubernetes.io/name": "database-bootstrap"}}, "spec": pod}
    job = {"apiVersion": "batch/v1", "kind": "Job",
           "metadata": {"name": "database-bootstrap-%s" % short_digest(template), "namespace": namespace},
           "spec": {"backoffLimit": 4, "activeDeadlineSeconds": 900, "template": template}}
    return [config_map] + secrets + [job]


def _external_secret(namespace, name, store, data):
    return {"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"secretStoreRef": {"kind": "ClusterSecretStore", "name": store},
                     "refreshInterval": "1h",
                     "target": {"name": name, "creationPolicy": "Owner"},
                     "data": data}}
