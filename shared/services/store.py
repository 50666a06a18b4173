"""The shared store's identity. ``up`` records a store id in the database and
writes it into ``DATA_DIR/.trainyard-store``; a worker joining from another
host reads the file through its own ``DATA_DIR`` and compares. A local empty
folder, a different mount, or another platform's store all fail that test
before the worker takes a job whose files it could not see."""

from __future__ import annotations

import uuid
from pathlib import Path

from sqlmodel import Session, select

from shared.core.errors import StoreError
from shared.core.i18n import N_
from shared.records import StoreMark

MARKER = ".trainyard-store"


def marker_path(data_dir: Path) -> Path:
    return Path(data_dir) / MARKER


def read_marker(data_dir: Path) -> str | None:
    try:
        return marker_path(data_dir).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def recorded_store_id(*, session: Session) -> str | None:
    mark = session.exec(select(StoreMark).order_by(StoreMark.id)).first()
    return mark.store_id if mark else None


def ensure_store_mark(*, session: Session, data_dir: Path) -> str:
    """At ``up`` (the platform's own host): the store id, made on the first start and written into the marker.
    A DATA_DIR holding another store's marker is refused: the database and the files would not match."""
    recorded = recorded_store_id(session=session)
    on_disk = read_marker(data_dir)
    if recorded is None:
        recorded = on_disk or uuid.uuid4().hex
        session.add(StoreMark(store_id=recorded))
        session.commit()
    elif on_disk is not None and on_disk != recorded:
        raise StoreError(N_("DATA_DIR={data_dir} holds the files of another Trainyard store ({marker}: {on_disk}); "
                            "this database belongs to store {recorded}. Point DATA_DIR at this platform's store, "
                            "or DATABASE_URL at that store's database."),
                         params={"data_dir": data_dir, "marker": MARKER, "on_disk": on_disk, "recorded": recorded})
    if on_disk is None:
        Path(data_dir).mkdir(parents=True, exist_ok=True)
        marker_path(data_dir).write_text(recorded + "\n", encoding="utf-8")
    return recorded


def check_store(*, session: Session, data_dir: Path) -> str:
    """On a joining worker: DATA_DIR must be the store the database describes. Returns the store id."""
    recorded = recorded_store_id(session=session)
    if recorded is None:
        raise StoreError(N_("DATABASE_URL: the database records no shared store yet; start the platform "
                            "(`python -m runner up`) on its main host once, then join workers."))
    on_disk = read_marker(data_dir)
    if on_disk is None:
        raise StoreError(N_("DATA_DIR={data_dir} is not the shared store: {marker} is missing there. Mount the "
                            "platform's DATA_DIR (NFS or another shared filesystem) at this path on this host, "
                            "or set DATA_DIR to where it is mounted."), params={"data_dir": data_dir, "marker": MARKER})
    if on_disk != recorded:
        raise StoreError(N_("DATA_DIR={data_dir} is another Trainyard store ({marker}: {on_disk}), not this "
                            "platform's ({recorded}). Set DATA_DIR to where this platform's store is mounted."),
                         params={"data_dir": data_dir, "marker": MARKER, "on_disk": on_disk, "recorded": recorded})
    return recorded
