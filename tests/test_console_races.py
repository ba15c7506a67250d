"""First starts of a node's console capture at the same moment (two API
servers, or two workers of one) both answer 200 and leave one capture:
the console_log row's insert does nothing where another start's is."""

import signal
import threading
import time

import pytest
import sqlalchemy as sa

from haas import console_worker
from haas.model import ConsoleLog, Node, db

from support.config import NULL_AUTH_EXTENSIONS
from support.databases import built_app, waiting_for_a_lock
from support.servers import serving

IPMI = {'type': 'http://schema.massopencloud.org/haas/v0/obm/ipmi',
        # Never asked: starting a capture is a row, the worker's to act on.
        'host': '127.0.0.1:9', 'user': 'u', 'password': 'p'}
EXTENSIONS = NULL_AUTH_EXTENSIONS + ['haas.ext.obm.ipmi']
DONE = (200, b'')


def setup(call):
    for method, path, body in [('PUT', '/project/p', None),
                               ('PUT', '/node/n', {'obm': IPMI}),
                               ('POST', '/project/p/connect_node',
                                {'node': 'n'})]:
        assert call(method, path, body) == DONE, path


def answer(response):
    return response.status_code, response.data


@pytest.fixture(params=['sqlite', 'postgresql'])
def app(request, tmp_path):
    with built_app(request.param, tmp_path, EXTENSIONS) as app:
        client = app.test_client()
        setup(lambda method, path, body: answer(
            client.open(path, method=method, json=body)))
        yield app


def captures(app):
    with app.app_context():
        rows = db.session.execute(sa.select(
            Node.label, ConsoleLog.capture, ConsoleLog.text).join(
                Node, Node.id == ConsoleLog.node_id)).all()
        db.session.remove()
        return [tuple(row) for row in rows]


def at_once(count, request):
    """`request()` in `count` threads let go together; their answers."""
    start = threading.Barrier(count)
    answers = []

    def run():
        start.wait(30)
        answers.append(request())
    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return answers


def test_first_starts_at_once_all_succeed_with_one_capture(app):
    answers = []
    for _ in range(5):
        answers += at_once(6, lambda: answer(
            app.test_client().put('/node/n/console')))
        found = captures(app)
        assert answer(app.test_client().delete('/node/n/console')) == DONE

    assert (answers, found) == ([DONE] * 30, [('n', True, '')])


@pytest.fixture
def pg_app(tmp_path):
    with built_app('postgresql', tmp_path, EXTENSIONS) as app:
        client = app.test_client()
        setup(lambda method, path, body: answer(
            client.open(path, method=method, json=body)))
        yield app


def test_a_start_meeting_another_servers_uncommitted_start_waits_then_200(
        pg_app):
    with pg_app.app_context():
        engine = db.engine
        node_id = db.session.execute(sa.select(Node.id)).scalar_one()
        db.session.remove()
    answers = []
    with engine.connect() as other:
        # Another server half-way through the same first start.
        other.begin()
        other.execute(sa.insert(ConsoleLog.__table__).values(
            node_id=node_id, capture=True, epoch=1, text='',
            updated_at=sa.func.now()))
        thread = threading.Thread(target=lambda: answers.append(answer(
            pg_app.test_client().put('/node/n/console'))))
        thread.start()
        deadline = time.monotonic() + 30
        while not waiting_for_a_lock(engine):
            assert time.monotonic() < deadline and thread.is_alive(), answers
            time.sleep(0.05)
        assert answers == []  # it waits for the other's transaction
        other.commit()
    thread.join(30)

    assert (answers, captures(pg_app)) == ([DONE], [('n', True, '')])


def test_two_gunicorn_workers_take_first_starts_at_once(pg_databases,
                                                         tmp_path):
    with serving(pg_databases.new(), tmp_path, extensions=EXTENSIONS,
                 gunicorn=True) as server:
        setup(server.call)
        answers = []
        for _ in range(5):
            answers += at_once(8, lambda: server.call(
                'PUT', '/node/n/console'))
            assert server.call('DELETE', '/node/n/console') == DONE

    assert answers == [DONE] * 40


def test_a_stop_signal_in_the_middle_of_the_loops_wait_still_stops_it():
    # The signal handler runs in the main thread between two of its
    # steps: here, while the loop's wait on `stopped` holds the event's
    # lock, as it does on entering and leaving its wait.  A handler that
    # took that lock itself would wait for ever (a worker once would not
    # stop on SIGTERM); one that hands the event to another thread
    # returns, and the event is set once the wait lets go of its lock.
    worker = console_worker.Worker(kept=1024)
    lock = worker.stopped._cond
    lock.acquire()
    # Should the handler block, the lock is let go after 5 s, so that
    # the assertion fails rather than the test hangs.
    rescue = threading.Timer(5, lock.release)
    rescue.start()
    started = time.monotonic()
    worker.stop_signalled(signal.SIGTERM, None)
    returned = time.monotonic() - started
    rescue.cancel()
    if returned < 5:
        lock.release()  # the wait's step ends
    assert (returned < 1, worker.stopped.wait(5)) == (True, True), \
        f'the handler waited {returned:.1f} s for the lock'
