"""A local stand-in of arXiv's Atom API over a fixed corpus, so the real `arxiv` client runs offline and the react
suite's expected answers cannot drift with live search results."""

from __future__ import annotations

import http.server
import json
import math
import re
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

from agentlab.evals.suites.react.data import ARXIV_CORPUS


_WORD = re.compile(r'[a-z0-9]+')


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


class OfflineArxiv:
    """Serves `GET /api/query?search_query=...&start=...&max_results=...` from a JSON corpus, ranked by tf-idf
    over title (weighted 3x), authors and summary; the real `arxiv` client reads its Atom feed."""

    def __init__(self, corpus: Path = ARXIV_CORPUS):
        self.papers = json.loads(corpus.read_text())
        docs = [_words(' '.join([p['title']] * 3 + p['authors'] + [p['summary']])) for p in self.papers]
        n = len(docs)
        df: dict[str, int] = {}
        for d in docs:
            for w in set(d):
                df[w] = df.get(w, 0) + 1
        self.idf = {w: math.log(1 + n / c) for w, c in df.items()}
        self.docs = docs
        self.server: http.server.ThreadingHTTPServer | None = None

    def search(self, query: str, start: int = 0, count: int = 3) -> list[dict]:
        q = set(_words(query))
        scored = []
        for i, d in enumerate(self.docs):
            score = sum(self.idf.get(w, 0.0) for w in d if w in q)
            if score > 0:
                scored.append((-score, self.papers[i]['id'], i))
        scored.sort()
        return [self.papers[i] for _, _, i in scored[start:start + count]]

    def atom(self, query: str, start: int, count: int) -> bytes:
        hits = self.search(query, start, count)
        entries = []
        for p in hits:
            authors = ''.join(f'<author><name>{escape(a)}</name></author>' for a in p['authors'])
            entries.append(
                f'<entry><id>http://arxiv.org/abs/{p["id"]}v1</id><updated>{p["published"]}T00:00:00Z</updated>'
                f'<published>{p["published"]}T00:00:00Z</published><title>{escape(p["title"])}</title>'
                f'<summary>{escape(p["summary"])}</summary>{authors}'
                f'<link href="http://arxiv.org/abs/{p["id"]}v1" rel="alternate" type="text/html"/>'
                f'<arxiv:primary_category xmlns:arxiv="http://arxiv.org/schemas/atom" term="{p["category"]}" '
                f'scheme="http://arxiv.org/schemas/atom"/><category term="{p["category"]}" '
                f'scheme="http://arxiv.org/schemas/atom"/></entry>')
        return ('<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
                f'<title>ArXiv Query: {escape(query)}</title><id>http://arxiv.org/api/offline</id>'
                '<updated>2025-01-01T00:00:00Z</updated>'
                f'<opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">{len(hits)}'
                '</opensearch:totalResults>'
                f'<opensearch:startIndex xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">{start}'
                '</opensearch:startIndex>'
                f'<opensearch:itemsPerPage xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">{count}'
                '</opensearch:itemsPerPage>' + ''.join(entries) + '</feed>').encode()

    def start(self) -> str:
        """Serve on 127.0.0.1 (a free port) in a daemon thread; returns the query URL."""
        if self.server is None:
            corpus = self

            class Handler(http.server.BaseHTTPRequestHandler):
                def do_GET(self):
                    url = urlsplit(self.path)
                    params = parse_qs(url.query)
                    query = params.get('search_query', [''])[0]
                    start = int(params.get('start', ['0'])[0] or 0)
                    count = int(params.get('max_results', ['3'])[0] or 3)
                    body = corpus.atom(query, start, min(count, 10)) if url.path == '/api/query' else b''
                    self.send_response(200 if body else 404)
                    self.send_header('Content-Type', 'application/atom+xml; charset=utf-8')
                    self.send_header('Content-Length', str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

                def log_message(self, *args):
                    pass

            self.server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
            threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f'http://127.0.0.1:{self.server.server_address[1]}/api/query'

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


_ARXIV: OfflineArxiv | None = None
_ARXIV_LOCK = threading.Lock()


def offline_arxiv_url() -> str:
    global _ARXIV
    with _ARXIV_LOCK:
        if _ARXIV is None:
            _ARXIV = OfflineArxiv()
        return _ARXIV.start()
