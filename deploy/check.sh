#!/usr/bin/env bash
# What can be checked of deploy/ on this machine, without a container engine (make deploy-check):
#   1. the systemd unit: `systemd-analyze verify`, the hardening it promises, and a stop timeout
#      longer than the drain (TimeoutStopSec > server.shutdown_grace);
#   2. every YAML file parses; the compose file's structure (two paca nodes, a Redis with a
#      password, the demo origin; volumes, files and dependencies that exist; stop grace periods
#      longer than the drain);
#   3. the Kubernetes manifests against the API schema (kubernetes-validate from PyPI, offline
#      schemas; installed with pip when missing) and what the schema cannot see (the Secret keys
#      referenced exist, readiness on /healthz, termination grace > preStop + drain);
#   4. the image's run-time command lines executed here with the binary just built: check-config
#      on every shipped config, `paca serve` with the image's config (listen addresses and the
#      absolute directories moved to loopback ports and a temporary directory), the HEALTHCHECK
#      command, the compose stack's two nodes on one password-protected redis-server with the
#      demo origin (a key fetched through one node is an L3 hit on the other; `paca reload
#      --all`), and SIGTERM ending each node with status 0;
#   5. the runtime stage installs the package of every shared library the binary links.
# Everything listens on 127.0.0.1; every process started here is stopped by PID on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

PACA=${PACA:-.build/release/paca}
[[ -x $PACA ]] || PACA=.build/debug/paca
die() { echo "deploy/check.sh: FAIL: $*" >&2; exit 1; }
ok() { echo "ok   $*"; }
[[ -x $PACA ]] || die "no paca binary: run 'make release' (or set PACA=)"
PACA=$(cd "$(dirname "$PACA")" && pwd)/$(basename "$PACA")
for tool in python3 curl redis-server systemd-analyze; do
    command -v "$tool" >/dev/null || die "$tool is needed (apt-get install ${tool/systemd-analyze/systemd})"
done
python3 -c 'import yaml' 2>/dev/null || die "python3 yaml is needed (apt-get install python3-yaml)"

tmp=$(mktemp -d /tmp/paca-deploy-check.XXXXXX)
WAIT_SECONDS=10
source bench/lib.sh
seconds() { python3 - "$1" <<'PY'
import re, sys
m = re.fullmatch(r"(\d+)(ms|s|m|h|min)?", sys.argv[1].strip())
if not m: sys.exit(f"not a duration: {sys.argv[1]}")
n, unit = int(m.group(1)), m.group(2) or "s"
print(n * {"ms": 0.001, "s": 1, "m": 60, "min": 60, "h": 3600}[unit])
PY
}
grace_of() { python3 -c "import json,sys; print(json.load(open(sys.argv[1])).get('server',{}).get('shutdown_grace','30s'))" "$1"; }

# ---- 1. systemd unit ------------------------------------------------------------------------
unit=deploy/paca.service
sed "s#/usr/local/bin/paca#$PACA#g" "$unit" > "$tmp/paca.service"
out=$(systemd-analyze verify "$tmp/paca.service" 2>&1 || true)
[[ -z $out ]] || die "systemd-analyze verify $unit:"$'\n'"$out"
for directive in 'DynamicUser=yes' 'User=paca' 'ProtectSystem=strict' 'Restart=on-failure' 'CacheDirectory=paca' \
    'NoNewPrivileges=yes' 'KillSignal=SIGTERM'; do
    grep -qx "$directive" "$unit" || die "$unit lacks $directive"
done
stop=$(sed -n 's/^TimeoutStopSec=//p' "$unit")
grace=$(grace_of deploy/routes.json)
python3 -c "import sys; sys.exit(0 if $(seconds "$stop") > $(seconds "$grace") else 1)" \
    || die "$unit: TimeoutStopSec=$stop must exceed server.shutdown_grace ($grace) of deploy/routes.json"
ok "systemd: verify clean; dedicated user, read-only root but the cache/log/state dirs, Restart=on-failure, stop $stop > grace $grace"

# ---- 2. YAML and compose ----------------------------------------------------------------------
python3 - <<'PY' || die "YAML/compose structure (above)"
import json, os, re, sys, yaml
def seconds(text):
    m = re.fullmatch(r"(\d+)(ms|s|m|h)?", str(text))
    return int(m.group(1)) * {"ms": .001, "s": 1, "m": 60, "h": 3600}[m.group(2) or "s"]
problems = []
for root, _, files in os.walk("deploy"):
    for name in files:
        if name.endswith((".yaml", ".yml")):
            path = os.path.join(root, name)
            try:
                docs = [d for d in yaml.safe_load_all(open(path)) if d is not None]
            except yaml.YAMLError as error:
                problems.append(f"{path}: {error}")
                continue
            if not docs:
                problems.append(f"{path}: empty")
