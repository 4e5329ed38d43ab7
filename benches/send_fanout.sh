#!/usr/bin/env bash
# Send fan-out of 10, 100 and 1,000 tasks: stategraph and LangGraph, measured in one invocation
# on one machine.
#   pip install langgraph==1.2.22 langgraph-checkpoint-sqlite
#   bash benches/send_fanout.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --bench send_fanout
python3 benches/langgraph/send_fanout.py
