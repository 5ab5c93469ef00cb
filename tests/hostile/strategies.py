# -*- coding: utf-8 -*-
"""Hypothesis strategies for hostile projects: structure from the schema's own keys, hostile scalars,
YAML text with anchors, aliases, merge keys and tags, raw bytes, and hostile module options.

Each strategy draws a :class:`harness.Case`; the suite collects them (derandomized, so CI runs the
same cases every time) and runs them all in forked children.
"""
from __future__ import annotations

import json

import yaml
from hypothesis import strategies as st

from attacks import FLOW, REDOS, SERVICE, VALID, args, deploy_args, project
from harness import Case

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.config import nodes, schema


def _schema_keys(node, seen=None):
    seen = set() if seen is None else seen
    if id(node) in seen:
        return set()
    seen.add(id(node))
    keys = set()
    if isinstance(node, nodes.ArrayNode):
        keys.update(node.children)
        for child in node.children.values():
            keys |= _schema_keys(child, seen)
    if isinstance(node, nodes.PrototypedNode):
        keys |= _schema_keys(node.prototype, seen)
    return keys


KEYS = sorted(_schema_keys(schema.root()) | {"environment_variables", "web", "db", "deployment", "task0", "imports"})
COMPOSE_KEYS = ["version", "services", "image", "build", "labels", "expose", "environment", "volumes", "command",
                "privileged", "com.continuouspipe.image-name", "com.continuouspipe.visibility", "web", "db"]
HOSTILE_NAMES = ["/abs/escape", "../x", "..", ".", ".x", "a/b", "x" * 260, "tab\t", "nul\x00", "\u202e", "con",
                 "-rf", "~", "$HOME", "a\\b", "deployment", "web", "ok_name"]
HOSTILE_STRINGS = ["${S}", "${UNDEFINED}", "${S?:x}", "\\${S}", "${SERVICE_WEB_PUBLIC_ENDPOINT}", "a" * 5000,
                   "code_reference.branch matches \"/^(a+)+$/\"", "code_reference.branch matches \"/^cpdev/\"",
                   "true", "false", "80", "-1", "99999999999999999999", "1e999", "0x10", "nan", "", " ", "\u0000",
                   "\udcff", "é", "../../etc/passwd", "/dev/zero", "http://", "*", "**", "<<", "&a", "*a",
                   "'a' ~ 'b'", "slugify(", "((((", "exec", "tcp", "http", "hostPath", "persistent", "1Gi", "250m",
                   "registry.example/web", "TCP", "UDP", "public", "lock", "nginx"]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(HOSTILE_STRINGS), st.sampled_from(HOSTILE_NAMES), st.text(max_size=12),
)


def documents(keys):
    key = st.one_of(st.sampled_from(keys), st.sampled_from(HOSTILE_NAMES), st.integers(-3, 3))
    return st.recursive(scalars, lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(key, children, max_size=5)), max_leaves=30)


def _dump(data) -> bytes:
    try:
        return yaml.safe_dump(data, allow_unicode=True).encode("utf-8", "surrogatepass")
    except (yaml.YAMLError, ValueError, TypeError):
        return json.dumps(data, default=str).encode("utf-8", "surrogatepass")


# -- realistic projects with one subtree replaced by junk ----------------------------------------

BASE = {
    "variables": [{"name": "X", "value": "x"}],
    "tasks": {
        "images": {"build": {"services": {"web": {"image": "registry.example/web"}}}},
        "deployment": {"deploy": {"cluster": "c", "services": {"web": {
            "specification": {"source": {"tag": "1"}, "ports": [80],
                              "environment_variables": [{"name": "A", "value": "${X}"}, {"name": "P", "value": "${S}"}]},
            "endpoints": [{"name": "web", "ingress": {"class": "nginx", "host_suffix": "-w.example.com"}}],
            "deployment_strategy": {"readiness_probe": {"type": "tcp", "port": 80}}}}}},
        "migrate": {"run": {"image": {"from_service": "web"}, "commands": ["a"]}},
    },
    "pipelines": [{"name": "P", "tasks": ["images", "deployment", {"imports": "migrate", "run": {"commands": ["b"]}}]}],
}


def _paths(data, prefix=()):
    yield prefix
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _paths(value, prefix + (index,))


BASE_PATHS = [path for path in _paths(BASE) if path]


