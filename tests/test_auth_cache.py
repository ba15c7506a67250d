"""How haas.ext.auth.database spares Argon2: a check that succeeded is
remembered (until the user's stored hash changes), and repeated failures
are refused with 429 before anything is hashed."""

import pytest
from werkzeug.middleware.proxy_fix import ProxyFix

import haas
from haas.errors import ConfigError
from haas.ext.auth.database import User
from haas.ext.auth.logins import LoginCache, client_network
from haas.model import db

from support.api import answer, basic
from support.config import API_EXTENSIONS, config_text
from support.databases import no_change

AUTH_FAILED = (401, {'type': 'AuthorizationError',
                     'msg': 'Authentication failed. Authentication is '
                            'required to use this service.'})
ADMIN_ONLY = (401, {'type': 'AuthorizationError',
                    'msg': 'This operation is administrator-only.'})
TOO_MANY = {'type': 'TooManyRequestsError',
            'msg': 'Too many failed logins: try again later.'}
OK = (200, [])

#: The defaults: [haas.ext.auth.database] sets none of them in the tests.
CACHE_SECONDS = 60
WINDOW = 300
PER_ADDRESS, PER_USER_AND_ADDRESS, PER_USER = 20, 5, 100


class Clock:
    """A monotonic clock that moves only when told to."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class CountingHasher:
    """The backend's Argon2 hasher, counting the hashes it verifies."""

    def __init__(self, hasher):
        self.hasher = hasher
        self.verified = 0

    def verify(self, hashed, password):
        self.verified += 1
        return self.hasher.verify(hashed, password)

    def __getattr__(self, name):
        return getattr(self.hasher, name)


@pytest.fixture
def backend(api):
    return api.extensions['haas'].auth_backend


@pytest.fixture
def clock(backend, monkeypatch):
    clock = Clock()
    monkeypatch.setattr(backend.cache, 'clock', clock)
    monkeypatch.setattr(backend.throttle, 'clock', clock)
    return clock


@pytest.fixture
def hasher(backend, monkeypatch):
    counting = CountingHasher(backend.hasher)
    monkeypatch.setattr(backend, 'hasher', counting)
    return counting


def call(client, user, password, address='10.0.0.1', path='/free_nodes'):
    """GET `path` as `user` from `address`: status and body."""
    return answer(client.get(path, headers=basic(user, password),
                             environ_base={'REMOTE_ADDR': address}))


def refused(client, user, password, address='10.0.0.1'):
    """The answer of a call that must be a 429: its body and Retry-After."""
    response = client.get('/free_nodes', headers=basic(user, password),
                          environ_base={'REMOTE_ADDR': address})
    return (response.status_code, response.json,
            response.headers.get('Retry-After'))


def set_password(label, password):
    """Change a password as another worker would: in the database alone."""
    user = db.session.execute(
        db.select(User).filter_by(label=label)).scalar_one()
    user.set_password(password)
    db.session.commit()


# --- the cache ------------------------------------------------------------

def test_a_login_checked_once_is_not_hashed_again(client, users, hasher):
    answers = [call(client, 'runway', 'runway-pw') for _ in range(3)]

    assert (answers, hasher.verified) == ([OK] * 3, 1)


def test_a_remembered_login_lets_no_other_password_in(client, users, hasher):
    call(client, 'runway', 'runway-pw')

    assert (call(client, 'runway', 'other-pw'), hasher.verified) == (
        AUTH_FAILED, 2)


def test_a_remembered_login_is_hashed_again_after_cache_seconds(
        client, users, hasher, clock):
    call(client, 'runway', 'runway-pw')
    clock.now += CACHE_SECONDS - 1
    call(client, 'runway', 'runway-pw')
    verified_within = hasher.verified
    clock.now += 1

    assert (call(client, 'runway', 'runway-pw'), verified_within,
            hasher.verified) == (OK, 1, 2)


def test_cache_seconds_0_hashes_every_login(client, users, hasher, backend,
                                            monkeypatch):
    monkeypatch.setattr(backend, 'cache', LoginCache(0, 1000))

    answers = [call(client, 'runway', 'runway-pw') for _ in range(3)]

    assert (answers, hasher.verified) == ([OK] * 3, 3)


