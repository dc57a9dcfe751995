"""Query parsing, filters and fusion of per-space rankings."""

from xmodal.query.filters import Filters
from xmodal.query.fusion import fuse
from xmodal.query.parse import Query, Term, parse_query

__all__ = ["Filters", "Query", "Term", "fuse", "parse_query"]
