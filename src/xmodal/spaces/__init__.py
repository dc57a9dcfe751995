"""The spaces of a collection, as search sees them: one interface, one class per kind."""

from xmodal.spaces.base import FilterScope, QueryInputs, SearchContext, Space, SpaceHit
from xmodal.spaces.bind import bind_space, bind_spaces
from xmodal.spaces.keyword import KeywordSpace
from xmodal.spaces.vector import VectorSpace

__all__ = [
    "FilterScope",
    "KeywordSpace",
    "QueryInputs",
    "SearchContext",
    "Space",
    "SpaceHit",
    "VectorSpace",
    "bind_space",
    "bind_spaces",
]
