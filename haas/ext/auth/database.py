"""Auth backend keeping users and passwords in the database (HTTP Basic).

Passwords are stored as Argon2 hashes, with the cost its config section
sets (argon2-cffi's defaults otherwise).  Hashes written by HaaS 0.2
(sha512_crypt), and hashes of an older cost, still verify and are replaced
at the next successful login.  A check that succeeded is remembered for a
while, and repeated failures are refused before anything is hashed (see
`logins`).
"""

import functools
import math
import os
import typing

import argon2
from flask import current_app, g, request
from sqlalchemy.orm import selectinload

from haas import auth, migrations
from haas.api.lookups import assert_absent, must_find
from haas.errors import (
    DuplicateError,
    HaasError,
    IllegalStateError,
    NotFoundError,
    TooManyRequestsError,
)
from haas.ext.auth.logins import LoginCache, Throttle
from haas.model import Key, Project, db
from haas.rest import Body, Name, Secret, rest_call

migrations.paths[__name__] = os.path.join(
    os.path.dirname(__file__), 'migrations', 'database')

user_projects = db.Table(
    'user_projects',
    db.Column('user_id', db.ForeignKey('user.id')),
    db.Column('project_id', db.ForeignKey('project.id')),
    info={'module': __name__},
)


def _hasher():
    return current_app.extensions['haas'].auth_backend.hasher


class User(db.Model):
    __tablename__ = 'user'
    id = db.Column(Key, primary_key=True)
    label = db.Column(db.String, nullable=False)
    is_admin = db.Column(db.Boolean, nullable=False, default=False)
    hashed_password = db.Column(db.String)

    projects = db.relationship('Project', secondary=user_projects,
                               backref='users')

    def set_password(self, password):
        self.hashed_password = _hasher().hash(password)

    def verify_password(self, password):
        """Whether `password` is this user's; a hash of an old scheme or
        cost is replaced by a current one when it is."""
        hashed = self.hashed_password or ''
        if hashed.startswith('$6$'):
            # Only HaaS 0.2's hashes need passlib; load it for them alone.
            from passlib.hash import sha512_crypt
            try:
                ok = sha512_crypt.verify(password, hashed)
            except ValueError:  # a NUL, or over 4096 bytes: not the one
                return False
            stale = True
        else:
            try:
                ok = _hasher().verify(hashed, password)
            except (argon2.exceptions.VerificationError,
                    argon2.exceptions.InvalidHashError):
                return False
            stale = _hasher().check_needs_rehash(hashed)
        if ok and stale:
            self.set_password(password)
        return ok


class DatabaseAuthBackend(auth.AuthBackend):
    keeps_users = True
    errors = (TooManyRequestsError,)

    def __init__(self, config):
        super().__init__(config)
        defaults = argon2.PasswordHasher()
        self.hasher = argon2.PasswordHasher(
            time_cost=config.count(__name__, 'hash_time_cost',
                                   defaults.time_cost),
            memory_cost=config.count(__name__, 'hash_memory_cost',
                                     defaults.memory_cost),
            parallelism=config.count(__name__, 'hash_parallelism',
                                     defaults.parallelism))
        # A hash costs a tenth of a second of CPU and tens of MiB by
        # design: paid on every call, it would bound the server to a few
        # calls a second, and let anyone burn its CPU with wrong passwords.
        self.cache = LoginCache(
            config.seconds(__name__, 'cache_seconds', 60),
            config.count(__name__, 'cache_size', 1000))
        self.throttle = Throttle(
            window=config.seconds(__name__, 'throttle_seconds', 300),
            per_address=config.count(__name__, 'failures_per_address', 20),
            per_user_address=config.count(
                __name__, 'failures_per_user_and_address', 5),
            per_user=config.count(__name__, 'failures_per_user', 100))

    def authenticate(self):
        # Nobody until proven: an application context that outlives one
        # request (a test's, a script's) must not lend the last caller.
        g.pop('auth_user', None)
        g.pop('auth_user_name', None)
        credentials = request.authorization
        if credentials is None or not credentials.password \
                or '\x00' in (credentials.username or ''):
            return False
        name, password = credentials.username, credentials.password
        address = request.remote_addr
        # Before the user is read and before anything is hashed: a refused
        # guess costs nothing, and the refusal cannot depend on whether
        # the user exists.
        wait = self.throttle.refusal(name, address)
        if wait is not None:
            raise TooManyRequestsError(
                'Too many failed logins: try again later.',
                retry_after=math.ceil(wait))
        # Read on every call, cached check or not: a deleted user, and a
        # change of rights, take effect at once.
        user = db.session.execute(db.select(User).filter_by(
            label=name).order_by(User.id).limit(1)).scalar()
        # An unknown user and a wrong password look alike to the caller,
        # in their answer and in their time: a hash is checked either way.
        if user is None:
            self._check_decoy(password)
            self.throttle.failed(name, address)
            return False
        stored = user.hashed_password
        if not self.cache.holds(name, password, stored):
            if not user.verify_password(password):
                self.throttle.failed(name, address)
                return False
            self.cache.add(name, password, stored)
            if user.hashed_password != stored:  # replaced at today's cost
                self.cache.add(name, password, user.hashed_password)
        self.throttle.succeeded(name, address)
        g.auth_user = user
        g.auth_user_name = name
        return True

    def caller(self):
        return g.get('auth_user_name')

    def forget(self):
        self.cache.clear()
        self.throttle.clear()

    @functools.cached_property
    def _decoy(self):
        return self.hasher.hash('not the password of any user')

    def _check_decoy(self, password):
        """Spend on an unknown user what a known one costs."""
        try:
            self.hasher.verify(self._decoy, password)
        except argon2.exceptions.VerificationError:
            pass

    def _user(self):
        return g.get('auth_user')

    def have_admin(self):
        user = self._user()
        return user is not None and user.is_admin

    def have_project_access(self, project):
        user = self._user()
        return user is not None and project in user.projects

    def create_admin_user(self, label, password):
        """Add an administrator; the first step after `db create`."""
        exists = db.session.execute(
            db.select(User.id).filter_by(label=label).limit(1)).first()
        if exists is not None:
            raise HaasError(f'user {label} already exists')
        user = User(label=label, is_admin=True)
        user.set_password(password)
        db.session.add(user)
        db.session.commit()


