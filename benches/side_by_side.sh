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
#                                                  #   subgraphs streaming store sqlite postgres
set -euo pipefail
cd "$(dirname "$0")/.."
blocks=("${@:-steps fanout durability subgraphs streaming store sqlite postgres}")
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

# Criterion's point estimates, one "name µs" line per benchmark.
criterion_us() {
  awk '/^[a-z_0-9]+\/[a-z_0-9]+/ { name = $1 }
       /time:/ { for (i = 1; i <= NF; i++) if ($i ~ /^\[/) { v = $(i + 2); u = $(i + 3); break }
                 if (u == "ms") v *= 1000; else if (u == "ns") v /= 1000; else if (u == "s") v *= 1e6
                 print name, v }'
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
  echo
  echo "juncture, a chain of 3,000 nodes: $(echo "$jn" | awk '/chain/ { print $2 }') µs per node"
}

fanout() {
  header "Send fan-out"
  cargo bench --bench send_fanout 2>&1 | grep -E '^\||^[A-Za-z]'
  "$py" benches/langgraph/send_fanout.py
}

durability() {
  header "Durability modes (SQLite and PostgreSQL)"
  cargo bench --bench durability --features postgres 2>&1 | grep -E '^\||^[A-Za-z]'
  "$py" benches/langgraph/durability.py
}

subgraphs() {
  header "Selective checkpointing with a subgraph"
  cargo bench --all-features --bench subgraphs 2>&1 | grep -E '^\||^[A-Za-z]'
  "$py" benches/langgraph/subgraphs.py
}

streaming() {
  header "Streaming against invoke"
  cargo bench --all-features --bench streaming 2>&1 | grep -E '^\||^[A-Za-z]'
  "$py" benches/langgraph/streaming.py
}

store() {
  header "Store: put, get, filtered search"
  cargo bench --all-features --bench store 2>&1 | grep -E '^\||^[A-Za-z]'
  "$py" benches/langgraph/store.py
}

sqlite() {
  header "SQLite checkpoints against a raw commit"
  cargo bench --bench sqlite_checkpoints 2>&1 | grep -E '^\||^[A-Za-z]'
}

postgres() {
  header "PostgreSQL checkpoints against pgbench"
  cargo bench --bench postgres_checkpoints --features postgres 2>&1 | grep -E '^\||^[A-Za-z]'
}

for block in "${blocks[@]}"; do
  case "$block" in
    steps | fanout | durability | subgraphs | streaming | store | sqlite | postgres) "$block" ;;
    *) echo "unknown block: $block" >&2; exit 2 ;;
  esac
done
