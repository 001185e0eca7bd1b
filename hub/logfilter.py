"""One line, not a traceback, for the expected warnings of the libraries the hub drives.

A broker that drops the connection or a database that is restarting is an outage, not a
bug: asyncpg and gmqtt log those as warnings with the whole traceback attached, a screenful
per retry. `one_line_warnings` keeps such records (the same logger, level and message) and
folds the exception into one line. Errors keep their traceback: those are bugs to see.
"""

from __future__ import annotations

import logging


class OneLineWarnings(logging.Filter):
    """Fold a warning's exception into its message: `message (ExceptionType: text)`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno <= logging.WARNING and record.exc_info:
            err = record.exc_info[1]
            if err is not None:
                record.msg = f"{record.getMessage()} ({type(err).__name__}: {err})"
                record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


_FILTER = OneLineWarnings()


def one_line_warnings(*logger_names: str) -> None:
    """Attach the filter to these loggers (idempotent; a logger's filter sees only its own records)."""
    for name in logger_names:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
