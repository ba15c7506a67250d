"""`haas-admin secrets`: the key file that encrypts the switch and BMC
passwords in the database (haas.crypto)."""

import click

from haas.commands.base import HaasGroup, with_app, with_config


@click.group(cls=HaasGroup)
def secrets():
    """The key file of [secrets]: make it, add a key, rotate to it."""


@secrets.command('generate-key')
@click.option('--add', is_flag=True,
              help='Put a new key first in the existing key file (the first '
                   'step of a rotation) instead of making the file.')
@with_config
def generate_key(add, config):
    """Make the key file of [secrets] key_file, with one new key.

    Refused if the file exists: it may hold the only key to the stored
    passwords.  With --add, a new key goes first in the existing file:
    new passwords are encrypted with it, the others are still read with
    the older keys until `haas-admin secrets rotate` re-encrypts them.
    """
    from haas import crypto
    from haas.errors import SecretsError
    keyring = crypto.Keyring(crypto.key_file(config))
    if add:
        keyring.add_key()
        click.echo(f'Added a new first key to {keyring.path}; restart the '
                   f'servers, then run `haas-admin secrets rotate`')
    elif keyring.create():
        click.echo(f'Created {keyring.path}: back it up apart from the '
                   f'database')
    else:
        raise SecretsError(f'the key file {keyring.path} exists already: '
                           f'use --add to put a new key in it')


@secrets.command()
@with_app
def rotate():
    """Encrypt every stored password again under the first key of the key
    file, in one transaction; then the other keys may be removed from it.
    Refused, with nothing changed, if a password cannot be decrypted."""
    from flask import current_app

    from haas import crypto
    from haas.model import db
    keyring = current_app.extensions['haas'].keyring
    with db.engine.begin() as connection:
        counts = crypto.rotate(keyring, connection, db.metadata)
    for column, count in counts.items():
        click.echo(f'{column}: {count} value{"s" if count != 1 else ""} '
                   f'encrypted with the first key')
