from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.config import ConfigError, Settings, env_name, load_settings, unknown_settings
from bot.store.db import Store, async_url

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


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("CLASSBOT_SLACK_PREFIX", "HF-", "use up to 20 lowercase letters, digits, - or _"),
        ("CLASSBOT_TORCH_THREADS", "four", "valid integer"),
        ("CLASSBOT_DATABASE_URL", "sqlite:/x.db", "not a database URL: write sqlite:///"),
        ("CLASSBOT_TIMEZONE", "Paris", ": use an IANA time zone"),  # no "Value error, "
    ],
)
def test_bad_values_say_what_to_write(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, said: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as refused:
        load_settings(_env_file=None)
    assert f"{variable}: " in str(refused.value) and said in str(refused.value)
    assert "Value error" not in str(refused.value) and "^(" not in str(refused.value)


def test_a_misspelt_variable_is_named_with_the_setting_meant(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("CLASSBOT_RATE_LIMIT_BURTS=3\nCLASSBOT_TIMEZONE=UTC\n")
    environ = {
        "CLASSBOT_TIMEZOME": "Europe/Paris",
        "CLASSBOT_DISCORD_TOKEN": "x",  # another name of DISCORD_TOKEN
        "CLASSBOT_HUBDATA": "/data",  # the benches'
        "HOME": "/root",
    }
    assert unknown_settings(environ, env_file) == [
        "CLASSBOT_RATE_LIMIT_BURTS is not a setting, so it is ignored."
        " Did you mean CLASSBOT_RATE_LIMIT_BURST?",
        "CLASSBOT_TIMEZOME is not a setting, so it is ignored. Did you mean CLASSBOT_TIMEZONE?",
    ]


async def test_a_database_that_cannot_be_opened_says_what_to_fix(tmp_path: Path) -> None:
    missing = tmp_path / "no such folder" / "classbot.db"
    store = Store(f"sqlite:///{missing}")
    with pytest.raises(ConfigError) as refused:
        await store.upgrade()
    await store.engine.dispose()
    assert str(refused.value) == (
        f"CLASSBOT_DATABASE_URL: cannot open the SQLite file {missing} (unable to open database"
        f" file). Check that the folder {missing.parent} exists and this user may write in it."
    )
    closed = Store("postgresql://postgres@127.0.0.1:1/test")
    with pytest.raises(ConfigError) as refused:
        await closed.upgrade()
    await closed.engine.dispose()
    assert str(refused.value).startswith("CLASSBOT_DATABASE_URL: nothing answers at 127.0.0.1:1")
    assert str(refused.value).endswith("Start PostgreSQL there, or fix the host and port.")


def test_a_hosted_postgresql_url_keeps_its_sslmode() -> None:
    url = async_url("postgresql://ana@db.example.org/class?sslmode=require")
    assert url == "postgresql+asyncpg://ana@db.example.org/class?ssl=require"


async def test_a_missing_postgresql_database_is_named_with_how_to_make_it(
    postgres_url: str,
) -> None:
    missing = postgres_url.rsplit("/", 1)[0] + "/classbot_never_made"
    store = Store(missing)
    with pytest.raises(ConfigError) as refused:
        await store.upgrade()
    await store.engine.dispose()
    assert str(refused.value) == (
        "CLASSBOT_DATABASE_URL: there is no database classbot_never_made on 127.0.0.1:5432."
        " Create it (createdb -h 127.0.0.1 classbot_never_made) or fix the name."
    )
