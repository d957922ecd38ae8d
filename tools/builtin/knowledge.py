"""`knowledge`: BM25 search over a local folder of .md/.txt documents (default: configs/knowledge)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated

from lagent.actions import tool_api

from agentlab.tools.base import AgentlabAction


_TOKEN = re.compile(r'[\w]+', re.UNICODE)


def _tokens(text: str) -> list[str]:
    toks = [t.lower() for t in _TOKEN.findall(text)]
    # CJK text has no spaces: index single characters as well so Chinese queries match.
    return toks + [ch for t in toks for ch in t if '\u4e00' <= ch <= '\u9fff']


class KnowledgeBase(AgentlabAction):
    """Search a local folder of documents (.md, .txt) and return the most relevant passages."""

    def __init__(self, folder: str | os.PathLike | None = None, chunk_chars: int = 600, **kwargs):
        super().__init__(**kwargs)
        from agentlab.paths import configs_dir
        self.folder = Path(folder or os.environ.get('AGENTLAB_KB_DIR') or configs_dir() / 'knowledge')
        self.chunk_chars = chunk_chars
        self._index = None

    def _build(self):
        from rank_bm25 import BM25Okapi
        chunks: list[tuple[str, str]] = []
        for path in sorted(self.folder.rglob('*')):
            if path.suffix.lower() not in ('.md', '.txt') or not path.is_file():
                continue
            text = path.read_text(encoding='utf-8', errors='replace')
            for para in re.split(r'\n\s*\n', text):
                para = para.strip()
                while para:
                    chunks.append((path.relative_to(self.folder).as_posix(), para[:self.chunk_chars]))
                    para = para[self.chunk_chars:]
        if not chunks:
            raise FileNotFoundError(f'no .md or .txt documents under {self.folder}')
        tokenized = [_tokens(c) for _, c in chunks]
        self._index = (BM25Okapi(tokenized), chunks, [set(t) for t in tokenized])

    @tool_api
    def search(self, query: Annotated[str, 'what to look for'],
               top_k: Annotated[int, 'number of passages to return (1-5)'] = 2) -> dict:
        """Search the local knowledge base and return the most relevant passages with their source files.

        Args:
            query (str): what to look for
            top_k (int): number of passages to return (1-5)
        """
        if self._index is None:
            self._build()
        bm25, chunks, token_sets = self._index
        q = _tokens(query)
        scores = bm25.get_scores(q)
        # BM25's idf is 0 for a term in half of a tiny corpus, so "matches" means sharing a query token.
        matching = [i for i in range(len(chunks)) if token_sets[i].intersection(q)]
        best = sorted(matching, key=lambda i: -scores[i])[:max(1, min(int(top_k), 5))]
        hits = [{'source': chunks[i][0], 'text': chunks[i][1]} for i in best]
        return {'results': hits} if hits else {'results': [], 'note': 'no matching passage'}

    schemas = {'search': {'top_k': {'minimum': 1, 'maximum': 5}}}
