"""Two API servers on one PostgreSQL database: a nic's check-then-queue
takes turns, so the one-pending-action rule holds under concurrency."""

import threading
import time

import pytest
import sqlalchemy as sa

from haas.model import NetworkingAction, Nic, db

from support.config import NULL_AUTH_EXTENSIONS
from support.databases import built_app, waiting_for_a_lock

OBM = {'type': 'http://schema.massopencloud.org/haas/v0/obm/mock',
       'host': 'h', 'user': 'u', 'password': 'p'}
SWITCH = {'type': 'http://schema.massopencloud.org/haas/v0/switches/mock',
          'hostname': 'h', 'username': 'u', 'password': 'p'}


@pytest.fixture
def app(tmp_path):
    with built_app('postgresql', tmp_path, NULL_AUTH_EXTENSIONS) as app:
        client = app.test_client()
        for method, path, body in [
                ('put', '/project/p', None), ('put', '/node/n', {'obm': OBM}),
                ('put', '/node/n/nic/eth0', {'macaddr': 'm'}),
                # Cabled: connect_network would queue, but for the action.
                ('put', '/switch/sw', SWITCH),
                ('put', '/switch/sw/port/p1', None),
                ('post', '/switch/sw/port/p1/connect_nic',
                 {'node': 'n', 'nic': 'eth0'}),
                ('post', '/project/p/connect_node', {'node': 'n'}),
                ('put', '/network/net', {'owner': 'p', 'access': 'p',
                                         'net_id': ''})]:
            assert getattr(client, method)(path, json=body).status_code == 200
        yield app


def test_a_second_connect_on_a_nic_waits_for_the_first_then_is_blocked(app):
    with app.app_context():
        engine = db.engine
    answers = []
    # Another server, half-way through queuing an action on the nic.
    with engine.connect() as other:
        other.begin()
        nic_id = other.execute(sa.select(Nic.id).filter_by(label='eth0')
                               .with_for_update()).scalar()
        other.execute(sa.insert(NetworkingAction), {
            'nic_id': nic_id, 'new_network_id': None, 'channel': 'null'})

        def connect():
            answers.append(app.test_client().post(
                '/node/n/nic/eth0/connect_network', json={'network': 'net'}))
        thread = threading.Thread(target=connect)
        thread.start()
        deadline = time.monotonic() + 30
        while not waiting_for_a_lock(engine):
            assert time.monotonic() < deadline and thread.is_alive(), answers
            time.sleep(0.05)
        assert answers == []  # it waits for the other server's transaction
        other.commit()
    thread.join(30)

    (response,) = answers
    assert (response.status_code, response.json) == (409, {
        'type': 'BlockedError',
        'msg': 'A networking operation is already active on the nic.'})
    with app.app_context():
        # The nic's one action (the port's revert at registration aside).
        assert db.session.execute(
            sa.select(sa.func.count(NetworkingAction.id)).where(
                NetworkingAction.nic_id == nic_id)).scalar() == 1


def hold_then_release(app, engine, other, request):
    """Send `request` (a function of a client) while `other` holds its
    transaction; check that it waits for a lock; commit `other`; return
    the answer."""
    answers = []
    thread = threading.Thread(
        target=lambda: answers.append(request(app.test_client())))
    thread.start()
    deadline = time.monotonic() + 30
    while not waiting_for_a_lock(engine):
        assert time.monotonic() < deadline and thread.is_alive(), answers
        time.sleep(0.05)
    assert answers == []
    other.commit()
    thread.join(30)
    (response,) = answers
    return response.status_code, response.json


def test_a_network_deleted_by_another_server_meanwhile_is_404_and_freed_once(
        tmp_path):
    from haas import create_app, migrations
    from haas.model import Network

    from support.config import config_text
    from support.databases import Databases
    dbs = Databases('postgresql', tmp_path)
    app = create_app(config_text(dbs.new(), [
        'haas.ext.auth.null', 'haas.ext.network_allocators.vlan_pool'],
        vlans='7'))
    with app.app_context():
        migrations.create()
    try:
        client = app.test_client()
        assert client.put('/network/net', json={
            'owner': 'admin', 'access': '', 'net_id': ''}).status_code == 200
        with app.app_context():
            engine = db.engine
        with engine.connect() as other:
            other.begin()
            # Another server deleting the network, not yet committed.
            other.execute(sa.select(Network.id).filter_by(label='net')
                          .with_for_update())
            other.execute(sa.delete(Network).filter_by(label='net'))
            other.execute(sa.text(
                'UPDATE vlan SET available = true WHERE vlan_no = 7'))

            answer = hold_then_release(app, engine, other,
                                       lambda c: c.delete('/network/net'))

        assert answer == (404, {'type': 'NotFoundError',
                                'msg': 'Network net does not exist.'})
        # The VLAN was given back once: one network can take it, no more.
        first = client.put('/network/a', json={
            'owner': 'admin', 'access': '', 'net_id': ''})
        second = client.put('/network/b', json={
            'owner': 'admin', 'access': '', 'net_id': ''})
        assert (first.status_code, second.status_code) == (200, 400)
    finally:
        with app.app_context():
            db.engine.dispose()
        dbs.drop_all()


def test_a_label_created_by_another_server_meanwhile_is_a_duplicate(app):
    with app.app_context():
        engine = db.engine
    with engine.connect() as other:
        other.begin()
        # Another server creating project q: it claimed the label first.
        other.execute(sa.select(sa.func.pg_advisory_xact_lock(
            sa.func.hashtext('project:q'))))
        other.execute(sa.text("INSERT INTO project (label) VALUES ('q')"))

        answer = hold_then_release(app, engine, other,
                                   lambda c: c.put('/project/q'))

    assert answer == (409, {'type': 'DuplicateError',
                            'msg': 'Project q already exists.'})
    with app.app_context():
        assert db.session.execute(sa.text(
            "SELECT count(*) FROM project WHERE label = 'q'")).scalar() == 1


def test_on_sqlite_a_writing_call_waits_for_another_writer(tmp_path):
    import sqlite3
    with built_app('sqlite', tmp_path, NULL_AUTH_EXTENSIONS) as app:
        with app.app_context():
            path = db.engine.url.database
        # Another writer (a daemon applying an action) holds the lock.
        other = sqlite3.connect(path, isolation_level=None)
        other.execute('BEGIN IMMEDIATE')
        answers = []
        thread = threading.Thread(target=lambda: answers.append(
            app.test_client().put('/project/p')))
        thread.start()
        thread.join(1)
        # It reads, then writes: it must wait, not fail at its first write.
        assert thread.is_alive() and answers == []
        other.execute('COMMIT')
        other.close()
        thread.join(30)

        (response,) = answers
        assert response.status_code == 200
        assert app.test_client().get('/projects').json == ['p']
