from __future__ import annotations

from typing import Any

from django import forms

from agents.catalog import ASR_MODELS, LANGUAGES, LLM_MODELS, TOOLS, VOICES
from agents.spec import END_OF_SPEECH_MS, LIMITS, MAX_CALL_SECONDS, AgentSpec, KnowledgeEntry


class AgentForm(forms.Form):
    name = forms.CharField(max_length=LIMITS["name"])
    system_prompt = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}), max_length=LIMITS["system_prompt"]
    )
    greeting = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=LIMITS["greeting"],
        help_text="The first words the caller hears.",
    )
    language = forms.ChoiceField(choices=sorted(LANGUAGES.items()))
    voice = forms.ChoiceField(choices=[(v.name, v.description) for v in VOICES.values()])
    asr_model = forms.ChoiceField(
        label="Speech recognition", choices=[(m.name, m.description) for m in ASR_MODELS.values()]
    )
    llm_model = forms.ChoiceField(label="Language model", choices=sorted(LLM_MODELS.items()))
    end_of_speech_ms = forms.IntegerField(
        label="End-of-speech silence (ms)",
        min_value=END_OF_SPEECH_MS[0],
        max_value=END_OF_SPEECH_MS[1],
        initial=600,
        help_text="How long the caller must be silent before the agent answers.",
    )
    max_call_seconds = forms.IntegerField(
        label="Maximum call length (s)",
        min_value=MAX_CALL_SECONDS[0],
        max_value=MAX_CALL_SECONDS[1],
        initial=900,
    )
    tools = forms.MultipleChoiceField(
        choices=sorted(TOOLS.items()), required=False, widget=forms.CheckboxSelectMultiple
    )
    knowledge = forms.CharField(
        label="Knowledge base",
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="One entry per line: question | answer",
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=0)

    def clean_knowledge(self) -> tuple[KnowledgeEntry, ...]:
        entries = []
        errors = []
        for number, line in enumerate(self.cleaned_data["knowledge"].splitlines(), start=1):
            if not line.strip():
                continue
            question, sep, answer = line.partition("|")
            if not sep or not question.strip() or not answer.strip():
                errors.append(f"line {number}: write it as 'question | answer'.")
                continue
            entries.append(KnowledgeEntry(question=question.strip(), answer=answer.strip()))
        if errors:
            raise forms.ValidationError(errors)
        return tuple(entries)

    def spec(self) -> AgentSpec:
        data = self.cleaned_data
        return AgentSpec(
            name=data["name"],
            system_prompt=data["system_prompt"],
            greeting=data["greeting"],
            language=data["language"],
            voice=data["voice"],
            asr_model=data["asr_model"],
            llm_model=data["llm_model"],
            end_of_speech_ms=data["end_of_speech_ms"],
            max_call_seconds=data["max_call_seconds"],
            tools=tuple(data["tools"]),
            knowledge=data["knowledge"],
        )

    @staticmethod
    def initial_from(spec: dict[str, Any], version: int) -> dict[str, Any]:
        initial = dict(spec)
        initial["knowledge"] = "\n".join(
            f"{k['question']} | {k['answer']}" for k in spec.get("knowledge", [])
        )
        initial["version"] = version
        return initial
