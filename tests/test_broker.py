from types import SimpleNamespace

from redis.exceptions import ConnectionError as RedisConnectionError

from qipp_portal.celery import RedisChannel, RedisTransport, survive_a_broker_outage


def test_a_channel_closing_after_redis_went_away_raises_a_connection_error_the_worker_survives():
    # What a worker's channel looks like when Redis went away with a task in
    # its hands: kombu has already let go of the connection. Stock kombu
    # raises AttributeError here, and the worker exits instead of reconnecting.
    channel = RedisChannel.__new__(RedisChannel)
    channel.connection = SimpleNamespace(client=None)
    try:
        channel._connparams()
    except RedisConnectionError as error:
        assert isinstance(error, RedisTransport.connection_errors), "kombu ignores it while closing"
    else:
        raise AssertionError("no connection error raised")


def test_workers_on_redis_use_the_transport_that_survives_an_outage():
    conf = SimpleNamespace(broker_url="redis://redis.example:6379/0", broker_transport=None)
    survive_a_broker_outage(conf=conf)
    assert conf.broker_transport == "qipp_portal.celery:RedisTransport"

    embedded = SimpleNamespace(broker_url="filesystem://", broker_transport=None)
    survive_a_broker_outage(conf=embedded)
    assert embedded.broker_transport is None
