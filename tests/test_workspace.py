"""The specialists' group check (start-up and doctor) and the specialists in config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import GetChat, GetChatMember
from aiogram.types import ChatFullInfo, ChatMemberAdministrator, ChatMemberMember

from bot.config import ConfigError, Settings, load_settings
from bot.core.tickets import specialists_from
from bot.telegram.workspace import check_specialists_group
from tests.mocked_bot import BOT_USER, RecordingSession, make_bot

GROUP = -1001234567890


def settings_with(tmp_path: Path, **extra: str) -> Settings:
    config = tmp_path / "config.yaml"
    config.write_text(
        "specialists:\n"
        "  - {telegram_id: 111, name: Ustaz Nurlan, skills: [theology], languages: [kk, ru]}\n"
        "  - {telegram_id: 222, name: Aliya, skills: [law, social], languages: [ru],"
        " gender: female, max_open: 2}\n"
        "coordinators: [333]\n",
        encoding="utf-8",
    )
    return load_settings(config, environ=extra)


def chat(kind: str = "supergroup", forum: bool | None = True) -> ChatFullInfo:
    return ChatFullInfo.model_validate(
        {
            "id": GROUP,
            "type": kind,
            "title": "Specialists",
            "is_forum": forum,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }
    )


def admin(manage_topics: bool) -> ChatMemberAdministrator:
    rights = dict.fromkeys(
        [
            "can_be_edited",
            "is_anonymous",
            "can_manage_chat",
            "can_delete_messages",
            "can_manage_video_chats",
            "can_restrict_members",
            "can_promote_members",
            "can_change_info",
            "can_invite_users",
            "can_post_stories",
            "can_edit_stories",
            "can_delete_stories",
            "can_send_welcome_messages",
        ],
        False,
    )
    return ChatMemberAdministrator(user=BOT_USER, can_manage_topics=manage_topics, **rights)


def session_for(chat_info: Any, member: Any) -> RecordingSession:
    session = RecordingSession()
    session.responders[GetChat] = lambda _m: chat_info
    session.responders[GetChatMember] = lambda _m: member
    return session


def test_specialists_come_from_config(tmp_path: Path) -> None:
    settings = settings_with(tmp_path)
    team = specialists_from(settings)
    assert set(team) == {"111", "222"}
    assert team["222"].skills == ("law", "social")
    assert team["222"].max_open == 2
    assert team["222"].gender == "female"
    assert settings.coordinators == (333,)


def test_a_specialist_listed_twice_is_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "specialists:\n"
        "  - {telegram_id: 1, name: A, skills: [law], languages: [ru]}\n"
        "  - {telegram_id: 1, name: B, skills: [law], languages: [ru]}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="listed twice"):
        load_settings(config, environ={})


async def test_a_well_set_up_group_passes(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, SENIM_TELEGRAM__SPECIALISTS_CHAT_ID=str(GROUP))
    bot = make_bot(session_for(chat(), admin(manage_topics=True)))
    assert await check_specialists_group(bot, settings) == []


@pytest.mark.parametrize(
    ("chat_info", "member", "expected"),
    [
        (chat(forum=False), admin(True), "turn on Topics"),
        (chat(kind="group", forum=None), admin(True), "not a supergroup"),
        (chat(), ChatMemberMember(user=BOT_USER), "not an administrator"),
        (chat(), admin(manage_topics=False), "turn on Manage topics"),
    ],
    ids=["topics-off", "plain-group", "not-admin", "no-topic-rights"],
)
async def test_each_problem_says_how_to_fix_it(
    tmp_path: Path, chat_info: Any, member: Any, expected: str
) -> None:
    settings = settings_with(tmp_path, SENIM_TELEGRAM__SPECIALISTS_CHAT_ID=str(GROUP))
    bot = make_bot(session_for(chat_info, member))
    problems = await check_specialists_group(bot, settings)
    assert len(problems) == 1
    assert expected in problems[0]


async def test_a_group_the_bot_cannot_see(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, SENIM_TELEGRAM__SPECIALISTS_CHAT_ID=str(GROUP))
    session = RecordingSession()
    session.fail_next(
        GetChat, TelegramBadRequest(method=GetChat(chat_id=GROUP), message="chat not found")
    )
    (problem,) = await check_specialists_group(make_bot(session), settings)
    assert "add the bot to the group" in problem


async def test_specialists_without_a_group_are_told_to_create_one(tmp_path: Path) -> None:
    (problem,) = await check_specialists_group(make_bot(), settings_with(tmp_path))
    assert "telegram.specialists_chat_id" in problem
    assert "-100" in problem
