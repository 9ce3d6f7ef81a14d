#!/usr/bin/env bash
# A building's dataflow over several dora daemons on this one machine: a coordinator and one
# daemon per machine id named in the dataflow (`deploy: machine:`), all bound to loopback; each
# daemon listens for zenoh on a port of its own and dials every other one by name (no multicast
# discovery, no shared rendezvous that dies with one daemon). The dataflow runs as on real
# machines (every message between daemons goes over zenoh TCP), which is how tests/building.rs
# runs it too. The dataflow is written for this checkout by `wdp building` from a building
# description (every node runs in this checkout's dataflows folder), into out/building-local/.
#
#   scripts/building-local.sh up [BUILDING.yaml [wdp building options]]
#                                     # default dataflows/building.rooms.yaml; returns when started
#   scripts/building-local.sh status  # the dataflow's nodes and the building's newest state
#   scripts/building-local.sh kill-host MACHINE    # a machine dies: its daemon and its nodes
#   scripts/building-local.sh rejoin-host MACHINE  # it comes back, its rooms rejoin
#   scripts/building-local.sh down    # stops the dataflow, the daemons and the coordinator
#
# A room whose machine died loses its whole chain (dora closes the inputs of the compute side's
# nodes, which then finish). dora 1.1 can neither re-spawn nor remove the nodes of a daemon
# that died, so `rejoin-host` starts the daemon again and adds each of the machine's rooms'
# nodes again under new ids (`<id>-r<N>`, consumers first), connects the new tracking node to
# room-fusion's inputs for that room and restarts that node in place (`dora node replace`: a
# running producer learns its routes when it starts). Nothing else restarts.
#
# The building state goes to dataflows/out/building/building.jsonl.
# Ports (loopback): WDP_COORDINATOR_PORT (default 6213), the daemons' zenoh ports from
# WDP_ZENOH_PORT (default 7547) up and their local listen ports from WDP_DAEMON_PORT (default
# 6300) up. Logs and pids go to
# out/building-local/. Build first: cargo build --release --workspace.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="${WDP_VENV:-$root/.venv}"
export PATH="$venv/bin:$PATH"
if ! command -v dora > /dev/null; then
    echo "error: no dora CLI: run scripts/setup.sh first" >&2
    exit 1
fi
if [ -x "$venv/bin/python" ]; then
    torch_lib="$("$venv/bin/python" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))' 2> /dev/null || true)"
    if [ -n "$torch_lib" ]; then
        export LD_LIBRARY_PATH="$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    fi
fi

state="$root/out/building-local"
coord_port="${WDP_COORDINATOR_PORT:-6213}"
zenoh_port="${WDP_ZENOH_PORT:-7547}"
daemon_port="${WDP_DAEMON_PORT:-6300}"
name="building"
dora_at=(--coordinator-addr 127.0.0.1 --coordinator-port "$coord_port")

# The machine ids a dataflow deploys nodes on, in order of appearance.
machines() {
    grep -E '^\s+machine:\s*' "$1" | sed -E 's/^\s+machine:\s*//; s/\s*(#.*)?$//' | awk '!seen[$0]++'
}

start_bg() { # NAME COMMAND...: runs in its own session, pid in $state/NAME.pid, log in $state/NAME.log
    local what="$1"
    shift
    setsid "$@" > "$state/$what.log" 2>&1 < /dev/null &
    echo $! > "$state/$what.pid"
}

stop_pid() { # NAME: ends the process group this script started under that name
    local file="$state/$1.pid"
    [ -f "$file" ] || return 0
    local pid
    pid="$(cat "$file")"
    if kill -0 "$pid" 2> /dev/null; then
        kill -TERM -- "-$pid" 2> /dev/null || true
        for _ in $(seq 50); do
            kill -0 "$pid" 2> /dev/null || break
            sleep 0.1
        done
        kill -KILL -- "-$pid" 2> /dev/null || true
    fi
    rm -f "$file"
}

