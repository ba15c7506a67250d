"""Passwords of the Cisco Nexus switch encrypted at rest (nexus.password).

Each password becomes a Fernet token under the key file of [secrets]
(haas.crypto), which the model's `Encrypted` column reads.  SQL has no
Fernet, so it is done in Python, in one read and one executemany write
(haas.migrations.ops.encrypt_column).  The data check stops the upgrade
before anything changes when the table holds passwords and the key file
cannot be read, or holds tokens that it cannot decrypt.  The downgrade
decrypts them again, with the same key file.

Revision ID: 8ecb0d349ed2
Revises: 7c3e91d04a52
Create Date: 2027-01-10 12:00:00

"""
from haas.migrations.ops import decrypt_column, encrypt_column, key_check

# revision identifiers, used by Alembic.
revision = '8ecb0d349ed2'
down_revision = '7c3e91d04a52'
branch_labels = None
depends_on = None

# HaaS 0.3 reads the passwords as text.
phase = 'contract'

data_checks = [
    (key_check('nexus', 'password'),
     'nexus.password holds tokens that [secrets] key_file cannot '
     'decrypt: put back the key that encrypted them'),
]


def upgrade():
    encrypt_column('nexus', 'password')


def downgrade():
    decrypt_column('nexus', 'password')
