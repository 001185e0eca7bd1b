"""The delivery platforms: webhook (JSON POST), ntfy-style push and email over SMTP.

Protocol code only: each sender takes a rendered Message and its target's settings and
either returns or raises DeliveryError. Retries, timeouts and throttling live in target.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from typing import Any

import aiohttp
import aiosmtplib

from integrations.notify.message import DeliveryError, Message

Sender = Callable[[Message, dict[str, Any], aiohttp.ClientSession], Awaitable[None]]

_NTFY_PRIORITIES = {"min": 1, "low": 2, "default": 3, "high": 4, "max": 5, "urgent": 5}


async def _post(session: aiohttp.ClientSession, url: str, config: dict[str, Any], **kwargs: Any) -> None:
    timeout = aiohttp.ClientTimeout(total=config["timeout"])
    verify = bool(config.get("verify_ssl", True))  # ssl=True is aiohttp's default: check the certificate
    try:
        async with session.request(config.get("method", "POST"), url, timeout=timeout, ssl=verify, **kwargs) as response:
            if response.status >= 400:
                body = (await response.text())[:200]
                message = f"{url} answered HTTP {response.status}: {body}"
                raise DeliveryError(message)
    except TimeoutError as err:
        message = f"{url}: no answer within {config['timeout']} s"
        raise DeliveryError(message) from err
    except aiohttp.ClientError as err:
        message = f"{url}: {type(err).__name__} {err}".rstrip()
        raise DeliveryError(message) from err


async def send_webhook(message: Message, config: dict[str, Any], session: aiohttp.ClientSession) -> None:
    """POST the message as JSON: {title, message, data, target, suppressed}."""
    await _post(session, config["url"], config, json=message.as_json(), headers=config.get("headers") or {})


def ntfy_priority(value: Any) -> int:
    """Return ntfy's numeric priority from 1-5 or a name (min, low, default, high, max/urgent)."""
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 5:
        return value
    text = str(value).strip().lower()
    if text.isdigit() and 1 <= int(text) <= 5:
        return int(text)
    if text in _NTFY_PRIORITIES:
        return _NTFY_PRIORITIES[text]
    message = f"priority must be 1-5 or one of {', '.join(_NTFY_PRIORITIES)}, got {value!r}"
    raise ValueError(message)


async def send_ntfy(message: Message, config: dict[str, Any], session: aiohttp.ClientSession) -> None:
    """POST the text to <url>/<topic> with Title, Priority, Tags and Click headers, as ntfy reads them."""
    data = message.data
    headers: dict[str, str] = {}
    if message.title:
        headers["Title"] = message.title
    priority = data.get("priority", config.get("priority"))
    if priority is not None:
        try:
            headers["Priority"] = str(ntfy_priority(priority))
        except ValueError as err:
            raise DeliveryError(str(err)) from err
    tags = data.get("tags", config.get("tags"))
    if tags:
        headers["Tags"] = ",".join(tags) if isinstance(tags, list) else str(tags)
    if data.get("click"):
        headers["Click"] = str(data["click"])
    if message.suppressed:
        headers["X-Suppressed"] = str(message.suppressed)
    if config.get("token"):
        headers["Authorization"] = f"Bearer {config['token']}"
    auth = None
    if config.get("username"):
        auth = aiohttp.BasicAuth(config["username"], config.get("password") or "")
    topic = str(data.get("topic") or config["topic"]).strip("/")
    url = f"{config['url'].rstrip('/')}/{topic}"
    # Header values must be latin-1 in HTTP/1.1; ntfy decodes RFC 2047 for the rest.
    headers = {k: v if v.isascii() else _rfc2047(v) for k, v in headers.items()}
    await _post(session, url, config, data=message.text().encode(), headers=headers, auth=auth)


def _rfc2047(text: str) -> str:
    from email.header import Header

    return Header(text, "utf-8").encode()


def build_email(message: Message, config: dict[str, Any]) -> EmailMessage:
    """Return the email for a message: plain text, optional HTML from data.html."""
    email = EmailMessage()
    recipients = message.target or config["recipient"]
    email["Subject"] = message.title or config.get("default_title") or "Notification"
    email["From"] = formataddr((config.get("sender_name") or "", config["sender"]))
    email["To"] = ", ".join(recipients)
    email["Date"] = formatdate(localtime=False)
    email["Message-ID"] = make_msgid()
    if message.suppressed:
        email["X-Suppressed"] = str(message.suppressed)
    email.set_content(message.text())
    html = message.data.get("html")
    if html:
        email.add_alternative(str(html), subtype="html")
    return email


async def send_email(message: Message, config: dict[str, Any], session: aiohttp.ClientSession) -> None:
    """Send the message over SMTP (STARTTLS, implicit TLS or plain, as configured)."""
    email = build_email(message, config)
    encryption = config.get("encryption", "starttls")
    try:
        await aiosmtplib.send(
            email,
            hostname=config["server"],
            port=config["port"],
            username=config.get("username"),
            password=config.get("password"),
            use_tls=encryption == "tls",
            start_tls=True if encryption == "starttls" else False,
            validate_certs=config.get("verify_ssl", True),
            timeout=config["timeout"],
        )
    except (TimeoutError, aiosmtplib.SMTPException, OSError) as err:
        text = f"SMTP {config['server']}:{config['port']}: {type(err).__name__} {err}"
        raise DeliveryError(text) from err


SENDERS: dict[str, Sender] = {"webhook": send_webhook, "ntfy": send_ntfy, "smtp": send_email}
