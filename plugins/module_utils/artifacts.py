# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Pinned upstream artifacts: one versions table, fetched over HTTPS or from a mirror, verified.

No upstream file is copied into this repository. :data:`ARTIFACTS` names each upstream
artifact the engine uses by the HTTPS address it is published at and the sha256 of its
bytes. Names follow ``<upstream>.<kind>.<what>``: ``upstream`` is the entry's own
``upstream`` field (``external_secrets``, ``kserve``, ...), ``kind`` says what the file is
(``crd``), ``what`` is the CRD's plural resource name, as in ``spec.names.plural``
(``external_secrets.crd.externalsecrets``). ``version`` is the upstream's release tag as it
appears in the URL. :func:`crds` lists the CRDs of one upstream, so all of External Secrets'
are asked for at once.

:class:`ArtifactSource` fetches an artifact over HTTPS (``ansible.module_utils.urls``), or,
for air-gapped sites, reads it from a mirror directory laid out by address:
``<mirror>/<host>/<path>`` holds ``https://<host>/<path>`` (``../shared/mirror`` is one).
Either way the bytes are hashed before anything else looks at them: no byte that fails its
sha256 is ever returned, parsed or cached. Verified bytes are kept in memory per URL, so one
run fetches each artifact once. Nothing is fetched at import.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import http.client
import os
import re
import socket

from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit

from ansible.module_utils.urls import ConnectionError as UrlsConnectionError
from ansible.module_utils.urls import open_url

try:
    import yaml
    HAS_YAML = True
    try:
        _YAML_LOADER = yaml.CSafeLoader  # libyaml: CRDs run to megabytes
    except AttributeError:
        _YAML_LOADER = yaml.SafeLoader
except ImportError:
    HAS_YAML = False
    _YAML_LOADER = None

_RAW = "https://raw.githubusercontent.com/"

