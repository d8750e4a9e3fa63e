import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the toy plugins module


@pytest.fixture
def toy_registry():
    import toy_plugins

    from wsbench.plugins import load_registry

    toy_plugins.ToyOracle.calls = 0
    return load_registry(extra=[toy_plugins])
