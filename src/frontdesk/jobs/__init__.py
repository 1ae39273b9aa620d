"""Background jobs: an in-process runner over the `jobs` table (Celery at scale, later)."""

from frontdesk.jobs.runner import JobRunner

__all__ = ["JobRunner"]
