#!/usr/bin/env bash
# A local Sextant cluster on loopback (docs/cluster.md): three nats-servers forming one JetStream
# cluster (file storage, sync_interval: always, streams and buckets with R=3) and three sextantd
# nodes on free ports, everything under DIR.
#
#   bash scripts/cluster.sh start DIR        start it, wait until ready, print the three sextantd
#                                            addresses (HOST:PORT), one per line
#   bash scripts/cluster.sh stop DIR         stop it cleanly (SIGTERM, then wait)
#   bash scripts/cluster.sh start-node DIR N (re)start sextantd node N (1..3) alone, print its address
#   bash scripts/cluster.sh stop-node DIR N [SIGNAL]   stop node N (SIGTERM, or e.g. KILL)
#
# Binaries: $SEXTANTD (default build/server/sextantd) and $SEXTANT_NATS_SERVER (default: what
# scripts/install-nats.sh provides). Logs: DIR/nats-N/nats.log, DIR/node-N/sextantd.log.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cmd="${1:-}"
dir="${2:-}"
[ -n "$cmd" ] && [ -n "$dir" ] || { sed -n '2,14p' "$0" >&2; exit 2; }
sextantd="${SEXTANTD:-$here/../build/server/sextantd}"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_port() {  # wait_port PORT SECONDS
  local deadline=$((SECONDS + $2))
  until (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.1
  done
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# What each nats-server says about its routes and the JetStream meta group, and its log's tail:
# printed when the cluster does not come up, so that a failure in CI can be read afterwards.
nats_report() {
  local n port
  for n in 1 2 3; do
    [ -f "$dir/nats-$n/nats.conf" ] || continue
    port=$(sed -n 's/^http: 127.0.0.1:\([0-9]*\)$/\1/p' "$dir/nats-$n/nats.conf")
    echo "--- nats-server $n (pid $(cat "$dir/nats-$n/pid" 2>/dev/null), alive: $(alive "$dir/nats-$n/pid" && echo yes || echo no))"
    python3 - "$port" <<'PY' || true
import json, sys, urllib.request
base = f"http://127.0.0.1:{sys.argv[1]}"
try:
    with urllib.request.urlopen(base + "/routez", timeout=2) as r:
        routes = json.load(r).get("routes") or []
    print("routes to:", sorted({x.get("remote_name", x.get("remote_id")) for x in routes}))
    with urllib.request.urlopen(base + "/jsz", timeout=2) as r:
        print("meta_cluster:", json.load(r).get("meta_cluster"))
except Exception as e:
    print("monitoring endpoint:", e)
PY
    tail -8 "$dir/nats-$n/nats.log" 2>/dev/null || true
  done
}

start_node() {  # start_node N
  local n=$1 nd="$dir/node-$1"
  mkdir -p "$nd"
  if alive "$nd/pid"; then echo "cluster.sh: node $n is running" >&2; return 1; fi
  rm -f "$nd/port"
  "$sextantd" --data "$nd/data" --listen 127.0.0.1:0 --port-file "$nd/port" \
    --cluster "$(cat "$dir/nats-urls")" --node-id "node$n" --cluster-replicas 3 >>"$nd/sextantd.log" 2>&1 &
  echo $! >"$nd/pid"
  local deadline=$((SECONDS + 60))
  until [ -s "$nd/port" ]; do
    if ! alive "$nd/pid"; then
      echo "cluster.sh: sextantd node $n exited; see $nd/sextantd.log:" >&2
      tail -5 "$nd/sextantd.log" >&2
      return 1
    fi
    [ $SECONDS -lt $deadline ] || { echo "cluster.sh: sextantd node $n did not start" >&2; return 1; }
    sleep 0.1
  done
  echo "127.0.0.1:$(tr -d '\n' <"$nd/port")"
}

# A node may not start at once: JetStream elects its meta leader after the servers start, and a
# node restarted after a crash waits until its old heartbeat has expired (the node TTL, 4 s).
start_node_retry() {  # start_node_retry N
  local attempt addr
  for attempt in $(seq 1 120); do
    if addr=$(start_node "$1" 2>/dev/null); then
      echo "$addr"
      return 0
    fi
    sleep 0.5
  done
  echo "cluster.sh: node $1 did not start; see $dir/node-$1/sextantd.log:" >&2
  tail -3 "$dir/node-$1/sextantd.log" >&2
  nats_report >&2
  return 1
}

stop_pidfile() {  # stop_pidfile FILE SIGNAL
  alive "$1" || return 0
  local pid
  pid=$(cat "$1")
  kill "-$2" "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 20))
  while kill -0 "$pid" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then kill -KILL "$pid" 2>/dev/null || true; fi
    sleep 0.1
  done
  rm -f "$1"
}

case "$cmd" in
  start)
    if [ -e "$dir" ] && [ -n "$(ls -A "$dir" 2>/dev/null)" ]; then
      echo "cluster.sh: $dir is not empty (stop the cluster there and remove it first)" >&2
      exit 1
    fi
    mkdir -p "$dir"
    nats=$(SEXTANT_NATS_SERVER="${SEXTANT_NATS_SERVER:-}" bash "$here/install-nats.sh")
    [ -x "$sextantd" ] || { echo "cluster.sh: no sextantd at $sextantd (build it, or set SEXTANTD)" >&2; exit 1; }
    ports=() cports=() mports=()
    for i in 1 2 3; do ports+=("$(free_port)"); cports+=("$(free_port)"); mports+=("$(free_port)"); done
    urls=""
    for i in 0 1 2; do urls+="${urls:+,}nats://127.0.0.1:${ports[$i]}"; done
    echo "$urls" >"$dir/nats-urls"
    # A name of its own for this cluster: tests start several clusters side by side on loopback,
    # and servers of different clusters refuse each other's routes even if a port is reused.
    cname="sextant_$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
    for i in 0 1 2; do
      nd="$dir/nats-$((i + 1))"
      mkdir -p "$nd"
      routes=""
      for j in 0 1 2; do [ $j -eq $i ] || routes+="${routes:+, }nats://127.0.0.1:${cports[$j]}"; done
      cat >"$nd/nats.conf" <<CONF
listen: 127.0.0.1:${ports[$i]}
http: 127.0.0.1:${mports[$i]}
server_name: n$((i + 1))
jetstream { store_dir: "$nd/js", sync_interval: always }
cluster { name: $cname, listen: 127.0.0.1:${cports[$i]}, routes: [$routes] }
CONF
      "$nats" -c "$nd/nats.conf" >>"$nd/nats.log" 2>&1 &
      echo $! >"$nd/pid"
    done
    for i in 0 1 2; do
      wait_port "${ports[$i]}" 30 || { echo "cluster.sh: nats-server $((i + 1)) did not start; see $dir/nats-$((i + 1))/nats.log" >&2; exit 1; }
    done
    # JetStream is usable once every server's /healthz says so, it has routes to both others (routes
    # come in pools of several connections per peer: count distinct peers), and it sees a meta group
    # of three with a leader; the leader must see both followers current. (/healthz alone, and later
    # a count of route connections, once passed with a server outside the group: the R3 bucket then
    # found "no suitable peers for placement" for a minute.)
    for i in 0 1 2; do
      python3 - "${mports[$i]}" <<'PY' || { echo "cluster.sh: JetStream on nats-server $((i + 1)) did not become healthy" >&2; nats_report >&2; exit 1; }
import json, sys, time, urllib.request
base = f"http://127.0.0.1:{sys.argv[1]}"
def get(path):
    with urllib.request.urlopen(base + path, timeout=2) as r:
        return r.status, r.read()
def ready():
    if get("/healthz")[0] != 200:
        return False
    routes = json.loads(get("/routez")[1]).get("routes") or []
    if len({r.get("remote_id") for r in routes}) < 2:
        return False
    jsz = json.loads(get("/jsz")[1])
    meta = jsz.get("meta_cluster") or {}
    if not meta.get("leader") or meta.get("cluster_size") != 3:
        return False
    replicas = meta.get("replicas")
    if replicas is not None and (len(replicas) != 2 or not all(r.get("current") for r in replicas)):
        return False
    return True
deadline = time.time() + 60
while True:
    try:
        if ready():
            break
    except Exception:
        pass
    if time.time() > deadline:
        sys.exit(1)
    time.sleep(0.2)
PY
    done
    # JetStream needs its meta leader elected before the first bucket can be created; the nodes
    # retry their start-up for a while.
    for i in 1 2 3; do start_node_retry "$i"; done
    ;;
  start-node)
    start_node_retry "${3:?node number 1..3}"
    ;;
  stop-node)
    stop_pidfile "$dir/node-${3:?node number 1..3}/pid" "${4:-TERM}"
    ;;
  stop-nats)
    stop_pidfile "$dir/nats-${3:?server number 1..3}/pid" "${4:-TERM}"
    ;;
  start-nats)
    n="${3:?server number 1..3}"
    nats=$(SEXTANT_NATS_SERVER="${SEXTANT_NATS_SERVER:-}" bash "$here/install-nats.sh")
    "$nats" -c "$dir/nats-$n/nats.conf" >>"$dir/nats-$n/nats.log" 2>&1 &
    echo $! >"$dir/nats-$n/pid"
    ;;
  stop)
    for i in 1 2 3; do stop_pidfile "$dir/node-$i/pid" TERM; done
    for i in 1 2 3; do stop_pidfile "$dir/nats-$i/pid" TERM; done
    ;;
  *)
    sed -n '2,14p' "$0" >&2
    exit 2
    ;;
esac
