"""Documents of facts and questions over them, for question answering (tests, benchmark)."""

from __future__ import annotations

from pathlib import Path

#: file name -> text; each has one sentence that answers one question, among distractors
DOCS = {
    "lighthouse.txt": (
        "The old lighthouse stands on a rocky cape north of the harbour. "
        "It was built in 1868 by the harbour board. "
        "Its lamp was converted to electricity after the war. "
        "Visitors can climb the 120 steps on summer weekends."
    ),
    "bakery.txt": (
        "The bakery on Mill Street opens at six in the morning. "
        "Its rye bread is baked in a wood-fired oven. "
        "The owner, Clara Jensen, learned the trade in Copenhagen. "
        "On Sundays the shop is closed."
    ),
    "river.txt": (
        "The river Aldern rises in the western hills. "
        "It flows for 212 kilometres before it reaches the sea. "
        "Salmon return to its upper reaches every autumn. "
        "A stone bridge with seven arches crosses it at Holt."
    ),
    "observatory.txt": (
        "The observatory sits on a hill outside the town. "
        "Its main telescope has a mirror two metres across. "
        "Astronomers there discovered a comet in 1994. "
        "The dome is painted white to reflect the sun."
    ),
    "garden.txt": (
        "The botanical garden covers forty hectares. "
        "Its glasshouse holds more than three thousand species of orchid. "
        "The garden was founded by a professor of medicine. "
        "Entry is free on the first Monday of each month."
    ),
    "museum.txt": (
        "海洋博物馆位于港口旁边。"
        "博物馆里展出一艘十八世纪的木船。"
        "每年有二十万名游客参观。"
    ),
}

#: question -> (file, the answering sentence)
QUESTIONS = {
    "When was the lighthouse built?": (
        "lighthouse.txt",
        "It was built in 1868 by the harbour board.",
    ),
    "How many steps can visitors climb in the lighthouse?": (
        "lighthouse.txt",
        "Visitors can climb the 120 steps on summer weekends.",
    ),
    "What time does the bakery open?": (
        "bakery.txt",
        "The bakery on Mill Street opens at six in the morning.",
    ),
    "Where did the bakery owner learn the trade?": (
        "bakery.txt",
        "The owner, Clara Jensen, learned the trade in Copenhagen.",
    ),
    "How long is the river Aldern?": (
        "river.txt",
        "It flows for 212 kilometres before it reaches the sea.",
    ),
    "Which fish return to the river every autumn?": (
        "river.txt",
        "Salmon return to its upper reaches every autumn.",
    ),
    "How big is the mirror of the telescope?": (
        "observatory.txt",
        "Its main telescope has a mirror two metres across.",
    ),
    "When did astronomers discover a comet?": (
        "observatory.txt",
        "Astronomers there discovered a comet in 1994.",
    ),
    "How many orchid species does the glasshouse hold?": (
        "garden.txt",
        "Its glasshouse holds more than three thousand species of orchid.",
    ),
    "Who founded the botanical garden?": (
        "garden.txt",
        "The garden was founded by a professor of medicine.",
    ),
    "博物馆每年有多少游客?": ("museum.txt", "每年有二十万名游客参观。"),
}

#: questions the documents do not answer
UNANSWERABLE = ("What is the price of a train ticket to Berlin?", "Who won the chess final?")


def write_docs(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in DOCS.items():
        (root / name).write_text(text, encoding="utf-8")
    return root
