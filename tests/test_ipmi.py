"""The IPMI OBM driver (haas.ext.obm.ipmi) against the simulated BMC: what
each call does to the chassis, its options, and a BMC that refuses or
does not answer."""

import socket
import threading
import time
import types

import flask
import pytest

from haas.config import Config
from haas.errors import OBMError
from haas.ext.obm import ipmi
from haas.simulators import bmc

USER, PASSWORD = 'admin', 'secret'


@pytest.fixture
def folder(tmp_path):
    return str(tmp_path / 'bmc')


@pytest.fixture
def device(folder):
    with bmc.running(folder, USER, PASSWORD) as address:
        yield address


def context(options=''):
    """An application context whose haas.cfg holds `options` in
    [haas.ext.obm.ipmi]: all the driver reads of the application."""
    app = flask.Flask(__name__)
    app.extensions['haas'] = types.SimpleNamespace(config=Config.from_string(
        f'[haas.ext.obm.ipmi]\n{options}\n'))
    return app.app_context()


@pytest.fixture
def app():
    with context():
        yield


def obm(address, password=PASSWORD):
    host, port = address
    return ipmi.Ipmi(host=f'{host}:{port}', user=USER, password=password)


def chassis(folder):
    return bmc.BmcState(folder).read()


def test_power_on_and_status(app, device, folder):
    node = obm(device)
    before = node.power_status()
    node.power_on()
    assert (before, node.power_status(), chassis(folder)['power']) == (
        'Off', 'On', 'on')


def test_power_off(app, device, folder):
    node = obm(device)
    node.power_on()
    node.power_off()
    assert (node.power_status(), chassis(folder)['history']) == (
        'Off', ['on', 'off'])


def test_a_cycle_of_a_node_that_is_on_is_a_power_cycle_from_pxe(
        app, device, folder):
    node = obm(device)
    node.power_on()
    node.power_cycle()
    found = chassis(folder)
    assert (found['history'], found['booted_from']) == (
        ['on', 'bootdev', 'cycle'], 'network')


def test_a_forced_cycle_is_a_hard_reset(app, device, folder):
    node = obm(device)
    node.power_on()
    node.power_cycle(force=True)
    assert chassis(folder)['history'] == ['on', 'bootdev', 'reset']


def test_a_cycle_of_a_node_that_is_off_switches_it_on(app, device, folder):
    obm(device).power_cycle()
    found = chassis(folder)
    assert (found['power'], found['history'], found['booted_from']) == (
        'on', ['bootdev', 'on'], 'network')


def test_a_cycle_boots_from_the_device_asked_for(app, device, folder):
    node = obm(device)
    node.set_bootdev('disk')
    node.power_cycle()
    found = chassis(folder)
    assert (found['booted_from'], found['bootdev']) == ('hd', 'default')


@pytest.mark.parametrize('bootdev, expected', [
    ('pxe', 'network'), ('disk', 'hd'), ('none', 'default')])
def test_set_bootdev_is_for_one_boot_by_default(app, device, folder,
                                                bootdev, expected):
    obm(device).set_bootdev(bootdev)
    found = chassis(folder)
    assert (found['bootdev'], found['persistent']) == (expected, False)


def test_set_bootdev_is_persistent_when_configured(device, folder):
    with context('persistent_bootdev = true'):
        node = obm(device)
        node.set_bootdev('disk')
        node.power_on()
    found = chassis(folder)
    assert (found['bootdev'], found['persistent'], found['booted_from']) \
        == ('hd', True, 'hd')


def test_a_wrong_password_is_one_obm_error(app, device):
    with pytest.raises(OBMError) as raised:
        obm(device, password='wrong').power_on()
    assert raised.value.msg == (f'BMC {device[0]}:{device[1]} refused the '
                                f'login: Incorrect password provided')


def test_a_refused_command_names_its_completion_code(app, device, folder):
    # The simulator refuses a cycle while the node is off (0xd5), which
    # the driver never sends: sent raw here.
    node = obm(device)
    with pytest.raises(OBMError) as raised:
        node._converse(lambda c: node._chassis(c, ipmi.POWER_CYCLE,
                                               'a power cycle'))
    assert raised.value.msg.startswith(
        f'BMC {node.host} refused a power cycle: ')
    assert raised.value.msg.endswith('(completion code 0xd5)')


