# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who in the cluster gets which AWS identity: the one table of workload identities.

Each platform workload that calls AWS runs as one Kubernetes service account, and that
service account, alone, may take one IAM role of the environment. This table names, per
identity, the namespace and service account (the platform components' manifests reuse
these names, so the role's trust and the pod can never disagree), what turns it on, and
what it may touch: lake zones it reads or writes, whether it reads its own Secrets
Manager secrets, and AWS-managed policies it needs.

Pure data and one small function: no API calls, no imports beyond the standard library, so
the configuration schema and naming can import it. The workload_identity component's logic,
from this table to IAM, is in workload_identity.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections import namedtuple

IDENTITY_KINDS = ["irsa", "pod_identity"]
DEFAULT_KIND = "irsa"

Identity = namedtuple("Identity", [
    "name",             # the identity's name: config key, role name suffix, output key
    "namespace",        # default namespace of its service account
    "service_account",  # default service account name
    "enabled_by",       # (group, component) whose toggle turns it on; None: any platform component
    "read_zones",       # lake zones it may read
    "write_zones",      # lake zones it may read and write
    "own_secrets",      # may read the Secrets Manager secrets under <name_prefix>/<name>/
    "all_secrets",      # may read every secret of the environment (<name_prefix>/*): External Secrets
    "managed_policies",  # AWS-managed policy names (arn:<partition>:iam::aws:policy/<name>)
])

IDENTITIES = dict((identity.name, identity) for identity in [
    Identity("ebs_csi_driver", "kube-system", "ebs-csi-controller-sa", ("mlops_infrastructure", "eks"),
             (), (), False, False, ("service-role/AmazonEBSCSIDriverPolicy",)),
    Identity("external_secrets", "external-secrets", "external-secrets", None,
             (), (), False, True, ()),
    Identity("mlflow", "mlflow", "mlflow", ("mlops_ml_platform", "mlflow"),
             (), ("artifacts", "models"), True, False, ()),
    Identity("feast", "feast", "feast", ("mlops_ml_platform", "feast"),
             ("raw", "processed"), ("features",), True, False, ()),
    Identity("kubeflow", "kubeflow", "pipeline-runner", ("mlops_pipelines", "kubeflow"),
             ("raw", "features"), ("processed", "artifacts", "models"), True, False, ()),
    Identity("kserve", "kserve-models", "kserve-models", ("mlops_serving", "kserve"),
             ("models",), (), False, False, ()),
    Identity("vllm", "vllm", "vllm", ("mlops_serving", "vllm"),
             ("models",), (), True, False, ()),
])

# Components whose presence turns on the identities with enabled_by None (the platform base).
PLATFORM_COMPONENTS = [
    ("mlops_ml_platform", "mlflow"),
    ("mlops_ml_platform", "feast"),
    ("mlops_pipelines", "kubeflow"),
    ("mlops_serving", "kserve"),
    ("mlops_serving", "vllm"),
]


def wanted_identities(enabled):
    """Names of the identities the environment needs, sorted.

    ``enabled(group, component)`` answers whether a component is enabled.
    """
    platform = any(enabled(group, component) for group, component in PLATFORM_COMPONENTS)
    names = []
    for identity in IDENTITIES.values():
        if identity.enabled_by is None:
            if platform:
                names.append(identity.name)
        elif enabled(*identity.enabled_by):
            names.append(identity.name)
    return sorted(names)
