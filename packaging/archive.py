#!/usr/bin/env python3
"""Packs the release archives and their SHA256SUMS: the one definition of the archive layout.

usage: archive.py pack --version V --target TRIPLE --binary PATH --out DIR
       archive.py sums DIR
       archive.py imports BINARY.exe   (lists the DLLs a PE file imports)

`pack` writes DIR/wslbox-V-TRIPLE.zip for a Windows target (wslbox.exe, README.md,
LICENSE-MIT, LICENSE-APACHE at the top, where the winget and scoop manifests expect
wslbox.exe) and DIR/wslbox-V-TRIPLE.tar.gz otherwise (the same files under
wslbox-V-TRIPLE/, as Unix archives do). It first checks that the binary is an executable of
TRIPLE's format and CPU (PE or ELF; x86-64 or arm64), so a mislabelled archive cannot ship.
A Windows binary must import only DLLs every Windows 10/11 has (no mingw or VC++ runtime).
The archives are reproducible: sorted entries, fixed times, modes and owners, and no gzip
name or time, so rebuilding the same binary gives the same sha256.

`sums` writes DIR/SHA256SUMS over every wslbox-*.zip and wslbox-*.tar.gz in DIR, in the
format of `sha256sum` (`sha256sum -c SHA256SUMS` checks it; scoop's autoupdate reads it).
The release workflow and scripts/test-release-archive run both.
"""
import argparse, gzip, hashlib, io, os, re, struct, sys, tarfile, zipfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = ["README.md", "LICENSE-MIT", "LICENSE-APACHE"]
# The zip format cannot say 1970; both formats get this time (2000-01-01T00:00:00Z).
EPOCH = 946684800
ARCHES = {"x86_64": {"pe": 0x8664, "elf": 62}, "aarch64": {"pe": 0xAA64, "elf": 183}}


def fail(msg):
    sys.exit(f"archive.py: {msg}")


def check_binary(path, target):
    """The binary's format and machine must be the target's."""
    arch = target.split("-")[0]
    if arch not in ARCHES:
        fail(f"no known CPU in target `{target}` (expected x86_64-… or aarch64-…)")
    windows = "-windows-" in target
    with open(path, "rb") as f:
        head = f.read(4096)
    if windows:
        if head[:2] != b"MZ" or len(head) < 0x40:
            fail(f"{path} is not a Windows executable, but the target is {target}")
        pe = struct.unpack_from("<I", head, 0x3C)[0]
        if head[pe:pe + 4] != b"PE\0\0":
            fail(f"{path} has no PE header")
        machine = struct.unpack_from("<H", head, pe + 4)[0]
        want = ARCHES[arch]["pe"]
    else:
        if head[:4] != b"\x7fELF":
            fail(f"{path} is not an ELF executable, but the target is {target}")
        machine = struct.unpack_from("<H", head, 18)[0]
        want = ARCHES[arch]["elf"]
    if machine != want:
        fail(f"{path} is built for machine {machine:#x}, not {arch} ({want:#x}): wrong --target?")


# What a Windows binary may import: DLLs and API sets every Windows 10/11 has. A mingw runtime
# (libgcc_s_seh-1.dll, libwinpthread-1.dll) or the VC++ runtime (vcruntime140.dll, msvcp140.dll)
# would make a clean machine refuse to start wslbox.exe: the static CRT keeps them out.
SYSTEM_DLLS = re.compile(
    r"(api-ms-win-[a-z0-9-]+|advapi32|bcrypt|bcryptprimitives|crypt32|iphlpapi|kernel32|kernelbase"
    r"|msvcrt|ncrypt|ntdll|ole32|oleaut32|propsys|rpcrt4|secur32|shell32|shlwapi|user32|userenv"
    r"|ws2_32)\.dll")


def pe_imports(path):
    """The DLL names a PE file imports, from its import and delay-import directories."""
    with open(path, "rb") as f:
        data = f.read()
    pe = struct.unpack_from("<I", data, 0x3C)[0]
    sections, opt_size = struct.unpack_from("<H12xH", data, pe + 6)
    opt = pe + 24
    magic = struct.unpack_from("<H", data, opt)[0]
    dirs = opt + (112 if magic == 0x20B else 96)  # PE32+ or PE32
    table = opt + opt_size
    spans = [struct.unpack_from("<IIII", data, table + 40 * i + 8) for i in range(sections)]

    def offset(rva):
        for vsize, vaddr, rsize, raw in spans:
            if vaddr <= rva < vaddr + max(vsize, rsize):
                return raw + rva - vaddr
        fail(f"{path}: RVA {rva:#x} is in no section")

    def name(rva):
        at = offset(rva)
        return data[at:data.index(b"\0", at)].decode("ascii").lower()

    found = set()
    for index, size, name_at in ((1, 20, 12), (13, 32, 4)):  # imports, delay imports
        rva = struct.unpack_from("<I", data, dirs + 8 * index)[0]
        if not rva:
            continue
        at = offset(rva)
        while any(data[at:at + size]):
            found.add(name(struct.unpack_from("<I", data, at + name_at)[0]))
            at += size
    return sorted(found)


