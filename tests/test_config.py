"""Finding and reading haas.cfg."""

import pytest

from haas import config
from haas.errors import ConfigError
from haas.version import __version__


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv('HAAS_CONFIG', raising=False)
    return tmp_path


def test_no_file_gives_sqlite_here_and_the_default_extensions(here):
    cfg = config.load()
    assert (cfg.path, cfg.database_uri, cfg.extensions) == (
        None, f'sqlite:///{here}/haas.db',
        ['haas.ext.auth.null', 'haas.ext.network_allocators.null',
         'haas.ext.switches.mock', 'haas.ext.obm.mock'])


def test_haas_cfg_here_is_read_case_sensitively_in_order(here):
    (here / 'haas.cfg').write_text(
        '[database]\nuri = sqlite:///relative/x.db\n'
        '[extensions]\nhaas.ext.obm.mock =\nhaas.ext.auth.null =\n'
        '[Mixed]\nKey = %(no)s interpolation\n')
    cfg = config.load()
    assert cfg.path == str(here / 'haas.cfg')
    assert cfg.database_uri == f'sqlite:///{here}/relative/x.db'
    assert cfg.extensions == ['haas.ext.obm.mock', 'haas.ext.auth.null']
    assert (cfg.get('Mixed', 'Key'), cfg.get('Mixed', 'key')) == (
        '%(no)s interpolation', None)


def test_haas_config_wins_over_haas_cfg_here(here, monkeypatch):
    (here / 'haas.cfg').write_text('[extensions]\nhere =\n')
    (here / 'other.cfg').write_text('[extensions]\nother =\n')
    monkeypatch.setenv('HAAS_CONFIG', 'other.cfg')
    assert config.load().extensions == ['other']


def test_haas_config_naming_a_missing_file_is_an_error(here, monkeypatch):
    (here / 'haas.cfg').write_text('[extensions]\nhere =\n')
    monkeypatch.setenv('HAAS_CONFIG', 'missing.cfg')
    with pytest.raises(ConfigError, match='^HAAS_CONFIG names missing.cfg, '
                       'which does not exist'):
        config.load()


@pytest.mark.parametrize('uri, expected', [
    ('postgresql://u@h/d', 'postgresql+psycopg2://u@h/d'),
    ('postgres://u@h/d', 'postgresql+psycopg2://u@h/d'),
    ('postgresql+psycopg2://u@h/d', 'postgresql+psycopg2://u@h/d'),
    ('sqlite:////abs/haas.db', 'sqlite:////abs/haas.db'),
    ('sqlite:///:memory:', 'sqlite:///:memory:'),
])
def test_database_uri(uri, expected):
    assert config.Config.from_string(
        f'[database]\nuri = {uri}\n').database_uri == expected


@pytest.mark.parametrize('text, dry_run', [
    ('', False), ('[devel]\ndry_run =\n', True),
    ('[devel]\ndry_run = False\n', True),
])
def test_dry_run_is_enabled_by_presence(text, dry_run):
    assert config.Config.from_string(text).dry_run is dry_run


def test_bad_boolean_names_the_option():
    cfg = config.Config.from_string('[auth]\nrequire_authentication = maybe\n')
    with pytest.raises(ConfigError, match=r"^\[auth\] require_authentication "
                       r"must be a boolean .* not 'maybe'$"):
        cfg.getboolean('auth', 'require_authentication', True)


@pytest.mark.parametrize('vlans, expected', [
    ('14,35-40, 100-102 , 904', [14, 35, 36, 37, 38, 39, 40, 100, 101, 102,
                                 904]),
    ('7', [7]),
])
def test_vlan_list_syntax(vlans, expected):
    from haas.ext.network_allocators.vlan_pool import parse_vlans
    assert parse_vlans(vlans) == expected


@pytest.mark.parametrize('vlans', ['', '5-2', '0', '4095', 'a', '1-'])
def test_bad_vlan_lists_are_refused(vlans):
    from haas.ext.network_allocators.vlan_pool import parse_vlans
    with pytest.raises(ConfigError):
        parse_vlans(vlans)


def test_haas_config_naming_a_directory_says_so(here, monkeypatch):
    monkeypatch.setenv('HAAS_CONFIG', str(here))
    with pytest.raises(ConfigError) as error:
        config.load()
    assert str(error.value) == (f'HAAS_CONFIG names {here}, which is a '
                                f'directory: name the configuration file in '
                                f'it')


def test_a_file_that_is_not_utf8_names_the_byte_and_line(here):
    (here / 'haas.cfg').write_bytes(b'[database]\n# caf\xe9\nuri = x\n')
    with pytest.raises(ConfigError) as error:
        config.load()
    assert str(error.value) == ('haas.cfg is not UTF-8 text: '
                                'byte 0xe9 on line 2')


