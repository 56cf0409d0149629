#!/usr/bin/env python
"""Build, start, stop and inspect the local Kubernetes control plane.

The `local` environment's Kubernetes is a real control plane built from upstream Go
modules at the versions pinned in tools/k8s/ (etcd, kube-apiserver,
kube-controller-manager, kube-scheduler) plus kwok, which keeps fake nodes Ready and runs
their pods' lifecycle. Nothing upstream is copied into the repository.

    build    build the binaries once per machine into the cache (nothing to do if cached)
    up       start the control plane, or reuse the one running; wait until it serves
    down     stop it (SIGTERM, then SIGKILL after a deadline); nothing to do is fine
    status   say whether it runs; exit 0 if the API is ready, 3 if not
    clean    down, then delete the state directory and the kubeconfig
    nodes    register a managed node group's nodes as fake nodes (needs `up`)

Binaries: $KUBEBUILDER_ASSETS (envtest's layout) where it has them, else the cache
$XDG_CACHE_HOME/mlops-platform/k8s/<key>/ (default ~/.cache/...), key derived from the
pinned go.mod/go.sum files, filled by `go build` the first time. The API server listens on
127.0.0.1:--port, else $MLOPS_LOCAL_K8S_PORT, else 6443; the other ports are chosen free.
The state directory (--state-dir, default .local/k8s) holds the PKI, the etcd data, pid
files and one log per process; the admin kubeconfig is written to --kubeconfig (default:
kubeconfig beside the state directory, i.e. .local/kubeconfig).

`down`, `status` and `clean` need only the standard library; `up` needs the `cryptography`
package (the project's .venv) the first time, `nodes` the `kubernetes` package.

Errors are one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import fcntl
import hashlib
import http.client
import ipaddress
import json
import os
import platform
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Run as a script, this directory is sys.path[0]; loaded by path (tests, the integration harness), it is not.
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
from local_launcher import (  # noqa: E402 - after the path is set
    EXIT_NOT_RUNNING,
    HOST,
    POLL_INTERVAL,
    REPO_ROOT,
    LauncherError,
    default_port,
    free_port,
    last_lines,
    port_is_free,
    port_number,
    process_alive,
    read_number,
    remove_state_dir,
    run_command,
    runs_as,
    stop_process,
)

GO_ROOT = REPO_ROOT / "tools" / "k8s"
DEFAULT_STATE_DIR = REPO_ROOT / ".local" / "k8s"
DEFAULT_PORT = 6443
PORT_ENV = "MLOPS_LOCAL_K8S_PORT"
ASSETS_ENV = "KUBEBUILDER_ASSETS"
CLUSTER_NAME = "mlops-local"
FIELD_MANAGER = "mlops-local-k8s"
PROBE_TIMEOUT = 2.0

# Bump when the way the binaries are built changes, so caches built the old way are not used.
RECIPE = "1: CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' + version stamps"
KWOK_STAGES = "kwok-stages.yaml"
# The kwok controller reads its stages (what it does to Nodes and Pods) from its config;
# kwokctl gives it these defaults, from kwok's own kustomize/stage/ directory.
KWOK_STAGE_FILES = (
    "kustomize/stage/node/fast/node-initialize.yaml",
    "kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "kustomize/stage/pod/fast/pod-ready.yaml",
    "kustomize/stage/pod/fast/pod-complete.yaml",
    "kustomize/stage/pod/fast/pod-delete.yaml",
)
KWOK_NODE_SELECTOR = "kwok.x-k8s.io/node=fake"

# Go module (directory under tools/k8s), main package, per binary; in start order.
BINARIES = {
    "etcd": ("etcd", "go.etcd.io/etcd/server/v3"),
    "kube-apiserver": (".", "k8s.io/kubernetes/cmd/kube-apiserver"),
    "kube-controller-manager": (".", "k8s.io/kubernetes/cmd/kube-controller-manager"),
    "kube-scheduler": (".", "k8s.io/kubernetes/cmd/kube-scheduler"),
    "kwok": ("kwok", "sigs.k8s.io/kwok/cmd/kwok"),
}
PINS = {  # binary group -> (go.mod directory, module path whose version it reports)
    "kubernetes": (".", "k8s.io/kubernetes"),
    "etcd": ("etcd", "go.etcd.io/etcd/server/v3"),
    "kwok": ("kwok", "sigs.k8s.io/kwok"),
}
COLD_BUILD_HINT = "about 20 minutes on 2 cores, a few GB of Go build cache"


# --- Pinned versions and the binary cache ----------------------------------------


def pinned_versions() -> dict[str, str]:
    """{'kubernetes': 'v1.36.5', 'etcd': 'v3.6.16', 'kwok': 'v0.8.0'} from tools/k8s/**/go.mod."""
    versions = {}
    for group, (directory, module) in PINS.items():
        path = GO_ROOT / directory / "go.mod"
        try:
            text = path.read_text()
        except OSError as exc:
            raise LauncherError(f"cannot read {path}: {exc.strerror}") from None
        match = re.search(rf"^\s*(?:require\s+)?{re.escape(module)}\s+(v\S+)\s*$", text, re.M)
        if not match:
            raise LauncherError(f"{path} does not require {module}")
        versions[group] = match.group(1)
    return versions


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mlops-platform" / "k8s"


def cache_key() -> str:
    """Derived from everything that decides the binaries: the build modules and the recipe."""
    digest = hashlib.sha256()
    digest.update(RECIPE.encode())
    digest.update(f"{platform.system()}/{platform.machine()}".encode())
    for directory in sorted({pin[0] for pin in PINS.values()}):
        for name in ("go.mod", "go.sum"):
            path = GO_ROOT / directory / name
            try:
                digest.update(f"{directory}/{name}\0".encode() + path.read_bytes())
            except OSError as exc:
                raise LauncherError(f"cannot read {path}: {exc.strerror}") from None
    return digest.hexdigest()[:16]


def expected_version(name: str, versions: dict[str, str]) -> str:
    """What `<binary> --version` must print."""
    if name == "etcd":
        return versions["etcd"].lstrip("v")
    if name == "kwok":
        return versions["kwok"]
    return versions["kubernetes"]


class Cache:
    """One key's directory: <name> plus <name>.ok (size and version of the verified file)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, name: str) -> Path:
        return self.directory / name

    def valid(self, name: str) -> bool:
        try:
            record = json.loads((self.directory / f"{name}.ok").read_text())
            return self.path(name).stat().st_size == record["size"]
        except (OSError, ValueError, KeyError, TypeError):
            return False

    def discard(self, name: str) -> None:
        for path in (self.directory / f"{name}.ok", self.path(name)):
            with contextlib.suppress(OSError):
                path.unlink()

    def install(self, name: str, built: Path, version: str) -> None:
        """Move a verified file in place, then record it: readers never see half a file."""
        os.replace(built, self.path(name))
        record = self.directory / f".{name}.ok.tmp"
        record.write_text(json.dumps({"size": self.path(name).stat().st_size, "version": version}))
        os.replace(record, self.directory / f"{name}.ok")


