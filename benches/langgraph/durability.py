"""LangGraph's side of benches/durability.rs: the same outer graph (prepare -> token x 200 ->
review, each token step incrementing a counter and appending one message), with SqliteSaver
(a WAL file) and PostgresSaver (schema lg_bench_durability, dropped at the end), in each
durability mode, with a token node that returns at once and one that waits 1 ms. Prints the
median microseconds per step over 5 runs, as the Rust bench does.

    bash benches/side_by_side.sh durability
"""

import operator
import os
import sqlite3
import statistics
import tempfile
import time
import uuid
from typing import Annotated, TypedDict

from langgraph.graph import END, START, StateGraph

TOKENS = 200
STEPS = TOKENS + 2
RUNS = 5


class Draft(TypedDict):
    count: int
    tokens: Annotated[list, operator.add]
    reviewed: bool


def build(checkpointer, latency: float):
    def prepare(_s: Draft) -> dict:
        return {}

    def token(s: Draft) -> dict:
        if latency:
            time.sleep(latency)
        return {"count": s["count"] + 1, "tokens": [f"token {s['count']}"]}

    def review(_s: Draft) -> dict:
        return {"reviewed": True}

    def more(s: Draft) -> str:
        return "token" if s["count"] < TOKENS else "done"

    g = StateGraph(Draft)
    g.add_node("prepare", prepare)
    g.add_node("token", token)
    g.add_node("review", review)
    g.add_edge(START, "prepare")
    g.add_edge("prepare", "token")
    g.add_conditional_edges("token", more, {"token": "token", "done": "review"})
    g.add_edge("review", END)
    return g.compile(checkpointer=checkpointer)


def median_per_step(graph, durability) -> float:
    def run():
        config = {"recursion_limit": STEPS + 10}
        kwargs = {}
        if durability is not None:
            config["configurable"] = {"thread_id": f"bench-{uuid.uuid4()}"}
            kwargs["durability"] = durability
        out = graph.invoke({"count": 0, "tokens": [], "reviewed": False}, config, **kwargs)
        assert out["reviewed"]

    run()  # warm-up
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1e6 / STEPS)
    return statistics.median(times)


def report(backend: str, saver) -> None:
    print(f"\nLangGraph {backend}: us per step (median of {RUNS} runs of {STEPS} steps)\n")
    print("| node latency | no checkpointer | sync | async | exit | async / sync | exit / sync |")
    print("|---|---|---|---|---|---|---|")
    for latency in (0.0, 0.001):
        none = median_per_step(build(None, latency), None)
        graph = build(saver, latency)
        sync = median_per_step(graph, "sync")
        asynchronous = median_per_step(graph, "async")
        exit_ = median_per_step(graph, "exit")
        print(
            f"| {latency * 1000:.0f}ms | {none:.1f} | {sync:.1f} | {asynchronous:.1f} | "
            f"{exit_:.1f} | {asynchronous / sync:.2f}x | {exit_ / sync:.2f}x |"
        )


def sqlite() -> None:
    from langgraph.checkpoint.sqlite import SqliteSaver

    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(os.path.join(tmp, "bench.db"), check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        report("SqliteSaver (WAL)", SqliteSaver(conn))
        conn.close()


def postgres() -> None:
    import psycopg
    from langgraph.checkpoint.postgres import PostgresSaver

    url = os.environ.get("STATEGRAPH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
    schema = "lg_bench_durability"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    sep = "&" if "?" in url else "?"
    try:
        with PostgresSaver.from_conn_string(f"{url}{sep}options=-csearch_path%3D{schema}") as saver:
            saver.setup()
            report("PostgresSaver", saver)
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


if __name__ == "__main__":
    sqlite()
    try:
        postgres()
    except Exception as e:  # noqa: BLE001 - the bench reports what it could not run
        print(f"\nLangGraph PostgresSaver skipped: {e}")
