"""Mechanisms that keep a failing dependency from taking the assistant down with it.

Below the capabilities in the layer order, so model providers and tools share one breaker."""

from frontdesk.resilience.breaker import Breakers, BreakerState, CircuitBreaker

__all__ = ["BreakerState", "Breakers", "CircuitBreaker"]
