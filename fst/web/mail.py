"""The site's e-mail backend: messages go to a Maildir under the data dir by default (read them with
any mail client, or `mailbox.Maildir`), and through SMTP when `FST_WEB_SMTP_HOST` is set."""

from __future__ import annotations

import logging
import mailbox
import re
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from fst.web.settings import Settings

log = logging.getLogger(__name__)
SMTP_TIMEOUT_S = 20.0


def message(settings: Settings, to: str, subject: str, body: str) -> EmailMessage:
    """A plain-text message from the site's sender."""
    mail = EmailMessage()
    mail["From"] = settings.mail_from
    mail["To"] = to
    mail["Subject"] = subject
    mail["Date"] = formatdate()
    mail["Message-ID"] = make_msgid(domain="fst.local")
    mail.set_content(body)
    return mail


def send(settings: Settings, mail: EmailMessage) -> None:
    """Deliver `mail` with the configured backend. Raises what smtplib raises (OSError, SMTPException)."""
    if not settings.smtp_host:
        # A Maildir: one file per message, written to tmp/ and renamed, so concurrent writers never mix.
        mailbox.Maildir(settings.data_dir / "mail", create=True).add(mail)
        return
    if settings.smtp_security == "ssl":
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_S, context=ssl.create_default_context()
        )
    else:
        client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_S)
    with client:
        if settings.smtp_security == "starttls":
            client.starttls(context=ssl.create_default_context())
        if settings.smtp_username:
            client.login(settings.smtp_username, settings.smtp_password)
        client.send_message(mail)


def send_logged(settings: Settings, mail: EmailMessage) -> None:
    """`send`, for background tasks: a failure is logged (the request was answered already)."""
    try:
        send(settings, mail)
    except (OSError, smtplib.SMTPException):
        log.exception("could not send %r to %s", mail["Subject"], mail["To"])


@dataclass(frozen=True)
class MailedLink:
    kind: str  # "verify" or "reset"
    token: str
    url: str


def links_in_inbox(data_dir: Path, to: str, kinds: str = "verify|reset") -> list[MailedLink]:
    """Every link of `kinds` (`verify`, `reset` or both) the Maildir backend delivered to `to`,
    oldest first: how tests and the load benchmark read the site's mail without a mail server."""
    box = mailbox.Maildir(data_dir / "mail", create=True)
    # Maildir names start with the delivery's seconds and microseconds (`1733470000.M123P45...`).
    order = sorted(box.keys(), key=lambda key: tuple(int(n) for n in re.findall(r"\d+", key)[:2]))
    links = []
    for key in order:
        letter = box[key]
        if letter["To"] != to:
            continue
        body = letter.get_payload(decode=True).decode()
        for found in re.finditer(rf"\S+/({kinds})\?token=([A-Za-z0-9_-]+)", body):
            links.append(MailedLink(found.group(1), found.group(2), found.group(0)))
    return links
