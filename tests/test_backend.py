"""digitlab.backend: TensorFlow starts without native log lines on stderr."""
from __future__ import annotations

import subprocess
import sys


def test_importing_the_model_module_prints_nothing():
    code = "import digitlab.model, digitlab.predict; print('ok')"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout == "ok\n"
    assert proc.stderr == "", proc.stderr


def test_stderr_is_restored_after_the_import():
    code = ("import os, digitlab.backend as b; b.tensorflow(); os.write(2, b'visible'); "
            "import sys; print('tensorflow' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stderr == "visible" and proc.stdout.strip() == "True"
