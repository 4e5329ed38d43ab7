"""LangChain's side of stategraph-agent's message tests (langchain-core, pinned in .ci/run).

    python messages.py dump    # LangChain's messages, one model_dump() per line
    python messages.py check   # reads messages (one JSON object per line) on stdin, reads each
                               # with LangChain's messages_from_dict, and prints what LangChain
                               # dumps back

`tests/langchain_messages.rs` runs both: stategraph must read every message LangChain writes
and write it back unchanged, and LangChain must read every message stategraph writes.
"""

import json
import sys

from langchain_core.messages import (
    AIMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    messages_from_dict,
)


def samples():
    return [
        SystemMessage("You are terse.", id="s1"),
        HumanMessage("plain text", id="h0", name="ada"),
        HumanMessage(
            content=[
                {"type": "text", "text": "What is in this picture?"},
                {"type": "image", "url": "https://example.com/cat.png", "mime_type": "image/png"},
                {"type": "file", "base64": "JVBERi0=", "mime_type": "application/pdf", "filename": "a.pdf"},
                {"type": "reasoning", "reasoning": "kept as it came"},
            ],
            id="h1",
        ),
        AIMessage(
            content="",
            id="a1",
            tool_calls=[{"name": "search", "args": {"q": "cat", "n": 3}, "id": "call_1"}],
            invalid_tool_calls=[
                {"name": "lookup", "args": "{bad", "id": "call_2", "error": "bad json"}
            ],
            usage_metadata={
                "input_tokens": 10,
                "output_tokens": 5,
                "total_tokens": 15,
                "input_token_details": {"cache_read": 4},
                "output_token_details": {"reasoning": 2},
            },
            response_metadata={"model_name": "gpt-4o", "finish_reason": "tool_calls"},
            additional_kwargs={"refusal": None},
        ),
        AIMessage(content="Done.", id="a2"),
        ToolMessage(
            content="3 results", tool_call_id="call_1", id="t1", artifact={"rows": [1, 2, 3]}
        ),
        ToolMessage(content="error: boom", tool_call_id="call_2", id="t2", status="error", name="lookup"),
    ]


def main() -> None:
    if sys.argv[1] == "dump":
        for message in samples():
            print(json.dumps(message.model_dump()))
    else:
        for line in sys.stdin:
            if line.strip():
                data = json.loads(line)
                [message] = messages_from_dict([{"type": data["type"], "data": data}])
                print(json.dumps(message.model_dump()))


if __name__ == "__main__":
    main()
