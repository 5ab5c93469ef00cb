"""Pod volumes, mounts and PersistentVolumeClaims (docs/behaviour.md §9.4, §9.5)."""
from __future__ import annotations

import pytest

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import DefinitionError

from translate_fixtures import container, find, kinds, render, web

PATH = "tasks.deployment.deploy.services.web.specification"


def _pod_volumes(rendered, name="web"):
    return find(rendered, "Deployment", name)["spec"]["template"]["spec"]["volumes"]


@pytest.mark.parametrize("volume, expected", [
    ({"name": "data", "type": "persistent", "capacity": "5Gi"}, {"name": "data", "persistentVolumeClaim": {"claimName": "data"}}),
    ({"name": "sock", "type": "hostPath", "path": "/var/run/docker.sock"}, {"name": "sock", "hostPath": {"path": "/var/run/docker.sock"}}),
    ({"name": "tmp", "type": "emptyDirectory"}, {"name": "tmp", "emptyDir": {}}),
    ({"name": "share", "type": "nfs", "server": "nfs.local", "path": "/exports"},
     {"name": "share", "nfs": {"server": "nfs.local", "path": "/exports"}}),
])
def test_pod_volume_types(volume, expected):
    assert _pod_volumes(render(web(volumes=[volume]))) == [expected]


def test_volume_mounts():
    rendered = render(web(volumes=[{"name": "tmp", "type": "emptyDirectory"}],
                          volume_mounts=[{"name": "tmp", "mount_path": "/tmp"},
                                         {"name": "tmp", "mount_path": "/cache", "read_only": True}]))
    assert container(rendered, "web")["volumeMounts"] == [
        {"name": "tmp", "mountPath": "/tmp", "readOnly": False},
        {"name": "tmp", "mountPath": "/cache", "readOnly": True},
    ]


def test_pvc():
    rendered = render(web(volumes=[{"name": "uploads", "type": "persistent", "capacity": "5Gi", "storage_class": "default"}]))
    pvc = find(rendered, "PersistentVolumeClaim", "uploads")
    assert pvc["spec"] == {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "5Gi"}}}
    assert "annotations" not in pvc["metadata"]
    assert ("PersistentVolumeClaim", "uploads") in [(r.kind, r.name) for r in rendered.components["web"].objects]


@pytest.mark.parametrize("storage_class, option, expected", [
    (None, None, None),
    ("default", None, None),
    ("default", "standard-rwo", "standard-rwo"),
    (None, "standard-rwo", "standard-rwo"),
    ("fast-ssd", None, "fast-ssd"),
    ("fast-ssd", "standard-rwo", "fast-ssd"),
])
def test_storage_class_mapping(storage_class, option, expected):
    volume = {"name": "data", "type": "persistent", "capacity": "1Gi", "storage_class": storage_class}
    pvc = find(render(web(volumes=[volume]), options_data={"storage_class": option}), "PersistentVolumeClaim", "data")
    assert pvc["spec"].get("storageClassName") == expected


@pytest.mark.parametrize("volume, key", [
    ({"name": "data", "type": "persistent"}, "volumes[0].capacity"),
    ({"name": "data", "type": "persistent", "capacity": "five gigs"}, "volumes[0].capacity"),
    ({"name": "sock", "type": "hostPath"}, "volumes[0].path"),
    ({"name": "share", "type": "nfs", "path": "/x"}, "volumes[0].server"),
    ({"name": "x", "type": "configMap"}, "volumes[0].type"),
    ({"name": "Bad_Name", "type": "emptyDirectory"}, "volumes[0].name"),
])
def test_volume_errors_name_the_key(volume, key):
    with pytest.raises(DefinitionError) as error:
        render(web(volumes=[volume]))
    assert error.value.key_path == PATH + "." + key


def test_mount_of_an_unknown_volume():
    with pytest.raises(DefinitionError) as error:
        render(web(volume_mounts=[{"name": "missing", "mount_path": "/data"}]))
    assert error.value.key_path == PATH + ".volume_mounts[0].name"


def test_relative_mount_path():
    with pytest.raises(DefinitionError) as error:
        render(web(volumes=[{"name": "tmp", "type": "emptyDirectory"}], volume_mounts=[{"name": "tmp", "mount_path": "tmp"}]))
    assert error.value.key_path == PATH + ".volume_mounts[0].mount_path"


def test_shared_pvc_is_rendered_once_and_listed_by_both_components():
    volume = {"name": "shared", "type": "persistent", "capacity": "1Gi"}
    rendered = render(web(volumes=[volume]), web(name="api", volumes=[volume]))
    assert [k for k in kinds(rendered) if k[0] == "PersistentVolumeClaim"] == [("PersistentVolumeClaim", "shared")]
    for name in ("web", "api"):
        assert ("PersistentVolumeClaim", "shared") in [(r.kind, r.name) for r in rendered.components[name].objects]


def test_shared_pvc_with_another_capacity_is_an_error():
    with pytest.raises(DefinitionError) as error:
        render(web(volumes=[{"name": "shared", "type": "persistent", "capacity": "1Gi"}]),
               web(name="api", volumes=[{"name": "shared", "type": "persistent", "capacity": "2Gi"}]))
    assert error.value.key_path == "tasks.deployment.deploy.services.api.specification.volumes[0]"
    assert "services.web.specification.volumes[0]" in error.value.message


def test_same_volume_in_a_pod_declared_twice_differently_is_an_error():
    with pytest.raises(DefinitionError) as error:
        render(web(volumes=[{"name": "code", "type": "emptyDirectory"}]),
               {"name": "fpm", "pod": "web", "image": "acme/fpm", "volumes": [{"name": "code", "type": "hostPath", "path": "/x"}]})
    assert error.value.key_path == "tasks.deployment.deploy.services.fpm.specification.volumes[0]"
