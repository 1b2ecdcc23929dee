"""Sequential models: what a single copy of a register (or a key-value map) would do.

A linearizability checker asks whether a concurrent history could have come from one of these
objects, executing one operation at a time. Three models are offered:

- ``"register"``: ``read`` returns the current value, ``write(v)`` replaces it.
- ``"cas-register"``: a register that also offers ``cas([expected, new])``, which replaces the value
  with ``new`` only if it equals ``expected`` (a successful ``cas`` completes ``ok``; one whose
  comparison failed completes ``fail`` and so never appears in the model).
- ``"kv"``: a map of independent cas-registers. Every value is ``[key, v]``: ``read`` completes with
  ``[key, value_read]``, ``write`` takes ``[key, v]`` and ``cas`` takes ``[key, [expected, new]]``.

Every register, and every key of a map, starts as ``None``. Lists and tuples are the same value
(JSON turns tuples into lists), which :func:`canonical` takes care of.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dslab._validate import check_choice

MODEL_NAMES = ("register", "cas-register", "kv")

#: ``pre`` of a transition that accepts any current state (a write).
ANY = object()


def canonical(value: Any) -> Any:
    """A hashable value equal to ``value`` up to list/tuple (and dict/set) representation."""
    if isinstance(value, (list, tuple)):
        return tuple(canonical(v) for v in value)
    if isinstance(value, dict):
        return frozenset((canonical(k), canonical(v)) for k, v in value.items())
    if isinstance(value, (set, frozenset)):
        return frozenset(canonical(v) for v in value)
    return value


def _pair(where: str, value: Any, what: str) -> tuple[Any, Any]:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(f"{where}={value!r} is not allowed; expected a pair {what}")
    return value[0], value[1]


@dataclass(frozen=True)
class Model:
    """One sequential object. ``fs`` are the operations it understands."""

    name: str
    fs: tuple[str, ...]
    keyed: bool

    def __repr__(self) -> str:
        return f"Model({self.name!r})"

    # -- parsing --------------------------------------------------------------------------------
    def check_f(self, where: str, f: Any) -> str:
        if f not in self.fs:
            raise ValueError(
                f"{where}={f!r} is not allowed for model={self.name!r}; "
                f"choose one of {list(self.fs)}"
            )
        return f

    def parse(
        self, where: str, cwhere: str, f: str, invoke_value: Any, complete_value: Any, ok: bool
    ) -> tuple[Any, Any]:
        """Validate one operation and return ``(key, arg)``.

        ``key`` is the partition the operation touches (``None`` for a plain register); ``arg`` is
        the value read (a read that completed ``ok``), the value written, or ``(expected, new)``
        for a cas. ``where`` and ``cwhere`` name the invocation and completion records in errors.
        """
        key = None
        if self.keyed:
            key, invoke_value = _pair(f"{where}['value']", invoke_value, "[key, value]")
            key = canonical(key)
        if f == "read":
            if not ok:
                return key, None
            value = complete_value
            if self.keyed:
                ckey, value = _pair(f"{cwhere}['value']", complete_value, "[key, value_read]")
                if canonical(ckey) != key:
                    raise ValueError(
                        f"{cwhere}['value']={complete_value!r} is not allowed: a read of key "
                        f"{key!r} must complete with [{key!r}, value_read]"
                    )
            return key, canonical(value)
        if f == "write":
            return key, canonical(invoke_value)
        expected, new = _pair(f"{where}['value']", invoke_value, "[expected, new]")
        return key, (canonical(expected), canonical(new))

    # -- semantics ------------------------------------------------------------------------------
    @staticmethod
    def transition(f: str, arg: Any) -> tuple[Any, Any]:
        """``(pre, post)`` of one register operation: it needs state ``pre`` (or :data:`ANY`) and
        leaves state ``post``. A read needs and leaves the value it returned."""
        if f == "read":
            return arg, arg
        if f == "write":
            return ANY, arg
        return arg[0], arg[1]

    def apply(self, state: Any, f: str, value: Any) -> tuple[bool, Any]:
        """Run one operation on the sequential object: ``(consistent, new_state)``.

        ``value`` uses the history's format (for a read, what was read). For ``kv`` the state is a
        dict ``{key: value}`` (missing keys are ``None``); it is copied, never mutated.
        """
        check_choice("f", f, self.fs)
        if self.keyed:
            key, v = value[0], value[1]
            key = canonical(key)
            ok, new = self.apply_register(state.get(key), f, v)
            if ok and f != "read":
                state = {**state, key: new}
            return ok, state
        return self.apply_register(state, f, value)

    @staticmethod
    def apply_register(state: Any, f: str, value: Any) -> tuple[bool, Any]:
        """One register operation on a register holding ``state``."""
        if f == "read":
            return canonical(value) == canonical(state), state
        if f == "write":
            return True, canonical(value)
        expected, new = value
        if canonical(expected) != canonical(state):
            return False, state
        return True, canonical(new)

    def initial(self) -> Any:
        return {} if self.keyed else None


MODELS = {
    "register": Model("register", ("read", "write"), keyed=False),
    "cas-register": Model("cas-register", ("read", "write", "cas"), keyed=False),
    "kv": Model("kv", ("read", "write", "cas"), keyed=True),
}


def get_model(model: Any) -> Model:
    """The :class:`Model` called ``model`` (one of :data:`MODEL_NAMES`), or a ``ValueError``."""
    if isinstance(model, Model):
        return model
    check_choice("model", model, MODEL_NAMES)
    return MODELS[model]
