#!/usr/bin/env bash
# Durability modes and selective checkpointing: stategraph and LangGraph, measured in one
# invocation on one machine.
#   pip install langgraph==1.2.22 langgraph-checkpoint-sqlite langgraph-checkpoint-postgres "psycopg[binary]"
#   bash benches/durability.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --bench durability --features postgres
python3 benches/langgraph/durability.py