def go_environment() -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "CGO_ENABLED": "0",
        "GOWORK": "off",
        # The pinned go.sum is the truth; never rewrite it, never stamp VCS data.
        "GOFLAGS": "-mod=readonly -buildvcs=false",
    })
    return env


def ldflags(group: str, versions: dict[str, str]) -> str:
    flags = ["-s", "-w"]
    if group == ".":
        version = versions["kubernetes"]
        major, minor = version.lstrip("v").split(".")[:2]
        for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
            flags += [f"-X {package}.gitVersion={version}", f"-X {package}.gitMajor={major}",
                      f"-X {package}.gitMinor={minor}", f"-X {package}.gitTreeState=clean"]
    return " ".join(flags)


def verify(binary: Path, expected: str) -> str:
    """Run `binary --version`; return its first line, or fail if it lacks ``expected``."""
    try:
        result = subprocess.run([str(binary), "--version"], capture_output=True, text=True,
                                timeout=60, check=False, stdin=subprocess.DEVNULL)
    except OSError as exc:
        raise LauncherError(f"{binary} does not run: {exc.strerror}") from None
    except subprocess.TimeoutExpired:
        raise LauncherError(f"{binary} --version did not finish in 60 s") from None
    output = (result.stdout + result.stderr).strip()
    if result.returncode != 0 or expected not in output:
        raise LauncherError(f"{binary} --version printed {output[:200]!r}, expected {expected}")
    return output.splitlines()[0]


def kwok_stages(tmp: Path, env: dict[str, str], log) -> Path:
    """kwok's default stages, read from the pinned kwok module (Go module cache)."""
    result = subprocess.run(["go", "list", "-m", "-json", "sigs.k8s.io/kwok"], cwd=GO_ROOT / "kwok",
                            env=env, capture_output=True, text=True, check=False)
    log.write(result.stderr)
    try:
        directory = Path(json.loads(result.stdout)["Dir"])
    except (ValueError, KeyError):
        raise LauncherError("`go list -m sigs.k8s.io/kwok` failed: "
                            + (result.stderr.strip().splitlines() or ["no output"])[-1]) from None
    documents = []
    for relative in KWOK_STAGE_FILES:
        try:
            documents.append((directory / relative).read_text().strip() + "\n")
        except OSError as exc:
            raise LauncherError(f"kwok stage {directory / relative}: {exc.strerror}") from None
    target = tmp / KWOK_STAGES
    target.write_text(f"# kwok's default stages, from {directory}\n---\n" + "---\n".join(documents))
    return target


