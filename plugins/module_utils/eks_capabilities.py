# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the EKS endpoint in use can do, learnt in one place.

Real EKS answers every API the platform uses. The local stand-in (moto) lacks several of
them (managed add-ons, access entries, pod identity associations, version updates) and
answers them with HTTP 404 ``Not yet implemented``. Rather than
``if local`` branches, the modules ask :class:`EksCapabilities` whether a feature is
served, and skip (with a warning that says what was skipped) what is not. The probe is a
cheap read per feature, made once per run and only when the feature is needed.

A missing feature is told apart from a missing resource: EKS answers an unknown cluster
with ``ResourceNotFoundException`` (the feature exists), an unimplemented operation with
a bare ``404``/``UnknownOperationException``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

try:
    import botocore
except ImportError:  # pragma: no cover - boto3 is a hard requirement of the collection
    pass

# Error codes with which an endpoint says it does not implement an operation.
UNSUPPORTED_CODES = ("404", "NotImplemented", "UnknownOperationException", "InvalidAction")

# A cheap read per feature; ``{cluster}`` is replaced by the cluster's name (the operation
# may answer ResourceNotFoundException before the cluster exists, which means "supported").
PROBES = {
    "addons": ("describe_addon_versions", {"maxResults": 1}),
    "access_entries": ("list_access_entries", {"clusterName": "{cluster}", "maxResults": 1}),
    "pod_identity": ("list_pod_identity_associations", {"clusterName": "{cluster}", "maxResults": 1}),
    "update_cluster_version": ("list_updates", {"name": "{cluster}", "maxResults": 1}),
}

DESCRIPTIONS = {
    "addons": "managed add-ons",
    "access_entries": "access entries",
    "pod_identity": "EKS Pod Identity associations",
    "update_cluster_version": "cluster updates",
}


class EksCapabilities:
    """Lazily probed, cached answers to "does this EKS endpoint serve X?".

    ``eks`` is an EKS client wrapped with ``aws.AWS_RETRY`` (``module.client("eks",
    retry_decorator=AWS_RETRY)``).
    """

    def __init__(self, eks, cluster_name):
        self.eks = eks
        self.cluster_name = cluster_name
        self.known = {}

    def supports(self, feature):
        """True when the endpoint serves ``feature`` (a key of :data:`PROBES`)."""
        if feature not in self.known:
            operation, params = PROBES[feature]
            params = dict((key, value.format(cluster=self.cluster_name) if isinstance(value, str) else value)
                          for key, value in params.items())
            try:
                getattr(self.eks, operation)(aws_retry=True, **params)
                self.known[feature] = True
            except botocore.exceptions.ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code in UNSUPPORTED_CODES:
                    self.known[feature] = False
                elif code == "ResourceNotFoundException":
                    self.known[feature] = True
                else:
                    raise
        return self.known[feature]

    def unsupported(self, *features):
        """Descriptions of the features among ``features`` the endpoint does not serve."""
        return [DESCRIPTIONS[feature] for feature in features if not self.supports(feature)]
