"""The pytest plugin of haas.testing: fresh databases for an extension
author's tests, on SQLite and on PostgreSQL.

Installed with HaaS (entry point `pytest11`), so an extension's own test
suite has the fixtures without a conftest:

- `haas_sqlite`: a factory of new SQLite database URIs, files in the
  test's temporary folder;
- `haas_postgresql`: a factory of new PostgreSQL databases, made on the
  server that HAAS_TEST_POSTGRES_URL names (default: postgres on
  127.0.0.1) and dropped after the test; the test is skipped when the
  server cannot be reached, or fails with HAAS_TEST_REQUIRE_POSTGRES=1;
- `haas_databases`: either, one run of the test per backend;
- `haas_extension`: the extension under test, from the `haas_extension`
  option of the pytest configuration (override the fixture instead, to
  name it in code);
- `haas_app`: a HaaS application on a new database of `haas_databases`,
  created (`db create`) with the extension enabled, in its context.
"""

from __future__ import annotations

import contextlib
import os
import typing

import pytest

if typing.TYPE_CHECKING:
    import pathlib
    from collections.abc import Callable, Iterator

    from flask import Flask

DEFAULT_POSTGRES = 'postgresql://postgres@127.0.0.1:5432/postgres'


@pytest.fixture
def haas_sqlite(tmp_path: pathlib.Path) -> Callable[[], str]:
    from haas.testing import sqlite_databases
    return sqlite_databases(tmp_path)


def postgres_url() -> str:
    """The URL of the PostgreSQL server the tests make databases on."""
    return os.environ.get('HAAS_TEST_POSTGRES_URL', DEFAULT_POSTGRES)


def unusable(message: str) -> typing.NoReturn:
    """Skip the test for want of PostgreSQL, or fail it where the server
    is required (HAAS_TEST_REQUIRE_POSTGRES=1, as in CI)."""
    if os.environ.get('HAAS_TEST_REQUIRE_POSTGRES') == '1':
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def haas_postgresql() -> Iterator[Callable[[], str]]:
    from haas.testing import postgresql_databases
    with contextlib.ExitStack() as stack:
        try:
            new = stack.enter_context(postgresql_databases(postgres_url()))
        except ConnectionError as e:
            unusable(str(e))
        yield new


@pytest.fixture(params=['sqlite', 'postgresql'])
def haas_databases(request: pytest.FixtureRequest) -> Callable[[], str]:
    return request.getfixturevalue(f'haas_{request.param}')


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini('haas_extension',
                  'the module of the HaaS extension that haas_app enables')


@pytest.fixture
def haas_extension(request: pytest.FixtureRequest) -> str:
    name = request.config.getini('haas_extension')
    if not name:
        pytest.fail('name the extension under test: haas_extension = '
                    '<module> in the pytest configuration, or a '
                    'haas_extension fixture of your own')
    return name


@pytest.fixture
def haas_app(haas_databases: Callable[[], str],
             haas_extension: str) -> Iterator[Flask]:
    from haas.migrations.schema import Schema
    from haas.testing import Harness
    harness = Harness(haas_extension, haas_databases)
    with harness.app() as app:
        Schema(app, report=harness.heard.append).create()
        yield app
