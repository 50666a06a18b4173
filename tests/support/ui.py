"""The UI tests' helpers: an AppTest of the router or of one page, signed in as a person of a role, rows made
through the services (plus Task/Run/MetricPoint rows written directly, as the runner would, so a page can be
shown mid-training without running user code), and readers of an AppTest's element tree. The fixtures that give
them a DB and settings are in tests/ui/conftest.py."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlmodel import Session

from tests.support.paths import ROOT
from tests.support.people import OP
from tests.support.pkgs import write_dataset, write_package

APP = ROOT / "streamlit_app" / "app.py"


def signed_in(role: str = "admin"):
    """(person, session token) for a person named ``test-<role>`` (made on first use, without a password
    so no argon2 hashing slows the UI tests), against the settings the app under test reads."""
    from shared.core.db import get_engine
    from shared.core.settings import get_settings
    from shared.records import Role, User
    from shared.services import auth, users

    settings = get_settings()
    with Session(get_engine(settings.database_url), expire_on_commit=False) as s:
        user = users.find_user(session=s, name=f"test-{role}")
        if user is None:
            user = User(name=f"test-{role}", role=Role(role))
            s.add(user)
            s.commit()
            s.refresh(user)
        return user, auth.issue_token(settings, user)


def app_test(script: Path = APP, *, as_role: str | None = "admin", timeout: float = 60):
    """An AppTest of the router (or of one page file run on its own), signed in as a person of ``as_role``
    (None: signed out): the token is where the sign-in form leaves it; a page run without the router also
    gets the person the router's gate would have set."""
    from streamlit.testing.v1 import AppTest

    from streamlit_app.components.auth import TOKEN_KEY
    from streamlit_app.components.deps import USER_KEY

    at = AppTest.from_file(str(script), default_timeout=timeout)
    if as_role is not None:
        user, token = signed_in(as_role)
        at.session_state[TOKEN_KEY] = token
        if script != APP:
            at.session_state[USER_KEY] = user
    return at


def open_page(page: str, *, as_role: str | None = "admin", **query: str):
    """The app through its router, signed in as a person of ``as_role`` (None: signed out), switched to
    ``page`` with ``query`` params set."""
    at = app_test(as_role=as_role)
    at.run()
    assert not at.exception, at.exception
    for k, v in query.items():
        at.query_params[k] = v
    at.switch_page(page)
    at.run()
    return at


def make_dataset(db: Session, settings, tmp_path: Path, *, name: str = "shapes", per_class: int = 3):
    from shared.services.datasets import add_dataset

    z = write_dataset(tmp_path / f"{name}.zip", classes=("cat", "dog"), per_class=per_class)
    return add_dataset(session=db, settings=settings, zip_path=z, name=name, task_type="classification", actor=OP)


def make_model(db: Session, settings, tmp_path: Path, *, name: str = "quadratic", deployed: bool = True,
               network: bool = False):
    """A real package through add_model; 'deployed' is then recorded as the deploy job would."""
    from shared.records import DeployStatus, utcnow
    from shared.services.models import add_model

    z = write_package(tmp_path / f"{name}.zip", requirements="numpy>=1.23\n")
    model = add_model(session=db, settings=settings, zip_path=z, name=name, task_type="classification",
                      network=network, actor=OP)
    if deployed:
        model.status = DeployStatus.deployed
        model.deploy_started_at = utcnow() - timedelta(seconds=12)
        model.deployed_at = utcnow()
        model.freeze = ["numpy==2.1.0"]
        model.install_log = f"{model.path}/deploy.log"
        settings.path(model.install_log).write_text("Resolved 1 package\n[trainyard] environment abc built\n")
        db.add(model)
        db.commit()
        db.refresh(model)
    return model