compose = yaml.safe_load(open("deploy/compose.yaml"))
services = compose.get("services", {})
known_keys = {"build", "image", "command", "environment", "ports", "volumes", "depends_on", "restart",
              "stop_signal", "stop_grace_period", "healthcheck", "network_mode", "entrypoint"}
for name, service in services.items():
    unknown = set(service) - known_keys
    if unknown: problems.append(f"compose: service {name}: unexpected keys {sorted(unknown)}")
    if "image" not in service and "build" not in service: problems.append(f"compose: {name} has neither image nor build")
    build = service.get("build")
    if build and not os.path.isfile(os.path.join("deploy", build["context"], build["dockerfile"])):
        problems.append(f"compose: {name}: no {build['dockerfile']} in {build['context']}")
    for dependency in service.get("depends_on", {}):
        if dependency not in services: problems.append(f"compose: {name} depends on unknown {dependency}")
    for volume in service.get("volumes", []):
        source = volume.split(":")[0]
        if source.startswith("."):
            if not os.path.exists(os.path.join("deploy", source)): problems.append(f"compose: {name} mounts missing {source}")
        elif source not in (compose.get("volumes") or {}):
            problems.append(f"compose: {name} uses undeclared volume {source}")
nodes = [n for n, s in services.items() if "serve" in str(s.get("command", "serve")) and "redis" not in n and n != "origin"]
if len(nodes) < 2: problems.append(f"compose: expected two paca nodes, found {nodes}")
ports = [p.split(":")[-2] if p.count(":") == 2 else p.split(":")[0] for s in services.values() for p in s.get("ports", [])]
if len(ports) != len(set(ports)): problems.append(f"compose: a host port is published twice: {ports}")
redis = services.get("redis", {})
if "--requirepass" not in str(redis.get("command", "")): problems.append("compose: redis has no password")
if "demo-origin" not in str(services.get("origin", {}).get("command", "")): problems.append("compose: no demo origin")
routes = json.load(open("deploy/compose.routes.json"))
grace = seconds(routes.get("server", {}).get("shutdown_grace", "30s"))
for node in nodes:
    if seconds(services[node].get("stop_grace_period", "10s")) <= grace:
        problems.append(f"compose: {node} stop_grace_period must exceed shutdown_grace {grace}s")
    if "PACA_ADMIN_TOKEN" not in services[node].get("environment", {}): problems.append(f"compose: {node} has no admin token")
if routes["storage"]["l3"].get("password_env") not in redis.get("environment", {}):
    problems.append("compose: the l3 password_env is not the variable redis reads")
for p in problems: print("  " + p, file=sys.stderr)
sys.exit(1 if problems else 0)
PY
ok "yaml: every file in deploy/ parses; compose: $(python3 -c 'import yaml; print(", ".join(yaml.safe_load(open("deploy/compose.yaml"))["services"]))')"

# ---- 3. Kubernetes ------------------------------------------------------------------------------
if ! command -v kubernetes-validate >/dev/null; then
    pip install --quiet kubernetes-validate >/dev/null 2>&1 || true
