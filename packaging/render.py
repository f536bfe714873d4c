#!/usr/bin/env python3
"""Renders the winget and scoop manifests of one release from packaging/templates.

usage: render.py --version V --dist DIR --out DIR [--base-url URL] [--release-date YYYY-MM-DD]

DIR holds the release archives, named wslbox-V-<target>.zip; the x64 and arm64 Windows ones
(x86_64-pc-windows-msvc, aarch64-pc-windows-msvc) go into the manifests with their sha256,
computed here from the files. Output: OUT/winget/manifests/w/wslbox/wslbox/V/*.yaml (the
layout of winget-pkgs) and OUT/scoop/wslbox.json. The release workflow runs this; the tests
run it on archives built here and validate the result against the official schemas.
"""
import argparse, datetime, json, os, re, sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from archive import sha256  # noqa: E402  (the archives' hash, as SHA256SUMS has it)

TARGETS = {"x64": "x86_64-pc-windows-msvc", "arm64": "aarch64-pc-windows-msvc"}


def render(text, values, quote=lambda v: v):
    def sub(m):
        key = m.group(1)
        if key not in values:
            sys.exit(f"render.py: the template names {{{{{key}}}}}, which has no value")
        return quote(values[key])
    return re.sub(r"\{\{(\w+)\}\}", sub, text)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--version", required=True)
    p.add_argument("--dist", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--base-url", default=None)
    p.add_argument("--release-date", default=datetime.date.today().isoformat())
    a = p.parse_args()
    if not re.fullmatch(r"\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?", a.version):
        sys.exit(f"render.py: `{a.version}` is not a version like 1.2.3")
    base = a.base_url or f"https://github.com/wslbox/wslbox/releases/download/v{a.version}"
    values = {"version": a.version, "release_date": a.release_date}
    for arch, target in TARGETS.items():
        name = f"wslbox-{a.version}-{target}.zip"
        path = os.path.join(a.dist, name)
        if not os.path.isfile(path):
            sys.exit(f"render.py: {path} is missing; build the {target} archive first")
        values[f"{arch}_url"] = f"{base}/{name}"
        values[f"{arch}_sha256"] = sha256(path)

    winget = os.path.join(a.out, "winget", "manifests", "w", "wslbox", "wslbox", a.version)
    os.makedirs(winget, exist_ok=True)
    templates = os.path.join(HERE, "templates", "winget")
    for name in sorted(os.listdir(templates)):
        with open(os.path.join(templates, name), encoding="utf-8") as f:
            text = render(f.read(), values)
        with open(os.path.join(winget, name), "w", encoding="utf-8") as f:
            f.write(text)

    scoop = os.path.join(a.out, "scoop")
    os.makedirs(scoop, exist_ok=True)
    with open(os.path.join(HERE, "templates", "scoop", "wslbox.json"), encoding="utf-8") as f:
        # Values go in as JSON strings (without the quotes the template already has).
        text = render(f.read(), values, quote=lambda v: json.dumps(v)[1:-1])
    json.loads(text)  # the template stays valid JSON
    with open(os.path.join(scoop, "wslbox.json"), "w", encoding="utf-8") as f:
        f.write(text)
    print(winget)
    print(os.path.join(scoop, "wslbox.json"))


if __name__ == "__main__":
    main()
