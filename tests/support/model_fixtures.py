"""Session-scoped pytest fixtures that build tiny local models once per test run.

Use from a conftest.py or a test module with
`from tests.support.model_fixtures import tiny_text_model` (pytest finds imported fixtures by name).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.tiny_models import build_text_model

__all__ = ["tiny_text_model"]


@pytest.fixture(scope="session")
def tiny_text_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder with a tiny random GPT-Neo + byte-level BPE tokenizer (safetensors)."""
    return build_text_model(tmp_path_factory.mktemp("tiny-text-model"))