fi
manifests=$(ls deploy/k8s/*.yaml | grep -v kustomization.yaml)
if command -v kubernetes-validate >/dev/null; then
    out=$(kubernetes-validate --strict --quiet $manifests 2>&1) || die "kubernetes-validate:"$'\n'"$out"
    ok "k8s: $(echo $manifests | wc -w) manifests valid against the Kubernetes $(kubernetes-validate --version 2>/dev/null | awk '{print $NF}') schema (strict)"
else
    echo "skip k8s schema: kubernetes-validate could not be installed (pip, offline?); structural checks only"
fi
python3 - "$tmp" <<'PY' || die "k8s structure (above)"
import json, os, re, sys, yaml
tmp = sys.argv[1]
docs = []
for name in sorted(os.listdir("deploy/k8s")):
    docs += [d for d in yaml.safe_load_all(open(f"deploy/k8s/{name}")) if d]
kinds = {}
for d in docs: kinds.setdefault(d["kind"], []).append(d)
problems = []
kustomization = kinds["Kustomization"][0]
for resource in kustomization["resources"]:
    if not os.path.isfile(f"deploy/k8s/{resource}"): problems.append(f"kustomization: no {resource}")
listed = set(kustomization["resources"])
for name in os.listdir("deploy/k8s"):
    if name != "kustomization.yaml" and name not in listed: problems.append(f"kustomization does not list {name}")
for needed in ["Deployment", "Service", "ConfigMap", "Secret"]:
    if needed not in kinds: problems.append(f"no {needed}")
secrets = {s["metadata"]["name"]: set(s.get("stringData", {})) | set(s.get("data", {})) for s in kinds.get("Secret", [])}
configmaps = {c["metadata"]["name"]: c["data"] for c in kinds.get("ConfigMap", [])}
paca = next(d for d in kinds["Deployment"] if d["metadata"]["name"] == "paca")
spec = paca["spec"]["template"]["spec"]
container = next(c for c in spec["containers"] if c["name"] == "paca")
for deployment in kinds["Deployment"]:
    for c in deployment["spec"]["template"]["spec"]["containers"]:
        for env in c.get("env", []):
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if ref and ref["key"] not in secrets.get(ref["name"], set()):
                problems.append(f"{deployment['metadata']['name']}/{c['name']}: secret {ref['name']} has no key {ref['key']}")
if container["readinessProbe"]["httpGet"]["path"] != "/healthz": problems.append("readiness is not on /healthz")
mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
volumes = {v["name"]: v for v in spec["volumes"]}
routes_volume = next(n for n, v in volumes.items() if "configMap" in v)
config = json.loads(configmaps[volumes[routes_volume]["configMap"]["name"]]["routes.json"])
l2 = config["storage"]["l2"]["path"]
if l2 not in mounts.values(): problems.append(f"L2 path {l2} is not a mounted volume")
log_dir = os.path.dirname(config["access_log"]["path"])
if log_dir not in mounts.values(): problems.append(f"access log directory {log_dir} is not a mounted volume")
env_names = {e["name"] for e in container.get("env", [])}
for variable in [config["admin"].get("token_env"), config["storage"].get("l3", {}).get("password_env")]:
    if variable and variable not in env_names: problems.append(f"the config reads {variable}, the container does not set it")
def seconds(text):
    m = re.fullmatch(r"(\d+)(ms|s|m|h)?", str(text))
    return int(m.group(1)) * {"ms": .001, "s": 1, "m": 60, "h": 3600}[m.group(2) or "s"]
grace = seconds(config.get("server", {}).get("shutdown_grace", "30s"))
pre = container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
pre_s = float(pre[1]) if len(pre) == 2 and pre[0] == "sleep" else 0
if spec.get("terminationGracePeriodSeconds", 30) <= pre_s + grace:
    problems.append(f"terminationGracePeriodSeconds must exceed preStop {pre_s}s + shutdown_grace {grace}s")
# The ConfigMap's routes.json goes to check-config below, its absolute paths kept.
open(f"{tmp}/k8s-routes.json", "w").write(json.dumps(config))
for p in problems: print("  " + p, file=sys.stderr)
sys.exit(1 if problems else 0)
PY
ok "k8s: Secret keys referenced exist, readiness on /healthz, L2 and log dirs are volumes, grace covers preStop + drain"

# ---- 4. the image's command lines, run here -----------------------------------------------------
for config in deploy/routes.json deploy/compose.routes.json "$tmp/k8s-routes.json"; do
    "$PACA" check-config "$config" > "$tmp/check.out" 2>&1 || { cat "$tmp/check.out" >&2; die "paca check-config $config"; }
done
ok "paca check-config: deploy/routes.json, deploy/compose.routes.json, the k8s ConfigMap"

# A shipped config with its listen addresses on free loopback ports, its absolute directories
# under $tmp/root, and its origin (and Redis) on the given addresses.
relocate() {  # $1 config, $2 out, $3 port, $4 admin port, $5 origin URL, [$6 redis URL]
    python3 - "$@" "$tmp/root" <<'PY'
import json, sys
source, out, port, admin, origin = sys.argv[1:6]
redis = sys.argv[6] if len(sys.argv) > 7 else None
root = sys.argv[-1]
c = json.load(open(source))
c["listen"] = f"127.0.0.1:{port}"
c["admin"]["listen"] = f"127.0.0.1:{admin}"
c["storage"]["l2"]["path"] = root + c["storage"]["l2"]["path"] + f"-{port}"
c["access_log"]["path"] = root + c["access_log"]["path"] + f"-{port}"
if redis: c["storage"]["l3"]["url"] = redis
for r in c["routes"]: r["origin"] = origin
json.dump(c, open(out, "w"))
PY
}
node() {  # $1 config; sets node_pid
    "$PACA" serve --config "$1" --log-level warning >>"$tmp/serve.log" 2>&1 &
    node_pid=$!
    pids+=("$node_pid")
}
stop_node() {  # $1 pid: SIGTERM, the status must be 0
    kill -TERM "$1"
    local status=0
    wait "$1" || status=$?
    [[ $status == 0 ]] || die "paca serve exited $status after SIGTERM (log: $(tail -3 "$tmp/serve.log"))"
}
export PACA_ADMIN_TOKEN=deploy-check-token-0123456789abcdef
mkdir -p "$tmp/root"

origin_port=$(free_port)
"$PACA" demo-origin --fixtures fixtures --host 127.0.0.1 --port "$origin_port" --latency 0 > "$tmp/origin.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$origin_port/"
origin="http://127.0.0.1:$origin_port"

port=$(free_port); admin=$(free_port)
relocate deploy/routes.json "$tmp/image.json" "$port" "$admin" "$origin"
node "$tmp/image.json"; image_pid=$node_pid
# The HEALTHCHECK command line, polled until the node is up.
for _ in $(seq 100); do "$PACA" health --admin "http://127.0.0.1:$admin" >/dev/null 2>&1 && break; sleep 0.1; done
"$PACA" health --admin "http://127.0.0.1:$admin" >/dev/null || die "the HEALTHCHECK command fails against the image's config"
status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/api/users/1")
[[ $status == 200 ]] || die "the image's config answered $status for /api/users/1"
stop_node "$image_pid"
[[ -s "$tmp/root/var/log/paca/access.log-$port" ]] || die "no access log line after the drain"
if "$PACA" health --admin "http://127.0.0.1:$admin" >/dev/null 2>&1; then die "HEALTHCHECK passes after the node stopped"; fi
ok "image CMD: serve --config /etc/paca/routes.json answers, HEALTHCHECK passes then fails once stopped, SIGTERM exits 0, access log flushed"

redis_port=$(free_port)
export REDIS_PASSWORD=deploy-check-redis-password
redis-server --port "$redis_port" --bind 127.0.0.1 --requirepass "$REDIS_PASSWORD" --save '' --appendonly no \
    --dir "$tmp" > "$tmp/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do REDISCLI_AUTH=$REDIS_PASSWORD redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
a_port=$(free_port); a_admin=$(free_port); b_port=$(free_port); b_admin=$(free_port)
relocate deploy/compose.routes.json "$tmp/a.json" "$a_port" "$a_admin" "$origin" "redis://127.0.0.1:$redis_port/0"
relocate deploy/compose.routes.json "$tmp/b.json" "$b_port" "$b_admin" "$origin" "redis://127.0.0.1:$redis_port/0"
node "$tmp/a.json"; a_pid=$node_pid
node "$tmp/b.json"; b_pid=$node_pid
wait_for "http://127.0.0.1:$a_admin/healthz"; wait_for "http://127.0.0.1:$b_admin/healthz"
curl -s -o /dev/null "http://127.0.0.1:$a_port/api/users/7"
cache_status=""
for _ in $(seq 50); do  # A's L3 write is asynchronous
    cache_status=$(curl -s -D - -o /dev/null "http://127.0.0.1:$b_port/api/users/7" | tr -d '\r' | sed -n 's/^Cache-Status: //Ip')
    [[ $cache_status == *"detail=l3"* ]] && break
    [[ $cache_status == *hit* ]] && break
    sleep 0.1
done
[[ $cache_status == *"detail=l3"* ]] || die "node b did not read node a's entry from L3: Cache-Status: $cache_status"
"$PACA" reload --all --admin "http://127.0.0.1:$a_admin" > "$tmp/reload.out" || die "paca reload --all: $(cat "$tmp/reload.out")"
received=0
for _ in $(seq 50); do  # node b polls the generation every second
    received=$(curl -s -H "Authorization: Bearer $PACA_ADMIN_TOKEN" "http://127.0.0.1:$b_admin/stats" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["reloads"]["broadcasts_received"])')
    [[ $received == 1 ]] && break
    sleep 0.1
done
[[ $received == 1 ]] || die "node b did not receive the reload broadcast"
stop_node "$a_pid"; stop_node "$b_pid"
ok "compose stack: two nodes on one redis-server with a password, an L3 hit across nodes, reload --all reached b, SIGTERM exits 0"

# ---- 5. runtime libraries ---------------------------------------------------------------------
runtime=$(awk '/^FROM .* AS build/{b=1} /^FROM /&&!/AS build/{b=0; r=1} r' deploy/Containerfile)
missing=()
needed=$(readelf -d "$PACA" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
for name in $needed; do
    lib=$(ldd "$PACA" | awk -v n="$name" '$1 == n {print $3}')
    [[ -n $lib ]] || continue
    package=$(dpkg -S "$(readlink -f "$lib")" 2>/dev/null | head -1 | cut -d: -f1) || true
    [[ -n $package ]] || package=$(dpkg -S "$lib" 2>/dev/null | head -1 | cut -d: -f1) || true
    [[ -n $package ]] || continue  # the Swift runtime: linked statically into the image's binary
    case $package in libc6|libgcc-s1|libstdc++6) continue ;; esac
    grep -qw -- "$package" <<<"$runtime" || missing+=("$package ($name)")
done
[[ ${#missing[@]} == 0 ]] || die "the runtime stage does not install: ${missing[*]}"
ok "runtime image: installs the package of every system library paca needs: $(echo $needed | tr ' ' '\n' | grep -E 'curl|hiredis|libz' | tr '\n' ' ')"
echo "deploy/check.sh: all checks passed"
