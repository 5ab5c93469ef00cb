# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment:
    # How to reach a cluster. Same names and K8S_AUTH_* variables as kubernetes.core.
    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Path to a kubeconfig file, or the kubeconfig itself as a dict. Exec-credential users (as GKE,
        EKS and AKS write them) are supported.
      - Falls back to E(K8S_AUTH_KUBECONFIG), then in-cluster configuration, then C(~/.kube/config).
    type: raw
  context:
    description:
      - Context of the kubeconfig to use. Falls back to E(K8S_AUTH_CONTEXT), then the current context.
    type: str
  host:
    description:
      - URL of the API server. Falls back to E(K8S_AUTH_HOST).
      - With I(api_key), I(client_cert) or I(username) the kubeconfig is not read.
    type: str
  api_key:
    description:
      - Bearer token. Falls back to E(K8S_AUTH_API_KEY).
    type: str
  username:
    description:
      - Basic-auth user name. Falls back to E(K8S_AUTH_USERNAME).
    type: str
  password:
    description:
      - Basic-auth password. Falls back to E(K8S_AUTH_PASSWORD).
    type: str
  client_cert:
    description:
      - Path to a client certificate. Falls back to E(K8S_AUTH_CLIENT_CERT) or E(K8S_AUTH_CERT_FILE).
    type: path
    aliases: [cert_file]
  client_key:
    description:
      - Path to the client certificate's key. Falls back to E(K8S_AUTH_CLIENT_KEY) or E(K8S_AUTH_KEY_FILE).
    type: path
    aliases: [key_file]
  ca_cert:
    description:
      - Path to the CA certificate of the API server. Falls back to E(K8S_AUTH_CA_CERT) or
        E(K8S_AUTH_SSL_CA_CERT) (what the AWX Kubernetes credential injects).
    type: path
    aliases: [ssl_ca_cert]
  validate_certs:
    description:
      - Verify the API server's certificate. Falls back to E(K8S_AUTH_VALIDATE_CERTS) or
        E(K8S_AUTH_VERIFY_SSL); C(0), C(false) and C(no) mean false.
    type: bool
    aliases: [verify_ssl]
  proxy:
    description:
      - HTTP proxy URL for the API server. Falls back to E(K8S_AUTH_PROXY).
    type: str
  no_proxy:
    description:
      - Comma-separated hosts not to proxy. Falls back to E(K8S_AUTH_NO_PROXY).
    type: str
  impersonate_user:
    description:
      - User to impersonate. Falls back to E(K8S_AUTH_IMPERSONATE_USER).
    type: str
  impersonate_groups:
    description:
      - Groups to impersonate. Falls back to E(K8S_AUTH_IMPERSONATE_GROUPS) (comma-separated).
    type: list
    elements: str
attributes:
  platform:
    support: full
    platforms: posix
    description: Runs wherever the task runs (usually the control node); needs the kubernetes Python client there.
notes:
  - Options given to the task (including through C(module_defaults) and the action group
    C(group/continuouspipe.kubernetes.kubernetes)) always win over E(K8S_AUTH_*) variables. When a task
    names a I(kubeconfig), I(context) or I(host), no connection variable of the environment is used
    at all, so an AWX credential's variables never redirect a task that names its cluster.
requirements:
  - kubernetes >= 30.1.0 (the official Python client)
"""
