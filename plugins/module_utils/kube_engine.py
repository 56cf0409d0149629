# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Kubernetes engine every platform component uses: apply, plan, prune, wait, render.

A component renders its objects (plain dicts, pure code in its own module_utils) and hands
them to :class:`Engine`, which, on the kubernetes client's dynamic client:

* applies them with **server-side apply** under one field manager (``mlops.platform``), in
  dependency order: Namespaces and CustomResourceDefinitions first, then, once every CRD is
  Established, the rest in the order of :data:`KIND_ORDER` (custom resources last), wave by
  wave where objects carry Argo CD's sync-wave annotation (a migration Job, waited for,
  before the Deployment that needs it; the same order Argo CD follows with a render);
* in **check mode** asks the API server what it would do (``dryRun=All``) and reports a
  ``{before, after}`` diff per object, projected onto the fields this field manager owns
  (so server-set defaults, ``status`` and ``managedFields`` never show);
* **prunes** the objects it applied for the component earlier that are no longer desired.
  The bookkeeping follows the ApplySet convention (KEP-3659, as ``kubectl apply --applyset``):
  each object is labelled ``applyset.kubernetes.io/part-of: <id>`` and a parent ConfigMap
  records the kinds and namespaces the set spans, so a component turned off entirely is
  still pruned, with one LIST per kind. Data-bearing kinds (:data:`DATA_KINDS`) are deleted
  only when the caller says so;
