"""The `haas` client's table of calls against the server's `rest_call`
declarations: the client repeats every method and path by hand, so that it
imports nothing of the server, and this is what keeps the two equal."""

import importlib
import pathlib
import re

from haas import cli, rest

HAAS = pathlib.Path(rest.__file__).parent

#: A decorator that declares a REST call, as core and extensions write it.
DECORATOR = re.compile(r'^@(\w+\.)*rest_call\(', re.MULTILINE)
#: A path parameter: the server's `<name>` or `<converter:name>`, the
#: client's `{name}`.
PARAMETER = re.compile(r'<[^<>]+>|\{[^{}]+\}')


def by_position(path):
    """`path` with each parameter as `{}`: the client may name them
    differently, but not put them elsewhere."""
    return PARAMETER.sub('{}', path)


def declaring_modules():
    """Every module of HaaS, core or extension, that declares REST calls,
    found by its source so that a new one is not missed."""
    for path in sorted(HAAS.rglob('*.py')):
        if DECORATOR.search(path.read_text(encoding='utf-8')):
            parts = path.relative_to(HAAS.parent).with_suffix('').parts
            yield '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def server_calls():
    for module in declaring_modules():
        importlib.import_module(module)
    return [(call.method, by_position(call.path))
            for call in rest.calls.values()]


def client_calls():
    return [(call.method, by_position(call.path)) for call in cli._calls()]


def test_the_extensions_that_declare_calls_are_found():
    # Else the comparison below would pass on core's calls alone.
    assert 'haas.ext.auth.database' in list(declaring_modules())


def test_the_client_has_each_of_the_servers_calls_once():
    client = client_calls()

    assert sorted(client) == sorted(set(server_calls()))
    assert len(client) == len(set(client))


def test_by_position_ignores_names_and_converters_only():
    assert [by_position(p) for p in (
        '/switch/<switch>/port/<path:port>/connect_nic',
        '/switch/{switch}/port/{port}/connect_nic',
        '/switch/{port}/port/{switch}/connect_nic',
        '/switch/{switch}/connect_nic')] == [
        '/switch/{}/port/{}/connect_nic', '/switch/{}/port/{}/connect_nic',
        '/switch/{}/port/{}/connect_nic', '/switch/{}/connect_nic']
