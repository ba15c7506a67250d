"""What the database auth backend remembers of recent logins, in memory:
checks that succeeded (so they need not be hashed again) and failures (so
that a guesser is refused before anything is hashed)."""

import hashlib
import hmac
import ipaddress
import secrets
import threading
import time

# cachetools: a size-bounded LRU map whose entries expire, which is what
# both stores here need; small, pure Python and well kept.
import cachetools

#: How many addresses, users and pairs of them the throttle remembers at
#: most (each kind apart): a flood of distinct names cannot grow memory.
THROTTLE_ENTRIES = 10_000

#: How long a user who logged in from an address stays exempt there from
#: the per-user limit (see Throttle).
KNOWN_ADDRESS_SECONDS = 24 * 3600


class LoginCache:
    """Credentials whose check succeeded, remembered for `seconds`.

    An entry is an HMAC, under a key drawn when the process starts, of the
    user name, the password and the user's stored hash: the password is
    never kept, and an entry stops matching as soon as the stored hash
    changes, whichever process changed it (a new password, or a rehash at
    a current cost), since every login reads the user's row first.  A
    deleted user has no row, and so no stored hash to match.
    """

    def __init__(self, seconds, size, clock=time.monotonic):
        self.clock = clock
        self._key = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._entries = None
        if seconds and size:
            self._entries = cachetools.TTLCache(size, seconds,
                                                timer=lambda: self.clock())

    def _digest(self, user, password, stored):
        mac = hmac.new(self._key, digestmod=hashlib.sha256)
        for part in (user, password, stored or ''):
            # Length-prefixed, so that no two triples give the same bytes.
            data = part.encode('utf-8', 'surrogatepass')
            mac.update(len(data).to_bytes(8, 'big') + data)
        return mac.digest()

    def holds(self, user, password, stored):
        """Whether `password` was found to be `user`'s, with `stored` as
        their hash, within the last `seconds`."""
        if self._entries is None:
            return False
        digest = self._digest(user, password, stored)
        with self._lock:
            return self._entries.get(digest, False)

    def add(self, user, password, stored):
        if self._entries is None:
            return
        digest = self._digest(user, password, stored)
        with self._lock:
            self._entries[digest] = True

    def clear(self):
        if self._entries is not None:
            with self._lock:
                self._entries.clear()


def client_network(address):
    """What a client's failures are counted against: its address, or for
    IPv6 the /64 that holds it, since a host is commonly given a whole /64
    and would otherwise have more addresses than any limit."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:  # None, or not an IP (a Unix socket): as it is
        return address
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    if ip.version == 6:
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class Throttle:
    """Failed logins in the last `window` seconds, counted per client
    address, per (user, address) and per user; refuses a login once one of
    them has reached its limit, until `window` seconds after the first
    failure it counted.  A limit of 0 is no limit; a window of 0, none.

    The policy, and why:

    - per address (`per_address`): a client guessing at many users is
      stopped.  It can lock out only itself (and whoever shares its
      address, a NAT).
    - per (user, address) (`per_user_address`, lower): a client guessing
      one user's password is stopped sooner; a login that succeeds clears
      it, so a user who mistyped is not held back after getting it right.
    - per user (`per_user`, much higher): guessing one user's password
      from many addresses is slowed to `per_user` tries a window.  Anyone
      can trip it, so it would let a stranger lock out the real
      administrator: it does not apply where the user logged in with the
      right password in the last KNOWN_ADDRESS_SECONDS.  (There they still
      meet the other two limits.)

    Failures are counted by the name tried, whether or not such a user
    exists, so a refusal tells nothing of who exists.  Refused attempts
    are not counted: otherwise a guesser who keeps trying would keep the
    per-user limit shut for ever.

    The counts live in this process: under gunicorn each worker keeps its
    own, so a client gets up to workers x limit tries a window.
    """

    def __init__(self, window, per_address, per_user_address, per_user,
                 size=THROTTLE_ENTRIES, clock=time.monotonic):
        self.window = window
        self.limits = {'address': per_address,
                       'user_address': per_user_address,
                       'user': per_user}
        self.clock = clock
        self._lock = threading.Lock()
        timer = self._now
        # kind -> key -> [time of the first failure, failures]; an entry
        # expires `window` seconds after it was made (counting does not
        # renew it).
        self._failures = {kind: cachetools.TTLCache(size, window or 1,
                                                    timer=timer)
                          for kind in self.limits}
        self._known = cachetools.TTLCache(size, KNOWN_ADDRESS_SECONDS,
                                          timer=timer)

    def _now(self):
        return self.clock()

    def _keys(self, user, address):
        network = client_network(address)
        return {'address': network, 'user_address': (user, network),
                'user': user}

    def refusal(self, user, address):
        """Seconds until `user` may try to log in again from `address`, or
        None if they may now."""
        if not self.window:
            return None
        keys = self._keys(user, address)
        with self._lock:
            if keys['user_address'] in self._known:
                del keys['user']
            waits = [self._wait(kind, key) for kind, key in keys.items()]
        waits = [wait for wait in waits if wait is not None]
        return max(waits) if waits else None

    def _wait(self, kind, key):
        limit = self.limits[kind]
        record = self._failures[kind].get(key)
        if not limit or record is None or record[1] < limit:
            return None
        return record[0] + self.window - self.clock()

    def failed(self, user, address):
        """Count a failed login of `user` from `address`."""
        if not self.window:
            return
        keys = self._keys(user, address)
        with self._lock:
            now = self.clock()
            for kind, key in keys.items():
                record = self._failures[kind].get(key)
                if record is None:
                    self._failures[kind][key] = [now, 1]
                else:
                    record[1] += 1  # in place: the entry keeps its expiry

    def succeeded(self, user, address):
        """Note a login of `user` from `address` with the right password."""
        if not self.window:
            return
        keys = self._keys(user, address)
        with self._lock:
            self._failures['user_address'].pop(keys['user_address'], None)
            self._known[keys['user_address']] = True

    def clear(self):
        with self._lock:
            for failures in self._failures.values():
                failures.clear()
            self._known.clear()
