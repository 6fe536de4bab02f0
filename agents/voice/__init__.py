"""The per-call AI voice agent: the ``CallPipeline`` that listens (Silero VAD, turns,
ASR), thinks (LLM, tools) and speaks (TTS into the telephony player), recording every step
in the call's ledger stream (docs/adr/0010)."""
