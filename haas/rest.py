"""REST calls as data, and the one place that turns them into routes.

A call is declared once, with `rest_call`: method, path, the pydantic model
of its body, its success status and the errors it may answer.  Every
application builds its own routes from `calls` (core's and its enabled
extensions'), and the same declarations give the OpenAPI document.
"""

import dataclasses
import functools
import inspect
import json
import logging
import math
import re
import threading
import typing
import urllib.parse

from flask import Response, current_app, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from haas import auth, errors, outages

# Field kinds and bodies live below both this module and haas.drivers;
# declarations import them from here as well.
from haas.fields import (  # noqa: F401
    CONTROL,
    CONTROL_CHARACTER,
    LABEL,
    MAX_NAME,
    NO_DOT_SEGMENT,
    SHOWN_NAME,
    SHOWN_PROBLEMS,
    Body,
    Kind,
    Name,
    PathName,
    Secret,
    Segment,
    Text,
    label_check,
    model_of,
    no_dot_segment,
    problems,
    pydantic_type,
    string,
)
from haas.model import begin_writing, db

log = logging.getLogger(__name__)

#: A path parameter of a Flask rule, `<name>` or `<converter:name>`.
_PARAMETER = re.compile(r'<(?:[^:<>]+:)?([^<>]+)>')

@dataclasses.dataclass(frozen=True)
class Call:
    name: str
    method: str
    path: str
    handler: typing.Callable
    body: type[Body] | None
    status: int
    returns: object  # a type for pydantic (list[str], dict), or None
    errors: tuple
    module: str
    media_type: str = 'application/json'

    @property
    def parameters(self):
        """The path parameters, in order."""
        return _PARAMETER.findall(self.path)

    @property
    def summary(self):
        return inspect.cleandoc(self.handler.__doc__ or self.name) \
            .split('\n\n')[0].replace('\n', ' ')


#: Name -> Call, in declaration order.
calls = {}


def rest_call(method, path, body=None, status=200, returns=None, errors=(),
              media_type='application/json'):
    """Declare the decorated function as the REST call `method path`.

    The function gets the path parameters, then the body's fields, as
    keyword arguments, after validation and authentication; it returns None
    (an empty answer), or a value that `returns` describes.  `errors` are
    the APIError classes it may raise, for the OpenAPI document.  A call
    that answers other than JSON (a console log) names its `media_type`
    and returns a Flask Response.
    """
    def declare(f):
        if f.__name__ in calls:
            raise ValueError(f'REST call {f.__name__} ({f.__module__}) is '
                             f'already declared by {calls[f.__name__].module}')
        calls[f.__name__] = Call(
            name=f.__name__, method=method, path=path, handler=f, body=body,
            status=status, returns=returns, errors=tuple(errors),
            module=f.__module__, media_type=media_type)
        return f
    return declare


def served(extensions):
    """The calls an application with `extensions` enabled serves: those of
    its extensions (and their submodules), and every call that no
    extension declares.  Core's calls are declared once haas.api is
    imported, which an app's first route does (see `init_app`)."""
    from haas.extensions import loaded

    def owner(module):
        return next((name for name in loaded
                     if module == name or module.startswith(name + '.')),
                    None)
    return [call for call in calls.values()
            if owner(call.module) in (None, *extensions)]


# --- validation -----------------------------------------------------------

@functools.cache
def _adapter(kind):
    import pydantic
    return pydantic.TypeAdapter(kind.pydantic())


@functools.cache
def path_kinds(call):
    """The Kind of each of `call`'s path parameters: the one its handler
    annotates it with, else Segment (`<x>`) or PathName (`<path:x>`)."""
    hints = typing.get_type_hints(call.handler)
    kinds = {}
    for name in call.parameters:
        hint = hints.get(name)
        if inspect.isclass(hint) and issubclass(hint, Kind):
            kinds[name] = hint
        else:
            kinds[name] = PathName if f'<path:{name}>' in call.path \
                else Segment
    return kinds


def _finite(text):
    number = float(text)
    if not math.isfinite(number):
        raise errors.ValidationError('The request body holds a number too '
                                     'large for a float.')
    return number


def _no_constant(text):
    # Python's json reads NaN and Infinity, which JSON has not: stored,
    # they would be text that no JSON parser reads back.
    raise errors.ValidationError(f'The request body holds {text}, which is '
                                 f'not a JSON number.')


