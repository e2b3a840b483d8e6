"""E-mail verification, password reset (no account enumeration, single-use hashed tokens, rate
limits), the e-mail backends (a Maildir by default, SMTP against a local aiosmtpd sink), change
password and delete account, through the API and the HTML forms."""

from __future__ import annotations

import re
import socket
import time
from email import message_from_bytes
from email.message import Message

import pytest
from sqlalchemy import func, select, update

from fst.web.models import EmailToken, Job, LoginSession, User
from fst.web.routers.auth import SIGN_UP_SENT
from fst.web.security import token_hash
from tests.web.conftest import PASSWORD, mailed_token, mails, make_client, register, submit, wait_job

NEW_PASSWORD = "purple giraffe umbrella"


def csrf(client, path: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text).group(1)


def login(client, email: str = "ada@example.com", password: str = PASSWORD) -> int:
    return client.post("/api/auth/login", json={"email": email, "password": password}).status_code


# Verification ---------------------------------------------------------------------------------


def unconfirmed_session(client) -> None:
    """A signed-in account whose address is not confirmed: one from before sign-in by link."""
    register(client)
    with client.app.state.connections.factory() as session:
        session.execute(update(User).values(email_verified_at=None, credits=0))
        session.commit()


def test_sign_up_mails_a_link_that_signs_in_with_the_free_credits(client) -> None:
    assert register(client, verify=False) == {"detail": SIGN_UP_SENT}
    assert client.get("/api/auth/me").status_code == 401  # no session before the link
    assert login(client) == 401  # nor by the password: a new account signs in by its link first
    (welcome,) = mails(client, "ada@example.com")
    assert welcome["Subject"] == "Confirm your e-mail address" and "http://127.0.0.1:8000/verify?token=" in str(welcome)
    token = mailed_token(client, "ada@example.com", "verify")
    verified = client.post("/api/auth/verify", json={"token": token})
    assert verified.status_code == 200 and verified.json()["verified"] is True and verified.json()["credits"] == 3
    assert client.get("/api/auth/me").json()["credits"] == 3  # signed in by the link
    # Single use: the credits come once.
    assert client.post("/api/auth/verify", json={"token": token}).status_code == 400
    assert client.get("/api/auth/me").json()["credits"] == 3
    client.post("/api/auth/logout")
    assert login(client) == 200  # confirmed: the password works from now on


def test_verification_links_expire_and_only_the_newest_works(client) -> None:
    unconfirmed_session(client)
    assert client.post("/api/auth/verify/resend").status_code == 202
    first = mailed_token(client, "ada@example.com", "verify")
    assert client.post("/api/auth/verify/resend").status_code == 202
    second = mailed_token(client, "ada@example.com", "verify")
    assert first != second
    assert client.post("/api/auth/verify", json={"token": first}).status_code == 400
    with client.app.state.connections.factory() as session:
        session.execute(update(EmailToken).values(expires_at=time.time() - 1))
        session.commit()
    assert client.post("/api/auth/verify", json={"token": second}).status_code == 400
    assert client.get("/api/auth/me").json()["verified"] is False


def test_resending_is_limited_and_refused_once_verified(client) -> None:
    unconfirmed_session(client)
    for _ in range(5):  # FST_WEB_RESETS_PER_HOUR: 5
        assert client.post("/api/auth/verify/resend").status_code == 202
    assert client.post("/api/auth/verify/resend").status_code == 429
    client.post("/api/auth/verify", json={"token": mailed_token(client, "ada@example.com", "verify")})
    assert client.post("/api/auth/verify/resend").status_code == 409


def test_the_verify_page_confirms_the_address_and_signs_in(client) -> None:
    register(client, verify=False)
    page = client.get("/verify", params={"token": mailed_token(client, "ada@example.com", "verify")})
    assert page.status_code == 200 and "is confirmed" in page.text and "3 credits" in page.text
    assert client.get("/api/auth/me").json()["verified"] is True  # signed in by the link
    assert 'id="unverified"' not in client.get("/").text
    assert client.get("/verify", params={"token": "guessed"}).status_code == 400


def test_an_unconfirmed_session_sees_the_banner(client) -> None:
    unconfirmed_session(client)
    assert "Confirm your e-mail address" in client.get("/").text


