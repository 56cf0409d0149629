"""Integration harness: a throwaway PostgreSQL server (Debian's, installed by .ci/run), one
per test session, on a free loopback port, with its data in a temporary directory and TLS on
(a self-signed certificate), as RDS serves it.

PostgreSQL refuses to run as root: when the tests do, initdb and the server run as the
`postgres` user the Debian package creates. Nothing is skipped: without PostgreSQL, every
test that needs it fails, saying what is missing.
"""

import glob
import os
import shutil
import socket
import subprocess
import tempfile

import pytest


def _bin_dir():
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                        key=lambda path: int(path.split("/")[4]) if path.split("/")[4].isdigit() else 0)
    return os.path.dirname(candidates[-1]) if candidates else None


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Postgres:
    """A running server: ``env()`` gives the libpq variables that reach it as its superuser."""

    def __init__(self, bin_dir, root, port, run_as):
        self.bin_dir, self.root, self.port, self.run_as = bin_dir, root, port, run_as
        self.data = os.path.join(root, "data")
        self.socket_dir = root

    def command(self, *args):
        return (["runuser", "-u", self.run_as, "--"] if self.run_as else []) + list(args)

    def env(self, **extra):
        environment = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
        environment.update({"PGHOST": "127.0.0.1", "PGPORT": str(self.port), "PGUSER": "postgres",
                            "PGPASSWORD": "postgres-test-superuser", "PGDATABASE": "postgres",
                            "PATH": self.bin_dir + os.pathsep + environment.get("PATH", "")})
        environment.update(extra)
        return environment

    def psql(self, sql, database="postgres"):
        """Run ``sql`` as the superuser; its rows, one string per line."""
        result = subprocess.run([os.path.join(self.bin_dir, "psql"), "--no-psqlrc", "-XAtq", "-v", "ON_ERROR_STOP=1",
                                 "-d", database, "-c", sql], env=self.env(), capture_output=True, text=True,
                                check=False, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout.splitlines()


@pytest.fixture(scope="session")
def postgres():
    bin_dir = _bin_dir()
    if bin_dir is None:
        pytest.fail("PostgreSQL is not installed (/usr/lib/postgresql/<version>/bin): .ci/run installs Debian's "
                    "postgresql package; `apt-get install postgresql` does it by hand", pytrace=False)
    run_as = "postgres" if os.geteuid() == 0 else None
    root = tempfile.mkdtemp(prefix="mlops-pg-")
    server = Postgres(bin_dir, root, _free_port(), run_as)
    password_file = os.path.join(root, "superuser-password")
    with open(password_file, "w") as f:
        f.write("postgres-test-superuser\n")
    cert, key = os.path.join(root, "server.crt"), os.path.join(root, "server.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-keyout", key, "-out", cert], check=True, capture_output=True, timeout=60)
    os.chmod(key, 0o600)
    if run_as:
        for path in (root, password_file, cert, key):
            shutil.chown(path, run_as, run_as)
    try:
        subprocess.run(server.command(os.path.join(bin_dir, "initdb"), "-D", server.data, "-U", "postgres",
                                      "--pwfile", password_file, "--auth-local=trust",
                                      "--auth-host=scram-sha-256", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"),
                       check=True, capture_output=True, text=True, timeout=120)
        subprocess.run(server.command(os.path.join(bin_dir, "pg_ctl"), "-D", server.data, "-l",
                                      os.path.join(root, "server.log"), "-w", "-t", "60", "-o",
                                      "-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c ssl=on "
                                      "-c ssl_cert_file=%s -c ssl_key_file=%s"
                                      % (server.port, server.socket_dir, cert, key), "start"),
                       check=True, capture_output=True, text=True, timeout=120)
    except subprocess.CalledProcessError as e:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail("PostgreSQL did not start: %s%s" % (e.stdout, e.stderr), pytrace=False)
    try:
        yield server
    finally:
        subprocess.run(server.command(os.path.join(bin_dir, "pg_ctl"), "-D", server.data, "-m", "fast", "-w",
                                      "stop"), capture_output=True, check=False, timeout=120)
        shutil.rmtree(root, ignore_errors=True)
