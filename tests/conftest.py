from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from helpers import draw_image, fake_emoji_names

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The default collection lives in the user's data folder; a test run must neither read a real
# one nor leave one behind, so it points at a folder that does not exist.
os.environ["XMODAL_DB"] = os.path.join(tempfile.mkdtemp(prefix="xmodal-tests-"), "default")


@pytest.fixture(autouse=True, scope="session")
def _emoji_names_offline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Preparing OpenMoji looks up Chinese names in emojibase-data, which a test must never
    download: every test, and every fixture of any scope, gets the miniature one instead."""
    import xmodal.datasets.emoji_names as names

    folder = fake_emoji_names(tmp_path_factory.mktemp("emojibase-data"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(names, "fetch", lambda *a, **k: folder)
        yield


@pytest.fixture
def make_image() -> Callable[..., Path]:
    def make(
        path: Path,
        color: tuple[int, int, int] = (200, 30, 30),
        shape: str = "circle",
        size: int = 96,
    ) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        draw_image(color, shape, size).save(path)
        return path

    return make


@pytest.fixture
def photo_folder(tmp_path: Path, make_image: Callable[..., Path]) -> Path:
    """A small folder: three images with words attached in three ways, two notes."""
    root = tmp_path / "media"
    make_image(root / "pics" / "red_bicycle.png", (220, 20, 20), "circle")
    make_image(root / "pics" / "IMG_0001.jpg", (20, 40, 220), "square")
    (root / "pics" / "IMG_0001.txt").write_text("waves on the sea at a sandy beach")
    make_image(root / "pics" / "forest.png", (20, 160, 40), "triangle")
    (root / "pics" / "forest.json").write_text('{"caption": "tall pine trees", "tags": ["woods"]}')
    (root / "notes").mkdir()
    (root / "notes" / "invoice.md").write_text("# Invoice\n\nPayment due for consulting work.")
    (root / "notes" / "recipe.txt").write_text("Bake the bread for forty minutes at 200 degrees.")
    return root
