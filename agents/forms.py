from __future__ import annotations

from typing import Any

from django import forms

from agents.catalog import LANGUAGES, LLM_MODELS, TOOLS, RegionOffer
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
    # Choices come from the tenant's region (catalog.region_offer), set in __init__.
    language = forms.ChoiceField(
        help_text="Only languages this region has a voice and speech recognition for."
    )
    voice = forms.ChoiceField()
    asr_model = forms.ChoiceField(label="Speech recognition")
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

    def __init__(self, *args: Any, offer: RegionOffer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.offer = offer
        choices = {
            "language": [(c, LANGUAGES[c]) for c in offer.languages],
            "voice": [(v.name, v.description) for v in offer.voices],
            "asr_model": [(m.name, m.description) for m in offer.asr_models],
        }
        for name, options in choices.items():
            field = self.fields[name]
            assert isinstance(field, forms.ChoiceField)
            field.choices = options
        # The untouched form must be one the region accepts: its first language, with a
        # voice speaking it and the fastest model understanding it.
        language = offer.default_language
        if language is not None and "language" not in self.initial:
            voice, asr = offer.voice_for(language), offer.asr_for(language)
            self.initial.update(
                language=language,
                voice=voice.name if voice else None,
                asr_model=asr.name if asr else None,
            )

    def clean(self) -> dict[str, Any] | None:
        if not self.offer.languages:
            raise forms.ValidationError(
                f"Region {self.offer.region} has no voice with speech recognition for the "
                "same language installed, so no agent can run there yet (see "
                "docs/adr/0005-inference-service.md for the model packages and directories)."
            )
        return super().clean()

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
