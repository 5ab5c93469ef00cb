# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment:
    # How to reach a cluster. Same names, K8S_AUTH_* variables and precedence as kubernetes.core.
    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Path to a kubeconfig file (or several, separated by C(:), as in E(KUBECONFIG)), or the kubeconfig
        itself as a dict. Exec-credential users (as GKE, EKS and AKS write them) are supported.
      - Falls back to E(K8S_AUTH_KUBECONFIG). Without either, and without O(context), the in-cluster
        configuration is used when the task runs in a pod, else the default kubeconfig (E(KUBECONFIG)
        or C(~/.kube/config)).
    type: raw
  context:
    description:
      - Context of the kubeconfig to use. Falls back to E(K8S_AUTH_CONTEXT), then the kubeconfig's current
        context.
    type: str
  host:
    description:
      - URL of the API server (C(https://host[:port])). Falls back to E(K8S_AUTH_HOST).
      - With credentials (O(api_key), O(username) and O(password), or O(client_cert) and O(client_key))
        no kubeconfig is read. Otherwise the host replaces the kubeconfig's server, except for a
        kubeconfig user with a token or an exec plugin, whose server the kubernetes client puts back
        before each request (with kubernetes.core too).
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
        E(K8S_AUTH_VERIFY_SSL) (what the AWX Kubernetes credential injects); C(0), C(false) and C(no), in
        any case, mean false and any other value true, as in kubernetes.core.
      - Without it, certificates are verified unless the kubeconfig says otherwise.
    type: bool
    aliases: [verify_ssl]
  proxy:
    description:
      - Proxy URL for the API server (C(http://), C(https://) or C(socks5://) C(host:port)). Falls back
        to E(K8S_AUTH_PROXY).
    type: str
  no_proxy:
    description:
      - Comma-separated hosts not to proxy. Falls back to E(K8S_AUTH_NO_PROXY).
    type: str
  proxy_headers:
    description:
      - Headers for the HTTP proxy of O(proxy).
      - Without it, each header falls back to its variable,
        E(K8S_AUTH_PROXY_HEADERS_PROXY_BASIC_AUTH), E(K8S_AUTH_PROXY_HEADERS_BASIC_AUTH) and
        E(K8S_AUTH_PROXY_HEADERS_USER_AGENT); when the task gives O(proxy_headers), none of them is read.
    type: dict
    version_added: 0.2.0
    suboptions:
      proxy_basic_auth:
        description: C(user:password) for the proxy's basic authentication (C(Proxy-Authorization)).
        type: str
      basic_auth:
        description: C(user:password) for a basic C(Authorization) header sent to the proxy.
        type: str
      user_agent:
        description: C(User-Agent) header for the proxy, such as C(deployer/1.0).
        type: str
  persist_config:
    description:
      - Write refreshed credentials (OIDC or other refresh tokens of the kubeconfig user) back to the
        kubeconfig file, so that the next run does not use an expired refresh token. Falls back to
        E(K8S_AUTH_PERSIST_CONFIG); default false.
      - Only for a kubeconfig given as a file.
    type: bool
    version_added: 0.2.0
  impersonate_user:
    description:
      - User to impersonate. Falls back to E(K8S_AUTH_IMPERSONATE_USER).
    type: str
  impersonate_groups:
    description:
      - Groups to impersonate, one C(Impersonate-Group) header each. Falls back to
        E(K8S_AUTH_IMPERSONATE_GROUPS) (comma-separated).
    type: list
    elements: str
attributes:
  platform:
    support: full
    platforms: posix
    description: Runs wherever the task runs (usually the control node); needs the kubernetes Python client there.
notes:
  - "Each connection option is resolved on its own, as in kubernetes.core: the task's option (including
    C(module_defaults) and the action group C(group/continuouspipe.kubernetes.kubernetes)), else its
    E(K8S_AUTH_*) variable, else nothing. So an AWX credential that injects E(K8S_AUTH_KUBECONFIG)
    serves tasks that only choose a O(context), and a task's O(kubeconfig) goes with a
    E(K8S_AUTH_CONTEXT) of the environment. An empty option or variable counts as not given."
  - "One combination is refused: a E(K8S_AUTH_HOST) of the environment next to a O(kubeconfig) or
    O(context) given by the task. kubernetes.core sends such a task to the variable's host (with the
    variable's token when there is one, skipping the kubeconfig altogether), which in a multi-cluster
    inventory would deploy every cluster's release to the one cluster of the credential; here the task
    fails before anything is sent, naming the variable. Give the task's O(host) too, or leave the
    credential out of the job."
requirements:
  - kubernetes >= 30.1.0 (the official Python client)
"""
