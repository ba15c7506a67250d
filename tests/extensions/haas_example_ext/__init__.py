"""An extension living outside HaaS's tree: it keeps widgets per project.

It registers its own migration folder and branch, as any third-party
extension does; the tests copy it to a scratch directory before use.
"""

import os

from haas import migrations
from haas.model import db

migrations.paths[__name__] = os.path.join(os.path.dirname(__file__),
                                          'migrations')


class ExampleWidget(db.Model):
    __tablename__ = 'example_widget'
    id = db.Column(db.Integer, primary_key=True)
    label = db.Column(db.String, nullable=False)
    project_id = db.Column(db.ForeignKey('project.id'), nullable=False)