* **waits** for readiness per kind (Deployment available, StatefulSet and DaemonSet ready,
  Job complete, CRD established) through watches, and on timeout says what is not ready
  and why (the pods' conditions, waiting containers, the latest warning events);
* **renders** instead of applying: the same objects, byte-stable, into
  ``<dir>/<component>/*.yaml`` with a kustomization, and an Argo CD Application per
  component, for teams that deliver through GitOps.

Conflicts: a field another *declarative* manager owns (another server-side apply: Argo
CD, ``kubectl apply --server-side``) is reported with the fields and the manager, and taken
over only with ``force_conflicts``. A field changed imperatively (``kubectl edit``,
``kubectl scale``: an ``Update`` manager) is drift, and is put back, with a warning.

Ownership: an object that exists without this field manager's earlier apply or the
component's ApplySet label was not made by us, and is never adopted silently: it is
refused, unless ``adopt`` is set.

Cost: a re-run with nothing to change makes no write and reads one LIST per kind, plus
a GET for each desired object the LISTs do not hold (so, none on a no-op): an object is
known to be unchanged when the live one holds every field and value of the desired one,
whose annotation :data:`DIGEST_ANNOTATION` (a digest of the whole desired object) also
catches a field dropped from the desired object.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import copy
import hashlib
import json
import os
import re
import time

from ansible.module_utils.six.moves.urllib.parse import urlparse

from ansible_collections.mlops.platform.plugins.module_utils.schema_engine import deep_merge

try:
    import yaml
    HAS_YAML = True
except ImportError:
    HAS_YAML = False

try:
    from kubernetes import watch as k8s_watch
    from kubernetes.client.rest import ApiException
    from kubernetes.dynamic import DynamicClient
    from kubernetes.dynamic.exceptions import DynamicApiError, ResourceNotFoundError
    from urllib3.exceptions import HTTPError as Urllib3Error
    HAS_KUBERNETES = True
except ImportError:
    HAS_KUBERNETES = False

FIELD_MANAGER = "mlops.platform"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "mlops.platform"
COMPONENT_LABEL = "mlops.platform/component"
DIGEST_ANNOTATION = "mlops.platform/desired-digest"

APPLYSET_PART_OF = "applyset.kubernetes.io/part-of"
APPLYSET_ID = "applyset.kubernetes.io/id"
APPLYSET_TOOLING = "applyset.kubernetes.io/tooling"
APPLYSET_KINDS = "applyset.kubernetes.io/contains-group-kinds"
APPLYSET_NAMESPACES = "applyset.kubernetes.io/additional-namespaces"
TOOLING = "mlops.platform/v1"

# Deleting one of these loses data (a CRD takes every custom resource of its kind with it).
DATA_KINDS = frozenset(["Namespace", "PersistentVolumeClaim", "PersistentVolume", "CustomResourceDefinition"])

# Applied first, and waited for, before anything that may live in them or be of their kind.
FIRST_KINDS = ("Namespace", "CustomResourceDefinition")

# Argo CD's sync waves, honoured the same way when the engine applies: the objects of a wave
# are applied, and those written that have a readiness rule waited for, before the next
# wave (a schema migration Job before the Deployment of the new version). Default 0.
WAVE_ANNOTATION = "argocd.argoproj.io/sync-wave"

# Helm's install order, roughly: what others refer to comes before them.
KIND_ORDER = (
    "Namespace", "CustomResourceDefinition", "PriorityClass", "NetworkPolicy", "ResourceQuota", "LimitRange",
    "PodDisruptionBudget", "ServiceAccount", "Secret", "ConfigMap", "StorageClass", "PersistentVolume",
    "PersistentVolumeClaim", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Service", "DaemonSet",
    "Pod", "ReplicaSet", "Deployment", "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "IngressClass",
    "Ingress", "APIService", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
)

# Metadata the API server owns; never part of a plan.
SERVER_METADATA = ("resourceVersion", "generation", "uid", "creationTimestamp", "managedFields", "selfLink",
                   "deletionTimestamp", "deletionGracePeriodSeconds")

REDACTED = "<redacted>"
# /api, /api/v1, /apis, /apis/<group>, /apis/<group>/<version>, /version, /openapi/...
DISCOVERY_PATH = re.compile(r"^(/api(/[^/]+)?|/apis(/[^/]+){0,2}|/version|/openapi(/.*)?)/?$")


class KubeError(Exception):
    """A refusal or failure, naming the object (``apps/v1 Deployment mlflow/mlflow``)."""

    def __init__(self, message, ref=None):
        super(KubeError, self).__init__(message)
        self.message = message
        self.ref = ref

    def __str__(self):
        return "%s: %s" % (self.ref, self.message) if self.ref else self.message


# --- pure helpers ------------------------------------------------------------------------

def ref(obj):
    """``apps/v1 Deployment ns/name`` (or ``v1 Namespace name``): how messages name an object."""
    metadata = obj.get("metadata") or {}
    name = metadata.get("name")
    if metadata.get("namespace"):
        name = "%s/%s" % (metadata["namespace"], name)
    return "%s %s %s" % (obj.get("apiVersion"), obj.get("kind"), name)


def group_of(api_version):
    return api_version.rpartition("/")[0] if "/" in api_version else ""


def group_kind(obj):
    """``Deployment.apps`` / ``ConfigMap``: the ApplySet spelling of an object's kind."""
    group = group_of(obj["apiVersion"])
    return "%s.%s" % (obj["kind"], group) if group else obj["kind"]


def key(obj):
    metadata = obj.get("metadata") or {}
    return (group_of(obj["apiVersion"]), obj["kind"], metadata.get("namespace") or "", metadata["name"])


def order_index(obj):
    kind = obj["kind"]
    return KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)


def ordered(objects):
    """``objects`` in apply order: by kind (:data:`KIND_ORDER`, unknown kinds last), then name."""
    return sorted(objects, key=lambda obj: (order_index(obj), key(obj)))


def wave(obj):
    """The object's sync wave (:data:`WAVE_ANNOTATION`), 0 when it has none."""
    value = ((obj.get("metadata") or {}).get("annotations") or {}).get(WAVE_ANNOTATION, "0")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise KubeError("annotation %s: %r is not an integer" % (WAVE_ANNOTATION, value), ref(obj))


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def digest(obj):
    """A digest of the desired object as the engine sends it (its own digest annotation aside)."""
    obj = copy.deepcopy(obj)
    metadata = obj.get("metadata") or {}
    metadata.get("annotations", {}).pop(DIGEST_ANNOTATION, None)
    if not metadata.get("annotations", True):
        del metadata["annotations"]
    return hashlib.sha256(canonical(obj).encode("utf-8")).hexdigest()[:32]


def applyset_id(name, namespace, kind="ConfigMap", group=""):
    """The ApplySet id of a parent object (KEP-3659): base64url(sha256(name.namespace.kind.group))."""
    raw = hashlib.sha256(("%s.%s.%s.%s" % (name, namespace, kind, group)).encode("utf-8")).digest()
    return "applyset-%s-v1" % base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decorate(obj, component, applyset):
    """``obj`` as the engine sends it: ownership labels, ApplySet label, digest annotation."""
    obj = copy.deepcopy(obj)
    metadata = obj.setdefault("metadata", {})
    labels = metadata.setdefault("labels", {})
    labels[MANAGED_BY_LABEL] = MANAGED_BY
    labels[COMPONENT_LABEL] = component
    labels[APPLYSET_PART_OF] = applyset
    for field in SERVER_METADATA:
        metadata.pop(field, None)
    obj.pop("status", None)
    value = digest(obj)
    metadata.setdefault("annotations", {})[DIGEST_ANNOTATION] = value
    return obj


def inventory_name(component):
    """The name of a component's ApplySet parent ConfigMap (``platform_base``: ``mlops-platform-platform-base``)."""
    return "mlops-platform-%s" % component.replace("_", "-")


def covers(live, desired):
    """True when ``live`` holds every field and value of ``desired`` (lists: same length, each
    element covered in order). What a no-op apply would leave unchanged, known without asking."""
    if isinstance(desired, dict):
        return isinstance(live, dict) and all(k in live and covers(live[k], v) for k, v in desired.items())
    if isinstance(desired, list):
        return (isinstance(live, list) and len(live) == len(desired)
                and all(covers(a, b) for a, b in zip(live, desired)))
    return live == desired


def validate_object(obj, where):
    """Refuse an object the API server could not place: no apiVersion, kind or name."""
    if not isinstance(obj, dict):
        raise KubeError("%s is not a mapping" % where)
    missing = [field for field in ("apiVersion", "kind") if not obj.get(field)]
    if not (obj.get("metadata") or {}).get("name"):
        missing.append("metadata.name")
    if missing:
        raise KubeError("%s has no %s" % (where, ", ".join(missing)))
    wave(obj)


def owned_fields(obj, manager):
    """The fieldsV1 set (merged over its entries) that ``manager`` holds through Apply on ``obj``."""
    fields = {}
    for entry in (obj.get("metadata") or {}).get("managedFields") or []:
        if entry.get("manager") == manager and entry.get("operation") == "Apply" and not entry.get("subresource"):
            fields = deep_merge(fields, entry.get("fieldsV1") or {})
    return fields


def _list_member(items, selector):
    kind, unused, value = selector.partition(":")
    if kind == "k":
        wanted = json.loads(value)
        for index, item in enumerate(items):
            if isinstance(item, dict) and all(item.get(k) == v for k, v in wanted.items()):
                return index
    elif kind == "v":
        wanted = json.loads(value)
        for index, item in enumerate(items):
            if item == wanted:
                return index
    elif kind == "i":
        index = int(value)
        if index < len(items):
            return index
    return None


def project(value, fields):
    """The part of ``value`` a fieldsV1 set names (a leaf, or an empty set, keeps it whole)."""
    children = dict((k, v) for k, v in (fields or {}).items() if k != ".")
    if not children:
        return copy.deepcopy(value)
    if isinstance(value, dict):
        result = {}
        for selector, sub in children.items():
            if selector.startswith("f:") and selector[2:] in value:
                result[selector[2:]] = project(value[selector[2:]], sub)
        return result
    if isinstance(value, list):
        picked = {}
        for selector, sub in children.items():
            index = _list_member(value, selector)
            if index is not None:
                picked[index] = project(value[index], sub)
        return [picked[index] for index in sorted(picked)]
    return copy.deepcopy(value)


def redact(obj):
    """A Secret's values replaced, so that no plan or diff can show one."""
    if obj and obj.get("kind") == "Secret":
        obj = copy.deepcopy(obj)
        for field in ("data", "stringData"):
            if isinstance(obj.get(field), dict):
                obj[field] = dict((k, REDACTED) for k in obj[field])
    return obj


def plan_view(obj, fields):
    """What a person compares: identity plus the fields ``fields`` names, without server metadata."""
    if not obj:
        return {}
    view = project(obj, fields) if fields else copy.deepcopy(obj)
    view["apiVersion"] = obj["apiVersion"]
    view["kind"] = obj["kind"]
    metadata = dict(view.get("metadata") or {})
    for field in SERVER_METADATA:
        metadata.pop(field, None)
    metadata["name"] = obj["metadata"]["name"]
    if obj["metadata"].get("namespace"):
        metadata["namespace"] = obj["metadata"]["namespace"]
    view["metadata"] = metadata
    view.pop("status", None)
    return redact(view)


def comparable(obj):
    """``obj`` without what changes on every write (server metadata, status, timestamps)."""
    obj = copy.deepcopy(obj or {})
    metadata = obj.get("metadata") or {}
    managed = [dict((k, v) for k, v in entry.items() if k != "time") for entry in metadata.get("managedFields") or []]
    for field in SERVER_METADATA:
        metadata.pop(field, None)
    metadata["managedFields"] = sorted(managed, key=canonical)
    obj.pop("status", None)
    return obj


def conflicts_of(error):
    """``[(manager, field)]`` of a 409 apply conflict (``conflict with "kubectl-edit" using apps/v1``)."""
    try:
        body = json.loads(error.body)
    except (TypeError, ValueError, AttributeError):
        return []
    result = []
    for cause in ((body.get("details") or {}).get("causes") or []):
        message = cause.get("message", "")
        manager = message.split('"')[1] if message.count('"') >= 2 else message
        result.append((manager, cause.get("field", "")))
    return result


def error_text(error):
    """The API server's message of an ApiException, with its causes (``field: message``)."""
    try:
        body = json.loads(error.body)
    except (TypeError, ValueError, AttributeError):
        return "%s %s" % (getattr(error, "status", ""), getattr(error, "reason", "") or error)
    message = body.get("message") or error.reason
    causes = ["%s: %s" % (c.get("field"), c.get("message")) for c in (body.get("details") or {}).get("causes") or []
              if c.get("field") and c.get("message") and c.get("message") not in message]
    return message + ("" if not causes else " (%s)" % "; ".join(causes))


# --- the engine ----------------------------------------------------------------------------

class Engine(object):
    """Apply, plan and prune one component's objects on one cluster.

    ``api_client``: a ``kubernetes.client.ApiClient`` (kube_client.api_client).
    ``component``: the owner (labels, ApplySet); ``inventory_namespace``: where the
    component's ApplySet parent ConfigMap lives (it must exist, or be among the objects).
    ``prune_data``: also delete no-longer-desired :data:`DATA_KINDS`.
    ``adopt``: take over objects this engine did not make, instead of refusing them.
    """

    def __init__(self, api_client, component, inventory_namespace, check_mode=False, force_conflicts=False,
                 prune_data=False, adopt=False, field_manager=FIELD_MANAGER):
        if not HAS_KUBERNETES:
            raise KubeError("the kubernetes Python package is required")
        self.api_client = api_client
        self.component = component
        self.inventory_namespace = inventory_namespace
        self.inventory_name = inventory_name(component)
        self.applyset = applyset_id(self.inventory_name, inventory_namespace)
        self.check_mode = check_mode
        self.force_conflicts = force_conflicts
        self.prune_data = prune_data
        self.adopt = adopt
        self.field_manager = field_manager
        self._parent = None
        self._namespaces = {}  # name: whether it exists (asked at most once, in check mode)
        self.warnings = []
        self._counts = _request_counter(api_client)
        self._counted_from = dict(self._counts)
        try:
            self.client = DynamicClient(api_client)
        except (ApiException, DynamicApiError, Urllib3Error) as e:
            raise KubeError("cannot reach the API server %s: %s" % (api_client.configuration.host, _reason(e)))

    @property
    def requests(self):
        """``{HTTP method: count}`` of the requests this engine has sent about objects, and
        ``discovery``: how many asked which kinds the API server serves."""
        return dict((method, count - self._counted_from.get(method, 0)) for method, count in self._counts.items()
                    if count > self._counted_from.get(method, 0))

    def decorate(self, obj):
        return decorate(obj, self.component, self.applyset)

    # -- discovery ------------------------------------------------------------------------

    def resource(self, api_version, kind, required=True):
        """The API resource serving ``kind`` at ``api_version`` (discovery asks only for that
        group version, once per run; a kind it does not know yet is looked up again)."""
        group, unused, version = api_version.rpartition("/")
        return self._search(dict(prefix="apis" if group else "api", group=group, api_version=version, kind=kind),
                            "%s %s" % (api_version, kind), required)

    def _search(self, query, what, required=True):
        try:
            matches = self.client.resources.search(**query)
        except ResourceNotFoundError:
            matches = []
        except (ApiException, DynamicApiError, Urllib3Error) as e:
            raise KubeError("cannot discover %s: %s" % (what, _reason(e)))
        preferred = [m for m in matches if getattr(m, "preferred", False)] or matches
        top = [m for m in preferred if "/" not in (getattr(m, "name", None) or "")]  # not a subresource
        if not top and required:
            raise KubeError("the API server does not serve %s (is its CRD installed?)" % what)
        return top[0] if top else None

    def _call(self, what, obj, function, *args, **kwargs):
        try:
            return function(*args, **kwargs)
        except (ApiException, DynamicApiError) as e:
            raise KubeError("%s refused: %s" % (what, error_text(e)), ref(obj))
        except Urllib3Error as e:
            raise KubeError("%s failed, the API server %s did not answer: %s"
                            % (what, self.api_client.configuration.host, _reason(e)), ref(obj))

    def get(self, obj):
        resource = self.resource(obj["apiVersion"], obj["kind"], required=False)
        if resource is None:
            return None
        metadata = obj["metadata"]
        try:
            return self.client.get(resource, name=metadata["name"],
                                   namespace=metadata.get("namespace") if resource.namespaced else None).to_dict()
        except (ApiException, DynamicApiError) as e:
            if getattr(e, "status", None) == 404:
                return None
            raise KubeError("read refused: %s" % error_text(e), ref(obj))
        except Urllib3Error as e:
            raise KubeError("read failed: %s" % _reason(e), ref(obj))

    def list_owned(self, group_kinds, versions=None):
        """``{key: object}`` of every object of ``group_kinds`` labelled with this ApplySet, one
        LIST per kind (``versions``: ``{(group, kind): version}`` to list at, else the preferred)."""
        found = {}
        for gk in sorted(group_kinds):
            kind, unused, group = gk.partition(".")
            resource = self._resource_for_group_kind(group, kind, versions or {})
            if resource is None:
                continue
            listed = self._call("list %s" % gk, {"apiVersion": resource.group_version, "kind": kind,
                                                 "metadata": {"name": "*"}},
                                self.client.get, resource, label_selector="%s=%s" % (APPLYSET_PART_OF, self.applyset))
            for item in listed.to_dict().get("items") or []:
                item.setdefault("apiVersion", resource.group_version)
                item.setdefault("kind", kind)
                found[key(item)] = item
        return found

    def _resource_for_group_kind(self, group, kind, versions):
        version = versions.get((group, kind))
        if version:  # a desired object's: no need to find the group's preferred version
            return self.resource("%s/%s" % (group, version) if group else version, kind, required=False)
        return self._search(dict(prefix="apis" if group else "api", group=group, kind=kind),
                            "%s.%s" % (kind, group), required=False)

    # -- apply / plan -----------------------------------------------------------------------

    def apply(self, objects, wave_timeout=600):
        """Apply (or, in check mode, plan) ``objects``, then prune what is no longer desired.

        Namespaces and CRDs first; then the rest wave by wave (:data:`WAVE_ANNOTATION`), the
        written objects of a wave that have a readiness rule waited for (up to
        ``wave_timeout`` seconds; not in check mode) before the next wave is applied.

        Returns ``{changed, created, updated, deleted, kept, unchanged, diff, warnings,
        requests}``: refs of the objects written each way, ``diff`` one ``{before, after,
        before_header, after_header}`` per changed object.
        """
        for index, obj in enumerate(objects):
            validate_object(obj, "object %d" % index)
        desired = [self.decorate(obj) for obj in ordered(objects)]
        seen = {}
        for obj in desired:
            if key(obj) in seen:
                raise KubeError("is given twice", ref(obj))
            seen[key(obj)] = obj

        result = {"changed": False, "created": [], "updated": [], "deleted": [], "kept": [], "unchanged": 0,
                  "diff": [], "warnings": self.warnings}
        self._parent = parent = self.get(self._parent_ref())
        previous_kinds = _split(((parent or {}).get("metadata") or {}).get("annotations", {}).get(APPLYSET_KINDS))
        wanted_kinds = set(group_kind(obj) for obj in desired)
        versions = dict(((group_of(obj["apiVersion"]), obj["kind"]), obj["apiVersion"].rpartition("/")[2])
                        for obj in desired)
        live = self.list_owned(previous_kinds | wanted_kinds, versions)
        planned_namespaces = set()

        first = [obj for obj in desired if obj["kind"] in FIRST_KINDS]
        rest = [obj for obj in desired if obj["kind"] not in FIRST_KINDS]
        # The record of what the set spans is written before any member, so that a run
        # interrupted anywhere still knows what to prune; on a first run, once the record's
        # own namespace (maybe one of the members) exists.
        if parent is not None:
            self._write_parent(previous_kinds | wanted_kinds, desired, live)
        for obj in first:
            self._apply_one(obj, live.get(key(obj)), result, planned_namespaces)
        crds = [obj for obj in first if obj["kind"] == "CustomResourceDefinition"]
        if not self.check_mode and any(ref(obj) in result["created"] + result["updated"] for obj in crds):
            self.wait(crds, timeout=120)  # (discovery learns the new kinds at their first use)

        if desired and parent is None:
            self._write_parent(wanted_kinds, desired, live)
        waves = sorted(set(wave(obj) for obj in rest))
        for number in waves:
            members = [obj for obj in rest if wave(obj) == number]
            for obj in members:
                self._apply_one(obj, live.get(key(obj)), result, planned_namespaces)
            written = [obj for obj in members if ref(obj) in result["created"] + result["updated"]]
            if number != waves[-1] and written and not self.check_mode:
                self.wait(written, timeout=wave_timeout)

        stale = [obj for k, obj in live.items() if k not in seen]
        self._prune(stale, result)
        kept = [obj for obj in stale if ref(obj) in result["kept"]]
        if kept or desired:
            self._write_parent(set(group_kind(obj) for obj in desired + kept), desired + kept, {})
        elif parent is not None and not self.check_mode:
            # Nothing left to track: the component's record goes too.
            self._call("removing the component's ApplySet record", parent, self._delete_if_present, parent)
        result["changed"] = bool(result["created"] or result["updated"] or result["deleted"])
        result["requests"] = self.requests
        return result

    def _apply_one(self, obj, live, result, planned_namespaces):
        namespace = obj["metadata"].get("namespace")
        if live is None:
            live = self.get(obj)
            if live is not None and not self._ours(live):
                labels = live["metadata"].get("labels") or {}
                if labels.get(MANAGED_BY_LABEL) == MANAGED_BY and labels.get(COMPONENT_LABEL) != self.component:
                    raise KubeError("belongs to component %s of %s, not to %s"
                                    % (labels.get(COMPONENT_LABEL), MANAGED_BY, self.component), ref(obj))
                if not self.adopt:
                    raise KubeError("exists and was not made by %s (component %s); remove it, or set adopt to "
                                    "take it over" % (MANAGED_BY, self.component), ref(obj))
                self.warnings.append("%s: adopted, it was not made by %s" % (ref(obj), MANAGED_BY))
        if live is not None and covers(live, obj):
            result["unchanged"] += 1
            return
        predicted = self.check_mode and (
            (namespace and namespace in planned_namespaces)
            or self.resource(obj["apiVersion"], obj["kind"], required=False) is None
            or (namespace and live is None and not self._namespace_exists(namespace)))
        if predicted:
            # Its namespace or its CRD exists only once the plan is carried out (by this
            # component or one converged before it, such as the platform base): nothing to ask.
            after = obj
        else:
            after = self._server_side_apply(obj, live)
        if live is None:
            result["created"].append(ref(obj))
            if obj["kind"] == "Namespace":
                planned_namespaces.add(obj["metadata"]["name"])
        elif comparable(after) != comparable(live):
            result["updated"].append(ref(obj))
        else:
            result["unchanged"] += 1
            return
        fields = deep_merge(owned_fields(live or {}, self.field_manager), owned_fields(after, self.field_manager))
        result["diff"].append({"before": plan_view(live, fields), "after": plan_view(after, fields),
                               "before_header": ref(obj), "after_header": ref(obj)})

    def _namespace_exists(self, name):
        if name not in self._namespaces:
            self._namespaces[name] = self.get({"apiVersion": "v1", "kind": "Namespace",
                                               "metadata": {"name": name}}) is not None
        return self._namespaces[name]

    def _server_side_apply(self, obj, live):
        resource = self.resource(obj["apiVersion"], obj["kind"])
        metadata = obj["metadata"]
        namespace = metadata.get("namespace") if resource.namespaced else None
        if resource.namespaced and not namespace:
            raise KubeError("is namespaced but has no metadata.namespace", ref(obj))
        dry_run = "All" if self.check_mode else None
        force = self.force_conflicts
        for attempt in (1, 2):
            try:
                return self.client.server_side_apply(resource, body=obj, name=metadata["name"], namespace=namespace,
                                                     field_manager=self.field_manager, force_conflicts=force,
                                                     dry_run=dry_run).to_dict()
            except (ApiException, DynamicApiError) as e:
                if getattr(e, "status", None) != 409 or attempt == 2 or force:
                    raise KubeError("apply refused: %s" % error_text(e), ref(obj))
                conflicts = conflicts_of(e)
                declarative = self._declarative_managers(live, conflicts)
                if declarative:
                    raise KubeError("conflicts with field manager(s) that apply it too: %s; set force_conflicts to "
                                    "take the fields over"
                                    % "; ".join("%s owns %s" % (m, f) for m, f in conflicts if m in declarative),
                                    ref(obj))
                # Changed behind our back by an imperative edit: drift, put back.
                self.warnings.append("%s: %s %s changed by %s, set back" % (
                    ref(obj), "would be" if self.check_mode else "was",
                    ", ".join(sorted(set(f for m, f in conflicts))), ", ".join(sorted(set(m for m, f in conflicts)))))
                force = True
            except Urllib3Error as e:
                raise KubeError("apply failed, the API server did not answer: %s" % _reason(e), ref(obj))
        raise AssertionError("unreachable")

    def _declarative_managers(self, live, conflicts):
        managers = set(m for m, f in conflicts)
        entries = (live or {}).get("metadata", {}).get("managedFields") or []
        return sorted(set(e.get("manager") for e in entries
                          if e.get("manager") in managers and e.get("operation") == "Apply"))

    def _ours(self, live):
        """Made by this component: it carries the component's ApplySet label, or (the label lost
        to an edit) no ApplySet label but an earlier apply by this field manager."""
        labels = (live.get("metadata") or {}).get("labels") or {}
        part_of = labels.get(APPLYSET_PART_OF)
        if part_of is not None:
            return part_of == self.applyset
        return bool(owned_fields(live, self.field_manager))

    # -- ApplySet parent ----------------------------------------------------------------------

    def _parent_ref(self):
        return {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": self.inventory_name, "namespace": self.inventory_namespace}}

    def _write_parent(self, group_kinds, desired, live):
        """Record the kinds and namespaces of the set: before the members are applied, those
        of the old and the new set (so an interrupted run still knows what to prune); once
        pruned, exactly those of the desired set. Never in check mode."""
        namespaces = set(obj["metadata"].get("namespace") for obj in desired) | set(k[2] for k in live)
        namespaces = sorted(n for n in namespaces if n and n != self.inventory_namespace)
        body = self._parent_ref()
        body["metadata"]["labels"] = {APPLYSET_ID: self.applyset, MANAGED_BY_LABEL: MANAGED_BY,
                                      COMPONENT_LABEL: self.component}
        body["metadata"]["annotations"] = {APPLYSET_TOOLING: TOOLING, APPLYSET_KINDS: ",".join(sorted(group_kinds)),
                                           APPLYSET_NAMESPACES: ",".join(namespaces)}
        if self.check_mode or (self._parent is not None and covers(self._parent, body)):
            return
        self._parent = self._call("recording the component's ApplySet", body, self.client.server_side_apply,
                                  self.resource("v1", "ConfigMap"), body=body, name=self.inventory_name,
                                  namespace=self.inventory_namespace, field_manager=self.field_manager,
                                  force_conflicts=True).to_dict()

    def _delete_if_present(self, obj):
        resource = self.resource(obj["apiVersion"], obj["kind"])
        namespace = obj["metadata"].get("namespace") if resource.namespaced else None
        try:
            self.client.delete(resource, name=obj["metadata"]["name"], namespace=namespace,
                               body={"propagationPolicy": "Background"})
        except (ApiException, DynamicApiError) as e:
            if getattr(e, "status", None) != 404:
                raise

    # -- prune ---------------------------------------------------------------------------------

    def _prune(self, stale, result):
        for obj in reversed(ordered(stale)):
            if obj["metadata"].get("deletionTimestamp"):
                continue
            if obj["kind"] in DATA_KINDS and not self.prune_data:
                result["kept"].append(ref(obj))
                self.warnings.append("%s is no longer desired but kept: it holds data (set prune_data to delete it)"
                                     % ref(obj))
                continue
            result["deleted"].append(ref(obj))
            fields = owned_fields(obj, self.field_manager)
            result["diff"].append({"before": plan_view(obj, fields), "after": {},
                                   "before_header": ref(obj), "after_header": ref(obj)})
            if not self.check_mode:
                self._call("delete", obj, self._delete_if_present, obj)

    # -- readiness -------------------------------------------------------------------------------

    def wait(self, objects, timeout=300):
        """Wait until every object of a kind with a readiness rule (:data:`READY`) is ready.

        Watches each in turn against one deadline. On timeout raises KubeError naming each
        object that is not ready and why."""
        deadline = time.monotonic() + timeout
        waiting = [obj for obj in ordered(objects) if obj["kind"] in READY]
        for obj in waiting:
            remaining = deadline - time.monotonic()
            live = self._watch_until_ready(obj, max(1, int(remaining)))
            if live is None or not _ready(live):
                raise KubeError("not ready after %d s: %s" % (timeout, self.why_not_ready(obj, live)), ref(obj))

    def _watch_until_ready(self, obj, timeout):
        resource = self.resource(obj["apiVersion"], obj["kind"])
        metadata = obj["metadata"]
        namespace = metadata.get("namespace") if resource.namespaced else None
        live = self.get(obj)
        if live is not None and _ready(live):
            return live
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            version = (live or {}).get("metadata", {}).get("resourceVersion")
            watcher = k8s_watch.Watch()
            try:
                for event in self.client.watch(resource, namespace=namespace,
                                               field_selector="metadata.name=%s" % metadata["name"],
                                               resource_version=version, watcher=watcher,
                                               timeout=max(1, int(timeout - (time.monotonic() - start)))):
                    if event["type"] == "DELETED":
                        live = None
                        continue
                    if event["type"] not in ("ADDED", "MODIFIED"):
                        continue
                    live = event["raw_object"]
                    failure = _failed(live)
                    if failure:
                        raise KubeError("failed: %s" % failure, ref(obj))
                    if _ready(live):
                        watcher.stop()
                        return live
            except (ApiException, DynamicApiError) as e:
                if getattr(e, "status", None) != 410:  # resourceVersion too old: read again
                    raise KubeError("watch refused: %s" % error_text(e), ref(obj))
                live = self.get(obj)
            except Urllib3Error:
                live = self.get(obj)  # the stream broke: read again and go on watching
            if live is not None and _ready(live):
                return live
        return live

    def why_not_ready(self, obj, live):
        """The reasons ``obj`` is not ready: its own conditions, its pods' and their events
        (what could not be read is left out: the timeout is the error, not the diagnosis)."""
        if live is None:
            return "it does not exist"
        try:
            return self._reasons(obj, live)
        except (ApiException, DynamicApiError, Urllib3Error, KubeError):
            return _conditions_text(live) or "no condition reported"

    def _reasons(self, obj, live):
        reasons = [_conditions_text(live)]
        selector = ((live.get("spec") or {}).get("selector") or {}).get("matchLabels")
        if obj["kind"] == "Job":
            selector = {"batch.kubernetes.io/job-name": obj["metadata"]["name"]}
        namespace = obj["metadata"].get("namespace")
        if selector and namespace:
            pods = self.client.get(self.resource("v1", "Pod"), namespace=namespace,
                                   label_selector=",".join("%s=%s" % kv for kv in sorted(selector.items())))
            for pod in (pods.to_dict().get("items") or [])[:5]:
                reasons.append("pod %s: %s" % (pod["metadata"]["name"], _pod_text(pod)))
                reasons.extend(self._warnings_of("Pod", namespace, pod["metadata"]["name"]))
        if namespace:
            reasons.extend(self._warnings_of(obj["kind"], namespace, obj["metadata"]["name"]))
        return "; ".join(r for r in reasons if r) or "no condition reported"

    def _warnings_of(self, kind, namespace, name):
        events = self.client.get(self.resource("v1", "Event"), namespace=namespace,
                                 field_selector="involvedObject.kind=%s,involvedObject.name=%s,type=Warning"
                                 % (kind, name)).to_dict().get("items") or []
        events.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
        return ["event %s: %s" % (e.get("reason"), (e.get("message") or "").strip()) for e in events[-2:]]


def _request_counter(api_client):
    """A ``{method: count}`` of every request ``api_client`` sends (counted once, however
    many engines share the client)."""
    rest = api_client.rest_client
    counts = getattr(rest, "_mlops_request_counts", None)
    if counts is None:
        counts = {}
        original = rest.request

        def counting(method, url, *args, **kwargs):
            what = "discovery" if DISCOVERY_PATH.match(urlparse(url).path) else method
            counts[what] = counts.get(what, 0) + 1
            return original(method, url, *args, **kwargs)
        rest.request = counting
        rest._mlops_request_counts = counts
    return counts


def _split(value):
    return set(v for v in (value or "").split(",") if v)


def _reason(error):
    return getattr(error, "reason", None) or str(error).splitlines()[0]


# --- readiness rules (plain dicts, as the API serves them) ---------------------------------------

def _condition(obj, kind):
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind:
            return condition
    return {}


def _current(obj):
    status = obj.get("status") or {}
    return status.get("observedGeneration", 0) >= (obj.get("metadata") or {}).get("generation", 0)


def _deployment_ready(obj):
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    replicas = spec.get("replicas", 1)
    return (_current(obj) and _condition(obj, "Available").get("status") == "True"
            and status.get("updatedReplicas", 0) == replicas and status.get("availableReplicas", 0) == replicas
            and status.get("replicas", 0) == replicas)


def _statefulset_ready(obj):
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    replicas = spec.get("replicas", 1)
    return (_current(obj) and status.get("readyReplicas", 0) == replicas
            and status.get("updatedReplicas", 0) == replicas
            and status.get("currentRevision") == status.get("updateRevision"))


def _daemonset_ready(obj):
    status = obj.get("status") or {}
    wanted = status.get("desiredNumberScheduled")
    return (_current(obj) and wanted is not None and status.get("numberReady", 0) == wanted
            and status.get("updatedNumberScheduled", 0) == wanted)


def _job_complete(obj):
    return _condition(obj, "Complete").get("status") == "True"


def _crd_established(obj):
    return _condition(obj, "Established").get("status") == "True"


READY = {
    "Deployment": _deployment_ready,
    "StatefulSet": _statefulset_ready,
    "DaemonSet": _daemonset_ready,
    "Job": _job_complete,
    "CustomResourceDefinition": _crd_established,
}


def _ready(obj):
    return READY[obj["kind"]](obj)


def _failed(obj):
    """Why ``obj`` will never become ready (a failed Job, a Deployment past its deadline), or None."""
    if obj.get("kind") == "Job":
        failed = _condition(obj, "Failed")
        if failed.get("status") == "True":
            return "%s: %s" % (failed.get("reason"), failed.get("message"))
    if obj.get("kind") == "Deployment":
        progressing = _condition(obj, "Progressing")
        if progressing.get("status") == "False" and progressing.get("reason") == "ProgressDeadlineExceeded":
            return progressing.get("message")
    if obj.get("kind") == "CustomResourceDefinition":
        names = _condition(obj, "NamesAccepted")
        if names.get("status") == "False":
            return "%s: %s" % (names.get("reason"), names.get("message"))
    return None


def _conditions_text(obj):
    parts = []
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("status") != "True" or condition.get("type") in ("Failed", "ReplicaFailure"):
            parts.append("%s=%s%s" % (condition.get("type"), condition.get("status"),
                                      " (%s: %s)" % (condition.get("reason"), condition.get("message"))
                                      if condition.get("reason") else ""))
    return ", ".join(parts)


def _pod_text(pod):
    status = pod.get("status") or {}
    parts = ["phase %s" % status.get("phase")]
    for condition in status.get("conditions") or []:
        if condition.get("status") != "True" and condition.get("reason"):
            parts.append("%s=False (%s: %s)" % (condition.get("type"), condition.get("reason"),
                                                condition.get("message")))
    for container in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        waiting = (container.get("state") or {}).get("waiting")
        if waiting:
            parts.append("container %s waiting (%s%s)" % (container.get("name"), waiting.get("reason"),
                                                          ": %s" % waiting["message"] if waiting.get("message")
                                                          else ""))
    return ", ".join(parts)


# --- render ------------------------------------------------------------------------------------

def dump_yaml(obj):
    return yaml.safe_dump(obj, default_flow_style=False, sort_keys=True, width=1000, allow_unicode=False)


def file_name(obj):
    metadata = obj["metadata"]
    parts = [obj["kind"].lower()] + ([metadata["namespace"]] if metadata.get("namespace") else []) + [metadata["name"]]
    return "%s.yaml" % "_".join(parts)


def render(component, inventory_namespace, objects, directory, application=None, check_mode=False):
    """Write ``objects`` (decorated exactly as :meth:`Engine.apply` would send them) into
    ``directory``, one file each plus a ``kustomization.yaml``; files of an earlier render that
    are no longer desired are removed. Byte-stable: the same objects give the same bytes.

    ``application``: ``{name, namespace, repo_url, revision, path, project, destination}``
    for an Argo CD Application that syncs this directory, written to
    ``<directory>/../applications/<name>.yaml`` (an app-of-apps kustomization beside it).
    Returns ``{"changed", "written", "removed", "files"}``.
    """
    if not HAS_YAML:
        raise KubeError("the PyYAML package is required to render manifests")
    for index, obj in enumerate(objects):
        validate_object(obj, "object %d" % index)
    applyset = applyset_id(inventory_name(component), inventory_namespace)
    desired = [decorate(obj, component, applyset) for obj in ordered(objects)]
    files = dict((file_name(obj), dump_yaml(obj)) for obj in desired)
    if len(files) != len(desired):
        raise KubeError("two objects of the same kind, namespace and name are given")
    files["kustomization.yaml"] = dump_yaml({"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                                             "resources": [file_name(obj) for obj in desired]})
    result = _write_files(directory, files, check_mode)
    if application:
        apps_dir = os.path.join(os.path.dirname(os.path.normpath(directory)), "applications")
        app = argocd_application(application)
        name = "%s.yaml" % application["name"]
        existing = sorted(f for f in (os.listdir(apps_dir) if os.path.isdir(apps_dir) else [])
                          if f.endswith(".yaml") and f != "kustomization.yaml")
        names = sorted(set(existing) | set([name]))
        app_files = {name: dump_yaml(app),
                     "kustomization.yaml": dump_yaml({"apiVersion": "kustomize.config.k8s.io/v1beta1",
                                                      "kind": "Kustomization", "resources": names})}
        applied = _write_files(apps_dir, app_files, check_mode, remove_stale=False)
        result["written"].extend(applied["written"])
        result["files"].extend(applied["files"])
        result["changed"] = result["changed"] or applied["changed"]
    return result


def argocd_application(spec):
    """An Argo CD Application syncing one rendered component directory from a Git repository."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": spec["name"], "namespace": spec.get("namespace", "argocd"),
                     "labels": {MANAGED_BY_LABEL: MANAGED_BY, COMPONENT_LABEL: spec["name"]},
                     "finalizers": ["resources-finalizer.argocd.argoproj.io"]},
        "spec": {
            "project": spec.get("project", "default"),
            "source": {"repoURL": spec["repo_url"], "targetRevision": spec.get("revision", "HEAD"),
                       "path": spec["path"]},
            "destination": {"server": spec.get("destination", "https://kubernetes.default.svc")},
            "syncPolicy": {"automated": {"prune": True, "selfHeal": True},
                           "syncOptions": ["ServerSideApply=true"]},
        },
    }


def _write_files(directory, files, check_mode, remove_stale=True):
    result = {"changed": False, "written": [], "removed": [], "files": []}
    existing = set(f for f in os.listdir(directory) if f.endswith(".yaml")) if os.path.isdir(directory) else set()
    for name, text in sorted(files.items()):
        path = os.path.join(directory, name)
        result["files"].append(path)
        data = text.encode("utf-8")
        if name in existing:
            with open(path, "rb") as f:
                if f.read() == data:
                    continue
        result["written"].append(path)
        if not check_mode:
            if not os.path.isdir(directory):
                os.makedirs(directory)
            tmp = path + ".tmp"
            with open(tmp, "wb") as f:
                f.write(data)
            os.rename(tmp, path)
    if remove_stale:
        for name in sorted(existing - set(files)):
            path = os.path.join(directory, name)
            result["removed"].append(path)
            if not check_mode:
                os.remove(path)
    result["changed"] = bool(result["written"] or result["removed"])
    return result
