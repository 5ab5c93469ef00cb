# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the collection knows about each kind of object it writes: one table, read by every stage.

    translate (object order) ─ plan (apply order, what to list) ─ apply (phase) ─ wait (readiness)
    ─ endpoints (how to read an address) ─ prune and rollback (delete order)

Each entry says, for one kind:

* ``order``: the apply order (lower first) of rendered objects and of a rollback's re-applies;
* ``phase``: the deploy phase (see ``PHASES``); a Service is a public endpoint (phase 2) or an internal
  Service (phase 1) depending on the object (``phase_of``);
* ``prune_order``: the delete order (lower first: what routes to or mounts something goes before it);
* ``readiness``: how a created or updated object is waited for (``rollout``: Deployment rollout status,
  ``pod``: a bare Pod runs or ends), None when it is not;
* ``address``: how the address of a public endpoint of that kind is read (``cluster/endpoints.py`` holds
  the readers), None when it has none;
* ``listed``: a deploy lists it even when it renders none, so that one it rendered before is pruned
  (when the cluster serves the API).

A kind missing from the table gets ``UNKNOWN``'s entry: applied with the "other objects" (phase 3, order 4,
between the endpoints and the workloads), deleted with the Services (prune order 2).

Pure data: no I/O, no client (translate/ and cluster/ both read it).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple

PHASES = ("namespace", "secrets, volumes and internal services", "public endpoints", "other objects", "workloads")
NAMESPACE_PHASE, SUPPORT_PHASE, ENDPOINT_PHASE, OTHER_PHASE, WORKLOAD_PHASE = range(5)

ROLLOUT = "rollout"
POD = "pod"


@dataclass(frozen=True)
class Kind:
    kind: str
    api_version: str
    order: int
    phase: int
    prune_order: int
    readiness: Optional[str] = None
    address: Optional[str] = None
    listed: bool = False
    namespaced: bool = True
    # the platforms on which a deploy lists it when it renders none (an object of another platform's
    # is pruned through the kinds of the task's current release instead); () on every platform
    platforms: Tuple[str, ...] = ()

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0] if "/" in self.api_version else ""


KINDS: Tuple[Kind, ...] = (
    Kind("Namespace", "v1", 0, NAMESPACE_PHASE, 9, namespaced=False),
    Kind("ServiceAccount", "v1", 1, SUPPORT_PHASE, 3),
    Kind("ConfigMap", "v1", 1, SUPPORT_PHASE, 3),
    Kind("Secret", "v1", 1, SUPPORT_PHASE, 3, listed=True),
    Kind("PersistentVolumeClaim", "v1", 1, SUPPORT_PHASE, 4, listed=True),
    Kind("Role", "rbac.authorization.k8s.io/v1", 2, SUPPORT_PHASE, 3, listed=True, platforms=("openshift",)),
    Kind("RoleBinding", "rbac.authorization.k8s.io/v1", 2, SUPPORT_PHASE, 2, listed=True, platforms=("openshift",)),
    Kind("NetworkPolicy", "networking.k8s.io/v1", 2, SUPPORT_PHASE, 2),
    Kind("Service", "v1", 3, SUPPORT_PHASE, 2, address="service", listed=True),
    Kind("Gateway", "gateway.networking.k8s.io/v1", 4, ENDPOINT_PHASE, 2, address="gateway", listed=True,
         platforms=("gateway",)),
    Kind("Ingress", "networking.k8s.io/v1", 4, ENDPOINT_PHASE, 1, address="ingress", listed=True,
         platforms=("kubernetes",)),
    Kind("HTTPRoute", "gateway.networking.k8s.io/v1", 4, ENDPOINT_PHASE, 1, address="httproute", listed=True,
         platforms=("gateway",)),
    Kind("Route", "route.openshift.io/v1", 4, ENDPOINT_PHASE, 1, address="route", listed=True,
         platforms=("openshift",)),
    Kind("Deployment", "apps/v1", 5, WORKLOAD_PHASE, 0, readiness=ROLLOUT, listed=True),
    Kind("StatefulSet", "apps/v1", 5, WORKLOAD_PHASE, 0),
    Kind("DaemonSet", "apps/v1", 5, WORKLOAD_PHASE, 0),
    Kind("Job", "batch/v1", 6, WORKLOAD_PHASE, 0),
    Kind("Pod", "v1", 6, WORKLOAD_PHASE, 0, readiness=POD, listed=True),
)
UNKNOWN = Kind("", "", 4, OTHER_PHASE, 2)

