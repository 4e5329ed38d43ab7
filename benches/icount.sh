#!/usr/bin/env bash
# Instruction counts of the runtime's hot paths (benches/icount.rs) under callgrind, per unit of
# work (a step, a task, an event), for the working tree and for each commit named, so two
# versions compare without noise:
#
#   benches/icount.sh                 # the working tree
#   benches/icount.sh d40457b HEAD    # the working tree, then each commit (built in a worktree)
#
# Each workload runs once as a warm-up and then RUNS more times (default 5); the count per unit
# is (Ir with RUNS runs - Ir with none) / RUNS / units, so setup and warm-up cancel out. A commit
# whose API predates a workload gets the step workloads only (`--cfg icount_early`).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
runs="${RUNS:-5}"
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)"; exit 1; }

units() {
  case "$1" in
    steps_*|stream_*) echo 200 ;;
    fanout_*) echo 1000 ;;
  esac
}

# The icount binary built in directory $1, with RUSTFLAGS $2; prints its path.
build() {
  (cd "$1" && RUSTFLAGS="$2" cargo bench --bench icount --no-run --message-format=json 2>/dev/null) |
    python3 -c 'import json,sys
for l in sys.stdin:
    try: m=json.loads(l)
    except ValueError: continue
    if m.get("reason")=="compiler-artifact" and m.get("target",{}).get("name")=="icount" and m.get("executable"): print(m["executable"])' | tail -1
}

# Total instructions of `$1 $2 $3` under callgrind.
instructions() {
  local out
  out="$(mktemp)"
  valgrind --tool=callgrind --callgrind-out-file="$out" "$1" "$2" "$3" >/dev/null 2>&1
  awk '/^(summary|totals):/ {print $2; exit}' "$out"
  rm -f "$out"
}

report() {
  local label="$1" bin="$2" workloads="$3"
  for w in $workloads; do
    local base full
    base="$(instructions "$bin" "$w" 0)"
    full="$(instructions "$bin" "$w" "$runs")"
    python3 -c "print(f'| $label | $w | {($full - $base) / $runs / $(units "$w"):,.0f} |')"
  done
}

all="steps_none steps_memory fanout_none fanout_memory stream_updates"
echo "| version | workload | instructions per unit |"
echo "|---|---|---|"
bin="$(build "$root" "")"
report "working tree" "$bin" "$all"
for rev in "$@"; do
  dir="$root/target/icount/$(git -C "$root" rev-parse --short "$rev")"
  [ -d "$dir" ] || git -C "$root" worktree add --detach --quiet "$dir" "$rev"
  cp "$root/benches/icount.rs" "$dir/benches/icount.rs"
  mkdir -p "$dir/benches/support" && cp "$root/benches/support/loop_graph.rs" "$dir/benches/support/loop_graph.rs"
  grep -q 'name = "icount"' "$dir/Cargo.toml" || printf '\n[[bench]]\nname = "icount"\nharness = false\n' >> "$dir/Cargo.toml"
  export CARGO_TARGET_DIR="$root/target/icount/target"
  if bin="$(build "$dir" "")" && [ -n "$bin" ]; then
    report "$rev" "$bin" "$all"
  else
    bin="$(build "$dir" "--cfg icount_early")"
    report "$rev" "$bin" "steps_none steps_memory"
  fi
  unset CARGO_TARGET_DIR
done