start_daemon() { # FLOW MACHINE: its ports from its place in the dataflow's machine list
    local flow="$1" m="$2" i=0 me=-1 peers=() ids=()
    mapfile -t ids < <(machines "$flow")
    for other in "${ids[@]}"; do
        if [ "$other" = "$m" ]; then
            me=$i
        else
            peers+=(--zenoh-connect "tcp/127.0.0.1:$((zenoh_port + i))")
        fi
        i=$((i + 1))
    done
    [ $me -ge 0 ] || { echo "error: no machine $m in $flow" >&2; exit 1; }
    # The daemons' own folder: dora keeps per-dataflow files there.
    (cd "$state" && start_bg "daemon-$m" dora daemon --machine-id "$m" "${dora_at[@]}" \
        --local-listen-port $((daemon_port + me)) \
        --zenoh-listen "127.0.0.1:$((zenoh_port + me))" "${peers[@]}" --zenoh-no-multicast)
}

kill_host() {
    [ -f "$state/daemon-$1.pid" ] || { echo "error: no daemon $1 started here" >&2; exit 1; }
    stop_pid "daemon-$1"
    echo "killed $1's daemon and its nodes"
}

rejoin_host() {
    local flow="$state/building.yml" m="$1"
    [ -f "$flow" ] || { echo "error: no local building is up" >&2; exit 1; }
    start_daemon "$flow" "$m"
    # The rooms captured on that machine, each chain's nodes again under new ids, consumers
    # first (a consumer with backpressure must exist before its producer starts).
    local existing
    existing="$(dora node list -d "$name" "${dora_at[@]}" | awk 'NR > 1 {print $1}')"
    "$venv/bin/python" - "$flow" "$m" "$state" "$existing" << 'PY'
import os, sys, yaml
flow, machine, state, existing = sys.argv[1], sys.argv[2], sys.argv[3], set(sys.argv[4].split())
doc = yaml.safe_load(open(flow))
nodes = {n["id"]: n for n in doc["nodes"]}
rooms = [i[: -len("-source")] for i, n in nodes.items()
         if i.endswith("-source") and (n.get("deploy") or {}).get("machine") == machine]
plan = open(os.path.join(state, "rejoin.plan"), "w")
for room in rooms:
    chain = [f"{room}-{s}" for s in ("temporal", "model", "preprocess", "source")]
    gen = 1
    while any(f"{c}-r{gen}" in existing for c in chain):
        gen += 1
    new = {c: f"{c}-r{gen}" for c in chain}
    for c in chain:
        n = dict(nodes[c])
        wd = (n.get("deploy") or {}).get("working_dir", ".")
        n["id"] = new[c]
        # `dora node add` resolves paths without the node's working folder: make them absolute.
        n["path"] = os.path.normpath(os.path.join(wd, n["path"]))
        env = dict(n.get("env") or {})
        for k, v in env.items():
            if isinstance(v, str) and v.startswith("../"):
                env[k] = os.path.normpath(os.path.join(wd, v))
        n["env"] = env
        for k, v in (n.get("inputs") or {}).items():
            src = v["source"] if isinstance(v, dict) else v
            node, out = src.split("/", 1)
            if node in new:
                src = f"{new[node]}/{out}"
                if isinstance(v, dict):
                    v["source"] = src
                else:
                    n["inputs"][k] = src
        path = os.path.join(state, f"{new[c]}.yml")
        yaml.safe_dump(n, open(path, "w"))
        plan.write(f"add {path}\n")
    for out in ("keypoints", "boxes"):
        plan.write(f"connect {new[chain[0]]}/{out} room-fusion/{room}_{out}\n")
    # A running producer learns its routes when it starts: restart the tracking node in place
    # so that it sends to room-fusion too.
    plan.write(f"replace {new[chain[0]]} {os.path.join(state, new[chain[0]] + '.yml')}\n")
PY
    local deadline=$((SECONDS + 30)) first=1
    while read -r verb a b; do
        if [ "$verb" = add ]; then
            # The first add waits for the daemon to register.
            until dora node add --from-yaml "$a" -d "$name" "${dora_at[@]}" > "$state/add.log" 2>&1; do
                if [ $first -eq 0 ] || [ $SECONDS -ge $deadline ]; then
                    cat "$state/add.log" >&2
                    exit 1
                fi
                sleep 1
            done
            first=0
        elif [ "$verb" = connect ]; then
            dora node connect "$a" "$b" -d "$name" "${dora_at[@]}"
        else
            dora node replace "$a" --from-yaml "$b" -d "$name" "${dora_at[@]}"
        fi
    done < "$state/rejoin.plan"
    echo "$m rejoined"
}

