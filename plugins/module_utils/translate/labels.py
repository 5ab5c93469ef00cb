# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Labels, annotations and object metadata (docs/behaviour.md §8.2).

ContinuousPipe labelled its objects with ``component-identifier: <id>`` (workloads, pod templates,
Services, Ingresses) and selected pods with that label only. Those labels are kept verbatim so that
objects created by ContinuousPipe can be taken over (a Deployment's selector is immutable). This
collection adds, on every object:

* ``app.kubernetes.io/managed-by: <TranslateOptions.managed_by>``
* ``continuouspipe.io/environment: <namespace>``

and on the objects of a service:

* ``continuouspipe.io/service: <component identifier>``
* ``app.kubernetes.io/name: <component identifier>``
* ``app.kubernetes.io/instance: <namespace>`` (the environment is the instance)
* ``app.kubernetes.io/component``: the object's role — ``workload``, ``service`` (default
  Service), ``endpoint`` (endpoint Service or Ingress), ``secrets`` (env Secret), ``tls``
  (certificate Secret) or ``storage`` (PVC).
"""
from __future__ import annotations

from typing import Dict, Optional

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import naming
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import DefinitionError
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.translate.plans import Context

MANAGED_BY = "app.kubernetes.io/managed-by"
NAME = "app.kubernetes.io/name"
INSTANCE = "app.kubernetes.io/instance"
COMPONENT = "app.kubernetes.io/component"
ENVIRONMENT = "continuouspipe.io/environment"
SERVICE = "continuouspipe.io/service"

# ContinuousPipe's own labels (§8.2, §10.4).
COMPONENT_IDENTIFIER = naming.COMPONENT_LABEL
SOURCE_OF_INGRESS = "source-of-ingress"
INTERNAL_ENDPOINT = "internal-endpoint"
SERVICE_TYPE = "service-type"

# Annotations.
CHECKSUM = "continuouspipe.io/checksum"
INGRESS_CLASS = "kubernetes.io/ingress.class"
SECURE_BACKENDS = "ingress.kubernetes.io/secure-backends"
REVERSE_PROXY = "kubernetesReverseProxy"

ROLE_WORKLOAD = "workload"
ROLE_SERVICE = "service"
ROLE_ENDPOINT = "endpoint"
ROLE_SECRETS = "secrets"
ROLE_TLS = "tls"
ROLE_STORAGE = "storage"
ROLE_CHECKSUM_KEY = "checksum-key"
ROLE_ENVIRONMENT = "environment"


def selector(identifier: str) -> Dict[str, str]:
    """The pod selector of a component: exactly ContinuousPipe's, so taken-over objects match."""
    return {COMPONENT_IDENTIFIER: identifier}


def common(ctx: Context) -> Dict[str, str]:
    """Labels of every object of the environment."""
    return {MANAGED_BY: ctx.options.managed_by, ENVIRONMENT: ctx.namespace}


def namespace_labels(ctx: Context) -> Dict[str, str]:
    """ContinuousPipe's Namespace labels (``continuous-pipe-environment``, ``created-by``, ``flow``) + ours."""
    try:
        labels = dict(naming.environment_labels(ctx.namespace, ctx.release.flow_uuid))
    except naming.NamingError as error:
        raise DefinitionError(str(error), ("flow", "uuid"), expected="a flow UUID usable as a label value")
    labels.update(common(ctx))
    return labels


def of_service(ctx: Context, identifier: str, role: str, cp_labels: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """Labels of an object belonging to a service: ContinuousPipe's first, then ours."""
    labels = dict(cp_labels or {})
    labels.update(common(ctx))
    labels[SERVICE] = identifier
    labels[NAME] = identifier
    labels[INSTANCE] = ctx.namespace
    labels[COMPONENT] = role
    return labels


def metadata(ctx: Context, name: str, labels: Dict[str, str], annotations: Optional[Dict[str, str]] = None) -> dict:
    """``metadata`` of a namespaced object; annotations sorted by key, omitted when empty."""
    meta = {"name": name, "namespace": ctx.namespace, "labels": labels}
    if annotations:
        meta["annotations"] = {key: annotations[key] for key in sorted(annotations)}
    return meta