def _replaced(path, junk):
    data = json.loads(json.dumps(BASE))
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = junk
    return data


@st.composite
def broken_projects(draw):
    path = draw(st.sampled_from(BASE_PATHS))
    data = _replaced(path, draw(documents(KEYS)))
    module = draw(st.sampled_from(["render", "render", "render", "deploy"]))
    options = args() if module == "render" else deploy_args()
    return Case("hypothesis/broken-project", files={"continuous-pipe.yml": _dump(data)}, args=options, module=module)


@st.composite
def random_projects(draw):
    top = draw(st.dictionaries(st.sampled_from(["tasks", "variables", "pipelines", "defaults", "environment_variables",
                                                "filter", "notifications"]), documents(KEYS), max_size=4))
    files = {"continuous-pipe.yml": _dump(top)}
    if draw(st.booleans()):
        files["docker-compose.yml"] = _dump(draw(st.dictionaries(st.sampled_from(["web", "db", "version", "services"]),
                                                                 documents(COMPOSE_KEYS), max_size=3)))
    branch = draw(st.one_of(st.just("master"), st.sampled_from(HOSTILE_NAMES), st.text(max_size=20)))
    return Case("hypothesis/random-project", files=files, args=args(branch=branch or "master"))


# -- projects that are mostly valid: every field drawn from plausible and hostile values ----------

def _mostly(valid, hostile):
    """``valid`` about four times in five: a case with one hostile field among valid ones goes further."""
    return st.integers(0, 4).flatmap(lambda pick: hostile if pick == 0 else valid)


_names = _mostly(st.one_of(st.sampled_from(["web", "api", "db", "worker-1", "a"]),
                           st.from_regex(r"\A[a-z][a-z0-9-]{0,20}\Z")),
                 st.one_of(st.sampled_from(HOSTILE_NAMES), st.text(max_size=20)))
_text = _mostly(st.from_regex(r"\A[a-z0-9._-]{1,30}\Z"),
                st.one_of(st.sampled_from(HOSTILE_STRINGS), st.text(max_size=30)))
_ports = _mostly(st.integers(1, 65535), st.one_of(st.integers(-5, 70000), st.sampled_from(["80", "http", 0])))


@st.composite
def _services(draw):
    spec = {"source": {"image": draw(_mostly(st.just("registry.example/web"), _text)),
                       "tag": draw(_mostly(st.just("1"), st.one_of(st.just("${S}"), _text)))}}
    if draw(st.booleans()):
        spec["ports"] = draw(st.lists(st.one_of(_ports, st.fixed_dictionaries(
            {"identifier": _names, "port": _ports}, optional={"protocol": st.sampled_from(["TCP", "UDP", "x"])})),
            max_size=3))
    if draw(st.booleans()):
        spec["environment_variables"] = draw(st.lists(st.fixed_dictionaries({
            "name": _mostly(st.from_regex(r"\A[A-Z_][A-Z0-9_]{0,20}\Z"), _text),
            "value": st.one_of(_text, st.just("${S}"), st.integers())}), max_size=4))
    if draw(st.booleans()):
        spec["resources"] = draw(st.fixed_dictionaries({}, optional={"cpu": _text, "memory": _text}))
    if draw(st.booleans()):
        spec["volumes"] = [{"type": draw(st.sampled_from(["persistent", "hostPath", "emptyDir", "x"])), "name": draw(_names),
                            "path": draw(_text), "capacity": draw(st.sampled_from(["1Gi", "x", "-1"]))}]
        spec["volume_mounts"] = [{"name": spec["volumes"][0]["name"], "mount_path": draw(_text)}]
    if draw(st.booleans()):
        spec["scalability"] = {"number_of_replicas": draw(st.one_of(st.integers(-2, 10 ** 12), _text))}
    service = {"specification": spec}
    if draw(st.booleans()):
        service["endpoints"] = [{"name": draw(_names), "type": draw(st.sampled_from(["LoadBalancer", "NodePort", "x"])),
                                 "ingress": {"class": "nginx", "host_suffix": draw(st.one_of(
                                     st.just("-w.example.com"), _text))}}]
    if draw(st.booleans()):
        service["deployment_strategy"] = {"readiness_probe": draw(st.one_of(
            st.fixed_dictionaries({"type": st.just("tcp"), "port": _ports}),
            st.fixed_dictionaries({"type": st.just("exec"), "command": st.lists(_text, max_size=3)}),
            st.fixed_dictionaries({"type": st.just("http"), "port": _ports, "path": _text})))}
    if draw(st.booleans()):
        service["condition"] = draw(st.sampled_from(["true", "false", "code_reference.branch matches '/^m/'",
                                                     "code_reference.branch == 'master'"]))
    return service


