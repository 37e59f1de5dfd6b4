"""A local OpenAI-compatible Chat Completions server with scripted replies, for tests.

It speaks the real wire format, so the real ``openai`` client (and LangChain on top of it) parses
what it sends back, retries its 429s and 500s, and times out on its slow replies::

    with FakeOpenAI() as server:
        server.script([rate_limited(), good({"task": "...", "workflow": "...", "references": "..."})])
        AgentSettings(OPENAI_BASE_URL=server.base_url, ...)   # 'http://127.0.0.1:PORT/v1'
        ...
        assert server.calls == 2
        server.prompt("system")                                # what the last request said

Replies come from the script (a queue, first in first out), then from ``respond_with(fn)``;
a request with neither left is answered 500 so that a test notices. Structured output: a reply
whose content is a dict goes back as a tool call when the request offered tools (or legacy
functions), else as the JSON text of the message; ``FakeOpenAI(structured_output=False)`` plays
a server that rejects ``response_format`` json_schema and tools with a 400.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# ------------------------------------------------------------------------------------------------
# Scripted replies


@dataclass(frozen=True)
class Reply:
    """One scripted reply: ``status`` 200 answers with ``content``, any other status with an error body."""

    content: str | dict[str, Any] | None = None  # a dict is a JSON object (a tool call when one was asked for)
    status: int = 200
    delay_s: float = 0.0  # wait this long before answering
    headers: dict[str, str] = field(default_factory=dict)
    error: str = ""  # the error message for a non-200 status
    finish_reason: str = "stop"


ScriptItem = Reply | dict[str, Any] | str
Responder = Callable[[dict[str, Any]], ScriptItem]

GOOD_DRAFT = {
    "task": "Single-image super-resolution: enlarging a small picture 4x.",
    "workflow": "Low-resolution image → SISR-Any-LIIF-RDN → 4x image.",
    "references": "- SISR-Any-LIIF-RDN: https://arxiv.org/pdf/2012.09161, https://github.com/yinboc/liif",
}


def good(payload: dict[str, Any] | str = GOOD_DRAFT) -> Reply:
    """A well-formed answer: a JSON object ({task, workflow, references}) or Markdown text."""
    return Reply(content=payload)


def text(content: str) -> Reply:
    """Any message content, e.g. an ungrounded answer."""
    return Reply(content=content)


def malformed(content: str = '{"task": "Super-resolution", "workflow": "low-res image →') -> Reply:
    """Content that is neither the JSON object nor the three-part Markdown (by default, cut-off JSON)."""
    return Reply(content=content)


def slow(seconds: float, then: Reply | None = None) -> Reply:
    """``then`` (by default a good answer), after ``seconds``."""
    return replace(then or good(), delay_s=seconds)


def rate_limited(retry_after_ms: int | None = 10) -> Reply:
    """A 429; with ``retry_after_ms`` the client is told to retry that soon (``Retry-After: 0`` too)."""
    headers = {} if retry_after_ms is None else {"retry-after-ms": str(retry_after_ms), "retry-after": "0"}
    return Reply(status=429, headers=headers, error="Rate limit reached for fake-model. Please try again later.")


def server_error(status: int = 500) -> Reply:
    return Reply(status=status, error="The server had an error while processing your request.")


def bad_request(message: str = "Invalid request.") -> Reply:
    return Reply(status=400, error=message)


def _as_reply(item: ScriptItem) -> Reply:
    if isinstance(item, Reply):
        return item
    return Reply(content=item)


# ------------------------------------------------------------------------------------------------
# Response bodies, in the Chat Completions wire format

_ERROR_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 404: "invalid_request_error"}
_ERROR_CODES = {429: "rate_limit_exceeded", 404: "model_not_found"}


def error_body(status: int, message: str) -> dict[str, Any]:
    kind = _ERROR_TYPES.get(status, "requests" if status == 429 else "server_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": _ERROR_CODES.get(status)}}


def requested_function(body: dict[str, Any]) -> tuple[str, str] | None:
    """``("tools" | "functions", name)`` when the request offers a function to call, else None."""
    choice = body.get("tool_choice")
    if body.get("tools") and choice != "none":
        if isinstance(choice, dict) and choice.get("function", {}).get("name"):
            return "tools", choice["function"]["name"]
        return "tools", body["tools"][0]["function"]["name"]
    if body.get("functions"):
        call = body.get("function_call")
        name = call.get("name") if isinstance(call, dict) else None
        return "functions", name or body["functions"][0]["name"]
    return None


def asks_structured_output(body: dict[str, Any]) -> bool:
    response_format = body.get("response_format") or {}
    return response_format.get("type") == "json_schema" or bool(body.get("tools") or body.get("functions"))


def _message(body: dict[str, Any], reply: Reply, serial: int) -> tuple[dict[str, Any], str]:
    """The assistant message for a reply, and its finish reason."""
    function = requested_function(body)
    if isinstance(reply.content, dict) and function is not None:
        kind, name = function
        arguments = json.dumps(reply.content, ensure_ascii=False)
        if kind == "functions":
            return {"role": "assistant", "content": None, "function_call": {"name": name, "arguments": arguments}}, (
                "function_call"
            )
        call = {"id": f"call_fake_{serial}", "type": "function", "function": {"name": name, "arguments": arguments}}
        return {"role": "assistant", "content": None, "refusal": None, "tool_calls": [call]}, "tool_calls"
    content = json.dumps(reply.content, ensure_ascii=False) if isinstance(reply.content, dict) else reply.content
    return {"role": "assistant", "content": content, "refusal": None}, reply.finish_reason


def _tokens(text: str | None) -> int:
    return len((text or "").split())


def _usage(body: dict[str, Any], message: dict[str, Any]) -> dict[str, int]:
    prompt = sum(_tokens(m.get("content") if isinstance(m.get("content"), str) else "") for m in body["messages"])
    completion = _tokens(message.get("content")) + sum(
        _tokens(call["function"]["arguments"]) for call in message.get("tool_calls", [])
    )
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def completion_body(body: dict[str, Any], reply: Reply, serial: int) -> dict[str, Any]:
    message, finish_reason = _message(body, reply, serial)
    return {
        "id": f"chatcmpl-fake-{serial}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "fake-model"),
        "system_fingerprint": "fp_fake",
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}],
        "usage": _usage(body, message),
    }


def _pieces(text: str) -> list[str]:
    """Split text into word-sized pieces, keeping every character."""
    return re.findall(r"\s*\S+\s*", text) or [text]


def completion_chunks(body: dict[str, Any], reply: Reply, serial: int) -> Iterator[dict[str, Any]]:
    """The same answer as ``completion_body``, as ``chat.completion.chunk`` objects for SSE."""
    message, finish_reason = _message(body, reply, serial)
    base = {
        "id": f"chatcmpl-fake-{serial}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": body.get("model", "fake-model"),
        "system_fingerprint": "fp_fake",
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}

    yield chunk({"role": "assistant", "content": ""})
    if message.get("tool_calls"):
        call = message["tool_calls"][0]
        head = {"index": 0, "id": call["id"], "type": "function", "function": {"name": call["function"]["name"]}}
        yield chunk({"tool_calls": [{**head, "function": {**head["function"], "arguments": ""}}]})
        for piece in _pieces(call["function"]["arguments"]):
            yield chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
    elif message.get("function_call"):
        call = message["function_call"]
        yield chunk({"function_call": {"name": call["name"], "arguments": ""}})
        for piece in _pieces(call["arguments"]):
            yield chunk({"function_call": {"arguments": piece}})
    else:
        for piece in _pieces(message.get("content") or ""):
            yield chunk({"content": piece})
    yield chunk({}, finish_reason)
    if (body.get("stream_options") or {}).get("include_usage"):
        yield {**base, "choices": [], "usage": _usage(body, message)}


# ------------------------------------------------------------------------------------------------
# The server


class FakeOpenAI:
    """An OpenAI-compatible server on 127.0.0.1 (a free port), in a background thread."""

    def __init__(self, *, model: str = "fake-model", structured_output: bool = True) -> None:
        self.model = model
        self.structured_output = structured_output  # False: 400 on response_format json_schema / tools
        self.requests: list[dict[str, Any]] = []  # every chat-completions request body, in order
        self.request_headers: list[dict[str, str]] = []
        self._queue: deque[ScriptItem] = deque()
        self._responder: Responder | None = None
        self._serial = 0
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle

    def start(self) -> FakeOpenAI:
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        httpd.daemon_threads = True
        httpd.block_on_close = False  # a slow reply in flight must not hold up the test's teardown
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), name="fake-openai", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._closing.set()  # wakes slow replies
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "start the server first"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    # -- what to answer

    def script(self, replies: Iterable[ScriptItem]) -> None:
        """Answer the next requests with these, in order (a dict or str is a good reply with that content)."""
        with self._lock:
            self._queue = deque(replies)

    def respond_with(self, responder: Responder | None) -> None:
        """Answer every request the script does not cover with ``responder(request_body)``."""
        self._responder = responder

    def _next_reply(self, body: dict[str, Any], headers: dict[str, str]) -> tuple[Reply, int]:
        """Record the request and pick its reply (a rejected structured-output request uses up no script)."""
        with self._lock:
            self.requests.append(body)
            self.request_headers.append(headers)
            self._serial += 1
            serial = self._serial
            if not self.structured_output and asks_structured_output(body):
                return bad_request("response_format 'json_schema' and tools are not supported by this server"), serial
            item = self._queue.popleft() if self._queue else None
        if item is None and self._responder is not None:
            item = self._responder(body)
        if item is None:
            return Reply(status=500, error=f"fake server: no scripted reply for request {serial}"), serial
        return _as_reply(item), serial

    # -- what was asked

    @property
    def calls(self) -> int:
        """How many chat-completions requests arrived."""
        return len(self.requests)

    def messages(self, index: int = -1) -> list[dict[str, Any]]:
        return self.requests[index]["messages"]

    def prompt(self, role: str, index: int = -1) -> str:
        """The text of every message with this role in one request, joined by blank lines."""
        texts = []
        for message in self.messages(index):
            if message.get("role") != role:
                continue
            content = message.get("content")
            if isinstance(content, list):  # content parts
                content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
            texts.append(content or "")
        return "\n\n".join(texts)


def _handler_for(server: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            pass

        def do_GET(self) -> None:
            if self.path.rstrip("/") == "/v1/models":
                model = {"id": server.model, "object": "model", "created": 0, "owned_by": "fake"}
                self._send_json(200, {"object": "list", "data": [model]})
            else:
                self._send_json(404, error_body(404, f"Unknown path {self.path}"))

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send_json(404, error_body(404, f"Unknown path {self.path}"))
                return
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                self._send_json(400, error_body(400, "The request body is not JSON."))
                return
            reply, serial = server._next_reply(body, dict(self.headers.items()))
            if reply.delay_s and server._closing.wait(reply.delay_s):
                return  # shutting down
            if reply.status != 200:
                self._send_json(reply.status, error_body(reply.status, reply.error), reply.headers)
            elif body.get("stream"):
                self._send_stream(completion_chunks(body, reply, serial), reply.headers)
            else:
                self._send_json(200, completion_body(body, reply, serial), reply.headers)

        def _send_json(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (e.g. timed out)
                pass

        def _send_stream(self, chunks: Iterator[dict[str, Any]], headers: dict[str, str]) -> None:
            try:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                for chunk in chunks:
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass

    return Handler
