"""The test suite's settings: the project's, with what a test setup needs
given in the environment before they are read (so worker processes the
tests start, which inherit the environment, get the same).

- a throw-away SECRET_KEY (without DEBUG, the project refuses to start
  without one);
- provider calls over plain http to the loopback fakes the tests serve.
"""

import os
import secrets

os.environ.setdefault("SECRET_KEY", "tests-" + secrets.token_urlsafe(40))
os.environ.setdefault("PROVIDER_ALLOW_HTTP", "true")
os.environ.setdefault("PROVIDER_ALLOWED_HOSTS", "127.0.0.1,localhost")

from smsportal.settings import *  # noqa: E402, F403
