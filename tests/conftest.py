import os
from pathlib import Path

import pytest

import tfrec_inc  # noqa: F401  (Keras 2 before TensorFlow)


@pytest.fixture
def shared_data() -> Path:
    """The shared offline datasets folder, or skip."""
    root = os.environ.get("TFREC_INC_DATA")
    if not root or not Path(root).is_dir():
        pytest.skip("TFREC_INC_DATA is not set to the shared datasets folder (make test sets it)")
    return Path(root)
