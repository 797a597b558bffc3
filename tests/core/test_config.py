from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.config import ConfigError, Settings, env_name, load_settings

REPO = Path(__file__).resolve().parents[2]


def test_lists_read_from_comma_separated_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLASSBOT_INSTRUCTORS", "alice, U123 ,bob")
    assert load_settings(_env_file=None).instructors == ["alice", "U123", "bob"]


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CLASSBOT_DEVICE", "gpu"),
        ("CLASSBOT_DATABASE_URL", "mysql://x"),
        ("CLASSBOT_RATE_LIMIT_PER_MINUTE", "0"),
        ("CLASSBOT_MAX_MODEL_PARAMS", "lots"),
    ],
)
def test_bad_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=variable):
        load_settings(_env_file=None)


def test_tokens_use_the_platform_names_and_are_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "abc.def")
    settings = load_settings(_env_file=None)
    assert settings.discord_token is not None
    assert settings.discord_token.get_secret_value() == "abc.def"
    assert "abc.def" not in repr(settings)


def test_env_example_documents_every_setting() -> None:
    text = (REPO / ".env.example").read_text()
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE))
    expected = {env_name(field) for field in Settings.model_fields}
    assert expected <= documented, expected - documented
    # Every variable has a comment line right above it.
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^#?\s*[A-Z][A-Z0-9_]+=", line):
            assert i > 0 and lines[i - 1].startswith("#"), line
