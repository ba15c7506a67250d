"""Two API servers on one PostgreSQL database: a nic's check-then-queue
takes turns, so the one-pending-action rule holds under concurrency."""

import threading
import time

import pytest
import sqlalchemy as sa

from haas.model import NetworkingAction, Nic, db

from conftest import NULL_AUTH_EXTENSIONS, built_app

OBM = {'type': 'http://schema.massopencloud.org/haas/v0/obm/mock',
       'host': 'h', 'user': 'u', 'password': 'p'}


@pytest.fixture
def app(tmp_path):
    with built_app('postgresql', tmp_path, NULL_AUTH_EXTENSIONS) as app:
        client = app.test_client()
        for method, path, body in [
                ('put', '/project/p', None), ('put', '/node/n', {'obm': OBM}),
                ('put', '/node/n/nic/eth0', {'macaddr': 'm'}),
                ('post', '/project/p/connect_node', {'node': 'n'}),
                ('put', '/network/net', {'creator': 'p', 'access': 'p',
                                         'net_id': ''})]:
            assert getattr(client, method)(path, json=body).status_code == 200
        yield app


def waiting_for_a_lock(engine):
    with engine.connect() as connection:
        return connection.execute(sa.text(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = "
            "'Lock' AND datname = current_database()")).scalar()


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
        assert db.session.execute(
            sa.select(sa.func.count(NetworkingAction.id))).scalar() == 1
