import os

from celery import Celery
from celery.signals import celeryd_init
from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "qipp_portal.settings")

app = Celery("qipp_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


class RedisChannel(kombu_redis.Channel):
    def _connparams(self, asynchronous=False):
        # When Redis goes away while a task is unacknowledged (acks_late), the
        # worker closes its channel, and closing tries to hand the message
        # back over a connection kombu has already let go of (`client` is
        # None). kombu 5.7 raises AttributeError there, which the worker
        # takes as unrecoverable: it exits instead of reconnecting. A
        # connection error is what it expects, and it reconnects once Redis
        # is back; the message itself stays in Redis (or the sweeper queues
        # its work again).
        if self.connection.client is None:
            raise RedisConnectionError("The connection to the broker is closed.")
        return super()._connparams(asynchronous=asynchronous)


class RedisTransport(kombu_redis.Transport):
    Channel = RedisChannel


@celeryd_init.connect
def survive_a_broker_outage(sender=None, conf=None, **kwargs) -> None:
    """Workers on Redis use the transport above, so that a Redis outage never stops them."""
    if conf.broker_url.startswith(("redis://", "rediss://")) and not conf.broker_transport:
        conf.broker_transport = "qipp_portal.celery:RedisTransport"
