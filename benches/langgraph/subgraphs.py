"""LangGraph's side of benches/subgraphs.rs: the seed's selective checkpointing, prepare ->
generate -> review, where generate is a subgraph of 200 token steps and a flush. Three ways of
building the inner graph: the seed's `inner_builder.compile()` (which, in LangGraph 1.x,
inherits the parent's checkpointer and checkpoints every inner step), `checkpointer=False`
(nothing inside is checkpointed: the coarse case), and the same with InMemorySaver. Prints the
checkpoints one run writes per layer (from the saver's own table) and the median time of one
run over 7 runs (after one warm-up), sync durability — except with `checkpointer=False`, where
LangGraph 1.2.22 fails under sync durability (`AttributeError: 'SyncPregelLoop' object has no
attribute '_put_checkpoint_fut'`, raised inside the subgraph), so that case runs with the
default (async) durability; it writes only the 4 outer checkpoints either way.

    bash benches/side_by_side.sh subgraphs
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

RUNS = 7
TOKENS = 200


class Draft(TypedDict):
    tokens: Annotated[list, operator.add]
    text: str
    reviewed: bool


def inner(checkpointer):
    def stream_tokens(s: Draft) -> dict:
        return {"tokens": [f"t{len(s['tokens'])}"]}

    def buffer_output(s: Draft) -> dict:
        return {"text": " ".join(s["tokens"])}

    def more(s: Draft) -> str:
        return "more" if len(s["tokens"]) < TOKENS else "done"

    g = StateGraph(Draft)
    g.add_node("stream_tokens", stream_tokens)
    g.add_node("buffer_output", buffer_output)
    g.add_edge(START, "stream_tokens")
    g.add_conditional_edges("stream_tokens", more, {"more": "stream_tokens", "done": "buffer_output"})
    g.add_edge("buffer_output", END)
    if checkpointer is None:
        return g.compile()  # the seed's code
    return g.compile(checkpointer=checkpointer)


def outer(inner_graph, checkpointer):
    g = StateGraph(Draft)
    g.add_node("prepare", lambda s: {})
    g.add_node("generate", inner_graph)
    g.add_node("review", lambda s: {"reviewed": True})
    g.add_edge(START, "prepare")
    g.add_edge("prepare", "generate")
    g.add_edge("generate", "review")
    g.add_edge("review", END)
    return g.compile(checkpointer=checkpointer)


def layers_sqlite(conn, thread_id):
    rows = conn.execute(
        "SELECT checkpoint_ns = '', count(*) FROM checkpoints WHERE thread_id = ? GROUP BY 1",
        (thread_id,),
    ).fetchall()
    counts = {bool(root): n for root, n in rows}
    return counts.get(True, 0), counts.get(False, 0)


def layers_memory(saver, thread_id):
    by_ns = saver.storage.get(thread_id, {})
    outer = len(by_ns.get("", {}))
    return outer, sum(len(v) for ns, v in by_ns.items() if ns != "")


def measure(graph, layers, durability):
    times, counts = [], (0, 0)
    for run in range(RUNS + 1):
        thread_id = f"sub-{uuid.uuid4()}"
        config = {"configurable": {"thread_id": thread_id}, "recursion_limit": 1000}
        start = time.perf_counter()
        out = graph.invoke({"tokens": [], "text": "", "reviewed": False}, config, durability=durability)
        elapsed = (time.perf_counter() - start) * 1e3
        assert out["reviewed"] and len(out["tokens"]) == TOKENS, len(out["tokens"])
        counts = layers(thread_id)
        if run > 0:
            times.append(elapsed)
    return statistics.median(times), counts


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(os.path.join(tmp, "sub.db"), check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        lite = SqliteSaver(conn)
        memory = InMemorySaver()
        print(f"\nLangGraph: prepare -> generate ({TOKENS} token steps + flush) -> review, median of {RUNS}\n")
        print("| inner graph | saver | outer checkpoints | inner checkpoints | one run | vs `checkpointer=False` |")
        print("|---|---|---|---|---|---|")
        for saver_name, saver, layers in (
            ("SqliteSaver", lite, lambda t: layers_sqlite(conn, t)),
            ("InMemorySaver", memory, lambda t: layers_memory(memory, t)),
        ):
            coarse = measure(outer(inner(False), saver), layers, "async")
            seed = measure(outer(inner(None), saver), layers, "sync")
            for label, (ms, (o, i)) in (("`checkpointer=False`", coarse), ("`compile()` (the seed's)", seed)):
                print(f"| {label} | {saver_name} | {o} | {i} | {ms:.2f} ms | {ms / coarse[0]:.1f}x |")
        conn.close()
