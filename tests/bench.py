"""Benchmarks (`make bench`): one JSON object per line. Targets are printed next to the figures."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent


def emit(name: str, **figures: Any) -> None:
    print(json.dumps({"benchmark": name, **figures}, ensure_ascii=False), flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def settings_for(tmp: Path, **env: str) -> Any:
    from bot.config import load_settings

    return load_settings(
        ROOT / "config.yaml",
        environ={
            "SENIM_DATABASE__PATH": str(tmp / "bench.sqlite3"),
            "SENIM_CONTENT__PATH": str(ROOT / "content"),
            "SENIM_LOGGING__LEVEL": "WARNING",
            "SENIM_TELEGRAM__THROTTLE__MESSAGES": "1000000",
            **env,
        },
    )


def questions(crisis: bool = True) -> list[str]:
    items = yaml.safe_load((ROOT / "tests" / "data" / "eval.yaml").read_text(encoding="utf-8"))
    return [item["text"] for item in items if crisis or item["expect"] != "crisis"]


def bench_matcher(tmp: Path) -> None:
    from bot.app import build_core, load_pack
    from bot.core.conversations import Classifier

    settings = settings_for(tmp)
    pack = load_pack(settings)
    matcher, crisis = build_core(settings, pack)
    classifier = Classifier(settings, matcher, crisis)
    texts = questions()
    for text in texts[:50]:
        classifier.classify(text, None)
    timings = []
    for i in range(1000):
        text = texts[i % len(texts)]
        start = time.perf_counter()
        classifier.classify(text, None)
        timings.append((time.perf_counter() - start) * 1000)
    emit(
        "matcher_latency",
        questions=1000,
        p50_ms=round(percentile(timings, 50), 3),
        p99_ms=round(percentile(timings, 99), 3),
        target_p99_ms=5,
        note="language detection + crisis check + match, full starter pack",
    )


def bench_cold_start(tmp: Path) -> None:
    env = {
        **os.environ,
        "SENIM_DATABASE__PATH": str(tmp / "cold.sqlite3"),
        "SENIM_LOGGING__LEVEL": "WARNING",
    }
    env.pop("TELEGRAM_BOT_TOKEN", None)
    runs = []
    for _ in range(3):
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "bot", "chat", "--lang", "ru"],
            input="что такое джихад\n",
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
            check=True,
        )
        runs.append(time.perf_counter() - start)
        assert "Источники" in result.stdout
    emit(
        "cold_start_to_first_answer",
        runs=len(runs),
        best_s=round(min(runs), 3),
        median_s=round(statistics.median(runs), 3),
        note="new process: import, open and migrate SQLite, load content, train matcher, answer",
    )


def _echo_dispatcher() -> Any:
    from aiogram import Bot, Dispatcher, F
    from aiogram.types import Message

    dp = Dispatcher()

    @dp.message(F.text)
    async def echo(message: Message, bot: Bot) -> None:
        await bot.send_message(message.chat.id, message.text or "")

    return dp


async def _throughput(dp: Any, bot: Any, make_update: Callable[[int], Any], count: int) -> float:
    start = time.perf_counter()
    for i in range(count):
        await dp.feed_update(bot, make_update(i))
    return count / (time.perf_counter() - start)


async def bench_pipeline(tmp: Path) -> None:
    from bot.app import create_app
    from bot.telegram.dispatcher import create_dispatcher
    from tests.mocked_bot import make_bot
    from tests.updates import message_update

    # Without the eval set's crisis messages (9% of it): each opens an urgent ticket, and with
    # 500 people cycling through the set nearly everyone would soon be writing into a ticket,
    # which is not what a day's traffic looks like.
    texts = questions(crisis=False)
    settings = settings_for(tmp)
    app = await create_app(settings)
    try:
        dp = create_dispatcher(app)
        bot = make_bot()
        users = 500

        def update(i: int) -> Any:
            return message_update(texts[i % len(texts)], user_id=10_000 + i % users)

        for i in range(200):  # warm up both
            await dp.feed_update(bot, update(i))
        echo = _echo_dispatcher()
        echo_bot = make_bot()
        for i in range(200):
            await echo.feed_update(echo_bot, update(i))
        count, rounds = 2000, 3
        echo_rates, full_rates = [], []
        for _ in range(rounds):  # alternate, so that both see the same machine load
            echo_rates.append(await _throughput(echo, echo_bot, update, count))
            full_rates.append(await _throughput(dp, bot, update, count))
        ratios = sorted(f / e for f, e in zip(full_rates, echo_rates, strict=True))
        emit(
            "telegram_pipeline_throughput",
            updates=count * rounds,
            echo_updates_per_s=round(statistics.median(echo_rates), 1),
            pipeline_updates_per_s=round(statistics.median(full_rates), 1),
            ratio=round(statistics.median(ratios), 3),
            ratio_range=[round(ratios[0], 3), round(ratios[-1], 3)],
            target_ratio=0.35,
            note="Dispatcher.feed_update with a recording session; pipeline = crisis check, "
            "match, SQLite writes, render, reply; eval questions without its crisis items",
        )

        # Offered load: 200 updates a second for 5 seconds, latency from arrival to reply.
        rate, seconds = 200, 5
        latencies: list[float] = []
        loop = asyncio.get_running_loop()
        tasks = []

        async def one(i: int, due: float) -> None:
            await dp.feed_update(bot, update(i))
            latencies.append((loop.time() - due) * 1000)

        begin = loop.time() + 0.05
        for i in range(rate * seconds):
            due = begin + i / rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i, due)))
        await asyncio.gather(*tasks)
        emit(
            "telegram_latency_at_200_per_s",
            updates=len(latencies),
            p50_ms=round(percentile(latencies, 50), 2),
            p99_ms=round(percentile(latencies, 99), 2),
            max_ms=round(max(latencies), 2),
            target_p99_ms=20,
        )
    finally:
        await app.close()


async def _seed_people(path: Path, count: int) -> None:
    from bot.storage import Database, PeopleRepository

    db = await Database.open(path)
    try:
        now = datetime.now(UTC)
        for start in range(0, count, 10_000):
            async with db.transaction() as conn:
                repo = PeopleRepository(conn)
                for i in range(start, min(count, start + 10_000)):
                    await repo.add("telegram", str(5_000_000 + i), f"Bench-Person-{i}", "ru", now)
    finally:
        await db.close()


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


async def _memory_child(db_path: str) -> None:
    """Runs in a fresh process: the running bot over a database of 100,000 people."""
    from bot.app import create_app
    from bot.telegram.dispatcher import create_dispatcher
    from tests.mocked_bot import make_bot
    from tests.updates import message_update

    settings = settings_for(Path(db_path).parent, SENIM_DATABASE__PATH=db_path)
    app = await create_app(settings)
    dp = create_dispatcher(app)
    bot = make_bot()
    texts = questions()
    for i in range(2000):  # known and new people, as in real traffic
        await dp.feed_update(
            bot, message_update(texts[i % len(texts)], user_id=5_000_000 + i * 37)
        )
    gc.collect()
    people = await app.people.find("telegram", "5000000")
    print(json.dumps({"rss_mb": round(_rss_mb(), 1), "found": people is not None}))
    await app.close()


def bench_memory(tmp: Path) -> None:
    db_path = tmp / "people.sqlite3"
    asyncio.run(_seed_people(db_path, 100_000))
    result = subprocess.run(
        [sys.executable, "-m", "tests.bench", "--memory-child", str(db_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    emit(
        "resident_memory_100k_people",
        people=100_000,
        rss_mb=figures["rss_mb"],
        target_mb=150,
        note="after 2,000 updates through the Dispatcher; includes Python, aiogram, sklearn",
    )


async def _seed_tickets(app: Any, count: int) -> None:
    """`count` waiting tickets of as many people, spread over languages and skills."""
    from bot.storage.repositories import _ts

    now = datetime.now(UTC)
    conn = app.db.connection
    langs, skills = ("kk", "ru", "en"), ("theology", "psychology", "law", "social")
    async with app.db.transaction():
        await conn.executemany(
            "INSERT INTO people (id, channel, platform_id, pseudonym, language, created_at,"
            " last_seen_at) VALUES (?, 'telegram', ?, ?, 'ru', ?, ?)",
            [(i, str(10**6 + i), f"Seed-{i}", _ts(now), _ts(now)) for i in range(1, count + 1)],
        )
        await conn.executemany(
            "INSERT INTO tickets (person_id, priority, reason, language, skill, status,"
            " created_at) VALUES (?, ?, 'asked', ?, ?, 'waiting', ?)",
            [
                (
                    i,
                    "urgent" if i % 50 == 0 else "normal",
                    langs[i % 3],
                    skills[i % 4],
                    _ts(now.replace(microsecond=0) - timedelta(seconds=count - i)),
                )
                for i in range(1, count + 1)
            ],
        )


async def bench_queue(tmp: Path) -> None:
    """#5's targets: take-next with 10,000 waiting; relay latency both ways, in process."""
    import io

    from bot.app import create_app
    from bot.console import ConsoleWorkspace
    from bot.core.tickets import Specialist
    from bot.outbox import OutboxWorker, RateLimiter
    from bot.telegram.dispatcher import create_dispatcher
    from bot.telegram.sender import TelegramSender
    from bot.telegram.workspace import TelegramWorkspace
    from tests.mocked_bot import RecordingSession, make_bot
    from tests.updates import message_update, topic_update

    group = -100777
    tmp = tmp / "queue"  # a database of its own: the other benchmarks leave people behind
    tmp.mkdir()
    settings = settings_for(tmp, SENIM_TELEGRAM__SPECIALISTS_CHAT_ID=str(group))
    app = await create_app(settings)
    try:
        waiting = 10_000
        await _seed_tickets(app, waiting)
        app.queue.attach(ConsoleWorkspace(io.StringIO()))
        for n in range(60):
            app.roster.add_transient(
                Specialist(
                    str(900 + n),
                    f"S{n}",
                    ("theology", "psychology", "law", "social"),
                    ("kk", "ru", "en"),
                    max_open=100,
                )
            )
        service: list[float] = []
        full: list[float] = []
        for n in range(200):
            actor = app.roster.active(str(900 + n % 60))
            assert actor is not None
            begin = time.perf_counter()
            taken = await app.queue.tickets.take_next(actor)
            service.append((time.perf_counter() - begin) * 1000)
            assert taken is not None
        for n in range(100):
            begin = time.perf_counter()
            notice = await app.queue.take_next(str(900 + n % 60))
            full.append((time.perf_counter() - begin) * 1000)
            assert not notice.alert, notice.text
        emit(
            "queue_take_next_10k_waiting",
            waiting=waiting,
            assignment_p50_ms=round(percentile(service, 50), 2),
            assignment_p99_ms=round(percentile(service, 99), 2),
            with_topic_p50_ms=round(percentile(full, 50), 2),
            with_topic_p99_ms=round(percentile(full, 99), 2),
            target_ms=10,
            note="assignment = the one UPDATE choosing and taking the ticket; with_topic adds "
            "the header, the transcript and the outbox writes, with the terminal's workspace",
        )
    finally:
        await app.close()

    # Relay latency: from the update reaching the Dispatcher to the Bot API request leaving
    # the outbox worker, through the real TelegramWorkspace and TelegramSender.
    tmp2 = tmp / "relay"
    tmp2.mkdir()
    settings = settings_for(
        tmp2,
        SENIM_TELEGRAM__SPECIALISTS_CHAT_ID=str(group),
        SENIM_TELEGRAM__PER_CHAT_INTERVAL="0",
    )
    app = await create_app(settings)
    session = RecordingSession()
    arrived: dict[str, asyncio.Future[float]] = {}
    recording = session.make_request

    async def watching(bot: Any, method: Any, timeout: int | None = None) -> Any:  # noqa: ASYNC109
        result = await recording(bot, method, timeout)
        text = getattr(method, "text", "") or ""
        for marker, future in list(arrived.items()):
            if marker in text and not future.done():
                future.set_result(time.perf_counter())
        return result

    session.make_request = watching  # type: ignore[method-assign]
    bot = make_bot(session)
    worker = OutboxWorker(
        app.db,
        app.outbox,
        "telegram",
        TelegramSender(bot),
        RateLimiter(1000.0, 0.0),
        app.conversations.clock,
    )
    try:
        app.roster.add_transient(Specialist("5001", "Aigerim", ("theology",), ("ru",), 5))
        app.queue.attach(TelegramWorkspace(bot, group, app.queue))
        dp = create_dispatcher(app)
        worker.start()
        citizen = 4242
        await dp.feed_update(bot, message_update("/language", citizen))
        await app.people.set_language(
            (await app.people.identify("telegram", str(citizen)))[0], "ru"
        )
        await dp.feed_update(bot, message_update("/specialist", citizen))
        await dp.feed_update(bot, message_update("/next", 5001))
        (ticket,) = (
            await __import__("bot.storage", fromlist=["TicketRepository"])
            .TicketRepository(app.db.connection)
            .assigned_to("5001")
        )
        thread = ticket.thread_id

        async def timed(update: Any, marker: str) -> float:
            arrived[marker] = asyncio.get_running_loop().create_future()
            begin = time.perf_counter()
            await dp.feed_update(bot, update)
            end = await asyncio.wait_for(arrived[marker], 5)
            del arrived[marker]
            return (end - begin) * 1000

        inbound: list[float] = []
        outbound: list[float] = []
        for i in range(300):
            inbound.append(await timed(message_update(f"вопрос c{i}x", citizen), f"c{i}x"))
            outbound.append(
                await timed(topic_update(f"ответ s{i}x", 5001, group, thread), f"s{i}x")
            )
        emit(
            "queue_relay_latency",
            messages_each_way=len(inbound),
            citizen_to_topic_p50_ms=round(percentile(inbound, 50), 2),
            citizen_to_topic_p99_ms=round(percentile(inbound, 99), 2),
            topic_to_citizen_p50_ms=round(percentile(outbound, 50), 2),
            topic_to_citizen_p99_ms=round(percentile(outbound, 99), 2),
            target_p99_ms=30,
            note="update in -> Bot API request out, through the Dispatcher, SQLite (transcript "
            "and outbox in one transaction) and the outbox worker; per-chat pacing off",
        )
    finally:
        await worker.stop()
        await app.close()