def test_sign_up_notices_to_a_taken_address_are_limited(client) -> None:
    """Signing up again and again with someone's address cannot flood their inbox, and the answer
    stays the same past the limit (a 429 there would tell the address has an account)."""
    register(client)
    before = len(mails(client, "ada@example.com"))
    answers = {
        client.post("/api/auth/register", json={"email": "ada@example.com", "password": PASSWORD}).status_code
        for _ in range(7)
    }
    assert answers == {202}
    assert len(mails(client, "ada@example.com")) - before == 5  # FST_WEB_RESETS_PER_HOUR: 5


def test_the_notice_to_a_confirmed_address_offers_a_password_reset(client) -> None:
    """A confirmed account's owner (who forgot they had signed up) gets a reset link: it sets a
    new password; the sign-up's own password is not set."""
    register(client)
    client.post("/api/auth/logout")
    client.post("/api/auth/register", json={"email": "ada@example.com", "password": "someone else's password"})
    assert login(client, password="someone else's password") == 401
    token = mailed_token(client, "ada@example.com", "reset")
    done = client.post("/api/auth/password-reset/confirm", json={"token": token, "password": NEW_PASSWORD})
    assert done.status_code == 204
    assert login(client, password=NEW_PASSWORD) == 200 and client.get("/api/auth/me").json()["verified"] is True


def verify_links(client, to: str) -> list[str]:
    """Every confirmation token e-mailed to `to`, oldest first."""
    found = [
        re.findall(r"/verify\?token=([A-Za-z0-9_-]+)", m.get_payload(decode=True).decode()) for m in mails(client, to)
    ]
    return [token for tokens in found for token in tokens]


def test_a_pre_registered_address_cannot_be_hijacked(client) -> None:
    """Pre-account hijack: an attacker signs up with the victim's address first (unconfirmed, the
    attacker's password); the victim signs up later and confirms by the link in their inbox. The
    account must end with the victim's password, not the attacker's, and the attacker's link dead."""
    attacker = "attacker's own passphrase, 9 words"
    register(client, password=attacker, verify=False)
    assert register(client, password=PASSWORD, verify=False) == {"detail": SIGN_UP_SENT}  # no leak
    *older, newest = verify_links(client, "ada@example.com")  # the victim clicks the newest link
    verified = client.post("/api/auth/verify", json={"token": newest})
    assert verified.status_code == 200 and verified.json()["verified"] is True
    client.post("/api/auth/logout")
    assert login(client, password=attacker) == 401
    assert login(client, password=PASSWORD) == 200
    # The attacker's link (in the victim's inbox too) no longer works, nor signs anyone in.
    client.post("/api/auth/logout")
    assert older and all(client.post("/api/auth/verify", json={"token": t}).status_code == 400 for t in older)
    assert client.get("/api/auth/me").status_code == 401


def test_a_newer_sign_up_link_sets_its_own_password_and_ends_sessions(client) -> None:
    """Of two unconfirmed sign-ups for one address, the link clicked sets the password that came
    with it; a confirmed address's owner gets the notice instead (not a link that changes it)."""
    register(client, password="attacker's own passphrase, 9 words", verify=False)
    register(client, password=NEW_PASSWORD, verify=False)
    client.post("/api/auth/verify", json={"token": verify_links(client, "ada@example.com")[-1]})
    client.post("/api/auth/logout")
    assert login(client, password=NEW_PASSWORD) == 200
    # Confirmed now: another sign-up mails the notice, and the password stays.
    before = len(verify_links(client, "ada@example.com"))
    register(client, password="attacker's own passphrase, 9 words", verify=False)
    assert mails(client, "ada@example.com")[-1]["Subject"] == "Someone tried to sign up with your address"
    assert len(verify_links(client, "ada@example.com")) == before
    assert login(client, password=NEW_PASSWORD) == 200


