"""The long AWS waits of a converge overlap: measured, not claimed.

On AWS an EKS cluster takes about ten minutes to become ACTIVE, RDS 5-10 and node groups
3-5. The stand-in makes everything ready at once, so here the fault proxy
(tools/aws_fault_proxy.py, ``settle``) answers "still creating" for some seconds after
each create, as AWS would, and records when each wait began and ended. A converge that
starts the cluster and the database before waiting for either, and starts every node
group before waiting for any, keeps several of them in flight at once: the union of the
wait intervals is well below their sum, and the play's waiting time follows the longest
chain (cluster, then node groups), not the sum of all waits.
"""

import importlib.util
import json
import os
import sys
import time

from conftest import FIGURES_PROPERTY, ROOT, extra_vars, run_playbook, started_stand_in

_spec = importlib.util.spec_from_file_location("aws_fault_proxy", os.path.join(ROOT, "tools", "aws_fault_proxy.py"))
aws_fault_proxy = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("aws_fault_proxy", aws_fault_proxy)
_spec.loader.exec_module(aws_fault_proxy)

CLUSTER, DATABASE, NODES = 30, 30, 20
SETTLE = [
    {"create": "eks:CreateCluster", "describe": "eks:DescribeCluster", "seconds": CLUSTER,
     "ready": b'"status": "ACTIVE"', "pending": b'"status": "CREATING"'},
    {"create": "rds:CreateDBInstance", "describe": "rds:DescribeDBInstances", "seconds": DATABASE,
     "ready": b"<DBInstanceStatus>available</DBInstanceStatus>",
     "pending": b"<DBInstanceStatus>creating</DBInstanceStatus>"},
    {"create": "eks:CreateNodegroup", "describe": "eks:DescribeNodegroup", "seconds": NODES,
     "ready": b'"status": "ACTIVE"', "pending": b'"status": "CREATING"'},
]


def union_length(intervals):
    total, end = 0.0, None
    for start, stop in sorted(intervals):
        if end is None or start > end:
            total += stop - start
            end = stop
        elif stop > end:
            total += stop - end
            end = stop
    return total


def test_cluster_database_and_node_group_waits_overlap(tmp_path, request):
    with started_stand_in(tmp_path / "stand-in") as port:
        with aws_fault_proxy.FaultProxy("http://127.0.0.1:%d" % port, settle=SETTLE) as proxy:
            started = time.monotonic()
            run = run_playbook(proxy.port, *extra_vars({"mlops_build_dir": str(tmp_path / "build")}))
            seconds = time.monotonic() - started
            waits = proxy.stats()["waits"]
    assert run.rc == 0 and run.recap["failed"] == 0, run
    kinds = sorted(wait["create"] for wait in waits)
    assert kinds == ["eks:CreateCluster", "eks:CreateNodegroup", "eks:CreateNodegroup", "rds:CreateDBInstance"], waits
    # Each was seen ready in the end; the cluster and the node groups had to be waited for
    # (answered "creating" at least once). The database may never be seen creating: its
    # wait then passed entirely while the play did other work.
    assert all(wait["first_seen_ready"] for wait in waits), waits
    assert all(wait["pending_answers"] > 0 for wait in waits if wait["create"].startswith("eks:")), waits

    intervals = [(wait["started"], wait["ready_at"]) for wait in waits]
    in_flight_sum = sum(stop - start for start, stop in intervals)
    in_flight_union = union_length(intervals)
    first = min(start for start, unused in intervals)
    waiting = max(wait["first_seen_ready"] for wait in waits) - first
    figures = {"test": "overlap of long waits", "settle_seconds": {"cluster": CLUSTER, "database": DATABASE,
                                                                   "node_group": NODES},
               "sum_of_waits": round(in_flight_sum, 1), "union_of_waits": round(in_flight_union, 1),
               "play_waiting_window": round(waiting, 1), "converge_seconds": round(seconds, 1),
               "database_seen_creating": next(wait["pending_answers"] for wait in waits
                                              if wait["create"] == "rds:CreateDBInstance")}
    request.node.user_properties.append((FIGURES_PROPERTY, json.dumps(figures)))
    print(figures)

    # The database was created while the cluster was: its whole wait hides in the cluster's.
    cluster = next(wait for wait in waits if wait["create"] == "eks:CreateCluster")
    database = next(wait for wait in waits if wait["create"] == "rds:CreateDBInstance")
    assert database["started"] < cluster["ready_at"], waits
    # The two node groups were in flight together.
    groups = sorted((wait for wait in waits if wait["create"] == "eks:CreateNodegroup"), key=lambda w: w["started"])
    assert groups[1]["started"] < groups[0]["ready_at"], waits
    # Run one after another the waits would take their sum; overlapped, about the longest
    # chain (cluster, then node groups).
    assert in_flight_union < 0.7 * in_flight_sum, figures
    assert in_flight_union < CLUSTER + DATABASE + NODES, figures
