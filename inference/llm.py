"""Async client for the region's OpenAI-compatible chat completions server (llama.cpp's
server here, ``vllm serve`` in production): streamed tokens and schema-constrained tool
calls.

A reply can be paused and continued: the caller closes the stream once it has the reply's
first chunk (so the region's TTS has the cores to itself), and ``continue_chat`` later
resumes the same assistant message from the text written so far. vLLM does that with
``continue_final_message``; llama-cpp-python's chat endpoint always opens a new assistant
turn, so there the client writes the model's ChatML prompt itself, ends it with the text so
far, and uses ``/completions``: the server finds the whole prompt in its cache. ``warm``
checks once that this prompt is token for token the one the chat endpoint built; a model
with another template is never continued (docs/adr/0010).

Tool calls are never parsed out of free text: the server is made to emit JSON matching the
tool's parameter schema (a grammar in llama.cpp, guided decoding in vLLM), and the result is
validated again here, so even a 135M-parameter model yields calls that the agent can run.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import aiohttp
import jsonschema

from inference.auth import auth_headers, client_ssl

log = logging.getLogger(__name__)

Message = dict[str, Any]
# The server behind the OpenAI-compatible API: it decides how structured output is asked
# for (llama.cpp: {"type": "json_object", "schema": S}; vLLM: {"type": "json_schema",
# "json_schema": {"name": ..., "schema": S}}) and how a paused reply is continued.
LlmServer = Literal["llama.cpp", "vllm"]
LLM_SERVERS: tuple[LlmServer, ...] = ("llama.cpp", "vllm")
CHATML_STOP = ("<|im_end|>", "<|im_start|>")


class LlmError(Exception):
    pass


class LlmUnavailable(LlmError):
    """The region's LLM server cannot be reached; the agent falls back (same region)."""


class InvalidToolCall(LlmError):
    def __init__(self, message: str, *, raw: str) -> None:
        super().__init__(message)
        self.raw = raw


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]  # JSON Schema of the arguments object

    def __post_init__(self) -> None:
        jsonschema.Draft202012Validator.check_schema(self.parameters)

    def as_openai(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }


@dataclass(frozen=True, slots=True)
class ToolCall:
    name: str
    arguments: dict[str, Any]
    model: str


def validate_arguments(tool: Tool, raw: str) -> dict[str, Any]:
    try:
        arguments = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidToolCall(f"{tool.name}: arguments are not JSON ({exc})", raw=raw) from exc
    try:
        jsonschema.validate(arguments, tool.parameters)
    except jsonschema.ValidationError as exc:
        raise InvalidToolCall(f"{tool.name}: {exc.message}", raw=raw) from exc
    if not isinstance(arguments, dict):
        raise InvalidToolCall(f"{tool.name}: arguments are not an object", raw=raw)
    return arguments


def chatml(messages: Sequence[Message], *, prefill: str) -> str:
    """``messages`` in ChatML (SmolLM2, Qwen), then an open assistant turn holding
    ``prefill``: the prompt of a reply that has already written ``prefill``."""
    turns = "".join(
        f"<|im_start|>{m['role']}\n{m.get('content') or ''}<|im_end|>\n" for m in messages
    )
    return f"{turns}<|im_start|>assistant\n{prefill}"


def choice_schema(tools: Sequence[Tool]) -> dict[str, Any]:
    """One schema for "pick a tool and fill its arguments"."""
    return {
        "anyOf": [
            {
                "type": "object",
                "properties": {"tool": {"const": t.name}, "arguments": t.parameters},
                "required": ["tool", "arguments"],
            }
            for t in tools
        ]
    }


