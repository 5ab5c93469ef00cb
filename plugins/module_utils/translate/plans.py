# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Data types of the translate stage: its options, its result, and the plans the apply stage reads.

The translator is a pure function ``(DeployTask, Release, TranslateOptions) → RenderedEnvironment``.
Besides the manifests, the result carries what ContinuousPipe's Pipe knew about each object while
deploying it (docs/behaviour.md §10): which objects belong to which component, the ``locked`` /
``reset`` / ``attached`` flags, the rollout timeout (§10.3), and which objects are *public endpoints*
whose address must be waited for (§10.4).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import model


KUBERNETES = "kubernetes"
GATEWAY = "gateway"
OPENSHIFT = "openshift"
PLATFORMS = (KUBERNETES, GATEWAY, OPENSHIFT)
# OpenShift Route certificates: a reference to the TLS Secret (spec.tls.externalCertificate), or inline.
ROUTE_CERTIFICATES = ("secret", "inline")


@dataclass(frozen=True)
class GatewayRef:
    """The Gateway API Gateway that HTTPRoutes attach to (``parentRefs``), and the GatewayClass of the
    Gateways this collection renders itself (a fan-out group with a static address)."""

    name: Optional[str] = None
    namespace: Optional[str] = None
    section_name: Optional[str] = None
    class_name: Optional[str] = None

    def to_dict(self) -> dict:
        return {"name": self.name, "namespace": self.namespace, "section_name": self.section_name,
                "class_name": self.class_name}


@dataclass(frozen=True)
class Platform:
    """How endpoints reach the outside on the target cluster (chosen once per cluster).

    * ``kubernetes``: ``networking.k8s.io/v1`` Ingresses (ContinuousPipe's rendering);
    * ``gateway``: Gateway API ``HTTPRoute``s attached to ``gateway`` (a Gateway the platform team runs);
    * ``openshift``: ``route.openshift.io/v1`` Routes, and pod specs that run under the restricted-v2
      SecurityContextConstraints (arbitrary UID, no privilege escalation, no host paths).

    ``route_certificates`` (OpenShift): ``secret`` references the endpoint's TLS Secret from the Route
    (``spec.tls.externalCertificate``; the router is granted read access to those Secrets only), ``inline``
    copies the certificate and key into the Route (for clusters whose Route API has no externalCertificate;
    anyone who may read Routes then reads the key).
    """

    name: str = KUBERNETES
    gateway: Optional[GatewayRef] = None
    route_certificates: str = "secret"

    @property
    def restricted_pods(self) -> bool:
        return self.name == OPENSHIFT

    def to_dict(self) -> dict:
        out = {"name": self.name}
        if self.name == GATEWAY:
            out["gateway"] = (self.gateway or GatewayRef()).to_dict()
        if self.name == OPENSHIFT:
            out["route_certificates"] = self.route_certificates
        return out


@dataclass
class TranslateOptions:
    """What the translator cannot read from the model.

    * ``namespace``: the environment; default ``environment_name(task, release)`` (§8.1).
    * ``public_endpoints``: endpoint name → address, known once the apply stage waited for the
      public endpoints of this deployment. Injected into every container as
      ``SERVICE_<E>_PUBLIC_ENDPOINT`` / ``ENDPOINT_<E>_PUBLIC_ENDPOINT`` and substituted inside env
      values (§6.5).
    * ``deploy_variables``: deploy-time names known before this deployment: ``SERVICE_*`` addresses
      of earlier deploy tasks (injected as env vars and substituted) and
      ``__TASK_<ID>_TARGET_ENVIRONMENT_NAME`` (substituted only) (§6.5).
    * ``ingress_class_annotation``: also write the legacy ``kubernetes.io/ingress.class``
      annotation besides ``spec.ingressClassName``.
    * ``storage_class``: the StorageClass a volume's ``storage_class: default`` maps to; None omits
      ``storageClassName`` so the cluster's default class is used.
    * ``managed_by``: value of ``app.kubernetes.io/managed-by`` on every object.
    * ``platform``: the ``Platform`` of the target cluster (Ingress, HTTPRoute or Route endpoints;
      restricted pods on OpenShift).
    * ``checksum_key``: the secret key (bytes) of the pod checksums, an HMAC-SHA256 over the
      Secrets a pod references. Required as soon as a pod references a Secret; the deploy stage
      keeps it in the Secret ``cp-checksum-key.<task>`` of the environment (rendered here too), so
      the checksums stay the same from one deploy to the next. Never shown by ``repr``.
    """

    namespace: Optional[str] = None
    public_endpoints: Dict[str, str] = field(default_factory=dict)
    deploy_variables: Dict[str, str] = field(default_factory=dict)
    ingress_class_annotation: bool = True
    storage_class: Optional[str] = None
    managed_by: str = "continuouspipe.kubernetes"
    platform: Platform = field(default_factory=Platform)
    checksum_key: Optional[bytes] = field(default=None, repr=False)


@dataclass(frozen=True)
class ObjectRef:
    """A rendered object, by kind and name (all objects live in the environment's namespace)."""

    kind: str
    name: str

    def to_dict(self) -> dict:
        return {"kind": self.kind, "name": self.name}


# How the address of a public endpoint is read once the object exists (§10.4).
ADDRESS_LOAD_BALANCER = "load_balancer"  # first status.loadBalancer.ingress[]: hostname, else ip
ADDRESS_INGRESS = "ingress"  # wait for status.loadBalancer like above, then one address per rule host
ADDRESS_INTERNAL = "internal"  # <service>.<namespace>.svc.cluster.local, known at once
ADDRESS_NODE_PORT = "node_port"  # a node address (cluster setting) and each port's nodePort
ADDRESS_HTTPROUTE = "httproute"  # the route Accepted by its parent Gateway; the first host, else the Gateway's address
ADDRESS_ROUTE = "route"  # the Route Admitted by a router: status.ingress[].host


