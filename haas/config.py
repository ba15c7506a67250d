"""Loading haas.cfg: where it is, its defaults and its extension list.

The file is INI as upstream HaaS read it: no interpolation, case-sensitive
option names, every option line with ``=``.  See haas.cfg.example.
"""

import configparser
import os

from haas.errors import ConfigError, squashed

DEFAULT_EXTENSIONS = (
    'haas.ext.auth.null',
    'haas.ext.network_allocators.null',
    'haas.ext.switches.mock',
    'haas.ext.obm.mock',
)

LOG_LEVELS = ('debug', 'info', 'warn', 'warning', 'error', 'critical', 'fatal')


class Config:
    """A parsed haas.cfg with HaaS's defaults applied on read."""

    def __init__(self, parser=None, path=None, cwd=None):
        self.parser = parser if parser is not None else _new_parser()
        self.path = path
        # Relative SQLite paths are relative to where the command started.
        self.cwd = cwd or os.getcwd()

    @classmethod
    def from_string(cls, text, cwd=None):
        parser = _new_parser()
        try:
            parser.read_string(text)
        except configparser.Error as e:
            raise ConfigError(f'bad configuration: {squashed(e)}') from None
        return cls(parser, cwd=cwd)

    def get(self, section, option, default=None):
        return self.parser.get(section, option, fallback=default)

    def has_option(self, section, option):
        return self.parser.has_option(section, option)

    def getboolean(self, section, option, default=False):
        try:
            return self.parser.getboolean(section, option, fallback=default)
        except ValueError:
            raise ConfigError(
                f'[{section}] {option} must be a boolean (true/false, '
                f'yes/no, on/off, 1/0), not '
                f'{self.parser.get(section, option)!r}') from None

    def require(self, section, option):
        """The value of a mandatory option, or a ConfigError naming it."""
        value = self.get(section, option)
        if value is None:
            raise ConfigError(
                f'[{section}] {option} is required but missing from '
                f'{self.path or "the configuration"}')
        return value

    @property
    def extensions(self):
        """Module names of [extensions], in file order."""
        if not self.parser.has_section('extensions'):
            return list(DEFAULT_EXTENSIONS)
        return list(self.parser.options('extensions'))

    @property
    def database_uri(self):
        uri = self.get('database', 'uri')
        if uri is None:
            return 'sqlite:///' + os.path.join(self.cwd, 'haas.db')
        return _absolute_sqlite_uri(with_driver(uri.strip()), self.cwd)

    def seconds(self, section, option, default):
        """A duration in seconds (a number, 0 meaning no limit)."""
        value = self.get(section, option)
        if value is None:
            return default
        try:
            seconds = float(value)
        except ValueError:
            seconds = -1
        if not 0 <= seconds < float('inf'):
            raise ConfigError(f'[{section}] {option} must be a number of '
                              f'seconds (0 or more), not {value!r}')
        return seconds

    def choice(self, section, option, choices, default):
        """One of `choices`, the first of which is the default."""
        value = self.get(section, option)
        if value is None:
            return default
        if value.strip() not in choices:
            raise ConfigError(f'[{section}] {option} must be one of '
                              f'{", ".join(choices)}, not {value!r}')
        return value.strip()

    def count(self, section, option, default):
        """A whole number, 0 or more."""
        value = self.get(section, option)
        if value is None:
            return default
        # ASCII digits: str.isdigit alone takes '²', which int() refuses.
        if not (value.strip().isascii() and value.strip().isdigit()):
            raise ConfigError(f'[{section}] {option} must be a whole number '
                              f'(0 or more), not {value!r}')
        return int(value)

    @property
    def connect_timeout(self):
        """Seconds to wait for the database server to answer a connection."""
        return self.seconds('database', 'connect_timeout', 10)

    @property
    def keepalives(self):
        """Whether PostgreSQL connections probe an idle peer (TCP
        keepalives), and the probes' timing: seconds idle before the first,
        seconds between two, and how many go unanswered before the
        connection is dropped.  A peer that stops answering (a partition,
        a frozen host) is then noticed instead of waited for forever."""
        return (self.getboolean('database', 'keepalives', True),
                self.seconds('database', 'keepalives_idle', 30),
                self.seconds('database', 'keepalives_interval', 10),
                self.count('database', 'keepalives_count', 3))

    @property
    def tcp_user_timeout(self):
        """Seconds data sent to PostgreSQL may stay unacknowledged before
        the connection is dropped (0: the system's default, many minutes)."""
        return self.seconds('database', 'tcp_user_timeout', 60)

    @property
    def busy_timeout(self):
        """Seconds a SQLite connection waits for another's write lock."""
        return self.seconds('database', 'busy_timeout', 60)

    @property
    def daemon_workers(self):
        """How many switches the networking daemon applies actions to at
        once, each in a thread of its own (1 or more; default 4)."""
        workers = self.count('daemon', 'workers', 4)
        if workers < 1:
            raise ConfigError(f'[daemon] workers must be 1 or more, not '
                              f'{self.get("daemon", "workers")!r}')
        return workers

    @property
    def daemon_processes(self):
        """How many processes the networking daemon runs, each applying
        the actions of its share of the switches (1 or more; default 1):
        past what one interpreter's lock lets its workers do."""
        processes = self.count('daemon', 'processes', 1)
        if processes < 1:
            raise ConfigError(f'[daemon] processes must be 1 or more, not '
                              f'{self.get("daemon", "processes")!r}')
        return processes

    @property
    def daemon_poll(self):
        """Seconds between the networking daemon's looks at the journal
        when nothing wakes it (default 2): every look on SQLite, which
        has no notifications; on PostgreSQL, a fallback to them."""
        value = self.get('daemon', 'poll')
        if value is None:
            return 2.0
        try:
            poll = float(value)
        except ValueError:
            poll = 0.0
        # Not 0, which would have an idle daemon spin on the journal.
        if not 0 < poll < float('inf'):
            raise ConfigError(f'[daemon] poll must be a number of seconds '
                              f'(more than 0), not {value!r}')
        return poll

    @property
    def max_body(self):
        """The largest request body the API reads, in bytes (1 MiB)."""
        value = self.get('server', 'max_body')
        if value is None:
            return 1 << 20
        # As `count`, but not 0, which would refuse every body, and ASCII
        # digits only: int() refuses the other digits str.isdigit takes.
        digits = value.strip()
        if not (digits.isascii() and digits.isdigit() and int(digits) > 0):
            raise ConfigError(f'[server] max_body must be a number of bytes '
                              f'(1 or more), not {value!r}')
        return int(digits)

    @property
    def dry_run(self):
        # Presence alone enables it, whatever the value, as upstream did.
        return self.has_option('devel', 'dry_run')

    @property
    def log_level(self):
        level = (self.get('general', 'log_level') or 'warning').lower()
        if level not in LOG_LEVELS:
            raise ConfigError(
                f'[general] log_level must be one of {", ".join(LOG_LEVELS)}, '
                f'not {level!r}')
        return {'warn': 'WARNING', 'fatal': 'CRITICAL'}.get(level,
                                                             level.upper())


