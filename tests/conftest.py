import os, pytest

@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    "A private, empty checkpoint cache for tests that train or corrupt checkpoints."
    monkeypatch.setenv('SIMARCH_CACHE', str(tmp_path/'cache'))
    return tmp_path/'cache'
