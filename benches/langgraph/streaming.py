"""LangGraph's side of benches/streaming.rs: the same runs invoked and streamed in one process.
A loop of 1,000 steps streamed with stream_mode="updates", without a checkpointer and with
InMemorySaver (sync durability), and one node emitting 10,000 tokens through
get_stream_writer() streamed with stream_mode="custom". Prints the median time of one run over
7 runs (after one warm-up) and the ratio to invoke.

    bash benches/side_by_side.sh streaming
"""

import statistics
import time
import uuid
from typing import TypedDict

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph

RUNS = 7
STEPS = 1_000
TOKENS = 10_000


class Counter(TypedDict):
    n: int


def looping(checkpointer):
    g = StateGraph(Counter)
    g.add_node("tick", lambda s: {"n": s["n"] + 1})
    g.add_edge(START, "tick")
    g.add_conditional_edges("tick", lambda s: "tick" if s["n"] < STEPS else END, ["tick", END])
    return g.compile(checkpointer=checkpointer)


def speaking():
    def speak(_s: Counter) -> dict:
        write = get_stream_writer()
        for n in range(TOKENS):
            write(n)
        return {"n": TOKENS}

    g = StateGraph(Counter)
    g.add_node("speak", speak)
    g.add_edge(START, "speak")
    g.add_edge("speak", END)
    return g.compile()


def median(run) -> float:
    times = []
    for i in range(RUNS + 1):
        start = time.perf_counter()
        run()
        if i > 0:
            times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def config(durable):
    c = {"recursion_limit": 10_000}
    if durable:
        c["configurable"] = {"thread_id": f"t-{uuid.uuid4()}"}
    return c


def row(run, saver, invoke, stream, events):
    per_event = max(stream - invoke, 0.0) * 1e3 / events
    print(f"| {run} | {saver} | {invoke:.2f} ms | {stream:.2f} ms | {stream / invoke:.2f}x | {per_event:.2f} |")


if __name__ == "__main__":
    print(f"\nLangGraph: invoke against stream, median of {RUNS}\n")
    print("| run | saver | invoke | stream | stream / invoke | us per event |")
    print("|---|---|---|---|---|---|")
    for saver_name, saver, kwargs in (("none", None, {}), ("InMemorySaver", InMemorySaver(), {"durability": "sync"})):
        graph = looping(saver)
        durable = saver is not None

        def invoke():
            assert graph.invoke({"n": 0}, config(durable), **kwargs)["n"] == STEPS

        def stream():
            chunks = list(graph.stream({"n": 0}, config(durable), stream_mode="updates", **kwargs))
            assert len(chunks) == STEPS

        row("1,000 steps, `updates`", saver_name, median(invoke), median(stream), STEPS)

    graph = speaking()

    def invoke_tokens():
        graph.invoke({"n": 0})

    def stream_tokens():
        chunks = list(graph.stream({"n": 0}, stream_mode="custom"))
        assert len(chunks) == TOKENS

    row("10,000 tokens, `custom`", "none", median(invoke_tokens), median(stream_tokens), TOKENS)
