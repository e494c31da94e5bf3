"""Prompts: their texts (configs/prompts/<lang>.yaml) and their audio (ivr/prompts/<lang>/)."""

from ivr.prompts.audio import (
    PromptAudioError,
    load_all_prompt_audio,
    load_prompt_audio,
)
from ivr.prompts.catalog import (
    REQUIRED_PROMPTS,
    PromptCatalog,
    PromptFile,
    confirmation_prompt_id,
    load_prompt_catalog,
    load_prompt_file,
    transfer_prompt_id,
)

__all__ = [
    "REQUIRED_PROMPTS",
    "PromptAudioError",
    "PromptCatalog",
    "PromptFile",
    "confirmation_prompt_id",
    "load_all_prompt_audio",
    "load_prompt_audio",
    "load_prompt_catalog",
    "load_prompt_file",
    "transfer_prompt_id",
]
