"""LangGraph's side of benches/send_fanout.rs: the same graph (plan, N Send tasks of one node
in one step, each appending one result, then combine), without a checkpointer, with
InMemorySaver and with SqliteSaver (a WAL file), sync durability. Prints the median
microseconds of one run over 7 runs (after one warm-up), for N = 10, 100, 1000, and over 3
runs for N = 10000 (a run takes 10-40 s there).

    bash benches/side_by_side.sh fanout
"""

import operator
import os
import sqlite3
import statistics
import tempfile
import time
import uuid
from typing import Annotated, TypedDict

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Send

RUNS = 7


class Batch(TypedDict):
    items: int
    results: Annotated[list, operator.add]
    total: int


def build(checkpointer):
    def plan(_s: Batch) -> dict:
        return {}

    def per_item(s: Batch):
        return [Send("work", i) for i in range(s["items"])]

    def work(item: int) -> dict:
        return {"results": [item * 2]}

    def combine(s: Batch) -> dict:
        return {"total": sum(s["results"])}

    g = StateGraph(Batch)
    g.add_node("plan", plan)
    g.add_node("work", work)
    g.add_node("combine", combine)
    g.add_edge(START, "plan")
    g.add_conditional_edges("plan", per_item, ["work"])
    g.add_edge("work", "combine")
    g.add_edge("combine", END)
    return g.compile(checkpointer=checkpointer)


def median(graph, items: int, durable: bool) -> float:
    times = []
    for run in range((RUNS if items < 10000 else 3) + 1):
        config = {}
        kwargs = {}
        if durable:
            config["configurable"] = {"thread_id": f"fan-{uuid.uuid4()}"}
            kwargs["durability"] = "sync"
        start = time.perf_counter()
        out = graph.invoke({"items": items, "results": [], "total": 0}, config, **kwargs)
        elapsed = (time.perf_counter() - start) * 1e6
        assert len(out["results"]) == items
        if run > 0:
            times.append(elapsed)
    return statistics.median(times)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(os.path.join(tmp, "fan.db"), check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        plain, memory, lite = build(None), build(InMemorySaver()), build(SqliteSaver(conn))
        print(
            "\nLangGraph: one run (plan, N Send tasks in one step, combine), "
            f"median of {RUNS} (3 at 10000)\n"
        )
        print("| tasks | no checkpointer | per task | InMemorySaver | per task | SqliteSaver | per task |")
        print("|---|---|---|---|---|---|---|")
        for items in (10, 100, 1000, 10000):
            none = median(plain, items, False)
            mem = median(memory, items, True)
            sq = median(lite, items, True)
            print(
                f"| {items} | {none:.0f} us | {none / items:.2f} us | {mem:.0f} us | "
                f"{mem / items:.2f} us | {sq:.0f} us | {sq / items:.2f} us |"
            )
        conn.close()