class LlmClient:
    def __init__(
        self,
        base_url: str,
        *,
        model: str | None = None,
        server: LlmServer = "llama.cpp",
        timeout: float = 60.0,
        session: aiohttp.ClientSession | None = None,
        token: str | None = None,
        tenant: str | None = None,
        call: str | None = None,
    ) -> None:
        """``token``: the region's LLM token (``Region.llm_token``); ``tenant``/``call``:
        whom the requests are for (the server's per-caller limits, inference/llm_guard.py)."""
        if server not in LLM_SERVERS:
            raise ValueError(f"server must be one of {LLM_SERVERS}, not {server!r}")
        self.base_url = base_url.rstrip("/")
        self.headers = auth_headers(token, tenant=tenant, call=call)
        self.model = model
        self.server = server
        # Whether ``continue_chat`` works: vLLM's is an API feature; llama.cpp's needs the
        # model's template to be ChatML, which the first ``warm`` checks (None: not yet).
        self.continues: bool | None = True if server == "vllm" else None
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._session = session
        self._owns_session = session is None

    async def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()

    async def model_name(self) -> str:
        """The served model's id (asked once), recorded with every LLM hop."""
        if self.model is None:
            served = await self.models()
            if not served:
                raise LlmError(f"{self.base_url}/models lists no model")
            self.model = served[0]
        return self.model

    async def models(self) -> list[str]:
        data = await self._post_or_get("GET", "/models", None)
        return [m["id"] for m in data.get("data", [])]

    async def _post_or_get(self, method: str, path: str, body: Any) -> dict[str, Any]:
        session = await self._http()
        try:
            async with session.request(
                method,
                self.base_url + path,
                json=body,
                timeout=self.timeout,
                headers=self.headers,
                ssl=client_ssl(),
            ) as response:
                if response.status >= 400:
                    raise LlmError(f"{path}: HTTP {response.status}: {await response.text()}")
                result: dict[str, Any] = await response.json()
                return result
        except (aiohttp.ClientConnectionError, TimeoutError) as exc:
            raise LlmUnavailable(f"{self.base_url}: {exc}") from exc

    async def warm(self, messages: Sequence[Message]) -> str:
        """Have the server evaluate ``messages`` (the context a call's first reply will
        start with: system prompt and greeting) ahead of the first turn: llama.cpp keeps
        the evaluated prefix and vLLM's prefix cache the same, so the caller's first
        question pays only for its own tokens. Returns the model."""
        body = {
            "model": await self.model_name(),
            "messages": list(messages),
            "max_tokens": 1,
            "temperature": 0.0,
        }
        data = await self._post_or_get("POST", "/chat/completions", body)
        if self.continues is None:
            await self._check_chatml(messages, data)
        return str(data.get("model") or await self.model_name())

    async def _check_chatml(self, messages: Sequence[Message], chat: dict[str, Any]) -> None:
        """Whether the ChatML prompt of ``messages`` is the prompt the chat endpoint read
        (``chat`` is its answer), by token count: another template (other markers, a
        default system prompt, a BOS token) changes the count. When they match, llama.cpp
        logs the prompt as found whole in its cache."""
        expected = (chat.get("usage") or {}).get("prompt_tokens")
        if not isinstance(expected, int):
            self.continues = False  # no usage reported: cannot tell, so never continue
            return
        body = {
            "model": await self.model_name(),
            "prompt": chatml(messages, prefill=""),
            "max_tokens": 1,
            "temperature": 0.0,
        }
        data = await self._post_or_get("POST", "/completions", body)
        counted = (data.get("usage") or {}).get("prompt_tokens")
        self.continues = counted == expected
        if not self.continues:
            log.info(
                "%s: the model's chat template is not ChatML (%s tokens, ChatML %s): replies "
                "are streamed whole",
                self.base_url,
                expected,
                counted,
            )

    async def stream_chat(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = 128,
        temperature: float = 0.3,
        stop: Sequence[str] | None = None,
    ) -> AsyncGenerator[str, None]:
        """Yield the assistant's reply as text deltas, as the server produces them.
        Closing the iterator closes the connection, and the server stops generating."""
        body = {
            "model": await self.model_name(),
            "messages": list(messages),
            "stream": True,
            "max_tokens": max_tokens,
            "temperature": temperature,
            **({"stop": list(stop)} if stop else {}),
        }
        async for delta in self._stream("/chat/completions", body, _chat_delta):
            yield delta

    async def continue_chat(
        self,
        messages: Sequence[Message],
        prefill: str,
        *,
        max_tokens: int = 128,
        temperature: float = 0.3,
    ) -> AsyncGenerator[str, None]:
        """Yield the rest of an assistant reply to ``messages`` that has so far written
        ``prefill`` (a ``stream_chat`` closed early), as text deltas. Only when
        ``continues`` is true."""
        if not self.continues:
            raise LlmError(f"{self.base_url}: this server's replies cannot be continued")
        model = await self.model_name()
        if self.server == "vllm":
            body: dict[str, Any] = {
                "model": model,
                "messages": [*messages, {"role": "assistant", "content": prefill}],
                "add_generation_prompt": False,
                "continue_final_message": True,
                "stream": True,
                "max_tokens": max_tokens,
                "temperature": temperature,
            }
            path, pick = "/chat/completions", _chat_delta
        else:
            body = {
                "model": model,
                # A trailing space would be a token the model never writes (it writes " x").
                "prompt": chatml(messages, prefill=prefill.rstrip()),
                "stop": list(CHATML_STOP),
                "stream": True,
                "max_tokens": max_tokens,
                "temperature": temperature,
            }
            path, pick = "/completions", _completion_delta
        async for delta in self._stream(path, body, pick):
            yield delta

    async def _stream(
        self, path: str, body: dict[str, Any], pick: Callable[[dict[str, Any]], str]
    ) -> AsyncGenerator[str, None]:
        """POST ``body`` and yield the non-empty text of each server-sent event."""
        session = await self._http()
        try:
            async with session.post(
                self.base_url + path,
                json=body,
                timeout=self.timeout,
                headers=self.headers,
                ssl=client_ssl(),
            ) as response:
                if response.status >= 400:
                    raise LlmError(f"HTTP {response.status}: {await response.text()}")
                async for line in response.content:
                    text = line.decode("utf-8").strip()
                    if not text.startswith("data:"):
                        continue
                    payload = text.removeprefix("data:").strip()
                    if payload == "[DONE]":
                        return
                    delta = pick(json.loads(payload)["choices"][0])
                    if delta:
                        yield delta
        except (aiohttp.ClientConnectionError, TimeoutError) as exc:
            raise LlmUnavailable(f"{self.base_url}: {exc}") from exc

    async def tool_call(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[Tool],
        choice: str | None = None,
        max_tokens: int = 128,
    ) -> ToolCall:
        """Have the model call one of ``tools`` (``choice`` forces which); the arguments
        are constrained to the tool's schema by the server and validated here."""
        if not tools:
            raise ValueError("tool_call needs at least one tool")
        by_name = {t.name: t for t in tools}
        if choice is not None and choice not in by_name:
            raise ValueError(f"choice {choice!r} is not one of {sorted(by_name)}")
        if choice is not None or len(tools) == 1:
            return await self._named_tool_call(
                messages, tool=by_name[choice or tools[0].name], max_tokens=max_tokens
            )
        return await self._chosen_tool_call(messages, tools=tools, max_tokens=max_tokens)

    async def _named_tool_call(
        self, messages: Sequence[Message], *, tool: Tool, max_tokens: int
    ) -> ToolCall:
        body = {
            "model": await self.model_name(),
            "messages": list(messages),
            "tools": [tool.as_openai()],
            "tool_choice": {"type": "function", "function": {"name": tool.name}},
            "max_tokens": max_tokens,
            "temperature": 0.0,
        }
        data = await self._post_or_get("POST", "/chat/completions", body)
        message = data["choices"][0]["message"]
        calls = message.get("tool_calls") or []
        if not calls:
            raise InvalidToolCall("the server returned no tool call", raw=json.dumps(message))
        function = calls[0]["function"]
        if function["name"] != tool.name:
            raise InvalidToolCall(f"called {function['name']!r}", raw=json.dumps(message))
        return ToolCall(
            name=tool.name,
            arguments=validate_arguments(tool, function["arguments"]),
            model=data.get("model") or await self.model_name(),
        )

    async def _chosen_tool_call(
        self, messages: Sequence[Message], *, tools: Sequence[Tool], max_tokens: int
    ) -> ToolCall:
        schema = choice_schema(tools)
        response_format: dict[str, Any]
        if self.server == "llama.cpp":
            response_format = {"type": "json_object", "schema": schema}
        else:
            response_format = {
                "type": "json_schema",
                "json_schema": {"name": "tool_call", "schema": schema, "strict": True},
            }
        catalogue = "\n".join(f"- {t.name}: {t.description}" for t in tools)
        instruction = {
            "role": "system",
            "content": "Answer with JSON naming one tool and its arguments. Tools:\n" + catalogue,
        }
        body = {
            "model": await self.model_name(),
            "messages": [instruction, *messages],
            "response_format": response_format,
            "max_tokens": max_tokens,
            "temperature": 0.0,
        }
        data = await self._post_or_get("POST", "/chat/completions", body)
        raw = data["choices"][0]["message"].get("content") or ""
        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InvalidToolCall(f"not JSON ({exc})", raw=raw) from exc
        name = parsed.get("tool") if isinstance(parsed, dict) else None
        if name not in {t.name for t in tools}:
            raise InvalidToolCall(f"unknown tool {name!r}", raw=raw)
        tool = next(t for t in tools if t.name == name)
        return ToolCall(
            name=name,
            arguments=validate_arguments(tool, json.dumps(parsed.get("arguments"))),
            model=data.get("model") or await self.model_name(),
        )


def _chat_delta(choice: dict[str, Any]) -> str:
    return str((choice.get("delta") or {}).get("content") or "")


def _completion_delta(choice: dict[str, Any]) -> str:
    return str(choice.get("text") or "")