def test_the_cache_keeps_neither_password_nor_name(client, users, backend):
    call(client, 'runway', 'runway-pw')

    entries = list(backend.cache._entries.items())
    assert [(len(key), value) for key, value in entries] == [(32, True)]
    assert [key for key, _ in entries
            if b'runway' in key or b'runway-pw' in key] == []


def test_the_cache_holds_at_most_cache_size_logins():
    cache = LoginCache(60, 2)
    for user in ('a', 'b', 'c'):
        cache.add(user, 'pw', 'hash')

    assert [cache.holds(user, 'pw', 'hash') for user in 'abc'] == [
        False, True, True]


def test_a_password_changed_in_the_database_ends_the_old_one_at_once(
        client, users, hasher):
    call(client, 'runway', 'runway-pw')
    set_password('runway', 'new-pw')

    assert (call(client, 'runway', 'runway-pw'),
            call(client, 'runway', 'new-pw')) == (AUTH_FAILED, OK)


def test_a_user_made_again_through_the_api_logs_in_with_the_new_password(
        client, users):
    # The API has no call that changes a password: a user is deleted and
    # created again, and their new hash no longer matches what is cached.
    call(client, 'runway', 'runway-pw')
    client.delete('/auth/basic/user/runway', headers=users['admin'])
    client.put('/auth/basic/user/runway', headers=users['admin'],
               json={'password': 'new-pw'})

    assert (call(client, 'runway', 'runway-pw'),
            call(client, 'runway', 'new-pw')) == (AUTH_FAILED, OK)


def test_a_deleted_user_fails_at_once(client, users):
    call(client, 'runway', 'runway-pw')

    deleted = answer(client.delete('/auth/basic/user/runway',
                                   headers=users['admin']))

    assert (deleted, call(client, 'runway', 'runway-pw')) == (
        (200, b''), AUTH_FAILED)


def test_a_user_deleted_in_the_database_fails_at_once(client, users):
    call(client, 'other', 'other-pw')
    user = db.session.execute(
        db.select(User).filter_by(label='other')).scalar_one()
    user.projects.clear()
    db.session.delete(user)
    db.session.commit()

    assert call(client, 'other', 'other-pw') == AUTH_FAILED


def test_a_demoted_admin_stops_being_admin_at_once(client, users):
    client.put('/auth/basic/user/boss', headers=users['admin'],
               json={'password': 'boss-pw', 'is_admin': True})
    before = call(client, 'boss', 'boss-pw', path='/projects')

    client.patch('/auth/basic/user/boss', headers=users['admin'],
                 json={'is_admin': False})

    assert (before, call(client, 'boss', 'boss-pw', path='/projects')) == (
        (200, ['manhattan', 'runway']), ADMIN_ONLY)


def test_an_admin_demoted_in_the_database_stops_being_admin_at_once(
        client, users):
    call(client, 'admin', 'admin-pw', path='/projects')
    db.session.execute(db.update(User).filter_by(label='admin')
                       .values(is_admin=False))
    db.session.commit()

    assert call(client, 'admin', 'admin-pw', path='/projects') == ADMIN_ONLY


def test_an_unknown_user_costs_a_hash_as_a_wrong_password_does(
        client, users, hasher):
    call(client, 'mallory', 'runway-pw')
    unknown = hasher.verified
    call(client, 'runway', 'mallory-pw')

    assert (unknown, hasher.verified) == (1, 2)


# --- the throttle ---------------------------------------------------------

def fail(client, user, times, address='10.0.0.1'):
    """`times` wrong passwords for `user` from `address`: their answers."""
    return [call(client, user, 'wrong-pw', address) for _ in range(times)]


def test_after_n_failures_the_right_password_is_refused_with_429(
        client, users, clock):
    failures = fail(client, 'runway', PER_USER_AND_ADDRESS)

    assert (failures, refused(client, 'runway', 'runway-pw')) == (
        [AUTH_FAILED] * PER_USER_AND_ADDRESS, (429, TOO_MANY, str(WINDOW)))


