"""The class's daily budget of hosted jobs: every hosted call costs someone money, so a
student may run so many a day (instructors are not counted against it) and the class so
many in all (`CLASSBOT_HOSTED_DAILY_JOBS_PER_STUDENT` / `_PER_CLASS`, 0 = no limit).

The jobs table is the count: jobs created since midnight in the class's time zone, less
those cancelled before they started (they never called anything). The count is checked in
the statement that inserts the job (bot/jobs/records.py: enqueue), so a class submitting at
once cannot pass the cap together.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.config import Settings
from bot.errors import UsageError
from bot.jobs.protocol import CapReached, DailyCap, JobRequest
from bot.replies import Error


class DailyBudget:
    """Puts the day's cap on hosted submissions, and says plainly when it is used."""

    def __init__(self, settings: Settings, clock: Callable[[], datetime]) -> None:
        self.per_student = settings.hosted_daily_jobs_per_student
        self.per_class = settings.hosted_daily_jobs_per_class
        self.zone = ZoneInfo(settings.timezone)
        self.clock = clock

    def _day(self) -> tuple[datetime, datetime]:
        """Today's start and tomorrow's, in the class's time zone."""
        local = self.clock().astimezone(self.zone)
        start = datetime.combine(local.date(), time(), self.zone)
        return start, start + timedelta(days=1)

    def cap(self, request: JobRequest) -> DailyCap | None:
        """Today's cap for this submission; instructors' jobs count only for the class."""
        per_student = self.per_student if request.priority == 0 else 0
        if not (self.per_class or per_student):
            return None
        return DailyCap(since=self._day()[0], per_class=self.per_class, per_student=per_student)

    def refusal(self, reached: CapReached) -> UsageError:
        """What to tell whoever met the cap, and when the count starts again."""
        _, tomorrow = self._day()
        reset = f"The count starts again at midnight ({tomorrow:%H:%M %Z})."
        if reached.whose == "class":
            return UsageError(
                Error(
                    what=f"This class has used its {reached.cap} hosted model runs for today.",
                    todo=f"{reset} Your instructor can raise CLASSBOT_HOSTED_DAILY_JOBS_PER_CLASS.",
                )
            )
        return UsageError(
            Error(
                what=f"You have used your {reached.cap} hosted model runs for today.",
                todo=f"{reset} Until then, /search and the model pages still work.",
            )
        )
