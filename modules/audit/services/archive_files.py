"""Archive files of removed audit records: gzip'd JSON lines, one record per line, with the
record's columns, its stored links and its digest in hex, so the run can be re-verified (and
its records read) without the database."""

from __future__ import annotations

import gzip
import hashlib
import os
import uuid
from collections.abc import Sequence
from pathlib import Path

from platform_core.core.config import Settings


def archive_root(settings: Settings) -> Path:
    return (settings.audit_archive_dir or settings.data_dir / "audit-archive").resolve()


def archive_path(root: Path, org_id: uuid.UUID | None, seq_from: int, seq_to: int) -> Path:
    return root / (str(org_id) if org_id else "platform") / f"{seq_from:012d}-{seq_to:012d}.jsonl.gz"


def write_archive(path: Path, lines: Sequence[str]) -> str:
    """Write `lines` durably (temp file, fsync, rename) and return the SHA-256 of the file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0)
    temp = path.with_suffix(path.suffix + ".partial")
    with temp.open("wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    temp.replace(path)
    return hashlib.sha256(data).hexdigest()
