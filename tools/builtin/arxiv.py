"""`arxiv`: search arXiv with the real `arxiv` client (its endpoint configurable, so tests and evals can point it at
a local server that speaks arXiv's Atom API)."""

from __future__ import annotations

import os
from typing import Annotated

from lagent.actions import tool_api

from agentlab.tools.base import AgentlabAction


class ArxivSearchTool(AgentlabAction):
    """Search arXiv for papers."""

    tool_name = 'ArxivSearch'

    def __init__(self, top_k: int = 3, max_chars: int = 300, endpoint: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.top_k, self.max_chars = top_k, max_chars
        # The real client's endpoint, configurable so tests can point it at a local server speaking arXiv's API.
        self.endpoint = endpoint or os.environ.get('AGENTLAB_ARXIV_URL')

    @tool_api(explode_return=True)
    def get_arxiv_article_information(self, query: Annotated[str, 'the content of search query']) -> dict:
        """Run Arxiv search and get the article meta information.

        Args:
            query (str): the content of search query

        Returns:
            dict: article information
                * content (str): a list of 3 arxiv search papers
        """
        import arxiv
        client = arxiv.Client(page_size=self.top_k, delay_seconds=0.0, num_retries=1)
        if self.endpoint:
            client.query_url_format = self.endpoint.rstrip('?') + '?{}'
        papers = []
        for r in client.results(arxiv.Search(query=query, max_results=self.top_k)):
            papers.append(f'Published: {r.published.date()}\nTitle: {r.title}\n'
                          f'Authors: {", ".join(a.name for a in r.authors)}\n'
                          f'Summary: {r.summary[:self.max_chars]}')
        return {'content': '\n\n'.join(papers) if papers else 'No good Arxiv Search Result was found'}