# --- broadcast through the outbox against an emulator enforcing a rate limit ------------------

BROADCAST_TOKEN = "42:BENCH"
BROADCAST_PEOPLE = int(os.environ.get("BENCH_BROADCAST_PEOPLE", "20000"))
EMULATOR_LIMIT = 1000


async def _emulator_child() -> None:
    """Runs in its own process (its own core): the Bot API emulator with a 1,000/s limit."""
    from collections import Counter

    from tests.telegram_emulator import BotAPIEmulator

    emu = BotAPIEmulator(BROADCAST_TOKEN, rate_limit=EMULATOR_LIMIT)
    url = await emu.start()
    print(url, flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)  # the parent says when it is done
    per_chat = Counter(s.chat_id for s in emu.sent)
    print(
        json.dumps(
            {
                "delivered": emu.delivered,
                "too_many_requests": emu.too_many_requests,
                "chats": len(per_chat),
                "duplicates": sum(n - 1 for n in per_chat.values() if n > 1),
            }
        ),
        flush=True,
    )
    await emu.stop()


def _seed_subscribers(path: Path, count: int) -> None:
    import sqlite3

    now = datetime.now(UTC).isoformat()
    with sqlite3.connect(path) as conn:
        conn.executemany(
            "INSERT INTO people (channel, platform_id, pseudonym, language, created_at,"
            " last_seen_at) VALUES ('telegram', ?, ?, 'ru', ?, ?)",
            [(str(6_000_000 + i), f"Sub-{i}", now, now) for i in range(count)],
        )
        conn.execute(
            "INSERT INTO subscriptions (person_id, kind, created_at)"
            " SELECT id, 'live', ? FROM people",
            (now,),
        )


