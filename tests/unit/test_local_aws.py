"""The local AWS stand-in launcher (tools/local_aws.py), driven as a user would."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

LAUNCHER = Path(__file__).resolve().parents[2] / "tools" / "local_aws.py"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launcher(*args: str, state_dir: Path, port: int | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MLOPS_LOCAL_AWS_PORT"}
    if port is not None:
        env["MLOPS_LOCAL_AWS_PORT"] = str(port)
    return subprocess.run(
        [sys.executable, str(LAUNCHER), *args, "--state-dir", str(state_dir), "--timeout", "30"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "state"
    yield directory
    # Never leave a server behind, whatever the test did.
    launcher("down", state_dir=directory)


def test_up_reuses_a_running_server_and_down_stops_it(state_dir: Path) -> None:
    port = free_port()

    started = launcher("up", state_dir=state_dir, port=port)
    assert started.returncode == 0, started.stderr
    assert f"started on http://127.0.0.1:{port}" in started.stdout
    pid = int((state_dir / "moto.pid").read_text())

    again = launcher("up", state_dir=state_dir, port=port)
    assert again.returncode == 0, again.stderr
    assert "reusing" in again.stdout
    assert int((state_dir / "moto.pid").read_text()) == pid

    assert launcher("status", state_dir=state_dir).returncode == 0

    stopped = launcher("down", state_dir=state_dir)
    assert stopped.returncode == 0, stopped.stderr
    assert not (state_dir / "moto.pid").exists()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # the port is free again

    assert launcher("down", state_dir=state_dir).returncode == 0
    assert launcher("status", state_dir=state_dir).returncode == 3


def test_up_refuses_a_port_held_by_something_else(state_dir: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]

        refused = launcher("up", state_dir=state_dir, port=port)

    assert refused.returncode != 0
    assert f"port {port}" in refused.stderr
    assert "MLOPS_LOCAL_AWS_PORT" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert not (state_dir / "moto.pid").exists()


def test_clean_removes_the_state_directory(state_dir: Path) -> None:
    state_dir.mkdir()
    (state_dir / "moto.log").write_text("old log\n")

    cleaned = launcher("clean", state_dir=state_dir)

    assert cleaned.returncode == 0, cleaned.stderr
    assert not state_dir.exists()


def test_invalid_port_from_environment_is_one_line(state_dir: Path) -> None:
    env_port = "not-a-port"
    result = subprocess.run(
        [sys.executable, str(LAUNCHER), "status", "--state-dir", str(state_dir)],
        capture_output=True,
        text=True,
        env={**os.environ, "MLOPS_LOCAL_AWS_PORT": env_port},
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == f"local_aws.py status: MLOPS_LOCAL_AWS_PORT: not a TCP port: '{env_port}'"


def _import_launcher():
    import importlib.util

    spec = importlib.util.spec_from_file_location("local_aws_under_test", LAUNCHER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_up_does_not_mistake_a_server_starting_for_one_that_exited(tmp_path: Path, monkeypatch, capsys) -> None:
    """Right after Popen, /proc/PID/cmdline can still be empty: `up` must not give up on the server."""
    local_aws = _import_launcher()
    real_read_cmdline = local_aws.read_cmdline
    monkeypatch.setattr(local_aws, "read_cmdline", lambda pid: [])  # the kernel has not filled it in yet
    state = local_aws.State(tmp_path / "state")
    port = free_port()
    try:
        assert local_aws.cmd_up(state, port, timeout=30.0) == 0
        assert "started on" in capsys.readouterr().out
        pid, recorded_port = state.read()
        assert recorded_port == port and local_aws.probe(port)
        # once the kernel has filled it in, the recorded server is recognised as ours
        calls = iter([[], []])
        monkeypatch.setattr(local_aws, "read_cmdline", lambda pid: next(calls, None) or real_read_cmdline(pid))
        assert local_aws.is_our_server(pid)
        monkeypatch.setattr(local_aws, "read_cmdline", real_read_cmdline)
        assert local_aws.cmd_down(state, grace=10.0) == 0
        assert not local_aws.process_alive(pid)
    finally:
        recorded = state.read()
        if recorded:
            local_aws.stop_process(recorded[0], grace=5.0)


def test_a_live_process_that_is_not_the_server_is_not_ours() -> None:
    local_aws = _import_launcher()
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        assert not local_aws.is_our_server(sleeper.pid)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert not local_aws.is_our_server(sleeper.pid)


def test_the_stand_in_tags_eks_node_groups_by_arn_as_eks_does(aws, stand_in_corrections) -> None:
    """Correction 6: moto tags EKS clusters only; EKS tags a node group by its ARN too."""
    import boto3

    eks = boto3.client("eks", region_name="us-east-1")
    role = "arn:aws:iam::123456789012:role/nodes"
    eks.create_cluster(name="c", roleArn=role, resourcesVpcConfig={"subnetIds": ["subnet-1"]})
    group = eks.create_nodegroup(clusterName="c", nodegroupName="cpu", nodeRole=role, subnets=["subnet-1"],
                                 tags={"team": "ml"})["nodegroup"]
    cluster_arn = eks.describe_cluster(name="c")["cluster"]["arn"]

    eks.tag_resource(resourceArn=group["nodegroupArn"], tags={"cost-centre": "42"})
    eks.untag_resource(resourceArn=group["nodegroupArn"], tagKeys=["team"])
    eks.tag_resource(resourceArn=cluster_arn, tags={"cluster-tag": "yes"})

    assert eks.list_tags_for_resource(resourceArn=group["nodegroupArn"])["tags"] == {"cost-centre": "42"}
    assert eks.describe_nodegroup(clusterName="c", nodegroupName="cpu")["nodegroup"]["tags"] == {"cost-centre": "42"}
    assert eks.list_tags_for_resource(resourceArn=cluster_arn)["tags"] == {"cluster-tag": "yes"}
    with pytest.raises(eks.exceptions.ResourceNotFoundException):
        eks.tag_resource(resourceArn=group["nodegroupArn"].replace("/cpu/", "/gone/"), tags={"a": "b"})
