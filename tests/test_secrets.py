"""Switch and BMC passwords are encrypted at rest (haas.crypto): the
database holds Fernet tokens, drivers read the text, the key file rotates,
and a wrong or lost key is one line, never a traceback or a 500."""

import os

import pytest
import sqlalchemy as sa

from haas import crypto, migrations
from haas.errors import SecretsError
from haas.ext.switches.mock import MockSwitch
from haas.model import db

from support.commands import cli
from support.config import config_text
from support.databases import Databases, make_app
from support.revisions import SWITCH, SWITCH_0_3


@pytest.fixture(autouse=True)
def _own_key_file(tmp_path, monkeypatch):
    """This module's tests change and remove key files: a PostgreSQL
    database's is a copy of the tests' shared one, the test's own."""
    import shutil

    import support.config
    own = tmp_path / 'secrets.key'
    shutil.copyfile(support.config.TEST_KEY_FILE, own)
    monkeypatch.setattr(support.config, 'TEST_KEY_FILE', str(own))


def raw(uri, sql):
    engine = sa.create_engine(uri, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as connection:
            result = connection.exec_driver_sql(sql)
            return result.all() if result.returns_rows else None
    finally:
        engine.dispose()


def created(databases):
    uri = databases.new()
    app = make_app(uri)
    with app.app_context():
        migrations.create()
    return uri, app


def add_switch(app, label='sw0', password='s3cret'):
    with app.app_context():
        db.session.add(MockSwitch(label=label, hostname='h', username='u',
                                  password=password))
        db.session.commit()


def test_the_database_holds_a_token_and_the_driver_the_password(databases):
    uri, app = created(databases)
    add_switch(app)

    [(stored,)] = raw(uri, 'SELECT password FROM mock_switch')
    assert stored != 's3cret' and crypto.is_token(stored)
    with app.app_context():
        assert db.session.scalars(sa.select(MockSwitch)).one().password \
            == 's3cret'


def test_db_create_makes_the_key_file_beside_sqlite(tmp_path):
    # (The suite's PostgreSQL databases share the key of support.config.)
    uri, app = created(Databases('sqlite', tmp_path))
    keyring = app.extensions['haas'].keyring
    assert keyring.path == uri[len('sqlite:///'):] + '.key'
    assert os.stat(keyring.path).st_mode & 0o777 == 0o600


def test_a_rotation_keeps_every_password_readable(databases, tmp_path):
    uri, app = created(databases)
    key_file = tmp_path / 'rotated.key'
    extra = f'[secrets]\nkey_file = {key_file}\n'
    app = make_app(uri, extra=extra)
    assert cli(['secrets', 'generate-key'],
               config_text(uri, extra=extra)).exit_code == 0
    add_switch(app, 'old')
    [(old_token,)] = raw(uri, 'SELECT password FROM mock_switch')
    old_key = crypto.Keyring(str(key_file)).fernet

    result = cli(['secrets', 'generate-key', '--add'],
                 config_text(uri, extra=extra))
    assert result.exit_code == 0, result.output
    app = make_app(uri, extra=extra)
    add_switch(app, 'new')
    result = cli(['secrets', 'rotate'], config_text(uri, extra=extra))
    assert result.exit_code == 0, result.output

    first_key = key_file.read_text().split('\n')[3]
    only_new = crypto.MultiFernet([crypto.Fernet(first_key)])
    tokens = [t for t, in raw(uri, 'SELECT password FROM mock_switch '
                                   'ORDER BY id')]
    assert old_token not in tokens
    assert [only_new.decrypt(t.encode()) for t in tokens] == [
        b's3cret', b's3cret']
    with pytest.raises(crypto.InvalidToken):
        old_key.decrypt(tokens[0].encode())


def test_a_wrong_key_is_one_line_for_the_servers(databases):
    uri, app = created(databases)
    add_switch(app)
    keyring = app.extensions['haas'].keyring
    with open(keyring.path, 'w') as f:
        f.write(crypto.generate_key() + '\n')

    result = cli(['serve-networks'], config_text(uri))

    assert result.exit_code == 1
    wrong_key = crypto.Keyring(keyring.path).wrong_key()
    assert result.output == f'Error: {wrong_key}\n'


def test_a_lost_key_is_one_line_for_the_servers(databases):
    uri, app = created(databases)
    add_switch(app)
    os.remove(app.extensions['haas'].keyring.path)

    result = cli(['serve'], config_text(uri))

    assert result.exit_code == 1
    assert result.output.count('\n') == 1
    assert 'does not exist: restore it from your backup' in result.output


def test_a_wrong_key_answers_503_not_500(databases):
    uri, app = created(databases)
    assert app.test_client().put('/node/n1', json={'obm': {
        'type': 'http://schema.massopencloud.org/haas/v0/obm/mock',
        'host': 'h', 'user': 'u', 'password': 's3cret'}}).status_code == 200
    with open(app.extensions['haas'].keyring.path, 'w') as f:
        f.write(crypto.generate_key() + '\n')
    app = make_app(uri)

    # The OBM driver reads its row, password included.
    answer = app.test_client().post('/node/n1/power_cycle')

    assert answer.status_code == 503
    assert answer.json == {
        'type': 'ServiceUnavailableError',
        'msg': 'The server cannot decrypt the passwords in its database; '
               'its log says what to do.'}


def test_no_password_in_show_switch_or_openapi(databases):
    uri, app = created(databases)
    add_switch(app)
    client = app.test_client()

    assert 's3cret' not in client.get('/switch/sw0').get_data(as_text=True)
    document = client.get('/openapi.json').get_data(as_text=True)
    assert 's3cret' not in document
    [(token,)] = raw(uri, 'SELECT password FROM mock_switch')
    assert token not in client.get('/switch/sw0').get_data(as_text=True)


def at_0_3_with_a_password(databases):
    """A database whose mock switch is at HaaS 0.3, with a plain
    password, as HaaS 0.3 left it."""
    uri = databases.new()
    app = make_app(uri)
    with app.app_context():
        migrations.upgrade(f'{SWITCH}@{SWITCH_0_3}')
    # HaaS 0.3 had no key file: the one this upgrade made goes.
    os.remove(app.extensions['haas'].keyring.path)
    raw(uri, "INSERT INTO switch (id, label, type) VALUES (1, 'sw0', "
             "'http://schema.massopencloud.org/haas/v0/switches/mock')")
    raw(uri, "INSERT INTO mock_switch (id, hostname, username, password) "
             "VALUES (1, 'h', 'u', 's3cret')")
    return uri, app


def test_the_migration_encrypts_and_its_downgrade_decrypts(databases):
    uri, app = at_0_3_with_a_password(databases)
    keyring = app.extensions['haas'].keyring
    assert keyring.create()

    with app.app_context():
        migrations.upgrade('heads')
    [(token,)] = raw(uri, 'SELECT password FROM mock_switch')
    assert crypto.is_token(token) and keyring.decrypt(token) == 's3cret'

    with app.app_context():
        migrations.downgrade(f'{SWITCH}@{SWITCH_0_3}')
    assert raw(uri, 'SELECT id, password FROM mock_switch') == [
        (1, 's3cret')]


def test_an_upgrade_without_the_key_changes_nothing(databases):
    uri, app = at_0_3_with_a_password(databases)
    with app.app_context():
        before = raw(uri, 'SELECT version_num FROM alembic_version')

        with pytest.raises(SecretsError) as e:
            migrations.upgrade('heads')

    assert str(e.value) == app.extensions['haas'].keyring.missing()
    assert raw(uri, 'SELECT version_num FROM alembic_version') == before
    assert raw(uri, 'SELECT password FROM mock_switch') == [('s3cret',)]
