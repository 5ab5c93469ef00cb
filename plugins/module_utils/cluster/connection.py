# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reaching a cluster: connection options, K8S_AUTH_* variables, and a small REST client.

Options mirror kubernetes.core (names, aliases, environment variables), with one deliberate
difference: options given to the task always win. When a task names ``kubeconfig``, ``context`` or
``host``, no connection variable of the environment is used, so an AWX credential injected into the
job never redirects a task that says which cluster it wants.

``Cluster`` wraps one ``kubernetes.client.ApiClient`` and talks JSON to the REST API directly: server
side apply, list, get, delete. Kinds are resolved from a built-in table of the kinds this
collection writes, then from API discovery (cached per client) for anything else.
"""
from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import ClusterError

try:
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config
    from kubernetes.client.rest import ApiException
    from kubernetes.config.config_exception import ConfigException

    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None
except ImportError as import_error:  # pragma: no cover - reported by the module
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = import_error

    class ApiException(Exception):  # type: ignore[no-redef]
        status = 0

    class ConfigException(Exception):  # type: ignore[no-redef]
        pass

try:
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError, ReadTimeoutError, SSLError
    from urllib3.exceptions import HTTPError as Urllib3HTTPError
except ImportError:  # pragma: no cover
    class Urllib3HTTPError(Exception):  # type: ignore[no-redef]
        pass

    class ConnectTimeoutError(Urllib3HTTPError):  # type: ignore[no-redef]
        pass

    class NewConnectionError(Urllib3HTTPError):  # type: ignore[no-redef]
        pass

    class ReadTimeoutError(Urllib3HTTPError):  # type: ignore[no-redef]
        pass

    class SSLError(Urllib3HTTPError):  # type: ignore[no-redef]
        pass

# Answers worth another try: throttled (429), and the 5xx of an API server or load balancer in trouble.
RETRYABLE_STATUSES = frozenset((429, 500, 502, 503, 504))
# Answers that mean the API server did not act on the request (API Priority and Fairness rejects
# with 429, an overloaded or starting API server with 503): even a POST can be sent again.
NOT_PROCESSED_STATUSES = frozenset((429, 503))


CONNECTION_ARGSPEC = dict(
    kubeconfig=dict(type="raw", no_log=False),
    context=dict(type="str"),
    host=dict(type="str"),
    api_key=dict(type="str", no_log=True),
    username=dict(type="str"),
    password=dict(type="str", no_log=True),
    client_cert=dict(type="path", aliases=["cert_file"]),
    client_key=dict(type="path", aliases=["key_file"], no_log=False),
    ca_cert=dict(type="path", aliases=["ssl_ca_cert"]),
    validate_certs=dict(type="bool", aliases=["verify_ssl"]),
    proxy=dict(type="str"),
    no_proxy=dict(type="str"),
    impersonate_user=dict(type="str"),
    impersonate_groups=dict(type="list", elements="str"),
)

# option -> environment variables, first found wins (kubernetes.core's names)
ENVIRONMENT = dict(
    kubeconfig=("K8S_AUTH_KUBECONFIG",),
    context=("K8S_AUTH_CONTEXT",),
    host=("K8S_AUTH_HOST",),
    api_key=("K8S_AUTH_API_KEY",),
    username=("K8S_AUTH_USERNAME",),
    password=("K8S_AUTH_PASSWORD",),
    client_cert=("K8S_AUTH_CLIENT_CERT", "K8S_AUTH_CERT_FILE"),
    client_key=("K8S_AUTH_CLIENT_KEY", "K8S_AUTH_KEY_FILE"),
    ca_cert=("K8S_AUTH_CA_CERT", "K8S_AUTH_SSL_CA_CERT"),
    validate_certs=("K8S_AUTH_VALIDATE_CERTS", "K8S_AUTH_VERIFY_SSL"),
    proxy=("K8S_AUTH_PROXY",),
    no_proxy=("K8S_AUTH_NO_PROXY",),
    impersonate_user=("K8S_AUTH_IMPERSONATE_USER",),
    impersonate_groups=("K8S_AUTH_IMPERSONATE_GROUPS",),
)
TARGET_OPTIONS = ("kubeconfig", "context", "host")
SENSITIVE_KUBECONFIG_KEYS = ("token", "client-key-data", "password", "refresh-token", "id-token", "access-token")


def _env_bool(value: str) -> bool:
    return value.strip().lower() not in ("0", "false", "no", "off", "")


def connection_settings(params: dict, environ=None) -> dict:
    """The effective connection settings: task options first, then K8S_AUTH_* variables.

    If the task names its target (kubeconfig, context or host), the environment is not consulted.
    """
    environ = os.environ if environ is None else environ
    settings = {name: params.get(name) for name in CONNECTION_ARGSPEC}
    if any(settings.get(name) not in (None, "") for name in TARGET_OPTIONS):
        return settings
    for name, variables in ENVIRONMENT.items():
        if settings.get(name) not in (None, "", []):
            continue
        for variable in variables:
            value = environ.get(variable)
            if value in (None, ""):
                continue
            if name == "validate_certs":
                settings[name] = _env_bool(value)
            elif name == "impersonate_groups":
                settings[name] = [group.strip() for group in value.split(",") if group.strip()]
            else:
                settings[name] = value
            break
    return settings


def sensitive_values(settings: dict) -> list:
    """Secrets of a connection (token, password, inline kubeconfig credentials) for no_log_values."""
    values = [settings.get("api_key"), settings.get("password")]
    kubeconfig = settings.get("kubeconfig")
    if isinstance(kubeconfig, dict):
        for user in kubeconfig.get("users") or []:
            for key, value in ((user or {}).get("user") or {}).items():
                if key in SENSITIVE_KUBECONFIG_KEYS and isinstance(value, str):
                    values.append(value)
    return [value for value in values if value]


def build_configuration(settings: dict):
    """A ``kubernetes.client.Configuration`` for the settings (raises ClusterError)."""
    if not HAS_KUBERNETES:
        raise ClusterError("the kubernetes Python client is required: %s" % KUBERNETES_IMPORT_ERROR)
    configuration = k8s_client.Configuration()
    host = settings.get("host")
    has_credentials = any(settings.get(name) for name in ("api_key", "username", "client_cert"))
    try:
        if host and has_credentials:
            configuration.host = host.rstrip("/")
        elif settings.get("kubeconfig") or settings.get("context") or not host:
            _load_kubeconfig(configuration, settings)
            if host:
                configuration.host = host.rstrip("/")
        else:
            configuration.host = host.rstrip("/")
    except (ConfigException, OSError, ValueError, TypeError) as error:
        raise ClusterError("cannot load the cluster configuration: %s" % error)

    if settings.get("api_key"):
        configuration.api_key = {"authorization": "Bearer %s" % settings["api_key"]}
    if settings.get("username"):
        configuration.username = settings["username"]
        configuration.password = settings.get("password") or ""
    if settings.get("client_cert"):
        configuration.cert_file = settings["client_cert"]
    if settings.get("client_key"):
        configuration.key_file = settings["client_key"]
    if settings.get("ca_cert"):
        configuration.ssl_ca_cert = settings["ca_cert"]
    if settings.get("validate_certs") is not None:
        configuration.verify_ssl = bool(settings["validate_certs"])
    if settings.get("proxy"):
        configuration.proxy = settings["proxy"]
    if settings.get("no_proxy"):
        configuration.no_proxy = settings["no_proxy"]
    configuration.connection_pool_maxsize = 16
    return configuration


class _LogCapture(logging.Handler):
    """Collects what the kubeconfig loader logs: a failing exec plugin is only logged, not raised."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.messages = []

    def emit(self, record):
        try:
            self.messages.append(record.getMessage())
        except Exception:  # pragma: no cover - a broken log record must not break loading
            pass


