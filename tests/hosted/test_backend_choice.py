"""CLASSBOT_BACKEND=auto: local with a GPU, else hosted when a token or URL is set, else
local with one warning at start."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.config import ConfigError, load_settings
from bot.inference.guard import ModelGuard
from bot.inference.hosted.backend import choose_backend
from bot.inference.hosted.guard import HostedGuard
from bot.jobs.hosted.link import HostedLink
from tests.support.botdriver import running_bot, settings_for_tests


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"device": "cuda", "hf_token": "hf_x"}, "local"),
        ({"device": "cpu", "hf_token": "hf_x"}, "hf"),
        ({"device": "cpu", "openai_base_url": "http://gpu-box:8000/v1"}, "openai"),
        ({"device": "cpu"}, "local"),
        ({"device": "cuda", "backend": "hf", "hf_token": "hf_x"}, "hf"),
        ({"device": "cpu", "hf_token": "hf_x", "backend": "local"}, "local"),
    ],
)
def test_auto_picks_the_backend(tmp_path: Path, values: dict[str, str], expected: str) -> None:
    assert choose_backend(settings_for_tests(tmp_path, **values)) == expected


async def test_a_cpu_bot_without_token_warns_once_and_runs_locally(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    async with running_bot(settings_for_tests(tmp_path, device="cpu")) as bot:
        assert type(bot.app.services.guard) is ModelGuard
        await bot.run("/help")
    warned = [r for r in caplog.records if "HF_TOKEN" in r.getMessage()]
    assert len(warned) == 1


async def test_a_cpu_bot_with_a_token_runs_hosted(tmp_path: Path) -> None:
    settings = settings_for_tests(tmp_path, device="cpu", hf_token=SecretStr("hf_x"))
    async with running_bot(settings) as bot:
        assert isinstance(bot.app.services.guard, HostedGuard)
        assert bot.app.services.settings.backend == "hf"
        await bot.app.start()
        links = bot.app.queue.pool.links if bot.app.queue.pool else []
        assert links and all(isinstance(link, HostedLink) for link in links)


def test_a_hosted_backend_without_its_credentials_stops_the_bot_at_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("HF_TOKEN", "CLASSBOT_HF_TOKEN", "CLASSBOT_OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="CLASSBOT_BACKEND=hf needs HF_TOKEN"):
        load_settings(_env_file=None, backend="hf")
    with pytest.raises(ConfigError, match="needs CLASSBOT_OPENAI_BASE_URL"):
        load_settings(_env_file=None, backend="openai")
