"""The local control plane launcher (tools/local_k8s.py): bad input and faults.

Driven as a user would, with stand-ins where the real thing is slow: a fake `go` that
"builds" small scripts printing the pinned versions, and binaries given through
KUBEBUILDER_ASSETS. The real control plane is exercised by tests/integration.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

LAUNCHER = Path(__file__).resolve().parents[2] / "tools" / "local_k8s.py"
_spec = importlib.util.spec_from_file_location("local_k8s", LAUNCHER)
local_k8s = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(local_k8s)

VERSIONS = local_k8s.pinned_versions()
NAMES = list(local_k8s.BINARIES)

FAKE_GO = textwrap.dedent('''\
    #!{python}
    """A stand-in for `go`: `go build -o OUT pkg...` writes scripts printing the pinned versions."""
    import json, os, sys
    args = sys.argv[1:]
    log = os.environ.get("FAKE_GO_LOG")
    if log:
        with open(log, "a") as f:
            f.write(" ".join(args) + "\\n")
    if args[:2] == ["list", "-m"]:
        print(json.dumps({{"Dir": os.environ["FAKE_KWOK_DIR"]}}))
        sys.exit(0)
    if os.environ.get("FAKE_GO_FAIL"):
        print("compile: killed (fake interrupted build)")
        sys.exit(2)
    out = args[args.index("-o") + 1]
    packages = [a for a in args[args.index("-o") + 2:]]
    names = {{"go.etcd.io/etcd/server/v3": "etcd"}}
    versions = {versions}
    for package in packages:
        name = names.get(package, package.rsplit("/", 1)[-1])
        path = os.path.join(out, name) if out.endswith(os.sep) else out
        with open(path, "w") as f:
            f.write("#!/bin/sh\\necho %s version %s\\n" % (name, os.environ.get("FAKE_GO_VERSION") or versions[name]))
        os.chmod(path, 0o755)
    ''')


def expected_versions() -> dict[str, str]:
    return {name: local_k8s.expected_version(name, VERSIONS) for name in NAMES}


def run(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(LAUNCHER), *args], capture_output=True, text=True, env=env,
                          timeout=timeout, check=False)


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A clean environment: its own cache, no assets, no port variable, a fake `go` first on PATH."""
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    go = bin_dir / "go"
    go.write_text(FAKE_GO.format(python=sys.executable, versions=expected_versions()))
    go.chmod(0o755)
    kwok_dir = tmp_path / "kwok-module"
    for relative in local_k8s.KWOK_STAGE_FILES:
        (kwok_dir / relative).parent.mkdir(parents=True, exist_ok=True)
        (kwok_dir / relative).write_text(f"kind: Stage\nmetadata: {{name: {Path(relative).stem}}}\n")
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("KUBEBUILDER_ASSETS", "MLOPS_LOCAL_K8S_PORT", "XDG_CACHE_HOME")}
    environment.update({
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "PATH": f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin",
        "FAKE_KWOK_DIR": str(kwok_dir),
        "FAKE_GO_LOG": str(tmp_path / "go.log"),
    })
    return environment


def cache_dir(env: dict[str, str]) -> Path:
    return Path(env["XDG_CACHE_HOME"]) / "mlops-platform" / "k8s" / local_k8s.cache_key()


def test_first_build_says_what_it_does_and_later_ones_are_silent(env: dict[str, str]) -> None:
    first = run("build", env=env)
    assert first.returncode == 0, first.stderr
    assert "building etcd, kube-apiserver" in first.stdout and "first build takes" in first.stdout
    cache = cache_dir(env)
    for name in NAMES:
        assert (cache / f"{name}.ok").is_file()
        assert expected_versions()[name] in subprocess.run([str(cache / name), "--version"],
                                                           capture_output=True, text=True, check=False).stdout
    assert "node-initialize" in (cache / local_k8s.KWOK_STAGES).read_text()
    assert not list(cache.glob(".build-*"))
    # Three go builds: the Kubernetes module's three binaries share one.
    assert sum(line.startswith("build ") for line in Path(env["FAKE_GO_LOG"]).read_text().splitlines()) == 3

    again = run("build", env=env)
    assert again.returncode == 0, again.stderr
    assert again.stdout == "" and again.stderr == ""


