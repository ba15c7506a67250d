"""Hostile or careless input to the REST API: refused with a 4xx, and
nothing written, on both databases."""

import io
import json
import re
import urllib.parse

import pytest

from haas import api as haas_api
from haas import rest
from haas.model import Port, Switch, db

from support.databases import no_change

MOCK_OBM = 'http://schema.massopencloud.org/haas/v0/obm/mock'
MOCK_SWITCH = 'http://schema.massopencloud.org/haas/v0/switches/mock'
BODY = 'The request body is not valid for this request: '
#: [server] max_body when haas.cfg does not set it.
MAX_BODY = 1 << 20
TOO_LARGE = (413, {
    'type': 'RequestTooLargeError',
    'msg': f'The request body is larger than the {MAX_BODY} bytes this '
           f'server takes ([server] max_body).'})

#: C0 controls, DEL and C1 controls (NEL, CSI): Unicode's category Cc.
CONTROLS = ['\n', '\r', '\x1b', '\x7f', '\x85', '\x9b']


def answer(response):
    body = response.get_data()
    return response.status_code, json.loads(body) if body else None


def invalid(msg):
    return 400, {'type': 'ValidationError', 'msg': msg}


@pytest.fixture
def admin(client, users):
    """Call the API as the administrator: (method, path, body) -> answer."""
    def call(method, path, body=None, **kwargs):
        return answer(client.open(path, method=method, json=body,
                                  headers=users['admin'], **kwargs))
    return call


@pytest.fixture
def node(admin):
    """A free node, n1."""
    assert admin('PUT', '/node/n1', {'obm': {
        'type': MOCK_OBM, 'host': 'h', 'user': 'u', 'password': 'p'}}) == \
        (200, None)


@pytest.fixture
def switch(admin):
    """A switch, s1."""
    assert admin('PUT', '/switch/s1', {
        'type': MOCK_SWITCH, 'hostname': 'h', 'username': 'u',
        'password': 'p'}) == (200, None)


# --- size -------------------------------------------------------------------

class Unreadable(io.RawIOBase):
    """A request body that fails the request if it is read."""

    def readable(self):
        return True

    def readinto(self, buffer):
        raise AssertionError('the body was read')


class Endless(io.RawIOBase):
    """A body of spaces that never ends, counting what is read of it."""

    def __init__(self):
        self.read_bytes = 0

    def readable(self):
        return True

    def readinto(self, buffer):
        buffer[:] = b' ' * len(buffer)
        self.read_bytes += len(buffer)
        return len(buffer)


def chunked(client, users, body):
    """POST `body`, a stream, to connect_node as a server gives a chunked
    body: with no length, and wsgi.input_terminated to say that the
    server ends the stream where the body ends."""
    return client.post(
        '/project/runway/connect_node',
        headers={**users['admin'], 'Transfer-Encoding': 'chunked'},
        environ_overrides={'wsgi.input': body, 'CONTENT_LENGTH': '',
                           'wsgi.input_terminated': True})


def test_a_body_declared_larger_than_max_body_is_413_and_never_read(
        client, users, api):
    with no_change(api):
        response = client.post(
            '/project/runway/connect_node', headers=users['admin'],
            environ_overrides={'wsgi.input': Unreadable(),
                               'CONTENT_LENGTH': str(13 * 10**6)})

    assert answer(response) == TOO_LARGE


def test_a_chunked_body_is_cut_off_at_max_body_with_a_413(client, users,
                                                          api):
    body = Endless()

    with no_change(api):
        response = chunked(client, users, body)

    assert answer(response) == TOO_LARGE
    assert body.read_bytes == MAX_BODY + 1


def test_a_chunked_body_one_byte_over_is_413_not_cut_to_its_valid_start(
        client, users, api):
    # werkzeug stops reading at the limit: what it read is valid JSON.
    body = io.BytesIO(b'{"node": "nobody"}'.ljust(MAX_BODY + 1))

    with no_change(api):
        response = chunked(client, users, body)

    assert answer(response) == TOO_LARGE


NOBODY = (404, {'type': 'NotFoundError', 'msg': 'Node nobody does not exist.'})