def say(message: str) -> None:
    print(f"local control plane: {message}", flush=True)


def build(cache: Cache, names: list[str], versions: dict[str, str]) -> None:
    """Build ``names`` (binaries and/or the kwok stages) into the cache, atomically."""
    if shutil.which("go") is None:
        raise LauncherError(
            f"Go is not on PATH; it is needed to build {', '.join(names)} "
            f"(or set {ASSETS_ENV} to a directory holding prebuilt binaries)")
    try:
        cache.directory.mkdir(parents=True, exist_ok=True)
        lock = open(cache.directory / ".lock", "w")  # noqa: SIM115 - held for the build
    except OSError as exc:
        raise LauncherError(
            f"cannot write the binary cache {cache.directory}: {exc.strerror}; "
            f"set XDG_CACHE_HOME to a writable directory or {ASSETS_ENV} to prebuilt binaries"
        ) from None
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            say(f"waiting for another build into {cache.directory} to finish")
            fcntl.flock(lock, fcntl.LOCK_EX)
        names = [name for name in names if not cache.valid(name)]
        if not names:
            return
        # Leftovers of an interrupted build: never used, removed once we hold the lock.
        for leftover in cache.directory.glob(".build-*"):
            shutil.rmtree(leftover, ignore_errors=True)
        say(f"building {', '.join(names)} (Kubernetes {versions['kubernetes']}, etcd "
            f"{versions['etcd']}, kwok {versions['kwok']}) from tools/k8s into {cache.directory}")
        say(f"this happens once per machine and pinned versions; the first build takes "
            f"{COLD_BUILD_HINT}")
        started = time.monotonic()
        tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=cache.directory))
        log_path = cache.directory / "build.log"
        try:
            env = go_environment()
            with open(log_path, "w") as log:
                groups: dict[str, list[str]] = {}
                for name in names:
                    if name in BINARIES:
                        groups.setdefault(BINARIES[name][0], []).append(name)
                for group, members in groups.items():
                    step = time.monotonic()
                    say(f"  go build {', '.join(members)} ...")
                    command = ["go", "build", "-trimpath", "-ldflags", ldflags(group, versions),
                               "-o", str(tmp) + os.sep] + [BINARIES[name][1] for name in members]
                    if len(members) == 1:
                        command[command.index("-o") + 1] = str(tmp / members[0])
                    log.write(f"$ (cd {GO_ROOT / group}) {' '.join(command)}\n")
                    log.flush()
                    result = subprocess.run(command, cwd=GO_ROOT / group, env=env, stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            check=False)
                    if result.returncode != 0:
                        log.flush()
                        last = [line for line in log_path.read_text(errors="replace").splitlines()
                                if line.strip()][-1:]
                        raise LauncherError(f"go build of {', '.join(members)} failed (exit "
                                            f"{result.returncode}): {last[0] if last else ''} "
                                            f"(full log: {log_path})")
                    for name in members:
                        line = verify(tmp / name, expected_version(name, versions))
                        log.write(f"{name}: {line}\n")
                    say(f"  built {', '.join(members)} in {time.monotonic() - step:.0f} s")
                if KWOK_STAGES in names:
                    kwok_stages(tmp, env, log)
            for name in names:
                version = expected_version(name, versions) if name in BINARIES else versions["kwok"]
                cache.install(name, tmp / name, version)
        except OSError as exc:
            raise LauncherError(f"cannot write the binary cache {cache.directory}: "
                                f"{exc.strerror or exc}") from None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        say(f"built in {time.monotonic() - started:.0f} s; later starts reuse {cache.directory}")


def binaries(build_missing: bool = True) -> dict[str, Path]:
    """Path of every binary (and the kwok stages): $KUBEBUILDER_ASSETS, else the cache."""
    found: dict[str, Path] = {}
    wanted = list(BINARIES) + [KWOK_STAGES]
    assets = os.environ.get(ASSETS_ENV)
    if assets:
        for name in wanted:
            candidate = Path(assets) / name
            if candidate.is_file() and (name == KWOK_STAGES or os.access(candidate, os.X_OK)):
                found[name] = candidate
    missing = [name for name in wanted if name not in found]
    if not missing:
        return found
    versions = pinned_versions()
    cache = Cache(cache_root() / cache_key())
    stale = [name for name in missing if not cache.valid(name)]
    for name in stale:
        if cache.path(name).exists() or (cache.directory / f"{name}.ok").exists():
            say(f"the cached {name} in {cache.directory} is incomplete or corrupt; rebuilding it")
            try:
                cache.discard(name)
            except OSError:
                pass
    if stale:
        if not build_missing:
            raise LauncherError(f"{', '.join(stale)} not built yet; run `make k8s-build`")
        build(cache, stale, versions)
    for name in missing:
        found[name] = cache.path(name)
    return found