up() {
    local building="${1:-dataflows/building.rooms.yaml}"
    shift || true
    [ -f "$building" ] || { echo "error: no building description $building" >&2; exit 1; }
    [ -x target/release/wdp ] || { echo "error: build first: cargo build --release --workspace" >&2; exit 1; }
    mkdir -p "$state"
    if [ -f "$state/coordinator.pid" ] && kill -0 "$(cat "$state/coordinator.pid")" 2> /dev/null; then
        echo "error: a local building is already up (scripts/building-local.sh down first)" >&2
        exit 1
    fi
    local flow="$state/building.yml"
    target/release/wdp building --building "$building" --machines 1 --root "$root" --out "$flow" "$@"
    mapfile -t ids < <(machines "$flow")
    if [ "${#ids[@]}" -eq 0 ]; then
        echo "error: $flow places no node on a machine (deploy: machine:); run it with wdp run" >&2
        exit 1
    fi
    start_bg coordinator dora coordinator --interface 127.0.0.1 --port "$coord_port" --store memory
    for _ in $(seq 100); do
        (exec 3<> "/dev/tcp/127.0.0.1/$coord_port") 2> /dev/null && break
        sleep 0.1
    done
    for m in "${ids[@]}"; do
        start_daemon "$flow" "$m"
    done
    echo "coordinator on 127.0.0.1:$coord_port, daemons: ${ids[*]} (zenoh from 127.0.0.1:$zenoh_port)"
    # Started once every daemon has registered (dora start refuses a machine it does not know).
    local deadline=$((SECONDS + 60))
    until dora start "$flow" --name "$name" --detach "${dora_at[@]}" > "$state/start.log" 2>&1; do
        if [ $SECONDS -ge $deadline ]; then
            cat "$state/start.log" >&2
            echo "error: the dataflow did not start within 60 s (logs in $state)" >&2
            exit 1
        fi
        sleep 1
    done
    echo "dataflow $name started from $flow; logs and pids in $state"
    echo "building state: $root/dataflows/out/building/building.jsonl"
}

status() {
    dora node list "${dora_at[@]}" || true
    local out="$root/dataflows/out/building/building.jsonl"
    if [ -f "$out" ]; then
        grep '"rooms"' "$out" | tail -1
    fi
}

down() {
    if [ -f "$state/coordinator.pid" ]; then
        dora stop --name "$name" "${dora_at[@]}" > /dev/null 2>&1 || true
    fi
    for f in "$state"/daemon-*.pid; do
        [ -e "$f" ] || continue
        stop_pid "$(basename "$f" .pid)"
    done
    stop_pid coordinator
    echo "stopped"
}

case "${1:-}" in
    up)
        shift
        up "$@"
        ;;
    status) status ;;
    kill-host) kill_host "${2:?machine}" ;;
    rejoin-host) rejoin_host "${2:?machine}" ;;
    down) down ;;
    *)
        echo "usage: $0 up [BUILDING.yaml [wdp building options]] | status | kill-host MACHINE | rejoin-host MACHINE | down" >&2
        exit 2
        ;;
esac
