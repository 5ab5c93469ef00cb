# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Environments on OpenShift: Projects, and the record that says whose environment one is.

On OpenShift a deployer usually holds the ``admin`` role of its projects and nothing cluster-wide: it may
neither create Namespaces nor label them. So, on the ``openshift`` platform:

* a missing environment is requested as a Project — ``POST /apis/project.openshift.io/v1/projectrequests``,
  what ``oc new-project`` does; the requester becomes the project's admin — when the cluster serves
  project.openshift.io; otherwise (a cluster that serves Routes but not Projects) a Namespace is created;
* who the environment belongs to is written on the ConfigMap ``continuouspipe-environment`` in it (the
  environment's *record*, ``kinds.ENVIRONMENT_RECORD``): the labels and the origin annotation a Namespace
  carries elsewhere, believed only when managedFields show this collection wrote them
  (``ownership.check_namespace`` reads the record as it reads a Namespace);
* an existing project (made by its administrators) without a record is someone else's until a deploy with
  ``take_over: true`` records it as *adopted*: a teardown then deletes only what the project wrote in it;
  a project this collection requested is deleted whole (``DELETE .../projects/<name>``, which a project's
  admin may do).

A Namespace this identity cannot see is answered 403 by OpenShift whether it exists or not; a project
request for a name someone else holds is answered 409 (AlreadyExists): that is an error naming the
project and saying the identity has no access to it.
"""
from __future__ import annotations

import time
from typing import Optional

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import kinds
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import ownership
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import plan as planning
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster.platform import (
    PROJECT_REQUEST_API,
    serves,
)
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import ClusterError

PROJECT_API = ("project.openshift.io/v1", "Project")
VISIBLE_TIMEOUT = 60.0  # a requested project's namespace and admin RoleBinding appear within seconds


def _namespace(cluster, name: str) -> Optional[dict]:
    """The Namespace, or None when it does not exist or this identity may not see it (OpenShift: 403)."""
    try:
        return cluster.get(cluster.resource("v1", "Namespace"), name)
    except ClusterError as error:
        if error.status == 403:
            return None
        raise


def live_record(cluster, namespace: str) -> Optional[dict]:
    """The environment record of a namespace (one GET); None when there is none or it may not be read."""
    try:
        return cluster.get(cluster.resource("v1", "ConfigMap"), kinds.ENVIRONMENT_RECORD, namespace)
    except ClusterError as error:
        if error.status in (401, 403):
            return None
        raise


def check_environment(cluster, namespace_object: Optional[dict], project: str, take_over: bool = False,
                      action: str = "deploy to", hint: str = ownership.TAKE_OVER_HINT) -> ownership.NamespaceVerdict:
    """``ownership.check_namespace`` of a live Namespace, or of its record when the Namespace itself does
    not say (an OpenShift project): raises the Namespace's OwnershipError when neither is the project's."""
    try:
        return ownership.check_namespace(namespace_object, project, take_over, action=action, hint=hint)
    except ownership.OwnershipError:
        name = ((namespace_object or {}).get("metadata") or {}).get("name")
        record = live_record(cluster, name) if name else None
        if record is None:
            raise
        return ownership.check_namespace(record, project, take_over, action=action, hint=hint)


def project_request(name: str, project: str) -> dict:
    """The body of ``POST /apis/project.openshift.io/v1/projectrequests`` (what ``oc new-project`` sends)."""
    return {"apiVersion": PROJECT_REQUEST_API[0], "kind": PROJECT_REQUEST_API[1], "metadata": {"name": name},
            "displayName": name, "description": "ContinuousPipe environment of project %s" % project}


def request_project(cluster, name: str, project: str) -> bool:
    """Request the Project ``name`` (True), or create a Namespace where Projects are not served (False)."""
    if serves(cluster, PROJECT_REQUEST_API):
        body = project_request(name, project)
        path = cluster.resource(*PROJECT_REQUEST_API).collection_path()
        try:
            cluster.request("POST", path, query={"fieldManager": planning.FIELD_MANAGER}, body=body)
        except ClusterError as error:
            if error.status == 409:
                raise ownership.OwnershipError(
                    "project %s exists and this identity has no access to it: it belongs to someone else "
                    "(ask its administrators for the admin role and deploy with take_over: true, or choose "
                    "another environment name)" % name)
            if error.status == 403:
                raise ClusterError("this identity may not request project %s (OpenShift's self-provisioner role is "
                                   "not granted): ask the cluster administrators for the project, then deploy to it "
                                   "with take_over: true (%s)" % (name, error), status=403)
            raise
        return True
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    try:
        cluster.request("POST", cluster.resource("v1", "Namespace").collection_path(),
                        query={"fieldManager": planning.FIELD_MANAGER}, body=body)
    except ClusterError as error:
        if error.status != 409:
            raise
    return False


def _wait_visible(cluster, name: str, timeout: float = VISIBLE_TIMEOUT) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        live = _namespace(cluster, name)
        if live is not None:
            return live
        if time.monotonic() > deadline:
            raise ClusterError("project %s was requested but its namespace is still not visible after %ds"
                               % (name, int(timeout)), status=0)
        time.sleep(0.25)


def claim(cluster, namespace: str, record: dict, project: str, operation: str, take_over: bool = False,
          check_mode: bool = False) -> ownership.NamespaceVerdict:
    """Make sure ``project`` may write in the OpenShift environment ``namespace``; request it when missing.

    ``record`` is the stamped environment record (origin ``created``); it is created with a POST, so of
    two runs racing for a new environment one writes it and the other finds it and is checked against it.
    Raises OwnershipError; check mode requests and writes nothing.
    """
    live = _namespace(cluster, namespace)
    created = False
    if live is None:
        if check_mode:
            return ownership.NamespaceVerdict("missing", ownership.CREATED)
        request_project(cluster, namespace, project)
        live = _wait_visible(cluster, namespace)
        created = True
    if (live.get("metadata") or {}).get("deletionTimestamp"):
        raise ClusterError("project %s is being deleted; %s again once it is gone" % (namespace, operation),
                           status=409)
    action = "deploy to" if operation == "deploy" else "%s in" % operation
    existing = live_record(cluster, namespace)
    if existing is None and not created:
        # an existing project without a record: its owner has to be named, unless the namespace's own labels
        # say it is this project's (an environment created before it was deployed as an OpenShift one)
        verdict = ownership.check_namespace(live, project, take_over, action=action)
        origin = verdict.origin if verdict.state != "taken-over" else ownership.ADOPTED
    else:
        origin = ownership.CREATED
    if existing is None:
        if check_mode:
            return ownership.NamespaceVerdict("missing" if created else "ours", origin)
        body = _with_origin(record, origin)
        try:
            cluster.request("POST", cluster.resource("v1", "ConfigMap").collection_path(namespace),
                            query={"fieldManager": planning.FIELD_MANAGER}, body=body)
        except ClusterError as error:
            if error.status != 409:
                raise
            existing = live_record(cluster, namespace)
        else:
            verdict = ownership.NamespaceVerdict("ours", origin, created=created)
            if origin == ownership.ADOPTED:
                verdict.warning = ("project %s was not created by this collection: it is recorded as adopted by "
                                   "project %s (take_over: true); a teardown deletes only what it wrote" % (
                                       namespace, project))
            return verdict
    verdict = ownership.check_namespace(existing, project, take_over, action=action)
    verdict.created = created
    return verdict


def _with_origin(record: dict, origin: str) -> dict:
    body = dict(record)
    meta = dict(body.get("metadata") or {})
    annotations = dict(meta.get("annotations") or {})
    annotations[ownership.ORIGIN_ANNOTATION] = origin
    meta["annotations"] = annotations
    body["metadata"] = meta
    return planning.stamp(body, "", meta.get("namespace"), ((meta.get("labels") or {}).get(planning.PROJECT_LABEL)),
                          origin)


def delete_project(cluster, name: str, check_mode: bool = False) -> bool:
    """Delete a project this collection requested (a Namespace where Projects are not served)."""
    if serves(cluster, PROJECT_API):
        return cluster.delete(cluster.resource(*PROJECT_API), name, dry_run=check_mode)
    return cluster.delete(cluster.resource("v1", "Namespace"), name, dry_run=check_mode)
