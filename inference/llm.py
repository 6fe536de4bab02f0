"""Async client for the region's OpenAI-compatible chat completions server (llama.cpp's
server here, ``vllm serve`` in production): streamed tokens and schema-constrained tool
calls.

Tool calls are never parsed out of free text: the server is made to emit JSON matching the
tool's parameter schema (a grammar in llama.cpp, guided decoding in vLLM), and the result is
validated again here, so even a 135M-parameter model yields calls that the agent can run.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import aiohttp
import jsonschema

Message = dict[str, Any]
# llama.cpp takes {"type": "json_object", "schema": S}; vLLM and OpenAI take
# {"type": "json_schema", "json_schema": {"name": ..., "schema": S}}.
StructuredOutput = Literal["llama.cpp", "openai"]


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
        structured_output: StructuredOutput = "llama.cpp",
        timeout: float = 60.0,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.structured_output = structured_output
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
                method, self.base_url + path, json=body, timeout=self.timeout
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
        return str(data.get("model") or await self.model_name())

    async def stream_chat(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = 256,
        temperature: float = 0.3,
        stop: Sequence[str] | None = None,
    ) -> AsyncIterator[str]:
        """Yield the assistant's reply as text deltas, as the server produces them."""
        body = {
            "model": await self.model_name(),
            "messages": list(messages),
            "stream": True,
            "max_tokens": max_tokens,
            "temperature": temperature,
            **({"stop": list(stop)} if stop else {}),
        }
        session = await self._http()
        try:
            async with session.post(
                self.base_url + "/chat/completions", json=body, timeout=self.timeout
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
                    delta = json.loads(payload)["choices"][0].get("delta", {})
                    if delta.get("content"):
                        yield delta["content"]
        except (aiohttp.ClientConnectionError, TimeoutError) as exc:
            raise LlmUnavailable(f"{self.base_url}: {exc}") from exc

    async def tool_call(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[Tool],
        choice: str | None = None,
        max_tokens: int = 256,
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
        if self.structured_output == "llama.cpp":
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
