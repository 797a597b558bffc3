"""Persistence: SQLAlchemy models, repository functions, and the Store connection."""

from bot.store.db import Store

__all__ = ["Store"]
