# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment:
    # The options every platform component module shares (module_utils/kube_component.py,
    # kube_argument_spec): how the cluster is reached, and how the engine applies.
    DOCUMENTATION = r"""
options:
  environment:
    description:
      - Name of the environment.
    type: str
    required: true
  eks:
    description:
      - The EKS cluster to reach, as the eks module's outputs give it; every request carries an EKS token signed
        with the module's AWS credentials (and O(assume_role)), made in-process as C(aws eks get-token) makes it.
      - Ignored when O(kubeconfig) or O(context) is given.
    type: dict
    suboptions:
      name:
        description: The cluster's name.
        type: str
        required: true
      endpoint:
        description: The cluster's API server URL.
        type: str
        required: true
      certificate_authority_data:
        description: The base64 PEM of the cluster's CA (DescribeCluster's C(certificateAuthority.data)).
        type: str
        required: true
  kubeconfig:
    description:
      - A kubeconfig file. Without O(eks), O(kubeconfig) and O(context), the C(K8S_AUTH_*) variables (as AWX's
        Kubernetes credential injects them) or the default kubeconfig are used.
    type: path
  context:
    description:
      - A context of O(kubeconfig) (or of the default kubeconfig).
    type: str
  render_dir:
    description:
      - Write the objects to C(<render_dir>/<component>/*.yaml), with a C(kustomization.yaml), instead of applying
        them (GitOps). The files are byte-stable from run to run; files of an earlier render that are no longer
        wanted are removed. No cluster is reached.
    type: path
  gitops:
    description:
      - With O(render_dir), also write an Argo CD Application that syncs the rendered component from a Git
        repository, to C(<render_dir>/applications/<component>.yaml), beside a kustomization of every
        component's Application (an app-of-apps).
    type: dict
    suboptions:
      repo_url:
        description: The Git repository the rendered directory is committed to (C(https://), C(ssh://) or C(git@)).
        type: str
        required: true
      revision:
        description: The branch, tag or commit Argo CD syncs.
        type: str
        default: HEAD
      path:
        description: The path of O(render_dir) inside the repository; the component's files are under
          C(<path>/<component>).
        type: str
        required: true
      project:
        description: The Argo CD project of the Application.
        type: str
        default: default
      namespace:
        description: The namespace Argo CD watches for Applications.
        type: str
        default: argocd
  mirror:
    description:
      - A directory laid out as C(<mirror>/<host>/<path>) holding the pinned upstream files, for sites that reach
        no code host. Without it they are fetched over HTTPS. Either way a file whose sha256 is not the pinned one
        is refused, with its URL.
    type: path
  wait:
    description:
      - Wait until the objects are ready (Deployments available, StatefulSets and DaemonSets ready, Jobs complete,
        CRDs established). A timeout names each object that is not ready and why.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait, for all objects together.
    type: int
    default: 600
  force_conflicts:
    description:
      - Take over fields that another declarative field manager (a server-side apply by Argo CD or
        C(kubectl apply --server-side)) owns, instead of failing with the fields and the manager's name.
      - Fields changed imperatively (C(kubectl edit), C(kubectl scale)) are drift and are always set back, with a
        warning.
    type: bool
    default: false
  prune_data:
    description:
      - Also delete the Namespaces, PersistentVolumeClaims, PersistentVolumes and CRDs the component no longer
        wants; their contents go with them. Without it they are kept, with a warning.
    type: bool
    default: false
  adopt:
    description:
      - Take over objects that exist but were not made by this component, instead of failing.
    type: bool
    default: false
"""
