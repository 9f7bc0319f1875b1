import pytest, torch
import torch.nn as nn
import torch.nn.functional as F
from simarch.data import load_digits, per_class_subset
from simarch.attack import AttackConfig
from simarch.distill import KDConfig, distill_grid, distilled_logits, kd_loss
from simarch.registry import ZooModel
from simarch.train import Recipe, load_or_train, predict

def test_kd_loss_against_a_hand_computation():
    s = torch.tensor([[2.0, 0.5, -1.0], [0.0, 1.0, 0.0]])
    t = torch.tensor([[1.0, 1.0, 0.0], [3.0, 0.0, 0.0]])
    y = torch.tensor([0, 1])
    T, a = 3.0, 0.6
    total = 0.0
    for i in range(2):
        ps, pt = torch.softmax(s[i] / T, 0), torch.softmax(t[i] / T, 0)
        kl = float((pt * (pt / ps).log()).sum())
        ce = float(-torch.log_softmax(s[i], 0)[y[i]])
        total += a * T * T * kl + (1 - a) * ce
    assert kd_loss(s, t, y, KDConfig(T, a)).item() == pytest.approx(total / 2, rel=1e-6)
    assert kd_loss(s, t, y, KDConfig(T, 0.0)).item() == pytest.approx(F.cross_entropy(s, y).item(), rel=1e-7)
    hard = kd_loss(s, t, y, KDConfig(T, a, hard=True)).item()
    expected = a * F.cross_entropy(s, t.argmax(1)).item() + (1 - a) * F.cross_entropy(s, y).item()
    assert hard == pytest.approx(expected, rel=1e-6)

class Uniform(nn.Module):
    "A teacher whose outputs are uniform over the 10 digits."
    def forward(self, x): return torch.zeros(len(x), 10)

def test_uniform_teacher_matches_the_baseline(tmp_cache):
    "A uniform teacher carries no information: with a small weight on it the student lands where the baseline does."
    d = load_digits()
    train = d.train.subset(per_class_subset(d.train.y, 30))
    recipe = Recipe(epochs=8)
    base, _ = load_or_train('convnext', train, recipe, seed=0)
    acc_base = (predict(base.module, d.test).argmax(1) == d.test.y).float().mean().item()
    teacher = ZooModel.from_module('uniform', Uniform())
    logits = distilled_logits('convnext', teacher, train, d.test, recipe, seed=0, cfg=KDConfig(4.0, 0.1))
    acc_kd = (logits.argmax(1) == d.test.y).float().mean().item()
    assert acc_base > 0.5 and abs(acc_kd - acc_base) <= 0.03, (acc_base, acc_kd)

@pytest.mark.parametrize('kwargs, message', [
    (dict(temperature=0.0), 'temperature must be > 0'),
    (dict(temperature=-2.0), 'temperature must be > 0'),
    (dict(alpha=-0.1), r'alpha must be in \[0, 1\]'),
])
def test_bad_kd_settings(kwargs, message):
    with pytest.raises(ValueError, match=message): KDConfig(**kwargs)

@pytest.mark.parametrize('teachers, students, seeds, message', [
    ([], ['convnext'], [0], 'empty grid'),
    (['resnet'], [], [0], 'empty grid'),
    (['resnet'], ['convnext'], [], 'empty grid'),
    (['resnt'], ['convnext'], [0], "unknown model 'resnt'"),
    (['resnet'], ['vit_p9'], [0], "unknown model 'vit_p9'"),
])
def test_bad_grids_fail_before_training(teachers, students, seeds, message, tmp_cache):
    with pytest.raises((ValueError, KeyError), match=message):
        distill_grid(teachers, students, seeds, load_digits(), Recipe(), Recipe(), AttackConfig())
    assert not (tmp_cache/'models').exists()
