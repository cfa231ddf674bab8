"""
HTML to PDF, fetching nothing.

The PDF is built from our own HTML and inline styles: nothing is fetched,
neither fonts from a CDN nor anything a link in submitted text might name.
WeasyPrint would otherwise fetch every image, stylesheet, @import, font and
attachment URL in the document, over http(s) and from the server's own
filesystem (file:). Every fetch is refused instead, data: URLs too, since the
digest uses none; WeasyPrint then logs the refusal, leaves that resource out
and still renders the rest.
"""

from typing import NoReturn


def render_pdf(html: str) -> bytes:
    """The PDF of a complete HTML document whose styles are inline; no URL it names is fetched."""
    # Imported here: it loads system libraries the web pages never need.
    from weasyprint import HTML, URLFetcher

    class RefuseEveryFetch(URLFetcher):
        # WeasyPrint wraps what this raises and leaves the resource out; only
        # its FatalURLFetchingError would stop the rendering.
        def fetch(self, url: str, headers: dict | None = None) -> NoReturn:
            raise ValueError(f"Not fetched: {url}")

    return HTML(string=html, url_fetcher=RefuseEveryFetch()).write_pdf()
