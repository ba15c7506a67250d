"""Secrets at rest: the key file of `[secrets]`, and `Encrypted`, the
column type that stores a switch's or a BMC's password as a Fernet token.

A Fernet token is AES-128-CBC with an HMAC-SHA256 over it (the
`cryptography` library's recipe): a wrong key is detected, never turned
into a wrong password.  The key file holds one key per line; the first
encrypts, every one decrypts (MultiFernet), so that a new key can be put
first while the values written under the old one are still read, until
`haas-admin secrets rotate` has re-encrypted them.
"""

import base64
import binascii
import os
import threading

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from haas.errors import SecretsError

#: What the key file starts with when HaaS writes it.
HEADER = ('# HaaS [secrets] key file: one Fernet key per line.  The first\n'
          '# encrypts, every one decrypts.  Back it up apart from the\n'
          '# database: without it the stored passwords are lost.\n')


def key_file(config):
    """The path of the key file: `[secrets] key_file` (relative to the
    directory a command starts from, as a SQLite path is); else, beside a
    SQLite database file, `<file>.key`, so that a fresh clone and every
    test database get a key of their own with no set-up; else (PostgreSQL)
    `haas.key` beside the configuration file, or in the current directory
    when there is none."""
    configured = (config.get('secrets', 'key_file') or '').strip()
    if configured:
        return os.path.join(config.cwd, os.path.expanduser(configured))
    url = sa.engine.make_url(config.database_uri)
    database = url.database or ''
    if url.get_backend_name() == 'sqlite' and database \
            and database != ':memory:' and not database.startswith('file:'):
        return os.path.abspath(database) + '.key'
    folder = os.path.dirname(config.path) if config.path else config.cwd
    return os.path.join(folder, 'haas.key')


def generate_key():
    """A new Fernet key, as the text of one line of a key file."""
    return Fernet.generate_key().decode('ascii')


def is_token(value):
    """Whether `value` has the shape of a Fernet token (version byte 0x80,
    timestamp, IV, whole AES blocks, HMAC), whatever key made it: what
    tells a stored token from a password that was never encrypted."""
    try:
        data = base64.urlsafe_b64decode(value.encode('ascii'))
    except (UnicodeEncodeError, binascii.Error, ValueError):
        return False
    return len(data) >= 73 and data[0] == 0x80 and (len(data) - 57) % 16 == 0


class Keyring:
    """The keys of one key file, read when first needed and kept."""

    def __init__(self, path):
        self.path = path
        self._fernet = None
        self._lock = threading.Lock()

    def exists(self):
        return os.path.exists(self.path)

    @property
    def fernet(self):
        with self._lock:
            if self._fernet is None:
                self._fernet = MultiFernet(
                    [Fernet(key) for key in self._read()])
            return self._fernet

    def _read(self):
        try:
            with open(self.path, encoding='ascii') as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            raise SecretsError(self.missing()) from None
        except (OSError, UnicodeDecodeError) as e:
            raise SecretsError(
                f'cannot read the key file {self.path} ([secrets] key_file):'
                f' {getattr(e, "strerror", None) or "not ASCII text"}'
            ) from None
        keys = []
        for number, line in enumerate(lines, 1):
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            try:
                Fernet(line)
            except (ValueError, binascii.Error):
                raise SecretsError(
                    f'line {number} of the key file {self.path} is not a '
                    f'Fernet key (44 characters of URL-safe base64): '
                    f'restore the file from your backup') from None
            keys.append(line)
        if not keys:
            raise SecretsError(
                f'the key file {self.path} holds no key: restore it from '
                f'your backup')
        return keys

    def missing(self):
        """What to do when the key file does not exist."""
        return (f'the key file {self.path} ([secrets] key_file) does not '
                f'exist: restore it from your backup; on a database that '
                f'never had encrypted passwords (HaaS 0.3 or older), '
                f'`haas-admin secrets generate-key` makes one')

    def wrong_key(self):
        return (f'the key file {self.path} ([secrets] key_file) cannot '
                f'decrypt the passwords in the database: put the key that '
                f'encrypted them back in it, as a line of its own')

    def encrypt(self, text):
        """The token of `text`, under the first key."""
        return self.fernet.encrypt(text.encode('utf-8')).decode('ascii')

    def decrypt(self, token):
        """The text of `token`; SecretsError if no key decrypts it."""
        try:
            return self.fernet.decrypt(token.encode('ascii')).decode('utf-8')
        except (InvalidToken, UnicodeError):
            raise SecretsError(self.wrong_key()) from None

    def decrypts(self, token):
        """Whether a key of the file decrypts `token`."""
        try:
            self.decrypt(token)
        except SecretsError:
            return False
        return True

    def rotate(self, token):
        """`token` encrypted again under the first key."""
        try:
            return self.fernet.rotate(token.encode('ascii')).decode('ascii')
        except (InvalidToken, UnicodeError):
            raise SecretsError(self.wrong_key()) from None

    def create(self):
        """Write a key file with one new key; False if one exists already
        (two commands may race to make it: the first one's key stays)."""
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                         0o600)
        except FileExistsError:
            return False
        except OSError as e:
            raise SecretsError(f'cannot create the key file {self.path}: '
                               f'{e.strerror}') from None
        with os.fdopen(fd, 'w', encoding='ascii') as f:
            f.write(HEADER + generate_key() + '\n')
        return True

    def add_key(self):
        """Put a new key first in the key file, which then encrypts with
        it and still decrypts with the others.  The file is replaced
        whole (written beside it, then renamed), never left half written."""
        keys = self._read()
        new = self.path + '.new'
        try:
            fd = os.open(new, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, 'w', encoding='ascii') as f:
                f.write(HEADER + '\n'.join([generate_key(), *keys]) + '\n')
                f.flush()
                os.fsync(f.fileno())
            os.replace(new, self.path)
        except OSError as e:
            raise SecretsError(f'cannot write the key file {self.path}: '
                               f'{e.strerror}') from None
        with self._lock:
            self._fernet = None


