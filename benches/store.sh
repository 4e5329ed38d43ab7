#!/usr/bin/env bash
# Store latency (put, get, filtered search) on every backend: stategraph and LangGraph,
# measured in one invocation on one machine.
#   pip install langgraph==1.2.22 langgraph-checkpoint-sqlite langgraph-checkpoint-postgres "psycopg[binary]"
#   bash benches/store.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --all-features --bench store
python3 benches/langgraph/store.py
