"""Find a local package index (a ``file://`` simple index named in the pip
configuration the settings read) that holds the small pure-Python wheels the
environment tests install, so those tests never need the network."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

_HREF = re.compile(r'href="([^"#]+\.whl)(?:#[^"]*)?"')


@dataclass(frozen=True)
class LocalIndex:
    url: str          # file:///.../simple, as the settings name it
    root: Path        # the directory behind it

    def wheel(self, project: str) -> Path:
        """The last wheel file the index lists for ``project`` (its newest, in a generated index)."""
        page = self.root / project / "index.html"
        hrefs = _HREF.findall(page.read_text(encoding="utf-8", errors="replace"))
        if not hrefs:
            raise FileNotFoundError(f"{page} lists no wheel")
        base = page.as_uri()
        return Path(unquote(urlparse(urljoin(base, hrefs[-1])).path))


def find_local_index(settings, projects: tuple[str, ...]) -> LocalIndex | None:
    """The first ``file://`` index of the settings that lists every project, or None."""
    for url in [settings.index_url or "", *settings.extra_index_urls]:
        if not url.startswith("file://"):
            continue
        root = Path(unquote(urlparse(url).path))
        if all((root / p / "index.html").is_file() for p in projects):
            index = LocalIndex(url=url, root=root)
            try:
                if all(index.wheel(p).is_file() for p in projects):
                    return index
            except OSError:
                continue
    return None