def _load_kubeconfig(configuration, settings: dict) -> None:
    capture = _LogCapture()
    root = logging.getLogger()
    root.addHandler(capture)
    try:
        _load_kubeconfig_file(configuration, settings)
    finally:
        root.removeHandler(capture)
    has_credentials = configuration.api_key or configuration.cert_file or configuration.username
    if capture.messages and not has_credentials:
        # e.g. an exec credential plugin (aws eks get-token, gke-gcloud-auth-plugin) that failed: the
        # client would go on without credentials and get a puzzling 401/403 as system:anonymous
        raise ClusterError("cannot get the credentials of the kubeconfig user: %s" % "; ".join(capture.messages))


def _load_kubeconfig_file(configuration, settings: dict) -> None:
    kubeconfig = settings.get("kubeconfig")
    context = settings.get("context")
    if isinstance(kubeconfig, dict):
        k8s_config.load_kube_config_from_dict(
            kubeconfig, context=context, client_configuration=configuration, persist_config=False)
        return
    if kubeconfig:
        paths = [os.path.expanduser(path) for path in str(kubeconfig).split(os.pathsep) if path]
        for path in paths:
            if not os.path.exists(path):
                raise ClusterError("kubeconfig %s does not exist" % path)
        k8s_config.load_kube_config(
            config_file=os.pathsep.join(paths), context=context, client_configuration=configuration,
            persist_config=False)
        return
    if not context and os.environ.get("KUBERNETES_SERVICE_HOST"):
        k8s_config.load_incluster_config(client_configuration=configuration)
        return
    k8s_config.load_kube_config(context=context, client_configuration=configuration, persist_config=False)


