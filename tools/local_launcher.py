"""Process plumbing shared by the local launchers, tools/local_aws.py and tools/local_k8s.py.

Both keep long-running processes of their own in a state directory (a pid file per
process, a log), stop them by pid, and take a port from --port or an environment
variable. What that takes is here, once. Standard library only: the launchers' `down`,
`status` and `clean` run before the project's .venv exists. Not part of the collection
(galaxy.yml's build_ignore leaves out tools/).

The launchers are run as scripts (`python tools/local_aws.py up`), so this directory is
sys.path[0] and `import local_launcher` finds this file; loaded by path instead (the tests,
the integration harness), they put this directory on sys.path first.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import shutil
import signal
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
POLL_INTERVAL = 0.1
EXIT_NOT_RUNNING = 3

# A process just started can show an empty /proc/PID/cmdline for a moment (measured: empty
# in 269 of 300 reads right after Popen under load); read again for this long before
# concluding that a live process is not ours.
CMDLINE_SETTLE = 2.0


class LauncherError(Exception):
    """A failure to report to the user as one line, without a traceback."""


# --- Ports ----------------------------------------------------------------------


def port_number(text: str) -> int:
    """argparse type of a TCP port."""
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"not a TCP port: {text!r}")
    return port


def default_port(variable: str, default: int) -> int:
    """The port in environment ``variable``, else ``default``; a bad value is the user's one-line error."""
    text = os.environ.get(variable)
    if not text:
        return default
    try:
        return port_number(text)
    except argparse.ArgumentTypeError as exc:
        raise LauncherError(f"{variable}: {exc}") from None


def port_is_free(port: int) -> bool:
    """True if a server could listen on HOST:port now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As the servers themselves do, so sockets in TIME_WAIT do not count as taken.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


# --- Processes ------------------------------------------------------------------


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    # A zombie (exited, not yet reaped by its parent) is not alive.
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def read_cmdline(pid: int) -> list[bytes] | None:
    """pid's argv from /proc, or None without /proc (macOS). Empty while the kernel has not filled it in."""
    try:
        data = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return [] if Path("/proc/self").exists() else None
    except OSError:
        return None
    return [arg for arg in data.split(b"\0") if arg]


def runs_as(pid: int, matches: Callable[[list[bytes]], bool],
            read: Callable[[int], list[bytes] | None] = read_cmdline) -> bool:
    """True if pid is a live process whose argv ``matches`` (guards against pid reuse).

    An empty argv is read again for CMDLINE_SETTLE seconds (the kernel fills it in after
    the exec); without /proc (macOS) a live pid is trusted, as the pid file says.
    """
    if pid <= 1 or pid == os.getpid():
        return False
    deadline = time.monotonic() + CMDLINE_SETTLE
    while True:
        if not process_alive(pid):
            return False
        cmdline = read(pid)
        if cmdline is None:
            return True
        if cmdline or time.monotonic() >= deadline:
            break
        time.sleep(POLL_INTERVAL / 2)
    return bool(cmdline) and matches(cmdline)


def stop_process(pid: int, grace: float) -> None:
    """SIGTERM pid's process group, then SIGKILL it if it outlives the grace period."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not process_alive(pid):
            return
        time.sleep(POLL_INTERVAL)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    deadline = time.monotonic() + grace
    while process_alive(pid) and time.monotonic() < deadline:
        time.sleep(POLL_INTERVAL)


# --- The state directory ----------------------------------------------------------


def read_number(path: Path) -> int | None:
    """The number a pid or port file holds, or None if it is missing or unreadable."""
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def write_number(path: Path, number: int) -> None:
    path.write_text(f"{number}\n")


def last_lines(path: Path, lines: int) -> list[str]:
    """The last ``lines`` lines of a log, or none if it cannot be read."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    return text.rstrip().splitlines()[-lines:]


def remove_state_dir(directory: Path, stop: Callable[[], object], what: str) -> Path:
    """`clean`: refuse a directory that is not a state directory, ``stop`` what runs, delete it."""
    directory = directory.resolve()
    if directory == Path.home().resolve() or REPO_ROOT.is_relative_to(directory):
        raise LauncherError(f"refusing to delete {directory}: not a state directory")
    stop()
    if directory.exists():
        shutil.rmtree(directory)
        print(f"{what}: removed {directory}")
    return directory


# --- Command line ---------------------------------------------------------------


def run_command(prog: str, command: str, action: Callable[[], int], say_interrupted: bool = False) -> int:
    """``action``'s exit code; any failure is one line on stderr and exit 1, never a traceback."""
    try:
        return action()
    except LauncherError as exc:
        print(f"{prog} {command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        if say_interrupted:
            print(f"{prog} {command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the user gets one line, not a traceback
        print(f"{prog} {command}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
