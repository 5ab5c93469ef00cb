#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: deploy
short_description: Deploy the services of a ContinuousPipe deploy task to one Kubernetes cluster
version_added: 0.2.0
description:
  - Loads C(continuous-pipe.yml) and C(docker-compose.yml) for one branch, translates one deploy task
    into the objects of its environment (namespace) and deploys them to one cluster, the way
    ContinuousPipe did, with server-side apply.
  - "Phases: the Namespace; Secrets, PersistentVolumeClaims and internal Services; public endpoint
    Services and Ingresses; then the module waits for their addresses and translates the task again
    so that containers get C(SERVICE_<NAME>_PUBLIC_ENDPOINT) and C(ENDPOINT_<NAME>_PUBLIC_ENDPOINT);
    any other objects; the workloads. Objects of one phase are applied concurrently."
  - An object is only written when it differs from what is live, so a second run of an unchanged
    deployment sends no write request and reports C(changed=false).
  - Every created or updated workload is waited for with C(kubectl rollout status) semantics. The wait
    fails within seconds when a rollout cannot succeed (C(CrashLoopBackOff), C(ImagePullBackOff),
    C(ErrImagePull), C(CreateContainerConfigError), C(InvalidImageName), an unschedulable pod, a
    C(ProgressDeadlineExceeded) Deployment), with the failing pods' conditions and events.
  - When the deploy fails after it wrote something, the environment is rolled back (O(rollback)).
  - Each deploy that changed something is recorded as a release (a Secret
    C(cp-release.<task>.v<N>) in the namespace); see M(continuouspipe.kubernetes.rollback).
  - Objects the task deployed before and no longer renders are deleted (O(prune)); ContinuousPipe
    never deleted anything.
  - All objects are labelled C(continuouspipe.io/task=<task>),
    C(app.kubernetes.io/managed-by=continuouspipe.kubernetes) and C(continuouspipe.io/project=<flow
    uuid>), and annotated with C(continuouspipe.io/applied), the sha256 of the applied manifest (Secret
    data excluded).
  - "Ownership: an environment belongs to one project (O(flow_uuid)). The module never writes into,
    prunes in, or overwrites objects of a namespace that belongs to another project, or to nobody this
    collection knows (created by hand, by another tool, by ContinuousPipe): it stops before the first
    write, naming the owner. O(take_over) takes over deliberately. Ownership is proven by the API
    server's C(managedFields) (this collection's field manager wrote the labels), never by labels
    alone: an object someone else labelled like ours is neither pruned nor believed."
  - "One writer per environment: a run that has something to write takes the environment's lock, a
    C(coordination.k8s.io/v1) Lease C(continuouspipe-lock) renewed while it runs. A second run waits
    for it (O(lock_timeout)), then fails naming the holder and since when. A lock whose holder
    stopped renewing it (a killed run) is taken over once stale (30 seconds). An unchanged rerun
    takes no lock and writes nothing."
  - "Write-ahead release record: the release is recorded as C(pending) before the first write, then
    C(deployed) or C(failed). A run that finds a pending release (an interrupted run) completes it
    (waits for every workload) or replaces it, and says so in a warning."
  - Requests that fail transiently (HTTP 429 honouring C(Retry-After), 5xx, lost connections) are
    retried with bounded exponential backoff and jitter when they are safe to repeat; an API server
    that does not answer is reported as unresponsive, never as a workload failure.
author:
  - ContinuousPipe for Ansible maintainers (@continuouspipe)
extends_documentation_fragment:
  - continuouspipe.kubernetes.source
  - continuouspipe.kubernetes.connection
  - continuouspipe.kubernetes.platform
