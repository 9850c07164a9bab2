#!/usr/bin/env bash
# Compares `paca simulate` with libCacheSim (PyPI `libcachesim`) on a generated Zipf trace with
# varied object sizes, at cache sizes of 1% and 10% of the distinct bytes:
#   libCacheSim: LRU, FIFO, WTinyLFU, S3FIFO
#   paca simulate --shards 1 --entry-overhead 0: lru, fifo, tinylfu (paca's default policy)
# Prints one table (object and byte miss ratio per policy and size) and writes JSON.
# Exits non-zero when paca's LRU or FIFO object miss ratio differs from libCacheSim's by more
# than 0.1 percentage point; exits 0 with "skipped" when libcachesim cannot be installed.
#
# Environment (all optional):
#   PACA          paca binary (default: .build/release/paca, built if missing)
#   REQUESTS      requests in the trace (default 1000000)
#   OBJECTS       distinct objects (default 100000)
#   ALPHA         Zipf exponent (default 0.9)
#   SEED          random seed (default 42)
#   OUT           JSON output (default bench/libcachesim-compare.json)
#   TOLERANCE_PP  LRU/FIFO tolerance in percentage points (default 0.1)
#   KEEP          keep the temporary directory (trace files, venv) when set
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
PACA=${PACA:-$ROOT/.build/release/paca}
REQUESTS=${REQUESTS:-1000000}
OBJECTS=${OBJECTS:-100000}
ALPHA=${ALPHA:-0.9}
SEED=${SEED:-42}
OUT=${OUT:-$ROOT/bench/libcachesim-compare.json}
TOLERANCE_PP=${TOLERANCE_PP:-0.1}

WORK=$(mktemp -d -t paca-libcachesim.XXXXXX)
if [[ -z "${KEEP:-}" ]]; then
    trap 'rm -rf "$WORK"' EXIT
else
    echo "keeping $WORK"
fi

echo "== installing libcachesim into a virtualenv in $WORK"
if ! python3 -m venv "$WORK/venv" >"$WORK/venv.log" 2>&1 \
    || ! "$WORK/venv/bin/pip" install -q libcachesim numpy >>"$WORK/venv.log" 2>&1 \
    || ! "$WORK/venv/bin/python" -c "import libcachesim" >>"$WORK/venv.log" 2>&1; then
    tail -5 "$WORK/venv.log" >&2 || true
    echo "libcachesim could not be installed (python3 -m venv / pip install libcachesim failed): skipped"
    exit 0
fi
"$WORK/venv/bin/python" -c "import libcachesim; print('libcachesim', libcachesim.__version__)"

if [[ ! -x "$PACA" ]]; then
    echo "== building paca (release)"
    swift build -c release --product paca
fi

export WORK PACA REQUESTS OBJECTS ALPHA SEED OUT TOLERANCE_PP
exec "$WORK/venv/bin/python" - <<'PY'
import json, os, subprocess, sys, time
import numpy as np
import libcachesim as lcs

work = os.environ["WORK"]
paca = os.environ["PACA"]
n_req = int(os.environ["REQUESTS"])
n_obj = int(os.environ["OBJECTS"])
alpha = float(os.environ["ALPHA"])
seed = int(os.environ["SEED"])
out = os.environ["OUT"]
tolerance = float(os.environ["TOLERANCE_PP"])

# --- The trace: Zipf(alpha) popularity over n_obj objects, each with a fixed size drawn
# log-uniformly from 100 B to 100 KB. Object ids are shuffled so popularity is not ordered by id.
rng = np.random.default_rng(seed)
sizes = np.exp(rng.uniform(np.log(100), np.log(100_000), n_obj)).astype(np.int64)
weights = 1.0 / np.arange(1, n_obj + 1) ** alpha
weights /= weights.sum()
ranks = rng.choice(n_obj, size=n_req, p=weights)
ids = rng.permutation(n_obj)[ranks] + 1  # libCacheSim ids are numeric; 0 is avoided
req_sizes = sizes[ids - 1]

csv_path = os.path.join(work, "trace.csv")    # libCacheSim: time,obj_id,obj_size
plain_path = os.path.join(work, "trace.txt")  # paca: key size
with open(csv_path, "w") as f:
    f.write("\n".join(f"{t},{i},{s}" for t, i, s in zip(range(1, n_req + 1), ids.tolist(), req_sizes.tolist())))
    f.write("\n")
with open(plain_path, "w") as f:
    f.write("\n".join(f"o{i} {s}" for i, s in zip(ids.tolist(), req_sizes.tolist())))
    f.write("\n")

