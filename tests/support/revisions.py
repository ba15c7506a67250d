"""Migration scripts: the revisions of HaaS's own branches, and scripts
written by hand for a test."""

import pathlib

from haas.migrations import LEDGER

#: Core's revisions, first to last: its HaaS 0.2 baseline, where a 0.2
#: database is adopted, then HaaS 0.3's, among them DEPENDED_ON, on which
#: every extension's 0.3 revision depends, and ending at CORE_0_3, then
#: those made since (the head is past release 0.3, in release 0.4).
CORE_REVISIONS = ['6a8c19565060', 'b5f9f30f275f', '5a8438c6d019',
                  '956783fe5a7b', '153502badb2b', '3c2af72d0b46',
                  '6ab9ae569654', 'eba7cfa60973', 'ee4142f61a1b',
                  'a7c6e21bf432', '3c8b1139f71f', '3cbce94efc51',
                  'd7e4a1c9b352', 'e0635646ea80']
CORE_BASELINE, CORE_HEAD = CORE_REVISIONS[0], CORE_REVISIONS[-1]
CORE_0_3 = 'eba7cfa60973'
#: Core's 0.3 revision on which every extension's 0.3 revision depends:
#: the one before CORE_0_3, which no extension of 0.3 needs.
DEPENDED_ON = '6ab9ae569654'

LEDGER_HEAD = '82a6f7041729'
SWITCH_HEAD = '8bdf5c902a41'
OBM_HEAD = 'bf6ad6510a60'
#: The mock drivers' HaaS 0.3 revisions, before their passwords were
#: encrypted.
SWITCH_0_3 = 'b9d87c7080f1'
OBM_0_3 = 'a56855f9aa12'
#: The mock drivers' HaaS 0.2 baselines.  Their 0.3 revisions widen keys
#: only, which the comparison of shapes (generic types) does not see: the
#: tables of either match the baseline first.
SWITCH_BASELINE = 'b5b31d19257d'
OBM_BASELINE = 'df8d9f423f2b'

#: Branches, by their names.
CORE = 'haas'
OBM = 'haas.ext.obm.mock'
SWITCH = 'haas.ext.switches.mock'
VLAN = 'haas.ext.network_allocators.vlan_pool'


def widened(revision, what):
    """An extension's HaaS 0.3 revision: it creates no table."""
    return revision, f'HaaS 0.3: the keys of {what} are 64-bit.', []


def encrypted(revision, what, table):
    """A driver's revision that encrypts its passwords: no table."""
    return (revision, f'Passwords of the {what} encrypted at rest '
            f'({table}.password).', [])