def _body():
    """The request body, read only if it is at most MAX_CONTENT_LENGTH
    ([server] max_body) bytes long; else RequestTooLargeError."""
    limit = request.max_content_length
    too_large = errors.RequestTooLargeError(
        f'The request body is larger than the {limit} bytes this server '
        f'takes ([server] max_body).')
    try:
        # werkzeug refuses a Content-Length over the limit before it
        # reads a byte.
        raw = request.get_data(cache=False)
    except RequestEntityTooLarge:
        raise too_large from None
    # A body without a length (chunked) it reads up to the limit, and no
    # further, without a word: one byte more is one too many.
    if len(raw) == limit and request.content_length is None \
            and request.environ['wsgi.input'].read(1):
        raise too_large
    return raw


def _arguments(call, parameters):
    """The handler's arguments: the path parameters, then the body's fields.

    A body is read only when the call takes one, and may be left out when
    all its fields are optional; any problem with it (not UTF-8, not JSON,
    not an object, a field missing, unknown or of the wrong type) is a
    ValidationError, raised before authentication.
    """
    import pydantic
    kinds = path_kinds(call)
    for name, value in parameters.items():
        try:
            _adapter(kinds[name]).validate_python(value)
        except pydantic.ValidationError as e:
            raise errors.ValidationError(
                f'The {name} in the path is not valid: '
                f'{problems(e).partition(": ")[2]}') from None
    if call.body is None:
        return dict(parameters)
    raw = _body()
    if not raw and not any(f.is_required() for f in
                           model_of(call.body).model_fields.values()):
        raw = b'{}'  # a body of optional fields only may be left out
    try:
        document = json.loads(raw.decode('utf-8'), parse_float=_finite,
                              parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise errors.ValidationError('The request body is not UTF-8.') \
            from None
    except RecursionError:
        raise errors.ValidationError('The request body is nested too '
                                     'deeply.') from None
    except ValueError:
        raise errors.ValidationError('The request body is not JSON.') \
            from None
    if not isinstance(document, dict):
        raise errors.ValidationError('The request body is not a JSON object.')
    clash = sorted(set(document) & set(parameters))
    if clash:
        raise errors.ValidationError(
            f'The request body repeats the path parameter {clash[0]}.')
    try:
        fields = model_of(call.body).model_validate(document)
    except pydantic.ValidationError as e:
        raise errors.ValidationError(
            f'The request body is not valid for this request: '
            f'{problems(e)}') from None
    # Fields beyond the declared ones, where the model allows them (a
    # driver's), follow as keyword arguments too.
    return {**parameters, **{name: getattr(fields, name)
                             for name in type(fields).model_fields},
            **(fields.model_extra or {})}


# --- responses ------------------------------------------------------------

def _json(value, status):
    return Response(json.dumps(value, sort_keys=True), status,
                    mimetype='application/json')


def _empty(status):
    return Response(b'', status, mimetype='application/json')


def _view(call):
    writes = call.method not in ('GET', 'HEAD', 'OPTIONS')

    def view(**parameters):
        arguments = _arguments(call, parameters)
        if writes:
            begin_writing()  # SQLite: as a writer from the first read
        auth.authenticate()
        result = call.handler(**arguments)
        db.session.commit()
        if result is None:
            return _empty(call.status)
        if isinstance(result, Response):
            return result
        return _json(result, call.status)
    view.__name__ = call.name
    return view


def _api_error(error):
    db.session.rollback()
    response = _json(error.to_dict(), error.status_code)
    response.headers.update(error.headers())
    return response


#: werkzeug's errors, named as the API's own classes are.
_HTTP_TYPES = {400: 'ValidationError', 401: 'AuthorizationError',
               404: 'NotFoundError', 405: 'MethodNotAllowedError',
               413: 'RequestTooLargeError'}


def _http_error(error):
    db.session.rollback()
    kind = _HTTP_TYPES.get(error.code, type(error).__name__)
    response = _json({'type': kind, 'msg': error.description}, error.code)
    for name, value in error.get_headers():
        if name.lower() not in ('content-type', 'content-length'):
            response.headers[name] = value
    return response


#: Seconds a caller is told to wait when the database is away: about what
#: a restart takes.
RETRY_AFTER = 5


def _server_error(error):
    if outages.unavailable(error, db.engine.dialect):
        return _unavailable(error)
    # A password written while the key file cannot be read: SQLAlchemy
    # wraps what a column type raises on the way in (StatementError).
    if isinstance(getattr(error, 'orig', None), errors.SecretsError):
        return _secrets_error(error.orig)
    db.session.rollback()
    log.exception('%s %s failed', request.method, request.path)
    return _json({'type': 'ServerError',
                  'msg': 'The server failed to handle the request; its log '
                         'says why.'}, 500)


def _secrets_error(error):
    """503 for a call that needs a password the key file cannot give (a
    wrong, missing or unreadable key): the operator's to fix, told in the
    log in one line; the caller learns nothing of the key."""
    db.session.rollback()
    log.error('%s %s: %s', request.method, request.path, error)
    return _api_error(errors.ServiceUnavailableError(
        'The server cannot decrypt the passwords in its database; its log '
        'says what to do.'))


def _unavailable(error):
    """503 for a call made while the database is away: no bug, so one line
    in the log, and nothing to roll back on a connection that is gone."""
    db.session.remove()
    log.warning('%s %s: the database is unavailable (%s)', request.method,
                request.path, outages.described(error))
    return _api_error(errors.ServiceUnavailableError(
        'The database is unavailable; try again shortly.',
        retry_after=RETRY_AFTER))


def prepare(app):
    """Build now what the first request would: the models of every body
    `app` takes (a server calls it before it takes requests)."""
    route(app)
    import pydantic

    from haas import drivers
    from haas.model import Obm, Switch
    extensions = app.extensions['haas'].config.extensions
    for call in served(extensions):
        if call.body is not None:
            model_of(call.body)
        if call.returns is not None:
            pydantic.TypeAdapter(pydantic_type(call.returns))
    for base in (Obm, Switch):
        for driver in drivers.types(base, extensions).values():
            model_of(driver.Fields)
    for call in served(extensions):
        for kind in path_kinds(call).values():
            _adapter(kind)


def init_app(app, declare_calls):
    """Answer every error of `app` in JSON, and route the calls it serves
    with its first request (or `prepare`): a command that builds the app
    and serves nothing does not pay for them.  `declare_calls()`, which
    runs then, declares core's calls (it imports haas.api, which this
    module does not)."""
    app.register_error_handler(errors.APIError, _api_error)
    app.register_error_handler(errors.SecretsError, _secrets_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _server_error)
    app.before_request(_check_path)
    # A double slash is a 400 or a 404, not a redirect to another path
    # (a port label //gi1 would become gi1).
    app.url_map.merge_slashes = False
    app.extensions['haas.rest'] = _Routing(app, app.wsgi_app, declare_calls)
    app.wsgi_app = app.extensions['haas.rest']


def _check_path():
    """Refuse a path that is not UTF-8 once percent-decoded, or that holds
    a control character, whatever it routes to.

    werkzeug reads a path's bytes as UTF-8 and replaces what is not with
    U+FFFD (its server before the path reaches WSGI, Flask for a path
    that does), so that different paths would name the same object
    (/project/%FF and /project/%FE): the raw request URI, which servers
    pass on, and PATH_INFO (bytes as latin-1) are read here instead.
    """
    environ = request.environ
    raw = environ.get('RAW_URI') or environ.get('REQUEST_URI') or ''
    try:
        urllib.parse.unquote_to_bytes(
            urllib.parse.urlsplit(raw).path).decode('utf-8')
        path = environ.get('PATH_INFO', '').encode('latin-1').decode('utf-8')
    except UnicodeError:
        raise errors.ValidationError('The path is not UTF-8 once '
                                     'percent-decoded.') from None
    found = CONTROL_CHARACTER.search(path)
    if found:
        raise errors.ValidationError(f'The path holds a control character '
                                     f'(U+{ord(found[0]):04X}).')


class _Routing:
    """WSGI middleware that routes `app`'s calls before its first request."""

    def __init__(self, app, wsgi_app, declare_calls):
        self.app = app
        self.wsgi_app = wsgi_app
        self.declare_calls = declare_calls
        self.routed = False
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        if not self.routed:
            route(self.app)
        return self.wsgi_app(environ, start_response)


#: Where every call is served: at its own path, as HaaS 0.2 and 0.3
#: serve it, and under /v0, as HIL does, so that clients of both work.
PREFIXES = ('', '/v0')


def under_v0():
    """Whether the request being served came under /v0, where a call
    answers as HIL 1.0 does wherever HIL changed what HaaS 0.3 answers
    (README.md, "Compatibility with HIL")."""
    return (request.endpoint or '').startswith('v0.')


def _endpoint(prefix, name):
    """The Flask endpoint of call `name` under `prefix`: its name at
    the bare path (what url_for and the tests know), `v0.name` under
    /v0."""
    return f'{prefix[1:]}.{name}' if prefix else name


def call_name(rule):
    """The name of the call a request's url_rule routes to, whatever
    the prefix (the inverse of `_endpoint`); None for no call."""
    if rule is None:
        return None
    return rule.endpoint.removeprefix('v0.')


def route(app):
    """Route every call that `app` serves, once."""
    routing = app.extensions['haas.rest']
    with routing.lock:
        if routing.routed:
            return
        routing.declare_calls()
        extensions = app.extensions['haas'].config.extensions
        for call in served(extensions):
            view = _view(call)
            for prefix in PREFIXES:
                # A path declared with a trailing slash (HaaS 0.2's
                # /headnode_images/) also answers without it, with no
                # redirect.
                app.add_url_rule(prefix + call.path,
                                 _endpoint(prefix, call.name), view,
                                 methods=[call.method],
                                 strict_slashes=not call.path.endswith('/'))
        for prefix in PREFIXES:
            app.add_url_rule(prefix + '/openapi.json',
                             _endpoint(prefix, 'openapi'), _openapi,
                             methods=['GET'])
        routing.routed = True


# --- OpenAPI --------------------------------------------------------------

_ERROR_SCHEMA = {
    'type': 'object', 'required': ['type', 'msg'],
    'properties': {'type': {'type': 'string'}, 'msg': {'type': 'string'}},
}


def _openapi():
    return _json(openapi(app=current_app), 200)


def _template(path):
    return _PARAMETER.sub(r'{\1}', path)


def _parameter(call, name, schema):
    parameter = {'name': name, 'in': 'path', 'required': True,
                 'schema': schema}
    if f'<path:{name}>' in call.path:
        parameter['description'] = ('May contain slashes (a port label such '
                                    'as gi1/0/5), sent as they are.')
    return parameter


@functools.cache
def _schema_generator():
    import pydantic.json_schema

    class Schemas(pydantic.json_schema.GenerateJsonSchema):
        """pydantic's JSON schemas, but for a dict whose keys have a
        pattern (a Name's): pydantic makes it patternProperties, which
        lets any other key through; the validator refuses them."""

        def dict_schema(self, schema):
            json_schema = super().dict_schema(schema)
            patterns = json_schema.pop('patternProperties', None)
            if patterns:
                (pattern, values), = patterns.items()
                json_schema['propertyNames'] = {
                    **json_schema.get('propertyNames', {}),
                    'pattern': pattern}
                json_schema['additionalProperties'] = values
            return json_schema
    return Schemas


def openapi(app):
    """The OpenAPI 3.1 document of `app`'s calls."""
    import pydantic
    import pydantic.json_schema

    from haas.version import __version__
    calls_ = served(app.extensions['haas'].config.extensions)
    bodies = [(model_of(call.body), 'validation')
              for call in calls_ if call.body]
    schemas, body_refs = {}, {}
    if bodies:
        body_refs, definitions = pydantic.json_schema.models_json_schema(
            bodies, ref_template='#/components/schemas/{model}',
            schema_generator=_schema_generator())
        schemas.update(definitions.get('$defs', {}))
    schemas['Error'] = _ERROR_SCHEMA
    auth_errors = tuple(app.extensions['haas'].auth_backend.errors)
    paths = {}
    for call in calls_:
        responses = {}
        success = {'description': 'Done.'}
        if call.returns is not None:
            schema = pydantic.TypeAdapter(
                pydantic_type(call.returns)).json_schema(
                ref_template='#/components/schemas/{model}',
                schema_generator=_schema_generator())
            for name, definition in schema.pop('$defs', {}).items():
                if schemas.setdefault(name, definition) != definition:
                    raise ValueError(f'two schemas are named {name}')
            success['content'] = {call.media_type: {'schema': schema}}
        responses[str(call.status)] = success
        # Every call may find the database away, and meet the auth
        # backend's own refusals (a throttle's 429).
        answered = (errors.ValidationError, errors.AuthorizationError,
                    errors.ServiceUnavailableError, *auth_errors,
                    *call.errors)
        if call.body is not None:
            answered += (errors.RequestTooLargeError,)
        for status in sorted({error.status_code for error in answered}):
            responses[str(status)] = {
                'description': ', '.join(sorted(
                    {e.__name__ for e in answered
                     if e.status_code == status})),
                'content': {'application/json': {
                    'schema': {'$ref': '#/components/schemas/Error'}}}}
        operation = {
            'operationId': call.name, 'summary': call.summary,
            'parameters': [_parameter(call, name, _adapter(kind).json_schema(
                schema_generator=_schema_generator()))
                for name, kind in path_kinds(call).items()],
            'responses': responses,
        }
        if call.body is not None:
            operation['requestBody'] = {'required': True, 'content': {
                'application/json': {'schema': body_refs[
                    (model_of(call.body), 'validation')]}}}
        paths.setdefault(_template(call.path), {})[call.method.lower()] = \
            operation
    return {
        'openapi': '3.1.0',
        'info': {'title': 'HaaS', 'version': __version__},
        # Each path is served as written and under /v0 (HIL's base).
        'servers': [{'url': prefix or '/'} for prefix in PREFIXES],
        'paths': paths,
        'components': {
            'schemas': schemas,
            'securitySchemes': {'basic': {'type': 'http', 'scheme': 'basic'}},
        },
        'security': [{'basic': []}, {}],
    }
