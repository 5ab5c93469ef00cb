# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reaching a cluster: connection options, K8S_AUTH_* variables, and a small REST client.

Options are resolved like kubernetes.core resolves them, option by option: the task's option (from
the task itself or ``module_defaults``), else its ``K8S_AUTH_*`` variable(s), else nothing. So an AWX
credential that injects ``K8S_AUTH_KUBECONFIG`` serves tasks that only choose a ``context``, and a
task's ``kubeconfig`` goes with a ``K8S_AUTH_CONTEXT`` of the environment. The configuration is then
built like kubernetes.core builds it: ``host`` with credentials skips the kubeconfig; else a
kubeconfig (the given one, or in-cluster, or the default one) is loaded and the options override it.

Two deliberate differences: an empty option or variable counts as unset (kubernetes.core would send
an empty host or token), and a ``K8S_AUTH_HOST`` of the environment never redirects a task that names
its own ``kubeconfig`` or ``context``: that is refused with an error naming both (kubernetes.core
silently sends such a task, with whatever credentials it has, to the variable's host).

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
    from urllib3.util import make_headers
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

    make_headers = None

# Answers worth another try: throttled (429), and the 5xx of an API server or load balancer in trouble.
RETRYABLE_STATUSES = frozenset((429, 500, 502, 503, 504))
# Answers that mean the API server did not act on the request (API Priority and Fairness rejects
# with 429, an overloaded or starting API server with 503): even a POST can be sent again.
NOT_PROCESSED_STATUSES = frozenset((429, 503))


PROXY_HEADERS_ARGSPEC = dict(
    proxy_basic_auth=dict(type="str", no_log=True),
    basic_auth=dict(type="str", no_log=True),
    user_agent=dict(type="str"),
)

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
    proxy_headers=dict(type="dict", options=PROXY_HEADERS_ARGSPEC),
    persist_config=dict(type="bool"),
    impersonate_user=dict(type="str"),
    impersonate_groups=dict(type="list", elements="str"),
)

# option -> environment variables, first one set wins: K8S_AUTH_<OPTION>, then K8S_AUTH_<name of the
# kubernetes client's attribute> (kubernetes.core's names, including what AWX's credential injects)
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
    persist_config=("K8S_AUTH_PERSIST_CONFIG",),
    impersonate_user=("K8S_AUTH_IMPERSONATE_USER",),
    impersonate_groups=("K8S_AUTH_IMPERSONATE_GROUPS",),
)
# proxy_headers: one variable per header, used only when the task gives no proxy_headers at all
PROXY_HEADERS_ENVIRONMENT = {key: "K8S_AUTH_PROXY_HEADERS_%s" % key.upper() for key in PROXY_HEADERS_ARGSPEC}
BOOLEAN_OPTIONS = ("validate_certs", "persist_config")
FALSE_STRINGS = ("0", "false", "no")  # kubernetes.core: any other value of a boolean variable is true
SOURCES = "_sources"  # key of the settings: option -> "task" or the variable it came from
SENSITIVE_KUBECONFIG_KEYS = ("token", "client-key-data", "password", "refresh-token", "id-token", "access-token")


def _given(value) -> bool:
    """A value a task or a variable gives; an empty string counts as not given."""
    return value is not None and value != ""


def _env_bool(value: str) -> bool:
    return value.lower() not in FALSE_STRINGS


def connection_settings(params: dict, environ=None) -> dict:
    """The effective connection settings, option by option: the task's option, else K8S_AUTH_*.

    ``settings[SOURCES]`` says where each given option came from ("task" or the variable's name);
    ``build_configuration`` uses it to refuse an environment host that would redirect a task that
    names its own kubeconfig or context.
    """
    environ = os.environ if environ is None else environ
    settings = {name: None for name in CONNECTION_ARGSPEC}
    sources = {}
    for name in CONNECTION_ARGSPEC:
        value = params.get(name)
        if _given(value):
            settings[name], sources[name] = value, "task"
            continue
        if name == "proxy_headers":
            headers = {key: environ.get(variable) for key, variable in PROXY_HEADERS_ENVIRONMENT.items()
                       if _given(environ.get(variable))}
            if headers:
                settings[name] = headers
                sources[name] = ",".join(PROXY_HEADERS_ENVIRONMENT[key] for key in headers)
            continue
        for variable in ENVIRONMENT[name]:
            raw = environ.get(variable)
            if not _given(raw):
                continue
            if name in BOOLEAN_OPTIONS:
                settings[name] = _env_bool(raw)
            elif name == "impersonate_groups":
                settings[name] = [group.strip() for group in raw.split(",") if group.strip()]
            else:
                settings[name] = raw
            sources[name] = variable
            break
    settings[SOURCES] = sources
    return settings


