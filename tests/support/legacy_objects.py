"""The objects of the HaaS 0.2 legacy dump, built through the models.
A fresh database plus `populate()` must equal the dump after
`db upgrade heads`.
"""

from haas.ext.network_allocators.vlan_pool import Vlan
from haas.ext.obm.mock import MockObm
from haas.ext.switches.mock import MockSwitch
from haas.model import Headnode, Hnic, Network, Nic, Node, Port, Project, db

# Every id below comes from insertion order: each list is in id order, and
# the objects are added to the session in that order, table by table.

PROJECTS = ['runway', 'manhattan', 'empty-project']

# (label, hostname, username, password); both are mock switches.
SWITCHES = [
    ('empty-switch', 'empty', 'alice', 'secret'),
    ('stock_switch_0', 'stock', 'bob', 'password'),
]

# (label, switch label)
PORTS = [
    ('free_port_0', 'stock_switch_0'),
    ('free_port_1', 'stock_switch_0'),
    ('runway_node_0_port', 'stock_switch_0'),
    ('runway_node_1_port', 'stock_switch_0'),
    ('manhattan_node_0_port', 'stock_switch_0'),
    ('manhattan_node_1_port', 'stock_switch_0'),
    ('free_node_0_port', 'stock_switch_0'),
    ('free_node_1_port', 'stock_switch_0'),
]

# (label, project label or None for a free node, mock OBM host); each node
# gets its own OBM, so OBM ids follow node ids.
NODES = [
    ('runway_node_0', 'runway', 'runway_node_0'),
    ('runway_node_1', 'runway', 'runway_node_1'),
    ('manhattan_node_0', 'manhattan', 'manhattan_node_0'),
    ('manhattan_node_1', 'manhattan', 'manhattan_node_1'),
    ('free_node_0', None, 'free_node_0'),
    ('free_node_1', None, 'free_node_1'),
    ('no_nic_node', None, 'hostname'),
]
OBM_USER = 'user'
OBM_PASSWORD = 'password'

# (node label, nic label, port label or None)
NICS = [
    ('runway_node_0', 'boot-nic', None),
    ('runway_node_0', 'nic-with-port', 'runway_node_0_port'),
    ('runway_node_1', 'boot-nic', None),
    ('runway_node_1', 'nic-with-port', 'runway_node_1_port'),
    ('manhattan_node_0', 'boot-nic', None),
    ('manhattan_node_0', 'nic-with-port', 'manhattan_node_0_port'),
    ('manhattan_node_1', 'boot-nic', None),
    ('manhattan_node_1', 'nic-with-port', 'manhattan_node_1_port'),
    ('free_node_0', 'boot-nic', None),
    ('free_node_0', 'nic-with-port', 'free_node_0_port'),
    ('free_node_1', 'boot-nic', None),
    ('free_node_1', 'nic-with-port', 'free_node_1_port'),
]
NIC_MAC = 'Unknown'

# (label, owner, access, allocated, network_id), as HaaS 0.2 had them: None
# for owner (0.2's creator) means the admin; access is the one project of
# the access list, or None for an empty list (public).  The allocated
# networks hold the VLANs the pool handed out, in order: those are in
# ALLOCATED_VLANS.
NETWORKS = [
    ('stock_int_pub', None, None, True, '100'),
    ('stock_ext_pub', None, None, False, 'ext_pub_chan'),
    ('pub_default', None, None, True, '101'),
    ('runway_pxe', 'runway', 'runway', True, '102'),
    ('runway_provider', None, 'runway', False, 'runway_provider_chan'),
    ('manhattan_pxe', 'manhattan', 'manhattan', True, '103'),
    ('manhattan_provider', None, 'manhattan', False,
     'manhattan_provider_chan'),
]
ALLOCATED_VLANS = [100, 101, 102, 103]

# (label, project label, dirty)
HEADNODES = [
    ('runway_headnode_on', 'runway', False),
    ('runway_headnode_off', 'runway', True),
    ('runway_manhattan_on', 'manhattan', False),
    ('runway_manhattan_off', 'manhattan', True),
]
HEADNODE_IMG = 'base-headnode'

# Every headnode has these hnics, in this order: (label, network label).
HNICS = [
    ('pxe', None),
    ('public', 'pub_default'),
]


def populate():
    """Add the dump's objects to the current app's database and commit."""
    session = db.session

    projects = {label: Project(label=label) for label in PROJECTS}
    session.add_all(projects.values())

    switches = {}
    for label, hostname, username, password in SWITCHES:
        switches[label] = MockSwitch(label=label, hostname=hostname,
                                     username=username, password=password)
    session.add_all(switches.values())

    ports = {label: Port(label=label, owner=switches[switch])
             for label, switch in PORTS}
    session.add_all(ports.values())

    nodes = {}
    for label, project, obm_host in NODES:
        obm = MockObm(host=obm_host, user=OBM_USER, password=OBM_PASSWORD)
        nodes[label] = Node(label=label, obm=obm,
                            project=projects.get(project))
    session.add_all(nodes.values())

    session.add_all(
        Nic(label=label, owner=nodes[node], mac_addr=NIC_MAC,
            port=ports.get(port))
        for node, label, port in NICS)

    networks = {}
    for label, owner, access, allocated, network_id in NETWORKS:
        networks[label] = Network(
            label=label, owner=projects.get(owner),
            access=[projects[access]] if access else [],
            allocated=allocated, network_id=network_id)
    session.add_all(networks.values())

    for label, project, dirty in HEADNODES:
        headnode = Headnode(label=label, project=projects[project],
                            dirty=dirty, base_img=HEADNODE_IMG)
        session.add(headnode)
        session.add_all(
            Hnic(label=hnic, owner=headnode, network=networks.get(network))
            for hnic, network in HNICS)

    # The VLAN rows exist already (`db create` fills the pool); the ones
    # the allocated networks hold are taken.
    session.execute(db.update(Vlan)
                    .where(Vlan.vlan_no.in_(ALLOCATED_VLANS))
                    .values(available=False))

    session.commit()
