"""
The load client: simulated respondents walking the whole journey over HTTP,
each with a cookie jar of its own, as a browser behind the TLS-terminating
proxy would (`X-Forwarded-Proto: https`, an `Origin` for CSRF). Every
respondent fetches the check-your-answers page for its own one-time token.
"""

import http.client
import re
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
TOKEN_FIELD = re.compile(r'name="token" value="([0-9a-f-]{36})"')
RECEIPT = re.compile(r"/give-views/received/([0-9a-f-]{36})/$")
# What the portal's 500 page says: a readable page, not a stack trace or a blank.
ERROR_PAGE = "Sorry, there is a problem with the service"
# Longer than this for one request counts as a hang.
HANG_SECONDS = 10

ABOUT_YOU = {
    "name": "Sam Okafor",
    "role": "manager",
    "organisation": "Westbrook Primary Care Trust",
    "organisation_type": "pct",
    "region": "north_west",
}
VIEWS = [
    {
        "element": "prioritisation",
        "level": "regional",
        "text": "Procurement of common supplies should be organised once per region, not by every trust.",
    },
    {
        "element": "engagement",
        "level": "",
        "text": "Joint discharge teams with social care would stop patients waiting in acute beds.",
    },
]


@dataclass
class Response:
    status: int
    headers: dict
    body: str
    seconds: float
    error: str = ""

    @property
    def location(self) -> str:
        return self.headers.get("location", "")


