"""LangGraph's side of benches/step_overhead.rs: the same 200-step loop graph (each step
increments a counter and appends one small message), without a checkpointer and with
InMemorySaver in sync durability. Prints the median microseconds per step over 30 runs. Then
the chain of benches/macro_scale/run.sh --time: 3,000 nodes, each adding 1 to a counter, no
checkpointer; the median microseconds per node over 5 runs.

    bash benches/side_by_side.sh steps
"""

import operator
import statistics
import time
from typing import Annotated, TypedDict

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph

STEPS = 200
RUNS = 30
CHAIN = 3000
CHAIN_RUNS = 5


class LoopState(TypedDict):
    limit: int
    count: int
    messages: Annotated[list, operator.add]


def step(s: LoopState) -> dict:
    return {"count": s["count"] + 1, "messages": [f"step {s['count']}"]}


def again(s: LoopState) -> str:
    return "again" if s["count"] < s["limit"] else "done"


def build(checkpointer):
    g = StateGraph(LoopState)
    g.add_node("step", step)
    g.add_edge(START, "step")
    g.add_conditional_edges("step", again, {"again": "step", "done": END})
    return g.compile(checkpointer=checkpointer)


def per_step(graph, durable: bool) -> float:
    times = []
    for run in range(RUNS):
        config = {"recursion_limit": STEPS + 10}
        kwargs = {}
        if durable:
            config["configurable"] = {"thread_id": f"bench-{run}"}
            kwargs["durability"] = "sync"
        start = time.perf_counter()
        out = graph.invoke({"limit": STEPS, "count": 0, "messages": []}, config, **kwargs)
        elapsed = time.perf_counter() - start
        assert out["count"] == STEPS
        times.append(elapsed)
    return statistics.median(times) * 1e6 / STEPS


class ChainState(TypedDict):
    n: Annotated[int, operator.add]


def add_one(_: ChainState) -> dict:
    return {"n": 1}


def chain_per_node() -> float:
    g = StateGraph(ChainState)
    for i in range(CHAIN):
        g.add_node(f"n{i}", add_one)
        g.add_edge(START if i == 0 else f"n{i - 1}", f"n{i}")
    g.add_edge(f"n{CHAIN - 1}", END)
    graph = g.compile()
    config = {"recursion_limit": CHAIN + 10}
    assert graph.invoke({"n": 0}, config)["n"] == CHAIN  # warm-up
    times = []
    for _ in range(CHAIN_RUNS):
        start = time.perf_counter()
        graph.invoke({"n": 0}, config)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6 / CHAIN


if __name__ == "__main__":
    print(f"langgraph no_checkpointer: {per_step(build(None), False):.1f} us/step")
    print(f"langgraph in_memory_saver_sync: {per_step(build(InMemorySaver()), True):.1f} us/step")
    print(f"langgraph chain_3000_nodes: {chain_per_node():.1f} us/node")