# --- PKI and kubeconfigs --------------------------------------------------------

# name: (common name, organization or None); every client of the API server.
CLIENTS = {
    "admin": ("mlops-local-admin", "system:masters"),
    "kube-controller-manager": ("system:kube-controller-manager", None),
    "kube-scheduler": ("system:kube-scheduler", None),
    "kwok": ("kwok-controller", "system:masters"),
}
PKI_FILES = ["ca.crt", "ca.key", "apiserver.crt", "apiserver.key", "sa.key", "sa.pub"] + [
    f"{client}.{ext}" for client in CLIENTS for ext in ("crt", "key")]


def generate_pki(directory: Path) -> None:
    """CA, API server serving cert, service-account key pair and client certs, written
    to a temporary directory and renamed into place so a half-written PKI never exists."""
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    except ImportError as exc:
        raise LauncherError(f"the cryptography package is not importable by {sys.executable} "
                            f"({exc}); run `make venv` and use .venv/bin/python") from None

    now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    years = datetime.timedelta(days=3650)

    def key():
        return ec.generate_private_key(ec.SECP256R1())

    def pem_key(private) -> bytes:
        return private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())

    def name(common: str, org: str | None = None):
        attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common)]
        if org:
            attributes.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
        return x509.Name(attributes)

    ca_key = key()
    ca_name = name(f"{CLUSTER_NAME}-ca")
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now).not_valid_after(now + years)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))

    def leaf(subject, usage, sans=None):
        private = key()
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_name)
                   .public_key(private.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now).not_valid_after(now + years)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False))
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return private, builder.sign(ca_key, hashes.SHA256())

    files: dict[str, bytes] = {
        "ca.crt": ca.public_bytes(serialization.Encoding.PEM), "ca.key": pem_key(ca_key)}
    sans = [x509.IPAddress(ipaddress.ip_address(HOST)), x509.IPAddress(ipaddress.ip_address("10.96.0.1")),
            x509.DNSName("localhost"), x509.DNSName("kubernetes"), x509.DNSName("kubernetes.default"),
            x509.DNSName("kubernetes.default.svc"), x509.DNSName("kubernetes.default.svc.cluster.local")]
    private, cert = leaf(name("kube-apiserver"), ExtendedKeyUsageOID.SERVER_AUTH, sans)
    files["apiserver.crt"], files["apiserver.key"] = cert.public_bytes(serialization.Encoding.PEM), pem_key(private)
    for client, (common, org) in CLIENTS.items():
        private, cert = leaf(name(common, org), ExtendedKeyUsageOID.CLIENT_AUTH)
        files[f"{client}.crt"], files[f"{client}.key"] = cert.public_bytes(serialization.Encoding.PEM), pem_key(private)
    sa_key = key()
    files["sa.key"] = pem_key(sa_key)
    files["sa.pub"] = sa_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                       serialization.PublicFormat.SubjectPublicKeyInfo)

    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".pki-", dir=directory.parent))
    try:
        for file_name, content in files.items():
            path = tmp / file_name
            path.write_bytes(content)
            path.chmod(0o600)
        if directory.exists():
            shutil.rmtree(directory)
        os.replace(tmp, directory)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def kubeconfig(port: int, pki: Path, client: str, embed: bool) -> dict:
    def ref(field: str, file_name: str) -> dict:
        path = pki / file_name
        if embed:
            import base64
            return {f"{field}-data": base64.b64encode(path.read_bytes()).decode()}
        return {field: str(path)}

    return {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": CLUSTER_NAME, "cluster": {
            "server": f"https://{HOST}:{port}", **ref("certificate-authority", "ca.crt")}}],
        "users": [{"name": f"{CLUSTER_NAME}-{client}", "user": {
            **ref("client-certificate", f"{client}.crt"), **ref("client-key", f"{client}.key")}}],
        "contexts": [{"name": CLUSTER_NAME, "context": {
            "cluster": CLUSTER_NAME, "user": f"{CLUSTER_NAME}-{client}", "namespace": "default"}}],
        "current-context": CLUSTER_NAME,
    }