def test_a_link_opened_without_the_sign_up_cookie_needs_the_password(client, settings) -> None:
    """Pre-account hijack by the link: an attacker signs up with the victim's address and a password
    he knows; the victim opens the link from their inbox in their own browser. That must neither
    confirm the account nor sign the victim in (the attacker would later log in and see their
    photos); the victim chooses their own password by a reset link, and the attacker's is dead."""
    attacker_password = "attacker's own passphrase, 9 words"
    register(client, password=attacker_password, verify=False)  # the attacker's browser
    token = mailed_token(client, "ada@example.com", "verify")  # the mail is in the victim's inbox
    with make_client(settings) as victim:
        page = victim.get("/verify", params={"token": token})
        assert page.status_code == 200 and 'id="confirm-password"' in page.text and "is confirmed" not in page.text
        assert 'href="/forgot?email=ada%40example.com"' in page.text  # "Did not sign up?"
        assert victim.post("/api/auth/verify", json={"token": token}).status_code == 401
        assert victim.get("/api/auth/me").status_code == 401
        assert login(client, password=attacker_password) == 401  # not confirmed: no way in yet
        assert victim.post("/api/auth/password-reset", json={"email": "ada@example.com"}).status_code == 202
        reset = {"token": mailed_token(victim, "ada@example.com", "reset"), "password": NEW_PASSWORD}
        assert victim.post("/api/auth/password-reset/confirm", json=reset).status_code == 204
        assert login(victim, password=NEW_PASSWORD) == 200 and victim.get("/api/auth/me").json()["verified"] is True
    assert login(client, password=attacker_password) == 401
    assert client.post("/api/auth/verify", json={"token": token}).status_code == 400  # confirming ended the link
    assert client.get("/api/auth/me").status_code == 401


def test_the_link_signs_in_at_once_in_the_browser_that_signed_up(client, settings) -> None:
    """The real user's flow stays one click; on another device the sign-up's password confirms."""
    form = {"email": "bob@example.com", "password": PASSWORD, "csrf_token": csrf(client, "/signup")}
    assert "Check your inbox" in client.post("/signup", data=form).text
    with make_client(settings) as phone:
        token = mailed_token(client, "bob@example.com", "verify")
        form = {"token": token, "csrf_token": csrf(phone, "/login")}
        wrong = phone.post("/verify", data={**form, "password": NEW_PASSWORD})
        assert wrong.status_code == 401 and 'id="confirm-password"' in wrong.text  # the link still works
        right = phone.post("/verify", data={**form, "password": PASSWORD})
        assert right.status_code == 200 and "is confirmed" in right.text
        assert phone.get("/api/auth/me").json()["email"] == "bob@example.com"
    form = {"email": "ada@example.com", "password": PASSWORD, "csrf_token": csrf(client, "/signup")}
    client.post("/signup", data=form)
    assert "fst_signup" in client.cookies
    page = client.get("/verify", params={"token": mailed_token(client, "ada@example.com", "verify")})
    assert page.status_code == 200 and "is confirmed" in page.text  # one click, no password asked
    me = client.get("/api/auth/me").json()
    assert me["email"] == "ada@example.com" and me["verified"] is True and me["credits"] == 3
    assert "fst_signup" not in client.cookies  # done with


def test_wrong_passwords_for_a_link_count_under_the_login_limit(client, settings) -> None:
    register(client, verify=False)
    token = mailed_token(client, "ada@example.com", "verify")
    with make_client(settings) as other:
        form = {"token": token, "password": "not the sign-up's password", "csrf_token": csrf(other, "/login")}
        for _ in range(5):  # settings: 5 failed attempts a minute
            assert other.post("/verify", data=form).status_code == 401
        limited = other.post("/verify", data={**form, "password": PASSWORD})
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
        assert other.post("/api/auth/verify", json={"token": token, "password": PASSWORD}).status_code == 429
        assert login(other) == 429  # one count with logging in
        assert other.get("/api/auth/me").status_code == 401
    assert client.post("/api/auth/verify", json={"token": token}).status_code == 200  # the link was kept


# Password reset -------------------------------------------------------------------------------


def test_password_reset_sets_a_new_password_and_logs_every_session_out(client, settings) -> None:
    register(client)
    with make_client(settings) as other_device:
        assert login(other_device) == 200
        assert client.post("/api/auth/password-reset", json={"email": "ADA@example.com"}).status_code == 202
        token = mailed_token(client, "ada@example.com", "reset")
        assert "/reset?token=" in str(mails(client, "ada@example.com")[-1])
        weak = client.post("/api/auth/password-reset/confirm", json={"token": token, "password": "password"})
        assert weak.status_code == 400  # the policy holds; the link stays usable
        done = client.post("/api/auth/password-reset/confirm", json={"token": token, "password": NEW_PASSWORD})
        assert done.status_code == 204
        assert other_device.get("/api/auth/me").status_code == 401
    assert client.get("/api/auth/me").status_code == 401
    again = client.post("/api/auth/password-reset/confirm", json={"token": token, "password": "another fine password"})
    assert again.status_code == 400  # single use
    assert login(client) == 401 and login(client, password=NEW_PASSWORD) == 200


