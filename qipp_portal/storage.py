"""Static files in production: WhiteNoise's compressed, hashed files, with their addresses remembered."""

from functools import lru_cache

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    """
    The manifest does not change while the process runs, so neither does a
    file's hashed address: work each one out once, not on every page (each
    page names seven).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._remembered_url = lru_cache(maxsize=1024)(super().url)

    def url(self, name, force=False):
        return self._remembered_url(name, force)
