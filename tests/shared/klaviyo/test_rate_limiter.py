import redis

from shared.klaviyo.rate_limiter import Limit, RateLimiter


def test_the_burst_window_lets_its_limit_through_then_says_wait_until_the_next_second(
        r: redis.Redis) -> None:
    limiter = RateLimiter(r, {"op": Limit(burst=3, steady=100)})
    now = 1_000_000.25
    assert [limiter.take("acct", "op", now) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("acct", "op", now) == 0.75
    assert limiter.take("acct", "op", now + 0.75) == 0.0


def test_the_steady_window_limits_calls_per_minute(r: redis.Redis) -> None:
    limiter = RateLimiter(r, {"op": Limit(burst=10, steady=4)})
    start = 6_000_000.0  # a minute boundary
    assert [limiter.take("acct", "op", start + i) for i in range(4)] == [0.0] * 4
    assert limiter.take("acct", "op", start + 10) == 50.0


def test_limits_are_per_klaviyo_account_and_operation(r: redis.Redis) -> None:
    limiter = RateLimiter(r, {"a": Limit(1, 10), "b": Limit(1, 10)})
    now = 2_000_000.0
    assert limiter.take("acct", "a", now) == 0.0
    assert limiter.take("acct", "a", now) > 0
    assert limiter.take("acct", "b", now) == 0.0
    assert limiter.take("other", "a", now) == 0.0


def test_after_a_429_nobody_calls_that_operation_until_retry_after_has_passed(
        r: redis.Redis) -> None:
    limiter = RateLimiter(r, {"op": Limit(100, 1000)})
    other_worker = RateLimiter(r, {"op": Limit(100, 1000)})
    limiter.block("acct", "op", 2)
    wait = other_worker.take("acct", "op")
    assert 1.0 < wait <= 2.0
    assert other_worker.take("acct", "other_op") == 0.0
