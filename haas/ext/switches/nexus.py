"""Driver for Cisco Nexus switches (telnet console)."""

import os

from haas import migrations
from haas.model import Switch, db

migrations.paths[__name__] = os.path.join(
    os.path.dirname(__file__), 'migrations', 'nexus')


class Nexus(Switch):
    api_name = 'http://schema.massopencloud.org/haas/v0/switches/nexus'
    __tablename__ = 'nexus'
    __mapper_args__ = {'polymorphic_identity': api_name}

    id = db.Column(db.ForeignKey('switch.id'), primary_key=True)
    hostname = db.Column(db.String, nullable=False)
    username = db.Column(db.String, nullable=False)
    password = db.Column(db.String, nullable=False)
    # A VLAN number kept as text, as HaaS 0.2 stored it.
    dummy_vlan = db.Column(db.String, nullable=False)