async def bench_broadcast(tmp: Path) -> None:
    from bot.app import load_pack
    from bot.core.broadcasts import BroadcastService
    from bot.core.people import utc_now
    from bot.outbox import Outbox, OutboxWorker, RateLimiter
    from bot.storage import Database
    from bot.telegram.runner import create_bot
    from bot.telegram.sender import TelegramSender

    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.bench",
        "--emulator-child",
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert child.stdout is not None
    assert child.stdin is not None
    url = (await child.stdout.readline()).decode().strip()
    settings = settings_for(tmp, TELEGRAM_API_SERVER=url, TELEGRAM_BOT_TOKEN=BROADCAST_TOKEN)
    path = tmp / "bench.sqlite3"
    db = await Database.open(path)
    await db.close()
    _seed_subscribers(path, BROADCAST_PEOPLE)
    db = await Database.open(path)
    outbox = Outbox(db, utc_now)
    broadcasts = BroadcastService(settings, db, load_pack(settings), outbox, utc_now)
    bot = create_bot(settings, retries=False)
    # Just under the emulator's limit, as the real one is set just under Telegram's.
    limiter = RateLimiter(EMULATOR_LIMIT * 0.97, 0.0, burst=0.005)
    worker = OutboxWorker(
        db, outbox, "telegram", TelegramSender(bot), limiter, utc_now, batch=1000, concurrency=32
    )
    try:
        enqueue_start = time.perf_counter()
        broadcast = await broadcasts.create("Bench announcement", "live", "", "bench")
        enqueue_seconds = time.perf_counter() - enqueue_start
        gc.collect()
        rss_start = _rss_mb()
        rss_peak = rss_start
        start = time.perf_counter()
        cpu_start = time.process_time()
        worker.start()
        while True:
            await asyncio.sleep(0.1)
            rss_peak = max(rss_peak, _rss_mb())
            progress = await broadcasts.progress(broadcast.id)
            if progress.finished:
                break
        seconds = time.perf_counter() - start
        cpu_seconds = time.process_time() - cpu_start
        await worker.stop()
        gc.collect()
        rss_end = _rss_mb()
    finally:
        await bot.session.close()
        await db.close()
        child.stdin.write(b"done\n")
        await child.stdin.drain()
        stats = json.loads((await child.stdout.readline()).decode())
        await child.wait()
    rate = progress.sent / seconds
    emit(
        "broadcast_20k_subscribers",
        subscribers=BROADCAST_PEOPLE,
        sent=progress.sent,
        failed=progress.failed,
        seconds=round(seconds, 2),
        rate_per_s=round(rate, 1),
        emulator_limit_per_s=EMULATOR_LIMIT,
        rate_vs_limit=round(rate / EMULATOR_LIMIT, 3),
        target_rate_vs_limit=0.9,
        delivered=stats["delivered"],
        duplicates=stats["duplicates"],
        answers_429=stats["too_many_requests"],
        share_429=round(stats["too_many_requests"] / max(1, stats["delivered"]), 4),
        target_share_429=0.01,
        cpu_ms_per_message=round(cpu_seconds * 1000 / max(1, progress.sent), 3),
        enqueue_seconds=round(enqueue_seconds, 2),
        rss_start_mb=round(rss_start, 1),
        rss_peak_mb=round(rss_peak, 1),
        rss_end_mb=round(rss_end, 1),
        note="real OutboxWorker + TelegramSender + aiogram Bot; emulator in its own process",
    )


