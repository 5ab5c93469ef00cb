"""Local Kubernetes control planes on 127.0.0.1 for tests and the demo.

Each cluster is five processes built from Go modules by ``tests/cluster/build.sh``:

    etcd 3.6 -> kube-apiserver -> kube-controller-manager, kube-scheduler -> kwok (fake kubelets)

with TLS, RBAC (``--authorization-mode=Node,RBAC``), a CA and client certificates generated here,
static bearer tokens (``admin`` in ``system:masters`` and ``limited`` with no group), fake Nodes, a
default StorageClass with a pool of pre-created PersistentVolumes, and kwok Stages
(``tests/cluster/kwok/*.yaml``) that play the kubelet, the cloud load balancer and an ingress controller.

Platform APIs (``apis``, ``--apis gateway,openshift``): the cluster also serves the upstream
CustomResourceDefinitions extracted by ``tests/cluster/crds.sh`` — ``gateway``: Gateway API (standard
channel) with a GatewayClass ``standard`` and a shared Gateway ``gateway-system/shared``; ``openshift``:
the OpenShift Route (route.openshift.io/v1). kwok Stages under ``tests/cluster/kwok/<api>/`` play the
gateway controller and the OpenShift router (status only: nothing routes traffic).

CLI (progress on stderr; ``up`` prints the kubeconfig path as its last line on stdout)::

    cluster.py up NAME [--nodes 2] [--user NAME[:GROUP,...]]... [--volume-binding Immediate] [--apis gateway,openshift]
    cluster.py down NAME | down --all
    cluster.py status
    cluster.py kubeconfig NAME

Library::

    c = Cluster("aws-eu")
    kubeconfig = c.start()      # reuses NAME if it is already running and healthy
    c.api("GET", "/api/v1/nodes")
    c.stop()

State lives in ``${CP_CLUSTERS_DIR:-~/.cache/continuouspipe-kubernetes/clusters}/NAME/``: ``state.json``
(pids, ports, tokens), ``kubeconfig``, ``pki/``, ``logs/<component>.log``, ``logs/audit.log``, ``etcd/``.
The processes run in their own sessions, so they outlive the command that started them.
Nothing is dialled but 127.0.0.1: the apiserver's egress to nodes/pods/services goes to a Unix socket that
does not exist, so ``kubectl logs``/``exec``/proxy fail at once.  See docs/development.md.
"""
from __future__ import annotations

import argparse
import base64
import contextlib
import datetime
import fcntl
import ipaddress
import json
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path
from typing import Any, Callable, Iterable

import yaml

HERE = Path(__file__).resolve().parent
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
SERVICE_CIDR = "10.96.0.0/16"
POD_CIDR = "10.244.0.0/16"
STORAGE_CLASS = "standard"
INGRESS_CLASS = "standard"
# (name prefix, count, size) of the pre-created PersistentVolume pool.
PV_POOL = (("pool-10g", 120, "10Gi"), ("pool-100g", 8, "100Gi"))  # a full test session keeps ~30 claims
DEFAULT_NODES = 2
# Platform APIs a cluster may serve (CRD sets of tests/cluster/crds.sh, kwok Stages in kwok/<name>/).
PLATFORM_APIS = ("gateway", "openshift")
GATEWAY_CLASS = "standard"
GATEWAY_CONTROLLER = "continuouspipe.test/gateway-stand-in"
GATEWAY_NAMESPACE = "gateway-system"
GATEWAY_NAME = "shared"
NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$")

__all__ = ["Cluster", "ClusterError", "clusters_dir", "bin_dir", "crd_dir", "list_clusters"]


class ClusterError(RuntimeError):
    """A control plane could not be started (the message carries the component log tails)."""