def make_task(db: Session, settings, *, model_id: int, dataset_id: int, status: str = "running",
              search: bool = False, reason: str | None = None, n_points: int = 5):
    """A task with two runs, metrics (±inf included), resource samples and logs."""
    from shared.records import MetricPoint, ResourceSample, Run, RunStatus, Task, TaskStatus, utcnow

    params = {"x": {"range": [0.0, 1.0], "log": False, "type": "float", "search": True}} if search else \
        {"x": {"value": 0.3, "search": False}}
    now = utcnow()
    task = Task(name="lr sweep", model_id=model_id, dataset_id=dataset_id, epochs=n_points, n_runs=3,
                time_limit_s=5400, metrics=["loss", "score"], eval_metric="score", params=params,
                status=TaskStatus(status), reason=reason, started_at=now - timedelta(minutes=3))
    if TaskStatus(status).finished:
        task.finished_at = now
    db.add(task)
    db.commit()
    db.refresh(task)
    runs = []
    for i, (st, sc) in enumerate([(RunStatus.completed, 0.9), (RunStatus.running, None)]):
        log_rel = f"runs/{task.id}/{i}/run.log"
        run = Run(task_id=task.id, index=i, trial_number=i if search else None, status=st, params={"x": 0.1 * (i + 1)},
                  score=sc, log_path=log_rel, work_dir=f"runs/{task.id}/{i}/work", lines=40,
                  metric_names=["epoch", "loss", "score", "lr"], started_at=now - timedelta(minutes=2),
                  finished_at=now if st.finished else None,
                  last_unparsed="loss=0.5 acc=0.3" if i == 1 else None)
        db.add(run)
        db.commit()
        db.refresh(run)
        runs.append(run)
        log = settings.path(log_rel)
        log.parent.mkdir(parents=True, exist_ok=True)
        lines = [f"o epoch: {e}, loss: {1 / e:.3f}, score: {e / n_points:.3f}" for e in range(1, n_points + 1)]
        lines += ["e Traceback (most recent call last):", "e ValueError: boom", "o needle in the log"]
        log.write_text("\n".join(lines) + "\n")
        work = settings.path(run.work_dir)
        work.mkdir(parents=True, exist_ok=True)
        (work / "best.pt").write_bytes(b"weights-%d" % i)
        for e in range(1, n_points + 1):
            seq = e - 1
            db.add(MetricPoint(run_id=run.id, name="epoch", seq=seq, value=float(e)))
            # Non-finite values as a diverging run prints them. (nan is not stored: SQLite turns NaN into
            # NULL, which the NOT NULL column refuses; charts.py's nan handling is unit-tested instead.)
            loss = float("-inf") if (i == 1 and e == 2) else float("inf") if (i == 1 and e == 3) else 1 / e
            db.add(MetricPoint(run_id=run.id, name="loss", seq=seq, value=loss))
            db.add(MetricPoint(run_id=run.id, name="score", seq=seq, value=e / n_points))
            db.add(MetricPoint(run_id=run.id, name="lr", seq=seq, value=0.01))
            db.add(ResourceSample(run_id=run.id, t=float(e), cpu_percent=50.0 + e, rss_bytes=100 * 2**20))
        db.commit()
    if status in ("completed", "stopped", "timed_out"):
        task.best_run_id = runs[0].id
        db.add(task)
        db.commit()
    return task, runs


def tree_elements(node) -> list:
    """Every element of an AppTest tree in display order (depth first)."""
    out = []
    children = getattr(node, "children", None)
    if isinstance(children, dict):
        for k in sorted(children):
            out.append(children[k])
            out += tree_elements(children[k])
    return out


def error_under(at, key: str) -> str | None:
    """The text of the st.error drawn right after the widget with this key, if any."""
    from streamlit.testing.v1.element_tree import Checkbox, Error, Widget

    flat = tree_elements(at._tree)  # noqa: SLF001 - the public API has no 'next sibling'
    for i, el in enumerate(flat):
        if isinstance(el, Widget) and el.key == key:
            for nxt in flat[i + 1:i + 8]:
                if isinstance(nxt, Error):
                    return nxt.value
                if isinstance(nxt, Widget) and not isinstance(nxt, Checkbox):
                    return None  # the next field starts: no error under this one
            return None
    raise AssertionError(f"no widget with key {key!r} on the page")


def frame(at, column: str):
    """The first st.dataframe on the page with this column (only selectable frames keep their key)."""
    for df in at.dataframe:
        value = df.value
        if column in value.columns:
            return value
    raise AssertionError(f"no table with a {column!r} column on the page")


def image_captions(at) -> list[str]:
    return [img.caption for el in at.get("image") for img in el.proto.imgs]
