# -*- coding: utf-8 -*-
"""The known attacks: what a repository (or a careless operator) has tried, one Case each.

Traversal through task names and branch names, links to devices, FIFOs and files outside the
project, oversized and sparse files, billion laughs, merge-key bombs, deep nesting, catastrophic
regular expressions in every place an expression is evaluated, wrong YAML tags, text that is not
UTF-8, secret values in fields that are not stored in Secrets, emptied services, and option values
that cannot work.
"""
from __future__ import annotations

import json
from typing import List

import yaml

from harness import SECRET_CANARY, Case

FLOW = "00000000-0000-4000-8000-000000000010"
SERVICE = "web: {specification: {source: {image: registry.example/web, tag: '1'}, ports: [80]}}"


def project(services: str = SERVICE, task: str = "deployment", extra: str = "", environment: str = "") -> bytes:
    return ("tasks:\n  %s:\n    deploy:\n      cluster: c\n%s      services:\n        %s\n%s"
            % (json.dumps(task), environment, services, extra)).encode("utf-8")


VALID = project()


def args(**extra):
    out = {"source_dir": "{project}", "branch": "master", "sha": "0123abc", "flow_uuid": FLOW,
           "output_dir": "{out}", "secret_variables": {"S": SECRET_CANARY}}
    out.update(extra)
    return out


def deploy_args(**extra):
    """The deploy module without a cluster: a kubeconfig that does not exist stops it before any
    request, after the project is loaded and translated."""
    out = args(kubeconfig="{root}/no-kubeconfig", namespace="hostile")
    out.pop("output_dir")
    out.update(extra)
    return out


def traversal() -> List[Case]:
    cases = []
    for name in ["{outside}/escape", "../escape", "../../outside/escape", "../../../../../../../tmp/escape",
                 "a/../../../outside/escape", "..", ".", ".hidden", "x/../y", "....//....//escape", "a\\\\..\\\\b",
                 "~/escape", "tab\\there", "nul\\u0000x", "dot./", "x" * 300, "\\u202e/escape"]:
        cases.append(Case("traversal/task-name/%r" % name, files={"continuous-pipe.yml": project(task=name)},
                          args=args(), expect_error="cannot name the rendered file"))
    for name in ["con", "%2e%2e%2fescape", "deploy_uat-1.x", "é-task"]:
        cases.append(Case("traversal/task-name-ok/%r" % name, files={"continuous-pipe.yml": project(task=name)},
                          args=args()))
    cases.append(Case("traversal/task-option", files={"continuous-pipe.yml": VALID},
                      args=args(task="../../outside/escape"), expect_error="unknown deploy task"))
    for branch in ["../../outside/secret", "x/../../outside/secret", "../outside/secret", "..", "/", "a" * 3000,
                   "feature/../../../../etc/passwd", "~root", "${HOME}", "-rf"]:
        cases.append(Case("traversal/branch/%r" % branch[:40],
                          files={"continuous-pipe.yml": VALID, "docker-compose.yml": b"web: {image: nginx}\n"},
                          args=args(branch=branch)))
    environment = "      environment: {name: '\"../../../outside/\" ~ code_reference.branch'}\n"
    cases.append(Case("traversal/environment-name", files={"continuous-pipe.yml": project(environment=environment)},
                      args=args()))
    named = "      environment: {name: '\"app\"'}\n"
    cases.append(Case("traversal/output-dir-link-to-outside",
                      files={"continuous-pipe.yml": project(environment=named)}, args=args(),
                      out_links={"app": "{outside}"}, expect_error="outside output_dir"))
    cases.append(Case("traversal/output-file-link-to-outside",
                      files={"continuous-pipe.yml": project(environment=named)}, args=args(),
                      out_links={"app/deployment.yml": "{outside}/secret.yml"}))
    cases.append(Case("traversal/source-dir-through-a-link", files={"continuous-pipe.yml": VALID},
                      root_links={"link": "{project}"}, args=args(source_dir="{root}/link")))
    return cases


LINK_TARGETS = ["/dev/urandom", "/dev/zero", "/dev/null", "/dev/stdin", "/dev/full", "/proc/self/mem",
                "/proc/self/environ", "/etc/passwd", "/", "{outside}/secret.yml", "../outside/secret.yml",
                "{outside}", "missing.yml", "continuous-pipe.yml"]


