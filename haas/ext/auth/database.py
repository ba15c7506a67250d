"""Auth backend keeping users and passwords in the database (HTTP Basic).

New passwords are hashed with Argon2; hashes written by HaaS 0.2
(sha512_crypt) are still accepted.
"""

import os

import argon2
from flask import g, request

from haas import auth, migrations
from haas.errors import HaasError
from haas.model import db

migrations.paths[__name__] = os.path.join(
    os.path.dirname(__file__), 'migrations', 'database')

_hasher = argon2.PasswordHasher()

user_projects = db.Table(
    'user_projects',
    db.Column('user_id', db.ForeignKey('user.id')),
    db.Column('project_id', db.ForeignKey('project.id')),
    info={'module': __name__},
)


class User(db.Model):
    __tablename__ = 'user'
    id = db.Column(db.Integer, primary_key=True)
    label = db.Column(db.String, nullable=False)
    is_admin = db.Column(db.Boolean, nullable=False, default=False)
    hashed_password = db.Column(db.String)

    projects = db.relationship('Project', secondary=user_projects,
                               backref='users')

    def set_password(self, password):
        self.hashed_password = _hasher.hash(password)

    def verify_password(self, password):
        hashed = self.hashed_password or ''
        if hashed.startswith('$6$'):
            # Only HaaS 0.2's hashes need passlib; load it for them alone.
            from passlib.hash import sha512_crypt
            return sha512_crypt.verify(password, hashed)
        try:
            return _hasher.verify(hashed, password)
        except (argon2.exceptions.VerificationError,
                argon2.exceptions.InvalidHashError):
            return False


class DatabaseAuthBackend(auth.AuthBackend):
    def authenticate(self):
        credentials = request.authorization
        if credentials is None or not credentials.password:
            return False
        user = db.session.execute(db.select(User).filter_by(
            label=credentials.username)).scalar_one_or_none()
        # An unknown user and a wrong password look alike to the caller.
        if user is None or not user.verify_password(credentials.password):
            return False
        g.auth_user = user
        return True

    def _user(self):
        return g.get('auth_user')

    def have_admin(self):
        user = self._user()
        return user is not None and user.is_admin

    def have_project_access(self, project):
        user = self._user()
        return user is not None and project in user.projects


def create_admin_user(label, password):
    """Add an administrator; the first step after `db create`."""
    exists = db.session.execute(
        db.select(User.id).filter_by(label=label)).first()
    if exists is not None:
        raise HaasError(f'user {label} already exists')
    user = User(label=label, is_admin=True)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()


auth.backends[__name__] = DatabaseAuthBackend