@pytest.mark.parametrize('text, expected', [
    ('', (10, 60)),
    ('[database]\nconnect_timeout = 2.5\nbusy_timeout = 0\n', (2.5, 0)),
])
def test_database_timeouts(text, expected):
    cfg = config.Config.from_string(text)
    assert (cfg.connect_timeout, cfg.busy_timeout) == expected


@pytest.mark.parametrize('value', ['-1', 'soon', 'inf', 'nan'])
def test_bad_timeouts_are_refused(value):
    cfg = config.Config.from_string(f'[migrations]\nlock_wait = {value}\n')
    with pytest.raises(ConfigError, match=r'^\[migrations\] lock_wait must '
                       r'be a number of seconds \(0 or more\), not '):
        cfg.seconds('migrations', 'lock_wait', 600)


def test_postgresql_connections_notice_a_dead_peer_by_default():
    from haas.app import engine_options
    cfg = config.Config.from_string('[database]\nuri = postgresql://u@h/d\n')
    assert engine_options(cfg) == {
        'hide_parameters': True, 'pool_pre_ping': True,
        # The daemon's workers and two more ([daemon] workers, 4).
        'pool_size': 6,
        'connect_args': {'connect_timeout': 10, 'keepalives': 1,
                         'keepalives_idle': 30, 'keepalives_interval': 10,
                         'keepalives_count': 3, 'tcp_user_timeout': 60000,
                         # Its release, for `db status --clients`.
                         'application_name': f'haas {__version__}'}}


def test_dead_peer_options_in_libpqs_units():
    from haas.app import engine_options
    cfg = config.Config.from_string(
        '[database]\nuri = postgresql://u@h/d\nkeepalives_idle = 1.5\n'
        'keepalives_interval = 0\nkeepalives_count = 2\n'
        'tcp_user_timeout = 0.25\n')
    assert engine_options(cfg)['connect_args'] == {
        'connect_timeout': 10, 'keepalives': 1, 'keepalives_idle': 2,
        'keepalives_interval': 0, 'keepalives_count': 2,
        'tcp_user_timeout': 250, 'application_name': f'haas {__version__}'}


def test_keepalives_off_leaves_their_timing_out():
    from haas.app import engine_options
    cfg = config.Config.from_string(
        '[database]\nuri = postgresql://u@h/d\nkeepalives = off\n'
        'tcp_user_timeout = 0\n')
    assert engine_options(cfg)['connect_args'] == {
        'connect_timeout': 10, 'keepalives': 0, 'tcp_user_timeout': 0,
        'application_name': f'haas {__version__}'}


@pytest.mark.parametrize('option, value, expected', [
    ('keepalives', 'maybe', "[database] keepalives must be a boolean "
     "(true/false, yes/no, on/off, 1/0), not 'maybe'"),
    ('keepalives_idle', '-1', "[database] keepalives_idle must be a number "
     "of seconds (0 or more), not '-1'"),
    ('keepalives_interval', 'soon', "[database] keepalives_interval must be "
     "a number of seconds (0 or more), not 'soon'"),
    ('keepalives_count', '2.5', "[database] keepalives_count must be a whole "
     "number (0 or more), not '2.5'"),
    ('keepalives_count', '²', "[database] keepalives_count must be a whole "
     "number (0 or more), not '²'"),
    ('tcp_user_timeout', 'inf', "[database] tcp_user_timeout must be a "
     "number of seconds (0 or more), not 'inf'"),
])
def test_bad_dead_peer_options_stop_the_start(option, value, expected):
    import haas
    with pytest.raises(ConfigError) as error:
        haas.create_app(f'[database]\nuri = postgresql://u@127.0.0.1:1/d\n'
                        f'{option} = {value}\n')
    assert str(error.value) == expected


@pytest.mark.parametrize('text, expected', [
    ('', 1 << 20),
    ('[server]\nmax_body = 4096\n', 4096),
])
def test_max_body(text, expected):
    assert config.Config.from_string(text).max_body == expected


@pytest.mark.parametrize('value', ['0', '-1', 'lots', '1.5', '1e6', '²'])
def test_bad_max_body_is_refused(value):
    cfg = config.Config.from_string(f'[server]\nmax_body = {value}\n')
    with pytest.raises(ConfigError) as error:
        cfg.max_body
    assert str(error.value) == (f'[server] max_body must be a number of '
                                f'bytes (1 or more), not {value!r}')


@pytest.mark.parametrize('text, expected', [
    ('', 2.0),
    ('[daemon]\npoll = 0.1\n', 0.1),
])
def test_daemon_poll(text, expected):
    assert config.Config.from_string(text).daemon_poll == expected


@pytest.mark.parametrize('value', ['0', '-1', 'often', 'inf', 'nan'])
def test_bad_daemon_poll_is_refused(value):
    cfg = config.Config.from_string(f'[daemon]\npoll = {value}\n')
    with pytest.raises(ConfigError) as error:
        cfg.daemon_poll
    assert str(error.value) == (f'[daemon] poll must be a number of '
                                f'seconds (more than 0), not {value!r}')
