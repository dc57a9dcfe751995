"""A static HTML report for one or more evaluated runs over the same qrels.

``write_report`` produces, in ``out_dir``::

    index.html          the page: metric table with bootstrap intervals, comparisons
                        against the first run, curves, and each run's hardest queries
    recall_at_k.png     mean recall@k for k = 1..max_k, one line per run
    precision_recall.png  11-point interpolated precision-recall (trec_eval's
                        ``iprec_at_recall``), one line per run
    thumbs/*.png        small copies of result images, when a thumbnail source is given
    summary.json        the numbers behind the page, for scripts

The page needs nothing but the files beside it: no script, font, or stylesheet is fetched.
Every file is written under a temporary name and renamed into place, and ``index.html``
comes last, so a reader never sees a half-written file, and an existing report stays
whole until its page is replaced. Nothing else in ``out_dir`` is removed.

``data`` computes what the report shows, ``plots`` draws the figures, ``thumbs`` writes
the thumbnails, ``html`` renders the page from the templates in ``templates/`` and
``summary`` the JSON. The curves themselves are :mod:`xmodal.eval.curves`.
"""

from xmodal.eval.curves import RECALL_LEVELS, interpolated_precision, recall_curve
from xmodal.eval.report.data import (
    BOOTSTRAP_RESAMPLES,
    COMPARED_METRICS,
    CONFIDENCE,
    MAX_CURVE_K,
    PERMUTATION_RESAMPLES,
    SIGNIFICANCE,
    Comparison,
    MetricSummary,
    RunReport,
)
from xmodal.eval.report.html import TOP_SHOWN
from xmodal.eval.report.plots import PR_PLOT, RECALL_PLOT
from xmodal.eval.report.thumbs import THUMB_DIR, THUMB_SIZE
from xmodal.eval.report.write import write_report

__all__ = [
    "BOOTSTRAP_RESAMPLES",
    "COMPARED_METRICS",
    "CONFIDENCE",
    "MAX_CURVE_K",
    "PERMUTATION_RESAMPLES",
    "PR_PLOT",
    "RECALL_LEVELS",
    "RECALL_PLOT",
    "SIGNIFICANCE",
    "THUMB_DIR",
    "THUMB_SIZE",
    "TOP_SHOWN",
    "Comparison",
    "MetricSummary",
    "RunReport",
    "interpolated_precision",
    "recall_curve",
    "write_report",
]
