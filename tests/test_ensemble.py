import numpy as np, pandas as pd, pytest, torch
import simarch.engine as engine
from simarch.data import load_digits
from simarch.engine import clean_logits
from simarch.ensemble import ensemble_accuracy, gain_sat_correlation, noisy, pair_table, set_table
from simarch.train import Recipe, load_or_train

def test_ensemble_accuracy_on_hand_made_logits():
    y = torch.tensor([0, 1, 2])
    a = torch.tensor([[5., 0, 0], [0, 5, 0], [0, 0, -5]])          # wrong on sample 2
    b = torch.tensor([[0., 0, 1], [0, 1, 0], [0, 0, 9]])           # wrong on sample 0 (mildly)
    assert ensemble_accuracy([a], y) == pytest.approx(2 / 3) and ensemble_accuracy([b], y) == pytest.approx(2 / 3)
    assert ensemble_accuracy([a, b], y) == 1.0                      # each member's confident answers win
    assert ensemble_accuracy([a, a, b], y, method='logits') == pytest.approx(2 / 3)

def test_pair_table_columns_and_gain():
    y = torch.tensor([0, 1])
    logits = {'p': torch.tensor([[1., 0], [1, 0]]), 'q': torch.tensor([[0., 1], [0, 2]])}
    sat = pd.DataFrame([[4.6, 1.0], [1.0, 4.6]], index=['p', 'q'], columns=['p', 'q'])
    t = pair_table(logits, y, sat)
    assert list(t.columns)[:7] == ['model_a', 'model_b', 'sat', 'acc_a', 'acc_b', 'acc_ensemble', 'gain']
    # q's confident 1 wins sample 1
    assert t.loc[0, 'acc_ensemble'] == 1.0 and t.loc[0, 'gain'] == 0.5 and t.loc[0, 'sat'] == 1.0

@pytest.mark.parametrize('call, message', [
    (lambda: ensemble_accuracy([], torch.tensor([0])), 'at least one member'),
    (lambda: ensemble_accuracy([torch.zeros(1, 2)], torch.tensor([0]), method='median'), 'method must be one of'),
    (lambda: set_table({'a': torch.zeros(1, 2)}, torch.tensor([0]), None, size=2), 'size must be between 2 and 1'),
    (lambda: noisy(load_digits().test, -0.5), 'sigma must be >= 0'),
])
def test_bad_parameters(call, message):
    with pytest.raises(ValueError, match=message): call()

def test_logits_are_cached_and_reused(tmp_cache, monkeypatch):
    d = load_digits()
    m, _ = load_or_train('convnext', d.train, Recipe(epochs=1))
    first = clean_logits(m, d.test)
    calls = []
    monkeypatch.setattr(engine, '_logits', lambda *a, **k: calls.append(1))
    assert torch.equal(clean_logits(m, d.test), first) and calls == []   # from the cache, no forward pass

def test_bootstrap_interval_brackets_a_clear_relation():
    "Pairs whose SAT is low gain more by construction: the correlation and its interval are clearly negative."
    rng = np.random.default_rng(0)
    y = torch.tensor(rng.integers(0, 2, 400))
    names = [f'm{i}' for i in range(6)]
    logits, sat = {}, pd.DataFrame(4.6, index=names, columns=names)
    errs = [rng.random(400) < 0.2 for _ in names]
    for i, n in enumerate(names):      # model i errs, unsure, on a random 20%; models 0-2 share their errors exactly
        e = torch.tensor(errs[0] if i < 3 else errs[i])
        pred = torch.where(e, 1 - y, y)
        logits[n] = torch.nn.functional.one_hot(pred, 2).float() * torch.where(e, 0.5, 3.0)[:, None]
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            if i != j: sat.loc[a, b] = 4.0 if (i < 3 and j < 3) else 2.0
    corr = gain_sat_correlation(logits, y, sat, n_boot=200)
    assert (corr.estimate < 0).all() and (corr.ci_high < 0).all()
