# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Watching one object: the API server tells when it changes, instead of being asked every second.

``watch_object(cluster, resource, namespace, name, resource_version, timeout)`` yields
``(event type, object)`` for every change of the object after ``resource_version`` (``ADDED``,
``MODIFIED``, ``DELETED``), until the server ends the watch (after ``timeout`` seconds) or the caller
stops iterating. A watch that cannot be resumed (``410 Gone``: the version is too old) ends with an
``ERROR`` event; the caller reads the object again and watches from there.

The watch goes over the Cluster's connection pool (its ApiClient: authentication, impersonation,
TLS as for every other request), one streamed GET with ``watch=true``.
"""
from __future__ import annotations

import json
from typing import Iterator, Optional, Tuple

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import ClusterError

try:
    from urllib3.exceptions import HTTPError as Urllib3HTTPError
except ImportError:  # pragma: no cover
    class Urllib3HTTPError(Exception):  # type: ignore[no-redef]
        pass


def watch_object(cluster, resource, namespace: str, name: str, resource_version: Optional[str],
                 timeout: float) -> Iterator[Tuple[str, dict]]:
    """Yield ``(type, object)`` of the watch events of one object; raises ClusterError when the watch
    cannot be opened (or the connection drops)."""
    query = [("watch", "true"), ("fieldSelector", "metadata.name=%s" % name),
             ("timeoutSeconds", str(max(1, int(timeout))))]
    if resource_version:
        query.append(("resourceVersion", str(resource_version)))
    headers = {"Accept": "application/json"}
    configuration = cluster.configuration
    if configuration.username and not configuration.api_key:
        headers["Authorization"] = configuration.get_basic_auth_token()
    path = resource.collection_path(namespace)
    api = cluster.api
    response = None
    try:
        method, url, header_params, body, post_params = api.param_serialize(
            "GET", path, query_params=query, header_params=headers, auth_settings=["BearerToken"])
        response = api.call_api(method, url, header_params=header_params, body=body, post_params=post_params,
                                _request_timeout=(15, max(1, int(timeout)) + 15))
        raw = getattr(response, "response", response)
        if not 200 <= response.status <= 299:
            text = raw.data.decode("utf-8", "replace") if getattr(raw, "data", None) else ""
            try:
                text = json.loads(text).get("message") or text
            except (ValueError, AttributeError):
                pass
            raise ClusterError("GET %s (watch): %s (HTTP %s)" % (path, text[:300], response.status),
                               status=response.status)
        pending = b""
        for chunk in raw.stream(8192, decode_content=True):
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                if not line.strip():
                    continue
                try:
                    event = json.loads(line)
                except ValueError:
                    raise ClusterError("GET %s (watch): the API server sent something that is not JSON" % path)
                yield event.get("type") or "", event.get("object") or {}
    except ClusterError:
        raise
    except (Urllib3HTTPError, OSError) as error:
        raise ClusterError("watch of %s/%s in %s: %s" % (resource.kind, name, namespace, error), status=0)
    except Exception as error:  # the client's ApiException and the like
        status = getattr(error, "status", 0) or 0
        raise ClusterError("watch of %s/%s in %s: %s" % (resource.kind, name, namespace, error), status=status)
    finally:
        if response is not None:
            raw = getattr(response, "response", None)
            if raw is not None:
                try:
                    # a watch left early has unread data on its connection: close it rather than
                    # give it back to the pool as it is
                    raw.close()
                    raw.release_conn()
                except Exception:  # pragma: no cover - best effort
                    pass