options:
  task:
    description:
      - Identifier of the deploy task to deploy. Required when the pipelines of the branch have more
        than one deploy task.
    type: str
  namespace:
    description:
      - Deploy into this namespace instead of the task's environment name (C(environment.name), by
        default C(<flow_uuid>-<branch>)).
    type: str
  wait:
    description:
      - Wait until every created or updated Deployment is rolled out (and bare Pods ready).
      - C(attached) pods are always waited for.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for each workload. Default is ContinuousPipe's formula per service
        (C(60 + initial_delay_seconds + period_seconds * failure_threshold) of its readiness probe,
        else 1800). From 1 to 604800 (7 days).
    type: int
  endpoint_timeout:
    description:
      - Seconds to wait for the address of each public endpoint (load balancer, ingress), from 1 to
        604800.
    type: int
    default: 900
  rollback:
    description:
      - What to do when the deploy fails after writing to the cluster.
      - V(release) returns the objects this deploy wrote to the last recorded release (their manifests
        re-applied, objects this deploy created deleted, except PersistentVolumeClaims and the
        Namespace) and waits for the rolled-back workloads.
      - V(revision) is ContinuousPipe's behaviour, each updated Deployment goes back one revision
        (as C(kubectl rollout undo)) and the Service named after a created service is deleted.
      - V(none) leaves everything as it is; the error lists the objects in their new state.
    type: str
    choices: [release, revision, none]
    default: release
  prune:
    description:
      - Delete the objects labelled with this task in the namespace that the task no longer renders
        (services removed from C(continuous-pipe.yml), endpoints removed). V(false) is ContinuousPipe's
        behaviour.
      - A task with no service to deploy (an empty C(services) mapping, or every service's condition
        false) would prune every workload and Service of the environment; it is an error unless
        I(allow_empty_services) is set.
    type: bool
    default: true
  allow_empty_services:
    description:
      - Deploy a task that has no service to deploy for this branch, which with I(prune) deletes every
        workload and Service of the task from the environment.
      - By default such a task is an error naming its C(services), before anything is sent to the
        cluster (an emptied C(services) in a branch must not empty production).
    type: bool
    default: false
  prune_volumes:
    description:
      - Also delete PersistentVolumeClaims the task no longer renders (their data is lost).
    type: bool
    default: false
  history_limit:
    description:
      - How many releases of the task to keep in the namespace, from 1 to 1000.
    type: int
    default: 10
  concurrency:
    description:
      - How many objects of one phase are applied at the same time, from 1 to 64.
    type: int
    default: 8
  deploy_variables:
    description:
      - Deploy-time variables of earlier tasks, as ContinuousPipe passed them from task to task,
        C(SERVICE_<NAME>_PUBLIC_ENDPOINT) (from the RV(variables) of an earlier deploy) and
        C(__TASK_<ID>_TARGET_ENVIRONMENT_NAME).
    type: dict
    default: {}
  tasks_context:
    description:
      - What earlier tasks exposed, for C(environment.name) expressions such as
        C(tasks.infrastructure.services.database.created). Map each task identifier to a dict with
        the RV(services) result of that task's deploy, as in the examples.
    type: dict
    default: {}
  node_port_address:
    description:
      - Address reported for NodePort endpoints (ContinuousPipe's C(node-port-address) cluster
        policy). Without it they are reported as C(unknown-node-address).
    type: str
  take_over:
    description:
      - Deploy into a namespace, or over objects, that do not belong to this project (another
        project's, ContinuousPipe's, created by hand or by another tool). They become this project's;
        an existing namespace taken over is recorded as adopted, and a teardown then deletes only what
        the project wrote in it. A warning names what was taken over.
      - Needed once to move an environment ContinuousPipe created to this collection.
    type: bool
    default: false
  foreign_fields:
    description:
      - Fields of a Deployment's pod template that other field managers set and the release does not
        (an env var added with C(kubectl set env)), which server-side apply would leave in place.
      - V(remove) puts the release's pod template back exactly (the pods are rolled once).
        V(fail) stops before any write, naming the fields and who set them. V(keep) leaves them.
      - The annotation C(kubectl.kubernetes.io/restartedAt) of C(kubectl rollout restart) is always
        kept.
    type: str
    choices: [remove, fail, keep]
    default: remove
  lock_timeout:
    description:
      - Seconds to wait for the environment's lock when another deploy, rollback or teardown holds it.
        V(0) fails at once; at most 604800 (7 days).
    type: int
    default: 600
  progress_interval:
    description:
      - While rollouts are waited for, print a progress line at most every that many seconds (which
        workloads are ready, how many pods of the others are, their first pod's state, the time
        waited); V(0) prints none.
      - Lines are printed while the task runs when it runs in the controller's process (the default
        for a task whose connection is local, see the notes); a module run on a remote host cannot
        print before it ends.
    type: int
    default: 10
