"""The agent's tools and how a turn picks one.

SmolLM2-135M (the CPU default) cannot reliably decide *whether* to call a tool, but with
schema-constrained decoding it reliably fills a tool's arguments. So by default the choice
is lexical (``keywords``: clear phrases for "a human", "goodbye", or a knowledge-base
question) and the LLM fills the arguments with a named, grammar-constrained tool call;
``CALLSEAL_AGENT_TOOL_ROUTING=llm`` lets a capable model (vLLM regions) choose among the
tools and a ``respond`` pseudo-tool itself (``inference.llm.choice_schema``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from agents.spec import KnowledgeEntry
from inference.llm import Tool

ESCALATE = Tool(
    name="escalate_to_human",
    description="Hand the call to a human colleague.",
    parameters={
        "type": "object",
        "properties": {"reason": {"type": "string", "maxLength": 200}},
        "required": ["reason"],
    },
)
END_CALL = Tool(
    name="end_call",
    description="End the call politely when the caller is done.",
    parameters={"type": "object", "properties": {}},
)
LOOKUP = Tool(
    name="lookup",
    description="Look up the answer to the caller's question in the knowledge base.",
    parameters={
        "type": "object",
        "properties": {"question": {"type": "string", "maxLength": 300}},
        "required": ["question"],
    },
)
COLLECT_PAYMENT = Tool(
    name="collect_payment",
    description=(
        "Take a card payment: the caller types the card details on the keypad while the "
        "recording and transcription are paused."
    ),
    parameters={"type": "object", "properties": {}},
)
RESPOND = Tool(
    name="respond",
    description="Answer the caller yourself.",
    parameters={"type": "object", "properties": {}},
)
TOOLS = {t.name: t for t in (ESCALATE, END_CALL, LOOKUP, COLLECT_PAYMENT)}

_HUMAN = re.compile(
    r"\b(human|real person|a person|someone real|representative|operator|"
    r"speak to (an? )?(agent|manager|somebody|someone)|talk to (an? )?(agent|manager|"
    r"somebody|someone))\b",
    re.IGNORECASE,
)
_BYE = re.compile(
    r"\b(good ?bye|bye|hang up|that'?s all|that is all|nothing else)\b", re.IGNORECASE
)
_PAY = re.compile(
    r"\b(pay|paying|payment|pay (my|the) (bill|invoice|balance)|make a payment|"
    r"pay by (card|credit card|debit card))\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[a-z0-9']+")
_STOP_WORDS = (
    "a an the is are was were do does did i you we my your our to of in on at for and "
    "or what when where how can could would will it this that me please with"
)
_STOP = frozenset(_STOP_WORDS.split())
LOOKUP_MIN_OVERLAP = 0.5


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


def best_entry(
    question: str, knowledge: Sequence[KnowledgeEntry]
) -> tuple[KnowledgeEntry | None, float]:
    """The entry whose question shares the most content words with ``question`` (the
    share of the entry's words found), and that share."""
    asked = _words(question)
    best, score = None, 0.0
    for entry in knowledge:
        words = _words(entry.question)
        if not words:
            continue
        overlap = len(asked & words) / len(words)
        if overlap > score:
            best, score = entry, overlap
    return best, score


@dataclass(frozen=True, slots=True)
class Route:
    tool: str | None  # None: an ordinary LLM reply


def route_by_keywords(
    text: str, *, tools: Sequence[str], knowledge: Sequence[KnowledgeEntry]
) -> Route:
    if "escalate_to_human" in tools and _HUMAN.search(text):
        return Route("escalate_to_human")
    if "end_call" in tools and _BYE.search(text):
        return Route("end_call")
    if "collect_payment" in tools and _PAY.search(text):
        return Route("collect_payment")
    if "lookup" in tools and knowledge:
        _, score = best_entry(text, knowledge)
        if score >= LOOKUP_MIN_OVERLAP:
            return Route("lookup")
    return Route(None)
