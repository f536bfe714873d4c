#!/usr/bin/env python3
"""Writes an OCI image layout from already-compressed layer files (bench/run calls this).

usage: make-image.py LAYOUT_DIR TAG LAYER.tar.gz...
Each layer's diff_id is computed by decompressing it once; blobs are hard-linked when possible.
"""
import gzip, hashlib, json, os, shutil, sys, zlib


def sha256_file(path, decompress=False):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        if decompress:
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            while chunk := f.read(1 << 20):
                h.update(d.decompress(chunk))
            h.update(d.flush())
        else:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    return "sha256:" + h.hexdigest()


def main():
    out, tag, layers = sys.argv[1], sys.argv[2], sys.argv[3:]
    blobs = os.path.join(out, "blobs", "sha256")
    os.makedirs(blobs, exist_ok=True)

    def put_bytes(b):
        d = hashlib.sha256(b).hexdigest()
        with open(os.path.join(blobs, d), "wb") as f:
            f.write(b)
        return {"digest": "sha256:" + d, "size": len(b)}

    descs, diff_ids = [], []
    for path in layers:
        digest = sha256_file(path)
        dst = os.path.join(blobs, digest.split(":")[1])
        if not os.path.exists(dst):
            try:
                os.link(path, dst)
            except OSError:
                shutil.copyfile(path, dst)
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest, "size": os.path.getsize(path)})
        diff_ids.append(sha256_file(path, decompress=True))
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"], "Cmd": ["/bin/bash"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }
    cfg = put_bytes(json.dumps(config).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **cfg},
        "layers": descs,
    }
    man = put_bytes(json.dumps(manifest).encode())
    index = {"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", **man, "annotations": {"org.opencontainers.image.ref.name": tag}}]}
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump(index, f)
    with open(os.path.join(out, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)


if __name__ == "__main__":
    main()
