"""What every CLI command shares: consoles and turning errors into one readable line."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import SQLAlchemyError

from frontdesk.errors import FrontdeskError

T = TypeVar("T")

# emoji=False: rich would turn `nlu.yml:100:` (a file and line) into an emoji.
out = Console(emoji=False)
err = Console(stderr=True, emoji=False)


def fail(message: str, code: int = 1) -> typer.Exit:
    # escape: messages quote things like `frontdesk[voice]` that rich would take as markup
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def quiet_libraries() -> None:
    """Libraries' own warnings stay out of a command's output where frontdesk says the same
    thing in its words: pypdf logs "EOF marker not found" for a broken PDF that `kb ingest`
    already reports as `skipped: FILE: unreadable PDF (...)`."""
    logging.getLogger("pypdf").setLevel(logging.ERROR)


def friendly(func: Callable[..., T]) -> Callable[..., T]:
    """Turn frontdesk's own errors into one readable line instead of a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        quiet_libraries()
        try:
            return func(*args, **kwargs)
        except FrontdeskError as exc:
            raise fail(exc.message) from None
        except (SQLAlchemyError, ConnectionError) as exc:  # asyncpg raises ConnectionError
            raise fail(f"database error: {exc.__cause__ or exc}") from None
        except OSError as exc:
            raise fail(str(exc)) from None
        except KeyboardInterrupt:
            raise typer.Exit(130) from None

    return wrapper


async def tenant_for_cli(db: Any, settings: Any, slug: str, *, new: bool) -> Any:
    """The tenant a command acts for: the workspace's own, one configured under `tenants:`, one
    already in the database, or (with --new-tenant) a new one. A mistyped slug is refused
    rather than silently becoming a tenant nobody configured."""
    from frontdesk.storage.tenants import ensure_tenant, find_tenant

    configured = {settings.tenant, *settings.tenants}
    if slug not in configured and not new and await find_tenant(db, slug) is None:
        known = ", ".join(sorted(configured))
        raise FrontdeskError(
            f"no tenant {slug!r} in this workspace (known: {known}); check the slug, add it "
            "under `tenants:` in frontdesk.yaml, or pass --new-tenant to create it"
        )
    return await ensure_tenant(db, slug)
