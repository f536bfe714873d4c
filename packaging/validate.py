#!/usr/bin/env python3
"""Validates rendered manifests against the official schemas in packaging/schemas.

usage: validate.py OUT   (the --out directory of render.py)
Needs the jsonschema and PyYAML modules (scripts/install-test-deps puts them in a venv).
"""
import glob, json, os, sys

import jsonschema
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
WINGET = {
    "version": "manifest.version.1.10.0.json",
    "defaultLocale": "manifest.defaultLocale.1.10.0.json",
    "installer": "manifest.installer.1.10.0.json",
}


class Yaml12ish(yaml.SafeLoader):
    """YAML as winget reads it: `2026-12-01` is a string (PyYAML's YAML 1.1 makes it a date)."""


Yaml12ish.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def check(doc, schema_file, what):
    with open(schema_file, encoding="utf-8") as f:
        schema = json.load(f)
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    for e in errors:
        print(f"{what}: {'/'.join(map(str, e.path)) or '(top)'}: {e.message}", file=sys.stderr)
    return not errors


def main():
    out = sys.argv[1]
    ok = True
    seen = set()
    for path in sorted(glob.glob(os.path.join(out, "winget", "manifests", "**", "*.yaml"), recursive=True)):
        with open(path, encoding="utf-8") as f:
            doc = yaml.load(f, Loader=Yaml12ish)
        kind = doc.get("ManifestType")
        if kind not in WINGET:
            print(f"{path}: unknown ManifestType {kind!r}", file=sys.stderr)
            ok = False
            continue
        seen.add(kind)
        ok &= check(doc, os.path.join(HERE, "schemas", "winget-1.10.0", WINGET[kind]), path)
    if seen != set(WINGET):
        print(f"winget: missing manifests: {sorted(set(WINGET) - seen)}", file=sys.stderr)
        ok = False
    scoop = os.path.join(out, "scoop", "wslbox.json")
    with open(scoop, encoding="utf-8") as f:
        ok &= check(json.load(f), os.path.join(HERE, "schemas", "scoop", "schema.json"), scoop)
    if not ok:
        sys.exit(1)
    print("manifests valid")


if __name__ == "__main__":
    main()