@dataclass(frozen=True)
class CertificatePlan:
    """An ``automatic`` TLS certificate the apply stage must generate (§9.8).

    ContinuousPipe generated a self-signed RSA-2048 certificate ``CN=<host>/O=ContinuousPipe`` once
    per flow and host and stored it in the Secret ``<endpoint>-automatic``. The translator is pure
    (no randomness), so it only names the Secret, which the Ingress already references.
    """

    secret_name: str
    host: str

    def to_dict(self) -> dict:
        return {"secret_name": self.secret_name, "host": self.host}


@dataclass(frozen=True)
class EndpointPlan:
    """A public endpoint: an object whose address is waited for and exported (§10.4, §6.5).

    ``name`` is the endpoint name (for the implicit LoadBalancer of ``from_external`` the component
    identifier); ``variables`` the env var names the address is exported as. ``integrations`` are the
    vendor records ContinuousPipe managed for it (CloudFlare DNS, HttpLabs stack), without their
    credentials: the apply stage reports them with the address for a later task to act on.
    """

    name: str
    component: str
    kind: str
    object_name: str
    address: str
    service_type: str
    ports: Tuple[Dict[str, object], ...] = ()
    hosts: Tuple[str, ...] = ()
    internal_address: Optional[str] = None
    variables: Tuple[str, ...] = ()
    certificates: Tuple[CertificatePlan, ...] = ()
    notes: Tuple[str, ...] = ()
    integrations: Tuple[Dict[str, object], ...] = ()
    path: Optional[str] = None
    group: Optional[str] = None
    parent: Optional[Dict[str, str]] = None  # HTTPRoute: the Gateway it attaches to (namespace, name)

    def to_dict(self) -> dict:
        out = {
            "name": self.name,
            "component": self.component,
            "kind": self.kind,
            "object_name": self.object_name,
            "address": self.address,
            "service_type": self.service_type,
            "ports": [dict(port) for port in self.ports],
            "hosts": list(self.hosts),
            "internal_address": self.internal_address,
            "variables": list(self.variables),
            "certificates": [certificate.to_dict() for certificate in self.certificates],
            "notes": list(self.notes),
            "integrations": [dict(integration) for integration in self.integrations],
        }
        # the fan-out keys only where they are used, so that plans of other endpoints read as before
        if self.path is not None:
            out["path"] = self.path
        if self.group is not None:
            out["group"] = self.group
        if self.parent is not None:
            out["parent"] = dict(self.parent)
        return out


@dataclass(frozen=True)
class ComponentPlan:
    """What the apply stage needs to deploy one ContinuousPipe service (a *component*, §4.2).

    * ``workload``: the Deployment or bare Pod running this component's container; for a service
      that joins another service's pod (``pod``) it is that pod's workload.
    * ``objects``: every object rendered for this component, in apply order (shared PVCs are listed
      by each component declaring them).
    * ``locked`` / ``reset`` / ``attached``: the deployment strategy (§10.1, §10.2).
    * ``wait``: the workload is waited for (Deployments only; bare Pods are not, §10.3).
    * ``wait_timeout``: §10.3 — max over the pod's containers of
      ``60 + initial_delay + period × failure_threshold`` when the readiness probe sets all three,
      else 1800 seconds.
    * ``public_endpoints``: names of the EndpointPlans this component exposes.
    """

    identifier: str
    name: str
    workload: ObjectRef
    objects: Tuple[ObjectRef, ...] = ()
    locked: bool = False
    reset: bool = False
    attached: bool = False
    wait: bool = True
    wait_timeout: int = 1800
    public_endpoints: Tuple[str, ...] = ()
    pod: Optional[str] = None
    notes: Tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {
            "identifier": self.identifier,
            "name": self.name,
            "workload": self.workload.to_dict(),
            "objects": [ref.to_dict() for ref in self.objects],
            "locked": self.locked,
            "reset": self.reset,
            "attached": self.attached,
            "wait": self.wait,
            "wait_timeout": self.wait_timeout,
            "public_endpoints": list(self.public_endpoints),
            "pod": self.pod,
            "notes": list(self.notes),
        }


@dataclass
class RenderedEnvironment:
    """The manifests of one deploy task and the plans to apply them.

    ``objects`` are in apply order (``kinds.order``): Namespace, Secrets, PersistentVolumeClaims, Roles,
    Services, endpoint routing (Ingresses, Gateways, HTTPRoutes or Routes), workloads (Deployments, then
    bare Pods, in declaration order).
    """

    namespace: str
    objects: List[dict] = field(default_factory=list)
    components: Dict[str, ComponentPlan] = field(default_factory=dict)
    public_endpoints: List[EndpointPlan] = field(default_factory=list)
    platform: Platform = field(default_factory=Platform)

    def manifests(self) -> List[dict]:
        """A deep copy of the objects, safe to modify."""
        return copy.deepcopy(self.objects)

    def plan(self) -> dict:
        """The component and endpoint plans as plain data (for module results and golden files)."""
        return {
            "namespace": self.namespace,
            "platform": self.platform.to_dict(),
            "components": {key: plan.to_dict() for key, plan in self.components.items()},
            "public_endpoints": [endpoint.to_dict() for endpoint in self.public_endpoints],
        }


@dataclass(frozen=True)
class Context:
    """Everything the rule modules share while translating one deploy task."""

    task: model.DeployTask
    release: model.Release
    namespace: str
    options: TranslateOptions

    def service_path(self, service: model.Service) -> Tuple[object, ...]:
        """The key path of a service in the configuration, for DefinitionErrors."""
        return ("tasks", self.task.identifier, "deploy", "services", service.name)