def with_driver(uri):
    """`uri` with HaaS's PostgreSQL driver, psycopg2, whatever SQLAlchemy's
    default for a bare ``postgresql://`` is."""
    if uri.startswith(('postgresql://', 'postgres://')):
        return 'postgresql+psycopg2://' + uri.split('://', 1)[1]
    return uri


def _new_parser():
    parser = configparser.RawConfigParser()
    parser.optionxform = str
    return parser


def _absolute_sqlite_uri(uri, cwd):
    prefix = 'sqlite:///'
    if not uri.startswith(prefix):
        return uri
    path = uri[len(prefix):]
    if path in ('', ':memory:') or path.startswith(('/', 'file:')):
        return uri
    return prefix + os.path.join(cwd, path)


def load(path=None):
    """Read the configuration HaaS runs with.

    `path`, else the file named by ``HAAS_CONFIG`` (which must exist), else
    ``./haas.cfg`` if present, else the built-in defaults: a SQLite file
    ``haas.db`` in the current directory and the null/mock extensions.
    """
    if path is None:
        path = os.environ.get('HAAS_CONFIG') or None
        if path is not None and os.path.isdir(path):
            raise ConfigError(f'HAAS_CONFIG names {path}, which is a '
                              f'directory: name the configuration file in it')
        if path is not None and not os.path.isfile(path):
            raise ConfigError(
                f'HAAS_CONFIG names {path}, which does not exist; '
                f'unset it to use ./haas.cfg or the defaults')
        if path is None and os.path.isfile('haas.cfg'):
            path = 'haas.cfg'
    if path is None:
        return Config()
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except OSError as e:
        raise ConfigError(f'cannot read {path}: {e.strerror}') from None
    try:
        text = data.decode('utf-8')
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b'\n') + 1
        raise ConfigError(f'{path} is not UTF-8 text: byte '
                          f'0x{data[e.start]:02x} on line {line}') from None
    parser = _new_parser()
    try:
        parser.read_string(text, source=path)
    except configparser.Error as e:
        raise ConfigError(f'bad configuration in {path}: '
                          f'{squashed(e)}') from None
    return Config(parser, path=os.path.abspath(path))