def links() -> List[Case]:
    cases = []
    for name in ("continuous-pipe.yml", "docker-compose.yml", "docker-compose.prod.yml"):
        files = {} if name == "continuous-pipe.yml" else {"continuous-pipe.yml": VALID}
        if name == "docker-compose.prod.yml":
            files["docker-compose.yml"] = b"web: {image: nginx}\n"
        for target in LINK_TARGETS:
            extra, expected = {}, "Unable to read file"
            if target == name:
                target, extra = "loop-b.yml", {"loop-b.yml": name}
            elif target == "continuous-pipe.yml":
                expected = None  # a link to another file of the project is followed
            cases.append(Case("links/%s->%s" % (name, target), files=dict(files),
                              links=dict({name: target}, **extra), args=args(branch="prod"),
                              expect_error=expected))
        cases.append(Case("fifo/%s" % name, files=dict(files), fifos=(name,), args=args(branch="prod"),
                          expect_error="FIFO"))
        cases.append(Case("fifo/link-to-fifo/%s" % name, files=dict(files), fifos=("pipe",),
                          links={name: "pipe"}, args=args(branch="prod"), expect_error="FIFO"))
        cases.append(Case("size/sparse-10GB/%s" % name, files=dict(files), sparse={name: 10 << 30},
                          args=args(branch="prod"), expect_error="too large"))
        cases.append(Case("size/2MiB/%s" % name, files=dict(files, **{name: b"# x\n" * (1 << 19)}),
                          args=args(branch="prod"), expect_error="too large"))
    cases.append(Case("links/inside-the-project-are-followed", files={"real.yml": VALID},
                      links={"continuous-pipe.yml": "real.yml"}, args=args()))
    cases.append(Case("links/kubeconfig-fifo", files={"continuous-pipe.yml": VALID}, fifos=("kubeconfig",),
                      module="deploy", args=deploy_args(kubeconfig="{project}/kubeconfig"),
                      expect_error="not a regular file"))
    return cases


def bombs() -> List[Case]:
    cases = []
    for width, depth in [(9, 9), (12, 6), (3, 12), (2, 20), (30, 4), (100, 3)]:
        text = "a0: &a0 [" + ",".join(["lol"] * width) + "]\n" + "".join(
            "a%d: &a%d [%s]\n" % (i, i, ",".join(["*a%d" % (i - 1)] * width)) for i in range(1, depth))
        cases.append(Case("bomb/laughs/%dx%d" % (width, depth), files={"continuous-pipe.yml": text.encode()},
                          args=args(), expect_error="YAML seems invalid" if width ** depth > 250000 else None))
    for width, depth in [(9, 12), (2, 25), (5, 10), (20, 5)]:
        text = "x0: &a0 {k0: 1, j0: 2}\n" + "".join(
            "x%d: &a%d {<<: [%s], k%d: 1}\n" % (i, i, ", ".join(["*a%d" % (i - 1)] * width), i) for i in range(1, depth))
        cases.append(Case("bomb/merge/%dx%d" % (width, depth), files={"continuous-pipe.yml": text.encode()},
                          args=args(), expect_error="YAML seems invalid"))
    # a bomb hidden where the schema accepts any value, in a deploy service, and in docker-compose
    laughs = "&l0 [" + ",".join(["x"] * 10) + "]"
    nested = "".join("\n  - &l%d [%s]" % (i, ",".join(["*l%d" % (i - 1)] * 10)) for i in range(1, 8))
    cases.append(Case("bomb/in-annotations", files={"continuous-pipe.yml": (
        "defaults: {cluster: c}\nx:\n  - " + laughs + nested + "\n").encode()}, args=args(),
        expect_error="YAML seems invalid"))
    cases.append(Case("bomb/docker-compose", files={"continuous-pipe.yml": VALID, "docker-compose.yml": (
        "web:\n  image: nginx\n  environment:\n    - " + laughs + nested + "\n").encode()}, args=args(),
        expect_error="YAML seems invalid"))
    for levels in (101, 1000, 100000):
        for kind, text in [("flow-seq", "[" * levels + "]" * levels), ("flow-map", "{a: " * levels + "1" + "}" * levels),
                           ("block", "".join(" " * i + "k:\n" for i in range(min(levels, 1400))))]:
            cases.append(Case("nesting/%s/%d" % (kind, levels), files={"continuous-pipe.yml": text.encode()},
                              args=args(), expect_error="YAML seems invalid"))
        cases.append(Case("nesting/compose/%d" % levels, files={
            "continuous-pipe.yml": VALID, "docker-compose.yml": ("web: " + "[" * levels + "]" * levels).encode()},
            args=args(), expect_error="YAML seems invalid"))
    cases.append(Case("nesting/flow-configuration", files={}, args=args(
        flow_configuration="[" * 100000 + "]" * 100000), expect_error="flow_configuration"))
    for text in ["a: &a [*a]\n", "a: &a {<<: *a}\n", "a: &a {b: *a}\n", "a: &a\n  - b: *a\n"]:
        cases.append(Case("bomb/recursive-alias/%r" % text, files={"continuous-pipe.yml": text.encode()}, args=args(),
                          expect_error="inside the node it refers to"))
    chain = "".join("a%d: &a%d {<<: %s, k%d: 1}\n" % (i, i, "*a%d" % (i - 1) if i else "{}", i) for i in range(3000))
    cases.append(Case("bomb/merge-chain", files={"continuous-pipe.yml": chain.encode()}, args=args(),
                      expect_error="YAML seems invalid"))
    return cases


