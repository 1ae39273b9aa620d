"""Storage: SQLAlchemy models, tenant-scoped sessions, migrations and data access."""

from frontdesk.storage import security_models as _security_models  # noqa: F401 (tables)
from frontdesk.storage.db import Database

__all__ = ["Database"]
