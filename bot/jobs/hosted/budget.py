"""The class's daily budget of hosted jobs: every hosted call costs someone money, so a
student may run so many a day (instructors are not counted against it) and the class so
many in all (`CLASSBOT_HOSTED_DAILY_JOBS_PER_STUDENT` / `_PER_CLASS`, 0 = no limit).

The jobs table is the count: jobs created since midnight in the class's time zone, less
those cancelled before they started (they never called anything).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, not_, select

from bot.config import Settings
from bot.errors import UsageError
from bot.jobs.protocol import JobRequest
from bot.replies import Error
from bot.store import Store
from bot.store.models import Job


class DailyBudget:
    """Refuses a submission over the day's budget (the job service calls `check` first)."""

    def __init__(self, store: Store, settings: Settings, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.per_student = settings.hosted_daily_jobs_per_student
        self.per_class = settings.hosted_daily_jobs_per_class
        self.zone = ZoneInfo(settings.timezone)
        self.clock = clock

    def _day(self) -> tuple[datetime, datetime]:
        """Today's start and tomorrow's, in the class's time zone."""
        local = self.clock().astimezone(self.zone)
        start = datetime.combine(local.date(), time(), self.zone)
        return start, start + timedelta(days=1)

    async def _used(self, guild_pk: int, user_pk: int, since: datetime) -> tuple[int, int]:
        """(the class's jobs, the student's jobs) since `since`, in one query."""
        never_ran = and_(Job.state == "cancelled", Job.started_at.is_(None))
        mine = func.coalesce(func.sum(case((Job.user_id == user_pk, 1), else_=0)), 0)
        query = select(func.count(Job.id), mine).where(
            Job.guild_id == guild_pk, Job.created_at >= since, not_(never_ran)
        )
        async with self.store.session() as session:
            row = (await session.execute(query)).one()
        return int(row[0]), int(row[1])

    async def check(self, request: JobRequest) -> None:
        """Raise UsageError, saying when the count starts again, when the day's runs are used."""
        student = request.priority == 0
        if self.per_class or (student and self.per_student):
            start, tomorrow = self._day()
            reset = f"The count starts again at midnight ({tomorrow:%H:%M %Z})."
            in_class, used = await self._used(request.guild_pk, request.user_pk, start)
            if self.per_class and in_class >= self.per_class:
                raise UsageError(
                    Error(
                        what=f"This class has used its {self.per_class} hosted model runs "
                        "for today.",
                        todo=f"{reset} Your instructor can raise "
                        "CLASSBOT_HOSTED_DAILY_JOBS_PER_CLASS.",
                    )
                )
            if student and self.per_student and used >= self.per_student:
                raise UsageError(
                    Error(
                        what=f"You have used your {self.per_student} hosted model runs for today.",
                        todo=f"{reset} Until then, /search and the model pages still work.",
                    )
                )
