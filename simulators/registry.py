"""An explicit, scopable registry: the one shape of every extension point of selfloop (truths, models, bounds, claims,
suites, loop measurements).

It lives in the lowest layer (simulators) so that every package can build on it; it knows nothing of what it holds.

A registry maps names to entries. ``register`` refuses to overwrite a different entry silently;
``scoped()`` is a context manager that restores the registry's contents on exit, so a test (or a
user's script) can add entries without leaking them into whatever runs next.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Named entries of one kind.

    Parameters
    ----------
    kind : str
        What an entry is ("bound", "model", "suite"), for error messages.
    validate : callable, optional
        Called on every entry before it is added; raises ``ValueError`` for a bad one.

    Examples
    --------
    >>> models = Registry("model")
    >>> with models.scoped():
    ...     _ = models.register("mine", object())
    ...     "mine" in models
    True
    >>> "mine" in models
    False
    """

    def __init__(self, kind: str, validate: Callable[[T], None] | None = None) -> None:
        self.kind = kind
        self._validate = validate
        self._entries: dict[str, T] = {}

    def register(self, name: str, entry: T, *, replace: bool = False) -> T:
        """Add ``entry`` under ``name``; a different entry already there needs ``replace=True``."""
        if self._validate is not None:
            self._validate(entry)
        if name in self._entries and not replace and self._entries[name] != entry:
            raise ValueError(f"name {name!r} is already a registered {self.kind} (pass replace=True to replace it)")
        self._entries[name] = entry
        return entry

    def unregister(self, name: str) -> T:
        """Remove and return the entry called ``name`` (a test's temporary registration)."""
        entry = self.get(name)
        del self._entries[name]
        return entry

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def __len__(self) -> int:
        return len(self._entries)

    def values(self) -> list[T]:
        """The entries, in registration order."""
        return list(self._entries.values())

    def get(self, name: str) -> T:
        """The entry called ``name``."""
        try:
            return self._entries[name]
        except KeyError:
            raise ValueError(f"{self.kind} name must be one of {sorted(self._entries)}, got {name!r}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        """The names, in registration order."""
        return iter(list(self._entries))

    def as_dict(self) -> dict[str, T]:
        """A copy of the entries, by name."""
        return dict(self._entries)

    @contextmanager
    def scoped(self) -> Iterator[Registry[T]]:
        """Within the block, registrations are temporary: the contents are restored on exit."""
        saved = dict(self._entries)
        try:
            yield self
        finally:
            self._entries.clear()
            self._entries.update(saved)
