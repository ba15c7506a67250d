"""Allocator handing out VLANs from the pool given in its config section.

``[haas.ext.network_allocators.vlan_pool] vlans = 100-200, 300-500``.
`db create` adds every VLAN of that list the pool lacks, so VLANs can be
added later by re-running it.
"""

import os

import sqlalchemy as sa

from haas import migrations, network_allocator
from haas.errors import BlockedError, ConfigError
from haas.model import Key, db

migrations.paths[__name__] = os.path.join(
    os.path.dirname(__file__), 'migrations', 'vlan_pool')


class Vlan(db.Model):
    __tablename__ = 'vlan'
    id = db.Column(Key, primary_key=True)
    vlan_no = db.Column(db.Integer, nullable=False, unique=True)
    available = db.Column(db.Boolean, nullable=False)


def parse_vlans(text):
    """``"14, 35-40"`` -> [14, 35, 36, 37, 38, 39, 40]."""
    vlans = []
    for item in text.split(','):
        item = item.strip()
        try:
            if '-' in item:
                low, high = (int(part) for part in item.split('-', 1))
                if low > high:
                    raise ValueError
                vlans.extend(range(low, high + 1))
            else:
                vlans.append(int(item))
        except ValueError:
            raise ConfigError(
                f'[{__name__}] vlans: {item!r} is neither a VLAN number '
                f'nor a range A-B') from None
    bad = [v for v in vlans if not 1 <= v <= 4094]
    if bad:
        raise ConfigError(f'[{__name__}] vlans: {bad[0]} is not a VLAN '
                          f'number (1-4094)')
    return vlans


def vlan_number(net_id):
    """The number that `net_id` spells in ASCII digits, or None (str.isdigit
    alone takes digits such as '²', which int() refuses)."""
    text = str(net_id)
    return int(text) if text.isascii() and text.isdigit() else None


class VlanAllocator(network_allocator.NetworkAllocator):
    def __init__(self, config):
        super().__init__(config)
        self.vlans = parse_vlans(config.require(__name__, 'vlans'))

    def get_new_network_id(self):
        # SKIP LOCKED: concurrent API servers each take a different VLAN.
        vlan = db.session.execute(
            db.select(Vlan).filter_by(available=True).order_by(Vlan.vlan_no)
            .limit(1).with_for_update(skip_locked=True)).scalar_one_or_none()
        if vlan is None:
            return None
        vlan.available = False
        return str(vlan.vlan_no)

    def free_network_id(self, net_id):
        number = vlan_number(net_id)
        if number is None:
            return  # not one of the pool's (another allocator gave it)
        db.session.execute(db.update(Vlan).where(Vlan.vlan_no == number)
                           .values(available=True))

    def validate_network_id(self, net_id):
        number = vlan_number(net_id)
        return number is not None and 1 <= number <= 4094

    def claim_network_id(self, net_id):
        # Locked: of two networks given one VLAN at once, one gets it.
        vlan = db.session.execute(
            db.select(Vlan).filter_by(vlan_no=vlan_number(net_id))
            .with_for_update()).scalar_one_or_none()
        if vlan is None:
            return False
        if not vlan.available:
            raise BlockedError(f'VLAN {net_id} is in use by another network')
        vlan.available = False
        return True

    def populate(self, connection):
        table = Vlan.__table__
        present = set(connection.execute(sa.select(table.c.vlan_no)).scalars())
        missing = [v for v in dict.fromkeys(self.vlans) if v not in present]
        if missing:
            connection.execute(sa.insert(table), [
                {'vlan_no': v, 'available': True} for v in missing])
        return len(missing)

    def legal_channels_for(self, net_id):
        return ['vlan/native', f'vlan/{net_id}']

    def get_default_channel(self):
        return 'vlan/native'


network_allocator.allocators[__name__] = VlanAllocator
