"""The regional inference service (ASR, TTS, LLM client). It never imports the Django ORM."""
