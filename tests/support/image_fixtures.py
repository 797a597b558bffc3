"""Session-scoped pytest fixtures for the tiny offline Stable Diffusion model.

Use from a test module with `from tests.support.image_fixtures import tiny_image_model`
(or list the module in a conftest's `pytest_plugins`). Built once per session: ~0.2 s.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.tiny_image_model import build_image_model


@pytest.fixture(scope="session")
def tiny_image_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder of a tiny random StableDiffusionPipeline (no safety checker), 64×64 native."""
    return build_image_model(tmp_path_factory.mktemp("tiny-sd") / "tiny-sd")


@pytest.fixture(scope="session")
def tiny_image_model_flagging(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Same model, shipped with a tiny real safety checker that flags every image."""
    path = tmp_path_factory.mktemp("tiny-sd-checked") / "tiny-sd-checked"
    return build_image_model(path, with_safety_checker=True, flag_everything=True)