REDOS = ["/^(a+)+$/", "/^(a*)*$/", "/(a|aa)*$/", "/^(a|a)*$/", "/(x+x+)+y/", "/^(\\\\w+\\\\s?)*$/", "/.*.*.*.*.*x/",
         "/^(.*,)*$/", "/^(a{1,3})+$/", "/^.*.*.*x$/", "/(\\\\d+)*\\\\.$/", "/^(([a-z])+.)+[A-Z]([a-z])+$/"]
LONG_BRANCH = "a" * 3000


def redos() -> List[Case]:
    cases = []
    for pattern in REDOS:
        condition = "code_reference.branch matches \"%s\"" % pattern
        places = {
            "service-condition": project(services="web: {condition: '%s', specification: {source: {image: a, tag: '1'}}}"
                                         % condition),
            "pipeline-condition": ("pipelines:\n  - name: P\n    condition: '%s'\n    tasks: [deployment]\n" % condition
                                   ).encode() + VALID,
            "variable-condition": ("variables:\n  - {name: X, value: y, condition: '%s'}\n" % condition).encode() + VALID,
            "environment-name": project(environment="      environment: {name: '(%s) ? \"a\" : \"b\"'}\n" % condition),
            "endpoint-condition": project(services="web: {specification: {source: {image: a, tag: '1'}, ports: [80]},"
                                          " endpoints: [{name: web, condition: '%s'}]}" % condition),
            "host-expression": project(services="web: {specification: {source: {image: a, tag: '1'}, ports: [80]}, "
                                       "endpoints: [{name: web, ingress: {class: nginx, host: {expression: "
                                       "'(%s) ? \"a.example.com\" : \"b.example.com\"'}}}]}" % condition),
            "task-filter": project(extra="    filter: {expression: '%s'}\n" % condition),
        }
        for place, text in places.items():
            cases.append(Case("redos/%s/%s" % (place, pattern), files={"continuous-pipe.yml": text},
                              args=args(branch=LONG_BRANCH + "!")))
    glob = "**a**a**a**a**a**a**a**a**b"
    cases.append(Case("redos/has_changes_for_files", files={"continuous-pipe.yml": (
        "pipelines:\n  - name: P\n    condition: 'has_changes_for_files(\"%s\")'\n    tasks: [deployment]\n" % glob
    ).encode() + VALID}, args=args(changed_files=["a" * 3000])))
    for name, condition in [("regex", 'code_reference.branch matches \\"/^.*.*.*x$/\\"'),
                            ("ranges", "1 in [" + ", ".join(["0..99999"] * 9) + "]")]:
        services = "".join("  s%d: {condition: \"%s\", specification: {source: {image: a, tag: '1'}}}\n"
                           % (index, condition) for index in range(300))
        cases.append(Case("redos/many-%s" % name, files={"continuous-pipe.yml": (
            "tasks:\n d:\n  deploy:\n   cluster: c\n   services:\n" + services.replace("\n  s", "\n    s")
            .replace("  s0", "    s0", 1)).encode()}, args=args(branch=LONG_BRANCH + "!"), expect_error="together"))
    cases.append(Case("redos/pull-request-title", files={"continuous-pipe.yml": (
        "pipelines:\n  - name: P\n    condition: 'pull_request.title matches \"/^(a|aa)*$/\"'\n    tasks: [deployment]\n"
    ).encode() + VALID}, args=args(pull_request={"number": 1, "title": "a" * 5000 + "!"})))
    return cases


