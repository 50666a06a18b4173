"""A prediction's parts: the live area while predict.py runs (status, outputs
so far, log tail), then the results (reason first when it failed, per-image
flags, the outputs zip, a paged input | output gallery) and the history list.

Output files are written by user code, so they are only ever decoded with
Pillow into small thumbnails here; anything Pillow cannot read is named, not
shown."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Any

import streamlit as st
from redis.exceptions import RedisError

from shared.core.i18n import _, fmt_datetime
from shared.core.relocalize import relocalize
from shared.records import OutputMatch, Prediction, PredictionStatus, utcnow
from shared.services.predictions import (
    connected_workers,
    download_outputs,
    get_prediction,
    input_dir,
    match_outputs,
    output_bytes,
    safe_output_dir,
)
from shared.services.weights import regular_files
from streamlit_app.components import deps, language, logs
from streamlit_app.components.badges import status_badge
from streamlit_app.components.formats import between, duration

PAGE_SIZE = 8
HISTORY_PAGE = 15
THUMB_SIDE = 768
LIVE_S = 1
_ACTIVE = (PredictionStatus.queued, PredictionStatus.running)


def _files(root: Path | None) -> list[str]:
    return regular_files(root) if root is not None and root.is_dir() else []


def per_image(pred: Prediction) -> dict[str, Any]:
    """The job's recorded match, or (before it recorded one, e.g. a failure before predict.py ran)
    the same match computed from what is on disk now."""
    if pred.outputs and "images" in pred.outputs:
        return pred.outputs
    return match_outputs(inputs=list(pred.images), outputs=_files(safe_output_dir(deps.settings(), pred)))


@st.cache_data(max_entries=512, show_spinner=False)
def _thumb(data: bytes) -> bytes | None:
    """A web-viewable copy (TIFF/BMP/16-bit PNG are not), at most THUMB_SIDE px; None if unreadable."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            im.thumbnail((THUMB_SIDE, THUMB_SIDE))
            alpha = im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)
            im = im.convert("RGBA" if alpha else "RGB")
            buf = io.BytesIO()
            im.save(buf, "PNG" if alpha else "JPEG", quality=90)
            return buf.getvalue()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None


def _image(data: bytes | None, caption: str) -> None:
    """``data`` was read by the platform: inputs from its own folder, outputs through their
    fds (predict.py may plant links), never by a path that is opened again."""
    thumb = _thumb(data) if data else None
    if thumb is None:
        st.warning(_("{name}: cannot be shown as an image (it is still in the zip)", name=caption))
    else:
        st.image(thumb, caption=caption, width="content")  # small images stay small, big ones fit


def _input_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _zip_bytes(pred_id: int) -> bytes:
    settings = deps.settings()
    tmp_root = settings.data_dir / "tmp"
    tmp_root.mkdir(parents=True, exist_ok=True)
    with deps.session() as s, tempfile.TemporaryDirectory(dir=tmp_root) as tmp:
        return download_outputs(session=s, settings=settings, actor=deps.current_user(), prediction_id=pred_id,
                                dest=Path(tmp) / "outputs.zip").read_bytes()


def _log_path(pred: Prediction) -> Path:
    return deps.settings().path(pred.path) / "predict.log"


def _summary(pred: Prediction) -> None:
    took = duration(between(pred.started_at, pred.finished_at, utcnow()))
    st.markdown(status_badge(pred.status) + " &nbsp; " + _(
        "**prediction #{id}** · task #{task} · run #{run} · weights `{weights}` · confidence {confidence} · "
        "{images} images · {took}", id=pred.id, task=pred.task_id, run=pred.run_id, weights=pred.weights,
        confidence=f"{pred.confidence:g}", images=len(pred.images), took=took))


def _waiting_note() -> None:
    try:
        workers = connected_workers(connection=deps.redis())
    except (RedisError, OSError) as exc:
        st.warning(_("Redis is not reachable ({error}); the prediction is saved and runs once it is back.", error=exc))
        return
    if workers == 0:
        st.warning(_("No worker is running, so nothing is processed. Start one with `python -m runner up` "
                     "(or `python -m runner worker`)."))
    else:
        st.caption(_("Waiting for a free worker ({n} connected; predictions go before training).", n=workers))


@st.fragment(run_every=LIVE_S)
def live(pred_id: int) -> None:
    """Reruns alone every second; hands over to the whole page once predict.py is done."""
    language.reapply()  # a fragment's own rerun skips the router, which sets the language
    with deps.session() as s:
        pred = get_prediction(session=s, prediction_id=pred_id, actor=deps.current_user())
    if pred.status not in _ACTIVE:
        st.rerun()
    # One source for the status: when it moves (queued -> running) the whole page reruns, so the
    # history list below says what this area says.
    seen = f"pr_live_status_{pred_id}"
    if st.session_state.get(seen, pred.status) != pred.status:
        st.session_state[seen] = pred.status
        st.rerun()
    st.session_state[seen] = pred.status
    _summary(pred)
    if pred.status == PredictionStatus.queued:
        _waiting_note()
        return
    done = len(_files(safe_output_dir(deps.settings(), pred)))
    total = max(len(pred.images), 1)
    st.progress(min(done / total, 1.0), text=_("{done} of {total} output images written", done=done,
                                                         total=len(pred.images)))
    rows = logs.tail(_log_path(pred), lines=40)
    if rows:
        st.html(logs.log_html(rows))
    else:
        st.caption(_("predict.py has printed nothing yet."))


