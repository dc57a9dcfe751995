"""A keyword space: the query's words are matched by BM25 in the store's full-text index
(SQLite FTS5), analysed into terms by the space's encoder exactly as indexing analysed them."""

from __future__ import annotations

from xmodal.spaces.base import FilterScope, QueryInputs, Space, SpaceHit


class KeywordSpace(Space):
    fusion_order = 1

    def match_expression(self, query: QueryInputs) -> str | None:
        """An FTS5 expression: any positive term's words, none of a negative term's; None
        when no positive term has a word. Image terms contribute the words attached to the
        image."""
        pos: list[str] = []
        neg: list[str] = []
        for t in query.query.terms:
            text = t.value if t.kind == "text" else query.images[t.value].text
            words = set(self.encoder.analyze(text))
            (pos if t.weight > 0 else neg).extend(sorted(words))
        if not pos:
            return None

        def quoted(ws: list[str]) -> str:
            return " OR ".join('"' + w.replace('"', '""') + '"' for w in dict.fromkeys(ws))

        return f"({quoted(pos)})" + (f" NOT ({quoted(neg)})" if neg else "")

    def rank(self, query: QueryInputs, depth: int, filters: FilterScope) -> list[SpaceHit] | None:
        match = self.match_expression(query)
        if match is None:
            return None
        found = self.context.store.lexical_search(match, depth, filters.filters)
        return [SpaceHit(sid, score) for sid, score in found]
