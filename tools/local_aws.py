#!/usr/bin/env python
"""Start, stop and inspect the local AWS stand-in (moto's server on loopback).

The `local` environment runs against moto's server instead of an AWS account.
This launcher keeps exactly one such server per state directory:

    up       start it detached, or reuse the one already running; wait until it answers
    down     stop it (SIGTERM, then SIGKILL after a deadline); nothing to do is fine
    status   say whether it runs; exit 0 if it answers, 3 if it does not
    clean    down, then delete the state directory
    serve    run the server in the foreground (what `up` starts; not for humans)

The port is --port, else $MLOPS_LOCAL_AWS_PORT, else 4566. The state directory
(--state-dir, default .local/ in the repository) holds moto.pid, moto.port and
moto.log. `down`, `status` and `clean` need only the standard library; `up`
and `serve` need the interpreter that has moto installed (the project's .venv).

Errors are one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

# Run as a script, this directory is sys.path[0]; loaded by path (tests), it is not.
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
from local_launcher import (  # noqa: E402 - after the path is set
    EXIT_NOT_RUNNING,
    HOST,
    POLL_INTERVAL,
    REPO_ROOT,
    LauncherError,
    default_port,
    last_lines,
    port_is_free,
    port_number,
    process_alive,
    read_cmdline,
    read_number,
    remove_state_dir,
    run_command,
    runs_as,
    stop_process,
    write_number,
)

DEFAULT_STATE_DIR = REPO_ROOT / ".local"
DEFAULT_PORT = 4566
PORT_ENV = "MLOPS_LOCAL_AWS_PORT"

PID_FILE = "moto.pid"
PORT_FILE = "moto.port"
LOG_FILE = "moto.log"

# Cheap, read-only and specific to moto: the server's own runtime settings.
PROBE_PATH = "/moto-api/config"
PROBE_TIMEOUT = 1.0

SERVER_ENV = {
    # Without it IAM knows no AWS managed policy, so attaching one fails.
    "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
}


# --- The server process ---------------------------------------------------------


def _apply_stand_in_corrections() -> None:
    """Patch moto, in the server process, where it contradicts the real AWS API.

    Called by `serve` after moto is imported and before it serves a request, so a
    correction applies to every client of the stand-in and to nothing else.
    Each correction must say which moto behaviour it changes, why the project
    depends on the real behaviour, and the moto version it was written against,
    so it can be dropped when moto is fixed.
    """
    # 1. Delegated administrators (moto 5.2.5, moto/organizations/models.py,
    #    FakeDelegatedAdministrator.SUPPORTED_SERVICES): moto refuses
    #    RegisterDelegatedAdministrator for securityhub.amazonaws.com and
    #    config.amazonaws.com with InvalidInputException, while AWS supports a
    #    delegated administrator for both (Organizations user guide, "AWS services
    #    that you can use with AWS Organizations"). The organization component makes
    #    the security account their administrator.
    from moto.organizations.models import FakeDelegatedAdministrator

    for principal in ("securityhub.amazonaws.com", "config.amazonaws.com"):
        if principal not in FakeDelegatedAdministrator.SUPPORTED_SERVICES:
            FakeDelegatedAdministrator.SUPPORTED_SERVICES.append(principal)

    # 2. Bucket policy conditions (moto 5.2.5, moto/s3/models.py FakeBucket.get_permission,
    #    which moto/s3/responses.py calls for Get/Put/Head/DeleteObject and DeleteObjects;
    #    evaluation in moto/iam/access_control.py IAMPolicyStatement.is_action_permitted and
    #    _check_conditions, operators in moto/iam/policy_conditions.py): S3 hands moto no
    #    request context, moto knows no condition operator but StringEquals and treats any
    #    other as met, and a statement whose condition fails counts as DENY even when it is
    #    an Allow. So every conditional statement of a bucket policy applies to every request:
    #    the data lake's TLS-only Deny (Bool aws:SecureTransport false) answered every object
    #    call on the lake with 403. AWS evaluates a condition on a key that is absent from the
    #    request context as not met (except the ...IfExists operators, ForAllValues and
    #    Null "true"), and a statement whose condition is not met does not apply at all (IAM
    #    user guide, "Policy evaluation logic" and "Condition operators"). Corrected here, for
    #    bucket policies only: a statement applies when it has no Condition or every condition
    #    holds against the empty context moto gives (so the TLS Deny, the lake's
    #    encryption-header Denies and the log bucket's service Allows do not apply, as on AWS
    #    for a request without those keys); everything else is moto's own evaluation. The
    #    project's lake, and later proofs writing artifacts into it, need object calls to work.
    import json

    from moto.iam.access_control import IAMPolicyStatement, PermissionResult
    from moto.s3.models import FakeBucket

    def condition_holds_without_context(operator, expected):
        if operator.endswith("IfExists") or operator.startswith("ForAllValues:"):
            return True
        if operator == "Null":
            return str(expected).lower() == "true"
        return False

    def statement_applies(statement):
        return all(condition_holds_without_context(operator, expected)
                   for operator, keys in (statement.get("Condition") or {}).items()
                   for expected in keys.values())

    def get_permission(self, action, resource):
        if self.policy is None:
            return PermissionResult.NEUTRAL
        statements = json.loads(self.policy.decode())["Statement"]
        permitted = False
        for statement in statements if isinstance(statements, list) else [statements]:
            if not statement_applies(statement):
                continue
            unconditional = {key: value for key, value in statement.items() if key != "Condition"}
            result = IAMPolicyStatement(unconditional).is_action_permitted(action, resource)
            if result == PermissionResult.DENIED:
                return result
            permitted = permitted or result == PermissionResult.PERMITTED
        return PermissionResult.PERMITTED if permitted else PermissionResult.NEUTRAL

    FakeBucket.get_permission = get_permission

    # 3. S3 flow-log destinations (moto 5.2.5, moto/ec2/models/flow_logs.py,
    #    create_flow_logs): moto takes everything after "arn:aws:s3:::" for the bucket
    #    name, so a destination with a folder (arn:aws:s3:::<log bucket>/vpc-flow-logs/,
    #    what the data lake hands the network) is refused as a missing bucket. AWS accepts
    #    a bucket ARN with an optional folder (VPC user guide, "Create a flow log that
    #    publishes to Amazon S3"). Corrected by checking only the bucket part.
    from moto.ec2.models.flow_logs import FlowLogsBackend

    original_create_flow_logs = FlowLogsBackend.create_flow_logs

    def create_flow_logs(self, **kwargs):
        destination = kwargs.get("log_destination")
        if kwargs.get("log_destination_type") == "s3" and destination and "/" in destination:
            kwargs["log_destination"] = destination.partition("/")[0]
            flow_logs, errors = original_create_flow_logs(self, **kwargs)
            for flow_log in flow_logs:
                flow_log.log_destination = destination
            return flow_logs, errors
        return original_create_flow_logs(self, **kwargs)

    FlowLogsBackend.create_flow_logs = create_flow_logs

    # 4. Security Hub's organization administrator (moto 5.2.5, moto/securityhub/urls.py
    #    and responses.py): moto implements EnableOrganizationAdminAccount but not its
    #    read, ListOrganizationAdminAccounts (GET /organization/admin), which it answers
    #    with 404. AWS answers the management account with the designated administrator
    #    and its status (Security Hub API reference, ListOrganizationAdminAccounts). The
    #    organization component reads it before designating the security account, so a
    #    converged organization is a read-only run. Supplied here from the state moto's
    #    own EnableOrganizationAdminAccount keeps. moto keeps one administrator per
    #    organization, not one per region, so this answers the same in every region.
    from moto.securityhub import urls as securityhub_urls
    from moto.securityhub.responses import SecurityHubResponse

    def list_organization_admin_accounts(self):
        admin = self.securityhub_backend._get_org_config()["admin_account_id"]
        accounts = [{"AccountId": admin, "Status": "ENABLED"}] if admin else []
        return json.dumps({"AdminAccounts": accounts})

    SecurityHubResponse.list_organization_admin_accounts = list_organization_admin_accounts
    securityhub_urls.url_paths.setdefault("{0}/organization/admin$", SecurityHubResponse.dispatch)

    # 5. GuardDuty's organization configuration (moto 5.2.5, moto/guardduty/urls.py and
    #    responses.py): moto has no DescribeOrganizationConfiguration or
    #    UpdateOrganizationConfiguration (GET and POST /detector/{detectorId}/admin) and
    #    answers both with 404. AWS answers the administrator account's detector with, and
    #    sets, which member accounts GuardDuty is switched on for
    #    (AutoEnableOrganizationMembers NEW/ALL/NONE; GuardDuty API reference). The
    #    organization component sets it in the security account. Kept on moto's own
    #    detector (an unknown detector answers as moto's GetDetector does); a detector
    #    starts at NONE, and AutoEnable is reported as AWS derives it.
    from moto.guardduty import urls as guardduty_urls
    from moto.guardduty.responses import GuardDutyResponse

    def guardduty_detector(response):
        return response.guardduty_backend.get_detector(response.path.split("/")[-2])

    def describe_guardduty_organization_configuration(self):
        members = getattr(guardduty_detector(self), "mlops_auto_enable_organization_members", "NONE")
        return json.dumps({"autoEnable": members != "NONE", "memberAccountLimitReached": False,
                           "autoEnableOrganizationMembers": members})

    def update_guardduty_organization_configuration(self):
        detector = guardduty_detector(self)
        members = self._get_param("autoEnableOrganizationMembers")
        if members is None and self._get_param("autoEnable") is not None:
            members = "NEW" if self._get_param("autoEnable") else "NONE"
        if members is not None:
            detector.mlops_auto_enable_organization_members = members
        return "{}"

    GuardDutyResponse.describe_organization_configuration = describe_guardduty_organization_configuration
    GuardDutyResponse.update_organization_configuration = update_guardduty_organization_configuration
    guardduty_urls.url_paths.setdefault("{0}/detector/(?P<detector_id>[^/]+)/admin$", GuardDutyResponse.dispatch)

    # 6. Tags of EKS managed node groups (moto 5.2.5, moto/eks/models.py EKSBackend.tag_resource,
    #    untag_resource and list_tags_for_resource): moto tags clusters only and answers a node
    #    group's ARN with NotFoundException, while EKS tags a node group by its ARN as it does a
    #    cluster (EKS API reference, TagResource). The node group helpers add the environment's
    #    tags to their groups, so on the stand-in a change of mlops_environment.tags failed the
    #    run. A node group is found by its ARN among the clusters' groups (DescribeNodegroup
    #    already answers its tags); any other ARN is left to moto.
    from moto.eks.models import EKSBackend

    def owned_nodegroup(backend, arn):
        return next((group for cluster in backend.clusters.values() for group in cluster.nodegroups.values()
                     if group.arn == arn), None)

    def tag_nodegroup(original):
        def tag_resource(self, resource_arn, tags):
            group = owned_nodegroup(self, resource_arn)
            if group is None:
                return original(self, resource_arn, tags)
            group.tags = dict(group.tags or {}, **tags)
            return None
        return tag_resource

    def untag_nodegroup(original):
        def untag_resource(self, resource_arn, tag_keys):
            group = owned_nodegroup(self, resource_arn)
            if group is None:
                return original(self, resource_arn, tag_keys)
            keys = tag_keys if isinstance(tag_keys, list) else [tag_keys]
            group.tags = {key: value for key, value in (group.tags or {}).items() if key not in keys}
            return None
        return untag_resource

    def list_nodegroup_tags(original):
        def list_tags_for_resource(self, resource_arn):
            group = owned_nodegroup(self, resource_arn)
            return original(self, resource_arn) if group is None else dict(group.tags or {})
        return list_tags_for_resource

    for name, correct in (("tag_resource", tag_nodegroup), ("untag_resource", untag_nodegroup),
                          ("list_tags_for_resource", list_nodegroup_tags)):
        original = getattr(EKSBackend, name)
        if not getattr(original, "mlops_corrected", False):
            corrected = correct(original)
            corrected.mlops_corrected = True
            setattr(EKSBackend, name, corrected)


def serve(port: int) -> None:
    """Run moto's server on HOST:port in this process until SIGTERM/SIGINT."""
    try:
        from moto import server as moto_server
    except ImportError as exc:
        raise LauncherError(
            f"moto is not importable by {sys.executable} ({exc}); run `make venv` "
            "and start the stand-in with .venv/bin/python"
        ) from exc
    os.environ.update(SERVER_ENV)
    _apply_stand_in_corrections()
    # moto installs handlers that turn SIGTERM/SIGINT into a clean SystemExit.
    moto_server.main(["--host", HOST, "--port", str(port)])


