"""``xmodal ask``: a question answered with a sentence of the collection, evidence shown."""

from __future__ import annotations

import argparse

from xmodal.cli.common import (
    Subparsers,
    add_command,
    add_db,
    end_command,
    open_existing,
    print_json,
)
from xmodal.cli.display import cut

EXAMPLES = (
    'xmodal ask "When was the lighthouse built?"',
    'xmodal ask "What is written on this sign?" --image sign.jpg --db ~/photos --json',
)


def add_parser(sub: Subparsers) -> None:
    from xmodal.apply.settings import DEFAULT_MIN_RELEVANCE, PASSAGES

    a = add_command(
        sub, "ask", "answer a question from the collection's text, with the evidence", EXAMPLES
    )
    a.add_argument("question", help="the question, in words")
    add_db(a)
    a.add_argument("--image", help="a picture the question is about")
    a.add_argument(
        "--passages",
        type=int,
        default=PASSAGES,
        help=f"passages searched for the answer (default {PASSAGES})",
    )
    a.add_argument(
        "--min-relevance",
        type=float,
        default=DEFAULT_MIN_RELEVANCE,
        metavar="P",
        help="with a calibration (`xmodal calibrate`), the probability of relevance the "
        f"evidence needs, else 'not found' (default {DEFAULT_MIN_RELEVANCE})",
    )
    end_command(a, cmd_ask)


def cmd_ask(args: argparse.Namespace) -> int:
    from xmodal.apply.answer import ask
    from xmodal.errors import UsageError

    if args.passages <= 0:
        raise UsageError("--passages must be positive")
    with open_existing(args) as col:
        answer = ask(
            col,
            args.question,
            image=args.image,
            passages=args.passages,
            min_relevance=args.min_relevance,
        )
    if args.json:
        print_json(answer.to_json())
        return 0
    print(answer.answer if answer.answer is not None else "not found")
    for e in answer.evidence:
        where = f" [{e.start:.1f}-{e.end:.1f}s]" if e.start is not None and e.end else ""
        print(f"  {e.score:6.3f}  {e.modality:<5}  {e.path}{where}")
        print(f"          {cut(' '.join((e.sentence or e.text).split()), 80)}")
    return 0
