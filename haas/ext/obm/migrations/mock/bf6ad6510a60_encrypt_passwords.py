"""Passwords of the mock OBM encrypted at rest (mock_obm.password).

Each password becomes a Fernet token under the key file of [secrets]
(haas.crypto), which the model's `Encrypted` column reads.  SQL has no
Fernet, so it is done in Python, in one read and one executemany write
(haas.migrations.ops.encrypt_column).  The data check stops the upgrade
before anything changes when the table holds passwords and the key file
cannot be read, or holds tokens that it cannot decrypt.  The downgrade
decrypts them again, with the same key file.

Revision ID: bf6ad6510a60
Revises: a56855f9aa12
Create Date: 2027-01-10 12:00:00

"""
from haas.migrations.ops import decrypt_column, encrypt_column, key_check

# revision identifiers, used by Alembic.
revision = 'bf6ad6510a60'
down_revision = 'a56855f9aa12'
branch_labels = None
depends_on = None

# HaaS 0.3 reads the passwords as text.
phase = 'contract'

data_checks = [
    (key_check('mock_obm', 'password'),
     'mock_obm.password holds tokens that [secrets] key_file cannot '
     'decrypt: put back the key that encrypted them'),
]


def upgrade():
    encrypt_column('mock_obm', 'password')


def downgrade():
    decrypt_column('mock_obm', 'password')
