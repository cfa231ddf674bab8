import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO

import pytest
from pypdf import PdfReader

from feedback import digests
from feedback.models import Element
from feedback.pdf import render_pdf
from feedback.periods import Week

from .factories import SubmissionFactory

MARKER = "FETCHED-MARKER-7731"
W47 = Week.parse("2026-W47")


class LoopbackServer:
    """An HTTP server on 127.0.0.1 that answers anything and remembers every path asked for."""

    def __init__(self):
        self.requests: list[str] = []
        seen = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                seen.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "text/css")
                self.end_headers()
                self.wfile.write(f'body::after {{ content: "{MARKER}" }}'.encode())

            def log_message(self, format, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def loopback():
    server = LoopbackServer()
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()
        thread.join()


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(BytesIO(pdf)).pages)


def test_a_pdf_fetches_nothing_a_document_names_and_still_renders(loopback, tmp_path):
    marker_css = tmp_path / "marker.css"
    marker_css.write_text(f'body::before {{ content: "{MARKER}" }}', encoding="utf-8")
    html = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<link rel="stylesheet" href="{marker_css.as_uri()}">
<link rel="stylesheet" href="{loopback.url}/linked.css">
<style>
@import url("{loopback.url}/imported.css");
@font-face {{ font-family: "Remote"; src: url("{loopback.url}/remote.woff2"); }}
p {{ font-family: "Remote", sans-serif; }}
</style>
</head>
<body>
<p>Procurement of common supplies should be organised once per region.</p>
<img src="{loopback.url}/pixel.png" alt="">
<a rel="attachment" href="{loopback.url}/attached.txt">Attached</a>
</body>
</html>"""

    pdf = render_pdf(html)

    assert pdf.startswith(b"%PDF-")
    assert loopback.requests == []
    text = text_of(pdf)
    assert "Procurement of common supplies" in text
    assert MARKER not in text


@pytest.fixture
def lead_client(client, make_staff):
    make_staff("Policy leads", client=client)
    return client


@pytest.mark.django_db
def test_a_digest_quoting_urls_downloads_as_a_pdf_without_fetching_them(lead_client, loopback):
    named = f'See https://example.org/x and <img src="{loopback.url}/pixel.png"> for the detail.'
    SubmissionFactory(
        received_at=W47.start + timedelta(days=2),
        consent_to_quote=True,
        views=[
            {"element": Element.NATIONAL_POLICY, "text": f"Fund discharge teams nationally. {named}"},
            {"element": Element.LEADERSHIP, "text": f"Clinical leaders need protected time. {named}"},
        ],
    )
    digest = digests.compile_digest(week=W47, now=W47.end + timedelta(hours=9))
    assert digest.is_compiled

    response = lead_client.get(f"/admin/feedback/digest/{digest.pk}/pdf/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    assert loopback.requests == []
    assert "https://example.org/x" in text_of(response.content)