@pytest.fixture
def silent():
    """A UDP port that takes packets and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(('127.0.0.1', 0))
        yield s.getsockname()


def test_a_bmc_that_does_not_answer_is_an_obm_error_within_the_timeout(
        silent):
    with context('timeout = 2\nretries = 5'):
        started = time.monotonic()
        with pytest.raises(OBMError) as raised:
            obm(silent).power_status()
        waited = time.monotonic() - started
    assert raised.value.msg == (f'BMC {silent[0]}:{silent[1]} did not '
                                f'answer within 2 s.')
    assert waited < 10


def test_a_bmc_silent_at_every_try_is_an_obm_error_that_says_so(silent):
    # pyghmi gives up on a silent BMC after seconds, long before this
    # timeout: without retries, one try.
    with context('timeout = 60\nretries = 0'):
        with pytest.raises(OBMError) as raised:
            obm(silent).power_on()
    assert raised.value.msg == (f'BMC {silent[0]}:{silent[1]} did not '
                                f'answer (1 try).')


def test_calls_leave_no_thread_or_session_behind(app, device):
    from pyghmi.ipmi.private import session
    node = obm(device)
    node.power_status()
    before = threading.active_count()
    for _ in range(3 * ipmi.WORKERS):
        node.power_status()
    # The pool's threads at most, however many calls; every session
    # logged out (pyghmi would keep a logged-in one alive).
    assert threading.active_count() <= before + ipmi.WORKERS - 1
    assert session.Session.keepalive_sessions == {}


@pytest.mark.parametrize('options, message', [
    ('timeout = 0', "timeout must be a number of seconds, more than 0 and "
                    "at most 600, not '0'"),
    ('timeout = soon', "timeout must be a number of seconds, more than 0 "
                       "and at most 600, not 'soon'"),
    ('retries = -1', "retries must be a whole number 0-10, not '-1'"),
    ('persistent_bootdev = maybe', "persistent_bootdev must be true or "
                                   "false, not 'maybe'"),
])
def test_a_bad_option_is_an_obm_error_that_names_it(options, message):
    with context(options):
        with pytest.raises(OBMError) as raised:
            obm(('127.0.0.1', 9)).power_on()
    assert raised.value.msg == f'[haas.ext.obm.ipmi] {message}'


@pytest.mark.parametrize('value', ['4', 'often', '30'])
def test_a_bad_keepalive_is_the_consoles_obm_error(value):
    with context(f'keepalive = {value}'):
        with pytest.raises(OBMError) as raised:
            obm(('127.0.0.1', 9)).open_console(lambda data: None)
    assert raised.value.msg == (f'[haas.ext.obm.ipmi] keepalive must be a '
                                f'number of seconds, 5-29, not {value!r}')


@pytest.mark.parametrize('value', ['0.5', 'soon', '11'])
def test_a_bad_packet_timeout_is_an_obm_error_of_calls_and_consoles(value):
    with context(f'packet_timeout = {value}'):
        with pytest.raises(OBMError) as call:
            obm(('127.0.0.1', 9)).power_on()
        with pytest.raises(OBMError) as console:
            obm(('127.0.0.1', 9)).open_console(lambda data: None)
    message = (f'[haas.ext.obm.ipmi] packet_timeout must be a number of '
               f'seconds, 1-10, not {value!r}')
    assert (call.value.msg, console.value.msg) == (message, message)


@pytest.mark.parametrize('host, expected', [
    ('bmc.example.org', ('bmc.example.org', 623)),
    ('10.0.0.5:6230', ('10.0.0.5', 6230)),
    ('[fd00::5]:6230', ('fd00::5', 6230)),
    ('fd00::5', ('fd00::5', 623)),
])
def test_a_bmc_host_may_carry_a_port(host, expected):
    assert ipmi.address(host) == expected


@pytest.mark.parametrize('host', ['bmc:0', 'bmc:70000', 'bmc:http'])
def test_a_bad_port_is_an_obm_error(host):
    with pytest.raises(OBMError):
        ipmi.address(host)
