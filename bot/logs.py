"""Where log lines and library warnings go: stderr or a file, never stdout.

stdout belongs to the answers (the console prints them there, and transcripts of a lesson
are made by redirecting it). On an interactive console, stderr shares the screen with the
answers, so without a log file only warnings and errors are shown there.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bot.config import Settings

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
WORKER_FORMAT = "%(asctime)s %(levelname)s worker %(name)s: %(message)s"


@dataclass(frozen=True)
class WorkerLogging:
    """Where a model worker process started from this one sends its records: the same
    place, at the same level, as this process (setup_logging decides both)."""

    level: str = "WARNING"
    file: str | None = None


_for_workers = WorkerLogging()


def for_workers() -> WorkerLogging:
    return _for_workers


class Occasional:
    """A warning that every request would meet (a service away): logged once every
    `seconds`, not once per student."""

    def __init__(self, logger: logging.Logger, seconds: float = 60.0) -> None:
        self.logger, self.seconds = logger, seconds
        self._said_at = -seconds

    def warning(self, message: str, *args: object) -> None:
        if time.monotonic() - self._said_at >= self.seconds:
            self._said_at = time.monotonic()
            self.logger.warning(message, *args)


def setup_logging(settings: Settings, *, console: bool = False) -> logging.Handler:
    """Send every log record, and Python warnings from libraries, to one handler.

    `console`: the answers are read on this terminal; without CLASSBOT_LOG_FILE only
    warnings and errors reach stderr, so no chatter lands between a command and its answer.
    """
    if settings.log_file is not None:
        settings.log_file.parent.mkdir(parents=True, exist_ok=True)
    handler = _handler(settings.log_file, FORMAT)
    if settings.log_file is None and console:
        handler.setLevel(max(logging.WARNING, logging.getLevelName(settings.log_level)))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    global _for_workers
    # A worker shares this process's stderr (the console's screen) or log file.
    level = max(handler.level, logging.getLevelName(settings.log_level))
    file = str(settings.log_file) if settings.log_file is not None else None
    _for_workers = WorkerLogging(logging.getLevelName(level), file)
    # Library warnings (deprecations, tokenizer notices) become log records, not prints.
    logging.captureWarnings(True)
    if settings.log_level != "DEBUG":
        # Migration chatter on every start hides what matters.
        logging.getLogger("alembic").setLevel(logging.WARNING)
    return handler


def setup_worker_logging(where: WorkerLogging) -> None:
    """A worker process's logging: where and how much its bot's setup_logging chose."""
    handler = _handler(where.file, WORKER_FORMAT)
    logging.basicConfig(level=where.level, handlers=[handler], force=True)
    logging.captureWarnings(True)


# Notices of the model libraries that come again with every job and that the student's
# reply already explains: logger → a part of the message. Their other warnings stay.
REPEATED_NOTICES = {
    # "Token indices sequence length is longer than the specified maximum sequence length
    # (49 > 48)": the runners cut the input to the model's length, and the reply says so.
    "transformers.tokenization_utils_base": "Token indices sequence length is longer",
    # "`CLIPImageProcessor` requires torchvision (not installed); falling back to
    # `CLIPImageProcessorPil`": the PIL processor is the one meant (no torchvision here).
    "transformers.utils.import_utils": "requires torchvision (not installed)",
}


class _Without(logging.Filter):
    """Drops the records whose message holds `text`."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def filter(self, record: logging.LogRecord) -> bool:
        return self.text not in record.getMessage()


def quiet_model_libraries() -> None:
    """transformers' records through this process's handler, less REPEATED_NOTICES (a
    model worker's runtime calls it, once transformers is loaded).

    transformers prints its own ("[transformers] …") straight to stderr, past the log file
    and the level chosen: its default handler goes and its records propagate to ours.
    """
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_default_handler()
    transformers_logging.enable_propagation()
    for name, text in REPEATED_NOTICES.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, _Without) and f.text == text for f in logger.filters):
            logger.addFilter(_Without(text))


def _handler(file: Path | str | None, form: str) -> logging.Handler:
    """The log file when there is one, else stderr (never stdout: it holds the answers)."""
    handler: logging.Handler = (
        logging.FileHandler(file, encoding="utf-8")
        if file is not None
        else logging.StreamHandler(sys.stderr)
    )
    handler.setFormatter(logging.Formatter(form))
    return handler
