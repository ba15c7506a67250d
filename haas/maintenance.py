"""The maintenance pool (HIL #848): where a node a project gives back goes,
powered off and off every network, until an administrator frees it.

With `[maintenance] project` set, project_detach_node moves a node into
that project instead of freeing it: its ports are reverted (by the
networking daemon, as any revert), its console stopped and cleared, and,
once the move is committed, it is powered off through its OBM and the
optional `[maintenance] url` is told.  Detaching a node from the
maintenance project itself frees it, as a detach without the pool does.

The move never waits on a device: a BMC that refuses or does not answer,
or a URL that fails, is logged (with the request's id) and the node stays
in the maintenance project, where an administrator sees it.
"""

from __future__ import annotations

import dataclasses
import logging
import typing
import urllib.parse

from haas import audit
from haas.errors import BlockedError, ConfigError, OBMError

if typing.TYPE_CHECKING:
    from haas.config import Config
    from haas.model import Node

log = logging.getLogger(__name__)

SECTION = 'maintenance'
#: Default of [maintenance] timeout: seconds the notification may take.
TIMEOUT = 5.0


@dataclasses.dataclass(frozen=True)
class Pool:
    """`[maintenance]`, read and checked."""

    project: str
    url: str | None = None
    timeout: float = TIMEOUT
    token: str | None = None


def pool(config: Config) -> Pool | None:
    """The maintenance pool `config` sets up, or None when it sets none;
    ConfigError for an option that cannot work.  Whether the project
    exists is the database's to say, at the first detach (`project`)."""
    label = (config.get(SECTION, 'project') or '').strip()
    url = (config.get(SECTION, 'url') or '').strip() or None
    token = (config.get(SECTION, 'token') or '').strip() or None
    if not label:
        if url is not None or token is not None:
            raise ConfigError(f'[{SECTION}] url and token need '
                              f'[{SECTION}] project, which is missing')
        return None
    if url is not None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ('http', 'https') or not parts.hostname:
            raise ConfigError(f'[{SECTION}] url must be an http:// or '
                              f'https:// URL, not {url!r}')
    timeout = config.seconds(SECTION, 'timeout', TIMEOUT)
    if not 0 < timeout <= 60:
        raise ConfigError(f'[{SECTION}] timeout must be a number of seconds, '
                          f'more than 0 and at most 60, not '
                          f'{config.get(SECTION, "timeout")!r}')
    return Pool(label, url, timeout, token)


def project(found: Pool) -> typing.Any:
    """The maintenance project, locked against its deletion while a node
    moves in; BlockedError (409) when no project has its label."""
    from haas.model import Project, db
    project = db.session.execute(
        db.select(Project).filter_by(label=found.project)
        .with_for_update()).scalar_one_or_none()
    if project is None:
        raise BlockedError(
            f'The maintenance project {found.project} ([{SECTION}] project) '
            f'does not exist: an administrator must create it before a '
            f'node can be detached.')
    return project


def after_move(found: Pool, node: Node, former: str) -> None:
    """What follows a committed move of `node` (from project `former`)
    into the maintenance pool: its power off, then the notification.
    Neither undoes the move, whatever happens: each failure is logged."""
    try:
        node.obm.power_off()
    except OBMError as e:
        log.error('node %s is in the maintenance project %s but was not '
                  'powered off: %s', node.label, found.project, e.msg)
    except NotImplementedError:
        log.warning('node %s is in the maintenance project %s but was not '
                    'powered off: its OBM driver cannot', node.label,
                    found.project)
    if found.url is not None:
        notify(found, node.label, former)


def notify(found: Pool, node: str, former: str) -> bool:
    """POST to `[maintenance] url` that node `node` came from project
    `former`: whether the URL took it (a 2xx answer within the timeout)."""
    # requests, a dependency already (the client, the REST switches): its
    # timeouts bound both the connection and each read.
    import requests
    body = {'node': node, 'project': found.project, 'from_project': former,
            'request_id': audit.request_id()}
    headers = {} if found.token is None else \
        {'Authorization': f'Bearer {found.token}'}
    try:
        answer = requests.post(found.url, json=body, headers=headers,
                               timeout=found.timeout, allow_redirects=False)
    except requests.RequestException as e:
        log.error('node %s is in the maintenance project %s, but %s was '
                  'not told: %s', node, found.project, found.url,
                  type(e).__name__)
        return False
    if not 200 <= answer.status_code < 300:
        log.error('node %s is in the maintenance project %s, but %s '
                  'answered %d', node, found.project, found.url,
                  answer.status_code)
        return False
    return True
