"""The collection as users get it: build the tarball, inspect it, install it into an empty path, use it.

    python tests/package/check_package.py [--keep DIR]

1. ``ansible-galaxy collection build`` in the checkout (whatever the checkout holds: a tree after
   ``make unit`` or ``make demo`` has .build/, caches and rendered files in it);
2. the tarball must hold regular files and directories only (no symlink, hard link or device: the
   ``.build/collections/.../kubernetes -> ../../../..`` link loops once installed), only files that git
   tracks or would track (nothing .gitignore'd, i.e. no build leftovers), none of the development
   files (tests/, benchmarks/, Go modules, Makefile, caches, logs, changelog fragments), and
   everything users need (plugins, roles, playbooks, meta, docs of the docsite, changelog, licence);
   galaxy.yml must not point at placeholder URLs;
3. ``ansible-galaxy collection install`` of the tarball into an empty directory (no symlink there
   either);
4. from a directory outside the checkout, with only that directory on the collections path: the
   playbook ``continuouspipe.kubernetes.render`` by FQCN on the example application shipped in the
   tarball, ``ansible-inventory`` with the inventory plugin, ``ansible-doc`` of every module, and a
   syntax check of the other playbooks by FQCN.

Exit status 0 when everything holds; otherwise every problem is printed and the status is 1.
"""
from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))
NAMESPACE, NAME = "continuouspipe", "kubernetes"
FQCN = "%s.%s" % (NAMESPACE, NAME)

# Added by ansible-galaxy itself.
GENERATED = ("MANIFEST.json", "FILES.json")
# Development files: never in the tarball, even when git tracks them.
FORBIDDEN = (
    ".build/*", ".ci/*", ".git/*", ".github/*", ".ansible/*", ".hypothesis/*", ".pytest_cache/*",
    "*/__pycache__/*", "__pycache__/*", "*.pyc", "tests/*", "benchmarks/*", "collections/*",
    "go.mod", "*/go.mod", "go.sum", "*/go.sum", "Makefile", "requirements-dev.txt", ".ansible-lint",
    ".gitignore", "*.tar.gz", "*.log", "changelogs/fragments/*", "changelogs/.plugin-cache.yaml",
    "docs/build/*", "docs/docsite/build/*",
)
# What users need: the tarball is useless without these.
REQUIRED = (
    "README.md", "LICENSE", "CHANGELOG.rst", "changelogs/changelog.yaml", "requirements.txt",
    "meta/runtime.yml", "meta/execution-environment.yml", "meta/ee-bindep.txt",
    "docs/docsite/extra-docs.yml", "docs/docsite/links.yml",
    "plugins/modules/deploy.py", "plugins/inventory/clusters.py", "plugins/doc_fragments/connection.py",
    "roles/deploy/meta/argument_specs.yml", "playbooks/deploy.yml", "playbooks/render.yml",
    "examples/app/continuous-pipe.yml",
)
PLACEHOLDER_URL = re.compile(r"example\.(com|org|net|invalid)|\.invalid\b|\.test\b|localhost|127\.0\.0\.1|TODO|CHANGEME",
                             re.IGNORECASE)
URL_KEYS = ("repository", "documentation", "homepage", "issues")


def log(message: str) -> None:
    print("[package %s] %s" % (time.strftime("%H:%M:%S"), message), flush=True)


# --------------------------------------------------------------------------------------------------
# pure checks (unit-tested in tests/unit/test_package_check.py)


def member_problems(members, allowed_files) -> list:
    """Problems of the tarball's members: a list of strings (empty when fine).

    ``members`` are ``tarfile.TarInfo`` of a collection tarball; ``allowed_files`` the paths git
    tracks or would track in the checkout.
    """
    problems = []
    names = set()
    for member in members:
        name = member.name[2:] if member.name.startswith("./") else member.name
        names.add(name)
        if member.issym() or member.islnk():
            problems.append("%s: a link (-> %s); the tarball must hold regular files only" % (name, member.linkname))
            continue
        if not (member.isfile() or member.isdir()):
            problems.append("%s: not a regular file or directory" % name)
            continue
        if name.startswith("/") or ".." in name.split("/"):
            problems.append("%s: a path outside the collection" % name)
        for pattern in FORBIDDEN:
            if fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(name + "/", pattern):
                problems.append("%s: a development file or build leftover (%s); add it to build_ignore in galaxy.yml"
                                % (name, pattern))
                break
        else:
            if member.isfile() and name not in GENERATED and name not in allowed_files:
                problems.append("%s: not a file of the repository (ignored by .gitignore or generated); add it "
                                "to build_ignore in galaxy.yml" % name)
    for name in REQUIRED:
        if name not in names:
            problems.append("%s: missing from the tarball" % name)
    return problems


