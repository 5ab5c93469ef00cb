# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Volumes, volume mounts and PersistentVolumeClaims (docs/behaviour.md §9.4, §9.5).

Pod volumes: ``persistent`` ⇒ ``persistentVolumeClaim.claimName: <name>``; ``hostPath`` ⇒
``hostPath.path``; ``emptyDirectory`` ⇒ ``emptyDir: {}``; ``nfs`` ⇒ ``nfs: {server, path}``.

PVCs: one per distinct ``persistent`` volume name (PVC names are namespace-wide, so components
declaring the same volume share it, as in ContinuousPipe): ``accessModes: [ReadWriteOnce]``,
``resources.requests.storage: <capacity>``. The apply stage creates a PVC only when it is missing
and never modifies it (§9.4).

Deviation — storage class: ContinuousPipe wrote ``storage_class`` (default ``default``) into the
``volume.alpha.kubernetes.io/storage-class`` and ``volume.beta.kubernetes.io/storage-class``
annotations. The beta annotation still overrides ``storageClassName`` in the PV controller, and
``default`` is rarely a real class, so those annotations are not written. Instead
``storage_class: default`` (or unset) maps to ``TranslateOptions.storage_class`` — when that is
None, ``storageClassName`` is omitted and the cluster's default StorageClass applies — and any
other value becomes ``storageClassName``.

