"""digitlab.backend: TensorFlow starts without native log lines on stderr."""
from __future__ import annotations

import logging
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


def test_a_quiet_logger_drops_warnings_only_inside_the_block(caplog):
    from digitlab.backend import quiet_logger

    with caplog.at_level(logging.WARNING):
        with quiet_logger("some.library"):
            logging.getLogger("some.library").warning("hidden")
            logging.getLogger("some.library").error("shown")
        logging.getLogger("some.library").warning("after")
    assert [r.getMessage() for r in caplog.records] == ["shown", "after"]