# --------------------------------------------------------------------------------------------------
# Transient failures


@dataclass
class RetryPolicy:
    """Bounded exponential backoff with full jitter.

    A failed attempt is tried again after ``uniform(0, min(cap, base * 2**(n-1)))`` seconds (at least
    what a 429's ``Retry-After`` asks, up to ``cap``), at most ``attempts`` times in all and never
    beyond ``budget`` seconds since the first attempt.
    """

    attempts: int = 6
    base: float = 0.25
    cap: float = 8.0
    budget: float = 60.0

    def delay(self, attempt: int, elapsed: float, failure: "_Transient", idempotent: bool) -> Optional[float]:
        """Seconds to wait before attempt ``attempt + 1``, or None to give up."""
        if failure.sent and not idempotent:
            return None
        if attempt >= self.attempts:
            return None
        delay = random.uniform(0, min(self.cap, self.base * 2 ** (attempt - 1)))
        if failure.retry_after is not None:
            delay = max(delay, min(self.cap, failure.retry_after))
        if elapsed + delay > self.budget:
            return None
        return delay


class _Transient(Exception):
    """One attempt that may succeed if tried again: ``error`` is what it ended with."""

    def __init__(self, error, sent: bool, timed_out: bool = False, retry_after: Optional[float] = None):
        super().__init__(str(error))
        self.cause = error
        self.sent = sent
        self.timed_out = timed_out
        self.retry_after = retry_after

    def summary(self) -> str:
        if isinstance(self.cause, ClusterError):
            return "HTTP %s" % self.cause.status
        return "no answer (timed out)" if self.timed_out else type(self.cause).__name__

    def error(self, name: str, method: str, path: str, attempts: int, elapsed: float) -> ClusterError:
        """The ClusterError to raise once no further attempt is made."""
        tries = "after %d attempt%s over %.1fs" % (attempts, "" if attempts == 1 else "s", elapsed)
        if isinstance(self.cause, ClusterError):
            if attempts == 1:
                return self.cause
            return ClusterError("%s (%s)" % (self.cause, tries), status=self.cause.status, reason=self.cause.reason)
        if self.timed_out:
            text = "the API server of %s is unresponsive: %s %s got no answer %s" % (name, method, path, tries)
        else:
            text = "cannot reach the API server of %s (%s %s) %s: %s" % (name, method, path, tries, self.cause)
        if self.sent and attempts == 1 and method == "POST":
            text += " (the request was sent: whether it took effect is unknown)"
        return ClusterError(text, status=0, reason="Unreachable")


def _retry_after(response) -> Optional[float]:
    try:
        value = response.getheader("Retry-After")
    except Exception:  # pragma: no cover - a response without headers
        return None
    try:
        return max(0.0, float(value)) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------------------------------
# Resources


