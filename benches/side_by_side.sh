#!/usr/bin/env bash
# Every side-by-side comparison of BENCHMARKS.md in one invocation on one machine: stategraph,
# LangGraph 1.2.22 (in a virtualenv this script creates under target/, pinned by
# benches/langgraph/requirements.txt), juncture 0.4 (benches/juncture, a crate outside the
# workspace) and the databases' own floors (pgbench and a raw SQLite commit, which the Rust
# benches measure in the same run). The load average is printed before each block: compare
# rows of one block, not figures of runs on a loaded machine.
#
#   bash benches/side_by_side.sh                   # every block
#   bash benches/side_by_side.sh steps fanout      # some of: steps fanout durability
#                                                  #   subgraphs streaming store agent sqlite
#                                                  #   postgres
set -euo pipefail
cd "$(dirname "$0")/.."
blocks=("${@:-steps fanout durability subgraphs streaming store agent sqlite postgres}")
# shellcheck disable=SC2206
blocks=(${blocks[*]})

venv=target/langgraph-venv
if ! cmp -s benches/langgraph/requirements.txt "$venv/requirements.txt" 2>/dev/null; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r benches/langgraph/requirements.txt
  cp benches/langgraph/requirements.txt "$venv/requirements.txt"
fi
py="$venv/bin/python"

header() { printf '\n## %s (load average %s)\n\n' "$1" "$(cut -d' ' -f1-3 /proc/loadavg)"; }

# Criterion's point estimates, one "name µs" line per benchmark: the first `time:` line after
# each name (a second one, when an earlier run left a baseline, is the change in percent).
criterion_us() {
  awk '/^[a-z_0-9]+\/[a-z_0-9]+/ { name = $1 }
       /time:/ && name != "" {
                 for (i = 1; i <= NF; i++) if ($i ~ /^\[/) { v = $(i + 2); u = $(i + 3); break }
                 if (u == "ms") v *= 1000; else if (u == "ns") v /= 1000; else if (u == "s") v *= 1e6
                 print name, v; name = "" }'
}

steps() {
  header "Per-step overhead: a loop of 200 steps"
  local sg lg jn
  sg=$(cargo bench --bench step_overhead -- --warm-up-time 2 --measurement-time 5 2>&1 | criterion_us)
  lg=$("$py" benches/langgraph/step_overhead.py)
  jn=$(cargo run --quiet --release --manifest-path benches/juncture/Cargo.toml)
  awk -v sg="$sg" -v lg="$lg" -v jn="$jn" 'BEGIN {
    split(sg, s, "\n"); for (i in s) { split(s[i], f, " "); t[f[1]] = f[2] / 200 }
    split(lg, l, "\n"); for (i in l) { split(l[i], f, " "); p[f[2]] = f[3] }
    split(jn, j, "\n"); for (i in j) { split(j[i], f, " "); q[f[1]] = f[2] }
    print "| configuration | stategraph µs/step | LangGraph µs/step | juncture µs/step | LangGraph / stategraph | juncture / stategraph |"
    print "|---|---|---|---|---|---|"
    a = t["loop_200_steps/no_checkpointer"]; b = p["no_checkpointer:"]; c = q["juncture_loop_200_steps"]
    printf "| no checkpointer | %.2f | %.1f | %.2f | %.0f× | %.1f× |\n", a, b, c, b / a, c / a
    a = t["loop_200_steps/memory_saver"]; b = p["in_memory_saver_sync:"]
    printf "| in-memory saver, sync | %.2f | %.1f | — (no in-memory saver in 0.4) | %.0f× | |\n", a, b, b / a
  }'
  local chain_sg chain_lg chain_jn
  chain_sg=$(benches/macro_scale/run.sh --time 3000 | awk '/per_node/ { print $2 }')
  chain_lg=$(echo "$lg" | awk '/chain_3000/ { print $3 }')
  chain_jn=$(echo "$jn" | awk '/chain/ { print $2 }')
  echo
  echo "| a chain of 3,000 nodes | stategraph µs/node | LangGraph µs/node | juncture µs/node | LangGraph / stategraph | juncture / stategraph |"
  echo "|---|---|---|---|---|---|"
  awk -v a="$chain_sg" -v l="$chain_lg" -v b="$chain_jn" \
    'BEGIN { printf "| one run | %.2f | %.1f | %.2f | %.0f× | %.1f× |\n", a, l, b, l / a, b / a }'
}

# A block: its title, the stategraph bench (cargo's arguments) and LangGraph's script, if any;
# each side's tables, then LangGraph's figures over stategraph's (benches/langgraph/ratios.py).
block() {
  local title="$1" bench="$2" script="${3:-}" ours theirs
  header "$title"
  ours=$(mktemp) theirs=$(mktemp)
  # shellcheck disable=SC2086
  cargo bench $bench 2>&1 | grep -E '^\||^[A-Za-z]' | tee "$ours"
  if [ -n "$script" ]; then
    "$py" "benches/langgraph/$script" | tee "$theirs"
    "$py" benches/langgraph/ratios.py "$ours" "$theirs"
  fi
  rm -f "$ours" "$theirs"
}

fanout() { block "Send fan-out" "--bench send_fanout" send_fanout.py; }
durability() {
  block "Durability modes (SQLite and PostgreSQL)" "--features postgres --bench durability" \
    durability.py
}
subgraphs() {
  block "Selective checkpointing with a subgraph" "--all-features --bench subgraphs" subgraphs.py
}
streaming() { block "Streaming against invoke" "--all-features --bench streaming" streaming.py; }
store() { block "Store: put, get, filtered search" "--all-features --bench store" store.py; }
agent() {
  block "The prebuilt agent's loop around a fake model" "--features agent --bench agent_loop" \
    agent_loop.py
}
sqlite() { block "SQLite checkpoints against a raw commit" "--bench sqlite_checkpoints"; }
postgres() {
  block "PostgreSQL checkpoints against pgbench" "--features postgres --bench postgres_checkpoints"
}

for name in "${blocks[@]}"; do
  case "$name" in
    steps | fanout | durability | subgraphs | streaming | store | agent | sqlite | postgres) "$name" ;;
    *) echo "unknown block: $name" >&2; exit 2 ;;
  esac
done
