#!/usr/bin/env bash
# What streaming costs, against invoke of the same runs: stategraph and LangGraph, measured in
# one invocation on one machine.
#   pip install langgraph==1.2.22
#   bash benches/streaming.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --all-features --bench streaming
python3 benches/langgraph/streaming.py