@dataclass(frozen=True)
class Resource:
    api_version: str
    kind: str
    plural: str
    namespaced: bool

    def collection_path(self, namespace: Optional[str] = None) -> str:
        base = "/api/%s" % self.api_version if "/" not in self.api_version else "/apis/%s" % self.api_version
        if self.namespaced and namespace:
            return "%s/namespaces/%s/%s" % (base, namespace, self.plural)
        return "%s/%s" % (base, self.plural)

    def path(self, name: str, namespace: Optional[str] = None, subresource: Optional[str] = None) -> str:
        path = "%s/%s" % (self.collection_path(namespace), name)
        return "%s/%s" % (path, subresource) if subresource else path


KNOWN_RESOURCES = {
    (r.api_version, r.kind): r for r in (
        Resource("v1", "Namespace", "namespaces", False),
        Resource("v1", "Secret", "secrets", True),
        Resource("v1", "ConfigMap", "configmaps", True),
        Resource("v1", "PersistentVolumeClaim", "persistentvolumeclaims", True),
        Resource("v1", "Service", "services", True),
        Resource("v1", "Pod", "pods", True),
        Resource("v1", "ServiceAccount", "serviceaccounts", True),
        Resource("v1", "Event", "events", True),
        Resource("v1", "ReplicationController", "replicationcontrollers", True),
        Resource("apps/v1", "Deployment", "deployments", True),
        Resource("apps/v1", "ReplicaSet", "replicasets", True),
        Resource("apps/v1", "StatefulSet", "statefulsets", True),
        Resource("networking.k8s.io/v1", "Ingress", "ingresses", True),
        Resource("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies", True),
        Resource("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings", True),
        Resource("rbac.authorization.k8s.io/v1", "Role", "roles", True),
        Resource("authorization.k8s.io/v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews", False),
    )
}


