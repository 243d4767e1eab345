"""digitlab.files: atomic writes and JSON files."""
from __future__ import annotations

import json
import stat

import pytest

from digitlab.files import atomic_path, read_json, write_json_atomic


def test_success_renames_into_place_with_normal_permissions(tmp_path):
    dest = tmp_path / "sub" / "out.json"
    with atomic_path(dest) as tmp:
        assert tmp.parent == dest.parent and tmp != dest
        tmp.write_text("new")
        assert not dest.exists()
    assert dest.read_text() == "new"
    assert stat.S_IMODE(dest.stat().st_mode) == 0o644
    assert [p.name for p in dest.parent.iterdir()] == ["out.json"]


def test_failure_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    dest = tmp_path / "model.keras"
    dest.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(dest, suffix=".keras") as tmp:
            assert tmp.suffix == ".keras"
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert dest.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]


def test_write_json_atomic_writes_whole_objects_only(tmp_path):
    path = write_json_atomic(tmp_path / "sub" / "h.json", {"loss": [1.0, 0.5]})
    assert json.loads(path.read_text()) == {"loss": [1.0, 0.5]}
    with pytest.raises(TypeError):
        write_json_atomic(path, {"bad": object()})
    assert json.loads(path.read_text()) == {"loss": [1.0, 0.5]}
    assert [p.name for p in path.parent.iterdir()] == ["h.json"]


def test_read_json_of_a_missing_file_is_empty(tmp_path):
    assert read_json(tmp_path / "absent.json") == {}
    assert read_json(write_json_atomic(tmp_path / "h.json", {"a": [1]})) == {"a": [1]}