attributes:
  check_mode:
    support: full
    description: Every create, update and delete is a server-side dry run (C(dryRun=All)); nothing is
      written, no release is recorded and nothing is waited for.
  diff_mode:
    support: full
    description: Shows every created, updated and deleted object before and after, Secret values masked.
requirements:
  - PyYAML
  - cryptography (only for C(automatic) TLS certificates)
notes:
  - Objects are written with server-side apply, field manager C(continuouspipe.kubernetes), with
    C(force=true), so objects first written by ContinuousPipe or by C(kubectl) are taken over (the
    fields the deploy sets are its own again). Fields it does not set (C(replicas) when the service
    sets no C(number_of_replicas), labels added by others) keep their owner and value, so
    C(kubectl scale) and autoscalers survive a redeploy.
  - Differences from ContinuousPipe. An existing Deployment only counts as C(updated) in RV(services)
    when it was changed (ContinuousPipe always counted it as updated). Services whose annotations
    changed are updated. C(reset) deletes the pods only when the workload is updated. An C(attached)
    pod is kept after it succeeded, so an unchanged deploy does not run it again. Rollouts are waited
    for with rollout-status semantics and fail fast. Objects no longer rendered are pruned.
  - Secret values (from O(secret_variables), TLS keys) never appear in results, diffs or
    annotations.
  - When the task's connection is C(local) (as for the hosts of the
    C(continuouspipe.kubernetes.clusters) inventory and for localhost) and nothing asks for privilege
    escalation, the module runs inside the controller's Ansible process (its action plugin), which
    saves starting a Python process and importing the Kubernetes client for every task, and shows
    progress while it waits. It then uses the controller's Python, whatever
    C(ansible_python_interpreter) says; set the variable C(continuouspipe_in_process=false) to run it
    as an ordinary module. The same holds for every module of the collection.
seealso:
  - module: continuouspipe.kubernetes.render
  - module: continuouspipe.kubernetes.rollback
"""

EXAMPLES = r"""
- name: Deploy the feature branch's application
  continuouspipe.kubernetes.deploy:
    source_dir: "{{ playbook_dir }}/../app"
    branch: feature/login
    sha: "{{ lookup('env', 'GIT_COMMIT') }}"
    task: application
    kubeconfig: ~/.kube/config
    context: staging
    secret_variables:
      DATABASE_PASSWORD: "{{ vault_database_password }}"
  register: application

- name: Run the database setup only when the database was created by this deploy
  ansible.builtin.debug:
    msg: "database was created, load the fixtures"
  when: application.services.database.created

- name: Deploy the front end with the API's public address
  continuouspipe.kubernetes.deploy:
    source_dir: app
    branch: main
    task: front
    deploy_variables: "{{ application.variables }}"
    rollback: revision
    wait_timeout: 300

- name: What would change (server-side dry run), with a diff
  continuouspipe.kubernetes.deploy:
    source_dir: app
    branch: main
    task: application
  check_mode: true
  diff: true

- name: Endpoints as Gateway API HTTPRoutes on the platform team's shared Gateway
  continuouspipe.kubernetes.deploy:
    source_dir: app
    branch: main
    task: application
    platform: gateway
    gateway:
      name: shared
      namespace: gateway-system
      section_name: https

- name: On OpenShift (detected), Route certificates copied inline for a cluster without externalCertificate
  continuouspipe.kubernetes.deploy:
    source_dir: app
    branch: main
    task: application
    route_certificates: inline
"""

RETURN = r"""
changed:
  description: Whether anything was written (in check mode, whether anything would be).
  returned: always
  type: bool
task:
  description: Identifier of the deployed task.
  returned: success
  type: str
  sample: application
namespace:
  description: The environment (namespace) deployed to.
  returned: always
  type: str
  sample: 8b9f4e5c-2b5e-5c5d-9a1e-0a7b1e2d4c11-feature-login
platform:
  description:
    - The platform the endpoints were rendered for (O(platform)) and why it was chosen.
  returned: always
  type: dict
  sample: {"name": "openshift", "route_certificates": "secret", "chosen": "detected: the cluster serves route.openshift.io/v1"}
  contains:
    name:
      description: V(kubernetes), V(gateway) or V(openshift).
      type: str
    chosen:
      description: V(option), or what the detection found.
      type: str
    gateway:
      description: The Gateway HTTPRoutes attach to (V(gateway) platform).
      type: dict
      returned: when the platform is V(gateway)
    route_certificates:
      description: How Routes get their certificates (V(openshift) platform).
      type: str
      returned: when the platform is V(openshift)