def current():
    """The keyring of the application in whose context this runs."""
    from flask import current_app
    return current_app.extensions['haas'].keyring


class Encrypted(sa.types.TypeDecorator):
    """Text kept in the database as a Fernet token under the application's
    key file, and read back as the text.

    A driver declares its password ``db.Column(Encrypted, nullable=False)``
    and reads and writes plain text; the database never holds it.  Each
    write makes a new token (a random IV), so a query cannot compare such
    a column with a value: look rows up by another column.
    """

    impl = sa.String
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else current().encrypt(value)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if not is_token(value):
            # Written by a release before 0.4 (which kept text) during an
            # online upgrade, before the contract phase encrypts it
            # (UPGRADING.rst): read as the text it is.
            return value
        return current().decrypt(value)


def encrypted_columns(metadata):
    """(table, column) of every `Encrypted` column of `metadata`."""
    return [(table.name, column.name)
            for table in metadata.sorted_tables for column in table.columns
            if isinstance(column.type, Encrypted)]


def _holding_values(connection, metadata):
    """(table, column) of the Encrypted columns that hold a value, of the
    tables that exist."""
    existing = set(sa.inspect(connection).get_table_names())
    found = []
    for table, column in encrypted_columns(metadata):
        if table in existing and connection.execute(sa.text(
                f'SELECT 1 FROM "{table}" WHERE "{column}" IS NOT NULL '
                f'LIMIT 1')).first():
            found.append((table, column))
    return found


def provide_key_file(keyring, connection, metadata):
    """Make the key file where it does not exist and no Encrypted column
    holds a value (a new installation, or one with no switch or BMC yet):
    what `haas-admin db create` and `upgrade` do, so that `make run` and a
    new database need no step of their own.  Where values exist, a
    missing file is a lost key, and HaaS must not hide that behind a new
    one: SecretsError.  True if the file was made."""
    if keyring.exists():
        return False
    if _holding_values(connection, metadata):
        raise SecretsError(keyring.missing())
    return keyring.create()


def check_key(keyring, connection, metadata):
    """SecretsError unless the key file can be read and decrypts one value
    of each Encrypted column that holds one: the servers' check at
    start-up, one row per table."""
    for table, column in _holding_values(connection, metadata):
        values = connection.execute(sa.text(
            f'SELECT "{column}" FROM "{table}" WHERE "{column}" IS NOT NULL '
            f'LIMIT 20')).scalars()
        # Text is what a release before 0.4 wrote during an online upgrade,
        # until its contract phase encrypts it (Encrypted reads it as it is).
        token = next((v for v in values if is_token(v)), None)
        if token is not None:
            keyring.decrypt(token)
    keyring.fernet  # noqa: B018 (reads the file where no value did)


def rotate(keyring, connection, metadata):
    """Encrypt every value of every Encrypted column again under the
    first key of the file; {table.column: count}.  SecretsError, with
    nothing written, if a value cannot be decrypted."""
    counts = {}
    for table, column in _holding_values(connection, metadata):
        t = sa.table(table, sa.column(column))
        rows = connection.execute(sa.select(t.c[column]).distinct()).all()
        # One UPDATE per distinct token, set-based over its rows.
        updated = [{'old': token, 'new': keyring.rotate(token)}
                   for token, in rows]
        connection.execute(
            sa.update(t).where(t.c[column] == sa.bindparam('old'))
            .values({column: sa.bindparam('new')}), updated)
        counts[f'{table}.{column}'] = len(updated)
    return counts
