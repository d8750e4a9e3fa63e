import pytest


@pytest.fixture
def toy_registry():
    from wsbench.plugins import load_registry
    from wsbench.testing import toy_plugins

    toy_plugins.ToyOracle.calls = 0
    toy_plugins.ToyThreshold.fits = 0
    return load_registry(extra=[toy_plugins])