async def bench_instagram(tmp: Path) -> None:
    """#7: one poll of a full inbox page (20 threads x 10 new messages) through the real
    instagrapi parsing and the core, then sending the 200 replies (direct_send's parsing)."""
    from bot.app import create_app
    from bot.instagram.channel import InstagramChannel
    from bot.outbox import RateLimiter
    from tests.instagram_api import (
        RecordedInstagram,
        inbox,
        instagram_client,
        sent,
        text_item,
        thread,
        write_session,
    )

    transport = RecordedInstagram()
    session = write_session(tmp / "ig-session.json", transport)
    settings = settings_for(
        tmp,
        SENIM_INSTAGRAM__ENABLED="true",
        SENIM_INSTAGRAM__USERNAME="bench",
        SENIM_INSTAGRAM__SESSION_PATH=str(session),
    )
    app = await create_app(settings)

    async def no_wait(_seconds: float) -> None:
        return None

    try:
        api = instagram_client(settings.instagram, transport)
        channel = InstagramChannel(
            app, api, sleep=no_wait, limiter=RateLimiter(1e6, 0.0, sleep=no_wait)
        )
        await channel.guard.load()
        await channel.connect()
        texts = questions()
        at = time.time() + 60
        threads = [
            thread(
                f"3402823668417103009491281{n:011d}",
                str(20_000 + n),
                [
                    text_item(str(20_000 + n), texts[(n * 10 + k) % len(texts)], at)
                    for k in range(10)
                ],
            )
            for n in range(20)
        ]
        transport.on("GET", r"/direct_v2/inbox/$", inbox(*threads))
        transport.on("GET", r"/direct_v2/pending_inbox/$", inbox())
        transport.on("POST", r"/seen/$", (200, {"status": "ok"}), repeat=True)
        transport.on("POST", r"/broadcast/text/$", sent(threads[0]["thread_id"]), repeat=True)
        start = time.perf_counter()
        views = await api.inbox()
        parse = time.perf_counter() - start
        transport.on("GET", r"/direct_v2/inbox/$", inbox(*threads))
        start = time.perf_counter()
        handled = await channel.poller.poll_once()
        poll = time.perf_counter() - start
        start = time.perf_counter()
        rows = 0
        while count := await channel.worker.run_once():
            rows += count
        send = time.perf_counter() - start
        emit(
            "instagram poll, 20 threads x 10 messages",
            messages=handled,
            page_parse_ms=round(parse * 1000, 1),
            poll_ms=round(poll * 1000, 1),
            per_message_ms=round(poll * 1000 / max(1, handled), 2),
            replies=rows,
            send_per_reply_ms=round(send * 1000 / max(1, rows), 2),
            threads_parsed=len(views),
            note="the real Instagram adds its own latency and the 20-40 s poll interval",
        )
    finally:
        await app.close()


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--memory-child":
        asyncio.run(_memory_child(sys.argv[2]))
        return
    if len(sys.argv) == 2 and sys.argv[1] == "--emulator-child":
        asyncio.run(_emulator_child())
        return
    import logging

    logging.basicConfig(level=logging.ERROR)
    chosen = set(sys.argv[1:]) or {
        "matcher",
        "cold",
        "pipeline",
        "memory",
        "queue",
        "broadcast",
        "instagram",
    }
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        if "matcher" in chosen:
            bench_matcher(tmp)
        if "cold" in chosen:
            bench_cold_start(tmp)
        if "pipeline" in chosen:
            asyncio.run(bench_pipeline(tmp))
        if "memory" in chosen:
            bench_memory(tmp)
        if "queue" in chosen:
            asyncio.run(bench_queue(tmp))
        if "broadcast" in chosen:
            asyncio.run(bench_broadcast(tmp))
        if "instagram" in chosen:
            asyncio.run(bench_instagram(tmp))


if __name__ == "__main__":
    main()