release:
  description: Number of the release recorded by this deploy, or of the current release when nothing
    changed (null when the task has no release yet).
  returned: always
  type: int
  sample: 4
services:
  description:
    - Per service name, what this deploy did to it. Later tasks can test for example
      C(result.services.database.created).
    - C(created) is true when the service's workload was created (its first deployment);
      C(updated) when any of its objects was changed (ContinuousPipe counted every existing
      Deployment as updated, changed or not); C(deleted) when the service was removed from the task
      and its objects pruned; C(unchanged) when nothing of it was written.
  returned: always
  type: dict
  sample: {"web": {"created": false, "updated": true, "deleted": false, "unchanged": false}}
objects:
  description: Every object of the environment and what happened to it.
  returned: always
  type: list
  elements: dict
  contains:
    kind:
      description: Kind of the object.
      type: str
      sample: Deployment
    name:
      description: Name of the object.
      type: str
      sample: web
    action:
      description: V(created), V(updated), V(deleted), V(unchanged) or V(locked) (exists and its
        service is locked).
      type: str
      sample: updated
endpoints:
  description: The public endpoints and their addresses.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Endpoint name.
      type: str
      sample: web
    address:
      description: Host name or IP address (for an ingress with rules, its first host).
      type: str
      sample: web.example.com
    ports:
      description: The Service's ports (C(name), C(port), C(protocol), C(nodePort)).
      type: list
      elements: dict
    hosts:
      description: The host names of an ingress endpoint.
      type: list
      elements: str
      returned: for ingress endpoints with hosts
    integrations:
      description:
        - The CloudFlare DNS records (C(cloud_flare_zone)) and HttpLabs stacks (C(httplabs)) that
          ContinuousPipe managed for the endpoint, which this collection does not call; one warning
          is given for each. Credentials are never included, and values that came from secret
          variables are masked. The P(continuouspipe.kubernetes.endpoint_integrations#filter) filter
          prepares them for a task such as C(community.general.cloudflare_dns).
        - C(provider) (C(cloudflare) or C(httplabs)); for CloudFlare C(hostnames), C(zone_identifier)
          and, as configured, C(proxied), C(ttl), C(backend_address); for HttpLabs
          C(project_identifier), C(incoming), C(middlewares).
      type: list
      elements: dict
      returned: when the endpoint has a cloud_flare_zone or httplabs block
variables:
  description: C(SERVICE_<NAME>_PUBLIC_ENDPOINT) and C(ENDPOINT_<NAME>_PUBLIC_ENDPOINT) of the public
    endpoints, for O(deploy_variables) of later deploy tasks.
  returned: always
  type: dict
  sample: {"SERVICE_WEB_PUBLIC_ENDPOINT": "web.example.com"}
rolled_back:
  description: Whether a failed deploy was rolled back.
  returned: always
  type: bool
rolled_back_to:
  description: The release a failed deploy was rolled back to.
  returned: when rolled back to a release
  type: int
workloads:
  description: The workloads that were waited for, with how long they took (and the output of
    attached pods, or C(logs unavailable) when the cluster cannot provide them).
  returned: always
  type: list
  elements: dict
timings:
  description: Seconds spent in each phase (load, translate, plan, apply, endpoints, wait, prune, history).
  returned: always
  type: dict
  sample: {"load": 0.05, "translate": 0.01, "plan": 0.04, "apply": 0.3, "endpoints": 0.0, "wait": 2.1,
           "prune": 0.0, "history": 0.01}
diff:
  description: In diff mode, one entry per created, updated or deleted object (before and after as
    YAML, Secret values masked).
  returned: diff mode
  type: list
  elements: dict
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import deploy as pipeline
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import module_support
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.source import secret_values


def main():
    module = AnsibleModule(argument_spec=pipeline.ARGSPEC, supports_check_mode=True)
    started = time.monotonic()
    out = module_support.deploy_result(module, pipeline.run, secrets=secret_values(module.params))
    out["timings"]["total"] = round(time.monotonic() - started, 3)
    module.exit_json(**out)


if __name__ == "__main__":
    main()
