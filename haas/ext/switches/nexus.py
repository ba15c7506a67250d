"""Driver for Cisco Nexus switches (telnet console)."""

import os
import typing

from haas import migrations
from haas.crypto import Encrypted
from haas.model import Switch, db
from haas.rest import Body, Kind, Name, Secret


def _vlan_number(value):
    # Anything int() takes, in 0..4096, as HaaS 0.2 accepted it; kept as text.
    if isinstance(value, bool):
        raise ValueError('must be a VLAN number')
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError('must be a VLAN number') from None
    if not 0 <= number <= 4096:
        raise ValueError('must be between 0 and 4096')
    return str(number)


class DummyVlan(Kind):
    """A VLAN number, given as a JSON number or as text."""

    @classmethod
    def pydantic(cls):
        import pydantic
        return typing.Annotated[
            typing.Union[int, str],
            pydantic.WithJsonSchema({'anyOf': [
                {'type': 'integer', 'minimum': 0, 'maximum': 4096},
                {'type': 'string'}]}),
            pydantic.PlainValidator(_vlan_number)]


migrations.paths[__name__] = os.path.join(
    os.path.dirname(__file__), 'migrations', 'nexus')


class Nexus(Switch):
    api_name = 'http://schema.massopencloud.org/haas/v0/switches/nexus'
    __tablename__ = 'nexus'
    __mapper_args__ = {'polymorphic_identity': api_name}

    class Fields(Body):
        hostname: Name
        username: Name
        password: Secret
        dummy_vlan: DummyVlan

    id = db.Column(db.ForeignKey('switch.id'), primary_key=True)
    hostname = db.Column(db.String, nullable=False)
    username = db.Column(db.String, nullable=False)
    # A Fernet token in the database (haas.crypto); text here.
    password = db.Column(Encrypted, nullable=False)
    # A VLAN number kept as text, as HaaS 0.2 stored it.
    dummy_vlan = db.Column(db.String, nullable=False)
