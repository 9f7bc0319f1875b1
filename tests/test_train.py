import warnings, pytest, torch
from simarch.data import load_digits
from simarch.registry import ZooModel, get_spec
from simarch.train import Recipe, checkpoint_path, checkpoint_key, load_or_train, train_zoo

QUICK = Recipe(epochs=1)

@pytest.fixture(scope='module')
def digits(): return load_digits()

def same_weights(a, b):
    a, b = (m.module if isinstance(m, ZooModel) else m for m in (a, b))
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))

def test_second_load_gives_identical_weights(tmp_cache, digits):
    m1, hit1 = load_or_train('vit_p8', digits.train, QUICK)
    m2, hit2 = load_or_train('vit_p8', digits.train, QUICK)
    assert (hit1, hit2) == (False, True) and same_weights(m1, m2)
    assert m1.key == m2.key and m1.name == 'vit_p8' and m1.source == m2.source

def test_training_is_deterministic(tmp_cache, digits):
    a = get_spec('resnet').build(); b = get_spec('resnet').build()
    from simarch.train import fit
    fit(a, digits.train, QUICK, seed=0); fit(b, digits.train, QUICK, seed=0)
    assert same_weights(a, b)

@pytest.mark.parametrize('damage', ['truncate', 'garbage', 'empty'])
def test_damaged_checkpoint_is_detected_and_retrained(tmp_cache, digits, damage):
    m1, _ = load_or_train('resnet', digits.train, QUICK)
    p = checkpoint_path('resnet', checkpoint_key(get_spec('resnet'), digits.train, QUICK))
    raw = p.read_bytes()
    p.write_bytes({'truncate': raw[:len(raw) // 2], 'garbage': b'\xff' * len(raw), 'empty': b''}[damage])
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        m2, hit = load_or_train('resnet', digits.train, QUICK)
    assert not hit and any('corrupt checkpoint' in str(x.message) for x in w)
    assert same_weights(m1, m2)                 # retrained with the same seed
    assert load_or_train('resnet', digits.train, QUICK)[1]   # and cached again

@pytest.mark.parametrize('workers', [1, 2])
def test_interrupted_zoo_resumes_with_finished_models(tmp_cache, digits, monkeypatch, workers):
    import simarch.train as tr
    real_fit = tr.fit
    def dying_fit(model, *a, **k):
        if type(model.net).__name__ == 'MlpMixer': raise KeyboardInterrupt   # mixer_p8 is interrupted mid-run
        return real_fit(model, *a, **k)
    monkeypatch.setattr(tr, 'fit', dying_fit)
    with pytest.raises(KeyboardInterrupt): train_zoo(['resnet', 'mixer_p8'], digits, QUICK, workers=workers)
    assert len(list((tmp_cache/'models').glob('*.tmp'))) == 0          # no half-written checkpoint
    monkeypatch.setattr(tr, 'fit', real_fit)
    assert load_or_train('resnet', digits.train, QUICK)[1]             # the finished model was kept
    assert not load_or_train('mixer_p8', digits.train, QUICK)[1]

def test_unknown_name_fails_before_training(tmp_cache, digits):
    with pytest.raises(KeyError, match='did you mean'):
        train_zoo(['resnet', 'resnet_s2x'], digits, QUICK)
    assert not (tmp_cache/'models').exists() or not list((tmp_cache/'models').iterdir())
