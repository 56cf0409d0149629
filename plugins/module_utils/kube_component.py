# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every platform component module shares: how it reaches the cluster, and one call
that applies (or plans, or renders) its objects through the engine and reports the result
the same way for every component.

A platform component module is an ``MlopsAWSModule`` (the EKS token is signed with the
module's own AWS credentials and ``assume_role``), whose argument spec is
:func:`kube_argument_spec` plus its own options, and whose ``main()`` renders its objects
(pure code in its module_utils) and calls :func:`converge`.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

from ansible_collections.mlops.platform.plugins.module_utils import kube_engine
from ansible_collections.mlops.platform.plugins.module_utils.artifacts import ArtifactError, ArtifactSource
from ansible_collections.mlops.platform.plugins.module_utils.kube_client import ClusterAccessError, api_client

DEFAULT_WAIT_TIMEOUT = 600


def kube_argument_spec(**extra):
    """Options of every platform component module (see the doc fragment in each module)."""
    spec = dict(
        environment=dict(type="str", required=True),
        config=dict(type="dict", default={}),
        eks=dict(type="dict", options=dict(
            name=dict(type="str", required=True),
            endpoint=dict(type="str", required=True),
            certificate_authority_data=dict(type="str", required=True),
        )),
        kubeconfig=dict(type="path"),
        context=dict(type="str"),
        render_dir=dict(type="path"),
        gitops=dict(type="dict", options=dict(
            repo_url=dict(type="str", required=True),
            revision=dict(type="str", default="HEAD"),
            path=dict(type="str", required=True),
            project=dict(type="str", default="default"),
            namespace=dict(type="str", default="argocd"),
        )),
        mirror=dict(type="path"),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=DEFAULT_WAIT_TIMEOUT),
        force_conflicts=dict(type="bool", default=False),
        prune_data=dict(type="bool", default=False),
        adopt=dict(type="bool", default=False),
    )
    spec.update(extra)
    return spec


def artifact_source(module):
    """The pinned-artifact source of the run: the mirror directory when given, else HTTPS.
    A mirror that does not exist fails the module, naming it, before anything is applied."""
    try:
        return ArtifactSource(mirror=module.params.get("mirror"))
    except ArtifactError as e:
        module.fail_json(msg=e.message)


def documents(module, source, names):
    """The YAML documents of the pinned artifacts ``names``; a failed fetch or check fails the
    module with the artifact's URL."""
    result = []
    for name in names:
        try:
            result.extend(source.documents(name))
        except ArtifactError as e:
            module.fail_json(msg=e.message, url=e.url)
    return result


def _client(module):
    params = module.params
    eks = params.get("eks")
    try:
        if eks and not (params.get("kubeconfig") or params.get("context")):
            return api_client(eks=eks, session=module, region=module.region)
        return api_client(kubeconfig=params.get("kubeconfig"), context=params.get("context"))
    except ClusterAccessError as e:
        module.fail_json(msg=e.message)


GIT_URL = re.compile(r"^(https://|ssh://|git@)[^\s]+$")


def application_of(module, component):
    """The Argo CD Application that syncs a rendered component from O(gitops), or None."""
    gitops = module.params.get("gitops")
    if not gitops:
        return None
    if not GIT_URL.match(gitops["repo_url"]):
        module.fail_json(msg="gitops.repo_url: %r is not a Git URL (https://, ssh:// or git@)" % gitops["repo_url"])
    if gitops["path"].startswith("/") or ".." in gitops["path"].split("/"):
        module.fail_json(msg="gitops.path: %r must be a path inside the repository" % gitops["path"])
    return {"name": component.replace("_", "-"), "namespace": gitops["namespace"], "project": gitops["project"],
            "repo_url": gitops["repo_url"], "revision": gitops["revision"],
            "path": "%s/%s" % (gitops["path"].rstrip("/"), component)}


def converge(module, component, inventory_namespace, objects, facts=None, aws_changes=None):
    """Apply ``objects`` as ``component``'s whole desired state (or plan it in check mode, or
    render it with ``render_dir``), wait for them unless told not to, and exit the module.

    ``aws_changes``: the ``{before, after}`` diffs of what the module changed in AWS before
    (a generated secret), reported with the cluster's changes.

    The result carries ``created``, ``updated``, ``deleted``, ``kept`` (refs), ``requests``
    and one ``diff`` entry per changed object; warnings (drift set back, objects kept) go to
    the user; ``facts`` are returned as the module's facts and outputs. Any refusal fails the
    module with the object it is about; no traceback.
    """
    facts = facts or {}
    params = module.params
    result = {}
    try:
        if params.get("render_dir"):
            rendered = kube_engine.render(component, inventory_namespace, objects,
                                          os.path.join(params["render_dir"], component),
                                          application=application_of(module, component),
                                          check_mode=module.check_mode)
            module.exit_json(changed=rendered["changed"] or bool(aws_changes), files=rendered["files"],
                             written=rendered["written"], removed=rendered["removed"], ansible_facts=facts,
                             diff=list(aws_changes or []))
        engine = kube_engine.Engine(_client(module), component, inventory_namespace, check_mode=module.check_mode,
                                    force_conflicts=params["force_conflicts"], prune_data=params["prune_data"],
                                    adopt=params["adopt"])
        result = engine.apply(objects, wave_timeout=params["wait_timeout"])
        if params["wait"] and not module.check_mode:
            engine.wait(objects, timeout=params["wait_timeout"])
        result["requests"] = engine.requests
    except kube_engine.KubeError as e:
        module.fail_json(msg=str(e))
    for warning in result.pop("warnings"):
        module.warn(warning)
    if aws_changes:
        result["changed"] = True
        result["diff"] = list(aws_changes) + result["diff"]
    result.update(ansible_facts=facts)
    module.exit_json(**result)