def tags() -> List[Case]:
    cases = []
    for text in ["a: !!int 'x'", "a: !!float 'x'", "a: !!int ''", "a: !!float ''", "a: !!binary '***'",
                 "a: !!binary /w==", "a: !!set {x, y}", "a: !!omap [{a: 1}]", "a: !!pairs [{a: 1}]",
                 "a: !!timestamp 'x'", "a: !!python/object/apply:os.system ['id']", "a: !!python/name:os.system",
                 "a: !!str {a: 1}", "a: !!map [1]", "a: !!seq {a: 1}", "a: !!null x", "a: !!bool x", "a: !foo bar",
                 "a: ! x", "a: !!merge x", "a: {<<: x}", "a: {<<: [1]}", "a: !!int 99999999999999999999999999",
                 "a: !!float 1e99999", "a: %s" % ("9" * 5000), "a: 0x%s" % ("f" * 5000), "a: 0%s" % ("7" * 5000),
                 "tasks: !!int 1", "? !!binary aGVsbG8=\n: x", "? [a, b]\n: x", "? {a: 1}\n: x", "a: !<tag:x> y",
                 "%YAML 1.1\n%TAG ! tag:yaml.org,2002:\n---\na: !python/object:os.system x", "a: *undefined",
                 "a: &x 1\nb: &x 2", "---\na: 1\n---\nb: 2", "a: 1\n...\n", "\t\ta: 1"]:
        cases.append(Case("tags/%r" % text[:50], files={"continuous-pipe.yml": (text + "\n").encode()}, args=args()))
        compose = {"continuous-pipe.yml": VALID, "docker-compose.yml": (text + "\n").encode()}
        cases.append(Case("tags/compose/%r" % text[:50], files=compose, args=args()))
    return cases


def encodings() -> List[Case]:
    cases = []
    text = VALID.decode()
    for name, data in [
        ("latin-1", "tasks: {d: {deploy: {services: {é: ~}}}}\n".encode("latin-1")),
        ("utf-16-le-bom", b"\xff\xfe" + text.encode("utf-16-le")), ("utf-16-be-bom", b"\xfe\xff" + text.encode("utf-16-be")),
        ("utf-32", text.encode("utf-32")), ("lone-continuation", b"a: \x80\x80\n"), ("overlong", b"a: \xc0\xaf\n"),
        ("surrogate-bytes", b"a: \xed\xa0\x80\n"), ("nul", b"a: b\x00c\n"), ("control", b"a: \x01\x1b[2J\n"),
        ("bom-only", b"\xef\xbb\xbf"), ("empty", b""), ("crlf", text.replace("\n", "\r\n").encode()),
        ("cr-only", text.replace("\n", "\r").encode()), ("long-line", b"a: " + b"x" * 900000 + b"\n"),
        ("bidi", "tasks: {d\u202e: {deploy: {cluster: c, services: {web: ~}}}}\n".encode()),
    ]:
        cases.append(Case("encoding/%s" % name, files={"continuous-pipe.yml": data}, args=args()))
        cases.append(Case("encoding/compose/%s" % name, files={"continuous-pipe.yml": VALID, "docker-compose.yml": data},
                          args=args()))
    for escaped in ['"\\uD800"', '"\\uDFFF"', '"a\\0b"', '"\\x1b[31m"', '"\\U0010FFFF"']:
        body = project(services="web: {specification: {source: {image: a, tag: '1'}, environment_variables: "
                                "[{name: A, value: %s}], command: [%s]}}" % (escaped, escaped))
        cases.append(Case("encoding/escape/%s" % escaped, files={"continuous-pipe.yml": body}, args=args()))
        if "uD" not in escaped:  # a lone surrogate cannot reach a module: Ansible's JSON refuses it first
            cases.append(Case("encoding/escape-secret/%s" % escaped, files={"continuous-pipe.yml": VALID},
                              args=args(secret_variables={"S": "x" + yaml.safe_load(escaped)})))
    return cases


