"""Layer: serving. What a served model shares (raw-text inputs, pinned packages) and batch scoring
of dropped files with ``@champion``."""

from pipeline.serving.inputs import (
    TEXT_COLUMN,
    BadServingInput,
    StatelessPickle,
    as_texts,
    pinned_requirements,
)

__all__ = ["TEXT_COLUMN", "BadServingInput", "StatelessPickle", "as_texts", "pinned_requirements"]
