"""OBM driver for IPMI BMCs, through ipmitool."""

import os

from haas import migrations
from haas.model import Obm, db

migrations.paths[__name__] = os.path.join(
    os.path.dirname(__file__), 'migrations', 'ipmi')


class Ipmi(Obm):
    api_name = 'http://schema.massopencloud.org/haas/v0/obm/ipmi'
    __tablename__ = 'ipmi'
    __mapper_args__ = {'polymorphic_identity': api_name}

    id = db.Column(db.ForeignKey('obm.id'), primary_key=True)
    host = db.Column(db.String, nullable=False)
    user = db.Column(db.String, nullable=False)
    password = db.Column(db.String, nullable=False)