def secrets() -> List[Case]:
    cases = []
    image = "{image: registry.example/web, tag: '1'}"
    for place, service in [
        ("image-tag", "web: {specification: {source: {image: a, tag: '${S}'}}}"),
        ("image-name", "web: {specification: {source: {image: 'registry.example/${S}', tag: '1'}}}"),
        ("command", "web: {specification: {source: %s, command: [sh, -c, 'login ${S}']}}" % image),
        ("exec-probe", "web: {specification: {source: %s}, deployment_strategy: {readiness_probe: {type: exec, "
                       "command: [check, '${S}']}}}" % image),
        ("host-suffix", "web: {specification: {source: %s, ports: [80]}, endpoints: [{name: web, ingress: "
                        "{class: nginx, host_suffix: '-${S}.example.com'}}]}" % image),
        ("annotation", "web: {specification: {source: %s, ports: [80]}, endpoints: [{name: web, annotations: "
                       "{a: '${S}'}}]}" % image),
        ("volume-path", "web: {specification: {source: %s, volumes: [{type: hostPath, name: v, path: '/${S}'}], "
                        "volume_mounts: [{name: v, mount_path: /v}]}}" % image),
        ("env-name", "web: {specification: {source: %s, environment_variables: [{name: '${S}', value: x}]}}" % image),
        ("resources", "web: {specification: {source: %s, resources: {cpu: '${S}'}}}" % image),
    ]:
        body = project(services=service)
        # a hostPath volume is refused anyway unless host access is allowed: allowed here, to reach the secret
        host = {"allow_host_access": True} if "hostPath" in service else {}
        cases.append(Case("secrets/%s" % place, files={"continuous-pipe.yml": body}, args=args(**host),
                          expect_error="secret variable"))
        cases.append(Case("secrets/warn/%s" % place, files={"continuous-pipe.yml": body},
                          args=args(secrets_in_plain_fields="warn", **host)))
        cases.append(Case("secrets/deploy/%s" % place, files={"continuous-pipe.yml": body}, module="deploy",
                          args=deploy_args(**host), expect_error="secret variable"))
    body = project(services="web: {specification: {source: {image: a, tag: '1'}, environment_variables: "
                            "[{name: A, value: '${S}'}]}}")
    cases.append(Case("secrets/in-env-values-are-fine", files={"continuous-pipe.yml": body}, args=args()))
    cases.append(Case("secrets/environment-name", files={"continuous-pipe.yml": project(
        environment="      environment: {name: '\"app-${S}\"'}\n")}, args=args(), expect_error="secret variable"))
    return cases


def host_access() -> List[Case]:
    """What would give a container the node: refused by default, through render and deploy."""
    cases = []
    image = "{image: registry.example/web, tag: '1'}"
    for place, service in [
        ("privileged", "web: {specification: {source: %s, runtime_policy: {privileged: true}}}" % image),
        ("host-path", "web: {specification: {source: %s, volumes: [{type: hostPath, name: v, path: /}], "
                      "volume_mounts: [{name: v, mount_path: /host}]}}" % image),
        ("docker-socket", "web: {specification: {source: %s, volumes: [{type: hostPath, name: v, "
                          "path: /var/run/docker.sock}], volume_mounts: [{name: v, "
                          "mount_path: /var/run/docker.sock}]}}" % image),
    ]:
        body = {"continuous-pipe.yml": project(services=service)}
        cases.append(Case("host-access/%s" % place, files=body, args=args(), expect_error="host access"))
        cases.append(Case("host-access/deploy/%s" % place, files=body, module="deploy", args=deploy_args(),
                          expect_error="host access"))
    compose = {"continuous-pipe.yml": b"tasks:\n  deployment:\n    deploy:\n      cluster: c\n",
               "docker-compose.yml": b"web:\n  image: web:1\n  privileged: true\n  volumes: ['/:/host']\n"}
    cases.append(Case("host-access/docker-compose", files=compose, args=args(), expect_error="host access"))
    return cases


