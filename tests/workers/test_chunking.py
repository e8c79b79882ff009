import orjson

from workers.push.plan.chunking import ENVELOPE_BYTES, profile_resource, split


def resources(count: int, size: int = 10) -> list[dict[str, object]]:
    return [profile_resource({"email": f"c{i}@example.com", "properties": {"x": "y" * size}})
            for i in range(count)]


def test_chunks_never_hold_more_profiles_than_the_limit() -> None:
    ranges = list(split(resources(25_001), 10_000, 5 * 1024 * 1024))
    assert [end - start for start, end in ranges] == [10_000, 10_000, 5_001]
    assert ranges[0][0] == 0 and ranges[-1][1] == 25_001


def test_chunks_never_exceed_the_byte_limit_measured_as_json() -> None:
    items = resources(300, size=2_000)
    limit = 100_000
    ranges = list(split(items, 10_000, limit))
    assert len(ranges) > 1
    for start, end in ranges:
        body = orjson.dumps(items[start:end])
        assert len(body) + ENVELOPE_BYTES <= limit
    assert sum(end - start for start, end in ranges) == 300


def test_nothing_to_send_gives_no_chunk() -> None:
    assert list(split([], 10, 1000)) == []