def test_reset_tokens_are_stored_hashed_and_expire(client) -> None:
    register(client)
    client.post("/api/auth/password-reset", json={"email": "ada@example.com"})
    token = mailed_token(client, "ada@example.com", "reset")
    assert len(token) >= 43  # 256 random bits
    with client.app.state.connections.factory() as session:
        stored = session.scalars(select(EmailToken.token_hash).where(EmailToken.purpose == "reset")).all()
        assert stored == [token_hash(token)]  # the link's token itself is nowhere in the database
        session.execute(update(EmailToken).values(expires_at=time.time() - 1))
        session.commit()
    response = client.post("/api/auth/password-reset/confirm", json={"token": token, "password": NEW_PASSWORD})
    assert response.status_code == 400 and login(client, password=NEW_PASSWORD) == 401


def test_reset_answers_the_same_for_unknown_addresses(client) -> None:
    register(client)
    known = client.post("/api/auth/password-reset", json={"email": "ada@example.com"})
    unknown = client.post("/api/auth/password-reset", json={"email": "nobody@example.com"})
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())
    assert mails(client, "nobody@example.com") == []
    # The form, too: the same page either way (bar the address it repeats).
    token = csrf(client, "/forgot")
    pages = [
        client.post("/forgot", data={"email": e, "csrf_token": token}) for e in ("ada@example.com", "x@example.com")
    ]
    assert [p.status_code for p in pages] == [200, 200]
    assert pages[0].text.replace("ada@example.com", "E") == pages[1].text.replace("x@example.com", "E")


def test_reset_requests_are_rate_limited_per_address_and_per_email(client, settings) -> None:
    for _ in range(5):
        assert client.post("/api/auth/password-reset", json={"email": "nobody@example.com"}).status_code == 202
    limited = client.post("/api/auth/password-reset", json={"email": "nobody@example.com"})
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    # Per e-mail as well: a flood spread over many addresses still stops at the victim's inbox.
    from fst.web.services.account import request_password_reset
    from fst.web.services.rate_limits import RateLimited

    with client.app.state.connections.factory() as session:
        for network in range(5):
            request_password_reset(session, settings, "victim@example.com", client=f"10.0.{network}.1")
        with pytest.raises(RateLimited):
            request_password_reset(session, settings, "victim@example.com", client="10.0.99.1")


def test_reset_by_the_html_forms(client) -> None:
    register(client)
    client.post("/api/auth/logout")
    assert 'href="/forgot"' in client.get("/login").text
    client.post("/forgot", data={"email": "ada@example.com", "csrf_token": csrf(client, "/forgot")})
    token = mailed_token(client, "ada@example.com", "reset")
    form = client.get("/reset", params={"token": token})
    assert form.status_code == 200 and 'name="password"' in form.text
    no_csrf = client.post("/reset", data={"token": token, "password": NEW_PASSWORD})
    assert no_csrf.status_code == 403
    done = client.post("/reset", data={"token": token, "password": NEW_PASSWORD, "csrf_token": csrf(client, "/forgot")})
    assert done.status_code == 200 and "Your password is changed" in done.text
    assert client.get("/reset", params={"token": token}).status_code == 400  # used
    assert login(client, password=NEW_PASSWORD) == 200