auth.backends[__name__] = DatabaseAuthBackend


# --- REST calls -----------------------------------------------------------

class UserCreation(Body):
    password: Secret
    is_admin: typing.Optional[bool] = False


@rest_call('PUT', '/auth/basic/user/<user>', body=UserCreation,
           errors=[DuplicateError])
def user_create(user, password, is_admin):
    """Create a user, an administrator with is_admin."""
    auth.require_admin()
    assert_absent(User, user)
    new = User(label=user, is_admin=bool(is_admin))
    new.set_password(password)
    db.session.add(new)


@rest_call('DELETE', '/auth/basic/user/<user>', errors=[NotFoundError])
def user_delete(user):
    """Delete a user (and their project memberships)."""
    auth.require_admin()
    user = must_find(User, user, lock=True)
    # A statement, not the relationship: HaaS 0.2's table has no key and
    # may hold a membership twice.
    db.session.execute(user_projects.delete().where(
        user_projects.c.user_id == user.id))
    db.session.delete(user)


class ProjectField(Body):
    project: Name


@rest_call('POST', '/auth/basic/user/<user>/add_project', body=ProjectField,
           errors=[NotFoundError, DuplicateError])
def user_add_project(user, project):
    """Make a user a member of a project."""
    auth.require_admin()
    user = must_find(User, user, lock=True)
    project = must_find(Project, project)
    if project in user.projects:
        raise DuplicateError(f'User {user.label} is already in project '
                             f'{project.label}')
    user.projects.append(project)


@rest_call('POST', '/auth/basic/user/<user>/remove_project',
           body=ProjectField, errors=[NotFoundError])
def user_remove_project(user, project):
    """End a user's membership of a project."""
    auth.require_admin()
    user = must_find(User, user, lock=True)
    project = must_find(Project, project)
    if project not in user.projects:
        raise NotFoundError(f'User {user.label} is not in project '
                            f'{project.label}')
    db.session.execute(user_projects.delete().where(
        user_projects.c.user_id == user.id,
        user_projects.c.project_id == project.id))
    db.session.expire(user, ['projects'])


class UserListing(Body):
    is_admin: bool
    projects: list[str]


@rest_call('GET', '/auth/basic/users', returns=dict[str, UserListing])
def list_users():
    """List the users: whether each is an administrator, and their
    projects."""
    auth.require_admin()
    users = db.session.execute(db.select(User).options(
        selectinload(User.projects)).order_by(User.label, User.id)).scalars()
    return {u.label: {'is_admin': u.is_admin,
                      'projects': sorted({p.label for p in u.projects})}
            for u in users}


class AdminFlag(Body):
    is_admin: bool


@rest_call('PATCH', '/auth/basic/user/<user>', body=AdminFlag,
           errors=[NotFoundError, IllegalStateError])
def user_set_admin(user, is_admin):
    """Make a user an administrator, or no longer one; not oneself."""
    auth.require_admin()
    user = must_find(User, user, lock=True)
    caller = g.get('auth_user')
    if caller is not None and caller.id == user.id:
        raise IllegalStateError('You cannot change your own administrator '
                                'flag.')
    user.is_admin = is_admin
