"""The conversation as the LLM sees it: the system prompt, a compressed summary of early
turns and the recent turns verbatim. Pure Python; rebuilt from the ledger on resumption.

Only what the caller heard of the agent's replies enters the context (``heard_text``), so
after a barge-in the model does not believe it said what was never played.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from callseal.ledger.events import RecordedEvent

# ~4 characters per token: SmolLM2 has a 4k context, and prompt evaluation costs on CPU
# grow with it, so long calls keep ~1.5k tokens of history.
DEFAULT_BUDGET_CHARS = 6000
KEEP_RECENT_TURNS = 6
SUMMARY_ITEM_CHARS = 120

REPLY_STYLE = (
    "You are speaking on the phone. Answer in one or two short sentences, plain words, no lists."
)


@dataclass(slots=True)
class Turn:
    role: str  # user | assistant
    text: str


@dataclass(slots=True)
class Conversation:
    system_prompt: str
    budget_chars: int = DEFAULT_BUDGET_CHARS
    turns: list[Turn] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)
    compressed_turns: int = 0

    def add(self, role: str, text: str) -> None:
        self.turns = _joined(self.turns, Turn(role=role, text=text))
        self.compress()

    def size(self) -> int:
        return (
            len(self.system_prompt)
            + sum(len(s) for s in self.summary)
            + sum(len(t.text) for t in self.turns)
        )

    def compress(self) -> None:
        """Fold the oldest turns into one-line summaries until the context fits; the
        summary itself keeps its newest lines within a quarter of the budget."""
        while self.size() > self.budget_chars and len(self.turns) > KEEP_RECENT_TURNS:
            oldest = self.turns.pop(0)
            who = "Caller" if oldest.role == "user" else "Agent"
            text = oldest.text
            if len(text) > SUMMARY_ITEM_CHARS:
                text = text[: SUMMARY_ITEM_CHARS - 1].rsplit(" ", 1)[0] + "…"
            self.summary.append(f"{who}: {text}")
            self.compressed_turns += 1
        while self.summary and sum(len(s) for s in self.summary) > self.budget_chars // 4:
            self.summary.pop(0)

    def messages(self, *, then: Turn | None = None) -> list[dict[str, Any]]:
        """The LLM's messages; ``then`` is a turn not added yet (the caller's words while
        the reply is prepared), placed where ``add`` would place it."""
        system = f"{self.system_prompt}\n{REPLY_STYLE}"
        if self.summary:
            system += "\nEarlier in this call:\n" + "\n".join(self.summary)
        turns = self.turns if then is None else _joined(self.turns, then)
        return [
            {"role": "system", "content": system},
            *({"role": t.role, "content": t.text} for t in turns),
        ]


def _joined(turns: list[Turn], turn: Turn) -> list[Turn]:
    """``turns`` with ``turn`` after them (new list; the old turns are not changed)."""
    text = turn.text.strip()
    if not text:
        return list(turns)
    if turns and turns[-1].role == turn.role:
        # Two caller turns in a row (the agent stayed silent): one message.
        return [*turns[:-1], Turn(role=turn.role, text=f"{turns[-1].text} {text}")]
    return [*turns, Turn(role=turn.role, text=text)]


@dataclass(slots=True)
class ResumedState:
    """What a new stream of the same call continues from."""

    agent_version: int | None = None
    greeted: bool = False
    turns: int = 0
    escalated: bool = False
    ended: bool = False
    history: list[Turn] = field(default_factory=list)


def resumed_state(events: Sequence[RecordedEvent]) -> ResumedState:
    """Read the call's events: the agent version it was assigned, whether it greeted,
    escalated or ended, and the conversation (caller text, agent heard text)."""
    state = ResumedState()
    for event in events:
        data = event.data
        if event.type == "call.agent_assigned":
            state.agent_version = int(data["agent_version"])
        elif event.type == "turn.caller":
            state.turns = max(state.turns, int(data["turn"]))
            # The raw words when stored (consent held) and readable (not ERASED), else
            # their redacted form.
            text = data["text"] if isinstance(data["text"], str) else ""
            text = text or data.get("redacted_text") or ""
            if text:
                state.history.append(Turn("user", text))
        elif event.type == "turn.agent":
            state.turns = max(state.turns, int(data["turn"]))
            if data["kind"] == "greeting":
                state.greeted = True
            heard = data["heard_text"] if isinstance(data["heard_text"], str) else ""
            if not heard and not data["interrupted"]:  # withheld raw text: all was heard
                heard = data.get("redacted_text") or ""
            if heard:
                state.history.append(Turn("assistant", heard))
        elif event.type == "call.escalated":
            state.escalated = True
        elif event.type == "tool.called" and data["name"] == "end_call":
            state.ended = True
    return state