def check_imports(path):
    dlls = pe_imports(path)
    if not dlls:
        fail(f"{path} imports no DLL: not a Windows executable wslbox could be")
    foreign = [d for d in dlls if not SYSTEM_DLLS.fullmatch(d)]
    if foreign:
        fail(f"{path} needs {', '.join(foreign)}, which a fresh Windows does not have: "
             "build with the static CRT (-C target-feature=+crt-static, in .cargo/config.toml)")
    return dlls


def members(binary, windows):
    exe = "wslbox.exe" if windows else "wslbox"
    yield exe, binary, 0o755
    for doc in DOCS:
        yield doc, os.path.join(REPO, doc), 0o644


def pack_zip(dest, files):
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name, src, mode in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))
            info.external_attr = (0o100000 | mode) << 16
            info.create_system = 3
            info.compress_type = zipfile.ZIP_DEFLATED
            with open(src, "rb") as f:
                z.writestr(info, f.read(), compresslevel=9)


def pack_tar_gz(dest, top, files):
    with open(dest, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
            with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
                def add(name, mode, data=None):
                    info = tarfile.TarInfo(f"{top}/{name}" if name else top)
                    info.mtime, info.uid, info.gid, info.uname, info.gname = EPOCH, 0, 0, "", ""
                    if data is None:
                        info.type, info.mode = tarfile.DIRTYPE, 0o755
                        tar.addfile(info)
                    else:
                        info.mode, info.size = mode, len(data)
                        tar.addfile(info, io.BytesIO(data))
                add("", 0o755)
                for name, src, mode in sorted(files):
                    with open(src, "rb") as f:
                        add(name, mode, f.read())


def pack(a):
    if not re.fullmatch(r"\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?", a.version):
        fail(f"`{a.version}` is not a version like 1.2.3")
    if not re.fullmatch(r"[0-9a-z_]+-[0-9a-z_]+-[0-9a-z_]+(-[0-9a-z_]+)?", a.target):
        fail(f"`{a.target}` is not a target triple")
    check_binary(a.binary, a.target)
    windows = "-windows-" in a.target
    if windows:
        print("imports: " + " ".join(check_imports(a.binary)), file=sys.stderr)
    stem = f"wslbox-{a.version}-{a.target}"
    dest = os.path.join(a.out, stem + (".zip" if windows else ".tar.gz"))
    os.makedirs(a.out, exist_ok=True)
    partial = dest + ".partial"
    files = list(members(a.binary, windows))
    if windows:
        pack_zip(partial, files)
    else:
        pack_tar_gz(partial, stem, files)
    os.replace(partial, dest)
    print(dest)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def sums(a):
    names = sorted(n for n in os.listdir(a.dir)
                   if n.startswith("wslbox-") and (n.endswith(".zip") or n.endswith(".tar.gz")))
    if not names:
        fail(f"no wslbox-*.zip or wslbox-*.tar.gz in {a.dir}")
    lines = "".join(f"{sha256(os.path.join(a.dir, n))}  {n}\n" for n in names)
    dest = os.path.join(a.dir, "SHA256SUMS")
    with open(dest + ".partial", "w", encoding="ascii", newline="\n") as f:
        f.write(lines)
    os.replace(dest + ".partial", dest)
    sys.stdout.write(lines)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    pk = sub.add_parser("pack")
    pk.add_argument("--version", required=True)
    pk.add_argument("--target", required=True)
    pk.add_argument("--binary", required=True)
    pk.add_argument("--out", required=True)
    sm = sub.add_parser("sums")
    sm.add_argument("dir")
    im = sub.add_parser("imports")
    im.add_argument("binary")
    a = p.parse_args()
    if a.cmd == "imports":
        print("\n".join(pe_imports(a.binary)))
    else:
        pack(a) if a.cmd == "pack" else sums(a)


if __name__ == "__main__":
    main()