def options() -> List[Case]:
    cases = []
    files = {"continuous-pipe.yml": VALID}
    empty = {"continuous-pipe.yml": project(services="{}")}
    for name, value, fragment in [
        ("history_limit", 0, "history_limit"), ("history_limit", -1, "history_limit"), ("concurrency", 0, "concurrency"),
        ("concurrency", 10 ** 6, "concurrency"), ("wait_timeout", -1, "wait_timeout"), ("lock_timeout", -1, "lock_timeout"),
        ("endpoint_timeout", 0, "endpoint_timeout"), ("wait_timeout", 10 ** 30, "wait_timeout"),
        ("proxy", "::::", "proxy"), ("proxy", "http://", "proxy"), ("host", "::::", "host"),
        ("kubeconfig", "/etc/passwd", "kubeconfig"), ("kubeconfig", "{outside}/secret.yml", "secret.yml"),
        ("kubeconfig", "/dev/null", "kubeconfig"), ("kubeconfig", "/", "kubeconfig"), ("kubeconfig", [1], "kubeconfig"),
        ("kubeconfig", "/nonexistent/config", "kubeconfig"), ("rollback", "maybe", "rollback"),
        ("undefined_variables", "ignore", "undefined_variables"), ("pull_request", {"number": -3}, "pull_request"),
        ("pull_request", {"number": "x"}, "pull_request"), ("variables", [1, 2], "variables"),
        ("secret_variables", "x", "secret_variables"), ("images", {"web": ["x"]}, "images"),
        ("changed_files", "x", "changed_files"), ("duplicate_keys", "last", "duplicate_keys"),
    ]:
        extra = {name: value}
        if name == "proxy":
            extra["host"] = "https://127.0.0.1:9"
        coerced = name in ("images", "variables", "changed_files")  # Ansible converts these to the right type
        cases.append(Case("options/deploy/%s=%r" % (name, value), files=files, module="deploy",
                          args=deploy_args(**extra), expect_error=None if coerced else fragment))
    for name, value in [("task", "../x"), ("tasks", ["a", "../b"]), ("branch", "a\u0000b"), ("branch", ""),
                        ("sha", "a\nb"), ("flow_uuid", "../../x"), ("checksum_key", "\u0000" * 10),
                        ("variables", {"X": {"a": [1]}}), ("secret_variables", {"S": None}),
                        ("secret_variables", {"S": ["x"]}), ("images", {"web": "../../etc/passwd"}),
                        ("changed_files", ["/" * 5000]), ("flow_configuration", "tasks: [" * 1000),
                        ("pull_request", True), ("pull_request", 7), ("pull_request", {"labels": {"a": 1}}),
                        ("source_dir", "{outside}/secret.yml"),
                        ("source_dir", "/nonexistent")]:
        cases.append(Case("options/render/%s=%r" % (name, value)[:80], files=files, args=args(**{name: value})))
    cases.append(Case("emptied/deploy", files=empty, module="deploy", args=deploy_args(),
                      expect_error="allow_empty_services"))
    cases.append(Case("emptied/deploy-allowed", files=empty, module="deploy",
                      args=deploy_args(allow_empty_services=True), expect_error="does not exist"))
    cases.append(Case("emptied/render", files=empty, args=args()))
    built = b"tasks:\n  images: {build: {services: {web: {image: registry.example/web}}}}\n" + VALID[len(b"tasks:\n"):]
    cases.append(Case("untagged/no-sha", files={"continuous-pipe.yml": built}, args=args(sha=""),
                      expect_error="untagged"))
    cases.append(Case("undefined/all-listed", files={"continuous-pipe.yml": b"tasks:\n  images: {build: {services: "
                                                                            b"{web: {image: '${IMAGE_NAME}'}}}}\n"
                                                     + project(services="web: {specification: {source: "
                                                                        "{tag: '${TAG}'}}}")[len(b"tasks:\n"):]},
                      args=args(), expect_error='undefined variable "TAG"'))
    cases.append(Case("pipeline_info/hostile-task-name", files={"continuous-pipe.yml": project(task="../../x")},
                      module="pipeline_info", args={"source_dir": "{project}", "branch": "master", "flow_uuid": FLOW}))
    return cases