def test_an_interrupted_build_leaves_nothing_used_and_the_next_build_recovers(env: dict[str, str]) -> None:
    failed = run("build", env={**env, "FAKE_GO_FAIL": "1"})
    line = one_line_error(failed)
    assert "go build of etcd failed (exit 2): compile: killed (fake interrupted build)" in line
    assert "build.log" in line
    cache = cache_dir(env)
    assert not list(cache.glob("*.ok")) and not list(cache.glob(".build-*"))
    # A leftover temporary directory of a build killed outright is ignored and removed.
    (cache / ".build-killed").mkdir()
    (cache / ".build-killed" / "kube-apiserver").write_text("half a binary")

    recovered = run("build", env=env)
    assert recovered.returncode == 0, recovered.stderr
    assert all((cache / f"{name}.ok").is_file() for name in NAMES)
    assert not (cache / ".build-killed").exists()


def test_a_binary_that_reports_the_wrong_version_is_not_cached(env: dict[str, str]) -> None:
    line = one_line_error(run("build", env={**env, "FAKE_GO_VERSION": "v0.0.0-master"}))
    assert "--version printed" in line and "expected" in line
    assert not list(cache_dir(env).glob("*.ok"))


def test_a_corrupt_cached_binary_is_discarded_and_rebuilt(env: dict[str, str]) -> None:
    assert run("build", env=env).returncode == 0
    cache = cache_dir(env)
    (cache / "kube-scheduler").write_text("trunc")  # e.g. a disk filled up mid-copy

    no_go = {**env, "PATH": f"/usr/bin{os.pathsep}/bin"}
    if any(Path(p, "go").exists() for p in ("/usr/bin", "/bin")):
        pytest.skip("a system-wide go would hide the missing-toolchain message")
    failed = run("build", env=no_go)
    assert "the cached kube-scheduler" in failed.stdout and "incomplete or corrupt" in failed.stdout
    line = one_line_error(failed)
    assert "Go is not on PATH" in line and "kube-scheduler" in line and "KUBEBUILDER_ASSETS" in line
    assert not (cache / "kube-scheduler").exists()

    rebuilt = run("build", env=env)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "building kube-scheduler (" in rebuilt.stdout
    assert (cache / "kube-scheduler.ok").is_file()


def test_a_cache_directory_that_cannot_be_written_is_one_clear_line(env: dict[str, str], tmp_path: Path) -> None:
    not_a_directory = tmp_path / "cache-is-a-file"
    not_a_directory.write_text("")
    line = one_line_error(run("build", env={**env, "XDG_CACHE_HOME": str(not_a_directory)}))
    assert "cannot write the binary cache" in line and "XDG_CACHE_HOME" in line


def write_assets(directory: Path, names: list[str], script: str | None = None) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        path = directory / name
        path.write_text(script or f"#!/bin/sh\necho {name} version {expected_versions()[name]}\n")
        path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_kubebuilder_assets_are_used_and_only_missing_binaries_are_built(env: dict[str, str], tmp_path: Path) -> None:
    assets = tmp_path / "assets"
    write_assets(assets, ["etcd", "kube-apiserver"])
    result = run("build", env={**env, "KUBEBUILDER_ASSETS": str(assets)})
    assert result.returncode == 0, result.stderr
    assert "building kube-controller-manager, kube-scheduler, kwok, kwok-stages.yaml" in result.stdout
    built = Path(env["FAKE_GO_LOG"]).read_text()
    assert "kube-apiserver" not in built and "go.etcd.io" not in built
    assert not (cache_dir(env) / "etcd").exists()


