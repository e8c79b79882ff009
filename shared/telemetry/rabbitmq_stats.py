"""Message counts of a RabbitMQ broker's queues (``SYNC_BROKER_URL=amqp://...``): the queue
depths of ``/metrics``, ``status`` and the console (:mod:`shared.telemetry.broker_stats`)
when the broker is not a Redis.

Dramatiq's ``RabbitmqBroker`` declares three durable queues per queue name: ``<q>`` (waiting
and, until acknowledged, in progress), ``<q>.DQ`` (delayed: retries and delayed sends) and
``<q>.XQ`` (dead letters, kept 7 days). A passive ``queue.declare`` answers a queue's
``message_count`` without creating or changing it. RabbitMQ counts only messages *ready*
for delivery: those a worker holds (running, prefetched, or a delayed one waiting for its
time in the worker's memory) are not in it, unlike the Redis broker's count.

One connection per reading (a scrape every 15 s or so), with short timeouts; an unreachable
broker raises :class:`BrokerUnavailable` naming the host, never the password.
"""

from __future__ import annotations

from typing import Any

import pika
import pika.exceptions

from shared.broker_redis import redacted

TIMEOUT_S = 5.0


class BrokerUnavailable(RuntimeError):
    """RabbitMQ could not be asked (the message names the URL without its password)."""


def _parameters(url: str) -> pika.URLParameters:
    parameters = pika.URLParameters(url)
    parameters.connection_attempts = 1
    parameters.socket_timeout = TIMEOUT_S
    parameters.blocked_connection_timeout = TIMEOUT_S
    parameters.stack_timeout = TIMEOUT_S
    return parameters


def _count(connection: Any, channel: Any, queue: str) -> tuple[Any, int]:
    """(the channel to go on with, the queue's ready messages: 0 when it does not exist
    yet -- RabbitMQ closes the channel on a 404, so a new one is opened)."""
    try:
        answer = channel.queue_declare(queue=queue, passive=True)
    except pika.exceptions.ChannelClosedByBroker as error:
        if error.reply_code != 404:
            raise
        return connection.channel(), 0
    return channel, int(answer.method.message_count)


def rabbitmq_address(url: str) -> str:
    """``host:port`` of the first node ``url`` names (never its user or password)."""
    parameters = pika.URLParameters(url.split(";")[0])
    return f"{parameters.host}:{parameters.port}"


def _connect(url: str) -> pika.BlockingConnection:
    """A connection to the first node of ``url`` (``;``-separated node URLs) that answers."""
    return pika.BlockingConnection([_parameters(u) for u in url.split(";")])


def rabbitmq_answers(url: str) -> bool:
    """Whether a connection to the RabbitMQ of ``url`` opens (then closed at once)."""
    try:
        _connect(url).close()
    except pika.exceptions.AMQPError:
        return False
    return True


def rabbitmq_counts(url: str, queues: list[str]) -> dict[str, int]:
    """Queue name -> its ready messages, on the RabbitMQ of ``url`` (several node URLs
    separated by ``;``, as Dramatiq takes them: the first that answers)."""
    try:
        connection = _connect(url)
    except pika.exceptions.AMQPError as error:
        raise BrokerUnavailable(f"RabbitMQ {redacted(url)} is unreachable "
                                f"({type(error).__name__})") from None
    try:
        channel = connection.channel()
        counts = {}
        for queue in queues:
            channel, counts[queue] = _count(connection, channel, queue)
        return counts
    except pika.exceptions.AMQPError as error:
        raise BrokerUnavailable(f"RabbitMQ {redacted(url)} did not answer "
                                f"({type(error).__name__})") from None
    finally:
        if connection.is_open:
            connection.close()
