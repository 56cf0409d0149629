"""Integration harness: a fresh AWS stand-in per session and a playbook runner.

The stand-in gets a free port and a temporary state directory, never the demo's
(127.0.0.1:4566, .local/), so `make test` and `make demo` never share state.
"""

import atexit
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile

import pytest

pytest_plugins = ["kube", "postgres"]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAUNCHER = os.path.join(ROOT, "tools", "local_aws.py")
RECAP = re.compile(
    r"^(?P<host>\S+)\s+: ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)\s+"
    r"failed=(?P<failed>\d+)", re.M)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Run:
    def __init__(self, process):
        self.rc = process.returncode
        self.output = process.stdout + process.stderr
        recaps = [match.groupdict() for match in RECAP.finditer(process.stdout)]
        self.recap = {key: int(value) for key, value in recaps[-1].items() if key != "host"} if recaps else None

    def __repr__(self):
        return "Run(rc=%s, recap=%s)\n%s" % (self.rc, self.recap, self.output[-6000:])


# Outputs of the test runs (build/<env>/outputs.json) stay out of the checkout's build/.
BUILD_DIR = tempfile.mkdtemp(prefix="mlops-integration-build-")
atexit.register(shutil.rmtree, BUILD_DIR, True)


def playbook(port, *args, env=None):
    """How site.yml is run on inventories/local against the stand-in on ``port``: Popen's arguments."""
    environment = dict(os.environ)
    environment.update({
        "ANSIBLE_CONFIG": os.path.join(ROOT, "ansible.cfg"),
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_NOCOLOR": "1",
        "MLOPS_LOCAL_AWS_PORT": str(port),
        "PATH": os.path.dirname(sys.executable) + os.pathsep + environment.get("PATH", ""),
    })
    environment.update(env or {})
    return {"args": ["ansible-playbook", "-i", os.path.join(ROOT, "inventories", "local"),
                     os.path.join(ROOT, "playbooks", "site.yml")] + list(args),
            "cwd": ROOT, "env": environment, "text": True}


def run_playbook(port, *args, env=None):
    process = subprocess.run(capture_output=True, timeout=900, check=False, **playbook(
        port, "-e", json.dumps({"mlops_build_dir": BUILD_DIR}), *args, env=env))
    return Run(process)


def changed_tasks(run):
    """Names of the tasks that reported a change, in order."""
    tasks, current = [], None
    for line in run.output.splitlines():
        if line.startswith("TASK ["):
            current = line[6:line.index("]")]
        elif line.startswith("changed: [") and current:
            tasks.append(current)
    return tasks


@pytest.fixture(scope="session", autouse=True)
def local_kubeconfig(control_plane):
    """Every converge of the local inventory registers its node groups' nodes in the session's
    control plane (the inventory reads MLOPS_LOCAL_KUBECONFIG), as `make demo` does in .local/."""
    previous = os.environ.get("MLOPS_LOCAL_KUBECONFIG")
    os.environ["MLOPS_LOCAL_KUBECONFIG"] = str(control_plane.kubeconfig)
    yield control_plane.kubeconfig
    if previous is None:
        os.environ.pop("MLOPS_LOCAL_KUBECONFIG", None)
    else:
        os.environ["MLOPS_LOCAL_KUBECONFIG"] = previous


@contextlib.contextmanager
def started_stand_in(state):
    """A moto server on a free port with its state in ``state``; stopped on exit."""
    port = free_port()
    command = [sys.executable, LAUNCHER, "--port", str(port), "--state-dir", str(state)]
    started = subprocess.run(command + ["up"], capture_output=True, text=True, check=False)
    assert started.returncode == 0, started.stderr
    try:
        yield port
    finally:
        subprocess.run(command + ["down"], capture_output=True, text=True, check=False)


@pytest.fixture(scope="session")
def stand_in(tmp_path_factory):
    """The stand-in the converge tests share: converged once, then re-run, planned, drifted."""
    with started_stand_in(tmp_path_factory.mktemp("stand-in")) as port:
        yield port


