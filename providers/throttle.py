"""The throughput limit of a provider account, shared by every worker.

A sliding one-second log: a batch of n messages may start when the messages
started in the last second plus n stay within the account's rate. So no
one-second window ever holds more than the rate, across all processes. With
REDIS_URL set the log lives in Redis (one Lua script, atomic, Redis's own
clock); without it, in the database row of the account (for a single-machine
setup on SQLite).
"""

from __future__ import annotations

import time
import uuid

from django.conf import settings
from django.db import transaction

# The limiter counts starts over a little more than one second, so that
# requests arriving a few milliseconds late or early at the provider still
# never put more than the rate into any one-second window there; the rate
# it holds on average stays within 3% of the configured one.
WINDOW = 1.03

_SCRIPT = """
local key = KEYS[1]
local rate = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local window = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local entries = redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')
local used = 0
for i = 1, #entries, 2 do
  used = used + tonumber(string.match(entries[i], '^(%d+):'))
end
if used + n <= rate then
  redis.call('ZADD', key, now, n .. ':' .. ARGV[3])
  redis.call('EXPIRE', key, 5)
  return '0'
end
local need = used + n - rate
local freed = 0
for i = 1, #entries, 2 do
  freed = freed + tonumber(string.match(entries[i], '^(%d+):'))
  if freed >= need then
    return tostring(tonumber(entries[i + 1]) + window - now)
  end
end
return '0.05'
"""


def _wait_from_log(log: list, now: float, rate: int, n: int) -> tuple[float, list]:
    log = [(t, c) for t, c in log if t > now - WINDOW]
    used = sum(c for _, c in log)
    if used + n <= rate:
        return 0.0, [*log, (now, n)]
    need, freed = used + n - rate, 0
    for t, c in log:
        freed += c
        if freed >= need:
            return t + WINDOW - now, log
    return 0.05, log


class Limiter:
    def __init__(self):
        self._redis = None
        self._script = None

    def _client(self):
        if self._redis is None and settings.REDIS_URL:
            import redis

            self._redis = redis.Redis.from_url(settings.REDIS_URL)
            self._script = self._redis.register_script(_SCRIPT)
        return self._redis

    def try_acquire(self, account_id: int, rate: int, n: int) -> float:
        """Take n messages' worth of the rate now, or say how many seconds to
        wait before asking again."""
        n = max(1, min(n, rate))
        if self._client() is not None:
            return float(
                self._script(
                    keys=[f"throttle:{account_id}"], args=[rate, n, uuid.uuid4().hex, WINDOW]
                )
            )
        from .models import ProviderAccount

        with transaction.atomic():
            row = (
                ProviderAccount.objects.select_for_update().only("throttle_log").get(pk=account_id)
            )
            wait, log = _wait_from_log(row.throttle_log or [], time.time(), rate, n)
            if wait == 0.0:
                ProviderAccount.objects.filter(pk=account_id).update(throttle_log=log)
            return wait

    def acquire(self, account_id: int, rate: int, n: int) -> None:
        """Block until n messages may start. A batch larger than the rate is
        taken in rate-sized steps, so it spreads over as many seconds."""
        while n > 0:
            step = min(n, rate)
            while (wait := self.try_acquire(account_id, rate, step)) > 0:
                time.sleep(min(wait, 1.0))
            n -= step


limiter = Limiter()