def test_a_refused_login_hashes_nothing(client, users, clock, hasher):
    fail(client, 'runway', PER_USER_AND_ADDRESS)
    hashed = hasher.verified

    refused(client, 'runway', 'runway-pw')
    refused(client, 'runway', 'wrong-pw')

    assert (hashed, hasher.verified) == (PER_USER_AND_ADDRESS,
                                         PER_USER_AND_ADDRESS)


def test_a_refused_call_writes_nothing(client, users, clock):
    fail(client, 'admin', PER_USER_AND_ADDRESS)

    with no_change():
        response = client.put('/auth/basic/user/alice',
                              headers=basic('admin', 'admin-pw'),
                              environ_base={'REMOTE_ADDR': '10.0.0.1'},
                              json={'password': 'alice-pw'})

    assert answer(response) == (429, TOO_MANY)


def test_the_user_still_logs_in_from_another_address(client, users, clock):
    fail(client, 'runway', PER_USER_AND_ADDRESS, address='10.0.0.1')

    assert (refused(client, 'runway', 'runway-pw', '10.0.0.1')[0],
            call(client, 'runway', 'runway-pw', '10.0.0.2')) == (429, OK)


def test_the_refusal_ends_with_the_window(client, users, clock):
    fail(client, 'runway', PER_USER_AND_ADDRESS)
    clock.now += WINDOW - 1
    last_second = refused(client, 'runway', 'runway-pw')
    clock.now += 1

    assert (last_second, call(client, 'runway', 'runway-pw')) == (
        (429, TOO_MANY, '1'), OK)


def test_failures_older_than_the_window_are_forgotten(client, users, clock):
    fail(client, 'runway', PER_USER_AND_ADDRESS - 1)
    clock.now += WINDOW
    fail(client, 'runway', 1)

    assert call(client, 'runway', 'runway-pw') == OK


def test_a_login_clears_the_failures_of_that_user_there(client, users,
                                                        clock):
    fail(client, 'runway', PER_USER_AND_ADDRESS - 1)
    call(client, 'runway', 'runway-pw')

    assert fail(client, 'runway', PER_USER_AND_ADDRESS - 1) == \
        [AUTH_FAILED] * (PER_USER_AND_ADDRESS - 1)


def test_an_address_that_failed_for_many_users_is_refused_for_all(
        client, users, clock):
    for n in range(PER_ADDRESS):
        call(client, f'guess-{n}', 'wrong-pw')

    assert (refused(client, 'admin', 'admin-pw')[:2],
            call(client, 'admin', 'admin-pw', '10.0.0.2')) == (
        (429, TOO_MANY), OK)


def test_a_429_does_not_tell_whether_the_user_exists(client, users, clock):
    fail(client, 'runway', PER_USER_AND_ADDRESS)
    fail(client, 'nobody', PER_USER_AND_ADDRESS)

    assert refused(client, 'runway', 'x') == refused(client, 'nobody', 'x')


def test_failures_from_many_addresses_refuse_the_user_from_new_ones(
        client, users, clock, backend, monkeypatch):
    monkeypatch.setitem(backend.throttle.limits, 'user', 6)
    for n in range(6):
        call(client, 'admin', 'wrong-pw', f'10.1.0.{n}')

    assert refused(client, 'admin', 'admin-pw', '10.2.0.1')[:2] == (
        429, TOO_MANY)


def test_the_user_limit_spares_where_the_user_logged_in(
        client, users, clock, backend, monkeypatch):
    # A stranger can trip the per-user limit from anywhere; the real
    # administrator still gets in from where they log in.
    monkeypatch.setitem(backend.throttle.limits, 'user', 6)
    call(client, 'admin', 'admin-pw', '10.9.9.9')
    for n in range(6):
        call(client, 'admin', 'wrong-pw', f'10.1.0.{n}')

    assert call(client, 'admin', 'admin-pw', '10.9.9.9') == OK


