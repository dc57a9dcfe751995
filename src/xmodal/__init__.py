"""xmodal: a cross-modal retrieval engine and toolkit.

>>> import xmodal
>>> col = xmodal.Collection.open("/tmp/demo-db")
>>> report = col.index(["/path/to/photos"])
>>> for hit in col.search("red bicycle", k=5):
...     print(hit.score, hit.path)
"""

from xmodal.collection import Collection
from xmodal.errors import XmodalError
from xmodal.ingest.pipeline import IndexOptions
from xmodal.query.filters import Filters
from xmodal.query.parse import Query, Term, parse_query
from xmodal.records import IndexReport, Item, Modality, SearchHit, Segment

__version__ = "0.1.0"

__all__ = [
    "Collection",
    "Filters",
    "IndexOptions",
    "IndexReport",
    "Item",
    "Modality",
    "Query",
    "SearchHit",
    "Segment",
    "Term",
    "XmodalError",
    "__version__",
    "parse_query",
]
