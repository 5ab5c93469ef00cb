# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which platform a cluster is: chosen once per cluster, by option, or from the APIs it serves.

``platform`` (module option, or the cluster's ``platform`` in the clusters inventory):

* ``kubernetes``: endpoints reached over HTTP are ``networking.k8s.io/v1`` Ingresses;
* ``gateway``: Gateway API ``HTTPRoute``s attached to ``gateway`` (the cluster must serve
  gateway.networking.k8s.io/v1);
* ``openshift``: ``route.openshift.io/v1`` Routes, restricted-v2 pods, and environments requested as
  Projects when the cluster serves project.openshift.io (``cluster/projects.py``);
* ``auto`` (default): ``openshift`` when the cluster serves route.openshift.io/v1; else ``gateway`` when a
  Gateway is configured and the cluster serves the Gateway API; else ``kubernetes``. Serving the Gateway
  API alone does not choose it (GKE serves it on clusters that use Ingresses): which Gateway to attach to
  is the platform team's decision.

Detection costs one discovery GET per API group asked about (cached by the connection).
"""
from __future__ import annotations

from typing import Optional, Tuple

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import ClusterError, DefinitionError
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.translate.plans import (
    GATEWAY,
    KUBERNETES,
    OPENSHIFT,
    PLATFORMS,
    ROUTE_CERTIFICATES,
    GatewayRef,
    Platform,
)

AUTO = "auto"
ROUTE_API = ("route.openshift.io/v1", "Route")
HTTPROUTE_API = ("gateway.networking.k8s.io/v1", "HTTPRoute")
PROJECT_REQUEST_API = ("project.openshift.io/v1", "ProjectRequest")

PLATFORM_ARGSPEC = dict(
    platform=dict(type="str", choices=[AUTO] + list(PLATFORMS), default=AUTO),
    gateway=dict(type="dict", options=dict(
        name=dict(type="str"),
        namespace=dict(type="str"),
        section_name=dict(type="str"),
        class_name=dict(type="str"),
    )),
    route_certificates=dict(type="str", choices=list(ROUTE_CERTIFICATES), default="secret"),
)


def gateway_ref(params: dict) -> Optional[GatewayRef]:
    raw = params.get("gateway") or {}
    if not any(raw.get(key) for key in ("name", "namespace", "section_name", "class_name")):
        return None
    if bool(raw.get("name")) != bool(raw.get("namespace")):
        raise DefinitionError("gateway needs both name and namespace (the Gateway HTTPRoutes attach to)",
                              ("gateway",), expected="gateway: {name: shared, namespace: gateway-system}")
    return GatewayRef(name=raw.get("name"), namespace=raw.get("namespace"), section_name=raw.get("section_name"),
                      class_name=raw.get("class_name"))


def requested(params: dict) -> Tuple[str, Optional[GatewayRef], str]:
    """(platform option, gateway, route_certificates) from module parameters."""
    name = params.get("platform") or AUTO
    if name not in (AUTO,) + PLATFORMS:
        raise DefinitionError("unknown platform %r" % name, ("platform",), expected=", ".join((AUTO,) + PLATFORMS))
    certificates = params.get("route_certificates") or "secret"
    return name, gateway_ref(params), certificates


def without_cluster(params: dict) -> Tuple[Platform, str]:
    """The platform when no cluster is asked (render): ``auto`` is ``gateway`` when a Gateway is given,
    else ``kubernetes``."""
    name, gateway, certificates = requested(params)
    if name == AUTO:
        if gateway is not None and gateway.name:
            return Platform(GATEWAY, gateway, certificates), "auto without a cluster: a Gateway is given"
        return Platform(KUBERNETES, gateway, certificates), "auto without a cluster: Kubernetes Ingresses"
    return Platform(name, gateway, certificates), "option"


def serves(cluster, api: Tuple[str, str]) -> bool:
    """Whether the cluster serves this (apiVersion, kind): one discovery GET of the group version."""
    try:
        cluster.resource(*api)
        return True
    except ClusterError as error:
        if error.status == 404:
            return False
        raise


def choose(cluster, params: dict) -> Tuple[Platform, str]:
    """The cluster's platform and why it was chosen (shown in results)."""
    name, gateway, certificates = requested(params)
    if name == AUTO:
        if serves(cluster, ROUTE_API):
            return Platform(OPENSHIFT, gateway, certificates), "detected: the cluster serves route.openshift.io/v1"
        if gateway is not None and gateway.name and serves(cluster, HTTPROUTE_API):
            return Platform(GATEWAY, gateway, certificates), \
                "detected: the cluster serves gateway.networking.k8s.io/v1 and a Gateway is configured"
        return Platform(KUBERNETES, gateway, certificates), "detected: neither OpenShift Routes nor a Gateway"
    if name == OPENSHIFT and not serves(cluster, ROUTE_API):
        raise ClusterError("platform is openshift, but cluster %s does not serve route.openshift.io/v1"
                           % getattr(cluster, "name", ""), status=404)
    if name == GATEWAY and not serves(cluster, HTTPROUTE_API):
        raise ClusterError("platform is gateway, but cluster %s does not serve gateway.networking.k8s.io/v1 "
                           "HTTPRoutes" % getattr(cluster, "name", ""), status=404)
    return Platform(name, gateway, certificates), "option"


def describe(platform: Platform, reason: str) -> dict:
    """The platform as module results show it."""
    out = platform.to_dict()
    out["chosen"] = reason
    return out
