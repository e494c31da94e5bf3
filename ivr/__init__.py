"""The caller-facing side: IVR dialog, prompts and triage (pure, no I/O)."""
