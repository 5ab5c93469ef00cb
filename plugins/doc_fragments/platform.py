# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment:
    # How endpoints reach the outside on the target cluster (the platform seam, docs/concepts.md).
    DOCUMENTATION = r"""
options:
  platform:
    description:
      - What endpoints reached over HTTP (ContinuousPipe's ingress endpoints) become on the cluster.
      - V(kubernetes) renders C(networking.k8s.io/v1) Ingresses, as ContinuousPipe did.
      - V(gateway) renders Gateway API C(HTTPRoute)s (C(gateway.networking.k8s.io/v1)) attached to the
        Gateway in O(gateway).
      - V(openshift) renders OpenShift Routes (C(route.openshift.io/v1)) with TLS from
        C(ssl_certificates) (edge termination, re-encrypt when the backend exposes 443), runs pods under
        the restricted-v2 security context constraints (arbitrary UID; a privileged container, a
        C(hostPath) or C(nfs) volume is an error naming its key), and takes environments as Projects
        (requested through C(project.openshift.io) when the cluster serves it; who an environment belongs
        to is written on the ConfigMap C(continuouspipe-environment) in it, since a project's admin may
        not label its Namespace).
      - V(auto) chooses V(openshift) when the cluster serves C(route.openshift.io/v1), else V(gateway)
        when O(gateway) is given and the cluster serves the Gateway API, else V(kubernetes). The choice
        and why are in the result's RV(ignore:platform). Without a cluster (M(continuouspipe.kubernetes.render)),
        V(auto) is V(gateway) when O(gateway) is given, else V(kubernetes).
      - The clusters inventory sets it per cluster (a cluster's C(platform) key).
    type: str
    choices: [auto, kubernetes, gateway, openshift]
    default: auto
    version_added: 0.2.0
  gateway:
    description:
      - The Gateway that HTTPRoutes attach to on the V(gateway) platform (the platform team's, usually
        shared by every environment), and the GatewayClass of the Gateways this collection renders
        itself (an ingress group with a static C(address)).
    type: dict
    version_added: 0.2.0
    suboptions:
      name:
        description: Name of the Gateway.
        type: str
      namespace:
        description: Namespace of the Gateway.
        type: str
      section_name:
        description: The listener of the Gateway to attach to (C(sectionName)); all of them when unset.
        type: str
      class_name:
        description: GatewayClass of the Gateway rendered for an ingress group that asks for a static address.
        type: str
  route_certificates:
    description:
      - How an OpenShift Route gets the certificate of its endpoint.
      - V(secret) references the endpoint's C(kubernetes.io/tls) Secret (C(spec.tls.externalCertificate))
        and grants the OpenShift router read access to those Secrets only (a Role and RoleBinding
        C(cp-route-certificates.<task>)); the key never leaves the Secret.
      - V(inline) copies the certificate and key into the Route, for clusters whose Route API has no
        C(externalCertificate); anyone who may read Routes reads the key then (results and diffs mask it).
    type: str
    choices: [secret, inline]
    default: secret
    version_added: 0.2.0
"""
