"""Pinned artifacts (module_utils/artifacts.py): the versions table, the mirror, the HTTPS path.

The table is checked against the shared mirror (../shared/mirror, the files SOURCES.md lists
by address and sha256): every entry is there, hashes to its pin and parses to its CRD. The
HTTPS path runs against a stand-in for ``open_url``: these machines reach no code host.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import socket
from urllib.error import HTTPError, URLError

import pytest

from ansible_collections.mlops.platform.plugins.module_utils import artifacts
from ansible_collections.mlops.platform.plugins.module_utils.artifacts import (
    ARTIFACTS,
    ArtifactError,
    ArtifactSource,
    crds,
    mirror_path,
    validate_table,
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MIRROR = os.path.join(os.path.dirname(ROOT), "shared", "mirror")
SOURCES = os.path.join(MIRROR, "SOURCES.md")

needs_mirror = pytest.mark.skipif(not os.path.isdir(MIRROR), reason="no shared mirror at %s" % MIRROR)

CRD = (b"apiVersion: apiextensions.k8s.io/v1\n"
       b"kind: CustomResourceDefinition\n"
       b"metadata:\n  name: widgets.example.com\n")
URL = "https://example.com/widgets/v1.0.0/crd.yaml"


def entry_for(data, url=URL):
    return {"upstream": "widgets", "version": "v1.0.0", "url": url, "sha256": hashlib.sha256(data).hexdigest()}


def sources_table():
    """SOURCES.md's address table, as {url: sha256}."""
    with open(SOURCES) as handle:
        return dict(re.findall(r"^\| (https://\S+) \| ([0-9a-f]{64}) \|$", handle.read(), re.MULTILINE))


class FakeResponse:
    def __init__(self, data):
        self.data = data
        self.closed = False

    def read(self):
        return self.data

    def close(self):
        self.closed = True


class Calls(list):
    """The calls made to the stand-in ``open_url``; ``answers`` is what it serves."""

    def __init__(self):
        super().__init__()
        self.answers = {}


@pytest.fixture
def served(monkeypatch):
    """``open_url`` answering from a dict {url: bytes or exception}; returns the list of calls."""
    calls = Calls()
    answers = calls.answers

    def fake_open_url(url, **kwargs):
        calls.append((url, kwargs))
        answer = answers[url]
        if isinstance(answer, BaseException):
            raise answer
        return FakeResponse(answer)

    monkeypatch.setattr(artifacts, "open_url", fake_open_url)
    return calls


# The table


def test_the_table_validates():
    assert validate_table(ARTIFACTS) == []
    assert len(ARTIFACTS) == 16


def test_names_follow_upstream_kind_plural():
    for name, entry in ARTIFACTS.items():
        upstream, kind, _what = name.split(".")
        assert upstream == entry["upstream"]
        assert kind == "crd"


@needs_mirror
def test_the_table_is_exactly_what_sources_md_lists():
    assert {entry["url"]: entry["sha256"] for entry in ARTIFACTS.values()} == sources_table()


def test_crds_groups_an_upstream():
    assert crds("external_secrets") == [
        "external_secrets.crd.clustersecretstores",
        "external_secrets.crd.externalsecrets",
        "external_secrets.crd.secretstores",
    ]
    assert crds("kubeflow_trainer") == [
        "kubeflow_trainer.crd.clustertrainingruntimes",
        "kubeflow_trainer.crd.trainingruntimes",
        "kubeflow_trainer.crd.trainjobs",
    ]
    assert crds("kubeflow_trainer_v1") == ["kubeflow_trainer_v1.crd.pytorchjobs"]
    assert len(crds("kubeflow_pipelines")) == 4
    assert sorted(sum((crds(upstream) for upstream in artifacts.upstreams()), [])) == sorted(ARTIFACTS)


def test_crds_of_an_unknown_upstream_is_an_error_not_an_empty_list():
    with pytest.raises(ValueError, match=r"no CRDs for upstream 'externalsecrets'; known upstreams: argocd, "):
        crds("externalsecrets")