# The e-mail backends --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_sink():
    """A local SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives."""
    controller_module = pytest.importorskip("aiosmtpd.controller")
    received: list[Message] = []

    class Sink:
        async def handle_DATA(self, server, session, envelope) -> str:
            received.append(message_from_bytes(envelope.content))
            return "250 OK"

    controller = controller_module.Controller(Sink(), hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller.port, received
    controller.stop()


def test_mail_goes_through_smtp_when_configured(settings, smtp_sink) -> None:
    port, received = smtp_sink
    smtp = settings.replace(
        smtp_host="127.0.0.1", smtp_port=port, smtp_security="none", public_url="https://fst.example"
    )
    with make_client(smtp) as client:
        client.post("/api/auth/register", json={"email": "ada@example.com", "password": PASSWORD})
        client.post("/api/auth/password-reset", json={"email": "ada@example.com"})
        assert [m["Subject"] for m in received] == ["Confirm your e-mail address", "Reset your fst password"]
        assert received[1]["To"] == "ada@example.com" and received[1]["From"] == settings.mail_from
        link = re.search(
            r"https://fst\.example/reset\?token=(\S+)", received[1].get_payload(decode=True).decode()
        ).group(1)
        assert mails(client, "ada@example.com") == []  # nothing written to the Maildir
        done = client.post("/api/auth/password-reset/confirm", json={"token": link, "password": NEW_PASSWORD})
        assert done.status_code == 204, (done.text, link)


def test_links_never_use_the_request_host(client) -> None:
    register(client)
    client.post("/api/auth/password-reset", json={"email": "ada@example.com"}, headers={"Host": "evil.example"})
    assert "evil.example" not in str(mails(client, "ada@example.com")[-1])


def test_a_failing_smtp_server_does_not_fail_the_request(settings) -> None:
    with make_client(settings.replace(smtp_host="127.0.0.1", smtp_port=free_port(), smtp_security="none")) as client:
        assert client.post("/api/auth/password-reset", json={"email": "x@example.com"}).status_code == 202
        response = client.post("/api/auth/register", json={"email": "ada@example.com", "password": PASSWORD})
        assert response.status_code == 202  # logged; a reset link confirms the address too


# Change password, delete account --------------------------------------------------------------


def test_change_password_needs_the_current_one_and_logs_other_sessions_out(client, settings) -> None:
    register(client)
    with make_client(settings) as other_device:
        assert login(other_device) == 200
        body = {"current_password": "wrong password!", "new_password": NEW_PASSWORD}
        assert client.post("/api/auth/password", json=body).status_code == 403
        weak = {"current_password": PASSWORD, "new_password": "12345678"}
        assert client.post("/api/auth/password", json=weak).status_code == 400
        body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
        assert client.post("/api/auth/password", json=body).status_code == 204
        assert other_device.get("/api/auth/me").status_code == 401
    assert client.get("/api/auth/me").status_code == 200  # this session stays
    client.post("/api/auth/logout")
    assert login(client) == 401 and login(client, password=NEW_PASSWORD) == 200


def test_change_password_by_the_form(client) -> None:
    register(client)
    token = csrf(client, "/account")
    form = {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "csrf_token": token}
    assert client.post("/account/password", data={**form, "csrf_token": "0" * 64}).status_code == 403
    assert "Your password is changed" in client.post("/account/password", data=form).text
    client.post("/api/auth/logout")
    assert login(client, password=NEW_PASSWORD) == 200


def test_delete_account_removes_jobs_shares_files_and_logs_out(client, settings) -> None:
    register(client)
    job = wait_job(client, submit(client).json()["id"])
    share = client.post(f"/api/jobs/{job['id']}/share").json()["share_url"]
    data_dir = settings.data_dir
    assert any((data_dir / "uploads").rglob("*")) and any((data_dir / "results").rglob("*"))
    assert client.post("/api/auth/delete-account", json={"password": "wrong password!"}).status_code == 403
    assert client.post("/api/auth/delete-account", json={"password": PASSWORD}).status_code == 204
    assert client.get("/api/auth/me").status_code == 401
    assert client.get(share).status_code == 404
    assert not [p for p in (data_dir / "uploads").rglob("*") if p.is_file()]
    assert not [p for p in (data_dir / "results").rglob("*") if p.is_file()]
    with client.app.state.connections.factory() as session:
        for table in (User, Job, LoginSession, EmailToken):
            assert session.scalar(select(func.count()).select_from(table)) == 0, table
    assert login(client) == 401
    register(client)  # the address is free again


def test_delete_account_by_the_form_keeps_other_accounts(client) -> None:
    register(client, "bob@example.com")
    wait_job(client, submit(client).json()["id"])
    client.post("/api/auth/logout")
    register(client)
    token = csrf(client, "/account")
    assert client.post("/account/delete", data={"password": PASSWORD}).status_code == 403  # no CSRF token
    response = client.post("/account/delete", data={"password": PASSWORD, "csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    assert client.get("/api/auth/me").status_code == 401
    assert login(client, "bob@example.com") == 200 and len(client.get("/api/jobs").json()["jobs"]) == 1
