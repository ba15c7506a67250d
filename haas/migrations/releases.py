"""HaaS's releases, as the revisions of its branches.

Each release maps every branch of HaaS's own tree (core and the
extensions it ships) to the revision that release's scripts end at.
`db status` names the release a database matches, and `upgrade
--to-release` stops each branch at its release's revision.  The ledger is
bookkeeping, brought up by any upgrade, and belongs to no release; so do
extensions from other packages, which keep releases of their own.

A release's entry is written when it is made, and never changes after;
but for the one being made (UNRELEASED), whose entry follows the heads of
HaaS's branches until it is released, and whose revisions may still
change until then (tests/test_evolution.py keeps the two equal).
"""

from haas.migrations.registry import CORE

BASELINES = {
    CORE: '6a8c19565060',
    'haas.ext.auth.database': '570e90107adc',
    'haas.ext.network_allocators.vlan_pool': '652c395af394',
    'haas.ext.obm.ipmi': '4b9e9d637c6b',
    'haas.ext.obm.mock': 'df8d9f423f2b',
    'haas.ext.switches.dell': '099b939261c1',
    'haas.ext.switches.mock': 'b5b31d19257d',
    'haas.ext.switches.nexus': 'bf72d2ab7e56',
}

#: Release -> {branch: revision}, oldest first.
RELEASES = {
    # The baselines: the schema HaaS 0.2 made, adopted or created.
    '0.2': BASELINES,
    # Owners, access lists, unique labels, action status and errors, node
    # metadata and 64-bit keys.
    '0.3': {
        CORE: 'eba7cfa60973',
        'haas.ext.auth.database': '15084df56fa8',
        'haas.ext.network_allocators.vlan_pool': '6061f125b415',
        'haas.ext.obm.ipmi': 'bfe71cdb8f5d',
        'haas.ext.obm.mock': 'a56855f9aa12',
        'haas.ext.switches.dell': '9d5f2cab3511',
        'haas.ext.switches.mock': 'b9d87c7080f1',
        'haas.ext.switches.nexus': '45b6520d2c63',
    },
    # Real switch drivers, ports' own actions, nodes' OBM switch and
    # console logs, daemons' heartbeats, passwords encrypted at rest.
    '0.4': {
        CORE: 'e0635646ea80',
        'haas.ext.auth.database': '15084df56fa8',
        'haas.ext.network_allocators.vlan_pool': '6061f125b415',
        'haas.ext.obm.ipmi': '2de6116630a2',
        'haas.ext.obm.mock': 'bf6ad6510a60',
        'haas.ext.switches.dell': 'e9c7556cca0f',
        'haas.ext.switches.mock': '8bdf5c902a41',
        'haas.ext.switches.nexus': '8ecb0d349ed2',
        'haas.ext.switches.brocade': 'c4e1b7a09d32',
        'haas.ext.switches.dellnos9': '7d2f90b3a5e8',
        'haas.ext.switches.n3000': '5990e8f736a1',
    },
}

#: The release being made, None between releases (see the docstring):
#: the next revision of a branch of HaaS starts the next release, with an
#: entry of its own (tests/test_evolution.py says so).
UNRELEASED = None


class Release:
    """A target of `upgrade --to-release`: a release's revisions."""

    def __init__(self, name):
        from haas.errors import MigrationError
        if name not in RELEASES:
            raise MigrationError(
                f'there is no HaaS release {name}: this HaaS knows '
                f'{", ".join(names())}')
        self.name = name
        self.revisions = RELEASES[name]

    def __str__(self):
        return f'release {self.name}'


def describe(name):
    """`name` as status shows it: an unreleased one says so."""
    if name == UNRELEASED:
        return f'{name} (not released yet: its revisions may still change)'
    return name


def names():
    return list(RELEASES)


def matching(stamped):
    """The release whose revisions `stamped` ({branch: revision}) has on
    every branch of HaaS's tree that it stamps, core among them; None if
    it has none (between two releases, newer, or not created)."""
    known = {b for heads in RELEASES.values() for b in heads}
    ours = {b: r for b, r in stamped.items() if b in known}
    if CORE not in ours:
        return None
    for release, heads in reversed(RELEASES.items()):
        if all(heads.get(b) == r for b, r in ours.items()):
            return release
    return None
