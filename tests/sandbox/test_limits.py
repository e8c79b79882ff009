"""Rate limits: per (key, operation), scaled, switched off; the spec's table."""

from __future__ import annotations

from sandbox.limits import RateLimiter, limits_for


def _first_throttle(limiter: RateLimiter, key: str, operation: str, calls: int) -> int | None:
    for i in range(calls):
        decision = limiter.check(key, operation)
        assert decision is not None
        if not decision.allowed:
            return i
    return None


def test_the_table_holds_the_specs_limits() -> None:
    assert limits_for("get_profiles") == (75, 750, 0)
    assert limits_for("bulk_import_profiles") == (10, 150, 0)
    assert limits_for("create_list") == (10, 150, 150)
    assert limits_for("get_list:profile_count") == (1, 15, 0)


def test_a_scaled_limit_throttles_one_key_and_operation_and_not_the_others() -> None:
    limiter = RateLimiter("on", 0.014)  # get_lists: 1 a second
    # three calls within milliseconds: at least two share a one-second window
    assert _first_throttle(limiter, "a", "get_lists", 3) is not None
    assert limiter.check("b", "get_lists").allowed  # type: ignore[union-attr]
    assert limiter.check("a", "get_profiles").allowed  # type: ignore[union-attr]


def test_a_throttle_says_how_long_to_wait_in_whole_seconds() -> None:
    limiter = RateLimiter("on", 0.014)
    for _ in range(3):
        decision = limiter.check("a", "get_lists")
        assert decision is not None
        if not decision.allowed:
            assert isinstance(decision.retry_after, int) and 1 <= decision.retry_after <= 60
            return
    raise AssertionError("never throttled")


def test_limits_switched_off_decide_nothing() -> None:
    limiter = RateLimiter("off")
    assert all(limiter.check("a", "create_list") is None for _ in range(500))
