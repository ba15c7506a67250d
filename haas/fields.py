"""What a REST call's fields may hold: the field kinds (Name, Text, Secret,
...) and Body classes, and the pydantic types they become when needed.

It sits below haas.rest, which declares calls with them, and haas.drivers,
whose drivers' `Fields` are bodies; haas.rest gives the same names.
"""

import functools
import inspect
import re
import types
import typing

#: The longest label (of a project, node, nic, ...) the API accepts.
MAX_NAME = 255

#: Unicode's control characters (category Cc: C0, DEL and C1), which no
#: label may hold: a newline or an ESC in a label would forge a log line
#: or drive the terminal that shows it.  Written as both Python's `re` and
#: JSON Schema's (ECMA 262) patterns read it, so that the OpenAPI document
#: says what the validators check.
CONTROL = r'\u0000-\u001f\u007f-\u009f'
CONTROL_CHARACTER = re.compile(f'[{CONTROL}]')

#: How many problems an error message names; it counts the others, so
#: that it stays short whatever a body holds.
SHOWN_PROBLEMS = 3
#: The longest a message quotes a field or key a caller named.
SHOWN_NAME = 40

# Declarations stay plain Python: pydantic, which checks them, is loaded
# with the first request (or `prepare`), not by every command that builds
# the application to work on its database.


class Kind:
    """The kind of a field: its `pydantic()` type is built when needed."""

    @classmethod
    def pydantic(cls):
        raise NotImplementedError


def _text(value):
    # JSON may spell a lone surrogate (\ud800), which no database stores,
    # and a NUL, which PostgreSQL refuses in text.
    try:
        value.encode('utf-8')
    except UnicodeEncodeError:
        raise ValueError('is not valid Unicode text') from None
    if '\x00' in value:
        raise ValueError('contains a NUL character')
    return value


def label_check(value):
    value = _text(value)
    found = CONTROL_CHARACTER.search(value)
    if found:
        raise ValueError(f'contains a control character '
                         f'(U+{ord(found[0]):04X})')
    return value


def no_dot_segment(value):
    # RFC 3986 clients (curl, requests, browsers) remove "." and ".."
    # segments from a URL before they send it: no client could name it.
    if any(segment in ('.', '..') for segment in value.split('/')):
        raise ValueError('has a "." or ".." segment, which HTTP clients '
                         'rewrite')
    return value


def _no_slash(value):
    # Routing never gives one to a `<x>` parameter; said for the document.
    if '/' in value:
        raise ValueError('contains a slash')
    return value


def _no_leading_slash(value):
    # Nor a leading one to a `<path:x>` parameter.
    if value.startswith('/'):
        raise ValueError('starts with a slash')
    return value


class _Documented:
    """Pydantic metadata that adds `extra` (a dict, or a function that
    returns one when the document is made) to a type's JSON schema: what
    a validator checks, said in the OpenAPI document."""

    def __init__(self, extra):
        self.extra = extra

    def __get_pydantic_json_schema__(self, core_schema, handler):
        extra = self.extra() if callable(self.extra) else self.extra
        return {**handler(core_schema), **extra}


def string(min_length, max_length, *checks, pattern=None):
    """A pydantic str type: its length, then each of `checks`, functions
    that raise ValueError; `pattern` (or a function that gives it) says
    in the document what the checks refuse."""
    import pydantic
    metadata = [pydantic.AfterValidator(check) for check in checks]
    if pattern is not None:
        metadata.append(_Documented(
            (lambda: {'pattern': pattern()}) if callable(pattern)
            else {'pattern': pattern}))
    return typing.Annotated[str, pydantic.StringConstraints(
        strict=True, min_length=min_length, max_length=max_length),
        *metadata]


def _string(min_length, max_length):
    return string(min_length, max_length, _text)


#: No control character (nor the NUL among them).
LABEL = f'^[^{CONTROL}]*$'
#: A label of slash-separated segments, none of them "." or "..".
NO_DOT_SEGMENT = r'(?!(?:[^/]*/)*\.\.?(?:/|$))'


class Name(Kind):
    """A label: a non-empty string of at most MAX_NAME characters, with no
    control character."""

    @classmethod
    def pydantic(cls):
        return string(1, MAX_NAME, label_check, pattern=LABEL)


class Text(Kind):
    """A string that may be empty (`""` means "public" or "allocate"),
    with no control character."""

    @classmethod
    def pydantic(cls):
        return string(0, MAX_NAME, label_check, pattern=LABEL)


class Segment(Kind):
    """A path parameter `<x>`: a Name without a slash (routing would not
    take it), and not "." or ".."."""

    @classmethod
    def pydantic(cls):
        return string(1, MAX_NAME, label_check, _no_slash, no_dot_segment,
                      pattern=f'^{NO_DOT_SEGMENT}[^/{CONTROL}]+$')


class PathName(Kind):
    """A path parameter `<path:x>`: a Name that may hold slashes (but not
    first, which werkzeug's path converter does not take), with no "." or
    ".." segment."""

    @classmethod
    def pydantic(cls):
        return string(1, MAX_NAME, label_check, _no_leading_slash,
                      no_dot_segment,
                      pattern=f'^{NO_DOT_SEGMENT}[^/{CONTROL}][^{CONTROL}]*$')


class Secret(Kind):
    """A password: not empty, not absurdly long."""

    @classmethod
    def pydantic(cls):
        return string(1, 1024, _text, pattern='^[^\\u0000]*$')


class Body:
    """A request body, or an answer's shape: its fields are its class's
    annotations (with their defaults).  A body has exactly these fields,
    of exactly these types, unless `__extra__` lets it carry others (a
    driver's), which `__schema__`, a function that edits the body's JSON
    schema, may then document."""

    __extra__ = False
    __schema__ = None


@functools.cache
def model_of(body):
    """The pydantic model of a Body class."""
    import pydantic
    fields = {}
    for name, kind in typing.get_type_hints(body).items():
        fields[name] = (pydantic_type(kind), getattr(body, name, ...))
    config = pydantic.ConfigDict(extra='allow' if body.__extra__ else 'forbid',
                                 strict=True, frozen=True,
                                 json_schema_extra=body.__schema__)
    return pydantic.create_model(body.__name__, __config__=config,
                                 __doc__=body.__doc__, **fields)


def pydantic_type(kind):
    """`kind` with its Kinds and Bodies replaced by pydantic's types."""
    if inspect.isclass(kind) and issubclass(kind, Kind):
        return kind.pydantic()
    if inspect.isclass(kind) and issubclass(kind, Body):
        return model_of(kind)
    arguments = typing.get_args(kind)
    if not arguments:
        return kind
    converted = tuple(pydantic_type(a) for a in arguments)
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):  # Optional[X], X | None
        return typing.Union[converted]
    return origin[converted]


def _shown(name):
    """A field or key a caller named, as a message may quote it: its
    control characters escaped, and cut short."""
    name = CONTROL_CHARACTER.sub(lambda c: f'\\x{ord(c[0]):02x}', name)
    return name if len(name) <= SHOWN_NAME else name[:SHOWN_NAME] + '...'


def problems(error):
    """A pydantic ValidationError in words: `field: what`, for the first
    SHOWN_PROBLEMS, and how many more there are."""
    found = error.errors(include_url=False)
    said = []
    for problem in found[:SHOWN_PROBLEMS]:
        where = '.'.join(_shown(str(part)) for part in problem['loc'])
        said.append(f'{where or "body"}: {problem["msg"]}')
    if len(found) > SHOWN_PROBLEMS:
        said.append(f'and {len(found) - SHOWN_PROBLEMS} more')
    return '; '.join(said)