#: Branch -> its scripts, first to last: (revision, the first line of its
#: message, the tables it creates).
SCRIPTS = {
    LEDGER: [('82a6f7041729', 'Create the migration ledger, '
              '`haas_schema_ledger`.', ['haas_schema_ledger'])],
    CORE: [(revision, message, created) for revision, (message, created) in
           zip(CORE_REVISIONS, [
               ('HaaS 0.2 baseline of core: adopt a pre-versioning database, '
                'or create.',
                ['project', 'obm', 'switch', 'node', 'port', 'nic', 'network',
                 'headnode', 'hnic', 'networking_action',
                 'network_attachment']),
               ("HaaS 0.3: a network's creator is its owner.", []),
               ("HaaS 0.3: a network's access is a list of projects.",
                ['network_projects']),
               ('HaaS 0.3: networking actions keep a uuid, a status and a '
                'type.', []),
               ('HaaS 0.3: nodes carry metadata, in the metadata table.',
                ['metadata']),
               ("HaaS 0.3: core's primary and foreign keys are 64-bit.", []),
               ('HaaS 0.3: network, node, project and switch labels are '
                'unique.', []),
               ('Networking actions keep the reason they failed, in '
                'networking_action.error.', []),
               ('Networking actions name the port they change, and may '
                'have no nic.', []),
               ('Nodes say whether their OBM is enabled '
                '(node.obm_enabled).', []),
               ('Networking actions keep when and by which request they '
                'were queued.', []),
               ('Daemons keep a heartbeat, in daemon_heartbeat.',
                ['daemon_heartbeat']),
               ('Nodes keep a console log, in console_log.', ['console_log']),
               ("Networking actions queued before 0.4 get their nic's "
                'port.', []),
           ], strict=True)],
    'haas.ext.obm.ipmi': [
        ('4b9e9d637c6b', 'HaaS 0.2 baseline of the IPMI OBM driver: create '
         '`ipmi` unless it exists.', ['ipmi']),
        widened('bfe71cdb8f5d', 'the IPMI OBM'),
        encrypted('2de6116630a2', 'IPMI BMC', 'ipmi')],
    OBM: [('df8d9f423f2b', 'HaaS 0.2 baseline of the mock OBM: adopt '
           '`mockobm`, or create.', ['mock_obm']),
          widened('a56855f9aa12', 'the mock OBM'),
          encrypted('bf6ad6510a60', 'mock OBM', 'mock_obm')],
    'haas.ext.switches.dell': [
        ('099b939261c1', 'HaaS 0.2 baseline of the Dell PowerConnect 55xx '
         'switch driver: adopt `powerconnect55xx`, or create.',
         ['power_connect55xx']),
        widened('9d5f2cab3511', 'the Dell PowerConnect switch'),
        ('4f1c2e8a7b30', 'A PowerConnect switch may save its configuration '
         'after each change.', []),
        ('7a8f49167416', 'A PowerConnect switch may be reached over '
         'telnet.', []),
        encrypted('e9c7556cca0f', 'Dell PowerConnect switch',
                  'power_connect55xx')],
    'haas.ext.switches.brocade': [
        ('c4e1b7a09d32', "Create `brocade`, the Brocade NOS switch driver's "
         'table.', ['brocade'])],
    'haas.ext.switches.dellnos9': [
        ('7d2f90b3a5e8', "Create `dell_nos9`, the Dell OS9 switch driver's "
         'table.', ['dell_nos9'])],
    'haas.ext.switches.nexus': [
        ('bf72d2ab7e56', 'HaaS 0.2 baseline of the Cisco Nexus switch '
         'driver: create `nexus` unless it exists.', ['nexus']),
        widened('45b6520d2c63', 'the Cisco Nexus switch'),
        ('7c3e91d04a52', 'A Nexus switch may save its configuration after '
         'each change.', []),
        encrypted('8ecb0d349ed2', 'Cisco Nexus switch', 'nexus')],
    VLAN: [('652c395af394', 'HaaS 0.2 baseline of the VLAN pool allocator: '
            'create `vlan`.', ['vlan']),
           widened('6061f125b415', 'the VLAN pool')],
    SWITCH: [('b5b31d19257d', 'HaaS 0.2 baseline of the mock switch: adopt '
              '`mockswitch`, or create.', ['mock_switch']),
             widened('b9d87c7080f1', 'the mock switch'),
             encrypted('8bdf5c902a41', 'mock switch', 'mock_switch')],
    'haas.ext.auth.database': [
        ('570e90107adc', 'HaaS 0.2 baseline of database auth: create `user` '
         'and `user_projects`.', ['user', 'user_projects']),
        widened('15084df56fa8', 'the database auth backend')],
}

#: Core's scripts through DEPENDED_ON, on whose last every extension's
#: 0.3 revision depends, and those after it, on which none of those
#: depends.
TO_DEPENDED = SCRIPTS[CORE][:CORE_REVISIONS.index(DEPENDED_ON) + 1]
LATER = SCRIPTS[CORE][len(TO_DEPENDED):]


def upgrades(*branches):
    """(branch, script) of every script of `branches`, in the order an
    upgrade runs them: core's after DEPENDED_ON after the others, which
    need only core's DEPENDED_ON."""
    steps = [(b, script) for b in branches for script in SCRIPTS[b]
             if not (b == CORE and script in LATER)]
    return steps + [(CORE, script) for script in LATER if CORE in branches]


def described(script):
    rev, message, _ = script
    return f'{rev} ({message})'


SCRIPT = '''"""{message}

Revision ID: {revision}
Revises: {down}
"""
from alembic import op
import sqlalchemy as sa

revision = {revision!r}
down_revision = {down!r}
branch_labels = {labels!r}
depends_on = {depends!r}
{attributes}

def upgrade():
    {upgrade}


def downgrade():
    {downgrade}
'''


def write_script(folder, revision, down=None, labels=(), depends=None,
                 upgrade='pass', downgrade='pass', message=None,
                 attributes=''):
    """A migration script written by hand into `folder`: `upgrade` and
    `downgrade` are the bodies of its functions, `attributes` module-level
    lines (``transactional = False``)."""
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f'{revision}_test.py').write_text(SCRIPT.format(
        message=message or f'revision {revision}', revision=revision,
        down=down, labels=labels or None, depends=depends,
        attributes=attributes, upgrade=upgrade, downgrade=downgrade))
