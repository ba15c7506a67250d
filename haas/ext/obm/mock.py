"""An OBM that does nothing: development and tests."""

import os

from haas import migrations
from haas.model import Obm, db

migrations.paths[__name__] = os.path.join(
    os.path.dirname(__file__), 'migrations', 'mock')


class MockObm(Obm):
    api_name = 'http://schema.massopencloud.org/haas/v0/obm/mock'
    __tablename__ = 'mock_obm'
    __mapper_args__ = {'polymorphic_identity': api_name}

    id = db.Column(db.ForeignKey('obm.id'), primary_key=True)
    host = db.Column(db.String, nullable=False)
    user = db.Column(db.String, nullable=False)
    password = db.Column(db.String, nullable=False)
