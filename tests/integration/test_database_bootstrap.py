"""The database bootstrap Job's own command, run against a real PostgreSQL (TLS on, as RDS
requires): exactly the command, script and environment of the rendered Job, with its Secret
references resolved as External Secrets would. It makes each role and database; a second run
runs no statement and leaves the server as it was; a changed password is set, and only then;
a missing password stops it without printing any password."""

import os
import secrets
import subprocess

import pods

from ansible_collections.mlops.platform.plugins.module_utils import database_bootstrap as bootstrap


DATABASES = {"mlflow": {"owner": "mlflow"}, "feast_registry": {"owner": "feast"}}
MASTER_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-0123-AbCdEf"
ROLE_SECRETS = {"mlflow": "mlops-it/database/mlflow", "feast": "mlops-it/database/feast"}


def rendered(server):
    objects = bootstrap.job_objects("mlops-system", DATABASES, "127.0.0.1", server.port, "postgres:17.6-alpine",
                                    MASTER_ARN, ROLE_SECRETS, "aws-secrets-manager")
    return dict((obj["kind"] + ("/" + obj["metadata"]["name"] if obj["kind"] == "ExternalSecret" else ""), obj)
                for obj in objects)


def run_job(server, tmp_path, secret_values):
    """Run the Job's container as the kubelet would (tests/integration/pods.py): its command,
    its env (Secret references resolved from ``secret_values`` as External Secrets would have
    written them), and its ConfigMap mounted where the Job mounts it."""
    objects = rendered(server)
    job, config_map = objects["Job"], objects["ConfigMap"]
    container = job["spec"]["template"]["spec"]["containers"][0]
    mount = container["volumeMounts"][0]["mountPath"]
    directory = tmp_path / "mount"
    directory.mkdir(exist_ok=True)
    for name, text in config_map["data"].items():
        (directory / name).write_text(text)
    base = {key: value for key, value in server.env().items() if not key.startswith("PG")}
    return pods.run(container, secret_values, base=base, replace={mount: str(directory)})


def fingerprint(server):
    """Everything the bootstrap may touch: roles (with their password hashes), memberships,
    role comments, databases with owners and privileges."""
    return (server.psql("SELECT rolname, rolcanlogin, rolpassword, shobj_description(oid, 'pg_authid') "
                        "FROM pg_authid ORDER BY rolname"),
            server.psql("SELECT roleid::regrole, member::regrole FROM pg_auth_members ORDER BY 1, 2"),
            server.psql("SELECT datname, pg_get_userbyid(datdba), datacl FROM pg_database ORDER BY datname"))


def can_connect(server, user, password, database):
    result = subprocess.run([os.path.join(server.bin_dir, "psql"), "--no-psqlrc", "-XAtq", "-c", "SELECT 1"],
                            env=server.env(PGUSER=user, PGPASSWORD=password, PGDATABASE=database,
                                           PGSSLMODE="require"),
                            capture_output=True, text=True, timeout=30, check=False)
    return result.returncode == 0


def test_the_jobs_command_makes_roles_and_databases_then_changes_nothing(postgres, tmp_path):
    server = postgres
    assert server.psql("SHOW ssl") == ["on"]
    passwords = {"mlflow": secrets.token_urlsafe(24), "feast": secrets.token_urlsafe(24)}
    values = {("database-master", "username"): "postgres", ("database-master", "password"): "postgres-test-superuser",
              ("database-role-mlflow", "password"): passwords["mlflow"],
              ("database-role-feast", "password"): passwords["feast"]}

    first = run_job(server, tmp_path, values)
    assert first.returncode == 0, first.stderr
    for tag in ("CREATE ROLE", "ALTER ROLE", "COMMENT", "CREATE DATABASE", "REVOKE"):
        assert tag in first.stdout, first.stdout
    assert can_connect(server, "mlflow", passwords["mlflow"], "mlflow")
    assert can_connect(server, "feast", passwords["feast"], "feast_registry")
    assert not can_connect(server, "feast", passwords["feast"], "mlflow")  # PUBLIC lost CONNECT
    assert server.psql("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'mlflow'") == ["mlflow"]

    before = fingerprint(server)
    second = run_job(server, tmp_path, values)
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == "mlops.platform database bootstrap: done", second.stdout
    assert fingerprint(server) == before  # not even a password re-hashed

    # A password changed in Secrets Manager is set, and only that one.
    values[("database-role-mlflow", "password")] = rotated = secrets.token_urlsafe(24)
    third = run_job(server, tmp_path, values)
    assert third.returncode == 0, third.stderr
    assert third.stdout.count("ALTER ROLE") == 1 and "CREATE" not in third.stdout, third.stdout
    assert can_connect(server, "mlflow", rotated, "mlflow")
    assert not can_connect(server, "mlflow", passwords["mlflow"], "mlflow")
    for output in (first, second, third):
        assert not any(p in output.stdout + output.stderr for p in list(passwords.values()) + [rotated])


def test_a_missing_password_stops_the_job_and_prints_no_secret(postgres, tmp_path):
    values = {("database-master", "username"): "postgres", ("database-master", "password"): "postgres-test-superuser",
              ("database-role-mlflow", "password"): "too-short"}
    result = run_job(postgres, tmp_path, values)
    assert result.returncode != 0
    assert "MLOPS_PASSWORD_FEAST (the password of role feast) is not set" in result.stderr, result.stderr
    assert "too-short" not in result.stdout + result.stderr


def test_the_job_meets_restricted_pod_security_and_carries_no_secret():
    objects = bootstrap.job_objects("mlops-system", DATABASES, "db.example", 5432, "postgres:17.6-alpine", MASTER_ARN,
                                    ROLE_SECRETS, "aws-secrets-manager")
    job = [obj for obj in objects if obj["kind"] == "Job"][0]
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["seccompProfile"] == {
        "type": "RuntimeDefault"}
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert not container["securityContext"]["allowPrivilegeEscalation"]
    assert all("value" not in v for v in container["env"] if "PASSWORD" in v["name"] or v["name"] == "PGUSER")
    # A changed script, image or endpoint is a new Job (a Job's template cannot change).
    for change in (dict(databases={"mlflow": {"owner": "mlflow"}}), dict(image="postgres:18.1-alpine"),
                   dict(host="db2.example")):
        inputs = dict(dict(databases=DATABASES, host="db.example", image="postgres:17.6-alpine"), **change)
        other = bootstrap.job_objects("mlops-system", inputs["databases"], inputs["host"], 5432, inputs["image"],
                                      MASTER_ARN, ROLE_SECRETS, "aws-secrets-manager")
        assert [o for o in other if o["kind"] == "Job"][0]["metadata"]["name"] != job["metadata"]["name"], change