def extra_docs_problems(extra_docs: dict, names) -> list:
    """Files named by docs/docsite/extra-docs.yml that the tarball does not hold."""
    problems = []
    for section in (extra_docs or {}).get("sections") or []:
        for page in section.get("toctree") or []:
            ref = page.get("ref") if isinstance(page, dict) else page
            path = "docs/docsite/rst/%s" % ref
            if not any(path + ext in names for ext in (".rst", ".md")):
                problems.append("docs/docsite/extra-docs.yml names %s, which the tarball does not hold" % ref)
    return problems


def galaxy_problems(galaxy: dict) -> list:
    """Placeholder or malformed URLs in galaxy.yml."""
    problems = []
    for key in URL_KEYS:
        value = galaxy.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or not value.startswith("https://"):
            problems.append("galaxy.yml %s: %r is not an https URL" % (key, value))
        elif PLACEHOLDER_URL.search(value):
            problems.append("galaxy.yml %s: %r is a placeholder, not where users can go" % (key, value))
    return problems


def tree_links(root: str) -> list:
    """Symbolic links below ``root``."""
    found = []
    for base, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(base, name)
            if os.path.islink(path):
                found.append(os.path.relpath(path, root))
    return found


# --------------------------------------------------------------------------------------------------
# the run


def git_files() -> set:
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                         check=True, capture_output=True).stdout.decode()
    return {path for path in out.split("\0") if path and os.path.lexists(os.path.join(ROOT, path))}


def run(command, cwd, env, problems, what, expect=None) -> str:
    started = time.monotonic()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    log("%s: rc=%d in %.1fs" % (what, done.returncode, time.monotonic() - started))
    if done.returncode != 0:
        problems.append("%s failed (rc=%d):\n%s\n%s" % (what, done.returncode, done.stdout[-3000:], done.stderr[-3000:]))
    elif expect and expect not in done.stdout:
        problems.append("%s: %r not in its output:\n%s" % (what, expect, done.stdout[-3000:]))
    return done.stdout