def identity() -> List[Case]:
    """No flow_uuid: the project's identity is read from its git metadata, which the repository holds."""
    cases = []
    remote = b'[remote "origin"]\n\turl = %s\n'
    layouts = {
        "config-fifo": dict(files={"continuous-pipe.yml": VALID, ".git/HEAD": b"ref: refs/heads/master\n"},
                            fifos=(".git/config",)),
        "config-link-to-zero": dict(files={"continuous-pipe.yml": VALID}, links={".git/config": "/dev/zero"}),
        "config-link-outside": dict(files={"continuous-pipe.yml": VALID}, links={".git/config": "{outside}/secret.yml"}),
        "gitdir-to-device": dict(files={"continuous-pipe.yml": VALID, ".git": b"gitdir: /dev/zero\n"}),
        "gitdir-commondir-fifo": dict(files={"continuous-pipe.yml": VALID, ".git": b"gitdir: wt\n",
                                             "wt/HEAD": b"x\n"}, fifos=("wt/commondir",)),
        "remote-local-fifo": dict(files={"continuous-pipe.yml": VALID, ".git/config": remote % b"{project}/mirror",
                                         "mirror/HEAD": b"x\n"}, fifos=("mirror/config",)),
        "remote-local-loop": dict(files={"continuous-pipe.yml": VALID, ".git/config": remote % b"{project}",
                                         ".git/HEAD": b"x\n"}),
        "remote-huge": dict(files={"continuous-pipe.yml": VALID, ".git/config": remote % (b"x" * 2000000)}),
        "remote-hostile-url": dict(files={"continuous-pipe.yml": VALID,
                                          ".git/config": remote % b"ext::sh -c touch% {outside}/pwned"}),
    }
    for name, layout in layouts.items():
        render = args()
        render.pop("flow_uuid")
        cases.append(Case("identity/render/%s" % name, args=render, **layout))
        deploy = deploy_args()
        deploy.pop("flow_uuid")
        cases.append(Case("identity/deploy/%s" % name, module="deploy", args=deploy, **layout))
    return cases


def amplification() -> List[Case]:
    """A variable referenced many times: a billion laughs through ``${VAR}`` instead of YAML aliases."""
    cases = []
    big = "variables:\n  - {name: A, value: '%s'}\n" % ("x" * 300000)
    many = ", ".join("{name: V%d, value: '${A}${A}${A}'}" % index for index in range(60))
    for name, text, mode in [
        ("one-value", big + project(services="web: {specification: {source: {image: a, tag: '1'}, "
                                             "environment_variables: [{name: V, value: '%s'}]}}" % ("${A}" * 60000)
                                    ).decode(), "error"),
        ("many-values", big + project(services="web: {specification: {source: {image: a, tag: '1'}, "
                                               "environment_variables: [%s]}}" % many).decode(), "error"),
        ("pipeline-variables", big + "".join("  - {name: B%d, value: '${A}${A}'}\n" % i for i in range(60))
         + VALID.decode(), "error"),
        ("deploy-time", project(services="web: {specification: {source: {image: a, tag: '1'}, environment_variables: "
                                         "[{name: A, value: '%s'}, {name: B, value: '%s'}]}}"
                                % ("y" * 300000, "${A}" * 2000)).decode(), "keep"),
    ]:
        cases.append(Case("amplification/%s" % name, files={"continuous-pipe.yml": text.encode()},
                          args=args(undefined_variables=mode), expect_error="substituting variables makes"))
    compose = "web:\n  image: nginx\n  environment:\n" + "".join("    - V%d=x\n" % i for i in range(20000))
    tasks = "defaults: {cluster: c}\ntasks:\n" + "".join("  t%d: {deploy: {services: {web: ~}}}\n" % i for i in range(40))
    cases.append(Case("amplification/compose-into-every-task", files={
        "continuous-pipe.yml": tasks.encode(), "docker-compose.yml": compose.encode()}, args=args(),
        expect_error="copied into each of its"))
    imported = "tasks:\n" + "".join(
        "  t%d: {deploy: {cluster: c, services: {web: {specification: {source: {image: a, tag: '1'}, "
        "environment_variables: [{name: A, value: b}]}}}}}\n" % i for i in range(200)) + "pipelines:\n" + "".join(
        "  - name: P%d\n    tasks: [%s]\n" % (i, ", ".join("t%d" % t for t in range(200))) for i in range(200))
    cases.append(Case("amplification/pipelines-import-every-task", files={"continuous-pipe.yml": imported.encode()},
                      args=args(), expect_error="pipelines import their tasks"))
    return cases


def all_attacks() -> List[Case]:
    return (traversal() + links() + bombs() + redos() + tags() + encodings() + secrets() + host_access() + options()
            + identity() + amplification())
