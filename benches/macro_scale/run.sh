#!/usr/bin/env bash
# Compiles a chain of N nodes (and a fan-out of M) with the default dev profile and the default
# rustc stack, then runs it on the default main-thread stack; prints the build's wall time and
# peak memory per size. Usage: benches/macro_scale/run.sh [1000 3000 10000]
# (or `--time N`: the run time per node of a chain of N, built for release)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$root/target/macro-scale"
sizes=("${@:-1000 3000 10000}")
# shellcheck disable=SC2206
sizes=(${sizes[*]})
mkdir -p "$work/src"
cat > "$work/Cargo.toml" <<TOML
[package]
name = "macro-scale"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
stategraph = { path = "$root", default-features = false }
serde = { version = "1", features = ["derive"] }
tokio = { version = "1", features = ["macros", "rt"] }

[workspace]
TOML
gen() { python3 - "$1" "$2" > "$work/src/main.rs" <<'PY'
import sys
n, shape = int(sys.argv[1]), sys.argv[2]
print("use serde::{Deserialize, Serialize};")
print("use stategraph::{NodeResult, State};")
print("#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]")
print("pub struct S { #[state(reducer = add)] pub n: u64 }")
print("#[stategraph::graph(state = S)]")
print("pub mod g {")
print("    use super::*;")
for i in range(n):
    print(f"    #[node] async fn n{i}(_: &S) -> NodeResult<S> {{ Ok(SUpdate::new().n(1)) }}")
if shape == "chain":
    print("    edges! { START -> " + " -> ".join(f"n{i}" for i in range(n)) + " -> END; }")
else:
    print("    edges! { START -> [" + ", ".join(f"n{i}" for i in range(n)) + "] -> END; }")
print("}")
print("#[tokio::main(flavor = \"current_thread\")]")
print("async fn main() {")
print("    let graph = g::graph().recursion_limit(1_000_000).compile().expect(\"compiles\");")
print("    let done = graph.invoke(SUpdate::new()).await.expect(\"runs\");")
print(f"    assert_eq!(done.n, {n});")
print("    if std::env::var_os(\"MACRO_SCALE_TIME\").is_some() {")
print("        let mut times = Vec::new();")
print("        for _ in 0..21 {")
print("            let start = std::time::Instant::now();")
print("            graph.invoke(SUpdate::new()).await.expect(\"runs\");")
print(f"            times.push(start.elapsed().as_secs_f64() * 1e6 / {n}.0);")
print("        }")
print("        times.sort_by(f64::total_cmp);")
print("        println!(\"stategraph_chain_per_node {:.2}\", times[10]);")
print("    }")
print("}")
PY
}
# `--time N`: the chain of N nodes built with the release profile, run 21 times; prints the
# median µs per node (benches/side_by_side.sh sets it beside juncture's chain).
if [ "${sizes[0]}" = "--time" ]; then
  gen "${sizes[1]:-3000}" chain
  cargo build --quiet --release --manifest-path "$work/Cargo.toml"
  MACRO_SCALE_TIME=1 "$work/target/release/macro-scale"
  exit
fi
# The dependencies once, so each row times the graph's crate alone.
gen 2 chain
cargo build --quiet --manifest-path "$work/Cargo.toml"
echo "| graph | build (s) | peak memory (MB) | runs |"
echo "|---|---|---|---|"
for n in "${sizes[@]}"; do
  for shape in chain fanout; do
    gen "$n" "$shape"
    rm -f "$work/target/debug/macro-scale"
    stats=$( { /usr/bin/time -f "%e %M" cargo build --quiet --manifest-path "$work/Cargo.toml" 2>&1 1>/dev/null; } 2>&1 | tail -1 )
    secs=${stats% *}; kb=${stats#* }
    if "$work/target/debug/macro-scale"; then ran=yes; else ran=no; fi
    echo "| $shape of $n | $secs | $((kb / 1024)) | $ran |"
  done
done
