"""Storage: SQLAlchemy models, tenant-scoped sessions, migrations and data access."""

from frontdesk.storage.db import Database

__all__ = ["Database"]
