"""`haas-admin serve` on the embedded default, spoken to over real HTTP."""

import json
import os
import subprocess
import time
import urllib.request

from support.commands import HAAS_ADMIN, run_admin
from support.servers import free_port


def call(method, url):
    request = urllib.request.Request(url, method=method)
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status, response.read()


def test_serve_creates_and_lists_projects_on_sqlite(tmp_path):
    run_admin(['db', 'create'], cwd=tmp_path)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != 'HAAS_CONFIG'}
    server = subprocess.Popen([HAAS_ADMIN, 'serve', '--port', str(port)],
                              cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT)
    base = f'http://127.0.0.1:{port}'
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                call('GET', base + '/projects')
                break
            except OSError:
                assert server.poll() is None, server.stdout.read().decode()
                assert time.monotonic() < deadline, 'server did not start'
                time.sleep(0.1)

        assert call('PUT', base + '/project/demo') == (200, b'')
        status, body = call('GET', base + '/projects')
        assert (status, json.loads(body)) == (200, ['demo'])
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_wsgi_entry_point_checks_the_schema(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != 'HAAS_CONFIG'}
    load = [os.path.join(os.path.dirname(HAAS_ADMIN), 'python'), '-c',
            'import haas.wsgi; print(haas.wsgi.application.name)']

    refused = subprocess.run(load, cwd=tmp_path, env=env, capture_output=True,
                             text=True)
    run_admin(['db', 'create'], cwd=tmp_path)
    loaded = subprocess.run(load, cwd=tmp_path, env=env, capture_output=True,
                            text=True)

    assert (refused.returncode, refused.stderr) == (3, (
        'ERROR:haas.wsgi:the database is not initialised: run '
        '`haas-admin db create`\n'))
    assert (loaded.returncode, loaded.stdout) == (0, 'haas\n')
