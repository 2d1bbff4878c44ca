#!/bin/bash
# Does `skeptic bench` reach wrk's throughput against etcd? Starts a
# 3-member etcd on loopback (ports 2379x/2380x, data in a temporary
# directory), finds its leader, and runs wrk and `skeptic bench --targets
# external-etcd=URL` in turn against it, three rounds of puts at
# concurrency 1, 8 and 64 (4 s each). Needs `etcd` and `wrk` (Debian's
# etcd-server and wrk packages) and a release build
# (`cargo build --release -p harness`). Run from the repository root:
# `bash docs/wrk-parity/run.sh`.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
SK=${SK:-target/release/skeptic}
D=$(mktemp -d); mkdir -p $D/bst
CL="e1=http://127.0.0.1:23801,e2=http://127.0.0.1:23802,e3=http://127.0.0.1:23803"
for i in 1 2 3; do
  etcd --name e$i --data-dir $D/e$i --listen-client-urls http://127.0.0.1:2379$i --advertise-client-urls http://127.0.0.1:2379$i \
    --listen-peer-urls http://127.0.0.1:2380$i --initial-advertise-peer-urls http://127.0.0.1:2380$i \
    --initial-cluster $CL --initial-cluster-state new --initial-cluster-token wrk > $D/e$i.log 2>&1 &
done
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf $D' EXIT
LEADER=""
for t in $(seq 1 100); do
  for i in 1 2 3; do
    if curl -s -X POST http://127.0.0.1:2379$i/v3/maintenance/status -d '{}' | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d.get("leader")==d["header"]["member_id"] else 1)' 2>/dev/null; then LEADER=$i; fi
  done
  [ -n "$LEADER" ] && break; sleep 0.1
done
[ -n "$LEADER" ] || { echo "etcd elected no leader" >&2; exit 1; }
URL=http://127.0.0.1:2379$LEADER; echo "leader $URL"
for round in 1 2 3; do
  for c in 1 8 64; do
    t=$([ $c = 64 ] && echo 2 || echo 1)
    w=$(wrk -t$t -c$c -d4s -s $HERE/put.lua $URL 2>&1 | awk '/Requests\/sec/{r=$2} /Non-2xx/{e=$4} END{print r, (e ? "non2xx=" e : "")}')
    s=$($SK bench --targets external-etcd=$URL --mix write --concurrency $c --duration 4 --warmup 0.5 --rounds 1 --scenario none --store $D/bst 2>&1 | grep "^external" | awk '{print $4}')
    echo "round $round c=$c wrk $w skeptic $s"
  done
done