def log(msg: str) -> None:
    print(f"[cluster {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "continuouspipe-kubernetes"


def clusters_dir() -> Path:
    env = os.environ.get("CP_CLUSTERS_DIR")
    return Path(env).expanduser().resolve() if env else cache_dir() / "clusters"


_BIN_DIR: Path | None = None
_CRD_DIR: Path | None = None


def bin_dir() -> Path:
    """The directory with the binaries: runs build.sh, which returns at once when they are cached."""
    global _BIN_DIR
    if _BIN_DIR is None:
        res = subprocess.run(["bash", str(HERE / "build.sh")], stdout=subprocess.PIPE, text=True, check=False)
        lines = res.stdout.strip().splitlines()
        if res.returncode != 0 or not lines:
            raise ClusterError(f"tests/cluster/build.sh failed (exit {res.returncode}); see its output above")
        path = Path(lines[-1])
        missing = [c for c in (*COMPONENTS, "kubectl") if not (path / c).is_file()]
        if missing:
            raise ClusterError(f"{path} lacks {', '.join(missing)}; remove it and rerun tests/cluster/build.sh")
        _BIN_DIR = path
    return _BIN_DIR


def crd_dir() -> Path:
    """The directory with the extracted CRD sets: runs crds.sh, which returns at once when they are cached."""
    global _CRD_DIR
    if _CRD_DIR is None:
        res = subprocess.run(["bash", str(HERE / "crds.sh")], stdout=subprocess.PIPE, text=True, check=False)
        lines = res.stdout.strip().splitlines()
        if res.returncode != 0 or not lines:
            raise ClusterError(f"tests/cluster/crds.sh failed (exit {res.returncode}); see its output above")
        path = Path(lines[-1])
        missing = [name for name in PLATFORM_APIS if not (path / name).is_dir()]
        if missing:
            raise ClusterError(f"{path} lacks the CRD sets {', '.join(missing)}; remove it and rerun tests/cluster/crds.sh")
        _CRD_DIR = path
    return _CRD_DIR


def apps_domain(name: str) -> str:
    """The domain the stand-in OpenShift router gives Routes without a host."""
    return f"apps.{name}.test"


# --------------------------------------------------------------------------------------------------
# processes


_CHILDREN: dict[int, subprocess.Popen] = {}  # started by this Python process, so it must reap them


def _proc_stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            data = f.read()
    except OSError:
        return None
    return data[data.rindex(")") + 2:].split()  # fields from 3 (state) on


def _start_ticks(pid: int) -> int | None:
    st = _proc_stat(pid)
    return int(st[19]) if st else None


def _alive(pid: int, ticks: int | None = None) -> bool:
    child = _CHILDREN.get(pid)
    if child is not None and child.poll() is not None:
        return False
    st = _proc_stat(pid)
    if st is None or st[0] in ("Z", "X"):
        return False
    return ticks is None or int(st[19]) == ticks


def _wait_exit(pid: int, ticks: int | None, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid, ticks):
            _CHILDREN.pop(pid, None)
            return True
        time.sleep(0.05)
    return False


def _terminate(procs: dict[str, dict]) -> None:
    """SIGTERM each component's process group in reverse start order, then SIGKILL what is left."""
    for name in reversed(COMPONENTS):
        p = procs.get(name)
        if not p or not _alive(p["pid"], p.get("ticks")):
            continue
        pid, ticks = p["pid"], p.get("ticks")
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)
        if not _wait_exit(pid, ticks, 15 if name in ("kube-apiserver", "etcd") else 5):
            log(f"{name} (pid {pid}) ignored SIGTERM; killing its process group")
        # The group may hold helpers even when the leader is gone.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        _wait_exit(pid, ticks, 5)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path, lines: int = 25) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


# --------------------------------------------------------------------------------------------------
# PKI