def test_validate_table_names_each_fault():
    good = dict(ARTIFACTS["argocd.crd.applications"])
    url = good["url"]
    table = [
        ("argocd.crd.applications", good),
        ("argocd.crd.applications", dict(good, url=url.replace("https://", "http://"))),
        ("argocd.crd.other", dict(good, sha256=good["sha256"].upper())),
        ("argocd.crd.query", dict(good, url=url + "?x=1")),
        ("argocd.crd.short", dict(good, sha256="abc", url=url + "2")),
        ("argocd.crd.moved", dict(good, version="v9.9.9", url=url + "3")),
        ("kserve.crd.applications", dict(good, url=url + "4")),
        ("Bad Name", dict(good, url=url + "5")),
        ("argocd.crd.extra", dict(good, url=url + "6", note="x")),
    ]
    assert validate_table(table) == [
        "argocd.crd.applications: name appears more than once",
        "argocd.crd.applications: URL %s is not https" % url.replace("https://", "http://"),
        "argocd.crd.other: URL %s is also argocd.crd.applications" % url,
        "argocd.crd.other: sha256 %r is not 64 lowercase hex digits" % good["sha256"].upper(),
        "argocd.crd.query: URL %s?x=1 has a query or fragment, which a mirror path cannot hold" % url,
        "argocd.crd.short: sha256 'abc' is not 64 lowercase hex digits",
        "argocd.crd.moved: URL %s3 does not hold its version 'v9.9.9'" % url,
        "kserve.crd.applications: name does not start with its upstream 'argocd'",
        "Bad Name: name is not <upstream>.<kind>.<what> (lowercase, digits, _)",
        "argocd.crd.extra: keys are note, sha256, upstream, url, version, expected upstream, version, url, sha256",
    ]


# The shared mirror


@needs_mirror
@pytest.mark.parametrize("name", sorted(ARTIFACTS))
def test_every_entry_is_in_the_mirror_verified_and_a_crd(name):
    source = ArtifactSource(mirror=MIRROR)
    data = source.fetch(name)
    assert hashlib.sha256(data).hexdigest() == ARTIFACTS[name]["sha256"]
    documents = source.documents(name)
    assert len(documents) == 1
    crd = documents[0]
    assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
    assert crd["kind"] == "CustomResourceDefinition"
    assert crd["spec"]["names"]["plural"] == name.split(".")[2]
    assert crd["metadata"]["name"] == "%s.%s" % (crd["spec"]["names"]["plural"], crd["spec"]["group"])


def test_mirror_path_is_host_then_path(tmp_path):
    assert mirror_path(str(tmp_path), "https://example.com/a/b/c.yaml") == os.path.join(
        str(tmp_path), "example.com", "a", "b", "c.yaml")
    with pytest.raises(ArtifactError, match=r"URL https://example.com/a/\.\./c.yaml has a path that does not map"):
        mirror_path(str(tmp_path), "https://example.com/a/../c.yaml")


def test_a_mirror_directory_that_does_not_exist_is_refused_at_once(tmp_path):
    missing = str(tmp_path / "no-such-mirror")
    with pytest.raises(ArtifactError) as error:
        ArtifactSource(mirror=missing)
    assert error.value.message == "artifact mirror directory %s does not exist" % missing
    assert error.value.path == missing


def test_a_file_missing_from_the_mirror_names_the_url_and_the_expected_path(tmp_path):
    source = ArtifactSource(mirror=str(tmp_path))
    with pytest.raises(ArtifactError) as error:
        source.fetch(entry_for(CRD))
    expected_path = os.path.join(str(tmp_path), "example.com", "widgets", "v1.0.0", "crd.yaml")
    assert error.value.message == "artifact %s is not in the mirror: expected the file %s" % (URL, expected_path)
    assert error.value.url == URL


@needs_mirror
def test_a_tampered_mirror_file_is_refused_naming_url_and_both_hashes(tmp_path):
    name = "argocd.crd.applications"
    entry = ARTIFACTS[name]
    original = mirror_path(MIRROR, entry["url"])
    tampered = mirror_path(str(tmp_path), entry["url"])
    os.makedirs(os.path.dirname(tampered))
    shutil.copyfile(original, tampered)
    with open(tampered, "r+b") as handle:
        handle.seek(100)
        byte = handle.read(1)
        handle.seek(100)
        handle.write(bytes([byte[0] ^ 0x01]))
    with open(tampered, "rb") as handle:
        actual = hashlib.sha256(handle.read()).hexdigest()
    assert actual != entry["sha256"]

    source = ArtifactSource(mirror=str(tmp_path))
    with pytest.raises(ArtifactError) as error:
        source.fetch(name)
    assert error.value.message == (
        "artifact %s (mirror file %s): sha256 mismatch, expected %s, got %s; refusing its bytes"
        % (entry["url"], tampered, entry["sha256"], actual))
    assert error.value.url == entry["url"]
    # Nothing unverified was kept: asking again reads and refuses again.
    with pytest.raises(ArtifactError, match="sha256 mismatch"):
        source.documents(name)