class Cluster:
    """One API server, spoken to as JSON over the official client's connection pool.

    Thread-safe: one instance is shared by the apply stage's worker pool.
    """

    # (connect, read) seconds of one attempt; a watch or a log read passes its own
    request_timeout = (10.0, 30.0)

    def __init__(self, configuration, name: str = "", user_agent: str = "continuouspipe.kubernetes",
                 retry_policy: Optional[RetryPolicy] = None):
        self.configuration = configuration
        # the retries are ours (RetryPolicy), not urllib3's: it would retry a sent request blindly
        configuration.retries = False
        self.name = name or configuration.host
        self.retry_policy = retry_policy or RetryPolicy()
        self.retries: list = []  # (method, path, what failed) of every attempt that was tried again
        self._unreachable_until = 0.0  # monotonic time until which requests are not retried
        self.api = k8s_client.ApiClient(configuration)
        self.api.user_agent = user_agent
        self._resources: Dict[Tuple[str, str], Resource] = dict(KNOWN_RESOURCES)
        self._discovered_versions = set()
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: dict, name: str = "") -> "Cluster":
        cluster = cls(build_configuration(settings), name=name)
        if settings.get("impersonate_user"):
            cluster.api.set_default_header("Impersonate-User", settings["impersonate_user"])
        if settings.get("impersonate_groups"):
            cluster.api.set_default_header("Impersonate-Group", ",".join(settings["impersonate_groups"]))
        return cluster

    def close(self) -> None:
        try:
            self.api.close()
        except Exception:  # pragma: no cover - best effort at shutdown
            pass

    # -- raw requests ------------------------------------------------------------------------------

    def request(self, method: str, path: str, query=None, body=None, content_type: str = "application/json",
                timeout=None, raw: bool = False, idempotent: Optional[bool] = None):
        """Send one request; return the decoded JSON body (or None). Raises ClusterError.

        With ``raw``, the body as bytes (pod logs are text, not JSON). Transient failures are retried
        (see :class:`RetryPolicy`): a 429 or 503 always (the API server did not act on the request),
        other 5xx answers and lost connections only when the request is ``idempotent`` (by default:
        every method but POST). When the retries are exhausted, or the API server does not answer in
        time, the error has ``status`` 0 and says the API server is unresponsive.
        """
        headers = {"Accept": "*/*" if raw else "application/json", "Content-Type": content_type}
        if self.configuration.username and not self.configuration.api_key:
            # kubernetes >= 35 no longer sends basic auth from the configuration by itself
            headers["Authorization"] = self.configuration.get_basic_auth_token()
        query_params = [(key, value) for key, value in (query or {}).items() if value is not None]
        if isinstance(body, (str, bytes)) and _is_json(content_type):
            # the REST layer serialises JSON bodies itself: give it the object, not its text
            body = json.loads(body)
        if idempotent is None:
            idempotent = method != "POST"
        policy = self.retry_policy
        attempt, started = 0, time.monotonic()
        # once the retries of one request were exhausted without an answer, the next requests get one
        # attempt each until the API server answers again: a failing deploy and its rollback do not
        # multiply the backoff by every object they touch
        down = self._unreachable_until > started
        while True:
            attempt += 1
            try:
                data = self._send(method, path, query_params, headers, body,
                                  self.request_timeout if timeout is None else timeout)
                self._unreachable_until = 0.0
                break
            except _Transient as failure:
                delay = None if down else policy.delay(attempt, time.monotonic() - started, failure, idempotent)
                if delay is None:
                    error = failure.error(self.name, method, path, attempt, time.monotonic() - started)
                    if error.status == 0:
                        self._unreachable_until = time.monotonic() + policy.budget
                    raise error
                with self._lock:
                    self.retries.append((method, path, failure.summary()))
                time.sleep(delay)
        if raw:
            return data or b""
        return json.loads(data) if data else None

    def _send(self, method, path, query_params, headers, body, timeout) -> bytes:
        """One attempt: the body of a 2xx answer; raises ClusterError, or _Transient to be retried."""
        try:
            method_, url, header_params, body_, post_params = self.api.param_serialize(
                method, path, query_params=query_params, header_params=headers, body=body,
                auth_settings=["BearerToken"])
            response = self.api.call_api(method_, url, header_params=header_params, body=body_,
                                         post_params=post_params, _request_timeout=timeout)
            data = response.read()
        except (SSLError, ApiException) as error:
            # the client reports TLS failures as ApiException(status=0): a certificate that does not
            # verify stays so (no second attempt); a connection cut mid-handshake or mid-request
            # (the API server went away) is like any lost connection
            if isinstance(error, ApiException) and getattr(error, "status", 0):
                raise api_error(error, method, path)
            text = str(getattr(error, "reason", None) or error)
            if "certificate" in text.lower() or "CERTIFICATE" in text:
                raise ClusterError("cannot reach the API server of %s (%s %s): %s" % (self.name, method, path, text),
                                   status=0, reason="Unreachable")
            raise _Transient(error=ConnectionError(text.replace("\n", ": ")), sent=True)
        except (ConnectTimeoutError, NewConnectionError, ConnectionRefusedError) as error:
            # never sent: always safe to try again
            raise _Transient(error=error, sent=False)
        except (ReadTimeoutError, TimeoutError) as error:  # sent, no answer in time
            raise _Transient(error=error, sent=True, timed_out=True)
        except (Urllib3HTTPError, OSError) as error:
            raise _Transient(error=error, sent=True)
        if 200 <= response.status <= 299:
            return data
        failure = api_error(ApiException(http_resp=response), method, path)
        if response.status in RETRYABLE_STATUSES:
            raise _Transient(error=failure, sent=response.status not in NOT_PROCESSED_STATUSES,
                             retry_after=_retry_after(response))
        raise failure

    # -- resources ---------------------------------------------------------------------------------

    def resource(self, api_version: str, kind: str) -> Resource:
        key = (api_version, kind)
        if key not in self._resources:
            self._discover(api_version)
        try:
            return self._resources[key]
        except KeyError:
            raise ClusterError("the cluster %s does not serve %s %s" % (self.name, api_version, kind), status=404)

    def resource_for(self, obj: dict) -> Resource:
        return self.resource(obj.get("apiVersion", ""), obj.get("kind", ""))

    def _discover(self, api_version: str) -> None:
        with self._lock:
            if api_version in self._discovered_versions:
                return
            self._discovered_versions.add(api_version)
        path = "/api/%s" % api_version if "/" not in api_version else "/apis/%s" % api_version
        try:
            listing = self.request("GET", path)
        except ClusterError as error:
            if error.status == 404:
                return
            raise
        for item in (listing or {}).get("resources", []):
            if "/" in item.get("name", ""):
                continue
            resource = Resource(api_version, item["kind"], item["name"], bool(item.get("namespaced")))
            self._resources.setdefault((api_version, item["kind"]), resource)

    def get(self, obj_or_resource, name: str = None, namespace: str = None) -> Optional[dict]:
        """The live object, or None if it does not exist."""
        resource, name, namespace = self._locate(obj_or_resource, name, namespace)
        try:
            return self.request("GET", resource.path(name, namespace))
        except ClusterError as error:
            if error.status == 404:
                return None
            raise

    def list(self, resource: Resource, namespace: str = None, label_selector: str = None,
             field_selector: str = None) -> list:
        body = self.request("GET", resource.collection_path(namespace),
                            query={"labelSelector": label_selector, "fieldSelector": field_selector})
        items = (body or {}).get("items") or []
        for item in items:
            item.setdefault("apiVersion", resource.api_version)
            item.setdefault("kind", resource.kind)
        return items

    def apply(self, obj: dict, field_manager: str, force: bool = True, dry_run: bool = False) -> dict:
        """Server-side apply of ``obj`` (a full manifest); returns the object the server holds."""
        resource = self.resource_for(obj)
        meta = obj.get("metadata") or {}
        query = {"fieldManager": field_manager, "force": "true" if force else None,
                 "dryRun": "All" if dry_run else None}
        return self.request("PATCH", resource.path(meta["name"], meta.get("namespace")), query=query,
                            body=json.dumps(obj), content_type="application/apply-patch+yaml")

    def delete(self, obj_or_resource, name: str = None, namespace: str = None, propagation: str = "Background",
               dry_run: bool = False, uid: Optional[str] = None) -> bool:
        """Delete an object; False if it was already gone. With ``uid``, only that very object (one
        re-created under the same name since is left alone: False)."""
        resource, name, namespace = self._locate(obj_or_resource, name, namespace)
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation}
        if uid:
            body["preconditions"] = {"uid": uid}
        if dry_run:
            # With a DeleteOptions body the API server ignores the query parameters: a ?dryRun=All
            # next to a body deletes for real. The dry run must be in the body.
            body["dryRun"] = ["All"]
        try:
            self.request("DELETE", resource.path(name, namespace), body=body)
        except ClusterError as error:
            if error.status == 404 or (uid and error.status == 409):
                return False
            raise
        return True

    def _locate(self, obj_or_resource, name, namespace):
        if isinstance(obj_or_resource, Resource):
            return obj_or_resource, name, namespace
        meta = obj_or_resource.get("metadata") or {}
        return self.resource_for(obj_or_resource), meta.get("name"), meta.get("namespace")


def _is_json(content_type: str) -> bool:
    """``application/json`` and its ``+json`` variants (merge and strategic-merge patches)."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def api_error(error, method: str, path: str) -> ClusterError:
    """A ClusterError carrying the API's Status message and HTTP status."""
    status = getattr(error, "status", 0) or 0
    reason = getattr(error, "reason", "") or ""
    message = reason
    body = getattr(error, "body", None)
    if body:
        try:
            decoded = json.loads(body)
            message = decoded.get("message") or message
            reason = decoded.get("reason") or reason
        except (ValueError, TypeError, AttributeError):
            message = str(body)[:500]
    text = "%s %s: %s (HTTP %s %s)" % (method, path, message, status, reason)
    if status == 401:
        text += ": the API server rejected the credentials (token, client certificate or exec plugin output)"
    return ClusterError(text, status=status, reason=reason)


def connect(params: dict, environ=None, name: str = "") -> Cluster:
    """A Cluster for module options (task options first, then K8S_AUTH_* variables)."""
    return Cluster.from_settings(connection_settings(params, environ), name=name)
