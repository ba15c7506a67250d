"""The REST calls: each looks up its objects, checks authorization, acts."""

from haas import auth
from haas.errors import DuplicateError
from haas.model import Project, db
from haas.rest import rest_call


def assert_absent(cls, label):
    """DuplicateError if a `cls` labelled `label` exists."""
    exists = db.session.execute(
        db.select(cls.id).filter_by(label=label)).first()
    if exists is not None:
        raise DuplicateError(f'{cls.__name__} {label} already exists.')


@rest_call('GET', '/projects')
def list_projects():
    auth.require_admin()
    labels = db.session.execute(
        db.select(Project.label).order_by(Project.label)).scalars()
    return list(labels)


@rest_call('PUT', '/project/<project>')
def project_create(project):
    auth.require_admin()
    assert_absent(Project, project)
    db.session.add(Project(label=project))
