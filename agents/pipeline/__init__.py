"""The per-call pipeline's stages that need no telephony: each is fed frames and returns
what it produced, so it can be tested alone (docs/adr/0005)."""
