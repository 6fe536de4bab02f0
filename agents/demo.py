"""The demo tenants' AI agents: what ``seed_demo`` attaches to each demo number.

Each is an ordinary agent (``agent_create``: versioned, ``agent.configured`` in the ledger)
answering the number through ``number_attach_agent``, so the console shows and edits it
like any other. Knowledge questions are phrased as callers ask them: the keyword router
(agents/voice/tools.py) answers a caller with an entry's answer, verbatim, when half of the
entry question's content words are in what they said.
"""

from __future__ import annotations

from agents.models import AgentConfig
from agents.services import agent_create
from agents.spec import AgentSpec, KnowledgeEntry
from calls.models import PhoneNumber
from calls.numbers import number_attach_agent
from callseal.tenancy.context import current_tenant
from callseal.tenancy.models import Membership

ACME_STORE = AgentSpec(
    name="Acme Store phone assistant",
    system_prompt=(
        "You are the phone assistant of Acme Store, an online shop for home and kitchen "
        "goods. Answer in one or two short sentences. Use only the facts you are given; "
        "when you do not know, offer to connect the caller to a colleague."
    ),
    greeting=(
        "Hello, thank you for calling Acme Store. I can help with orders, returns, "
        "shipping and our opening hours."
    ),
    knowledge=(
        KnowledgeEntry(
            "What are your opening hours?",
            "Our phone line is open from eight in the morning to eight in the evening, "
            "Monday to Saturday.",
        ),
        KnowledgeEntry(
            "Where is my order?",
            "You can track your order with the link in your shipping email. Orders leave "
            "our warehouse within one working day.",
        ),
        KnowledgeEntry(
            "How do I return an item?",
            "You can return any item within thirty days. Print the free return label from "
            "your account and drop the parcel at any post office.",
        ),
        KnowledgeEntry(
            "How long does shipping take?",
            "Standard shipping takes three to five working days, and express shipping "
            "takes one to two working days.",
        ),
        KnowledgeEntry(
            "When will I get my refund?",
            "Refunds reach your account within five working days after your return "
            "arrives at our warehouse.",
        ),
    ),
)

ACME_BIKES = AgentSpec(
    name="Acme Bikes workshop assistant",
    system_prompt=(
        "You are the phone assistant of Acme Bikes, a bicycle shop and repair workshop in "
        "Berlin. Answer in one or two short sentences. Use only the facts you are given; "
        "when you do not know, offer to connect the caller to a mechanic."
    ),
    greeting="Hello, this is Acme Bikes in Berlin. How can I help you with your bike?",
    knowledge=(
        KnowledgeEntry(
            "When is the workshop open?",
            "The workshop is open from ten in the morning to seven in the evening, Tuesday "
            "to Saturday.",
        ),
        KnowledgeEntry(
            "How do I book a repair?",
            "Book a repair on our website or just bring your bike in. Most repairs are "
            "ready within two days.",
        ),
        KnowledgeEntry(
            "How much does a bike service cost?",
            "A standard service costs forty nine euros, parts not included.",
        ),
        KnowledgeEntry(
            "Where is the shop?",
            "We are at Torstrasse twelve in Berlin Mitte, next to the Rosenthaler Platz "
            "underground station.",
        ),
        KnowledgeEntry(
            "Can I rent a bike?",
            "Yes, city bikes cost fifteen euros a day. Please bring an identity card.",
        ),
    ),
)

DEMO_AGENTS: dict[str, AgentSpec] = {"acme-us": ACME_STORE, "acme-eu": ACME_BIKES}


def demo_agent_seed(*, actor: Membership, phone_number: PhoneNumber) -> AgentConfig | None:
    """Attach the current tenant's demo agent to ``phone_number``, creating it (version 1)
    if the tenant has no agent of that name. Idempotent: a number that already has an
    agent keeps it (an admin's choice is not undone), and nothing is recorded."""
    spec = DEMO_AGENTS.get(current_tenant().slug)
    if spec is None or phone_number.agent_id is not None:
        return None
    agent = AgentConfig.objects.filter(
        tenant_id=current_tenant().id, name=spec.name
    ).first() or agent_create(actor=actor, spec=spec)
    number_attach_agent(actor=actor, number_id=phone_number.id, agent_id=agent.id)
    return agent
