"""The process plumbing the local launchers share (tools/local_launcher.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[2] / "tools"
if str(TOOLS) not in sys.path:
    sys.path.insert(0, str(TOOLS))
import local_launcher  # noqa: E402 - the launchers import it the same way


@pytest.mark.parametrize("text", ["1", "4566", "65535"])
def test_port_number_accepts_a_tcp_port(text: str) -> None:
    assert local_launcher.port_number(text) == int(text)


@pytest.mark.parametrize("text", ["0", "65536", "-1", "http", ""])
def test_port_number_refuses_anything_else(text: str) -> None:
    with pytest.raises(local_launcher.argparse.ArgumentTypeError, match="not a TCP port"):
        local_launcher.port_number(text)


def test_default_port_comes_from_the_environment_else_the_default(monkeypatch) -> None:
    monkeypatch.delenv("MLOPS_TEST_PORT", raising=False)
    assert local_launcher.default_port("MLOPS_TEST_PORT", 4566) == 4566
    monkeypatch.setenv("MLOPS_TEST_PORT", "4577")
    assert local_launcher.default_port("MLOPS_TEST_PORT", 4566) == 4577
    monkeypatch.setenv("MLOPS_TEST_PORT", "nope")
    with pytest.raises(local_launcher.LauncherError) as error:
        local_launcher.default_port("MLOPS_TEST_PORT", 4566)
    assert str(error.value) == "MLOPS_TEST_PORT: not a TCP port: 'nope'"


def test_a_listening_port_is_not_free() -> None:
    with socket.socket() as server:
        server.bind((local_launcher.HOST, 0))
        server.listen()
        port = server.getsockname()[1]
        assert not local_launcher.port_is_free(port)
    assert local_launcher.port_is_free(port)
    assert local_launcher.port_is_free(local_launcher.free_port())


@pytest.fixture
def sleeper():
    process = subprocess.Popen(["sleep", "30"], start_new_session=True)
    yield process
    if process.poll() is None:
        process.kill()
    process.wait()


def test_runs_as_recognises_a_process_by_its_argv_and_nothing_else(sleeper) -> None:
    assert local_launcher.runs_as(sleeper.pid, lambda argv: argv == [b"sleep", b"30"])
    assert not local_launcher.runs_as(sleeper.pid, lambda argv: b"serve" in argv)
    # never this process or init, whatever the pid file says
    assert not local_launcher.runs_as(os.getpid(), lambda argv: True)
    assert not local_launcher.runs_as(1, lambda argv: True)
    sleeper.kill()
    sleeper.wait()
    assert not local_launcher.process_alive(sleeper.pid)
    assert not local_launcher.runs_as(sleeper.pid, lambda argv: True)


def test_runs_as_waits_for_the_kernel_to_fill_in_a_new_process_argv(sleeper) -> None:
    """Right after the exec /proc/PID/cmdline can be empty: read again rather than disown the process."""
    reads = iter([[], [], [b"sleep", b"30"]])
    assert local_launcher.runs_as(sleeper.pid, lambda argv: argv[0] == b"sleep", read=lambda pid: next(reads))
    assert next(reads, "all read") == "all read"
    # an argv that stays empty is not ours, once the settle time is over
    assert not local_launcher.runs_as(sleeper.pid, lambda argv: True, read=lambda pid: [])
    # without /proc (macOS), a live pid is trusted
    assert local_launcher.runs_as(sleeper.pid, lambda argv: False, read=lambda pid: None)


def test_stop_process_stops_the_process_group(sleeper) -> None:
    local_launcher.stop_process(sleeper.pid, grace=5.0)
    assert sleeper.wait(timeout=5) is not None
    local_launcher.stop_process(sleeper.pid, grace=1.0)  # already gone: nothing to do


def test_numbers_and_log_lines_of_the_state_directory(tmp_path: Path) -> None:
    assert local_launcher.read_number(tmp_path / "missing.pid") is None
    (tmp_path / "bad.pid").write_text("12a\n")
    assert local_launcher.read_number(tmp_path / "bad.pid") is None
    local_launcher.write_number(tmp_path / "x.pid", 1234)
    assert (tmp_path / "x.pid").read_text() == "1234\n"
    assert local_launcher.read_number(tmp_path / "x.pid") == 1234
    assert local_launcher.last_lines(tmp_path / "missing.log", 3) == []
    (tmp_path / "x.log").write_text("a\nb\nc\nd\n\n")
    assert local_launcher.last_lines(tmp_path / "x.log", 3) == ["b", "c", "d"]


def test_remove_state_dir_stops_then_deletes(tmp_path: Path, capsys) -> None:
    state = tmp_path / "state"
    (state / "logs").mkdir(parents=True)
    stopped = []
    local_launcher.remove_state_dir(state, lambda: stopped.append(True), "thing")
    assert stopped == [True] and not state.exists()
    assert capsys.readouterr().out == f"thing: removed {state.resolve()}\n"
    local_launcher.remove_state_dir(state, lambda: stopped.append(True), "thing")  # nothing left: fine
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("directory", [local_launcher.REPO_ROOT, local_launcher.REPO_ROOT.parent, Path.home()])
def test_remove_state_dir_refuses_what_is_not_a_state_directory(directory: Path) -> None:
    with pytest.raises(local_launcher.LauncherError, match="not a state directory"):
        local_launcher.remove_state_dir(directory, lambda: pytest.fail("stopped"), "thing")
    assert directory.is_dir()


def _raise(error: BaseException):
    def action() -> int:
        raise error
    return action


def test_run_command_turns_every_failure_into_one_line(capsys) -> None:
    assert local_launcher.run_command("x.py", "up", lambda: 3) == 3
    assert local_launcher.run_command("x.py", "up", _raise(local_launcher.LauncherError("no port"))) == 1
    assert capsys.readouterr().err == "x.py up: no port\n"
    assert local_launcher.run_command("x.py", "up", _raise(OSError("disk full"))) == 1
    assert capsys.readouterr().err == "x.py up: OSError: disk full\n"
    assert local_launcher.run_command("x.py", "up", _raise(KeyboardInterrupt())) == 130
    assert capsys.readouterr().err == ""
    assert local_launcher.run_command("x.py", "up", _raise(KeyboardInterrupt()), say_interrupted=True) == 130
    assert capsys.readouterr().err == "x.py up: interrupted\n"


@pytest.mark.parametrize("launcher", ["local_aws.py", "local_k8s.py"])
def test_the_launchers_find_it_from_any_directory(launcher: str, tmp_path: Path) -> None:
    """As `make` and .ci/run start them (a script path, any cwd), and through a symlink to the script."""
    link = tmp_path / launcher
    link.symlink_to(TOOLS / launcher)
    for script in (TOOLS / launcher, link):
        result = subprocess.run([sys.executable, str(script), "status", "--state-dir", str(tmp_path / "state")],
                                cwd="/", capture_output=True, text=True, timeout=60, check=False,
                                env={**os.environ, "PYTHONPATH": ""})
        assert result.returncode == local_launcher.EXIT_NOT_RUNNING, result.stderr
        assert result.stdout.endswith(": not running\n") and not result.stderr
