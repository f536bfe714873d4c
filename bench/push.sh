# `bench/run push` (sourced by bench/run, after the local registry holds the bench image):
#   - wslbox push of the image (--raw: the tree as is, so every route pushes the same files),
#     gzip and zstd, each run to a repository of its own; the layer is always built and sent
#     (--no-cache; a chunked upload cannot ask first whether the registry has it);
#   - the anchor: podman import of the flattened tar + podman push (Docker's `import` + `push`
#     route), timed together, since wslbox's push flattens as well;
#   - the floor: compressing the same tar alone (pigz -6, zstd -T0 -3) to /dev/null, the levels
#     wslbox uses.
# Each pushed image is checked: exported back, its tree must be the tar's (bsdtar mtree).
PCACHE=$WORK/push-cache
PODROOT=$WORK/podman-push
podman_args=(--root "$PODROOT/root" --runroot "$PODROOT/run" --storage-driver vfs)
need zstd zstd
rm -rf "$PCACHE" "$PODROOT"
# The tree every route pushes; this also fills wslbox's cache with the image's blobs.
"$WSLBOX" --cache-dir "$PCACHE" --insecure-registry "$REG" export "$IMAGE" --raw -o "$OUT/rootfs.tar" 2>/dev/null
mtree() { bsdtar -cf - --format=mtree --options='!all,type,mode,uid,gid,size,sha256,link,device' "@$1" | sort; }
mtree "$OUT/rootfs.tar" > "$OUT/rootfs.mtree"
for run in $(seq "$RUNS"); do
    echo "bench: push run $run/$RUNS" >&2
    timed pigz6 bash -c "pigz -6 -c $OUT/rootfs.tar > /dev/null"
    timed zstd3 bash -c "zstd -q -T0 -3 -c $OUT/rootfs.tar > /dev/null"
    for c in gzip zstd; do
        /usr/bin/time -f "%e %M" -o "$OUT/push_$c.one" "$WSLBOX" --cache-dir "$PCACHE" --insecure-registry "$REG" \
            push "$IMAGE" "$REG/push-$c-$run:1" --raw --no-cache --compression "$c" --json \
            > "$OUT/push_$c.json" 2> "$OUT/push_$c.err" \
            || { echo "bench: wslbox push ($c) failed:" >&2; cat "$OUT/push_$c.err" >&2; exit 1; }
        cat "$OUT/push_$c.one" >> "$OUT/push_$c.times"
    done
    rm -rf "$PODROOT"
    timed podman_push bash -c "podman ${podman_args[*]} import -q $OUT/rootfs.tar localhost/bench-push:$run \
        && podman ${podman_args[*]} push -q --tls-verify=false localhost/bench-push:$run docker://$REG/podman-push-$run:1"
    rm -rf "$PODROOT"
done
# The pushed images hold the tree that was pushed.
for c in gzip zstd; do
    rm -f "$OUT/back.tar"
    "$WSLBOX" --cache-dir "$PCACHE" --insecure-registry "$REG" export "$REG/push-$c-1:1" --raw -o "$OUT/back.tar" 2>/dev/null
    mtree "$OUT/back.tar" | diff -q "$OUT/rootfs.mtree" - >/dev/null \
        || { echo "bench: the image wslbox pushed ($c) holds another tree than it was given" >&2; exit 1; }
done
echo "bench: both pushed images export to the tree that was pushed ($(wc -l < "$OUT/rootfs.mtree") paths)" >&2
skopeo inspect --raw --tls-verify=false "docker://$REG/podman-push-1:1" > "$OUT/podman_manifest.json"
python3 - "$OUT" <<'PY' | tee "$WORK/results-push.md"
import json, os, statistics, sys
out = sys.argv[1]
def load(name):
    rows = [l.split() for l in open(f'{out}/{name}.times') if l.strip()]
    return statistics.median(float(r[0]) for r in rows), max(int(r[1]) for r in rows) / 1024
tar = os.path.getsize(f'{out}/rootfs.tar')
sizes = {c: json.load(open(f'{out}/push_{c}.json'))['layer']['size'] for c in ('gzip', 'zstd')}
sizes['podman'] = sum(l['size'] for l in json.load(open(f'{out}/podman_manifest.json'))['layers'])
print(f'Pushed tree: rootfs tar {tar/1e6:.0f} MB, one layer.\n')
print('| route | seconds (median) | × its compressor alone | × podman import + push | layer (MB) | peak RSS (MB) |')
print('|---|---:|---:|---:|---:|---:|')
pod = load('podman_push')[0]
for label, name, floor, size in [
        ('floor: pigz -6 -c of the tar', 'pigz6', 'pigz6', None),
        ('floor: zstd -T0 -3 -c of the tar', 'zstd3', 'zstd3', None),
        ('wslbox push (gzip): flatten + compress + upload', 'push_gzip', 'pigz6', sizes['gzip']),
        ('wslbox push --compression zstd', 'push_zstd', 'zstd3', sizes['zstd']),
        ('podman import + podman push (gzip)', 'podman_push', 'pigz6', sizes['podman'])]:
    s, rss = load(name)
    f = load(floor)[0]
    mb = f'{size/1e6:.0f}' if size else ''
    print(f'| {label} | {s:.2f} | {s/f:.2f} | {s/pod:.2f} | {mb} | {rss:.0f} |')
PY
