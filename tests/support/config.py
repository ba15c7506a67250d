"""The configurations the tests run HaaS with: sets of extensions and the
text of a haas.cfg."""

import os

#: The extensions HaaS runs with when haas.cfg names none.
DEFAULT_EXTENSIONS = [
    'haas.ext.auth.null',
    'haas.ext.network_allocators.null',
    'haas.ext.switches.mock',
    'haas.ext.obm.mock',
]

#: Every extension with tables, as loaded when the HaaS 0.2 dump was made.
LEGACY_EXTENSIONS = [
    'haas.ext.auth.database',
    'haas.ext.network_allocators.vlan_pool',
    'haas.ext.switches.mock',
    'haas.ext.switches.nexus',
    'haas.ext.switches.dell',
    'haas.ext.obm.mock',
    'haas.ext.obm.ipmi',
]
LEGACY_VLANS = '100-200, 300-500'

API_EXTENSIONS = ['haas.ext.auth.database',
                  'haas.ext.network_allocators.vlan_pool',
                  'haas.ext.switches.mock', 'haas.ext.obm.mock']

#: Argon2 at its lowest cost: a login costs a fraction of a millisecond
#: instead of a tenth of a second.
CHEAP_HASHES = ('[haas.ext.auth.database]\nhash_time_cost = 1\n'
                'hash_memory_cost = 8\nhash_parallelism = 1\n')

#: The same without authentication: everyone is an administrator.
NULL_AUTH_EXTENSIONS = ['haas.ext.auth.null',
                        'haas.ext.network_allocators.null',
                        'haas.ext.switches.mock', 'haas.ext.obm.mock']

#: Headnode images, libvirt's test driver, and dry_run: no VM is touched.
HEADNODE_CONFIG = ('[headnode]\nbase_imgs = base-headnode, img1 ,img2\n'
                   'libvirt_endpoint = test:///default\n'
                   '[devel]\ndry_run =\n')


#: The key file of every PostgreSQL database of the tests, so that a test
#: and the servers and commands it starts elsewhere (another directory,
#: another haas.cfg) share it.  A SQLite database keeps its own beside it.
TEST_KEY_FILE = os.path.join(os.path.dirname(__file__), os.pardir,
                             'fixtures', 'secrets.key')


def config_text(uri, extensions=DEFAULT_EXTENSIONS, vlans=LEGACY_VLANS,
                extra=''):
    """The text of a haas.cfg for `uri` with `extensions` enabled."""
    lines = ['[database]', f'uri = {uri}', '[extensions]']
    if not uri.startswith('sqlite') and '[secrets]' not in extra:
        extra = f'[secrets]\nkey_file = {os.path.abspath(TEST_KEY_FILE)}\n' \
            + extra
    lines += [f'{name} =' for name in extensions]
    if 'haas.ext.network_allocators.vlan_pool' in extensions:
        lines += ['[haas.ext.network_allocators.vlan_pool]',
                  f'vlans = {vlans}']
    return '\n'.join(lines) + '\n' + extra