_BY_KIND: Dict[str, Kind] = {entry.kind: entry for entry in KINDS}

# The object that records who an environment belongs to (its *anchor*): the Namespace itself, or, where the
# deployer may not label namespaces (an OpenShift project), this ConfigMap in it.
ENVIRONMENT_RECORD = "continuouspipe-environment"

# What a Service's labels say about it (ContinuousPipe's labels, docs/behaviour.md §10.4).
INTERNAL_ENDPOINT_LABEL = "internal-endpoint"
SOURCE_OF_INGRESS_LABEL = "source-of-ingress"


def of(kind: Optional[str]) -> Kind:
    """The entry of a kind (``UNKNOWN``'s values for a kind the collection does not know)."""
    return _BY_KIND.get(kind or "", UNKNOWN)


def known(kind: Optional[str]) -> bool:
    return (kind or "") in _BY_KIND


def order(obj: dict) -> int:
    return of(obj.get("kind")).order


def prune_order(kind: str) -> int:
    return of(kind).prune_order


def readiness(kind: str) -> Optional[str]:
    return of(kind).readiness


def workload_kinds() -> Tuple[str, ...]:
    """Kinds that run pods and are waited for."""
    return tuple(entry.kind for entry in KINDS if entry.readiness)


def listed_kinds(platform: Optional[str] = "kubernetes") -> Tuple[Tuple[str, str], ...]:
    """(apiVersion, kind) of every kind a deploy to ``platform`` lists to prune, whether it renders any
    or not (``None``: on any platform)."""
    return tuple((entry.api_version, entry.kind) for entry in KINDS
                 if entry.listed and (platform is None or not entry.platforms or platform in entry.platforms))


def endpoint_kinds() -> Tuple[str, ...]:
    """Kinds that route traffic from outside to a Service (always deployed as public endpoints)."""
    return tuple(entry.kind for entry in KINDS if entry.phase == ENDPOINT_PHASE)


def is_public_service(obj: dict) -> bool:
    """ContinuousPipe's PublicEndpointObjectVoter for a Service: LoadBalancer, NodePort, internal
    endpoint, or the Service of an ingress endpoint."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    if labels.get(INTERNAL_ENDPOINT_LABEL) == "true" or SOURCE_OF_INGRESS_LABEL in labels:
        return True
    return ((obj.get("spec") or {}).get("type") or "ClusterIP") in ("LoadBalancer", "NodePort")


def is_public_endpoint(obj: dict) -> bool:
    """Objects deployed in the public endpoints' phase (their addresses are waited for)."""
    kind = obj.get("kind")
    if kind == "Service":
        return is_public_service(obj)
    return of(kind).phase == ENDPOINT_PHASE and known(kind)


def is_anchor(obj: Optional[dict]) -> bool:
    """The Namespace, or the environment record that stands for it (shared by every task of the
    environment: no task label, never pruned, never deleted by a rollback)."""
    kind = (obj or {}).get("kind")
    return kind == "Namespace" or (kind == "ConfigMap" and ((obj or {}).get("metadata") or {}).get("name")
                                   == ENVIRONMENT_RECORD)


def is_anchor_key(kind: str, name: str) -> bool:
    return kind == "Namespace" or (kind == "ConfigMap" and name == ENVIRONMENT_RECORD)


def phase_of(obj: dict, endpoint_keys=()) -> int:
    """The deploy phase of an object; ``endpoint_keys`` are (kind, name) of objects a plan names as
    public endpoints (their Services included)."""
    kind = obj.get("kind")
    key = (kind or "", (obj.get("metadata") or {}).get("name") or "")
    if is_anchor(obj):
        return NAMESPACE_PHASE
    if key in endpoint_keys or is_public_endpoint(obj):
        return ENDPOINT_PHASE
    return of(kind).phase
