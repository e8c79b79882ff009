from __future__ import annotations

from pathlib import Path

import redis

from shared.redis_server import EmbeddedRedis


def test_embedded_redis_starts_with_aof_and_stops_cleanly() -> None:
    server = EmbeddedRedis().start()
    try:
        client = redis.Redis.from_url(server.url, decode_responses=True)
        assert client.ping()
        assert client.config_get("appendonly")["appendonly"] == "yes"
        assert client.config_get("appendfsync")["appendfsync"] == "everysec"
        client.close()
    finally:
        server.stop()
    assert not server.directory.exists()


def test_embedded_redis_keeps_data_across_a_kill_and_restart(tmp_path: Path) -> None:
    server = EmbeddedRedis(directory=tmp_path, appendfsync="always").start()
    client = redis.Redis.from_url(server.url, decode_responses=True)
    client.set("k", "v")
    client.close()
    server.kill()
    server.start()
    client = redis.Redis.from_url(server.url, decode_responses=True)
    assert client.get("k") == "v"
    client.close()
    server.stop()