def _pki(dir_: Path, name: str) -> None:
    """CA, apiserver serving certificate, one client certificate per identity, service-account key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    dir_.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    later = now + datetime.timedelta(days=3650)

    def write_key(key, stem: str) -> None:
        (dir_ / f"{stem}.key").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        os.chmod(dir_ / f"{stem}.key", 0o600)

    def dn(cn: str, orgs: Iterable[str] = ()) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
                         + [x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (x509.CertificateBuilder().subject_name(dn(f"{name}-ca")).issuer_name(dn(f"{name}-ca"))
               .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now).not_valid_after(later)
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                            crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
               .sign(ca_key, hashes.SHA256()))
    write_key(ca_key, "ca")
    (dir_ / "ca.crt").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))

    def leaf(stem: str, cn: str, orgs: Iterable[str] = (), server: bool = False) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        b = (x509.CertificateBuilder().subject_name(dn(cn, orgs)).issuer_name(ca_cert.subject)
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now).not_valid_after(later)
             .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
             .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                          data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                          crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
             .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server
                                                   else ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
             .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False))
        if server:
            svc_ip = next(ipaddress.ip_network(SERVICE_CIDR).hosts())
            b = b.add_extension(x509.SubjectAlternativeName(
                [x509.DNSName(d) for d in ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                                           "kubernetes.default.svc.cluster.local")]
                + [x509.IPAddress(ipaddress.ip_address(a)) for a in ("127.0.0.1", "::1")]
                + [x509.IPAddress(svc_ip)]), critical=False)
        cert = b.sign(ca_key, hashes.SHA256())
        write_key(key, stem)
        (dir_ / f"{stem}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))

    leaf("apiserver", "kube-apiserver", server=True)
    leaf("admin", "kubernetes-admin", ["system:masters"])
    leaf("kube-controller-manager", "system:kube-controller-manager")
    leaf("kube-scheduler", "system:kube-scheduler")
    leaf("kwok", "kwok-controller", ["system:masters"])

    sa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    write_key(sa, "sa")
    (dir_ / "sa.pub").write_bytes(sa.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))


# --------------------------------------------------------------------------------------------------
# the cluster


AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived"],
    "rules": [
        # The control plane's own writes are not interesting to tests.
        {"level": "None", "users": ["system:kube-controller-manager", "system:kube-scheduler", "kwok-controller",
                                    "system:apiserver"]},
        {"level": "None", "userGroups": ["system:serviceaccounts:kube-system", "system:nodes"]},
        # Token and access reviews are "create" requests that store nothing.
        {"level": "None", "resources": [{"group": "authentication.k8s.io"}, {"group": "authorization.k8s.io"}]},
        {"level": "Metadata", "verbs": ["create", "update", "patch", "delete", "deletecollection"]},
        {"level": "None"},
    ],
}


class Cluster:
    """One local control plane called ``name`` (state under ``clusters_dir()/name``)."""

    def __init__(self, name: str, *, nodes: int = DEFAULT_NODES, users: dict[str, list[str]] | None = None,
                 root: Path | str | None = None, volume_binding: str = "WaitForFirstConsumer",
                 apis: Iterable[str] = ()):
        if not NAME_RE.match(name):
            raise ValueError(f"cluster name {name!r}: use 1-40 lower-case letters, digits and '-'")
        self.name = name
        self.nodes = nodes
        if volume_binding not in ("WaitForFirstConsumer", "Immediate"):
            raise ValueError(f"volume_binding {volume_binding!r}: WaitForFirstConsumer or Immediate")
        self.volume_binding = volume_binding
        self.apis = tuple(sorted(set(apis)))
        unknown = [api for api in self.apis if api not in PLATFORM_APIS]
        if unknown:
            raise ValueError(f"apis {unknown!r}: choose from {', '.join(PLATFORM_APIS)}")
        self.users = {"admin": ["system:masters"], "limited": [], **(users or {})}
        self.root = Path(root).resolve() if root else clusters_dir()
        self.dir = self.root / name
        self.state_file = self.dir / "state.json"
        self.kubeconfig = self.dir / "kubeconfig"
        self.pki = self.dir / "pki"
        self.logs = self.dir / "logs"
        self.state: dict[str, Any] = self._load() or {}

    # ---- state ----------------------------------------------------------------------------------

    def _load(self) -> dict | None:
        try:
            return json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return None

    def _save(self) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state, indent=2, sort_keys=True))
        tmp.replace(self.state_file)

    @contextlib.contextmanager
    def _lock(self):
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / f".{self.name}.lock", "w") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.state['ports']['apiserver']}"

    @property
    def tokens(self) -> dict[str, str]:
        return dict(self.state.get("tokens", {}))

    @property
    def context(self) -> str:
        return self.name

    def processes(self) -> dict[str, dict]:
        return dict(self.state.get("processes", {}))

    def log_path(self, component: str) -> Path:
        return self.logs / f"{component}.log"

    def log_tails(self, lines: int = 25, components: Iterable[str] = COMPONENTS) -> str:
        return "\n".join(f"--- {c} ({self.log_path(c)}), last {lines} lines ---\n{_tail(self.log_path(c), lines)}"
                         for c in components if self.log_path(c).exists())

    # ---- HTTP -----------------------------------------------------------------------------------

    def _ssl(self, client_cert: bool) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.pki / "ca.crt"))
        if client_cert:
            ctx.load_cert_chain(str(self.pki / "admin.crt"), str(self.pki / "admin.key"))
        return ctx

    def api(self, method: str, path: str, body: Any = None, *, user: str | None = None, timeout: float = 10,
            content_type: str = "application/json") -> tuple[int, Any]:
        """One request as the admin certificate (or as static-token ``user``); returns (status, JSON or text)."""
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers["Content-Type"] = content_type
        if user:
            headers["Authorization"] = f"Bearer {self.tokens[user]}"
        req = urllib.request.Request(self.server + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, context=self._ssl(client_cert=not user), timeout=timeout) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        text = raw.decode("utf-8", "replace")
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text

    def _create(self, path: str, obj: dict) -> None:
        status, res = self.api("POST", path, obj)
        if status not in (200, 201, 409):
            raise ClusterError(f"{self.name}: POST {path} {obj['metadata']['name']}: HTTP {status}: {res}")

    # ---- health ---------------------------------------------------------------------------------

    def running(self) -> bool:
        procs = self.processes()
        return bool(procs) and all(_alive(p["pid"], p.get("ticks")) for p in procs.values()) \
            and set(procs) == set(COMPONENTS)

    def _etcd_healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.state['ports']['etcd']}/health", timeout=3) as r:
                return json.loads(r.read()).get("health") == "true"
        except (OSError, ValueError):
            return False

    def _readyz(self) -> bool:
        try:
            status, body = self.api("GET", "/readyz", timeout=5)
        except OSError:
            return False
        return status == 200 and str(body).strip() == "ok"

    def _nodes_ready(self) -> bool:
        status, body = self.api("GET", "/api/v1/nodes")
        if status != 200 or len(body.get("items", [])) < self.nodes:
            return False
        for node in body["items"]:
            conds = {c["type"]: c["status"] for c in node.get("status", {}).get("conditions", [])}
            taints = {t["key"] for t in node.get("spec", {}).get("taints", []) or []}
            if conds.get("Ready") != "True" or "node.kubernetes.io/not-ready" in taints:
                return False
        return True

    def healthy(self) -> bool:
        """All five processes alive, etcd and /readyz healthy, the nodes Ready."""
        if not self.state.get("ready") or not self.running():
            return False
        try:
            return self._etcd_healthy() and self._readyz() and self._nodes_ready()
        except (OSError, ValueError, KeyError):
            return False

    # ---- start ----------------------------------------------------------------------------------

    def start(self, timeout: float = 240) -> Path:
        """Start the control plane (or reuse it when it is already healthy); returns the kubeconfig path."""
        with self._lock():
            self.state = self._load() or {}
            if self.state and self.healthy() and sorted(self.state.get("apis") or []) == list(self.apis):
                log(f"{self.name}: already running at {self.server}; reusing it")
                self.state["reused"] = True
                return self.kubeconfig
            if self.state.get("processes"):
                log(f"{self.name}: found a stale or unhealthy cluster; stopping it first")
                _terminate(self.state["processes"])
            if self.dir.exists():
                shutil.rmtree(self.dir)
            t0 = time.monotonic()
            try:
                self._start(time.monotonic() + timeout)
            except BaseException as e:
                tails = self.log_tails()
                _terminate(self.processes())
                self.state["processes"] = {}
                self.state["failed"] = str(e)
                if self.dir.exists():
                    self._save()  # keep the logs for inspection; the next start or down removes them
                if isinstance(e, ClusterError):
                    raise ClusterError(f"{e}\n{tails}") from None
                raise
            log(f"{self.name}: ready in {time.monotonic() - t0:.1f}s at {self.server}; kubeconfig {self.kubeconfig}")
            return self.kubeconfig

    def _start(self, deadline: float) -> None:
        bins = bin_dir()
        for d in (self.dir, self.logs, self.dir / "kwok", self.dir / "kwok-home"):
            d.mkdir(parents=True, exist_ok=True)
        self.state = {"name": self.name, "bin": str(bins), "nodes": self.nodes, "processes": {}, "ports": {},
                      "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "ready": False,
                      "tokens": {u: secrets.token_hex(16) for u in self.users}}
        self._save()
        log(f"{self.name}: generating certificates and tokens in {self.dir}")
        _pki(self.pki, self.name)
        with open(self.dir / "tokens.csv", "w") as f:
            for user, groups in self.users.items():
                row = f'{self.state["tokens"][user]},{user},{user}'
                f.write(row + (f',"{",".join(groups)}"' if groups else "") + "\n")
        os.chmod(self.dir / "tokens.csv", 0o600)
        (self.dir / "audit-policy.yaml").write_text(yaml.safe_dump(AUDIT_POLICY, sort_keys=False))
        (self.dir / "egress-selector.yaml").write_text(yaml.safe_dump(self._egress_selector(), sort_keys=False))
        octet = 16 + zlib.crc32(self.name.encode()) % 224
        self.state["lb_network"] = f"127.{octet}.0.0/16"
        stage_files = []
        self.state["apis"] = list(self.apis)
        sources = sorted((HERE / "kwok").glob("*.yaml"))  # one kwok Stage per file
        for api in self.apis:  # kwok stops on a Stage whose resource is not served: only the cluster's APIs
            sources += sorted((HERE / "kwok" / api).glob("*.yaml"))
        for src in sources:
            dst = self.dir / "kwok" / (src.name if src.parent.name == "kwok" else f"{src.parent.name}-{src.name}")
            dst.write_text(src.read_text().replace("@LB_OCTET@", str(octet))
                           .replace("@APPS_DOMAIN@", apps_domain(self.name)))
            stage_files.append(dst)

        self._launch_with_retry("etcd", self._etcd_argv, self._etcd_healthy, deadline)
        self._launch_with_retry("kube-apiserver", self._apiserver_argv, self._readyz, deadline)
        self._write_kubeconfigs()
        self._bootstrap_objects()
        if self.apis:
            self._platform_apis(deadline)
        for comp in ("kube-controller-manager", "kube-scheduler"):
            self._launch(comp, self._component_argv(comp))
        self._launch("kwok", self._kwok_argv(stage_files), env={"KWOK_WORKDIR": str(self.dir / "kwok-home")})
        self._wait("nodes Ready", self._nodes_ready, deadline)
        log(f"{self.name}: nodes Ready")
        self._wait("ServiceAccount default/default",
                   lambda: self.api("GET", "/api/v1/namespaces/default/serviceaccounts/default")[0] == 200, deadline)
        self.state["ready"] = True
        self._save()

    def _launch(self, comp: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        with open(self.log_path(comp), "ab") as logf:
            logf.write(f"\n==== {time.strftime('%F %T')} {' '.join(argv)}\n".encode())
            logf.flush()
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                                 cwd=self.dir, start_new_session=True, close_fds=True,
                                 env={**os.environ, **(env or {})})
        _CHILDREN[p.pid] = p
        self.state["processes"][comp] = {"pid": p.pid, "ticks": _start_ticks(p.pid)}
        self._save()

    def _wait(self, what: str, cond: Callable[[], bool], deadline: float, comps: Iterable[str] | None = None) -> None:
        comps = list(comps or self.state["processes"])
        while True:
            for c in comps:
                p = self.state["processes"][c]
                if not _alive(p["pid"], p.get("ticks")):
                    raise ClusterError(f"{self.name}: {c} exited while waiting for {what}")
            try:
                if cond():
                    return
            except (OSError, ValueError, KeyError):
                pass
            if time.monotonic() > deadline:
                raise ClusterError(f"{self.name}: timed out waiting for {what}")
            time.sleep(0.25)

    def _launch_with_retry(self, comp: str, argv_fn: Callable[[], list[str]], ready: Callable[[], bool],
                           deadline: float) -> None:
        """Pick ports right before launching; if the process dies on a port someone else took, try again."""
        for attempt in range(1, 6):
            argv = argv_fn()
            log(f"{self.name}: starting {comp} (ports {self.state['ports']})")
            self._launch(comp, argv)
            try:
                self._wait(f"{comp} to become healthy", ready, deadline, comps=[comp])
                return
            except ClusterError:
                p = self.state["processes"][comp]
                if _alive(p["pid"], p.get("ticks")) or "address already in use" not in _tail(self.log_path(comp), 40):
                    raise
                log(f"{self.name}: {comp} lost a port race (attempt {attempt}); picking new ports")
        raise ClusterError(f"{self.name}: {comp} could not bind a port after 5 attempts")

    # ---- command lines --------------------------------------------------------------------------

    def _etcd_argv(self) -> list[str]:
        client, peer = _free_port(), _free_port()
        self.state["ports"].update(etcd=client, etcd_peer=peer)
        return [str(Path(self.state["bin"]) / "etcd"), f"--name={self.name}", f"--data-dir={self.dir / 'etcd'}",
                f"--listen-client-urls=http://127.0.0.1:{client}", f"--advertise-client-urls=http://127.0.0.1:{client}",
                f"--listen-peer-urls=http://127.0.0.1:{peer}", f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-cluster={self.name}=http://127.0.0.1:{peer}",
                "--unsafe-no-fsync", "--log-level=warn", "--quota-backend-bytes=2147483648"]

    def _egress_selector(self) -> dict:
        """Send the apiserver's traffic to nodes, pods and services (logs, exec, port-forward, the pod and
        service proxy, webhooks by Service) through a Unix socket that does not exist: such requests fail at
        once on this machine instead of dialling the fake node and pod addresses."""
        return {"apiVersion": "apiserver.k8s.io/v1beta1", "kind": "EgressSelectorConfiguration",
                "egressSelections": [{"name": "cluster", "connection": {
                    "proxyProtocol": "HTTPConnect",
                    "transport": {"uds": {"udsName": str(self.dir / "no-egress.sock")}}}}]}

    def _apiserver_argv(self) -> list[str]:
        port = _free_port()
        self.state["ports"]["apiserver"] = port
        pki = self.pki
        return [str(Path(self.state["bin"]) / "kube-apiserver"),
                f"--etcd-servers=http://127.0.0.1:{self.state['ports']['etcd']}",
                "--bind-address=127.0.0.1", f"--secure-port={port}",
                "--advertise-address=127.0.0.1", "--endpoint-reconciler-type=none",
                f"--tls-cert-file={pki / 'apiserver.crt'}", f"--tls-private-key-file={pki / 'apiserver.key'}",
                f"--client-ca-file={pki / 'ca.crt'}", f"--token-auth-file={self.dir / 'tokens.csv'}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={pki / 'sa.pub'}",
                f"--service-account-signing-key-file={pki / 'sa.key'}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--authorization-mode=Node,RBAC", "--allow-privileged=true", "--profiling=false",
                "--kubelet-preferred-address-types=InternalIP",
                f"--egress-selector-config-file={self.dir / 'egress-selector.yaml'}",
                f"--audit-policy-file={self.dir / 'audit-policy.yaml'}", f"--audit-log-path={self.logs / 'audit.log'}",
                "--audit-log-maxsize=100", "--audit-log-maxbackup=1", "--audit-log-format=json"]

    def _component_argv(self, comp: str) -> list[str]:
        argv = [str(Path(self.state["bin"]) / comp), f"--kubeconfig={self.dir / 'kubeconfigs' / (comp + '.yaml')}",
                "--leader-elect=false", "--bind-address=127.0.0.1", "--secure-port=0"]
        if comp == "kube-controller-manager":
            argv += ["--use-service-account-credentials=true", f"--cluster-name={self.name}",
                     f"--flex-volume-plugin-dir={self.dir / 'flexvolume'}",
                     f"--service-account-private-key-file={self.pki / 'sa.key'}",
                     f"--root-ca-file={self.pki / 'ca.crt'}",
                     f"--cluster-signing-cert-file={self.pki / 'ca.crt'}",
                     f"--cluster-signing-key-file={self.pki / 'ca.key'}"]
        return argv

    def _kwok_argv(self, stage_files: list[Path]) -> list[str]:
        return [str(Path(self.state["bin"]) / "kwok"), f"--kubeconfig={self.dir / 'kubeconfigs' / 'kwok.yaml'}",
                *(f"--config={f}" for f in stage_files),
                "--manage-all-nodes=true", "--node-lease-duration-seconds=40", f"--cidr={POD_CIDR}",
                "--node-ip=127.0.1.1"]

    # ---- kubeconfigs and initial objects --------------------------------------------------------

    def _kubeconfig(self, users: dict[str, dict], current: str) -> dict:
        ca = base64.b64encode((self.pki / "ca.crt").read_bytes()).decode()
        return {
            "apiVersion": "v1", "kind": "Config", "preferences": {},
            "clusters": [{"name": self.name, "cluster": {"server": self.server, "certificate-authority-data": ca}}],
            "users": [{"name": n, "user": u} for n, u in users.items()],
            "contexts": [{"name": n, "context": {"cluster": self.name, "user": n}} for n in users],
            "current-context": current,
        }

    def _cert_user(self, stem: str) -> dict:
        return {"client-certificate-data": base64.b64encode((self.pki / f"{stem}.crt").read_bytes()).decode(),
                "client-key-data": base64.b64encode((self.pki / f"{stem}.key").read_bytes()).decode()}

    def _write_kubeconfigs(self) -> None:
        kdir = self.dir / "kubeconfigs"
        kdir.mkdir(exist_ok=True)
        for comp in ("kube-controller-manager", "kube-scheduler", "kwok"):
            (kdir / f"{comp}.yaml").write_text(yaml.safe_dump(
                self._kubeconfig({comp: self._cert_user(comp)}, comp), sort_keys=False))
        users = {self.name: self._cert_user("admin")}
        users.update({f"{self.name}-{u}": {"token": self.state["tokens"][u]} for u in self.users if u != "admin"})
        self.kubeconfig.write_text(yaml.safe_dump(self._kubeconfig(users, self.name), sort_keys=False))
        os.chmod(self.kubeconfig, 0o600)

    def _bootstrap_objects(self) -> None:
        log(f"{self.name}: creating {self.nodes} nodes, StorageClass {STORAGE_CLASS!r}, the PV pool, "
            f"IngressClass {INGRESS_CLASS!r}")
        for i in range(self.nodes):
            node = f"{self.name}-node-{i}"
            self._create("/api/v1/nodes", {
                "apiVersion": "v1", "kind": "Node",
                "metadata": {"name": node,
                             "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
                             "labels": {"type": "kwok", "kubernetes.io/hostname": node, "kubernetes.io/os": "linux",
                                        "kubernetes.io/arch": "amd64", "node.kubernetes.io/instance-type": "kwok",
                                        "topology.kubernetes.io/region": self.name,
                                        "topology.kubernetes.io/zone": f"{self.name}-{'abc'[i % 3]}"}},
                "spec": {"podCIDR": f"10.244.{i}.0/24", "podCIDRs": [f"10.244.{i}.0/24"]},
                "status": {
                    "addresses": [{"type": "InternalIP", "address": f"127.0.1.{i + 1}"},
                                  {"type": "Hostname", "address": node}],
                    "capacity": {"cpu": "32", "memory": "128Gi", "pods": "110", "ephemeral-storage": "200Gi"},
                    "allocatable": {"cpu": "32", "memory": "128Gi", "pods": "110", "ephemeral-storage": "200Gi"},
                    "nodeInfo": {"architecture": "amd64", "operatingSystem": "linux"}},
            })
        self._create("/apis/storage.k8s.io/v1/storageclasses", {
            "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": STORAGE_CLASS, "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "kubernetes.io/no-provisioner", "reclaimPolicy": "Delete",
            "volumeBindingMode": self.volume_binding})
        for prefix, count, size in PV_POOL:
            for i in range(count):
                pv = f"{prefix}-{i:02d}"
                self._create("/api/v1/persistentvolumes", {
                    "apiVersion": "v1", "kind": "PersistentVolume",
                    "metadata": {"name": pv, "labels": {"continuouspipe.test/pv-pool": "true"}},
                    "spec": {"capacity": {"storage": size},
                             "accessModes": ["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany"],
                             "persistentVolumeReclaimPolicy": "Retain", "storageClassName": STORAGE_CLASS,
                             "volumeMode": "Filesystem",
                             "hostPath": {"path": f"/tmp/continuouspipe-pv/{self.name}/{pv}"}}})
        self._create("/apis/networking.k8s.io/v1/ingressclasses", {
            "apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
            "metadata": {"name": INGRESS_CLASS, "annotations": {"ingressclass.kubernetes.io/is-default-class": "true"}},
            "spec": {"controller": "continuouspipe.test/ingress-stand-in"}})

    def _platform_apis(self, deadline: float) -> None:
        """The CRDs of the platform APIs, once Established, and the objects a platform team would have."""
        crds = crd_dir()
        names = []
        for api in self.apis:
            for path in sorted((crds / api).glob("*.yaml")):
                for doc in yaml.safe_load_all(path.read_text()):
                    if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                        self._create("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", doc)
                        names.append(doc["metadata"]["name"])
        log(f"{self.name}: serving {', '.join(self.apis)}: {len(names)} CRDs")

        def established() -> bool:
            for name in names:
                status, body = self.api("GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
                conditions = {c["type"]: c["status"] for c in (body.get("status") or {}).get("conditions") or []} \
                    if status == 200 else {}
                if conditions.get("Established") != "True":
                    return False
            return True

        self._wait("CRDs Established", established, deadline, comps=["kube-apiserver"])
        self._aggregate_to_admin()
        if "gateway" in self.apis:
            self._shared_gateway(deadline)

    def _aggregate_to_admin(self) -> None:
        """The platform's kinds in the admin and edit ClusterRoles (aggregation labels), as OpenShift's
        bootstrap policy has them for Routes: a project's admin manages its routes."""
        rules = []
        if "openshift" in self.apis:
            rules += [{"apiGroups": ["route.openshift.io"], "resources": ["routes"],
                       "verbs": ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"]},
                      {"apiGroups": ["route.openshift.io"], "resources": ["routes/custom-host"], "verbs": ["create"]},
                      {"apiGroups": ["route.openshift.io"], "resources": ["routes/status"], "verbs": ["get"]}]
        if "gateway" in self.apis:
            rules += [{"apiGroups": ["gateway.networking.k8s.io"],
                       "resources": ["httproutes", "gateways", "referencegrants", "listenersets"],
                       "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]}]
        self._create("/apis/rbac.authorization.k8s.io/v1/clusterroles", {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "platform-apis-aggregate-to-admin",
                         "labels": {"rbac.authorization.k8s.io/aggregate-to-admin": "true",
                                    "rbac.authorization.k8s.io/aggregate-to-edit": "true"}},
            "rules": rules})

    def _shared_gateway(self, deadline: float) -> None:
        """GatewayClass ``standard`` and the Gateway ``gateway-system/shared`` (HTTP and HTTPS listeners open
        to routes of every namespace; the HTTPS certificate is a self-signed wildcard of the apps domain)."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        self._create("/apis/gateway.networking.k8s.io/v1/gatewayclasses", {
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass", "metadata": {"name": GATEWAY_CLASS},
            "spec": {"controllerName": GATEWAY_CONTROLLER}})
        self._create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                            "metadata": {"name": GATEWAY_NAMESPACE}})
        key = ec.generate_private_key(ec.SECP256R1())
        host = f"*.{apps_domain(self.name)}"
        now = datetime.datetime.now(datetime.timezone.utc)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=3650))
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
                .sign(key, hashes.SHA256()))
        pem_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        self._create(f"/api/v1/namespaces/{GATEWAY_NAMESPACE}/secrets", {
            "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": f"{GATEWAY_NAME}-tls", "namespace": GATEWAY_NAMESPACE},
            "data": {"tls.crt": base64.b64encode(cert.public_bytes(serialization.Encoding.PEM)).decode(),
                     "tls.key": base64.b64encode(pem_key).decode()}})
        everyone = {"namespaces": {"from": "All"}}
        self._create(f"/apis/gateway.networking.k8s.io/v1/namespaces/{GATEWAY_NAMESPACE}/gateways", {
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": GATEWAY_NAME, "namespace": GATEWAY_NAMESPACE},
            "spec": {"gatewayClassName": GATEWAY_CLASS, "listeners": [
                {"name": "http", "protocol": "HTTP", "port": 80, "allowedRoutes": everyone},
                {"name": "https", "protocol": "HTTPS", "port": 443, "allowedRoutes": everyone,
                 "tls": {"mode": "Terminate", "certificateRefs": [{"name": f"{GATEWAY_NAME}-tls"}]}}]}})

    # ---- stop -----------------------------------------------------------------------------------

    def stop(self, remove: bool = True) -> None:
        """SIGTERM in reverse order, then kill the process groups; remove the state directory."""
        with self._lock():
            self.state = self._load() or self.state
            procs = self.processes()
            if procs:
                log(f"{self.name}: stopping")
                _terminate(procs)
            self.state["processes"] = {}
            if remove and self.dir.exists():
                shutil.rmtree(self.dir)
            elif self.dir.exists():
                self._save()

    def info(self) -> dict:
        return {"name": self.name, "dir": str(self.dir), "kubeconfig": str(self.kubeconfig),
                "server": self.server if self.state.get("ports", {}).get("apiserver") else None,
                "running": self.running(), "processes": self.processes(), "ports": self.state.get("ports", {}),
                "apis": list(self.state.get("apis") or [])}


def list_clusters(root: Path | None = None) -> list[Cluster]:
    """Every cluster with a state directory under ``root`` (and under pytest's private ``.pytest-*`` roots)."""
    root = root or clusters_dir()
    found = []
    for base in [root, *sorted(root.glob(".pytest-*"))] if root.is_dir() else []:
        for d in sorted(base.iterdir()):
            if d.is_dir() and (d / "state.json").exists() and NAME_RE.match(d.name):
                found.append(Cluster(d.name, root=base))
    return found


# --------------------------------------------------------------------------------------------------
# CLI


def _parse_users(specs: list[str]) -> dict[str, list[str]]:
    users = {}
    for spec in specs or []:
        user, _sep, groups = spec.partition(":")
        users[user] = [g for g in groups.split(",") if g]
    return users


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="cluster.py", description=__doc__.split("\n\n", maxsplit=1)[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="start NAME (or reuse it when healthy); prints the kubeconfig path last")
    up.add_argument("name")
    up.add_argument("--nodes", type=int, default=DEFAULT_NODES)
    up.add_argument("--user", action="append", metavar="NAME[:GROUP,...]",
                    help="an extra static-token user (admin and limited always exist)")
    up.add_argument("--volume-binding", choices=("WaitForFirstConsumer", "Immediate"), default="WaitForFirstConsumer",
                    help="volumeBindingMode of the default StorageClass (default: %(default)s)")
    up.add_argument("--apis", default="", metavar="API[,API]",
                    help="platform APIs to serve besides Kubernetes' own: %s" % ", ".join(PLATFORM_APIS))
    up.add_argument("--timeout", type=float, default=240)
    down = sub.add_parser("down", help="stop NAME and remove its state")
    down.add_argument("name", nargs="?")
    down.add_argument("--all", action="store_true")
    sub.add_parser("status", help="list clusters")
    kc = sub.add_parser("kubeconfig", help="print NAME's kubeconfig path")
    kc.add_argument("name")
    args = ap.parse_args(argv)

    if args.cmd == "up":
        c = Cluster(args.name, nodes=args.nodes, users=_parse_users(args.user), volume_binding=args.volume_binding,
                    apis=[api for api in args.apis.split(",") if api])
        try:
            path = c.start(timeout=args.timeout)
        except ClusterError as e:
            print(f"cluster.py: {e}", file=sys.stderr)
            return 1
        print(path)
        return 0
    if args.cmd == "down":
        if args.all == bool(args.name):
            ap.error("down needs NAME or --all")
        targets = list_clusters() if args.all else [Cluster(args.name)]
        for c in targets:
            c.stop()
        if args.all:
            for d in clusters_dir().glob(".pytest-*"):
                shutil.rmtree(d, ignore_errors=True)
        return 0
    if args.cmd == "status":
        rows = [(c.name, "healthy" if c.healthy() else ("running" if c.running() else "stopped"),
                 c.server if c.state.get("ports", {}).get("apiserver") else "-", str(c.kubeconfig))
                for c in list_clusters()]
        if not rows:
            print(f"no clusters under {clusters_dir()}")
        for r in rows:
            print("{:<20} {:<8} {:<26} {}".format(*r))
        return 0
    if args.cmd == "kubeconfig":
        c = Cluster(args.name)
        if not c.kubeconfig.exists():
            print(f"cluster.py: {args.name} has no kubeconfig (not started?)", file=sys.stderr)
            return 1
        print(c.kubeconfig)
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
