"""The seed's research agent on LangChain's message layer, in LangGraph: search → synthesize →
review, then pass, revise or search again, with a hard exit after 3 retries. The Rust port is
examples/chat_research_agent.rs; tests/line_counts.rs compares their lines.

    target/langgraph-venv/bin/python examples/langgraph/chat_research_agent.py
"""

import asyncio
import os
from typing import Annotated, Literal, TypedDict

from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import AnyMessage, HumanMessage, SystemMessage
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.graph import END, StateGraph
from langgraph.graph.message import add_messages


class Research(TypedDict):
    task_id: str
    query: str
    retry_count: int
    messages: Annotated[list[AnyMessage], add_messages]
    search_result_ids: list[str]
    synthesis: str
    verdict: str


llm = FakeListChatModel(responses=["A first draft.", "revise", "A better draft.", "pass"])


def search(state: Research) -> dict:
    ids = ["doc-001", "doc-002"]
    note = SystemMessage(f"Search returned {len(ids)} results")
    return {"search_result_ids": ids, "messages": [note]}


async def synthesize(state: Research) -> dict:
    docs = [f"content of {i}" for i in state["search_result_ids"]]
    prompt = state["messages"] + [HumanMessage(f"Answer {state['query']!r} from: {'; '.join(docs)}")]
    reply = await llm.ainvoke(prompt)
    return {"synthesis": reply.content, "messages": [reply]}


async def review(state: Research) -> dict:
    ask = HumanMessage(f"Reply pass or revise: {state['synthesis']}")
    verdict = (await llm.ainvoke([ask])).content
    return {"verdict": verdict, "messages": [SystemMessage(f"Review verdict: {verdict}")]}


def handle_revision(state: Research) -> dict:
    return {"retry_count": state["retry_count"] + 1, "verdict": ""}


def after_review(state: Research) -> Literal["pass", "revise", "retry_search"]:
    if state["verdict"] == "pass":
        return "pass"
    if state["retry_count"] >= 3:
        return "pass"
    if state["verdict"] == "revise":
        return "revise"
    return "retry_search"


builder = StateGraph(Research)
builder.add_node("search", search)
builder.add_node("synthesize", synthesize)
builder.add_node("review", review)
builder.add_node("handle_revision", handle_revision)
builder.set_entry_point("search")
builder.add_edge("search", "synthesize")
builder.add_edge("synthesize", "review")
builder.add_conditional_edges(
    "review", after_review, {"pass": END, "revise": "handle_revision", "retry_search": "search"}
)
builder.add_edge("handle_revision", "synthesize")


async def main() -> None:
    async with AsyncSqliteSaver.from_conn_string("chat_research_agent.db") as saver:
        graph = builder.compile(checkpointer=saver)
        config = {"configurable": {"thread_id": f"task-{os.getpid()}"}}
        state = {"task_id": "t1", "query": "durable agents", "retry_count": 0}
        done = await graph.ainvoke(state, config)
        print(f"{done['synthesis']} after {done['retry_count']} revision(s)")


if __name__ == "__main__":
    asyncio.run(main())