@st.composite
def plausible_projects(draw):
    tasks = {}
    for _index in range(draw(st.integers(1, 3))):
        services = draw(st.dictionaries(_names, _services(), min_size=0, max_size=3))
        task = {"deploy": {"cluster": "c", "services": services}}
        if draw(st.booleans()):
            task["deploy"]["environment"] = {"name": draw(st.sampled_from(
                ["'\"app-\" ~ code_reference.branch'", "'\"x\"'", "'\"../x\"'", "'1 + 1'"]))}
        tasks[draw(_names)] = task
    data = {"tasks": tasks}
    if draw(st.booleans()):
        data["variables"] = [{"name": "X", "value": draw(_text)}]
    module = draw(st.sampled_from(["render", "render", "render", "render", "deploy"]))
    options = args(include_secrets=draw(st.booleans())) if module == "render" else deploy_args()
    if draw(st.integers(0, 3)) == 0:
        options["secrets_in_plain_fields"] = "warn"
    return Case("hypothesis/plausible-project", files={"continuous-pipe.yml": _dump(data)}, args=options,
                module=module)


# -- hostile names and expressions in an otherwise valid project -----------------------------------

@st.composite
def hostile_identifiers(draw):
    name = draw(st.one_of(st.sampled_from(HOSTILE_NAMES), st.text(min_size=1, max_size=30)))
    service = draw(st.one_of(st.just("web"), st.sampled_from(HOSTILE_NAMES), st.text(min_size=1, max_size=20)))
    services = "%s: {specification: {source: {image: registry.example/web, tag: '1'}, ports: [80]}}" % json.dumps(service)
    return Case("hypothesis/identifiers", files={"continuous-pipe.yml": project(services=services, task=name)},
                args=args())


_REGEX_ATOMS = ["a", "b", ".", "\\\\w", "\\\\d", "\\\\s", "[a-z]", "[^/]", "(", ")", "(?:", "|", "+", "*", "?", "{1,3}",
                "{2}", "^", "$", "x", "-", "/"]


@st.composite
def hostile_expressions(draw):
    pattern = draw(st.one_of(st.sampled_from(REDOS), st.lists(st.sampled_from(_REGEX_ATOMS), max_size=14).map(
        lambda atoms: "/" + "".join(atoms).replace("/", "\\\\/") + "/")))
    subject = draw(st.sampled_from(["code_reference.branch", "pull_request.title", "code_reference.sha"]))
    expression = "%s matches \"%s\"" % (subject, pattern)
    place = draw(st.sampled_from(["service", "pipeline", "environment", "variable"]))
    if place == "service":
        text = project(services="web: {condition: %s, specification: {source: {image: a, tag: '1'}}}"
                       % json.dumps(expression))
    elif place == "pipeline":
        text = ("pipelines:\n  - name: P\n    condition: %s\n    tasks: [deployment]\n" % json.dumps(expression)
                ).encode() + VALID
    elif place == "environment":
        text = project(environment="      environment: {name: %s}\n" % json.dumps("(%s) ? 'a' : 'b'" % expression))
    else:
        text = ("variables:\n  - {name: X, value: y, condition: %s}\n" % json.dumps(expression)).encode() + VALID
    branch = draw(st.one_of(st.just("a" * 2000 + "!"), st.text(alphabet="ab/.-x1", max_size=300)))
    return Case("hypothesis/expressions/%s" % place, files={"continuous-pipe.yml": text},
                args=args(branch=branch or "master",
                          pull_request={"number": 1, "title": draw(st.text(alphabet="a!x", max_size=3000))}))


# -- YAML text and bytes ---------------------------------------------------------------------------

_TOKENS = ["a", "b", ":", " ", "\n", "  ", "- ", "[", "]", "{", "}", ",", "&a", "&b", "*a", "*b", "<<: ", "!!int ",
           "!!float ", "!!binary ", "!!set ", "!!python/object ", "!foo ", "'", "\"", "#", "|", ">", "? ", "---",
           "...", "%YAML 1.1\n", "\t", "\\u0000", "x" * 50, "tasks", "deploy", "services", "${S}"]


