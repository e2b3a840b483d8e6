"""The site's e-mail backend: messages go to a Maildir under the data dir by default (read them with
any mail client, or `mailbox.Maildir`), and through SMTP when `FST_WEB_SMTP_HOST` is set."""

from __future__ import annotations

import logging
import mailbox
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

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