def write_file_atomically(path: Path, text: str, mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.chmod(mode)
    os.replace(tmp, path)


# --- Processes ------------------------------------------------------------------


def is_ours(pid: int, name: str, state_dir: Path) -> bool:
    """True if pid is a live `name` process started for this state directory (guards
    against pid reuse: its command line names the binary and the state directory)."""
    marker = (str(state_dir) + os.sep).encode()
    return runs_as(pid, lambda argv: os.path.basename(argv[0]) == name.encode()
                   and any(marker in arg for arg in argv[1:]))


class State:
    """Everything under the state directory."""

    def __init__(self, directory: Path, kubeconfig_path: Path) -> None:
        self.directory = directory
        self.kubeconfig = kubeconfig_path
        self.pki = directory / "pki"
        self.run = directory / "run"
        self.logs = directory / "logs"
        self.ports_file = directory / "ports.json"

    def pid_file(self, name: str) -> Path:
        return self.run / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def pid(self, name: str) -> int | None:
        """pid of our running `name`, forgetting a stale pid file."""
        pid = read_number(self.pid_file(name))
        if pid is not None and is_ours(pid, name, self.directory):
            return pid
        with contextlib.suppress(OSError):
            self.pid_file(name).unlink()
        return None

    def running(self) -> dict[str, int]:
        return {name: pid for name in BINARIES if (pid := self.pid(name)) is not None}

    def ports(self) -> dict[str, int]:
        try:
            ports = json.loads(self.ports_file.read_text())
            return {key: int(value) for key, value in ports.items()}
        except (OSError, ValueError, TypeError, AttributeError):
            return {}

    def log_tail(self, name: str, lines: int = 3) -> str:
        return " | ".join(line.strip() for line in last_lines(self.log_file(name), lines))


def stop_all(state: State, grace: float) -> list[str]:
    stopped = []
    for name in reversed(list(BINARIES)):
        pid = state.pid(name)
        if pid is None:
            continue
        stop_process(pid, grace)
        if process_alive(pid):
            raise LauncherError(f"could not stop {name} (pid {pid})")
        with contextlib.suppress(OSError):
            state.pid_file(name).unlink()
        stopped.append(f"{name} (pid {pid})")
    return stopped


def commands(state: State, bins: dict[str, Path], ports: dict[str, int]) -> dict[str, list[str]]:
    pki = state.pki
    kubeconfigs = state.directory / "kubeconfigs"
    etcd_client = f"http://{HOST}:{ports['etcd_client']}"
    etcd_peer = f"http://{HOST}:{ports['etcd_peer']}"

    def component(name: str) -> list[str]:
        config = str(kubeconfigs / f"{name}.kubeconfig")
        return [f"--kubeconfig={config}", f"--authentication-kubeconfig={config}",
                f"--authorization-kubeconfig={config}", f"--bind-address={HOST}",
                f"--secure-port={ports[name]}", "--leader-elect=false"]

    return {
        "etcd": [
            str(bins["etcd"]), "--name=local", f"--data-dir={state.directory / 'etcd'}",
            f"--listen-client-urls={etcd_client}", f"--advertise-client-urls={etcd_client}",
            f"--listen-peer-urls={etcd_peer}", f"--initial-advertise-peer-urls={etcd_peer}",
            f"--initial-cluster=local={etcd_peer}", "--initial-cluster-state=new",
            # A throw-away local store: fsync buys nothing but start-up time.
            "--unsafe-no-fsync=true", "--log-level=warn",
        ],
        "kube-apiserver": [
            str(bins["kube-apiserver"]), f"--etcd-servers={etcd_client}",
            f"--bind-address={HOST}", f"--advertise-address={HOST}", f"--secure-port={ports['apiserver']}",
            f"--cert-dir={state.directory / 'apiserver'}",
            f"--tls-cert-file={pki / 'apiserver.crt'}", f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--client-ca-file={pki / 'ca.crt'}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            "--service-cluster-ip-range=10.96.0.0/16",
            "--authorization-mode=Node,RBAC",
            # On top of the default plugins (which include PodSecurity).
            "--enable-admission-plugins=NodeRestriction",
            "--allow-privileged=true",
        ],
        "kube-controller-manager": [
            str(bins["kube-controller-manager"]), *component("kube-controller-manager"),
            "--controllers=*", "--use-service-account-credentials=true",
            f"--service-account-private-key-file={pki / 'sa.key'}", f"--root-ca-file={pki / 'ca.crt'}",
            f"--cluster-signing-cert-file={pki / 'ca.crt'}", f"--cluster-signing-key-file={pki / 'ca.key'}",
            f"--cluster-name={CLUSTER_NAME}",
        ],
        "kube-scheduler": [str(bins["kube-scheduler"]), *component("kube-scheduler")],
        "kwok": [
            str(bins["kwok"]), f"--kubeconfig={kubeconfigs / 'kwok.kubeconfig'}",
            f"--config={bins[KWOK_STAGES]}", "--manage-all-nodes=false",
            f"--manage-nodes-with-annotation-selector={KWOK_NODE_SELECTOR}",
            "--node-lease-duration-seconds=40", "--cidr=10.128.0.0/16",
        ],
    }


def start(state: State, name: str, argv: list[str]) -> subprocess.Popen:
    state.logs.mkdir(parents=True, exist_ok=True)
    state.run.mkdir(parents=True, exist_ok=True)
    with open(state.log_file(name), "ab") as log:
        try:
            process = subprocess.Popen(  # noqa: S603 - fixed argv, our own binaries
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                cwd=state.directory, start_new_session=True,
                # kwok would read ~/.kwok/kwok.yaml; keep each process to its own arguments.
                env={**os.environ, "HOME": str(state.directory)} if name == "kwok" else None)
        except OSError as exc:
            raise LauncherError(f"cannot start {argv[0]}: {exc.strerror} (a corrupt binary? "
                                f"delete it and run `make k8s-build`)") from None
    state.pid_file(name).write_text(f"{process.pid}\n")
    return process


# --- Talking to the API server --------------------------------------------------


def api_get(state: State, port: int, path: str, timeout: float = PROBE_TIMEOUT) -> tuple[int, str]:
    """(status, body) of an admin GET, or (0, reason) if the server does not answer."""
    context = ssl.create_default_context(cafile=str(state.pki / "ca.crt"))
    context.load_cert_chain(str(state.pki / "admin.crt"), str(state.pki / "admin.key"))
    connection = http.client.HTTPSConnection(HOST, port, timeout=timeout, context=context)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read(65536).decode(errors="replace")
    except (OSError, http.client.HTTPException) as exc:
        return 0, str(exc)
    finally:
        connection.close()


def etcd_healthy(port: int) -> bool:
    connection = http.client.HTTPConnection(HOST, port, timeout=PROBE_TIMEOUT)
    try:
        connection.request("GET", "/health")
        return '"true"' in connection.getresponse().read(4096).decode(errors="replace")
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def wait_for(state: State, what: str, check, names: list[str], deadline: float,
             started: dict[str, subprocess.Popen] | None = None) -> None:
    """Poll ``check`` until true; fail early, with its log, if a process dies.

    A process this command started is watched through its Popen handle: right after the
    fork its /proc cmdline is still the launcher's until the exec, which is_ours() would
    take for a stranger (a live scheduler reported as "exited" and then orphaned).
    """
    started = started or {}

    def alive(name: str) -> bool:
        return started[name].poll() is None if name in started else state.pid(name) is not None

    while True:
        if check():
            return
        for name in names:
            if not alive(name):
                tail = state.log_tail(name)
                raise LauncherError(f"{name} exited during start-up; see {state.log_file(name)}"
                                    + (f": {tail}" if tail else ""))
        if time.monotonic() > deadline:
            raise LauncherError(f"timed out waiting for {what}; see the logs in {state.logs}")
        time.sleep(POLL_INTERVAL)


def ready(state: State, port: int) -> bool:
    status, body = api_get(state, port, "/readyz")
    return status == 200 and body.strip() == "ok"


def pods_can_be_created(state: State, port: int) -> bool:
    return api_get(state, port, "/api/v1/namespaces/default/serviceaccounts/default")[0] == 200


# --- Commands -------------------------------------------------------------------


def choose_ports(state: State, api_port: int) -> dict[str, int]:
    """The API server's port as asked; the others as last time if still free, else free ones."""
    previous = state.ports()
    ports = {"apiserver": api_port}
    for key in ("etcd_client", "etcd_peer", "kube-controller-manager", "kube-scheduler"):
        port = previous.get(key)
        if not port or port in ports.values() or not port_is_free(port):
            port = free_port()
            while port in ports.values():
                port = free_port()
        ports[key] = port
    return ports


STOP_GRACE_ON_FAILURE = 5.0


def start_processes(state: State, argvs: dict[str, list[str]], ports: dict[str, int], deadline: float) -> None:
    """Start every process in order and wait until pods can be created."""
    port = ports["apiserver"]
    started: dict[str, subprocess.Popen] = {}
    try:
        for name in ("etcd", "kube-apiserver"):
            started[name] = start(state, name, argvs[name])
        wait_for(state, f"etcd on {HOST}:{ports['etcd_client']}", lambda: etcd_healthy(ports["etcd_client"]),
                 ["etcd"], deadline, started)
        wait_for(state, f"the API server on https://{HOST}:{port}/readyz", lambda: ready(state, port),
                 ["etcd", "kube-apiserver"], deadline, started)
        for name in ("kube-controller-manager", "kube-scheduler", "kwok"):
            started[name] = start(state, name, argvs[name])
        wait_for(state, "the default service account (kube-controller-manager)",
                 lambda: pods_can_be_created(state, port), list(BINARIES), deadline, started)
    except BaseException:
        # Stop what this call started by its own handles (a pid file may already be gone).
        for process in reversed(list(started.values())):
            if process.poll() is None:
                stop_process(process.pid, STOP_GRACE_ON_FAILURE)
            process.poll()
        raise


def cmd_build() -> int:
    binaries(build_missing=True)
    return 0


def cmd_up(state: State, port: int, timeout: float, grace: float) -> int:
    started_at = time.monotonic()
    running = state.running()
    recorded = state.ports()
    if running and len(running) == len(BINARIES) and state.pki.is_dir():
        if recorded.get("apiserver") != port:
            raise LauncherError(
                f"the control plane of {state.directory} already runs on port "
                f"{recorded.get('apiserver')}, not {port}; run `make local-down` first or set "
                f"{PORT_ENV}={recorded.get('apiserver')}")
        deadline = time.monotonic() + timeout
        wait_for(state, f"the API server on https://{HOST}:{port}",
                 lambda: ready(state, port) and pods_can_be_created(state, port), list(BINARIES), deadline)
        write_kubeconfig(state, port)
        print(f"local control plane: reusing https://{HOST}:{port} (kubeconfig {state.kubeconfig})")
        return 0
    if running:  # a partial control plane (a process died): start over, data kept
        stop_all(state, grace)
    if not port_is_free(port):
        raise LauncherError(
            f"port {port} on {HOST} is in use by something else; free it or choose another "
            f"port with --port or {PORT_ENV}=<port>")

    bins = binaries(build_missing=True)
    try:
        state.directory.mkdir(parents=True, exist_ok=True)
        if not all((state.pki / name).is_file() for name in PKI_FILES):
            generate_pki(state.pki)
        for client in CLIENTS:
            write_file_atomically(state.directory / "kubeconfigs" / f"{client}.kubeconfig",
                                  json.dumps(kubeconfig(port, state.pki, client, embed=False), indent=2))
    except OSError as exc:
        raise LauncherError(f"cannot write the state directory {state.directory}: "
                            f"{exc.strerror or exc}") from None

    deadline = time.monotonic() + timeout
    for attempt in (1, 2):
        try:
            ports = choose_ports(state, port)
            write_file_atomically(state.ports_file, json.dumps(ports, indent=2) + "\n", 0o644)
        except OSError as exc:
            raise LauncherError(f"cannot write the state directory {state.directory}: "
                                f"{exc.strerror or exc}") from None
        try:
            start_processes(state, commands(state, bins, ports), ports, deadline)
            break
        except LauncherError as exc:
            stop_all(state, grace)
            # A port chosen free was taken before the process bound it (another program
            # starting at the same moment): choose again, once.
            if attempt == 2 or "address already in use" not in str(exc):
                raise
            with contextlib.suppress(OSError):
                state.ports_file.unlink()
        except BaseException:
            stop_all(state, grace)
            raise
    write_kubeconfig(state, port)
    print(f"local control plane: started https://{HOST}:{port} in {time.monotonic() - started_at:.1f} s "
          f"(kubeconfig {state.kubeconfig}, logs {state.logs})")
    return 0


def write_kubeconfig(state: State, port: int) -> None:
    try:
        write_file_atomically(state.kubeconfig,
                              json.dumps(kubeconfig(port, state.pki, "admin", embed=True), indent=2) + "\n")
    except OSError as exc:
        raise LauncherError(f"cannot write {state.kubeconfig}: {exc.strerror or exc}") from None


def cmd_down(state: State, grace: float) -> int:
    stopped = stop_all(state, grace)
    print(f"local control plane: stopped {', '.join(stopped)}" if stopped
          else "local control plane: not running")
    return 0


def cmd_status(state: State) -> int:
    running = state.running()
    if not running:
        print("local control plane: not running")
        return EXIT_NOT_RUNNING
    port = state.ports().get("apiserver")
    missing = [name for name in BINARIES if name not in running]
    if missing:
        print(f"local control plane: partly running; not running: {', '.join(missing)} "
              f"(`up` restarts it)")
        return EXIT_NOT_RUNNING
    if not port or not ready(state, port):
        print(f"local control plane: running, but the API server on port {port} is not ready")
        return EXIT_NOT_RUNNING
    print(f"local control plane: running on https://{HOST}:{port} (kubeconfig {state.kubeconfig})")
    return 0


def cmd_clean(state: State, grace: float) -> int:
    remove_state_dir(state.directory, lambda: cmd_down(state, grace), "local control plane")
    with contextlib.suppress(OSError, ValueError):
        if CLUSTER_NAME in json.loads(state.kubeconfig.read_text()).get("current-context", ""):
            state.kubeconfig.unlink()
            print(f"local control plane: removed {state.kubeconfig}")
    return 0


# --- Fake nodes -----------------------------------------------------------------


def fake_nodes_module():
    collections = str(REPO_ROOT / ".collections")
    if collections not in sys.path:
        sys.path.insert(0, collections)
    from ansible_collections.mlops.platform.plugins.module_utils import fake_nodes

    return fake_nodes


def apply_node_group(api_client, node_group: str, count: int, instance_type: str, zones: list[str],
                     capacity_type: str = "ON_DEMAND", labels: dict | None = None,
                     taints: list | None = None) -> list[str]:
    """Register a managed node group's Nodes as fake nodes (server-side apply, with their
    status), and delete this group's Nodes beyond ``count``. Returns the node names.
    The collection's module_utils/local_nodes.py does it, for the local_nodes module too."""
    fake_nodes_module()  # puts the collection on sys.path
    from ansible_collections.mlops.platform.plugins.module_utils import local_nodes

    return local_nodes.apply_node_group(api_client, node_group, count, instance_type, zones, capacity_type,
                                        labels, taints, field_manager=FIELD_MANAGER)["names"]


def parse_taint(text: str) -> dict:
    """key[=value]:Effect, as kubectl taint spells it."""
    match = re.match(r"^([^=:]+)(?:=([^:]*))?:(\w+)$", text)
    if not match:
        raise argparse.ArgumentTypeError(f"not a taint (key[=value]:Effect): {text!r}")
    return {"key": match.group(1), "value": match.group(2) or "", "effect": match.group(3)}


def parse_label(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"not a label (key=value): {text!r}")
    return key, value


def cmd_nodes(state: State, args: argparse.Namespace) -> int:
    try:
        from kubernetes import client as k8s, config as k8s_config
    except ImportError as exc:
        raise LauncherError(f"the kubernetes package is not importable by {sys.executable} ({exc}); "
                            "run `make venv` and use .venv/bin/python") from None
    if not state.kubeconfig.is_file():
        raise LauncherError(f"no kubeconfig at {state.kubeconfig}: run `make local-up` first")
    fake_nodes = fake_nodes_module()
    try:
        api_client = k8s_config.new_client_from_config(config_file=str(state.kubeconfig))
        names = apply_node_group(api_client, args.node_group, args.count, args.instance_type,
                                 args.zones.split(","), args.capacity_type, dict(args.label), args.taint)
    except (fake_nodes.FakeNodeError, ValueError) as exc:
        raise LauncherError(str(exc)) from None
    except k8s.ApiException as exc:
        raise LauncherError(f"the API server refused: {exc.status} {exc.reason}") from None
    print(f"local control plane: node group {args.node_group}: {len(names)} fake node(s)"
          + (f": {', '.join(names)}" if names else ""))
    return 0


# --- Command line ---------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="local_k8s.py",
                                     description="Local Kubernetes control plane for the `local` environment.")
    parser.add_argument("command", choices=("build", "up", "down", "status", "clean", "nodes"), help="what to do")
    parser.add_argument("--port", type=port_number, default=None,
                        help=f"API server port on {HOST} (default: ${PORT_ENV}, else {DEFAULT_PORT})")
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR,
                        help="PKI, etcd data, pid files and logs (default: %(default)s)")
    parser.add_argument("--kubeconfig", type=Path, default=None,
                        help="where `up` writes the admin kubeconfig (default: kubeconfig beside the state directory)")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds `up` waits for the API to be ready (default: %(default)s)")
    parser.add_argument("--grace", type=float, default=10.0,
                        help="seconds `down` waits after SIGTERM before SIGKILL (default: %(default)s)")
    nodes = parser.add_argument_group("nodes", "the node group `nodes` registers")
    nodes.add_argument("--node-group", default="local")
    nodes.add_argument("--count", type=int, default=1)
    nodes.add_argument("--instance-type", default="m5.xlarge")
    nodes.add_argument("--capacity-type", default="ON_DEMAND", choices=("ON_DEMAND", "SPOT"))
    nodes.add_argument("--zones", default="eu-west-1a,eu-west-1b,eu-west-1c", help="comma-separated")
    nodes.add_argument("--label", type=parse_label, action="append", default=[], help="key=value (repeatable)")
    nodes.add_argument("--taint", type=parse_taint, action="append", default=[],
                       help="key[=value]:Effect (repeatable)")
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    state_dir = args.state_dir.absolute()
    kubeconfig_path = (args.kubeconfig or state_dir.parent / "kubeconfig").absolute()
    state = State(state_dir, kubeconfig_path)
    if args.command == "build":
        return cmd_build()
    if args.command == "up":
        port = args.port if args.port is not None else default_port(PORT_ENV, DEFAULT_PORT)
        return cmd_up(state, port, args.timeout, args.grace)
    if args.command == "down":
        return cmd_down(state, args.grace)
    if args.command == "status":
        return cmd_status(state)
    if args.command == "nodes":
        return cmd_nodes(state, args)
    return cmd_clean(state, args.grace)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    return run_command("local_k8s.py", args.command, lambda: run(args), say_interrupted=True)


if __name__ == "__main__":
    sys.exit(main())
