"""Production serving: gunicorn with several workers on one PostgreSQL
database, each worker with its own application."""

import json
import os
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from support.commands import GUNICORN, run_admin
from support.config import NULL_AUTH_EXTENSIONS, config_text
from support.servers import free_port


def request(base, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    try:
        with urllib.request.urlopen(urllib.request.Request(
                base + path, data=data, method=method), timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.read()


@pytest.mark.parametrize('preload', [False, True], ids=['workers',
                                                        'preload'])
def test_gunicorn_workers_serve_one_database(pg_databases, tmp_path,
                                             preload):
    config = config_text(pg_databases.new(), NULL_AUTH_EXTENSIONS)
    path = tmp_path / 'haas.cfg'
    path.write_text(config)
    env = {**os.environ, 'HAAS_CONFIG': str(path)}
    run_admin(['db', 'create'], env={'HAAS_CONFIG': str(path)})
    port = free_port()
    server = subprocess.Popen(
        [GUNICORN, '-w', '3', '-b', f'127.0.0.1:{port}',
         *(['--preload'] if preload else []), 'haas.wsgi:application'],
        env=env, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    base = f'http://127.0.0.1:{port}'
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                request(base, 'GET', '/projects')
                break
            except urllib.error.URLError:
                assert server.poll() is None, server.stderr.read()
                assert time.monotonic() < deadline, 'gunicorn did not answer'
                time.sleep(0.1)

        created = [request(base, 'PUT', f'/project/p{n}')[0]
                   for n in range(30)]
        listings = {request(base, 'GET', '/projects')[1] for _ in range(30)}

        assert created == [200] * 30
        assert listings == {json.dumps(sorted(
            f'p{n}' for n in range(30))).encode()}
    finally:
        server.terminate()
        server.wait(30)
    assert server.returncode == 0


@pytest.mark.parametrize('preload', [False, True], ids=['workers',
                                                        'preload'])
def test_gunicorn_on_a_schema_not_current_stops_with_one_line(tmp_path,
                                                             preload):
    env = {k: v for k, v in os.environ.items() if k != 'HAAS_CONFIG'}

    server = subprocess.run(
        [GUNICORN, '-w', '2', '-b', f'127.0.0.1:{free_port()}',
         *(['--preload'] if preload else []), 'haas.wsgi:application'],
        env=env, capture_output=True, text=True, cwd=tmp_path, timeout=60)

    assert server.returncode != 0
    assert 'Traceback' not in server.stderr, server.stderr
    assert server.stderr.count(
        'ERROR:haas.wsgi:the database is not initialised: run `haas-admin '
        'db create`\n') >= 1, server.stderr
