"""The HaaS 0.2 dump (a database from before schema versioning), read and
loaded as it is; its objects built through the models are in
support.legacy_objects."""

import os

import psycopg2
import pytest
import sqlalchemy as sa

DUMP = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'shared',
                    'fixtures', 'haas-0.2-legacy.sql')
#: What differs between the dump's rows and the same objects made again.
MASK = {'headnode': ['uuid']}


def read_dump():
    """The dump's SQL; a skip (a failure in CI) when it is absent."""
    if not os.path.isfile(DUMP):
        message = f'the HaaS 0.2 dump is not at {os.path.normpath(DUMP)}'
        if os.environ.get('HAAS_TEST_REQUIRE_LEGACY_DUMP') == '1':
            pytest.fail(message)
        pytest.skip(message)
    with open(DUMP, encoding='utf-8') as f:
        return f.read()


def load_dump(uri, sql):
    """Load the dump as it is, the way psql would, statement by statement."""
    url = sa.make_url(uri)
    with psycopg2.connect(host=url.host, port=url.port, user=url.username,
                          password=url.password, dbname=url.database) as conn:
        with conn.cursor() as cursor:
            cursor.execute(sql)
