"""LangGraph's side of benches/store.rs: put, get and a filtered search on its stores, one
operation at a time over 1,000 items (200 searches, each matching 10). InMemoryStore,
SqliteStore (a file, WAL) and PostgresStore; LangGraph's RedisStore needs the RediSearch
module, which the plain Redis here does not have. Prints median / p99 microseconds.

    bash benches/side_by_side.sh store
"""

import os
import sqlite3
import statistics
import tempfile
import time
import uuid

from langgraph.store.memory import InMemoryStore
from langgraph.store.sqlite import SqliteStore

ITEMS = 1_000
SEARCHES = 200


def spread(times):
    times = sorted(times)
    at = lambda q: times[round((len(times) - 1) * q)]
    return at(0.5), at(0.99)


def measure(name, store):
    ns = ("bench", f"run-{uuid.uuid4()}", "docs")
    puts, gets, searches = [], [], []
    for i in range(ITEMS):
        value = {"title": f"document {i}", "words": i % 100, "lang": "en"}
        start = time.perf_counter()
        store.put(ns, f"doc-{i}", value)
        puts.append((time.perf_counter() - start) * 1e6)
    for i in range(ITEMS):
        start = time.perf_counter()
        item = store.get(ns, f"doc-{i}")
        gets.append((time.perf_counter() - start) * 1e6)
        assert item is not None
    for i in range(SEARCHES):
        start = time.perf_counter()
        found = store.search(ns, filter={"words": i % 100}, limit=10)
        searches.append((time.perf_counter() - start) * 1e6)
        assert len(found) == ITEMS // 100, len(found)
    for i in range(ITEMS):
        store.delete(ns, f"doc-{i}")
    (p50, p99), (g50, g99), (s50, s99) = spread(puts), spread(gets), spread(searches)
    print(f"| {name} | {p50:.0f} / {p99:.0f} | {g50:.0f} / {g99:.0f} | {s50:.0f} / {s99:.0f} |")


if __name__ == "__main__":
    print(f"\nLangGraph: us per operation, median / p99, over {ITEMS} items (search: {SEARCHES} filtered searches, 10 of {ITEMS} match)\n")
    print("| store | put | get | search |")
    print("|---|---|---|---|")
    measure("InMemoryStore", InMemoryStore())
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(os.path.join(tmp, "store.db"), check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        store = SqliteStore(conn)
        store.setup()
        measure("SqliteStore (WAL)", store)
        conn.close()
    try:
        from langgraph.store.postgres import PostgresStore

        url = os.environ.get("STATEGRAPH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
        with PostgresStore.from_conn_string(url) as store:
            store.setup()
            measure("PostgresStore", store)
    except ImportError as e:
        print(f"| PostgresStore | skipped: {e} | | |")
