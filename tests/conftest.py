import os, shutil, pytest

from simarch.data import load_digits
from simarch.train import Recipe, load_or_train

MODELS = ['resnet', 'resnet_s1', 'convnext', 'vit_p8']   # all in the smoke profile
QUICK = Recipe(epochs=2)                               # the smoke recipe

@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    "A private, empty checkpoint cache for tests that train or corrupt checkpoints."
    monkeypatch.setenv('SIMARCH_CACHE', str(tmp_path/'cache'))
    return tmp_path/'cache'

def pytest_configure(config):
    config.addinivalue_line('markers', 'slow: takes a minute or more; still runs in `make test` and CI')

@pytest.fixture(scope='session')
def trained_models(tmp_path_factory):
    "Smoke models trained once per session into a private cache; tests copy the checkpoints."
    root = tmp_path_factory.mktemp('models_cache')
    old = os.environ.get('SIMARCH_CACHE'); os.environ['SIMARCH_CACHE'] = str(root)
    try:
        d = load_digits()
        for m in MODELS: load_or_train(m, d.train, QUICK)
    finally:
        if old is None: os.environ.pop('SIMARCH_CACHE')
        else: os.environ['SIMARCH_CACHE'] = old
    return root/'models'

@pytest.fixture
def cache(tmp_cache, trained_models):
    "A private cache holding the session's trained smoke models."
    shutil.copytree(trained_models, tmp_cache/'models')
    return tmp_cache

