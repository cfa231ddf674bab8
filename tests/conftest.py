import pytest
from django.db import connection
from django.test import Client

from feedback.models import Element, Level, OrganisationType, Region, Role


def pytest_collection_modifyitems(config, items):
    """Tests marked postgresql need its concurrency; on SQLite they are deselected, and say so."""
    if connection.vendor == "postgresql":
        return
    selected = [item for item in items if "postgresql" not in item.keywords]
    deselected = [item for item in items if "postgresql" in item.keywords]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


class HttpsClient(Client):
    """The test client over HTTPS, as production serves every page (plain HTTP is redirected)."""

    def generic(self, method, path, data="", content_type="application/octet-stream", secure=True, **extra):
        return super().generic(method, path, data, content_type, secure=True, **extra)


@pytest.fixture
def flaky_mailer(settings):
    """Mail through tests.mailers.FlakyBackend, which a test can make fail like a real mail server."""
    from . import mailers

    settings.MAILERS = {"default": {"BACKEND": "tests.mailers.FlakyBackend"}}
    mailers.FlakyBackend.failure = None
    mailers.FlakyBackend.down = False
    mailers.FlakyBackend.attempts = mailers.FlakyBackend.connections = 0
    yield mailers.FlakyBackend
    mailers.FlakyBackend.failure = None
    mailers.FlakyBackend.down = False


@pytest.fixture(autouse=True)
def empty_cache():
    """Rate-limit counters from one test must not spill into the next."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def forget_the_call_window():
    """Each process keeps the call's window for a few seconds: a rolled-back test's window must not linger."""
    from feedback import call

    call._kept = None
    yield
    call._kept = None


@pytest.fixture
def client():
    return HttpsClient()


ABOUT_YOU = {
    "name": "Priya Shah",
    "email": "Priya.Shah@example.nhs.uk",
    "role": Role.NURSE_MIDWIFE,
    "organisation": "Northfield Community Health",
    "organisation_type": OrganisationType.PRIMARY_CARE_TRUST,
    "region": Region.NORTH_WEST,
}

PRIORITISATION_VIEW = {
    "element": Element.PRIORITISATION,
    "level": Level.REGIONAL,
    "text": "Procurement of common supplies should be organised once per region, not by every trust.",
}
ENGAGEMENT_VIEW = {
    "element": Element.ENGAGEMENT,
    "level": "",
    "text": "Joint discharge teams with social care would stop patients waiting in acute beds.",
}


class Respondent:
    """Walks the journey through the test client, page by page, as a browser would."""

    def __init__(self, client):
        self.client = client

    def about_you(self, **overrides):
        self.client.get("/give-views/about-you/")
        return self.client.post("/give-views/about-you/", {**ABOUT_YOU, **overrides})

    def add_view(self, view):
        chosen = self.client.post("/give-views/your-views/add/", {"element": view["element"]})
        return self.client.post(chosen["Location"], view) if chosen.status_code == 302 else chosen

    def no_more_views(self):
        return self.client.post("/give-views/your-views/", {"add_another": "no"})

    def permissions(self, **fields):
        data = {"principles": ["coproduction", "subsidiarity"], "consent_to_quote": "on", **fields}
        return self.client.post("/give-views/permissions/", data)

    def token(self):
        return self.client.session["draft"]["token"]

    def send(self, token=None, **extra):
        return self.client.post("/give-views/check-your-answers/", {"token": token or self.token(), **extra})

    def complete_up_to_check(self, views=(PRIORITISATION_VIEW, ENGAGEMENT_VIEW), **about):
        self.about_you(**about)
        for view in views:
            self.add_view(view)
        self.no_more_views()
        self.permissions()


@pytest.fixture
def respondent(client, settings):
    # The minimum fill time is tested on its own; elsewhere it would only slow tests down.
    settings.QIPP_MIN_FILL_SECONDS = 0
    return Respondent(client)


@pytest.fixture
def make_staff(db):
    """Staff accounts in the policy team's groups, signed in with two-factor verified."""
    from django.contrib.auth.models import Group, User
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_static.models import StaticDevice

    def make(group: str | None, *, client=None, username: str | None = None, **fields) -> User:
        user = User.objects.create_user(
            username or (group or "nogroup").lower().replace(" ", "."),
            password="a-long-test-password",
            is_staff=True,
            **fields,
        )
        if group:
            user.groups.add(Group.objects.get(name=group))
        if client is not None:
            device = StaticDevice.objects.create(user=user, name="Backup codes")
            client.force_login(user)
            session = client.session
            session[DEVICE_ID_SESSION_KEY] = device.persistent_id
            session.save()
        return user

    return make


@pytest.fixture
def imap_server():
    """A private Dovecot on a free loopback port, with an empty mailbox; stopped and removed afterwards."""
    import shutil
    import tempfile

    from . import dovecot

    if not dovecot.available():
        # A missing server is a machine to set up, never a test passed over.
        pytest.fail("Dovecot is not installed (apt-get install dovecot-imapd): the IMAP tests need a real server.")
    # Not under pytest's own temporary folder: Dovecot's processes run as its
    # own users and must be able to reach the mail folder.
    root = tempfile.mkdtemp(prefix="qipp-dovecot-")
    server = dovecot.Dovecot(root)
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