def redirect_problem(settings: dict) -> Optional[str]:
    """Why these settings must not be used, or None.

    The one refusal: a host from the environment next to a kubeconfig or context the task names.
    kubernetes.core would send such a task to the variable's host when the variables also hold a token
    (as AWX's credential does: the kubeconfig is not even read) or when the kubeconfig user has a client
    certificate; here the task fails before anything is sent.
    """
    sources = settings.get(SOURCES) or {}
    variable = sources.get("host")
    named = [name for name in ("kubeconfig", "context") if sources.get(name) == "task"]
    if variable and variable != "task" and named:
        return ("the task names its %s, but %s=%s from the environment (an AWX credential?) names another server: "
                "give the task's host too, or leave the variable out (kubernetes.core would go to the variable's "
                "host when the variables also hold a token, or the kubeconfig user has a client certificate)"
                % (" and ".join(named), variable, settings.get("host")))
    return None


def sensitive_values(settings: dict) -> list:
    """Secrets of a connection (token, passwords, inline kubeconfig credentials) for no_log_values."""
    values = [settings.get("api_key"), settings.get("password")]
    headers = settings.get("proxy_headers")
    if isinstance(headers, dict):
        values += [headers.get("proxy_basic_auth"), headers.get("basic_auth")]
    kubeconfig = settings.get("kubeconfig")
    if isinstance(kubeconfig, dict):
        for user in kubeconfig.get("users") or []:
            for key, value in ((user or {}).get("user") or {}).items():
                if key in SENSITIVE_KUBECONFIG_KEYS and isinstance(value, str):
                    values.append(value)
    return [value for value in values if value]


def _has_credentials(settings: dict) -> bool:
    """Enough to authenticate without a kubeconfig (kubernetes.core's rule)."""
    return bool((settings.get("username") and settings.get("password")) or settings.get("api_key")
                or (settings.get("client_cert") and settings.get("client_key")))


#: Schemes of the API server URL and of the proxy URL.
HOST_SCHEMES = ("https", "http")
PROXY_SCHEMES = ("http", "https", "socks4", "socks4a", "socks5", "socks5h")
#: Largest kubeconfig file read.
MAX_KUBECONFIG_BYTES = 16 * 1024 * 1024


def _check_url(name: str, value, schemes) -> None:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value) if isinstance(value, str) else None
        hostname, _port = (parts.hostname, parts.port) if parts else (None, None)
    except ValueError:  # a port that is not a number, a bad IPv6 literal
        parts, hostname = None, None
    if parts is None or parts.scheme.lower() not in schemes or not hostname or any(
            char.isspace() or ord(char) < 32 for char in value):
        raise ClusterError("%s: %r is not a valid URL (expected %s://host[:port])" % (name, value, schemes[0]))


def _check_kubeconfig_file(path: str) -> None:
    """An existing kubeconfig file must be a regular file holding a YAML mapping (parsed as the
    kubernetes client parses it, with PyYAML's pure-Python safe loader: libyaml's composer can
    overflow the C stack on a deeply nested file). Files over 1 MiB are left to the kubernetes
    client (a fleet's kubeconfig may be large); a FIFO would hang it."""
    import stat

    import yaml

    try:
        status = os.stat(path)
    except OSError:
        return  # missing files of a list are skipped, as kubectl and the client do
    if not stat.S_ISREG(status.st_mode):
        raise ClusterError("kubeconfig %s is not a regular file" % path)
    if status.st_size > MAX_KUBECONFIG_BYTES:
        raise ClusterError("kubeconfig %s is too large (%d bytes, at most %d)"
                           % (path, status.st_size, MAX_KUBECONFIG_BYTES))
    if status.st_size > 1024 * 1024:
        return
    try:
        with open(path, "rb") as handle:
            text = handle.read(MAX_KUBECONFIG_BYTES + 1).decode("utf-8-sig")
        data = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError) as error:
        raise ClusterError("kubeconfig %s cannot be read as YAML: %s" % (path, str(error).split("\n", 1)[0]))
    if data is not None and not isinstance(data, dict):
        raise ClusterError("kubeconfig %s is not a kubeconfig file (expected a mapping with clusters, contexts and "
                           "users)" % path)