# --- Inspecting what runs -------------------------------------------------------


def probe(port: int, timeout: float = PROBE_TIMEOUT) -> bool:
    """True if a moto server answers on HOST:port."""
    # Loopback traffic must never go through a proxy from the environment.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"http://{HOST}:{port}{PROBE_PATH}", timeout=timeout) as response:
            body = json.loads(response.read(65536))
    except (OSError, ValueError, http.client.HTTPException):
        return False  # refused, timed out, not HTTP, not JSON, HTTP error status
    return isinstance(body, dict) and "lambda" in body


def is_our_server(pid: int) -> bool:
    """True if pid is a live `local_aws.py serve` process (guards against pid reuse)."""
    return runs_as(pid, lambda argv: any(arg.endswith(b"local_aws.py") for arg in argv) and b"serve" in argv,
                   read=read_cmdline)


class State:
    """The pid file, port file and log of one stand-in."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.pid_file = directory / PID_FILE
        self.port_file = directory / PORT_FILE
        self.log_file = directory / LOG_FILE

    def read(self) -> tuple[int, int] | None:
        """(pid, port) recorded by `up`, or None if nothing usable is recorded."""
        pid, port = read_number(self.pid_file), read_number(self.port_file)
        return None if pid is None or port is None else (pid, port)

    def write(self, pid: int, port: int) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        write_number(self.port_file, port)
        write_number(self.pid_file, pid)

    def forget(self) -> None:
        for path in (self.pid_file, self.port_file):
            path.unlink(missing_ok=True)

    def running(self) -> tuple[int, int] | None:
        """(pid, port) of our live server, forgetting a stale record."""
        recorded = self.read()
        if recorded is None:
            return None
        if is_our_server(recorded[0]):
            return recorded
        self.forget()
        return None

    def log_tail(self, lines: int = 5) -> str:
        return "\n".join(last_lines(self.log_file, lines))


# --- Commands -------------------------------------------------------------------


def url(port: int) -> str:
    return f"http://{HOST}:{port}"


def wait_until_answering(state: State, pid: int, port: int, deadline: float,
                         process: subprocess.Popen | None = None) -> None:
    """Wait for the server to answer; fail at once if it exited.

    For a server this command just started, liveness is its Popen handle (exact, and no
    /proc read that can race the kernel); for one found running, the pid file's pid.
    """
    def alive() -> bool:
        return process.poll() is None if process is not None else is_our_server(pid)

    while time.monotonic() < deadline:
        if probe(port):
            return
        if not alive():
            state.forget()
            tail = state.log_tail()
            raise LauncherError(
                f"the stand-in exited during start-up; see {state.log_file}"
                + (f":\n{tail}" if tail else "")
            )
        time.sleep(POLL_INTERVAL)
    stop_process(pid, grace=5.0)
    state.forget()
    raise LauncherError(
        f"the stand-in did not answer on {url(port)} in time; see {state.log_file}"
    )


def cmd_up(state: State, port: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    running = state.running()
    if running is not None:
        pid, running_port = running
        if running_port != port:
            raise LauncherError(
                f"the stand-in of {state.directory} already runs on port {running_port}, "
                f"not {port}; run `make local-down` first or set {PORT_ENV}={running_port}"
            )
        wait_until_answering(state, pid, port, deadline)
        print(f"local AWS stand-in: reusing {url(port)} (pid {pid})")
        return 0

    if not port_is_free(port):
        if probe(port):
            # Someone else's moto (another checkout, a manual moto_server): usable,
            # but not ours to stop.
            print(
                f"local AWS stand-in: reusing the moto server already on {url(port)} "
                f"(not started from {state.directory}, so `down` leaves it running)"
            )
            return 0
        raise LauncherError(
            f"port {port} on {HOST} is in use by something that is not a moto server; "
            f"free it or choose another port with {PORT_ENV}=<port>"
        )

    state.directory.mkdir(parents=True, exist_ok=True)
    with open(state.log_file, "ab") as log:
        process = subprocess.Popen(  # noqa: S603 - fixed argv, our own script
            [sys.executable, str(Path(__file__).resolve()), "serve", "--port", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=state.directory,
            env={**os.environ, **SERVER_ENV},
            # Its own session: outlives this command and the terminal's Ctrl-C.
            start_new_session=True,
        )
    state.write(process.pid, port)
    wait_until_answering(state, process.pid, port, deadline, process)
    print(f"local AWS stand-in: started on {url(port)} (pid {process.pid}, log {state.log_file})")
    return 0


def cmd_down(state: State, grace: float) -> int:
    running = state.running()
    if running is None:
        print("local AWS stand-in: not running")
        return 0
    pid, port = running
    stop_process(pid, grace)
    if process_alive(pid):
        raise LauncherError(f"could not stop the stand-in (pid {pid})")
    state.forget()
    print(f"local AWS stand-in: stopped {url(port)} (pid {pid})")
    return 0


def cmd_status(state: State) -> int:
    running = state.running()
    if running is None:
        print("local AWS stand-in: not running")
        return EXIT_NOT_RUNNING
    pid, port = running
    if not probe(port):
        print(f"local AWS stand-in: pid {pid} runs but does not answer on {url(port)}")
        return EXIT_NOT_RUNNING
    print(f"local AWS stand-in: running on {url(port)} (pid {pid})")
    return 0


def cmd_clean(state: State, grace: float) -> int:
    remove_state_dir(state.directory, lambda: cmd_down(state, grace), "local AWS stand-in")
    return 0


# --- Command line ---------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="local_aws.py",
        description="Local AWS stand-in (moto server) for the `local` environment.",
    )
    parser.add_argument(
        "command", choices=("up", "down", "status", "clean", "serve"), help="what to do"
    )
    parser.add_argument(
        "--port",
        type=port_number,
        default=None,
        help=f"TCP port on {HOST} (default: ${PORT_ENV}, else {DEFAULT_PORT})",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=DEFAULT_STATE_DIR,
        help="where the pid file and log live (default: %(default)s)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        help="seconds `up` waits for the server to answer (default: %(default)s)",
    )
    parser.add_argument(
        "--grace",
        type=float,
        default=10.0,
        help="seconds `down` waits after SIGTERM before SIGKILL (default: %(default)s)",
    )
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    port = args.port if args.port is not None else default_port(PORT_ENV, DEFAULT_PORT)
    state = State(args.state_dir.absolute())
    if args.command == "serve":
        serve(port)
        return 0
    if args.command == "up":
        return cmd_up(state, port, args.timeout)
    if args.command == "down":
        return cmd_down(state, args.grace)
    if args.command == "status":
        return cmd_status(state)
    return cmd_clean(state, args.grace)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    return run_command("local_aws.py", args.command, lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
