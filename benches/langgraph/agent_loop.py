"""LangGraph's side of benches/agent_loop.rs: create_react_agent with a fake chat model that
calls `add` after a question and answers after a tool's result, so one question is two model
calls and one tool call. Prints the median over 7 batches of 1,000 questions (after a warm-up
batch) of one question, and per model call, without a checkpointer and with InMemorySaver.

    bash benches/side_by_side.sh agent
"""

import statistics
import time
import uuid
import warnings

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from langgraph.prebuilt import create_react_agent

BATCHES = 7
RUNS = 1_000


class Fake(BaseChatModel):
    """Calls `add` after a question, answers after a tool's result."""

    @property
    def _llm_type(self) -> str:
        return "fake"

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        if isinstance(messages[-1], HumanMessage):
            call = {"name": "add", "args": {"a": 1, "b": 2}, "id": str(uuid.uuid4())}
            reply = AIMessage(content="", tool_calls=[call])
        else:
            reply = AIMessage(content="3")
        return ChatResult(generations=[ChatGeneration(message=reply)])

    def bind_tools(self, tools, **kwargs):
        return self


@tool
def add(a: int, b: int) -> str:
    """Adds two numbers."""
    return str(a + b)


def median(run) -> float:
    times = []
    for batch in range(BATCHES + 1):
        start = time.perf_counter()
        for i in range(RUNS):
            run(batch * RUNS + i)
        if batch > 0:
            times.append((time.perf_counter() - start) * 1e6 / RUNS)
    return statistics.median(times)


def main() -> None:
    question = {"messages": [("user", "1+2?")]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bare = create_react_agent(Fake(), [add])
        durable = create_react_agent(Fake(), [add], checkpointer=InMemorySaver())

    def ask_bare(_i):
        assert len(bare.invoke(question)["messages"]) == 4

    def ask_durable(i):
        config = {"configurable": {"thread_id": f"q-{i}"}}
        assert len(durable.invoke(question, config)["messages"]) == 4

    print(f"\nLangGraph: create_react_agent, one tool call per question, median of {BATCHES} × {RUNS}\n")
    print("| configuration | µs per question | µs per model call |")
    print("|---|---|---|")
    for name, run in [("no checkpointer", ask_bare), ("in-memory saver, sync", ask_durable)]:
        t = median(run)
        print(f"| {name} | {t:.1f} | {t / 2:.1f} |")


if __name__ == "__main__":
    main()
