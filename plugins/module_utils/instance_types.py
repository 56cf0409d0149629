# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The EC2 instance types the platform's node groups use, in one table.

One row per type: vCPUs, memory (MiB), GPUs (count, model, memory per GPU in GiB) and
the maximum number of pods EKS lets the node run. The first figures are the EC2
specifications (EC2 user guide, "Amazon EC2 instance types": general purpose, compute
optimized, memory optimized, accelerated computing). Max pods is the ENI-based figure
EKS-optimized AMIs configure the kubelet with (amazon-eks-ami,
templates/shared/runtime/eni-max-pods.txt: ENIs * (IPv4 addresses per ENI - 1) + 2; for
multi-card types such as p5.48xlarge only network card 0 counts).

Used by validation (does a GPU workload fit the node group's instance type?) and by the
local environment, which registers a node group's nodes as fake nodes shaped like the real
ones (plugins/module_utils/fake_nodes.py).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections import namedtuple

InstanceType = namedtuple(
    "InstanceType", ["name", "vcpus", "memory_mib", "gpus", "gpu_model", "gpu_memory_gib", "max_pods"])

_GIB = 1024

# name: (vCPUs, memory GiB, GPUs, GPU model, GPU memory GiB per GPU, max pods)
_TABLE = {
    # General purpose
    "m5.large": (2, 8, 0, None, 0, 29),
    "m5.xlarge": (4, 16, 0, None, 0, 58),
    "m5.2xlarge": (8, 32, 0, None, 0, 58),
    "m5.4xlarge": (16, 64, 0, None, 0, 234),
    "m6i.large": (2, 8, 0, None, 0, 29),
    "m6i.xlarge": (4, 16, 0, None, 0, 58),
    "m6i.2xlarge": (8, 32, 0, None, 0, 58),
    "m6i.4xlarge": (16, 64, 0, None, 0, 234),
    "m7i.large": (2, 8, 0, None, 0, 29),
    "m7i.xlarge": (4, 16, 0, None, 0, 58),
    "m7i.2xlarge": (8, 32, 0, None, 0, 58),
    "m7i.4xlarge": (16, 64, 0, None, 0, 234),
    "t3.medium": (2, 4, 0, None, 0, 17),
    "t3.large": (2, 8, 0, None, 0, 35),
    # Compute optimized
    "c5.large": (2, 4, 0, None, 0, 29),
    "c5.xlarge": (4, 8, 0, None, 0, 58),
    "c5.2xlarge": (8, 16, 0, None, 0, 58),
    "c5.4xlarge": (16, 32, 0, None, 0, 234),
    "c6i.large": (2, 4, 0, None, 0, 29),
    "c6i.xlarge": (4, 8, 0, None, 0, 58),
    "c6i.2xlarge": (8, 16, 0, None, 0, 58),
    "c6i.4xlarge": (16, 32, 0, None, 0, 234),
    # Memory optimized
    "r5.large": (2, 16, 0, None, 0, 29),
    "r5.xlarge": (4, 32, 0, None, 0, 58),
    "r5.2xlarge": (8, 64, 0, None, 0, 58),
    "r5.4xlarge": (16, 128, 0, None, 0, 234),
    # Accelerated computing: NVIDIA A10G (24 GiB)
    "g5.xlarge": (4, 16, 1, "A10G", 24, 58),
    "g5.2xlarge": (8, 32, 1, "A10G", 24, 58),
    "g5.4xlarge": (16, 64, 1, "A10G", 24, 234),
    "g5.8xlarge": (32, 128, 1, "A10G", 24, 234),
    "g5.12xlarge": (48, 192, 4, "A10G", 24, 737),
    "g5.16xlarge": (64, 256, 1, "A10G", 24, 234),
    "g5.24xlarge": (96, 384, 4, "A10G", 24, 737),
    "g5.48xlarge": (192, 768, 8, "A10G", 24, 345),
    # NVIDIA L4 (24 GiB)
    "g6.xlarge": (4, 16, 1, "L4", 24, 58),
    "g6.2xlarge": (8, 32, 1, "L4", 24, 58),
    "g6.4xlarge": (16, 64, 1, "L4", 24, 234),
    "g6.8xlarge": (32, 128, 1, "L4", 24, 234),
    "g6.12xlarge": (48, 192, 4, "L4", 24, 234),
    "g6.16xlarge": (64, 256, 1, "L4", 24, 737),
    "g6.24xlarge": (96, 384, 4, "L4", 24, 737),
    "g6.48xlarge": (192, 768, 8, "L4", 24, 737),
    # NVIDIA L40S (48 GiB)
    "g6e.xlarge": (4, 32, 1, "L40S", 48, 58),
    "g6e.2xlarge": (8, 64, 1, "L40S", 48, 58),
    "g6e.4xlarge": (16, 128, 1, "L40S", 48, 234),
    "g6e.8xlarge": (32, 256, 1, "L40S", 48, 234),
    "g6e.12xlarge": (48, 384, 4, "L40S", 48, 292),
    "g6e.16xlarge": (64, 512, 1, "L40S", 48, 737),
    "g6e.24xlarge": (96, 768, 4, "L40S", 48, 492),
    "g6e.48xlarge": (192, 1536, 8, "L40S", 48, 492),
    # NVIDIA A100 (40 GiB) and H100 (80 GiB)
    "p4d.24xlarge": (96, 1152, 8, "A100", 40, 737),
    "p5.48xlarge": (192, 2048, 8, "H100", 80, 100),
}

INSTANCE_TYPES = dict(
    (name, InstanceType(name, vcpus, memory_gib * _GIB, gpus, gpu_model, gpu_memory_gib, max_pods))
    for name, (vcpus, memory_gib, gpus, gpu_model, gpu_memory_gib, max_pods) in _TABLE.items()
)


class UnknownInstanceType(ValueError):
    """An instance type this table does not describe."""


def instance_type(name):
    """The InstanceType row for ``name``; UnknownInstanceType names the known ones."""
    try:
        return INSTANCE_TYPES[name]
    except (KeyError, TypeError):
        raise UnknownInstanceType(
            "%r is not a known instance type; known: %s" % (name, ", ".join(sorted(INSTANCE_TYPES))))


def gpu_instance_types():
    """Names of the types that carry NVIDIA GPUs, sorted."""
    return sorted(name for name, row in INSTANCE_TYPES.items() if row.gpus)