@st.composite
def yaml_texts(draw):
    text = "".join(draw(st.lists(st.sampled_from(_TOKENS), max_size=60)))
    target = draw(st.sampled_from(["continuous-pipe.yml", "docker-compose.yml"]))
    files = {target: text.encode("utf-8")}
    if target == "docker-compose.yml":
        files["continuous-pipe.yml"] = VALID
    return Case("hypothesis/yaml-text/%s" % target, files=files, args=args())


@st.composite
def alias_bombs(draw):
    width = draw(st.integers(2, 40))
    depth = draw(st.integers(1, 14))
    merge = draw(st.booleans())
    lines = ["x0: &a0 {k: v, j: w}" if merge else "x0: &a0 [lol, lol]"]
    for level in range(1, depth):
        refs = ", ".join(["*a%d" % (level - 1)] * width)
        lines.append("x%d: &a%d {<<: [%s], k%d: 1}" % (level, level, refs, level) if merge
                     else "x%d: &a%d [%s]" % (level, level, refs))
    where = draw(st.sampled_from(["top", "compose"]))
    text = ("\n".join(lines) + "\n").encode()
    if where == "top":
        files = {"continuous-pipe.yml": text}
    else:
        files = {"continuous-pipe.yml": VALID, "docker-compose.yml": text}
    return Case("hypothesis/alias-bomb/%s" % ("merge" if merge else "laughs"), files=files, args=args())


@st.composite
def nestings(draw):
    levels = draw(st.integers(1, 20000))
    opener, closer = draw(st.sampled_from([("[", "]"), ("{a: ", "}"), ("- ", "")]))
    if opener == "- ":
        text = "".join("  " * level + "- \n" for level in range(min(levels, 300)))
    else:
        text = opener * levels + "1" + closer * levels
    return Case("hypothesis/nesting", files={"continuous-pipe.yml": text.encode()}, args=args())


@st.composite
def raw_bytes(draw):
    prefix = draw(st.sampled_from([b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff"]))
    body = draw(st.one_of(st.binary(max_size=300), st.just(VALID).map(lambda text: text.replace(b"cluster", b"clu\xffr"))))
    return Case("hypothesis/bytes", files={"continuous-pipe.yml": prefix + body}, args=args())


# -- options ---------------------------------------------------------------------------------------

option_values = st.one_of(scalars, st.lists(scalars, max_size=3),
                          st.dictionaries(st.text(max_size=5), scalars, max_size=3))


@st.composite
def hostile_options(draw):
    module = draw(st.sampled_from(["render", "deploy"]))
    options = args() if module == "render" else deploy_args()
    names = ["branch", "sha", "flow_uuid", "variables", "secret_variables", "images", "changed_files",
             "pull_request", "undefined_variables", "duplicate_keys", "secrets_in_plain_fields",
             "allow_untagged_images", "tasks" if module == "render" else "task"]
    if module == "deploy":
        names += ["history_limit", "concurrency", "wait_timeout", "endpoint_timeout", "lock_timeout", "prune", "proxy",
                  "allow_empty_services", "deploy_variables", "tasks_context"]
    else:
        names += ["include_secrets", "checksum_key"]
    for name in draw(st.lists(st.sampled_from(names), min_size=1, max_size=4, unique=True)):
        options[name] = draw(option_values)
    text = draw(st.sampled_from([VALID, project(services=SERVICE.replace("'1'", "'${X}'")),
                                 project(services="web: {specification: {source: {image: a, tag: '${S}'}}}")]))
    return Case("hypothesis/options/%s" % module, files={"continuous-pipe.yml": text}, args=options, module=module)


def all_strategies():
    """(name, strategy, share of the generated cases)."""
    return [
        ("plausible-project", plausible_projects(), 0.18),
        ("broken-project", broken_projects(), 0.14),
        ("random-project", random_projects(), 0.10),
        ("identifiers", hostile_identifiers(), 0.08),
        ("expressions", hostile_expressions(), 0.12),
        ("yaml-text", yaml_texts(), 0.10),
        ("alias-bombs", alias_bombs(), 0.07),
        ("nesting", nestings(), 0.05),
        ("bytes", raw_bytes(), 0.06),
        ("options", hostile_options(), 0.10),
    ]


__all__ = ["FLOW", "all_strategies"]
