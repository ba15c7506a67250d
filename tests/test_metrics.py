"""GET /metrics: Prometheus' text format, who may read it, what it
counts, and the counts of several gunicorn workers added up."""

import concurrent.futures
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

import haas
from haas.errors import ConfigError
from haas.model import NetworkingAction, db

from support.api import ADMIN_ONLY, SWITCH, add_admin
from support.commands import GUNICORN, HAAS_ADMIN, run_admin
from support.config import (
    API_EXTENSIONS,
    CHEAP_HASHES,
    NULL_AUTH_EXTENSIONS,
    config_text,
)
from support.databases import built_app
from support.servers import eventually, free_port


def samples(text):
    """{(name, sorted labels): value} of an exposition."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples}


def scrape(client, headers):
    response = client.get('/metrics', headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == 'text/plain'
    return samples(response.get_data(as_text=True))


def created(found):
    return found.get(('haas_requests_total', (('call', 'project_create'),
                                              ('status', '200'))), 0)


def test_only_an_admin_reads_metrics_by_default(client, users):
    for caller in ('runway', 'anonymous'):
        response = client.get('/metrics', headers=users[caller])
        assert response.status_code == 401
    assert client.get('/metrics', headers={
        **users['runway']}).json == ADMIN_ONLY[1]
    assert scrape(client, users['admin'])


def test_calls_are_counted_by_call_and_status(client, users):
    before = scrape(client, users['admin'])
    for n in range(3):
        client.put(f'/project/m{n}', headers=users['admin'])
    client.put('/project/m0', headers=users['admin'])  # 409
    after = scrape(client, users['admin'])

    assert created(after) - created(before) == 3
    key = ('haas_requests_total', (('call', 'project_create'),
                                   ('status', '409')))
    assert after[key] - before.get(key, 0) == 1
    count = ('haas_request_duration_seconds_count',
             (('call', 'project_create'),))
    assert after[count] - before.get(count, 0) == 4


def test_pending_actions_and_the_oldest_ones_age(client, users):
    admin = users['admin']
    before = scrape(client, admin)
    client.put('/switch/sw0', json=SWITCH, headers=admin)
    client.put('/switch/sw0/port/p1', headers={**admin,
                                               'X-Request-Id': 'reg-p1'})
    action = db.session.execute(db.select(NetworkingAction)).scalar_one()
    assert action.request_id == 'reg-p1'
    action.queued_at = action.queued_at.replace(
        year=action.queued_at.year - 1)
    db.session.commit()
    after = scrape(client, admin)

    pending = ('haas_networking_actions', (('status', 'PENDING'),))
    queued = ('haas_networking_actions_queued_total',
              (('type', 'revert_port'),))
    assert after[pending] == 1
    assert after[queued] - before.get(queued, 0) == 1
    assert after[('haas_networking_action_oldest_pending_seconds', ())] \
        > 364 * 24 * 3600
    assert before[('haas_networking_action_oldest_pending_seconds', ())] \
        == 0


def test_open_metrics_need_no_credentials(tmp_path):
    with built_app('sqlite', tmp_path, API_EXTENSIONS,
                   extra=CHEAP_HASHES + '[metrics]\naccess = open\n') as app:
        assert scrape(app.test_client(), {})


def test_a_bad_access_value_is_one_line(tmp_path):
    with pytest.raises(ConfigError) as e:
        haas.create_app(config_text(f'sqlite:///{tmp_path}/h.db',
                                    API_EXTENSIONS,
                                    extra='[metrics]\naccess = all\n'))
    assert str(e.value) == \
        "[metrics] access must be one of admin, open, not 'all'"


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.read().decode()


def put(url):
    request = urllib.request.Request(url, method='PUT')
    with urllib.request.urlopen(request, timeout=10) as r:
        return r.status


def test_three_gunicorn_workers_add_up(pg_databases, tmp_path):
    folder = tmp_path / 'prometheus'
    folder.mkdir()
    path = tmp_path / 'haas.cfg'
    path.write_text(config_text(
        pg_databases.new(), NULL_AUTH_EXTENSIONS,
        extra=f'[metrics]\nmultiprocess_dir = {folder}\n'))
    run_admin(['db', 'create'], env={'HAAS_CONFIG': str(path)})
    env = {k: v for k, v in os.environ.items()
           if k != 'PROMETHEUS_MULTIPROC_DIR'}
    port = free_port()
    server = subprocess.Popen(
        [GUNICORN, '-w', '3', '-b', f'127.0.0.1:{port}',
         'haas.wsgi:application'], env={**env, 'HAAS_CONFIG': str(path)},
        stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    base = f'http://127.0.0.1:{port}'
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                get(base + '/projects')
                break
            except urllib.error.URLError:
                assert server.poll() is None, server.stderr.read()
                assert time.monotonic() < deadline, 'gunicorn did not answer'
                time.sleep(0.1)
        # At once, so that the workers share them; again until two
        # workers at least have answered (the kernel may hand one worker
        # a whole round).
        made, deadline = 0, time.monotonic() + 60
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            while True:
                assert list(pool.map(put, [
                    f'{base}/project/p{n}'
                    for n in range(made, made + 30)])) == [200] * 30
                made += 30
                workers = {f.name.split('_')[-1] for f in folder.iterdir()}
                if len(workers) >= 2 or time.monotonic() > deadline:
                    break
        # Whichever worker answers, it counts every worker's calls.
        seen = set()
        for _ in range(9):
            status, text = get(base + '/metrics')
            assert status == 200
            seen.add(created(samples(text)))
    finally:
        server.terminate()
        server.wait(30)
    assert seen == {made}
    assert len(workers) >= 2  # the calls were not all one worker's


def test_the_daemon_serves_its_own_metrics(tmp_path):
    """A daemon with [daemon] metrics counts the actions it applied, on
    its own port; the API counts it among the daemons alive."""
    address = f'127.0.0.1:{free_port()}'
    config = config_text(f'sqlite:///{tmp_path}/haas.db', API_EXTENSIONS,
                         extra=CHEAP_HASHES + (
                             '[metrics]\naccess = open\n'
                             f'[daemon]\nmetrics = {address}\npoll = 0.1\n'
                             f'[haas.ext.switches.mock]\nstate_dir = '
                             f'{tmp_path / "switches"}\n'))
    path = tmp_path / 'haas.cfg'
    path.write_text(config)
    run_admin(['db', 'create'], env={'HAAS_CONFIG': str(path)})
    app = haas.create_app(config)
    client = app.test_client()
    admin = add_admin(app)
    daemon = subprocess.Popen(
        [HAAS_ADMIN, 'serve-networks'],
        env={**os.environ, 'HAAS_CONFIG': str(path)},
        stderr=subprocess.PIPE, text=True)
    try:
        assert daemon.stderr.readline().strip() == f'metrics on {address}'
        assert client.put('/switch/sw0', json=SWITCH,
                          headers=admin).status_code == 200
        assert client.put('/switch/sw0/port/p1',
                          headers=admin).status_code == 200  # a revert

        def applied():
            status, text = get(f'http://{address}/metrics')
            assert status == 200
            return samples(text).get(
                ('haas_networking_actions_applied_total',
                 (('result', 'done'),)), 0) >= 1
        eventually(applied, what='the revert to be counted')
        alive = scrape(client, {})[('haas_daemons_alive',
                                    (('kind', 'networks'),))]
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(30)
        with app.app_context():
            db.engine.dispose()
    assert alive == 1
