"""Uploads are streamed to the workspace in chunks (never held whole a second time) and old ones are removed."""

from __future__ import annotations

import io
import os
import time

import pytest

from curation.services import import_view as view


class ChunkOnly(io.BytesIO):
    """An upload that only hands out bounded chunks: .getvalue() or a read without a size fails."""

    def __init__(self, data: bytes):
        super().__init__(data)
        self.sizes: list[int] = []

    def getvalue(self):  # type: ignore[override]
        raise AssertionError("getvalue() copies the whole upload")

    def read(self, size=-1):  # type: ignore[override]
        if size is None or size < 0:
            raise AssertionError("read() without a size copies the whole upload")
        self.sizes.append(size)
        return super().read(size)

    def readinto(self, buffer):  # type: ignore[override]
        raise AssertionError("unexpected readinto")


def test_an_upload_is_written_in_bounded_chunks(tmp_path):
    data = os.urandom(3 << 20) + b"tail"
    upload = ChunkOnly(data)
    upload.seek(123)  # Streamlit may hand over a file that was already read: the whole upload is saved
    path = view.write_upload(upload, tmp_path / "uploads" / "big.jsonl")
    assert path.read_bytes() == data
    assert upload.sizes and max(upload.sizes) <= view.UPLOAD_CHUNK
    assert [p.name for p in path.parent.iterdir()] == ["big.jsonl"]  # no temp file left behind


def test_a_failed_upload_write_leaves_no_file(tmp_path):
    class Broken(ChunkOnly):
        def read(self, size=-1):  # type: ignore[override]
            if self.tell() > 0:
                raise OSError("connection lost")
            return super().read(size)

    with pytest.raises(OSError):
        view.write_upload(Broken(b"x" * (3 << 20)), tmp_path / "uploads" / "a.jsonl")
    assert list((tmp_path / "uploads").iterdir()) == []


def test_uploads_older_than_the_limit_are_removed_but_not_the_current_one(tmp_path):
    folder = tmp_path / "uploads"
    folder.mkdir()
    old, recent, current = folder / "old.jsonl", folder / "recent.jsonl", folder / "current.jsonl"
    for path in (old, recent, current):
        path.write_text("{}\n")
    week = view.UPLOAD_KEEP_DAYS * 86400
    now = time.time()
    os.utime(old, (now - week - 60, now - week - 60))
    os.utime(current, (now - week - 60, now - week - 60))
    os.utime(recent, (now - week + 3600, now - week + 3600))
    removed = view.prune_uploads(folder, keep=current, now=now)
    assert removed == [old]
    assert sorted(p.name for p in folder.iterdir()) == ["current.jsonl", "recent.jsonl"]
    assert view.prune_uploads(tmp_path / "none") == []