def test_a_body_of_max_body_bytes_is_read(client, users, api):
    data = b'{"node": "nobody"}'.ljust(MAX_BODY)

    declared = client.post('/project/runway/connect_node', data=data,
                           headers=users['admin'])
    streamed = chunked(client, users, io.BytesIO(data))

    assert (answer(declared), answer(streamed)) == (NOBODY, NOBODY)


def test_a_400_names_three_problems_and_counts_the_others(admin, api):
    body = {'node': 'n1', **{f'extra{i:05}': i for i in range(10000)}}

    with no_change(api):
        refused = admin('POST', '/project/runway/connect_node', body)

    assert refused == invalid(
        BODY + 'extra00000: Extra inputs are not permitted; extra00001: '
               'Extra inputs are not permitted; extra00002: Extra inputs '
               'are not permitted; and 9997 more')


def test_a_400_quotes_a_key_short_and_without_its_control_characters(
        admin, api):
    body = {'node': 'n1', 'a\n' + 'b' * 10**5: 1}

    with no_change(api):
        refused = admin('POST', '/project/runway/connect_node', body)

    assert refused == invalid(
        BODY + 'a\\x0a' + 'b' * 35 + '...: Extra inputs are not permitted')


# --- labels -----------------------------------------------------------------

@pytest.mark.parametrize('char', CONTROLS,
                         ids=[f'U+{ord(c):04X}' for c in CONTROLS])
def test_a_control_character_in_a_path_is_400(admin, api, char):
    encoded = urllib.parse.quote(char)

    with no_change(api):
        created = admin('PUT', f'/project/a{encoded}b')
        # Routing would not reach a port's call with a newline: 404.
        port = admin('GET', f'/switch/s1/port/gi1{encoded}/0')

    assert created == port == invalid(
        f'The path holds a control character (U+{ord(char):04X}).')


@pytest.mark.parametrize('char', CONTROLS,
                         ids=[f'U+{ord(c):04X}' for c in CONTROLS])
def test_a_control_character_in_a_name_or_text_of_a_body_is_400(admin, api,
                                                               char):
    problem = f'Value error, contains a control character (U+{ord(char):04X})'

    with no_change(api):
        name = admin('POST', '/project/runway/connect_node',
                     {'node': f'n{char}1'})
        text = admin('PUT', '/network/net1', {
            'owner': 'admin', 'access': f'run{char}way', 'net_id': ''})

    assert (name, text) == (invalid(BODY + f'node: {problem}'),
                            invalid(BODY + f'access: {problem}'))


@pytest.mark.parametrize('path', [b'/project/\xff\xfe', b'/project/\xfe\xff',
                                  b'/project/caf\xe9', b'/no/such/\xc3'])
def test_a_path_that_is_not_utf8_is_400(admin, api, path):
    # werkzeug would read both of the first two as U+FFFD U+FFFD.  (Its
    # test client reads a URL's %FF so too: the path is given as a WSGI
    # server gives it, its bytes as latin-1.)
    with no_change(api):
        refused = admin('PUT', '/', environ_overrides={
            'PATH_INFO': path.decode('latin-1')})

    assert refused == invalid('The path is not UTF-8 once percent-decoded.')


def test_a_name_beyond_ascii_is_still_a_name(admin):
    assert admin('PUT', '/project/caf%C3%A9') == (200, None)
    assert admin('GET', '/projects') == (200, ['café', 'manhattan',
                                               'runway'])


@pytest.mark.parametrize('number, message', [
    ('NaN', 'The request body holds NaN, which is not a JSON number.'),
    ('Infinity', 'The request body holds Infinity, which is not a JSON '
                 'number.'),
    ('-Infinity', 'The request body holds -Infinity, which is not a JSON '
                  'number.'),
    ('1e999', 'The request body holds a number too large for a float.'),
    ('[-1e999]', 'The request body holds a number too large for a float.'),
])
def test_a_number_json_cannot_carry_is_400(client, users, api, node, number,
                                           message):
    with no_change(api):
        response = client.put('/node/n1/metadata/rack',
                              data=f'{{"value": {number}}}',
                              headers=users['admin'])

    assert answer(response) == invalid(message)


def test_finite_numbers_are_stored_as_json(admin, node):
    assert admin('PUT', '/node/n1/metadata/rack', {'value': [1.5e300, -2]}) \
        == (200, None)
    assert admin('GET', '/node/n1')[1]['metadata'] == {
        'rack': '[1.5e+300, -2]'}


