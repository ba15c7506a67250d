"""Passwords of the Dell PowerConnect switch encrypted at rest (power_connect55xx.password).

Each password becomes a Fernet token under the key file of [secrets]
(haas.crypto), which the model's `Encrypted` column reads.  SQL has no
Fernet, so it is done in Python, in one read and one executemany write
(haas.migrations.ops.encrypt_column).  The data check stops the upgrade
before anything changes when the table holds passwords and the key file
cannot be read, or holds tokens that it cannot decrypt.  The downgrade
decrypts them again, with the same key file.

Revision ID: e9c7556cca0f
Revises: 7a8f49167416
Create Date: 2027-01-10 12:00:00

"""
from haas.migrations.ops import decrypt_column, encrypt_column, key_check

# revision identifiers, used by Alembic.
revision = 'e9c7556cca0f'
down_revision = '7a8f49167416'
branch_labels = None
depends_on = None

# HaaS 0.3 reads the passwords as text.
phase = 'contract'

data_checks = [
    (key_check('power_connect55xx', 'password'),
     'power_connect55xx.password holds tokens that [secrets] key_file cannot '
     'decrypt: put back the key that encrypted them'),
]


def upgrade():
    encrypt_column('power_connect55xx', 'password')


def downgrade():
    decrypt_column('power_connect55xx', 'password')
