"""The audit log and request ids: one JSON line per call, refused ones
too, with the caller's request id echoed and recorded, and never a
password."""

import json
import logging
import subprocess
import sys

import pytest

import haas
from haas import audit
from haas.errors import ConfigError

from support.api import basic
from support.config import API_EXTENSIONS, CHEAP_HASHES, config_text
from support.databases import built_app, rolled_back


@pytest.fixture(scope='module', params=['sqlite', 'postgresql'])
def audited_app(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp('audited')
    path = folder / 'audit.jsonl'
    with built_app(request.param, folder, API_EXTENSIONS,
                   extra=CHEAP_HASHES + f'[logging]\naudit = {path}\n') \
            as app:
        app.audit_file = path
        yield app


@pytest.fixture
def api(audited_app):
    """conftest's `client` and `users` on the audited application."""
    with rolled_back(audited_app) as app:
        app.audit_file.write_text('')
        yield app


def records(api):
    return [json.loads(line)
            for line in api.audit_file.read_text().splitlines()]


def test_every_call_writes_one_record_refused_ones_too(api, client, users):
    admin, runway = users['admin'], users['runway']
    api.audit_file.write_text('')  # not the users' creation
    calls = [('PUT', f'/project/p{n}', admin) for n in range(10)]
    calls += [('GET', '/projects', admin), ('GET', '/projects', runway),
              ('GET', '/projects', {}), ('GET', '/no/such/call', admin),
              ('PUT', '/project/p0', admin),  # a duplicate: 409
              ('GET', '/v0/projects', admin)]
    calls += [('GET', f'/project/p{n}/nodes', runway) for n in range(9)]
    calls += [('DELETE', f'/project/p{n}', admin) for n in range(8)]
    answers = [client.open(path, method=method, headers=headers)
               for method, path, headers in calls]

    found = records(api)
    assert len(calls) == 33
    assert len(found) == 33
    assert [(r['method'], r['path'], r['status']) for r in found] == [
        (method, path, a.status_code)
        for (method, path, _), a in zip(calls, answers)]
    assert {a.status_code for a in answers} >= {200, 401, 404, 409}
    assert found[0]['call'] == 'project_create'
    assert found[13]['call'] is None  # no call has that path
    assert found[15]['call'] == 'list_projects'  # under /v0
    assert [r['user'] for r in found[10:13]] == ['admin', 'runway', None]
    for r in found:
        assert set(r) == {'time', 'request_id', 'user', 'address', 'method',
                          'path', 'call', 'status', 'duration_ms'}
        assert r['address'] == '127.0.0.1' and r['duration_ms'] >= 0
    assert len({r['request_id'] for r in found}) == 33


def test_the_callers_request_id_is_echoed_and_recorded(api, client,
                                                      users):
    sent = client.get('/projects', headers={**users['admin'],
                                            'X-Request-Id': 'job-7.a:b_c'})
    fresh = client.get('/projects', headers=users['admin'])
    unusable = client.get('/projects', headers={
        **users['admin'], 'X-Request-Id': 'two words\x7f'})
    long = client.get('/projects', headers={**users['admin'],
                                            'X-Request-Id': 'x' * 129})

    assert sent.headers['X-Request-Id'] == 'job-7.a:b_c'
    ids = [a.headers['X-Request-Id'] for a in (fresh, unusable, long)]
    assert len(set(ids)) == 3 and 'two words' not in ids[1]
    assert all(len(i) == 32 for i in ids)
    assert [r['request_id'] for r in records(api)[-4:]] == \
        ['job-7.a:b_c', *ids]


def test_no_password_is_ever_written(api, client, users):
    client.put('/auth/basic/user/alice', headers=users['admin'],
               json={'password': 'hunter2-alice', 'is_admin': False})
    # alice is no administrator: refused, but known.
    client.get('/projects', headers=basic('alice', 'hunter2-alice'))
    client.get('/projects', headers=basic('alice', 'wrong-guess-9'))

    text = api.audit_file.read_text()
    assert 'hunter2' not in text and 'wrong-guess' not in text
    assert 'alice-pw' not in text and 'admin-pw' not in text
    assert [r['user'] for r in records(api)[-3:]] == ['admin', 'alice', None]
    assert [r['status'] for r in records(api)[-3:]] == [200, 401, 401]


def test_log_lines_of_a_request_carry_its_id(api):
    handler = logging.StreamHandler()
    handler.addFilter(audit._RequestIdFilter())
    handler.setFormatter(logging.Formatter(audit.FORMAT))
    lines = []
    handler.emit = lambda record: lines.append(handler.format(record))
    logger = logging.getLogger('haas.test_audit')
    logger.addHandler(handler)
    try:
        with api.test_request_context('/projects',
                                      headers={'X-Request-Id': 'r-1'}):
            api.preprocess_request()
            logger.warning('inside')
        logger.warning('outside')
    finally:
        logger.removeHandler(handler)
    assert lines == ['WARNING:haas.test_audit:inside (request r-1)',
                     'WARNING:haas.test_audit:outside']


@pytest.mark.parametrize('level, heard', [('INFO', False), ('DEBUG', True)])
def test_alembics_plugin_lines_are_heard_at_debug_only(level, heard):
    # A process of its own: Alembic logs them as it is first imported.
    code = ('from haas import audit; '
            f'audit.init_logging({level!r}); '
            'import alembic.autogenerate')
    result = subprocess.run([sys.executable, '-c', code], text=True,
                            capture_output=True, check=True)

    assert ('INFO:alembic.runtime.plugins:setup plugin' in result.stderr,
            result.stdout) == (heard, '')


def test_an_audit_file_that_cannot_be_written_is_one_line(tmp_path):
    path = tmp_path / 'no' / 'such' / 'folder' / 'audit.jsonl'
    with pytest.raises(ConfigError) as e:
        haas.create_app(config_text(
            f'sqlite:///{tmp_path}/h.db', API_EXTENSIONS,
            extra=f'[logging]\naudit = {path}\n'))
    assert str(e.value) == (f'cannot write [logging] audit {path}: No such '
                            f'file or directory')
