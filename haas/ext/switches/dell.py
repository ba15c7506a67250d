"""Driver for Dell PowerConnect 55xx switches (telnet console)."""

import os

from haas import migrations
from haas.crypto import Encrypted
from haas.model import Switch, db
from haas.rest import Body, Name, Secret

migrations.paths[__name__] = os.path.join(
    os.path.dirname(__file__), 'migrations', 'dell')


class PowerConnect55xx(Switch):
    api_name = 'http://schema.massopencloud.org/haas/v0/switches/powerconnect55xx'
    __tablename__ = 'power_connect55xx'
    __mapper_args__ = {'polymorphic_identity': api_name}

    class Fields(Body):
        hostname: Name
        username: Name
        password: Secret

    id = db.Column(db.ForeignKey('switch.id'), primary_key=True)
    hostname = db.Column(db.String, nullable=False)
    username = db.Column(db.String, nullable=False)
    # A Fernet token in the database (haas.crypto); text here.
    password = db.Column(Encrypted, nullable=False)
