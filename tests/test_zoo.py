import pytest, torch
from simarch.components import COMPONENTS, in_vocabulary
from simarch.profiles import get_profile
from simarch.registry import UnknownModelError, build_model, get_spec

MINI = list(get_profile('mini').models)

def test_zoo_size_and_spread():
    assert len(MINI) >= 24
    bases = {get_spec(n).base for n in MINI}
    assert {'CNN', 'Transformer', 'MLP-Mixer', 'Hybrid'} <= bases
    assert len({get_spec(n).family for n in MINI}) >= 5

def test_same_architecture_pair():
    "Two entries share a builder and family and differ only in seed: a sanity pair for SAT."
    pairs = [(a, b) for a in MINI for b in MINI if a < b and get_spec(a).builder is get_spec(b).builder]
    assert pairs and all(get_spec(a).seed != get_spec(b).seed and get_spec(a).family == get_spec(b).family
                         for a, b in pairs)

@pytest.mark.parametrize('name', MINI)
def test_entry_builds_runs_and_is_labelled(name):
    e = get_spec(name)
    assert set(e.components) == set(COMPONENTS)
    assert all(in_vocabulary(k, v) for k, v in e.components.items())
    m = e.build().eval()
    assert type(m.net).__module__.startswith('timm.models.')          # timm's own class, not a local network
    with torch.no_grad():                                 # timm zero-inits some heads (e.g. Mixer): give them values
        for p in m.parameters():                          # so the input gradient is not 0 by construction
            if p.ndim > 1 and not p.any(): p.normal_(0, 0.02)
    x = torch.rand(3, 1, 32, 32, requires_grad=True)
    out = m(x)
    assert out.shape == (3, 10) and torch.isfinite(out).all()
    out[:, 0].sum().backward()                                            # gradients reach the [0,1] pixels
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0

def test_pixel_wrapper_resizes_other_sizes():
    m = build_model('resnet').eval()
    assert m(torch.rand(2, 1, 48, 48)).shape == (2, 10)
    assert m(torch.rand(2, 1, 8, 8)).shape == (2, 10)

def test_same_seed_same_init():
    a, b, c = build_model('resnet'), build_model('resnet'), build_model('resnet_s1')
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)

def test_unknown_model_lists_close_matches():
    with pytest.raises(UnknownModelError, match="unknown model 'convnxt'; did you mean convnext"):
        get_spec('convnxt')
    with pytest.raises(UnknownModelError, match='known models: '):
        build_model('zzzzzz')