A persistent volume without ``capacity`` is an error (ContinuousPipe sent a PVC without a storage
request, which the API server rejects).
"""
from __future__ import annotations

from typing import Dict, List, Tuple

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import model
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import DefinitionError, format_path
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.translate import labels, validation
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.translate.plans import Context

PERSISTENT = "persistent"
HOST_PATH = "hostPath"
EMPTY_DIRECTORY = "emptyDirectory"
NFS = "nfs"
TYPES = (PERSISTENT, HOST_PATH, EMPTY_DIRECTORY, NFS)
DEFAULT_STORAGE_CLASS = "default"


def _volume_path(ctx: Context, service: model.Service, index: int) -> tuple:
    return ctx.service_path(service) + ("specification", "volumes", index)


def pod_volume(volume: model.Volume, path) -> dict:
    """The pod ``volumes[]`` entry of a volume (§9.5)."""
    validation.dns_label(volume.name, path + ("name",), "volume name")
    if volume.type == PERSISTENT:
        return {"name": volume.name, "persistentVolumeClaim": {"claimName": volume.name}}
    if volume.type == HOST_PATH:
        if not volume.path:
            raise DefinitionError("a hostPath volume needs a path", path + ("path",), expected="an absolute host path")
        return {"name": volume.name, "hostPath": {"path": volume.path}}
    if volume.type == EMPTY_DIRECTORY:
        return {"name": volume.name, "emptyDir": {}}
    if volume.type == NFS:
        if not volume.server:
            raise DefinitionError("an nfs volume needs a server", path + ("server",), expected="an NFS server address")
        if not volume.path:
            raise DefinitionError("an nfs volume needs a path", path + ("path",), expected="the exported path")
        return {"name": volume.name, "nfs": {"server": volume.server, "path": volume.path}}
    raise DefinitionError("unknown volume type %r" % (volume.type,), path + ("type",),
                          expected="one of " + ", ".join(TYPES))


# What the restricted-v2 SecurityContextConstraints of OpenShift (and the "restricted" Pod Security
# Standard) let a pod mount: no host paths, and no NFS mounts of the pod's own.
RESTRICTED_FORBIDDEN = (HOST_PATH, NFS)


def check_restricted(volume: model.Volume, path) -> None:
    """A volume a restricted pod (OpenShift's restricted-v2) cannot mount is an error naming its key."""
    if volume.type in RESTRICTED_FORBIDDEN:
        raise DefinitionError(
            "volume %r is of type %s, which pods under OpenShift's restricted-v2 security context constraints "
            "cannot mount" % (volume.name, volume.type), path + ("type",),
            expected="persistent or emptyDirectory volumes (a PersistentVolume can hold the NFS export)")


def pod_volumes(ctx: Context, members: List[model.Service]) -> List[dict]:
    """The volumes of a pod: every member's volumes, in order; one entry per name.

    The same name declared twice must describe the same volume.
    """
    seen: Dict[str, Tuple[dict, tuple]] = {}
    out = []
    for service in members:
        for index, volume in enumerate(service.volumes):
            path = _volume_path(ctx, service, index)
            entry = pod_volume(volume, path)
            if ctx.options.platform.restricted_pods:
                check_restricted(volume, path)
            if volume.name in seen:
                if seen[volume.name][0] != entry:
                    raise DefinitionError(
                        "volume %r is declared differently at %s" % (
                            volume.name, format_path(seen[volume.name][1])), path,
                        expected="one definition per volume name in a pod")
                continue
            seen[volume.name] = (entry, path)
            out.append(entry)
    return out


def volume_mounts(ctx: Context, service: model.Service, volume_names) -> List[dict]:
    """``volumeMounts`` of a container; each must name a volume of its pod."""
    out = []
    for index, mount in enumerate(service.volume_mounts):
        path = ctx.service_path(service) + ("specification", "volume_mounts", index)
        if mount.name not in volume_names:
            raise DefinitionError(
                "volume mount refers to an unknown volume %r" % (mount.name,), path + ("name",),
                expected="the name of a volume of this service's pod (%s)" % (
                    ", ".join(sorted(volume_names)) or "none declared"))
        if not mount.mount_path or not str(mount.mount_path).startswith("/"):
            raise DefinitionError("mount_path must be an absolute path", path + ("mount_path",),
                                  expected="an absolute path such as /data")
        out.append({"name": mount.name, "mountPath": mount.mount_path, "readOnly": bool(mount.read_only)})
    return out


def storage_class_name(ctx: Context, volume: model.Volume):
    """None (omit ``storageClassName``) or the class to request."""
    if volume.storage_class in (None, "", DEFAULT_STORAGE_CLASS):
        return ctx.options.storage_class
    return volume.storage_class


def claim(ctx: Context, service: model.Service, volume: model.Volume, path) -> dict:
    """The PersistentVolumeClaim of a ``persistent`` volume (§9.4)."""
    validation.dns_subdomain(volume.name, path + ("name",), "volume name")
    if volume.capacity in (None, ""):
        raise DefinitionError("a persistent volume needs a capacity", path + ("capacity",),
                              expected="a storage size such as 5Gi")
    spec = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": validation.quantity(volume.capacity, path + ("capacity",), "capacity")}},
    }
    storage_class = storage_class_name(ctx, volume)
    if storage_class:
        validation.dns_subdomain(storage_class, path + ("storage_class",), "storage class")
        spec["storageClassName"] = storage_class
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": labels.metadata(ctx, volume.name, labels.of_service(ctx, service.identifier, labels.ROLE_STORAGE)),
        "spec": spec,
    }


def claims(ctx: Context, services: List[model.Service]) -> Tuple[List[dict], Dict[str, List[str]]]:
    """PVCs of a deploy task, one per volume name, and the claim names each service uses.

    A volume shared by several services must ask for the same capacity and class everywhere.
    """
    out: List[dict] = []
    first: Dict[str, Tuple[dict, tuple]] = {}
    used: Dict[str, List[str]] = {}
    for service in services:
        used[service.identifier] = []
        for index, volume in enumerate(service.volumes):
            if volume.type != PERSISTENT:
                continue
            path = _volume_path(ctx, service, index)
            pvc = claim(ctx, service, volume, path)
            if volume.name in first:
                previous, previous_path = first[volume.name]
                if previous["spec"] != pvc["spec"]:
                    raise DefinitionError(
                        "persistent volume %r is also declared at %s with another capacity or storage class" % (
                            volume.name, format_path(previous_path)), path,
                        expected="the same capacity and storage_class wherever a volume name is used")
            else:
                first[volume.name] = (pvc, path)
                out.append(pvc)
            if volume.name not in used[service.identifier]:
                used[service.identifier].append(volume.name)
    return out, used