class Browser:
    """
    One respondent's cookies, over plain HTTP to gunicorn as if through the
    TLS proxy. `site` is the name in the address bar (the Host header); the
    request goes to `target()`, a web host.
    """

    def __init__(self, port: int, *, timeout: float = 30, address: str = "127.0.0.1", site: str | None = None):
        self.port, self.timeout, self.address = port, timeout, address
        self.site = site or f"127.0.0.1:{port}"
        self.cookies: dict[str, str] = {}

    def target(self) -> tuple[str, int]:
        return self.address, self.port

    def request(self, method: str, path: str, form: dict | None = None) -> Response:
        headers = {"Host": self.site, "X-Forwarded-Proto": "https"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Origin"] = f"https://{self.site}"
        started = time.monotonic()
        connection = http.client.HTTPConnection(*self.target(), timeout=self.timeout)
        try:
            connection.request(method, path, body=body, headers=headers)
            reply = connection.getresponse()
            text = reply.read().decode("utf-8", errors="replace")
            for cookie in reply.headers.get_all("Set-Cookie") or []:
                name, _, rest = cookie.partition("=")
                value = rest.split(";", 1)[0]
                if value in ('""', "") or "max-age=0" in cookie.lower():
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = value
            return Response(
                reply.status, {k.lower(): v for k, v in reply.getheaders()}, text, time.monotonic() - started
            )
        except (OSError, http.client.HTTPException) as error:
            return Response(0, {}, "", time.monotonic() - started, error=f"{type(error).__name__}: {error}")
        finally:
            connection.close()

    def csrf(self, page: Response) -> str:
        found = CSRF_FIELD.search(page.body)
        return found.group(1) if found else ""

    def post(self, path: str, page: Response, form: dict) -> Response:
        return self.request("POST", path, {"csrfmiddlewaretoken": self.csrf(page), **form})


@dataclass
class Outcome:
    """One respondent's attempt: where it got to, and what the portal answered."""

    number: int
    email: str
    started: float
    ended: float = 0.0
    token: str = ""
    step: str = ""
    # The send step and the confirmation (receipt) page.
    send_status: int = 0
    send_seconds: float = 0.0
    receipt_status: int = 0
    receipt_seconds: float = 0.0
    accepted: bool = False
    # A failed step: its status, whether the page was readable, how long it took.
    failure_status: int = 0
    failure_readable: bool = False
    failure_seconds: float = 0.0
    failure: str = ""
    statuses: list = field(default_factory=list)

    @property
    def slowest(self) -> float:
        return max([self.send_seconds, self.receipt_seconds, self.failure_seconds])


def _failed(outcome: Outcome, step: str, response: Response) -> Outcome:
    outcome.step = step
    outcome.failure_status = response.status
    outcome.failure_seconds = response.seconds
    outcome.failure_readable = response.status >= 400 and (ERROR_PAGE in response.body or "<h1" in response.body)
    outcome.failure = response.error or f"HTTP {response.status} at {step}"
    return outcome


def journey_to_check(browser: Browser, outcome: Outcome) -> Response | None:
    """Walk from about-you to check-your-answers; the check page (with the token) or None if a step failed."""
    steps = [
        ("about-you", "/give-views/about-you/", {**ABOUT_YOU, "email": outcome.email}),
        *(
            step
            for view in VIEWS
            for step in (
                ("choose-element", "/give-views/your-views/add/", {"element": view["element"]}),
                ("add-view", f"/give-views/your-views/add/{view['element']}/", view),
            )
        ),
        ("no-more-views", "/give-views/your-views/", {"add_another": "no"}),
        ("permissions", "/give-views/permissions/", {"principles": ["coproduction"], "consent_to_quote": "on"}),
    ]
    page = browser.request("GET", "/give-views/about-you/")
    outcome.statuses.append(page.status)
    if page.status != 200:
        _failed(outcome, "about-you form", page)
        return None
    for step, path, form in steps:
        response = browser.post(path, page, form)
        outcome.statuses.append(response.status)
        if response.status != 302:
            _failed(outcome, step, response)
            return None
    page = browser.request("GET", "/give-views/check-your-answers/")
    outcome.statuses.append(page.status)
    if page.status != 200 or not TOKEN_FIELD.search(page.body):
        _failed(outcome, "check page", page)
        return None
    outcome.token = TOKEN_FIELD.search(page.body).group(1)
    return page


def send(browser: Browser, page: Response, outcome: Outcome) -> Outcome:
    """Post the token from the check page and follow the redirect to the confirmation page."""
    response = browser.post("/give-views/check-your-answers/", page, {"token": outcome.token})
    outcome.send_status, outcome.send_seconds = response.status, response.seconds
    outcome.statuses.append(response.status)
    found = RECEIPT.search(response.location) if response.status == 302 else None
    if not found or found.group(1) != outcome.token:
        return _failed(outcome, "send", response)
    receipt = browser.request("GET", response.location)
    outcome.receipt_status, outcome.receipt_seconds = receipt.status, receipt.seconds
    outcome.statuses.append(receipt.status)
    if receipt.status != 200:
        return _failed(outcome, "confirmation page", receipt)
    outcome.accepted = True
    return outcome


def respond(port: int, number: int, email: str, browser: Browser | None = None) -> Outcome:
    browser = browser or Browser(port)
    outcome = Outcome(number=number, email=email, started=time.time())
    page = journey_to_check(browser, outcome)
    if page is not None:
        send(browser, page, outcome)
    outcome.ended = time.time()
    return outcome


def stream(port: int, *, seconds: float, clients: int, prefix: str, pause: float = 0.0, browser=None) -> list[Outcome]:
    """
    `clients` respondents at a time, one after another, for `seconds`; every
    attempt's outcome. `browser`, if given, makes each respondent's Browser.
    """
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    counter = iter(range(1_000_000))
    deadline = time.monotonic() + seconds

    def client() -> None:
        while time.monotonic() < deadline:
            with lock:
                number = next(counter)
            outcome = respond(port, number, f"{prefix}-{number}@example.nhs.uk", browser() if browser else None)
            with lock:
                outcomes.append(outcome)
            if pause:
                time.sleep(pause)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes, key=lambda outcome: outcome.number)


def repost(port: int, token: str) -> tuple[int, str]:
    """Post an existing token again from a fresh browser: the status of the page it leads to, and that page."""
    browser = Browser(port)
    page = browser.request("GET", "/give-views/about-you/")
    response = browser.post("/give-views/check-your-answers/", page, {"token": token})
    if response.status != 302:
        return response.status, ""
    receipt = browser.request("GET", response.location)
    return receipt.status, receipt.body


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]