def tool(name: str) -> str:
    """An Ansible CLI of the Python running this script (the venv), else from PATH."""
    candidate = os.path.join(os.path.dirname(sys.executable), name)
    return candidate if os.path.exists(candidate) else (shutil.which(name) or name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--keep", help="work in this directory and keep it (default: a temporary one, removed)")
    args = parser.parse_args()
    work = os.path.abspath(args.keep) if args.keep else tempfile.mkdtemp(prefix="cp-package-")
    os.makedirs(work, exist_ok=True)
    problems = []
    try:
        import yaml

        with open(os.path.join(ROOT, "galaxy.yml")) as handle:
            galaxy = yaml.safe_load(handle)
        problems += galaxy_problems(galaxy)
        version = galaxy["version"]

        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("ANSIBLE_", "K8S_AUTH_")) and key not in ("KUBECONFIG",)}
        dist = os.path.join(work, "dist")
        run([tool("ansible-galaxy"), "collection", "build", "--force", "--output-path", dist], ROOT, env, problems,
            "ansible-galaxy collection build")
        tarball = os.path.join(dist, "%s-%s-%s.tar.gz" % (NAMESPACE, NAME, version))
        if not os.path.exists(tarball):
            problems.append("no tarball %s" % tarball)
            return report(problems)
        with tarfile.open(tarball) as archive:
            members = archive.getmembers()
            names = {m.name[2:] if m.name.startswith("./") else m.name for m in members}
            problems += member_problems(members, git_files())
            if "docs/docsite/extra-docs.yml" in names:
                extra = yaml.safe_load(archive.extractfile("docs/docsite/extra-docs.yml"))
                problems += extra_docs_problems(extra, names)
        files_count = sum(1 for m in members if m.isfile())
        log("tarball %s: %d files, %.0f KiB" % (os.path.basename(tarball), files_count, os.path.getsize(tarball) / 1024))

        installed = os.path.join(work, "installed")
        os.makedirs(installed, exist_ok=True)
        if os.listdir(installed):
            problems.append("%s is not empty" % installed)
        run([tool("ansible-galaxy"), "collection", "install", "--offline", "-p", installed, tarball], work, env,
            problems, "ansible-galaxy collection install")
        collection_dir = os.path.join(installed, "ansible_collections", NAMESPACE, NAME)
        for link in tree_links(installed):
            problems.append("installed collection: %s is a symbolic link" % link)
        if not os.path.isdir(collection_dir):
            problems.append("the collection was not installed at %s" % collection_dir)
            return report(problems)

        # Use it from outside the checkout: only the installed copy is on the collections path.
        outside = os.path.join(work, "outside")
        os.makedirs(outside, exist_ok=True)
        env.update({
            "ANSIBLE_COLLECTIONS_PATH": installed,
            "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "False",
            "ANSIBLE_LOCAL_TEMP": os.path.join(work, "tmp"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_DEPRECATION_WARNINGS": "False",
        })
        if os.path.commonpath([outside, ROOT]) == ROOT:
            problems.append("the work directory %s is inside the checkout" % outside)
        run([tool("ansible-galaxy"), "collection", "list", FQCN], outside, env, problems,
            "ansible-galaxy collection list", expect=os.path.join(installed, "ansible_collections"))

        project = os.path.join(outside, "project")
        shutil.copytree(os.path.join(collection_dir, "examples", "app"), project)
        output = os.path.join(outside, "rendered")
        run([tool("ansible-playbook"), FQCN + ".render", "-e", "source_dir=%s" % project, "-e", "branch=main",
             "-e", "output_dir=%s" % output, "-e", "undefined_variables=keep"], outside, env, problems,
            "ansible-playbook %s.render" % FQCN)
        rendered = [os.path.join(base, name) for base, dummy, files in os.walk(output) for name in files
                    if name.endswith(".yml")]
        if not rendered:
            problems.append("the render playbook wrote no manifest under %s" % output)

        for playbook in ("deploy", "teardown"):
            run([tool("ansible-playbook"), "--syntax-check", "%s.%s" % (FQCN, playbook)], outside, env, problems,
                "ansible-playbook --syntax-check %s.%s" % (FQCN, playbook))

        inventory = os.path.join(outside, "fleet.clusters.yml")
        shutil.copy(os.path.join(collection_dir, "examples", "inventory", "demo.clusters.yml"), inventory)
        listing = run([tool("ansible-inventory"), "-i", inventory, "--list"], outside, env, problems,
                      "ansible-inventory with the %s.clusters plugin" % FQCN)
        if listing:
            try:
                hosts = json.loads(listing).get("_meta", {}).get("hostvars", {})
            except ValueError:
                hosts = {}
            if sorted(hosts) != ["aws-eu", "aws-us", "gce-eu"]:
                problems.append("ansible-inventory listed hosts %s, expected aws-eu, aws-us, gce-eu" % sorted(hosts))

        modules = sorted(name[:-3] for name in os.listdir(os.path.join(collection_dir, "plugins", "modules"))
                         if name.endswith(".py") and not name.startswith("_"))
        run([tool("ansible-doc"), "-t", "module"] + ["%s.%s" % (FQCN, module) for module in modules], outside, env,
            problems, "ansible-doc of %d modules" % len(modules), expect="%s.deploy" % FQCN)
        return report(problems)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def report(problems) -> int:
    if problems:
        print("\nPACKAGE CHECK FAILED: %d problem(s)" % len(problems))
        for problem in problems:
            print(" - " + problem)
        return 1
    log("the tarball is clean, installs into an empty path and works by FQCN from outside the checkout")
    return 0


if __name__ == "__main__":
    sys.exit(main())