distinct = np.unique(ids)
distinct_bytes = int(sizes[distinct - 1].sum())
cache_sizes = {"1%": distinct_bytes // 100, "10%": distinct_bytes // 10}
print(f"trace: {n_req} requests, {len(distinct)} distinct objects, {distinct_bytes} distinct bytes, "
      f"zipf alpha {alpha}, seed {seed}")

# --- libCacheSim.
params = lcs.ReaderInitParam(has_header=False, delimiter=",", obj_id_is_num=True)
params.time_field = 1
params.obj_id_field = 2
params.obj_size_field = 3
reader = lcs.TraceReader(csv_path, lcs.TraceType.CSV_TRACE, params)
lcs_policies = {"LRU": lcs.LRU, "FIFO": lcs.FIFO, "WTinyLFU": lcs.WTinyLFU, "S3FIFO": lcs.S3FIFO}
results = []
for label, size in cache_sizes.items():
    for name, cls in lcs_policies.items():
        reader.reset()
        cache = cls(cache_size=size)
        started = time.time()
        omr, bmr = cache.process_trace(reader)
        results.append({"simulator": "libCacheSim", "policy": name, "size": label, "size_bytes": size,
                        "object_miss_ratio": omr, "byte_miss_ratio": bmr, "seconds": time.time() - started})

# --- paca simulate: one pass over every size and policy.
paca_json = os.path.join(work, "paca.json")
sizes_arg = ",".join(str(s) for s in cache_sizes.values())
command = [paca, "simulate", plain_path, "--format", "trace", "--shards", "1", "--entry-overhead", "0",
           "--sizes", sizes_arg, "--policies", "lru,fifo,tinylfu", "--json", paca_json]
print("$", " ".join(command))
started = time.time()
run = subprocess.run(command, capture_output=True, text=True)
seconds = time.time() - started
if run.returncode != 0:
    sys.stderr.write(run.stdout + run.stderr)
    sys.exit(f"paca simulate failed with status {run.returncode}")
print(run.stdout.splitlines()[0] if run.stdout else "")
report = json.load(open(paca_json))
by_bytes = {v: k for k, v in cache_sizes.items()}
names = {"lru": "LRU", "fifo": "FIFO", "tinylfu": "TinyLFU (paca default)"}
for row in report["results"]:
    results.append({"simulator": "paca", "policy": names.get(row["policy"], row["policy"]),
                    "size": by_bytes[row["size_bytes"]], "size_bytes": row["size_bytes"],
                    "object_miss_ratio": 1 - row["object_hit_ratio"], "byte_miss_ratio": 1 - row["byte_hit_ratio"],
                    "seconds": seconds})

# --- The table and the checks.
print()
print(f"{'simulator':<12} {'policy':<24} {'size':>5} {'bytes':>12} {'obj miss':>9} {'byte miss':>10}")
for label in cache_sizes:
    for r in results:
        if r["size"] == label:
            print(f"{r['simulator']:<12} {r['policy']:<24} {label:>5} {r['size_bytes']:>12} "
                  f"{100 * r['object_miss_ratio']:>8.2f}% {100 * r['byte_miss_ratio']:>9.2f}%")
    print()

def find(simulator, policy, label):
    return next(r for r in results if r["simulator"] == simulator and r["policy"] == policy and r["size"] == label)

checks = []
failed = False
for label in cache_sizes:
    for policy in ("LRU", "FIFO"):
        ours, theirs = find("paca", policy, label), find("libCacheSim", policy, label)
        diff = 100 * abs(ours["object_miss_ratio"] - theirs["object_miss_ratio"])
        ok = diff <= tolerance
        failed |= not ok
        checks.append({"policy": policy, "size": label, "difference_pp": diff, "ok": ok})
        print(f"check {policy:<4} at {label:>3}: paca vs libCacheSim object miss ratio differ by "
              f"{diff:.3f} pp (tolerance {tolerance}) {'ok' if ok else 'FAIL'}")
    best = min((find("libCacheSim", p, label) for p in ("WTinyLFU", "S3FIFO")), key=lambda r: r["object_miss_ratio"])
    ours = find("paca", "TinyLFU (paca default)", label)
    gap = 100 * (ours["object_miss_ratio"] - best["object_miss_ratio"])
    print(f"paca default at {label:>3}: object miss ratio {100 * ours['object_miss_ratio']:.2f}% vs best of "
          f"WTinyLFU/S3FIFO ({best['policy']}) {100 * best['object_miss_ratio']:.2f}%: "
          f"{'at or above' if gap <= 0 else f'{gap:.2f} pp behind'}")

with open(out, "w") as f:
    json.dump({"trace": {"requests": n_req, "objects": int(len(distinct)), "distinct_bytes": distinct_bytes,
                         "zipf_alpha": alpha, "seed": seed, "size_range_bytes": [100, 100_000]},
               "libcachesim_version": lcs.__version__, "results": results, "checks": checks}, f, indent=2)
print(f"wrote {out}")
sys.exit(1 if failed else 0)
PY
