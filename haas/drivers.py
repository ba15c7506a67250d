"""Switch and OBM drivers: their registry, and `[devel] dry_run`.

A driver is a subclass of `haas.model.Switch` or `haas.model.Obm` with an
`api_name` (the type URI clients give) and `Fields`, the haas.fields.Body of
what registering one takes.  An application knows the drivers of the
extensions it enables.

A switch driver's `session()` gives what the networking daemon applies
actions through: `apply_networking(action)`, `revert_port(label)`,
`port_networks(label)` and `disconnect()`.  Applying an action again
must change nothing (a daemon may die between applying and recording
it).  How a call fails decides
what becomes of the action:

- `haas.errors.SwitchError`: trying again cannot help (the switch
  refused, the port or VLAN is unknown to it, a label it cannot hold).
  The action is marked ERROR with the message as its reason, shown by
  show_networking_action; the nic takes its next request.
- `haas.errors.SwitchUnavailableError`: the switch cannot take it now
  (unreachable, a timeout, a lost SSH session).  The action stays
  PENDING, with the message as the reason of its last attempt, and is
  tried again with backoff (1 s, doubling, at most 60 s).
- Anything else is taken for a bug: retried with the same backoff, and
  logged with its traceback.

A driver that cannot configure every label declares `max_port_label`
(and `max_label`, for the switch's own, if it uses it) on its class:
registering a longer one is refused (400), instead of queuing actions
that could never be applied.
"""

from __future__ import annotations

import functools
import logging
import typing
from collections.abc import Callable, Iterable, Iterator

from haas import errors
from haas.fields import Kind, Name, model_of, problems

if typing.TYPE_CHECKING:
    from haas.model import NetworkingAction

log = logging.getLogger(__name__)

#: What `no_dry_run` wraps, and gives back with the same signature.
F = typing.TypeVar('F', bound=Callable[..., typing.Any])


class SwitchSession(typing.Protocol):
    """What a switch driver's `session()` returns (see above)."""

    def apply_networking(self, action: NetworkingAction) -> None:
        """Make the action's port carry (or no longer carry) its network
        on its channel."""

    def revert_port(self, label: str) -> None:
        """Take port `label` off every network."""

    def port_networks(self, label: str) -> dict[str, str]:
        """What port `label` carries now, read from the switch: channel
        (``vlan/native``, ``vlan/<id>``) -> the network's network_id (the
        VLAN number, as text).  What `haas-admin switch verify` compares
        with the database."""

    def disconnect(self) -> None:
        """End the session (close an SSH connection, log out)."""


def _subclasses(base: type) -> Iterator[type[typing.Any]]:
    cls: type[typing.Any]
    for cls in base.__subclasses__():
        yield cls
        yield from _subclasses(cls)


def types(base: type,
          extensions: Iterable[str]) -> dict[str, type[typing.Any]]:
    """api_name -> driver class, for the drivers of `extensions`."""
    return {cls.api_name: cls for cls in _subclasses(base)
            if getattr(cls, 'api_name', None)
            and cls.__module__ in extensions}


def build(base: type, kind: str, type_name: str,
          fields: dict[str, typing.Any]) -> typing.Any:
    """A new driver object of `type_name` from `fields` (a dict).

    BadArgumentError for a type no enabled extension provides; a
    ValidationError naming the fields that do not fit the driver.
    """
    from flask import current_app
    extensions = current_app.extensions['haas'].config.extensions
    cls = types(base, extensions).get(type_name)
    if cls is None:
        raise errors.BadArgumentError(f'{type_name!r} is not a valid {kind} '
                                      f'type.')
    import pydantic
    try:
        valid = model_of(cls.Fields).model_validate(fields)
    except pydantic.ValidationError as e:
        raise errors.ValidationError(
            f'The fields are not valid for {kind} type {type_name}: '
            f'{problems(e)}') from None
    return cls(**valid.model_dump())


def type_kind(base: type) -> type[Kind]:
    """The field Kind of a driver type of `base` (Switch or Obm): a name,
    documented as one of the types the application's extensions have."""
    def documented(schema: dict[str, typing.Any]) -> None:
        from flask import current_app
        extensions = current_app.extensions['haas'].config.extensions
        schema['enum'] = sorted(types(base, extensions))

    class DriverType(Kind):
        @classmethod
        def pydantic(cls) -> typing.Any:
            import pydantic
            return typing.Annotated[Name.pydantic(), pydantic.Field(
                json_schema_extra=documented)]
    DriverType.__name__ = f'{base.__name__}Type'
    return DriverType


def spec_schema(
        base: type) -> Callable[[dict[str, typing.Any]], None]:
    """A `Body.__schema__` for the spec of a driver of `base` (Switch or
    Obm): one of the application's drivers' `type`s, with exactly the
    fields that driver takes (which `build` checks)."""
    def documented(schema: dict[str, typing.Any]) -> None:
        from flask import current_app
        extensions = current_app.extensions['haas'].config.extensions
        branches = []
        for name, cls in sorted(types(base, extensions).items()):
            fields = model_of(cls.Fields).model_json_schema()
            if '$defs' in fields:
                raise ValueError(f'the fields of {name} are not flat: '
                                 f'documenting them needs their $defs')
            fields['properties'] = {'type': {'const': name},
                                    **fields['properties']}
            fields['required'] = ['type', *fields.get('required', [])]
            branches.append(fields)
        schema['oneOf'] = branches
    return documented


def dry_run() -> bool:
    from flask import current_app
    return current_app.extensions['haas'].config.dry_run


def no_dry_run(f: F) -> F:
    """Skip `f`, and log it, under `[devel] dry_run`: it touches hardware
    or libvirt.  It then returns None."""
    @functools.wraps(f)
    def run(*args: typing.Any, **kwargs: typing.Any) -> typing.Any:
        if dry_run():
            log.info('dry run: skipped %s(%s)', f.__qualname__,
                     ', '.join(_described(a) for a in args))
            return None
        return f(*args, **kwargs)
    return typing.cast(F, run)


def _described(value: object) -> str:
    # What names an argument in the log, never a password.
    for attribute in ('label', 'host', 'hostname'):
        if getattr(value, attribute, None):
            return f'{type(value).__name__} {getattr(value, attribute)}'
    return repr(value) if isinstance(value, (str, int)) else \
        type(value).__name__