def check_settings(settings: dict) -> None:
    """Refuse connection values that cannot work (ClusterError naming the option): a host or proxy
    that is not a URL, a kubeconfig that is neither a path nor a mapping."""
    kubeconfig = settings.get("kubeconfig")
    if kubeconfig not in (None, "") and not isinstance(kubeconfig, (str, dict)):
        raise ClusterError("kubeconfig: expected a path or a mapping (the kubeconfig itself), got %s"
                           % type(kubeconfig).__name__)
    if settings.get("host") not in (None, ""):
        _check_url("host", settings["host"], HOST_SCHEMES)
    if settings.get("proxy") not in (None, ""):
        _check_url("proxy", settings["proxy"], PROXY_SCHEMES)


def build_configuration(settings: dict):
    """A ``kubernetes.client.Configuration`` for the settings, as kubernetes.core builds it (raises ClusterError).

    ``host`` with credentials (a token, user and password, or certificate and key) needs no
    kubeconfig; otherwise the given kubeconfig (with the context), or the in-cluster configuration,
    or the default kubeconfig is loaded, and every option given overrides what it says.
    """
    if not HAS_KUBERNETES:
        raise ClusterError("the kubernetes Python client is required: %s" % KUBERNETES_IMPORT_ERROR)
    problem = redirect_problem(settings)
    if problem:
        raise ClusterError(problem)
    check_settings(settings)
    configuration = k8s_client.Configuration()
    host = settings.get("host")
    try:
        if host and _has_credentials(settings):
            pass
        elif settings.get("kubeconfig") or settings.get("context"):
            _load_kubeconfig(configuration, settings)
        elif not _load_incluster(configuration):
            _load_kubeconfig(configuration, settings)
    except (ConfigException, OSError, ValueError, TypeError, AttributeError, KeyError, IndexError) as error:
        raise ClusterError("cannot load the cluster configuration: %s" % error)

    if host:
        configuration.host = host.rstrip("/")
    if settings.get("api_key"):
        configuration.api_key = {"authorization": "Bearer %s" % settings["api_key"]}
    if settings.get("username"):
        configuration.username = settings["username"]
    if settings.get("password"):
        configuration.password = settings["password"]
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
    headers = {key: value for key, value in (settings.get("proxy_headers") or {}).items() if value is not None}
    if headers:
        configuration.proxy_headers = make_headers(**headers)
    configuration.connection_pool_maxsize = 16
    return configuration


def _load_incluster(configuration) -> bool:
    """Load the in-cluster configuration (a pod's service account); False when not in a pod."""
    try:
        k8s_config.load_incluster_config(client_configuration=configuration)
    except ConfigException:
        return False
    return True


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
    options = dict(context=settings.get("context"), client_configuration=configuration,
                   persist_config=bool(settings.get("persist_config")))
    if isinstance(kubeconfig, dict):
        k8s_config.load_kube_config_from_dict(kubeconfig, **options)
        return
    if kubeconfig:
        # a list of paths, as KUBECONFIG: missing files are skipped (kubectl, the client), none is an error
        paths = [os.path.expanduser(path) for path in str(kubeconfig).split(os.pathsep) if path]
        if not any(os.path.exists(path) for path in paths):
            raise ClusterError("kubeconfig %s does not exist" % os.pathsep.join(paths))
        for path in paths:
            _check_kubeconfig_file(path)
        k8s_config.load_kube_config(config_file=os.pathsep.join(paths), **options)
        return
    # $KUBECONFIG as it was when the client was imported, else ~/.kube/config
    default = os.path.expanduser(k8s_config.kube_config.KUBE_CONFIG_DEFAULT_LOCATION)
    if not any(os.path.exists(path) for path in default.split(os.pathsep) if path):
        raise ClusterError("no kubeconfig: the task gives none (kubeconfig or K8S_AUTH_KUBECONFIG), it does not run "
                           "in a pod, and the default kubeconfig %s does not exist" % default)
    k8s_config.load_kube_config(**options)


class RepeatedHeader(str):
    """A header name that may occur several times in one request's header dict.

    Each instance is its own dict key (identity hash and equality), and so is its lower-case form,
    which urllib3 uses as its own key: every instance becomes one header line.
    """

    def __hash__(self):
        return id(self)

    def __eq__(self, other):
        return self is other

    def __ne__(self, other):
        return self is not other

    def lower(self):
        if not hasattr(self, "_lower"):
            self._lower = RepeatedHeader(str.lower(self))  # pylint: disable=attribute-defined-outside-init
            self._lower._lower = self._lower
        return self._lower


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
        for group in settings.get("impersonate_groups") or []:
            # one header per group: the API server takes "a,b" in one header for a single group "a,b"
            cluster.api.set_default_header(RepeatedHeader("Impersonate-Group"), group)
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
