"""A token for a bench's child process, handed over in its environment, never on its command line.

A long-lived token is URL-safe base64 and may start with "-": on the command line argparse took
it for an option ("expected 2 arguments"), and there any user of the machine could read it in `ps`.

    proc = await asyncio.create_subprocess_exec(sys.executable, __file__, "--ws-subscriber", url,
                                                env=with_token(token))
    token = child_token()   # in the child
"""

from __future__ import annotations

import os

TOKEN_ENV = "BENCH_WS_TOKEN"


def with_token(token: str) -> dict[str, str]:
    """Return this process's environment plus the token, for a child process."""
    return {**os.environ, TOKEN_ENV: token}


def child_token() -> str:
    """Return the token the parent handed over (in a child started with with_token())."""
    try:
        return os.environ[TOKEN_ENV]
    except KeyError:
        raise SystemExit(f"{TOKEN_ENV} is not set: this process is started by its bench, with the token in its environment") from None
