#!/usr/bin/env bash
# The seed's selective-checkpointing trade-off (an outer graph around a 200-step token
# subgraph, checkpointed coarse or fine): stategraph and LangGraph, measured in one invocation
# on one machine.
#   pip install langgraph==1.2.22 langgraph-checkpoint-sqlite
#   bash benches/subgraphs.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --all-features --bench subgraphs
python3 benches/langgraph/subgraphs.py