ARTIFACTS = {
    "external_secrets.crd.externalsecrets": {
        "upstream": "external_secrets",
        "version": "v2.9.0",
        "url": _RAW + "external-secrets/external-secrets/v2.9.0/"
                      "config/crds/bases/external-secrets.io_externalsecrets.yaml",
        "sha256": "5044be5a610ca90a075f34f03ed20b462695c43387ba9410db7f4250e47b1e2f",
    },
    "external_secrets.crd.secretstores": {
        "upstream": "external_secrets",
        "version": "v2.9.0",
        "url": _RAW + "external-secrets/external-secrets/v2.9.0/"
                      "config/crds/bases/external-secrets.io_secretstores.yaml",
        "sha256": "7f750858d393913915a2f15daff9e1d2f56ca207c09920c055d7a68cceacb641",
    },
    "external_secrets.crd.clustersecretstores": {
        "upstream": "external_secrets",
        "version": "v2.9.0",
        "url": _RAW + "external-secrets/external-secrets/v2.9.0/"
                      "config/crds/bases/external-secrets.io_clustersecretstores.yaml",
        "sha256": "f847c69ae317a76527fc37c163ddfe15d9026e14eb47dd325319e914e0433c2a",
    },
    "argocd.crd.applications": {
        "upstream": "argocd",
        "version": "v3.5.1",
        "url": _RAW + "argoproj/argo-cd/v3.5.1/manifests/crds/application-crd.yaml",
        "sha256": "5dde0e229249b6b707beb98674c1deae3949d5c319a6c45b9f5a80c99618e40c",
    },
    "kserve.crd.inferenceservices": {
        "upstream": "kserve",
        "version": "v0.20.0",
        "url": _RAW + "kserve/kserve/v0.20.0/config/crd/full/serving.kserve.io_inferenceservices.yaml",
        "sha256": "57c3bf13f77de94678bf2ae3748056ec071ad2b9e88d6a28f44fb4710758fcff",
    },
    "kserve.crd.servingruntimes": {
        "upstream": "kserve",
        "version": "v0.20.0",
        "url": _RAW + "kserve/kserve/v0.20.0/config/crd/full/serving.kserve.io_servingruntimes.yaml",
        "sha256": "380a3e1e1444cef9b8b88819596692728868205a2147dc66423be469a4a7bbb1",
    },
    "kserve.crd.clusterservingruntimes": {
        "upstream": "kserve",
        "version": "v0.20.0",
        "url": _RAW + "kserve/kserve/v0.20.0/config/crd/full/serving.kserve.io_clusterservingruntimes.yaml",
        "sha256": "c6f6bbb1b4b11afd1e38bd6d7255a8795b86efa2b7d14946ccff9d23592e6846",
    },
    "kubeflow_trainer.crd.trainjobs": {
        "upstream": "kubeflow_trainer",
        "version": "v2.3.0",
        "url": _RAW + "kubeflow/trainer/v2.3.0/manifests/base/crds/trainer.kubeflow.org_trainjobs.yaml",
        "sha256": "a742cafc5b5582640c7e0b7467c024fc237256fbca5ba0a9f0531dfb66d64416",
    },
    "kubeflow_trainer.crd.trainingruntimes": {
        "upstream": "kubeflow_trainer",
        "version": "v2.3.0",
        "url": _RAW + "kubeflow/trainer/v2.3.0/manifests/base/crds/trainer.kubeflow.org_trainingruntimes.yaml",
        "sha256": "69b8dbdf60a18e28cddcc2b8dfc4ce72a943e14b531b9389d593118faee4919f",
    },
    "kubeflow_trainer.crd.clustertrainingruntimes": {
        "upstream": "kubeflow_trainer",
        "version": "v2.3.0",
        "url": _RAW + "kubeflow/trainer/v2.3.0/"
                      "manifests/base/crds/trainer.kubeflow.org_clustertrainingruntimes.yaml",
        "sha256": "ec84dc3388fcdbe8c61d3c247a773d14458dd9438e995bea8e50d2a18080eef9",
    },
    # The v1 line (the former kubeflow/training-operator, renamed kubeflow/trainer): a
    # different controller from Trainer v2, so an upstream of its own.
    "kubeflow_trainer_v1.crd.pytorchjobs": {
        "upstream": "kubeflow_trainer_v1",
        "version": "v1.9.4",
        "url": _RAW + "kubeflow/trainer/v1.9.4/manifests/base/crds/kubeflow.org_pytorchjobs.yaml",
        "sha256": "8b8a8a719cc94173169290251e817f7ac2bb425c20b6c2fa813397bcf4e932ed",
    },
    "feast.crd.featurestores": {
        "upstream": "feast",
        "version": "v0.66.0",
        "url": _RAW + "feast-dev/feast/v0.66.0/infra/feast-operator/config/crd/bases/feast.dev_featurestores.yaml",
        "sha256": "92d0199c330a1b73ec8d51d40ba3f9e3b5e95765d0871d6c7b53f1975049a23e",
    },
    "kubeflow_pipelines.crd.scheduledworkflows": {
        "upstream": "kubeflow_pipelines",
        "version": "2.17.0",
        "url": _RAW + "kubeflow/pipelines/2.17.0/"
                      "manifests/kustomize/base/pipeline/cluster-scoped/scheduled-workflow-crd.yaml",
        "sha256": "92a8e783bcbff77ca857ab6897623420f7145d51060366e7c795fdf35d99586b",
    },
    "kubeflow_pipelines.crd.viewers": {
        "upstream": "kubeflow_pipelines",
        "version": "2.17.0",
        "url": _RAW + "kubeflow/pipelines/2.17.0/manifests/kustomize/base/pipeline/cluster-scoped/viewer-crd.yaml",
        "sha256": "84d649e41228f10c111aecad47842fbd8fb3a5c2d037fbc870890982cfd6c037",
    },
    "kubeflow_pipelines.crd.pipelines": {
        "upstream": "kubeflow_pipelines",
        "version": "2.17.0",
        "url": _RAW + "kubeflow/pipelines/2.17.0/manifests/kustomize/base/crds/pipelines.kubeflow.org_pipelines.yaml",
        "sha256": "3b28965e9f6cf540d27ef59c8c7582e9329116c011089b84499b6f7a52592a41",
    },
    "kubeflow_pipelines.crd.pipelineversions": {
        "upstream": "kubeflow_pipelines",
        "version": "2.17.0",
        "url": _RAW + "kubeflow/pipelines/2.17.0/"
                      "manifests/kustomize/base/crds/pipelines.kubeflow.org_pipelineversions.yaml",
        "sha256": "d769f960b57c72ba5be8786a3345e10083383ef8316d58904a9d627da5ade286",
    },
}

ENTRY_KEYS = ("upstream", "version", "url", "sha256")
NAME_PATTERN = re.compile(r"^([a-z][a-z0-9_]*)\.([a-z][a-z0-9_]*)\.([a-z][a-z0-9_]*)$")
SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")


class ArtifactError(Exception):
    """An artifact that cannot be had, or whose bytes are not the pinned ones.

    ``message`` names the URL (and, for a mirror, the file path); ``url`` and ``path`` are
    set when known.
    """

    def __init__(self, message, url=None, path=None):
        super(ArtifactError, self).__init__(message)
        self.message = message
        self.url = url
        self.path = path


