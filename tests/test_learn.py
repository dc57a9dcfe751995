"""Learning building blocks on synthetic numbers: losses, mining, models, baselines, data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from helpers import draw_image
from xmodal.errors import UsageError
from xmodal.learn import baselines as bl
from xmodal.learn.data import load_manifest, load_openmoji, load_pairs
from xmodal.learn.losses import (
    InfoNCELoss,
    LearnableTemperature,
    cosine_distance,
    info_nce,
    mine_triplets,
    triplet_loss,
)
from xmodal.learn.models import (
    AttentionFusion,
    Augment,
    CnnConfig,
    ConcatFusion,
    ConvTower,
    HeadConfig,
    JointModel,
    ProjectionHead,
    images_to_tensor,
    parameter_bytes,
)
from xmodal.learn.sampling import (
    BalancedBatchSampler,
    balance_report,
    format_balance_report,
    shuffled_batches,
)


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def _toy_pair() -> tuple[torch.Tensor, torch.Tensor]:
    """Two pairs in 2-D whose images lean towards the wrong text."""
    img = torch.tensor([[1.0, 0.0], [0.0, 1.0]], requires_grad=True)
    txt = torch.tensor([[0.6, 0.8], [0.8, 0.6]])
    return img, txt


def _recall_at_1(a: torch.Tensor, b: torch.Tensor) -> float:
    sims = a @ b.T
    return float((sims.argmax(dim=1) == torch.arange(len(a))).float().mean())


# -- losses --------------------------------------------------------------------------------


@pytest.mark.parametrize("loss_name", ["infonce", "batch-all", "batch-hard", "semi-hard"])
def test_loss_gradient_is_finite_nonzero_and_points_the_right_way(loss_name: str) -> None:
    img, txt = _toy_pair()
    if loss_name == "infonce":
        loss = info_nce(img, txt, 10.0)
    else:
        loss = triplet_loss(img, txt, margin=0.5, mining=loss_name)  # type: ignore[arg-type]
    loss.backward()
    assert img.grad is not None
    grad = img.grad
    assert torch.isfinite(loss) and loss > 0
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0
    # descending the gradient moves image 0 towards text 0 and away from text 1
    step = -grad[0]
    assert float(step @ (txt[0] - txt[1])) > 0
    moved = img.detach() - 0.1 * grad
    before = F.cosine_similarity(img.detach(), txt).sum()
    after = F.cosine_similarity(moved, txt).sum()
    assert after > before


def test_info_nce_matches_cross_entropy_both_ways() -> None:
    g = torch.Generator().manual_seed(0)
    a = F.normalize(torch.randn(6, 8, generator=g), dim=1)
    b = F.normalize(torch.randn(6, 8, generator=g), dim=1)
    logits = 5.0 * a @ b.T
    target = torch.arange(6)
    expected = 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))
    assert torch.allclose(info_nce(a, b, 5.0), expected)
    # with every pair its own group, the soft-target form is the same loss
    assert torch.allclose(info_nce(a, b, 5.0, torch.arange(6)), expected, atol=1e-6)


def test_info_nce_groups_do_not_push_apart_pairs_of_one_concept() -> None:
    base = F.normalize(torch.tensor([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0]]), dim=1)
    grads = []
    for groups in (None, torch.tensor([0, 0, 1])):
        a = base.clone().requires_grad_(True)
        info_nce(a, base, 20.0, groups).backward()
        assert a.grad is not None
        grads.append(float(a.grad.norm()))
    # rows 0 and 1 are one concept: without groups the loss tries to tell them apart, with
    # groups it is already at its optimum
    assert grads[1] < 0.2 * grads[0]


def test_temperature_is_learnable_clamped_and_its_gradient_has_the_right_sign() -> None:
    temp = LearnableTemperature(0.07)
    assert temp.temperature == pytest.approx(0.07, rel=1e-5)
    a = F.normalize(torch.eye(4) + 0.1, dim=1)
    loss = info_nce(a, a, temp())
    loss.backward()
    # positives are already the most similar: a sharper softmax lowers the loss
    assert temp.logit_scale.grad is not None and float(temp.logit_scale.grad) < 0
    with torch.no_grad():
        temp.logit_scale.fill_(10.0)
    assert float(temp().detach()) == pytest.approx(100.0)
    assert not LearnableTemperature(0.1, learnable=False).logit_scale.requires_grad


def test_mining_picks_the_right_negatives() -> None:
    # rows: anchors; diagonal: their positives
    dist = torch.tensor(
        [
            [0.30, 0.10, 0.40, 0.90],  # hardest 1; semi-hard (0.3, 0.5): 2
            [0.35, 0.20, 0.60, 0.80],  # hardest 0; semi-hard (0.2, 0.4): 0
            [0.95, 0.99, 0.20, 0.90],  # nothing in (0.2, 0.4): farthest, 1
            [0.10, 0.70, 0.05, 0.60],  # hardest 2; semi-hard (0.6, 0.8): 1
        ]
    )
    a, j = mine_triplets(dist, "batch-hard", 0.2)
    assert a.tolist() == [0, 1, 2, 3] and j.tolist() == [1, 0, 3, 2]
    a, j = mine_triplets(dist, "semi-hard", 0.2)
    assert a.tolist() == [0, 1, 2, 3] and j.tolist() == [2, 0, 1, 1]
    a, j = mine_triplets(dist, "batch-all", 0.2)
    assert len(a) == 12 and all(x != y for x, y in zip(a.tolist(), j.tolist(), strict=True))
    # a negative of the anchor's own concept is no negative
    a, j = mine_triplets(dist, "batch-hard", 0.2, groups=torch.tensor([0, 0, 1, 2]))
    assert j.tolist() == [2, 2, 3, 2]


def test_batch_all_averages_only_active_triplets() -> None:
    g = torch.Generator().manual_seed(1)
    img = F.normalize(torch.randn(5, 3, generator=g), dim=1)
    txt = F.normalize(img + 0.8 * torch.randn(5, 3, generator=g), dim=1)
    dist = cosine_distance(img, txt)
    active = F.relu(dist.diagonal()[:, None] - dist + 0.2)
    active = active[~torch.eye(5, dtype=torch.bool)]
    assert 0 < int((active > 0).sum()) < 20
    expected = active[active > 0].mean()
    got = triplet_loss(img, txt, 0.2, "batch-all", symmetric=False)
    assert torch.allclose(got, expected)


@pytest.mark.parametrize("loss_name", ["infonce", "batch-hard", "semi-hard", "batch-all"])
def test_heads_overfit_sixteen_random_pairs(loss_name: str) -> None:
    torch.manual_seed(0)
    x = torch.randn(16, 32)
    y = torch.randn(16, 24)
    model = JointModel(
        {
            "image": HeadConfig(32, 16, "mlp", 64, 0.0).to_json(),
            "text": HeadConfig(24, 16, "mlp", 64, 0.0).to_json(),
        }
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        zi, zt = model.encode_image(x), model.encode_text(y)
        if loss_name == "infonce":
            loss = info_nce(zi, zt, model.temperature())
        else:
            loss = triplet_loss(zi, zt, 0.3, loss_name)  # type: ignore[arg-type]
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        zi, zt = model.encode_image(x), model.encode_text(y)
    assert _recall_at_1(zt, zi) >= 0.95
    assert _recall_at_1(zi, zt) >= 0.95


def test_info_nce_loss_module_holds_its_temperature() -> None:
    loss = InfoNCELoss(0.05)
    names = [n for n, _ in loss.named_parameters()]
    assert names == ["temperature.logit_scale"]


# -- models --------------------------------------------------------------------------------


def test_projection_heads_are_normalised() -> None:
    for kind in ("linear", "mlp"):
        head = ProjectionHead(HeadConfig(10, 4, kind, 8, 0.1))
        out = head(torch.randn(5, 10))
        assert out.shape == (5, 4)
        assert torch.allclose(out.norm(dim=1), torch.ones(5), atol=1e-5)


def test_cnn_tower_is_compact_and_embeds_pictures() -> None:
    tower = ConvTower(CnnConfig(out_dim=64, image_size=64))
    assert parameter_bytes(tower) < 5 * 1024 * 1024
    imgs = [draw_image((200, 30, 30), "circle", 80), draw_image((20, 30, 200), "square", 50)]
    x = images_to_tensor(imgs, 64)
    assert x.shape == (2, 3, 64, 64) and float(x.min()) >= -1.0 and float(x.max()) <= 1.0
    tower.eval()
    out = tower(x)
    assert out.shape == (2, 64)
    assert torch.allclose(out.norm(dim=1), torch.ones(2), atol=1e-5)


def test_augment_is_seeded_sized_and_varied() -> None:
    aug = Augment(size=48)
    img = np.stack([np.asarray(draw_image((200, 30, 30), "triangle", 96))] * 6)
    batch = torch.from_numpy(img)

    def views(seed: int) -> torch.Tensor:
        return aug(batch, torch.Generator().manual_seed(seed))

    a, b = views(3), views(3)
    assert a.shape == (6, 3, 48, 48) and a.dtype == torch.float32
    assert float(a.min()) >= -1.0 and float(a.max()) <= 1.0
    assert torch.equal(a, b)
    assert not torch.equal(a, views(4))
    # every picture of the batch gets its own view
    assert len({a[n].numpy().tobytes() for n in range(6)}) == 6
    # still the same drawing: a view of a red triangle stays mostly red where it is coloured
    red = (a[:, 0] > a[:, 1] + 0.3).float().mean()
    assert float(red) > 0.02


def test_attention_fusion_masks_missing_modalities() -> None:
    torch.manual_seed(0)
    fusion = AttentionFusion([12, 8, 8], dim=16, heads=4)
    feats = [torch.randn(3, 12), torch.randn(3, 8), torch.randn(3, 8)]
    present = torch.tensor([[True, True, True], [True, False, True], [False, False, False]])
    out, weights = fusion(feats, present)
    assert out.shape == (3, 16) and weights.shape == (3, 3)
    assert torch.allclose(out[:2].norm(dim=1), torch.ones(2), atol=1e-5)
    assert float(weights.detach()[1, 1]) == 0.0
    assert torch.allclose(weights[:2].sum(dim=1), torch.ones(2), atol=1e-5)
    assert torch.all(out[2] == 0)
    # the missing modality does not influence the fused vector
    feats2 = [feats[0], feats[1].clone(), feats[2]]
    feats2[1][1] += 5.0
    out2, _ = fusion(feats2, present)
    assert torch.allclose(out[1], out2[1], atol=1e-6)
    out.sum().backward()
    assert all(p.grad is not None for p in fusion.proj.parameters())


def test_concat_fusion_zeroes_missing_modalities() -> None:
    torch.manual_seed(0)
    fusion = ConcatFusion([4, 3], dim=5, hidden=8, dropout=0.0)
    a, b = torch.randn(2, 4), torch.randn(2, 3)
    present = torch.tensor([[True, False], [True, False]])
    out1 = fusion([a, b], present)
    out2 = fusion([a, b * 10], present)
    assert out1.shape == (2, 5) and torch.allclose(out1, out2)


# -- baselines -----------------------------------------------------------------------------


def _correlated(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, 6))
    x = z @ rng.standard_normal((6, 40)) + 0.7 * rng.standard_normal((n, 40))
    y = z @ rng.standard_normal((6, 30)) + 0.7 * rng.standard_normal((n, 30))
    return x, y


@pytest.mark.parametrize("method", ["cca", "pls", "svd", "nmf"])
def test_joint_baselines_bring_pairs_closer_than_random_pairs(method: str) -> None:
    x, y = _correlated()
    model = bl.fit_baseline(method, x[:200], y[:200], 6, pca_dims=20, seed=0)
    a, b = model.image(x[200:]), model.text(y[200:])  # type: ignore[misc]
    assert a.shape == (100, 6) and a.dtype == np.float32
    sims = a @ b.T
    paired = float(np.mean(np.diag(sims)))
    rng = np.random.default_rng(1)
    perm = rng.permutation(100)
    perm = np.where(perm == np.arange(100), (perm + 1) % 100, perm)
    random_pairs = float(np.mean(sims[np.arange(100), perm]))
    assert paired > random_pairs + 0.2
    r10 = np.mean([i in np.argsort(-sims[i])[:10] for i in range(100)])
    assert r10 > 0.5  # chance is 0.1
    again = bl.FittedBaseline.from_arrays(model.method, model.arrays())
    assert again.text is not None
    np.testing.assert_array_equal(again.image(x[200:]), a)
    np.testing.assert_array_equal(again.text(y[200:]), b)


def test_affine_read_off_is_exact() -> None:
    rng = np.random.default_rng(0)
    w, c = rng.standard_normal((5, 3)), rng.standard_normal(3)
    lin = bl.affine_of(lambda v: v @ w + c, 5)
    x = rng.standard_normal((4, 5))
    np.testing.assert_allclose(lin.raw(x), x @ w + c, atol=1e-12)


def test_pca_and_lda_compress_image_features() -> None:
    x, _ = _correlated()
    pca = bl.fit_baseline("pca", x, None, 5)
    assert pca.text is None and pca.image(x).shape == (300, 5)
    labels = [str(int(v > 0)) + str(int(w > 0)) for v, w in zip(x[:, 0], x[:, 1], strict=True)]
    lda = bl.fit_baseline("lda", x, None, 3, labels=labels)
    z = lda.image(x)
    assert z.shape == (300, 3)
    # LDA axes separate the categories: nearest neighbours mostly share theirs
    sims = z @ z.T
    np.fill_diagonal(sims, -np.inf)
    same = np.mean([labels[i] == labels[int(np.argmax(sims[i]))] for i in range(300)])
    assert same > 0.7
    with pytest.raises(UsageError):
        bl.fit_baseline("lda", x, None, 9, labels=labels)


# -- data ----------------------------------------------------------------------------------


def test_manifest_tsv_and_csv(tmp_path: Path) -> None:
    draw_image((1, 2, 3)).save(tmp_path / "a.png")
    draw_image((3, 2, 1)).save(tmp_path / "b.png")
    (tmp_path / "m.tsv").write_text("image_path\ttext\na.png\tred thing\tcat1\nb.png\tblue\n\n")
    data = load_manifest(tmp_path / "m.tsv")
    assert data.images == (tmp_path / "a.png", tmp_path / "b.png")
    assert data.texts == ("red thing", "blue") and data.groups == ("cat1", "")
    (tmp_path / "m.csv").write_text('a.png,"red, dark"\nb.png,blue\n')
    assert load_pairs(tmp_path / "m.csv").texts == ("red, dark", "blue")
    (tmp_path / "bad.tsv").write_text("a.png\n")
    with pytest.raises(UsageError):
        load_manifest(tmp_path / "bad.tsv")


def test_openmoji_items_become_pairs(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "texts").mkdir()
    items = []
    for n, (caption, group) in enumerate([("grinning face", "smileys"), ("dog", "animals")]):
        draw_image((n * 90, 20, 20)).save(tmp_path / f"images/img-{n:06d}.png")
        (tmp_path / f"texts/{n:06d}.txt").write_text(f"{caption}\n{caption}, tag\n")
        items.append(
            {
                "hexcode": f"1F60{n}",
                "concept": f"1F60{n}",
                "annotation": caption,
                "tags": [caption, "tag"],
                "group": group,
                "subgroup": group + "-sub",
                "image": f"images/img-{n:06d}.png",
                "text": f"texts/{n:06d}.txt",
            }
        )
    (tmp_path / "items.json").write_text(json.dumps(items))
    data = load_openmoji(tmp_path)
    assert data.texts == ("grinning face", "dog") and data.groups == ("smileys", "animals")
    assert load_openmoji(tmp_path, "tags").texts[1] == "dog, tag"
    assert load_openmoji(tmp_path, "document").texts[0] == "grinning face\ngrinning face, tag"
    assert load_openmoji(tmp_path, group_field="subgroup").groups[0] == "smileys-sub"


def test_balanced_sampler_evens_out_categories() -> None:
    groups = ["big"] * 90 + ["mid"] * 25 + ["small"] * 5
    sampler = BalancedBatchSampler(groups, batch_size=16)
    shares = sampler.expected_shares()
    assert all(s == pytest.approx(1 / 3) for s in shares.values())
    rng = np.random.default_rng(0)
    batches = sampler.epoch(rng)
    assert len(batches) == 8
    assert all(len(set(b.tolist())) == len(b) for b in batches)
    report = balance_report(groups, batches)
    assert report["data"]["effective_categories"] < 2.0
    assert report["sampled"]["effective_categories"] > 2.6
    assert report["sampled"]["max_min_ratio"] < report["data"]["max_min_ratio"]
    assert "effective categories" in format_balance_report(report)
    plain = balance_report(groups, shuffled_batches(120, 16, rng))
    assert plain["sampled"]["distinct_pairs_per_epoch"] == 120
    # power 0 samples as the data is
    natural = BalancedBatchSampler(groups, 16, power=0.0).expected_shares()
    assert natural["big"] == pytest.approx(0.75)
