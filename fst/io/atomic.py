"""Write-to-temp-then-rename: a killed job leaves the old state or the whole file, never a part."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | Path, suffix: str = ".part") -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it is renamed onto `path`, else deleted.

    The temp file lives in the same folder (a rename across file systems is not atomic) and is
    named `.<name>.<random><suffix>`, so folder scans that skip dot-files never pick it up. A
    writer that insists on an extension gets it through `suffix` (e.g. ".part.pt2").
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(descriptor)
    temp = Path(temp_name)
    try:
        yield temp
        temp.chmod(0o644)  # mkstemp creates 0600; results are ordinary readable files
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