def crds(upstream, table=None):
    """The names of ``upstream``'s CRDs in ``table`` (default :data:`ARTIFACTS`), sorted.

    An upstream the table does not know is a ValueError, not an empty list: a mistyped
    name must not quietly install nothing.
    """
    table = ARTIFACTS if table is None else table
    names = sorted(name for name, entry in table.items()
                   if entry.get("upstream") == upstream and name.split(".")[1:2] == ["crd"])
    if not names:
        raise ValueError("no CRDs for upstream %r; known upstreams: %s" % (upstream, ", ".join(upstreams(table))))
    return names


def upstreams(table=None):
    """The upstreams ``table`` (default :data:`ARTIFACTS`) names, sorted."""
    table = ARTIFACTS if table is None else table
    return sorted(set(entry.get("upstream") for entry in table.values()))


def _url_problem(url):
    """Why ``url`` cannot be a table address (None when it can).

    Only plain HTTPS addresses whose path maps onto a mirror file one-to-one: no userinfo,
    query or fragment, no empty, ``.`` or ``..`` segment, no percent-escape.
    """
    if not isinstance(url, str):
        return "URL %r is not a string" % (url,)
    parts = urlsplit(url)
    if parts.scheme != "https":
        return "URL %s is not https" % url
    if not parts.hostname or "@" in parts.netloc:
        return "URL %s has no plain host" % url
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        return "URL %s has a query or fragment, which a mirror path cannot hold" % url
    segments = parts.path.split("/")[1:]
    if not segments or any(s in ("", ".", "..") or "%" in s or "\\" in s for s in segments):
        return "URL %s has a path that does not map to a mirror file" % url
    return None


def mirror_path(mirror, url):
    """The file that holds ``url`` in the mirror directory ``mirror``: ``<mirror>/<host>/<path>``."""
    problem = _url_problem(url)
    if problem:
        raise ArtifactError(problem, url=url)
    parts = urlsplit(url)
    return os.path.join(mirror, parts.netloc, *parts.path.split("/")[1:])


def validate_table(table):
    """The problems of a versions table, as a list of messages (empty when it is sound).

    ``table`` is a mapping of name to entry, or a sequence of ``(name, entry)`` pairs (so a
    repeated name can be seen). Each entry has exactly ``upstream``, ``version``, ``url``
    and ``sha256``; the name is ``<upstream>.<kind>.<what>`` with the entry's upstream; the
    URL is plain https and holds ``/<version>/``; sha256 is 64 lowercase hex digits; no
    name or URL appears twice.
    """
    pairs = list(table.items()) if isinstance(table, dict) else list(table)
    problems = []
    seen_names = set()
    seen_urls = {}
    for name, entry in pairs:
        if name in seen_names:
            problems.append("%s: name appears more than once" % name)
        seen_names.add(name)
        if not isinstance(entry, dict):
            problems.append("%s: entry is not a mapping" % name)
            continue
        if sorted(entry) != sorted(ENTRY_KEYS):
            problems.append("%s: keys are %s, expected %s" % (name, ", ".join(sorted(entry)), ", ".join(ENTRY_KEYS)))
        match = NAME_PATTERN.match(name) if isinstance(name, str) else None
        if not match:
            problems.append("%s: name is not <upstream>.<kind>.<what> (lowercase, digits, _)" % (name,))
        elif match.group(1) != entry.get("upstream"):
            problems.append("%s: name does not start with its upstream %r" % (name, entry.get("upstream")))
        url = entry.get("url")
        problem = _url_problem(url)
        if problem:
            problems.append("%s: %s" % (name, problem))
        elif not entry.get("version") or "/%s/" % entry.get("version") not in url:
            problems.append("%s: URL %s does not hold its version %r" % (name, url, entry.get("version")))
        if isinstance(url, str):
            if url in seen_urls:
                problems.append("%s: URL %s is also %s" % (name, url, seen_urls[url]))
            seen_urls.setdefault(url, name)
        sha256 = entry.get("sha256")
        if not isinstance(sha256, str) or not SHA256_PATTERN.match(sha256):
            problems.append("%s: sha256 %r is not 64 lowercase hex digits" % (name, sha256))
    return problems


