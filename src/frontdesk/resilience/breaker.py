"""A circuit breaker per dependency (a model provider, a tool): after `failures` failed calls
in a row it opens and the dependency is skipped; after `reset_s` one probe call is let
through (half-open). A success closes it, a failure opens it again for another `reset_s`."""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


# Told of each change of state: (old, new). The router logs when a model is skipped and when
# it answers again.
OnChange = Callable[[BreakerState, BreakerState], None]


class CircuitBreaker:
    def __init__(
        self,
        *,
        failures: int = 3,
        reset_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        on_change: OnChange | None = None,
    ) -> None:
        self.threshold = failures
        self.reset_s = reset_s
        self.clock = clock
        self.on_change = on_change
        self._state = BreakerState.CLOSED
        self.failures = 0
        self.opened_at = 0.0
        self._probing = False

    @property
    def state(self) -> BreakerState:
        return self._state

    @state.setter
    def state(self, new: BreakerState) -> None:
        old, self._state = self._state, new
        if old is not new and self.on_change is not None:
            self.on_change(old, new)

    def allow(self) -> bool:
        if self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.OPEN:
            if self.clock() - self.opened_at < self.reset_s:
                return False
            self.state = BreakerState.HALF_OPEN
            self._probing = False
        if self._probing:  # half-open: one probe at a time
            return False
        self._probing = True
        return True

    def release(self) -> None:
        """A call `allow` let through was not made after all: let the next one probe."""
        self._probing = False

    def record_success(self) -> None:
        self.state = BreakerState.CLOSED
        self.failures = 0
        self._probing = False

    def record_failure(self) -> None:
        self._probing = False
        if self.state is BreakerState.HALF_OPEN:
            self._open()
            return
        self.failures += 1
        if self.failures >= self.threshold:
            self._open()

    def retry_in(self) -> float:
        """Seconds until an open breaker lets a probe through (0 when it would now)."""
        if self.state is not BreakerState.OPEN:
            return 0.0
        return max(0.0, self.reset_s - (self.clock() - self.opened_at))

    def _open(self) -> None:
        self.state = BreakerState.OPEN
        self.opened_at = self.clock()


class Breakers:
    """One breaker per name (provider or tool), created on first use. `on_change` is told of
    each breaker's changes with its name."""

    def __init__(
        self,
        *,
        failures: int = 3,
        reset_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[str, BreakerState, BreakerState], None] | None = None,
    ) -> None:
        self.failures = failures
        self.reset_s = reset_s
        self.clock = clock
        self.on_change = on_change
        self._by_name: dict[str, CircuitBreaker] = {}

    def __getitem__(self, name: str) -> CircuitBreaker:
        breaker = self._by_name.get(name)
        if breaker is None:
            told = self.on_change
            breaker = CircuitBreaker(
                failures=self.failures,
                reset_s=self.reset_s,
                clock=self.clock,
                on_change=(lambda old, new: told(name, old, new)) if told else None,
            )
            self._by_name[name] = breaker
        return breaker

    def states(self) -> dict[str, str]:
        return {name: b.state.value for name, b in sorted(self._by_name.items())}
