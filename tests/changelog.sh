#!/usr/bin/env bash
# The changelog: fragments and changelogs/changelog.yaml lint clean (antsibull-changelog), and
# CHANGELOG.rst / CHANGELOG.md are exactly what antsibull-changelog generates from changelog.yaml.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
antsibull-changelog lint
antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml
work=$(mktemp -d "${TMPDIR:-/tmp}/cp-changelog.XXXXXX")
trap 'rm -rf "$work"' EXIT
status=0
for format in rst md; do
  antsibull-changelog generate --output "$work/CHANGELOG.$format" --output-format "$format"
  if ! diff -u "CHANGELOG.$format" "$work/CHANGELOG.$format"; then
    echo "CHANGELOG.$format is not what changelogs/changelog.yaml gives: run 'antsibull-changelog generate'" >&2
    status=1
  fi
done
exit $status