class ArtifactSource:
    """Where artifacts come from: a mirror directory, or HTTPS when ``mirror`` is None.

    Whatever the source, :meth:`fetch` returns only bytes whose sha256 is the pinned one.
    """

    def __init__(self, mirror=None, timeout=30, validate_certs=True):
        if mirror is not None:
            mirror = os.path.expanduser(mirror)
            if not os.path.isdir(mirror):
                raise ArtifactError("artifact mirror directory %s does not exist" % mirror, path=mirror)
        self.mirror = mirror
        self.timeout = timeout
        self.validate_certs = validate_certs
        self._verified = {}  # url -> (sha256, bytes)

    @staticmethod
    def entry(name_or_entry):
        """The table entry of a name, or the entry itself; either checked for url and sha256."""
        if isinstance(name_or_entry, dict):
            entry = name_or_entry
        elif name_or_entry in ARTIFACTS:
            entry = ARTIFACTS[name_or_entry]
        else:
            raise ArtifactError("unknown artifact %r: the versions table has %s"
                                % (name_or_entry, ", ".join(sorted(ARTIFACTS))))
        url = entry.get("url")
        problem = _url_problem(url)
        if problem:
            raise ArtifactError("refusing %s" % problem, url=url if isinstance(url, str) else None)
        sha256 = entry.get("sha256")
        if not isinstance(sha256, str) or not SHA256_PATTERN.match(sha256):
            raise ArtifactError("artifact %s has no valid sha256 (%r) to check it against" % (url, sha256), url=url)
        return entry

    def fetch(self, name_or_entry):
        """The bytes of an artifact (a table name or an entry), verified against its sha256."""
        entry = self.entry(name_or_entry)
        url, expected = entry["url"], entry["sha256"]
        if url in self._verified:
            digest, data = self._verified[url]
            if digest != expected:
                raise ArtifactError("artifact %s: sha256 mismatch, expected %s, got %s"
                                    % (url, expected, digest), url=url)
            return data
        if self.mirror is None:
            data, where, path = self._download(url), "", None
        else:
            path = mirror_path(self.mirror, url)
            data, where = self._read_mirror(url, path), " (mirror file %s)" % path
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected:
            raise ArtifactError("artifact %s%s: sha256 mismatch, expected %s, got %s; refusing its bytes"
                                % (url, where, expected, actual), url=url, path=path)
        self._verified[url] = (actual, data)
        return data

    def documents(self, name_or_entry):
        """The YAML documents of an artifact, each a mapping with apiVersion and kind.

        Empty documents are skipped; a document is reported by its position in the file,
        counting from 1 and including empty ones.
        """
        data = self.fetch(name_or_entry)
        url = self.entry(name_or_entry)["url"]
        if not HAS_YAML:
            raise ArtifactError("artifact %s: PyYAML is needed to read it" % url, url=url)
        result = []
        try:
            for index, document in enumerate(yaml.load_all(data, Loader=_YAML_LOADER), start=1):
                if document is None or document == {}:
                    continue
                if not isinstance(document, dict):
                    raise ArtifactError("artifact %s: document %d is a %s, not a mapping"
                                        % (url, index, type(document).__name__), url=url)
                missing = [key for key in ("apiVersion", "kind")
                           if not isinstance(document.get(key), str) or not document.get(key)]
                if missing:
                    raise ArtifactError("artifact %s: document %d has no %s"
                                        % (url, index, " or ".join(missing)), url=url)
                result.append(document)
        except yaml.YAMLError as error:
            raise ArtifactError("artifact %s is not valid YAML: %s" % (url, error), url=url)
        return result

    def _read_mirror(self, url, path):
        try:
            with open(path, "rb") as handle:
                return handle.read()
        except FileNotFoundError:
            raise ArtifactError("artifact %s is not in the mirror: expected the file %s" % (url, path),
                                url=url, path=path)
        except OSError as error:
            raise ArtifactError("artifact %s: cannot read the mirror file %s: %s" % (url, path, error),
                                url=url, path=path)

    def _download(self, url):
        response = None
        try:
            response = open_url(url, method="GET", timeout=self.timeout, validate_certs=self.validate_certs,
                                follow_redirects="safe")
            return response.read()
        except HTTPError as error:
            raise ArtifactError("artifact %s: HTTP %s %s" % (url, error.code, error.reason), url=url)
        except URLError as error:
            raise ArtifactError("artifact %s: cannot connect: %s" % (url, error.reason), url=url)
        except socket.timeout:
            raise ArtifactError("artifact %s: timed out after %s seconds" % (url, self.timeout), url=url)
        except (UrlsConnectionError, http.client.HTTPException, OSError) as error:
            raise ArtifactError("artifact %s: download failed: %s" % (url, error), url=url)
        finally:
            close = getattr(response, "close", None)
            if close is not None:
                close()
