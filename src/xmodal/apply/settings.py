"""Defaults of the apply commands that the command line shows in its help, kept apart from
the modules that use them so that building the help imports none of their libraries."""

#: passages an answer is looked for in
PASSAGES = 8
#: with a calibration, the probability of relevance the evidence needs, else "not found"
DEFAULT_MIN_RELEVANCE = 0.5
#: cosine at which two items' vectors make semantic duplicates
THRESHOLD = 0.95
#: pHash bits two near-copies may differ in (of 64)
MAX_DISTANCE = 10
