"""Build the collection's HTML docsite (``make docsite``): plugin, module and role pages plus the guides.

    python docs/docsite/build.py [--dest .build/docsite]

1. copies the collection (the files git tracks or would track) to
   ``<dest>/collections/ansible_collections/continuouspipe/kubernetes``;
2. ``antsibull-docs sphinx-init --use-current --squash-hierarchy --lenient`` (``--lenient``: Sphinx
   without ``-W``), then the two steps of its ``build.sh``: ``antsibull-docs collection`` writes the
   RST pages, and before ``sphinx-build`` each extra docs page (``docs/docsite/rst/*.rst``) that names
   its Markdown source (``.. source-markdown: docs/X.md``) is replaced by that file, read by MyST with
   the page's label in front: the guides are written once, in ``docs/*.md``. Intersphinx is off:
   Galaxy, docs.python.org and docs.ansible.com cannot be reached from here, and their inventories
   only add cross-links.

The HTML lands in ``<dest>/html`` (open ``index.html``). Exit status: that of the Sphinx build.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))
COLLECTION = "continuouspipe.kubernetes"
SOURCE = re.compile(r"^\.\. source-markdown: (\S+)\s*$", re.MULTILINE)
LABEL = re.compile(r"^\.\. _([^:]+):\s*$", re.MULTILINE)

CONF_EXTRA = """
# --- added by docs/docsite/build.py -------------------------------------------------------------
project = 'continuouspipe.kubernetes'
title = html_short_title = 'continuouspipe.kubernetes'
extensions.append('myst_parser')
source_suffix = {'.rst': 'restructuredtext', '.md': 'markdown'}
myst_heading_anchors = 3
# offline build: no intersphinx inventories (Galaxy and the public docsites are unreachable here)
intersphinx_mapping = {}
"""


def collection_files() -> list:
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                         check=True, capture_output=True).stdout.decode()
    return [path for path in out.split("\0") if path and os.path.isfile(os.path.join(ROOT, path))]


def markdown_page(rst: str, root: str):
    """The Markdown page for an extra docs page that names its source (None if it names none)."""
    source = SOURCE.search(rst)
    if not source:
        return None
    markdown = os.path.join(root, source.group(1))
    if not os.path.isfile(markdown):
        raise SystemExit("%s names %s, which does not exist" % (source.group(0).strip(), source.group(1)))
    with open(markdown) as handle:
        text = handle.read()
    labels = "".join("(%s)=\n" % match.group(1) for match in LABEL.finditer(rst))
    return labels + "\n" + text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--dest", default=os.path.join(ROOT, ".build", "docsite"))
    args = parser.parse_args()
    dest = os.path.abspath(args.dest)
    shutil.rmtree(dest, ignore_errors=True)
    collections = os.path.join(dest, "collections")
    copy = os.path.join(collections, "ansible_collections", *COLLECTION.split("."))
    for path in collection_files():
        target = os.path.join(copy, path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(os.path.join(ROOT, path), target)
    site = os.path.join(dest, "site")
    os.makedirs(site, mode=0o700)  # antsibull-docs wants a directory only its owner can write
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections)
    bindir = os.path.dirname(sys.executable)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    subprocess.run(["antsibull-docs", "sphinx-init", "--use-current", "--squash-hierarchy", "--lenient",
                    "--dest-dir", site, COLLECTION], env=env, check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(site, "conf.py"), "a") as handle:
        handle.write(CONF_EXTRA)
    rst = os.path.join(site, "rst")
    os.chmod(rst, 0o700)  # sphinx-init made it; antsibull-docs wants it writable by its owner only
    subprocess.run(["antsibull-docs", "--config-file", "antsibull-docs.cfg", "collection", "--cleanup", "everything",
                    "--use-current", "--squash-hierarchy", "--dest-dir", rst, COLLECTION], cwd=site, env=env, check=True)
    pages = os.path.join(rst, "docsite")
    for name in sorted(os.listdir(pages)) if os.path.isdir(pages) else []:
        if name.endswith(".rst"):
            path = os.path.join(pages, name)
            with open(path) as handle:
                page = markdown_page(handle.read(), copy)
            if page is not None:
                with open(path[:-4] + ".md", "w") as handle:
                    handle.write(page)
                os.unlink(path)
    done = subprocess.run(["sphinx-build", "-M", "html", rst, os.path.join(site, "build"), "-c", site], cwd=site,
                          env=env, check=False)
    html = os.path.join(site, "build", "html")
    if done.returncode == 0 and os.path.isdir(html):
        os.replace(html, os.path.join(dest, "html"))
        print("docsite: %s" % os.path.join(dest, "html", "index.html"))
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
