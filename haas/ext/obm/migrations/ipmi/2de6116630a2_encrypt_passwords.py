"""Passwords of the IPMI BMC encrypted at rest (ipmi.password).

Each password becomes a Fernet token under the key file of [secrets]
(haas.crypto), which the model's `Encrypted` column reads.  SQL has no
Fernet, so it is done in Python, in one read and one executemany write
(haas.migrations.ops.encrypt_column).  The data check stops the upgrade
before anything changes when the table holds passwords and the key file
cannot be read, or holds tokens that it cannot decrypt.  The downgrade
decrypts them again, with the same key file.

Revision ID: 2de6116630a2
Revises: bfe71cdb8f5d
Create Date: 2027-01-10 12:00:00

"""
from haas.migrations.ops import decrypt_column, encrypt_column, key_check

# revision identifiers, used by Alembic.
revision = '2de6116630a2'
down_revision = 'bfe71cdb8f5d'
branch_labels = None
depends_on = None

# HaaS 0.3 reads the passwords as text.
phase = 'contract'

data_checks = [
    (key_check('ipmi', 'password'),
     'ipmi.password holds tokens that [secrets] key_file cannot '
     'decrypt: put back the key that encrypted them'),
]


def upgrade():
    encrypt_column('ipmi', 'password')


def downgrade():
    decrypt_column('ipmi', 'password')