@pytest.fixture
def empty_stand_in(tmp_path):
    """A stand-in of its own, with nothing in it."""
    with started_stand_in(tmp_path / "stand-in") as port:
        yield port


@pytest.fixture
def silent_endpoint():
    """A port that records whether anything connected to it: AWS calls must not happen."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        server.setblocking(False)

        class Endpoint:
            port = server.getsockname()[1]

            @staticmethod
            def connections():
                count = 0
                while True:
                    try:
                        connection = server.accept()[0]
                    except BlockingIOError:
                        return count
                    connection.close()
                    count += 1

        yield Endpoint


def extra_vars(variables):
    return ["-e", json.dumps(variables)]


def run_module(capsys, main, args, check_mode=False, fails=False):
    """Run a module's real main() as Ansible would (ansible-core's patch_module_args); its
    result as the controller receives it. Asserts it failed exactly when ``fails``."""
    from ansible.module_utils.testing import patch_module_args

    if check_mode:
        args = dict(args, _ansible_check_mode=True)
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exit_info:
            main()
    result = json.loads(capsys.readouterr().out)
    assert (exit_info.value.code != 0) == fails, result
    return result


def warnings(result):
    """The warning messages of a result (ansible-core 2.19 returns them as WarningSummary dicts)."""
    return [w["event"]["msg"] if isinstance(w, dict) else w for w in result.get("warnings", [])]


# Figures of the fault and kill runs (test_faults.py), shown at the end of `make test`. A test
# hands them over as a user property of its report (JSON text), which pytest-xdist carries from
# the worker that ran the test to the process that writes the summary.
FIGURES_PROPERTY = "mlops_fault_figures"
FAULT_FIGURES = []


def pytest_runtest_logreport(report):
    if report.when == "call":
        FAULT_FIGURES.extend(json.loads(value) for name, value in report.user_properties if name == FIGURES_PROPERTY)


def pytest_terminal_summary(terminalreporter):
    if not FAULT_FIGURES:
        return
    write = terminalreporter.write_line
    terminalreporter.section("converges through faults and kills")
    for figures in FAULT_FIGURES:
        if figures["test"] == "clean reference converge":
            write("clean converge: %.1f s, %d requests, creates: %s" % (
                figures["seconds"], figures["requests"],
                ", ".join("%s x%d" % item for item in figures["creates"].items())))
        elif figures["test"] == "faults":
            write("faults seed %s (rate %s): %d requests, faults %s; %d faulted run(s) %s, then a clean run %s; "
                  "duplicates: %s" % (
                      figures["seed"], figures["rate"], figures["requests"], figures["faults"], figures["runs_needed"],
                      [(run["rc"], run["seconds"]) for run in figures["runs"] if run["faulted"]],
                      [(run["rc"], run["recap"] and run["recap"]["changed"], run["seconds"])
                       for run in figures["runs"] if not run["faulted"]],
                      figures["duplicates"] or "none"))
            for run in figures["runs"]:
                if run.get("failure"):
                    write("    run failed: %s" % run["failure"])
            differences = figures["differences_after_faulted_runs"]
            missing = [line for line in differences if line.startswith("missing")]
            for line in differences:
                if not line.startswith("missing"):
                    write("    " + line)
            if missing:
                write("    %d resource(s) not yet made when the faulted runs stopped" % len(missing))
        elif figures["test"] == "kills":
            write("kills: %d kill points on %d stand-in(s); final resume rc=%s (%s s)" % (
                len(figures["points"]), figures["stand_ins"], figures.get("final_resume", {}).get("rc"),
                figures.get("final_resume", {}).get("seconds")))
            for point in figures["points"]:
                write("    kill after %-40s %s %5.1f s%s" % (
                    point["kill_after"], "killed" if point["killed"] else "NOT REACHED", point["seconds"],
                    "; the resume failed: %s" % point["resume_failed"] if point.get("resume_failed") else ""))
            for line in figures["leftovers"]:
                write("    left over: " + line)
            if not figures["leftovers"]:
                for line in figures.get("differences_at_end", []):
                    write("    at the end: " + line)
