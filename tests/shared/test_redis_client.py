"""What an operator reads about the state Redis: one line for a wrong URL or a silent
server, and an outage logged once with growing, capped waits."""

from __future__ import annotations

import logging

import pytest
import redis

from shared.redis_client import RedisOutage, RedisUrlError, connect, describe_redis_error


def test_an_outage_is_logged_once_waits_grow_to_a_cap_and_its_end_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outage = RedisOutage("collector", "127.0.0.1:6379", logging.getLogger("test.outage"))
    error = redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
    with caplog.at_level(logging.INFO, logger="test.outage"):
        outage.recovered()  # nothing to say while Redis answers
        waits = [outage.failed(error) for _ in range(8)]
        outage.recovered()
        outage.recovered()
    assert waits == [0.5, 1, 2, 4, 8, 10, 10, 10]
    assert [r.levelname for r in caplog.records] == ["WARNING", "INFO"]
    assert caplog.records[0].getMessage().startswith(
        "collector: Redis at 127.0.0.1:6379 is unreachable (Connection refused)")
    assert "is back after" in caplog.records[1].getMessage()
    assert "(8 failed attempt(s))" in caplog.records[1].getMessage()


def test_a_url_with_a_password_is_never_quoted_whole() -> None:
    with pytest.raises(RedisUrlError) as refused:
        connect("admin:s3cret-pw@redis.internal:6379")
    assert "s3cret" not in str(refused.value) and "***@redis.internal:6379" in str(refused.value)
    line = describe_redis_error(redis.ConnectionError("Error 111 connecting to x. Refused."),
                                "redis://:s3cret-pw@redis.internal:6380/0")
    assert line == ("Redis at redis.internal:6380 is unreachable (Refused); is redis-server "
                    "running there?")