# --- port labels ------------------------------------------------------------

def test_the_port_actions_come_from_the_declared_calls(api):
    assert haas_api.port_actions() == ['connect_nic', 'detach_nic', 'revert']


@pytest.mark.parametrize('action', ['connect_nic', 'detach_nic', 'revert'])
def test_a_port_named_like_a_port_action_is_400(admin, api, switch, action):
    with no_change(api):
        registered = admin('PUT', f'/switch/s1/port/gi1/{action}')
        alone = admin('PUT', f'/switch/s1/port/{action}')

    assert registered == alone == invalid(
        f'The port in the path is not valid: Value error, ends in '
        f'/{action}, which names a port call')


EMPTY_SEGMENT = ('The port in the path is not valid: Value error, has an '
                 'empty segment (a leading, trailing or double slash)')
DOT_SEGMENT = ('The port in the path is not valid: Value error, has a "." '
               'or ".." segment, which HTTP clients rewrite')


@pytest.mark.parametrize('port, refused', [
    ('gi1/', invalid(EMPTY_SEGMENT)),
    ('gi1//0', invalid(EMPTY_SEGMENT)),
    ('gi1/./0', invalid(DOT_SEGMENT)),
    ('gi1/../0', invalid(DOT_SEGMENT)),
    ('.', invalid(DOT_SEGMENT)),
    ('..', invalid(DOT_SEGMENT)),
    # werkzeug's path converter takes no leading slash: no call has it.
    ('/gi1', (404, {'type': 'NotFoundError', 'msg': 'The requested URL was '
                    'not found on the server. If you entered the URL '
                    'manually please check your spelling and try again.'})),
], ids=['trailing-slash', 'double-slash', 'dot', 'dot-dot', 'only-dot',
        'only-dot-dot', 'leading-slash'])
def test_a_port_label_that_cannot_round_trip_is_refused(admin, api, switch,
                                                        port, refused):
    with no_change(api):
        answered = admin('PUT', f'/switch/s1/port/{port}')

    assert answered == refused


def test_a_port_label_with_slashes_round_trips(admin, switch):
    assert admin('PUT', '/switch/s1/port/gi1/0/5') == (200, None)
    assert admin('GET', '/switch/s1') == (200, {
        'name': 's1', 'ports': [{'label': 'gi1/0/5'}],
        'capabilities': ['nativeless-trunk-mode']})
    assert admin('GET', '/switch/s1/port/gi1/0/5') == (200, {})


def test_a_port_registered_under_an_action_name_before_can_be_deleted(
        admin, api, switch):
    db.session.add(Port(owner=db.session.execute(db.select(Switch)).scalar(),
                        label='gi1/revert'))
    db.session.commit()

    assert admin('DELETE', '/switch/s1/port/gi1/revert') == (200, None)
    assert admin('GET', '/switch/s1')[1]['ports'] == []


# --- the document says what the validators check ----------------------------

SAMPLES = ['n1', 'gi1/0/5', 'café', 'x' * 255, 'x' * 256, '', 'a\nb', 'ok\n',
           '\x00', '\x1f', '\x7f', '\x85', '\x9f', '\xa0', 'a\u2028b', '.',
           '..', '...', 'a.b', 'a/.', 'a/..', './a', 'a\u2028/..', 'a//b',
           '/a', 'a/', 'gi1/revert', 'revert', 'gi1/revert/0',
           'connect_nics', 'p\x00w']


@pytest.mark.parametrize('kind', [rest.Name, rest.Text, rest.Secret,
                                  rest.Segment, rest.PathName,
                                  haas_api.NewPort])
def test_each_kind_s_schema_allows_what_its_validator_takes(api, kind):
    import pydantic
    adapter = pydantic.TypeAdapter(kind.pydantic())
    schema = adapter.json_schema()

    def allowed(value):
        # The patterns are anchored, read as ECMA 262 reads them: $ is
        # the end of the text, not the place before a last newline.
        return (schema['minLength'] <= len(value) <= schema['maxLength']
                and re.fullmatch(schema['pattern'], value) is not None)

    def taken(value):
        try:
            adapter.validate_python(value)
            return True
        except pydantic.ValidationError:
            return False

    assert {s: allowed(s) for s in SAMPLES} == {s: taken(s) for s in SAMPLES}