def test_attempts_during_a_refusal_do_not_prolong_it(client, users, clock,
                                                     backend, monkeypatch):
    monkeypatch.setitem(backend.throttle.limits, 'user', 6)
    for n in range(6):
        call(client, 'admin', 'wrong-pw', f'10.1.0.{n}')
    for n in range(10):
        clock.now += 10
        refused(client, 'admin', 'wrong-pw', f'10.3.0.{n}')
    clock.now = 1000.0 + WINDOW

    assert call(client, 'admin', 'admin-pw', '10.2.0.1') == OK


def test_throttle_seconds_0_never_refuses(client, users, clock, backend,
                                          monkeypatch):
    monkeypatch.setattr(backend.throttle, 'window', 0)

    assert fail(client, 'runway', PER_USER_AND_ADDRESS + 1) == \
        [AUTH_FAILED] * (PER_USER_AND_ADDRESS + 1)


def test_x_forwarded_for_is_not_trusted_by_default(client, users, clock):
    for n in range(PER_USER_AND_ADDRESS):
        client.get('/free_nodes', headers={
            **basic('runway', 'wrong-pw'), 'X-Forwarded-For': f'10.5.0.{n}'},
            environ_base={'REMOTE_ADDR': '10.0.0.1'})

    assert refused(client, 'runway', 'runway-pw')[:2] == (429, TOO_MANY)


def test_behind_proxyfix_the_forwarded_address_is_counted(
        api, client, users, clock, monkeypatch):
    # As README shows: one proxy, which sets X-Forwarded-For.
    monkeypatch.setattr(api, 'wsgi_app', ProxyFix(api.wsgi_app, x_for=1))

    def via_proxy(password, address):
        return client.get('/free_nodes', headers={
            **basic('runway', password), 'X-Forwarded-For': address},
            environ_base={'REMOTE_ADDR': '10.0.0.1'}).status_code
    failures = [via_proxy('wrong-pw', '10.6.0.1')
                for _ in range(PER_USER_AND_ADDRESS)]

    assert (failures, via_proxy('runway-pw', '10.6.0.1'),
            via_proxy('runway-pw', '10.6.0.2')) == (
        [401] * PER_USER_AND_ADDRESS, 429, 200)


def test_ipv6_failures_count_against_the_64():
    assert [client_network(a) for a in (
        '2001:db8:1:2:aaaa::1', '2001:db8:1:2:bbbb::2', '2001:db8:1:3::1',
        '::ffff:192.0.2.7', '192.0.2.7', None)] == [
        '2001:db8:1:2::/64', '2001:db8:1:2::/64', '2001:db8:1:3::/64',
        '192.0.2.7', '192.0.2.7', None]


# --- configuration --------------------------------------------------------

def backend_for(tmp_path, options):
    section = '[haas.ext.auth.database]\n' + ''.join(
        f'{name} = {value}\n' for name, value in options.items())
    app = haas.create_app(config_text(f'sqlite:///{tmp_path}/haas.db',
                                      API_EXTENSIONS, extra=section))
    with app.app_context():
        db.engine.dispose()
    return app.extensions['haas'].auth_backend


def test_the_throttle_and_cache_read_their_options(tmp_path):
    backend = backend_for(tmp_path, {
        'cache_seconds': 5, 'cache_size': 7, 'throttle_seconds': 30,
        'failures_per_address': 9, 'failures_per_user_and_address': 3,
        'failures_per_user': 50})

    assert (backend.cache._entries.ttl, backend.cache._entries.maxsize,
            backend.throttle.window, backend.throttle.limits) == (
        5, 7, 30, {'address': 9, 'user_address': 3, 'user': 50})


@pytest.mark.parametrize('option, value, kind', [
    ('cache_seconds', '-1', 'a number of seconds (0 or more)'),
    ('throttle_seconds', 'soon', 'a number of seconds (0 or more)'),
    ('cache_size', '1.5', 'a whole number (0 or more)'),
    ('failures_per_user', '-3', 'a whole number (0 or more)'),
])
def test_a_bad_option_is_an_error_at_start_up(tmp_path, option, value, kind):
    with pytest.raises(ConfigError) as error:
        backend_for(tmp_path, {option: value})

    assert str(error.value) == (f'[haas.ext.auth.database] {option} must be '
                                f'{kind}, not {value!r}')

