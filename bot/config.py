"""One typed settings object, read from the environment and `.env` (prefix `CLASSBOT_`).

Every field here is documented in `.env.example`; a test keeps the two in step.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values
from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError


class ConfigError(Exception):
    """A setting has a bad value; the message names the environment variable."""


def _split_list(value: object) -> object:
    # "a, b,c" in the environment reads as a list; JSON lists still work.
    if isinstance(value, str) and not value.strip().startswith("["):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


# What a setting's pattern asks for, where pydantic would show the regular expression.
_PATTERNS = {
    "slack_command": "use up to 31 lowercase letters, digits, - or _, the first a letter or digit",
    "slack_prefix": "use up to 20 lowercase letters, digits, - or _, the first a letter or digit"
    " (or leave it empty)",
    "hf_provider": "use a provider's name in lowercase letters, digits and - (or auto)",
}


# /imagine's sizes (bot/inference/image_limits.py, which this low layer cannot import; a test
# keeps the two in step): the image core makes squares whose side is a multiple of 64, from
# 64 to 1024. The class menu offers 256, 384, 512 and 768.
IMAGE_SIZE_STEP, IMAGE_SIZE_MAX = 64, 1024


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CLASSBOT_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    database_url: str = "sqlite:///./classbot.db"
    text_model: str = "EleutherAI/gpt-neo-125m"
    image_model: str = "stabilityai/sd-turbo"
    # /run task:<task>'s class default per text task (a Hub repo id or a local directory).
    text_classification_model: str = "distilbert/distilbert-base-uncased-finetuned-sst-2-english"
    token_classification_model: str = "dslim/bert-base-NER"
    fill_mask_model: str = "distilbert/distilroberta-base"
    question_answering_model: str = "distilbert/distilbert-base-cased-distilled-squad"
    summarization_model: str = "sshleifer/distilbart-cnn-6-6"
    translation_model: str = "Helsinki-NLP/opus-mt-en-fr"
    text_to_text_generation_model: str = "google/flan-t5-small"
    zero_shot_classification_model: str = "typeform/distilbert-base-uncased-mnli"
    sentence_similarity_model: str = "sentence-transformers/all-MiniLM-L6-v2"
    # /run task:<task>'s class default per audio and image task (the file is the input).
    automatic_speech_recognition_model: str = "facebook/wav2vec2-base-960h"
    audio_classification_model: str = "MIT/ast-finetuned-audioset-10-10-0.4593"
    image_classification_model: str = "google/vit-base-patch16-224"
    object_detection_model: str = "hustvl/yolos-tiny"
    image_to_text_model: str = "nlpconnect/vit-gpt2-image-captioning"
    # The largest /imagine size (0 = auto: 768 on a GPU, 512 on CPU): a size the image core
    # makes, as students are told it is the limit.
    image_max_size: int = 0
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    max_model_params: int = Field(default=0, ge=0)
    # Instructor's lists of Hub repo ids (fnmatch patterns such as "EleutherAI/*"): with an
    # allow-list only those models run; the deny-list always wins.
    model_allowlist: Annotated[list[str], NoDecode] = Field(default_factory=list)
    model_denylist: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Loaded models stay in memory (least recently used leave first) up to this; 0 = auto.
    model_memory_budget_mb: int = Field(default=0, ge=0)
    instructors: Annotated[list[str], NoDecode] = Field(default_factory=list)
    instructor_role: str = "Instructor"
    # Discord: only members with this role count as students in rosters ("" = every member
    # who is not an instructor or a bot).
    student_role: str = ""

    rate_limit_per_minute: int = Field(default=20, ge=1)
    rate_limit_burst: int = Field(default=5, ge=1)
    max_queued_jobs_per_user: int = Field(default=3, ge=1)

    # Activities: deadlines are shown in this zone; reminders go this many minutes before
    # the deadline (the short lead for activities under 15 minutes; 0 = no reminder).
    timezone: str = "UTC"
    activity_reminder_minutes: int = Field(default=5, ge=0, le=180)
    activity_short_reminder_minutes: int = Field(default=1, ge=0, le=180)

    datasets_server_url: str = "https://datasets-server.huggingface.co"
    hub_cache_seconds: float = Field(default=300.0, ge=0)
    # One Hub or dataset viewer request gives up after this (the student gets a clear reply).
    hub_timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    redis_url: str = "redis://127.0.0.1:6379/0"
    queue_backend: Literal["embedded", "rq"] = "embedded"
    # The RQ queue the bots and `classbot worker` share (several classes on one Redis).
    rq_queue: str = Field(default="classbot-inference", min_length=1)
    # A `classbot worker`'s torch threads (default: the machine's cores shared among the
    # workers on it).
    torch_threads: int | None = Field(default=None, ge=1)
    # Jobs for the same model run together in one batched call, up to this many.
    max_batch_size: int = Field(default=8, ge=1, le=64)
    # A running job's lease; a job whose bot died is retried after it expires.
    job_lease_seconds: float = Field(default=60.0, ge=5)

    # Where models run (bot/inference/hosted/backend.py): local worker processes, Hugging
    # Face Inference Providers (hf), or an OpenAI-compatible server (openai); auto picks.
    backend: Literal["auto", "local", "hf", "openai"] = "auto"
    hf_provider: str = Field(default="auto", pattern=r"^[a-z0-9-]+$")
    hf_bill_to: str = ""
    openai_base_url: str = ""
    openai_api_key: SecretStr | None = None
    # The Inference Providers' router ({provider} is appended as a path segment).
    inference_url: str = "https://router.huggingface.co"
    # Hosted calls in flight at once, and how long one may take.
    hosted_concurrency: int = Field(default=64, ge=1, le=512)
    hosted_timeout_seconds: float = Field(default=120.0, gt=0, le=600)
    # The class budget of hosted jobs per day (0 = no limit): per student, and for the class.
    hosted_daily_jobs_per_student: int = Field(default=50, ge=0)
    hosted_daily_jobs_per_class: int = Field(default=1000, ge=0)

    discord_api_url: str = "https://discord.com/api/v10"
    # The privileged Server Members intent (enable it in the Developer Portal first): lets
    # rosters list a server's students.
    discord_members_intent: bool = False
    slack_api_url: str = "https://slack.com/api/"
    # Slack commands live under one namespace: one command (`/classbot search gpt`) or,
    # with a prefix, one command each (`/hf-search gpt`). The prefix wins when both are set;
    # both empty = bare names (`/search`), only for a workspace of the class's own.
    slack_command: str = Field(default="classbot", pattern=r"^([a-z0-9][a-z0-9_-]{0,30})?$")
    slack_prefix: str = Field(default="", pattern=r"^([a-z0-9][a-z0-9_-]{0,19})?$")

    out_dir: Path = Path("./classbot-out")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Log lines and library warnings go here (appended); unset = stderr. stdout only ever
    # holds answers.
    log_file: Path | None = None

    # Platform tokens keep the names the platforms' own docs use.
    discord_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("DISCORD_TOKEN", "CLASSBOT_DISCORD_TOKEN")
    )
    slack_bot_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("SLACK_BOT_TOKEN", "CLASSBOT_SLACK_BOT_TOKEN")
    )
    slack_app_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("SLACK_APP_TOKEN", "CLASSBOT_SLACK_APP_TOKEN")
    )
    slack_signing_secret: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("SLACK_SIGNING_SECRET", "CLASSBOT_SLACK_SIGNING_SECRET"),
    )
    hf_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("HF_TOKEN", "CLASSBOT_HF_TOKEN")
    )

    _split_instructors = field_validator("instructors", mode="before")(_split_list)
    _split_model_lists = field_validator("model_allowlist", "model_denylist", mode="before")(
        _split_list
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("use an IANA time zone such as UTC or Europe/Paris") from None
        return value

    @field_validator("image_max_size")
    @classmethod
    def _image_size(cls, value: int) -> int:
        if value == 0 or (0 < value <= IMAGE_SIZE_MAX and value % IMAGE_SIZE_STEP == 0):
            return value
        raise ValueError(
            f"use 0 (auto) or a multiple of {IMAGE_SIZE_STEP} up to {IMAGE_SIZE_MAX}, "
            "such as 256, 384, 512 or 768"
        )

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        usage = "sqlite:///path/to/classbot.db or postgresql://user@host:5432/name"
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError(f"use a sqlite:/// or postgresql:// URL ({usage})")
        try:
            make_url(value)
        except ArgumentError:
            raise ValueError(f"this is not a database URL: write {usage}") from None
        return value

    @model_validator(mode="after")
    def _backend_has_what_it_needs(self) -> Settings:
        if self.backend == "hf" and self.hf_token is None:
            raise ValueError("CLASSBOT_BACKEND=hf needs HF_TOKEN (a Hugging Face token)")
        if self.backend == "openai" and not self.openai_base_url:
            raise ValueError(
                "CLASSBOT_BACKEND=openai needs CLASSBOT_OPENAI_BASE_URL "
                "(e.g. http://gpu-box:8000/v1)"
            )
        return self


def env_name(field: str) -> str:
    """The environment variable that sets a field, as a user would type it."""
    info = Settings.model_fields[field]
    alias = info.validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return f"CLASSBOT_{field.upper()}"


# CLASSBOT_ variables that are not the bot's settings: read by the benches and tests.
NOT_SETTINGS = frozenset({"CLASSBOT_HUBDATA"})


def unknown_settings(environ: Mapping[str, str], env_file: Path = Path(".env")) -> list[str]:
    """A line for each CLASSBOT_ variable (in the environment or .env) that no setting
    reads: a misspelt name is otherwise ignored without a word."""
    known = set(NOT_SETTINGS)
    for field, info in Settings.model_fields.items():
        alias = info.validation_alias
        names = alias.choices if isinstance(alias, AliasChoices) else [env_name(field)]
        known.update(str(name) for name in names)
    given = set(environ) | (set(dotenv_values(env_file)) if env_file.is_file() else set())
    lines = []
    for name in sorted(n for n in given if n.upper().startswith("CLASSBOT_")):
        if name.upper() in known:
            continue
        close = difflib.get_close_matches(name.upper(), sorted(known), n=1, cutoff=0.8)
        hint = f" Did you mean {close[0]}?" if close else ""
        lines.append(f"{name} is not a setting, so it is ignored.{hint}")
    return lines


def load_settings(**overrides: object) -> Settings:
    """Read the settings; a bad value becomes a ConfigError naming its variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        problems = []
        for item in error.errors():
            if not item["loc"]:  # a rule across settings: its message names them
                problems.append(str(item["msg"]).removeprefix("Value error, "))
                continue
            field = str(item["loc"][0])
            name = env_name(field) if field in Settings.model_fields else field
            shown = "" if "token" in field or "secret" in field else f" (got {item.get('input')!r})"
            said = str(item["msg"]).removeprefix("Value error, ")
            if item["type"] == "string_pattern_mismatch":
                said = _PATTERNS.get(field, said)
            problems.append(f"{name}: {said}{shown}")
        raise ConfigError("Bad configuration:\n  " + "\n  ".join(problems)) from None