def results(pred: Prediction, *, key: str) -> None:
    _summary(pred)
    log_path = _log_path(pred)
    if pred.status == PredictionStatus.failed:
        # The reason and the log come first: they say what to fix.
        st.error(_("**Prediction failed:** {reason}", reason=relocalize(pred.reason) or _("no reason recorded")))
        logs.render_tail(log_path, key=f"{key}_faillog")
    match = per_image(pred)
    images: dict[str, dict[str, Any]] = match.get("images", {})
    missing = [n for n, r in images.items() if r.get("status") != OutputMatch.ok]
    if missing and pred.status == PredictionStatus.completed:
        shown = "\n".join("- " + _("predict.py wrote no image for {name}", name=n) for n in missing[:20])
        more = "\n- " + _("… and {n} more", n=len(missing) - 20) if len(missing) > 20 else ""
        st.warning(_("**{missing} of {total} inputs have no output image** (it must be saved under the out dir "
                     "with the input's file name)", missing=len(missing), total=len(images)) + f"\n{shown}{more}")
    if match.get("extra"):
        st.info(_("predict.py also wrote files that match no input: ") + ", ".join(f"`{e}`" for e in match["extra"]))
    c = st.columns([1, 1, 3])
    c[0].download_button(_("Outputs (zip)"), data=lambda: _zip_bytes(pred.id), file_name=f"prediction{pred.id}.zip",
                         mime="application/zip", key=f"{key}_zip", on_click="ignore", icon=":material/folder_zip:",
                         disabled=not _files(safe_output_dir(deps.settings(), pred)))
    with c[1]:
        logs.download_button(log_path, file_name=f"prediction{pred.id}.log", key=f"{key}_dllog")
    _gallery(pred, images, key=key)
    if pred.status != PredictionStatus.failed:
        with st.expander(_("predict.py log")):
            logs.render_tail(log_path, key=f"{key}_log")


def _gallery(pred: Prediction, images: dict[str, dict[str, Any]], *, key: str) -> None:
    if not images:
        return
    names = sorted(images)
    flagged = [n for n in names if images[n].get("status") != OutputMatch.ok or images[n].get("note")]
    if flagged:
        only = st.toggle(_("Only flagged images ({n})", n=len(flagged)), key=f"{key}_flagged")
        names = flagged if only else names
    pages = max(1, -(-len(names) // PAGE_SIZE))
    page = st.pagination(pages, key=f"{key}_page") if pages > 1 else 1
    page = min(max(page, 1), pages)
    settings = deps.settings()
    src, out = input_dir(settings, pred), safe_output_dir(settings, pred)
    head = st.columns(2)
    head[0].markdown("**" + _("Input") + "**")
    head[1].markdown("**" + _("Output") + "**")
    for name in names[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]:
        r = images[name]
        left, right = st.columns(2)
        with left:
            _image(_input_bytes(src / name), name)
        with right:
            if r.get("output") and out is not None:
                _image(output_bytes(settings, pred, r["output"]),
                       r["output"] + (f" ({r['note']})" if r.get("note") else ""))
            else:
                st.warning(r.get("note") or _("predict.py wrote no image for {name}", name=name))
    st.caption(_("Images {first}–{last} of {total}", first=(page - 1) * PAGE_SIZE + 1,
                 last=min(page * PAGE_SIZE, len(names)), total=len(names)))


def show(pred_id: int, *, key: str = "pr_view") -> None:
    """Live while queued or running, the results after."""
    if (pred := deps.fetch(get_prediction, say=st.warning, prediction_id=pred_id)) is None:
        return
    if pred.status in _ACTIVE:
        live(pred_id)
    else:
        results(pred, key=f"{key}{pred_id}")


def _open(pred_id: int) -> None:
    st.session_state["pr_view"] = pred_id
    st.query_params["prediction"] = str(pred_id)


def history_list(preds: list[Prediction], *, current: int | None, key: str) -> None:
    """Newest first, paged; "View" opens one above (and puts its id in the URL, so it can be shared)."""
    if not preds:
        st.caption(_("No predictions with this model yet."))
        return
    pages = max(1, -(-len(preds) // HISTORY_PAGE))
    page = st.pagination(pages, key=f"{key}_page") if pages > 1 else 1
    widths = [0.6, 1.6, 0.8, 2, 3.4, 1.3]
    head = st.columns(widths)
    titles = ("id", _("status"), _("images"), _("created"), _("task · run · weights"), "")
    for col, title in zip(head, titles, strict=True):
        col.caption(title)
    for p in preds[(page - 1) * HISTORY_PAGE: page * HISTORY_PAGE]:
        c = st.columns(widths, vertical_alignment="center")
        c[0].markdown(f"**{p.id}**")
        c[1].markdown(status_badge(p.status))
        c[2].markdown(str(len(p.images)))
        c[3].markdown(fmt_datetime(p.created_at, fmt="short"))
        c[4].markdown(_("task #{task} · run #{run} · `{weights}`", task=p.task_id, run=p.run_id, weights=p.weights))
        c[5].button(_("View"), key=f"{key}_open_{p.id}", on_click=_open,
                    args=(p.id,), disabled=p.id == current)
