#!/usr/bin/env bash
# Per-step overhead of stategraph and LangGraph, measured in one invocation on one machine.
#   pip install langgraph==1.2.22 && bash benches/side_by_side.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --bench step_overhead -- --warm-up-time 2 --measurement-time 5 2>&1 \
    | grep -E "^loop_200_steps/|time:"
python3 benches/langgraph/step_overhead.py