def test_complete_kubebuilder_assets_need_neither_go_nor_a_cache(env: dict[str, str], tmp_path: Path) -> None:
    assets = tmp_path / "assets"
    write_assets(assets, NAMES)
    (assets / local_k8s.KWOK_STAGES).write_text("kind: Stage\n")
    unwritable = tmp_path / "file"
    unwritable.write_text("")
    result = run("build", env={**env, "KUBEBUILDER_ASSETS": str(assets), "XDG_CACHE_HOME": str(unwritable),
                               "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_up_refuses_a_port_held_by_something_else(env: dict[str, str], tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        line = one_line_error(run("up", "--state-dir", str(tmp_path / "state"),
                                  env={**env, "MLOPS_LOCAL_K8S_PORT": str(port)}))
    assert f"port {port} on 127.0.0.1 is in use" in line and "MLOPS_LOCAL_K8S_PORT" in line


@pytest.mark.parametrize("value", ["http", "0", "70000"])
def test_a_bad_port_variable_is_one_line(env: dict[str, str], tmp_path: Path, value: str) -> None:
    line = one_line_error(run("up", "--state-dir", str(tmp_path / "state"),
                              env={**env, "MLOPS_LOCAL_K8S_PORT": value}))
    assert "MLOPS_LOCAL_K8S_PORT" in line and "not a TCP port" in line


def test_a_stale_pid_file_is_forgotten_and_its_process_left_alone(env: dict[str, str], tmp_path: Path) -> None:
    state = tmp_path / "state"
    (state / "run").mkdir(parents=True)
    # A live process that is not ours (pid reuse): it must not be signalled.
    stranger = subprocess.Popen(["sleep", "60"])
    try:
        (state / "run" / "kube-apiserver.pid").write_text(f"{stranger.pid}\n")
        (state / "run" / "etcd.pid").write_text("999999999\n")  # no such process
        status = run("status", "--state-dir", str(state), env=env)
        assert status.returncode == 3 and "not running" in status.stdout
        assert not list((state / "run").glob("*.pid"))

        (state / "run" / "kube-apiserver.pid").write_text(f"{stranger.pid}\n")
        down = run("down", "--state-dir", str(state), env=env)
        assert down.returncode == 0 and "not running" in down.stdout
        assert stranger.poll() is None, "down signalled a process that is not ours"
    finally:
        stranger.kill()
        stranger.wait()


def test_up_with_a_binary_that_dies_reports_its_log_and_leaves_nothing_running(
        env: dict[str, str], tmp_path: Path) -> None:
    assets = tmp_path / "assets"
    write_assets(assets, NAMES, script="#!/bin/sh\necho 'fatal: cannot start (a broken binary)' >&2\nexit 1\n")
    (assets / local_k8s.KWOK_STAGES).write_text("kind: Stage\n")
    state = tmp_path / "state"
    result = run("up", "--port", str(free_port()), "--state-dir", str(state), "--timeout", "20",
                 env={**env, "KUBEBUILDER_ASSETS": str(assets)})
    line = one_line_error(result)
    assert "exited during start-up" in line and "fatal: cannot start (a broken binary)" in line
    assert not list((state / "run").glob("*.pid"))
    # The PKI was made once and is kept for the next start.
    assert (state / "pki" / "ca.crt").is_file() and (state / "pki" / "admin.key").is_file()


def test_clean_refuses_to_delete_the_repository(env: dict[str, str]) -> None:
    line = one_line_error(run("clean", "--state-dir", str(LAUNCHER.parents[1]), env=env))
    assert "refusing to delete" in line


def test_status_and_down_without_state(env: dict[str, str], tmp_path: Path) -> None:
    state = tmp_path / "nothing"
    assert run("status", "--state-dir", str(state), env=env).returncode == 3
    down = run("down", "--state-dir", str(state), env=env)
    assert down.returncode == 0 and "not running" in down.stdout
    clean = run("clean", "--state-dir", str(state), env=env)
    assert clean.returncode == 0, clean.stderr


def test_kubeconfig_is_written_beside_the_state_directory_by_default() -> None:
    args = local_k8s.parse_args(["up", "--state-dir", "/tmp/x/k8s"])
    assert args.kubeconfig is None  # main() then uses /tmp/x/kubeconfig
    assert json.loads(json.dumps(local_k8s.kubeconfig(6443, Path("/p"), "admin", embed=False)))[
        "clusters"][0]["cluster"]["server"] == "https://127.0.0.1:6443"
