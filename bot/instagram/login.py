"""`python -m bot instagram login`: the one-time interactive login that saves the session."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TextIO

from bot.config import InstagramSettings
from bot.instagram.client import create_instagrapi, save_session

log = logging.getLogger(__name__)

Prompt = Callable[[str], str]


def interactive_login(
    settings: InstagramSettings,
    prompt: Prompt,
    out: TextIO,
    factory: Callable[[InstagramSettings], Any] = create_instagrapi,
) -> int:
    """Log in with the username and INSTAGRAM_PASSWORD, asking for a two-factor or security
    code when Instagram wants one, and save the session (mode 600). Returns an exit code."""
    from instagrapi.exceptions import BadPassword, ClientError, TwoFactorRequired

    if not settings.username:
        out.write("instagram.username is not set in the config file\n")
        return 2
    if not settings.password:
        out.write("set the password in the environment variable INSTAGRAM_PASSWORD first\n")
        return 2
    path = settings.session_path
    client = factory(settings)
    if path.exists():  # the same device as before: Instagram trusts a known device more
        client.load_settings(path)
    client.with_challenge_flow = True
    client.challenge_code_handler = lambda _username, choice: prompt(
        f"Instagram sent a security code ({choice}); enter it: "
    ).strip()
    try:
        try:
            client.login(settings.username, settings.password)
        except TwoFactorRequired:
            code = prompt("Two-factor code (authenticator app or SMS): ").strip()
            client.login(settings.username, settings.password, verification_code=code)
    except BadPassword:
        out.write("Instagram refused the username or password (INSTAGRAM_PASSWORD)\n")
        return 1
    except TwoFactorRequired:
        out.write("the two-factor code was not accepted; run the command again\n")
        return 1
    except ClientError as exc:
        out.write(f"Instagram refused the login: {type(exc).__name__}: {exc}\n")
        return 1
    save_session(client, path)
    out.write(
        f"ok: logged in as {settings.username}; the session is saved in {path} (mode 600). "
        "Keep this file secret: it is as good as the password.\n"
    )
    return 0
