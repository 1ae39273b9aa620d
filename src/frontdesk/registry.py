"""One registry mechanism for every replaceable part: name -> factory.

Built-ins register exactly like plugins: through the `frontdesk` entry-point group, whose
objects are called with the `Registries` to fill. Config names parts by string
("extractive", "openai:gpt-4o-mini"); the part before ':' picks the factory and the rest is
passed to it as `model`.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from frontdesk.errors import ConfigError, UnknownComponentError

T = TypeVar("T")

ENTRY_POINT_GROUP = "frontdesk"


class Registry(Generic[T]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._factories: dict[str, Callable[..., T]] = {}

    def register(self, name: str, factory: Callable[..., T]) -> None:
        if name in self._factories:
            raise ConfigError(f"{self.kind} {name!r} is registered twice")
        self._factories[name] = factory

    def names(self) -> list[str]:
        return sorted(self._factories)

    def create(self, spec: str, **kwargs: Any) -> T:
        name, _, model = spec.partition(":")
        factory = self._factories.get(name)
        if factory is None:
            raise UnknownComponentError(self.kind, name, list(self._factories))
        if model:
            kwargs["model"] = model
        return factory(**kwargs)


class Registries:
    """The registries a plugin's `register(registries)` function may fill."""

    def __init__(self) -> None:
        self.chat_models: Registry[Any] = Registry("chat model")
        self.intent_classifiers: Registry[Any] = Registry("intent classifier")
        self.retrievers: Registry[Any] = Registry("retriever")
        self.guards: Registry[Any] = Registry("guard")
        self.embedders: Registry[Any] = Registry("embedder")
        self.transcribers: Registry[Any] = Registry("transcriber")
        self.targets: Registry[Any] = Registry("target system")  # ops: `folder:`, `http:`

    def load_plugins(self) -> Registries:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            register = ep.load()
            register(self)
        return self