@pytest.mark.parametrize("url, problem", [
    ("http://example.com/widgets/v1.0.0/crd.yaml", "is not https"),
    ("ftp://example.com/widgets/v1.0.0/crd.yaml", "is not https"),
    ("https://user@example.com/widgets/v1.0.0/crd.yaml", "has no plain host"),
])
def test_a_url_that_is_not_plain_https_is_refused(served, tmp_path, url, problem):
    for source in (ArtifactSource(), ArtifactSource(mirror=str(tmp_path))):
        with pytest.raises(ArtifactError) as error:
            source.fetch(entry_for(CRD, url=url))
        assert error.value.message == "refusing URL %s %s" % (url, problem)
        assert error.value.url == url
    assert served == []


def test_an_unknown_name_is_refused():
    with pytest.raises(ArtifactError, match=r"unknown artifact 'argocd\.crd\.nope': the versions table has argocd"):
        ArtifactSource().fetch("argocd.crd.nope")


# HTTPS


def test_https_fetch_returns_verified_bytes_once_per_url(served):
    served.answers[URL] = CRD
    source = ArtifactSource(timeout=7, validate_certs=False)
    assert source.fetch(entry_for(CRD)) == CRD
    assert source.fetch(entry_for(CRD)) == CRD
    assert source.documents(entry_for(CRD))[0]["kind"] == "CustomResourceDefinition"
    assert len(served) == 1
    url, kwargs = served[0]
    assert url == URL
    assert kwargs["timeout"] == 7
    assert kwargs["validate_certs"] is False


def test_https_bytes_that_do_not_match_are_refused_and_not_cached(served):
    served.answers[URL] = CRD + b"# tampered\n"
    pinned = entry_for(CRD)
    actual = hashlib.sha256(CRD + b"# tampered\n").hexdigest()
    source = ArtifactSource()
    for attempt in (1, 2):
        with pytest.raises(ArtifactError) as error:
            source.fetch(pinned)
        assert error.value.message == "artifact %s: sha256 mismatch, expected %s, got %s; refusing its bytes" % (
            URL, pinned["sha256"], actual)
        assert len(served) == attempt


def test_a_cached_url_asked_for_with_another_pin_is_refused(served):
    served.answers[URL] = CRD
    source = ArtifactSource()
    source.fetch(entry_for(CRD))
    other = entry_for(b"something else")
    with pytest.raises(ArtifactError, match=r"artifact %s: sha256 mismatch, expected %s, got %s$" % (
            re.escape(URL), other["sha256"], entry_for(CRD)["sha256"])):
        source.fetch(other)
    assert len(served) == 1


@pytest.mark.parametrize("failure, message", [
    (HTTPError(URL, 404, "Not Found", {}, io.BytesIO(b"")), "artifact %s: HTTP 404 Not Found" % URL),
    (URLError("Name or service not known"), "artifact %s: cannot connect: Name or service not known" % URL),
    (socket.timeout("timed out"), "artifact %s: timed out after 30 seconds" % URL),
    (ConnectionResetError("reset by peer"), "artifact %s: download failed: reset by peer" % URL),
    (artifacts.UrlsConnectionError("proxy refused"), "artifact %s: download failed: proxy refused" % URL),
])
def test_https_failures_are_artifact_errors_naming_the_url(served, failure, message):
    served.answers[URL] = failure
    with pytest.raises(ArtifactError) as error:
        ArtifactSource().fetch(entry_for(CRD))
    assert error.value.message == message
    assert error.value.url == URL


def test_nothing_is_fetched_at_construction(served):
    ArtifactSource()
    assert served == []


# YAML documents


@pytest.mark.parametrize("data, message", [
    (CRD + b"---\n- a\n- list\n", "document 2 is a list, not a mapping"),
    (b"---\n---\n" + CRD + b"---\nkind: Widget\n", "document 3 has no apiVersion"),
    (b"apiVersion: v1\nkind: ''\n", "document 1 has no kind"),
    (b"just a string\n", "document 1 is a str, not a mapping"),
    (b"a: [unclosed\n", "is not valid YAML"),
])
def test_a_document_that_is_not_a_kubernetes_object_is_refused_with_url_and_index(served, data, message):
    served.answers[URL] = data
    with pytest.raises(ArtifactError) as error:
        ArtifactSource().documents(entry_for(data))
    assert error.value.message.startswith("artifact %s" % URL)
    assert message in error.value.message
    assert error.value.url == URL


def test_empty_documents_are_skipped(served):
    data = b"---\n---\n" + CRD + b"---\n\n...\n---\n" + CRD.replace(b"widgets", b"gadgets")
    served.answers[URL] = data
    documents = ArtifactSource().documents(entry_for(data))
    assert [d["metadata"]["name"] for d in documents] == ["widgets.example.com", "gadgets.example.com"]
