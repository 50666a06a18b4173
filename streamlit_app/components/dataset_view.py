"""A dataset's detail: splits, classes, charts, previews with labels drawn,
the exact argument values a run receives, and the validation warnings."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from shared.contract.datasets import DatasetReport
from shared.contract.datasets.preview import preview_items, render_preview
from shared.core.errors import TrainyardError
from shared.core.i18n import _, fmt_number
from shared.core.relocalize import relocalize
from shared.core.settings import Settings, format_size
from shared.records import TASK_TYPE_LABELS, Dataset
from shared.services.datasets import dataset_args, dataset_report
from streamlit_app.components.charts import bar_figure, image_size_figure
from streamlit_app.components.facts import facts_row

PREVIEW_COLUMNS = 4
PREVIEW_PAGE = 12


def render_overview(ds: Dataset, report: DatasetReport) -> None:
    facts_row([(_("Task type"), _(TASK_TYPE_LABELS[ds.task_type])), (_("Images"), fmt_number(ds.images)),
               (_("Classes"), fmt_number(len(report.class_names))), (_("Size"), format_size(ds.size_bytes))])
    st.markdown("**" + _("Splits") + "**" + (" " + _("(layout: `{layout}`)", layout=report.layout)
                                             if report.layout else ""))
    st.dataframe(pd.DataFrame([{_("split"): s.name, _("images"): s.images, _("data"): s.data,
                                _("labels"): s.label or "—"}
                               for s in report.splits.values()]), hide_index=True, key=f"ds{ds.id}_splits")
    left, right = st.columns(2)
    with left:
        if report.instances_per_class:
            st.plotly_chart(bar_figure(report.instances_per_class, title=_("Instances per class"),
                                       x_title=_("class"), y_title=_("instances")), key=f"ds{ds.id}_classes_chart")
        else:
            st.caption(_("No per-class counts: this task type's labels are not parsed (type *other*) "
                         "or carry no classes."))
    with right:
        if report.image_sizes:
            st.plotly_chart(image_size_figure(report.image_sizes), key=f"ds{ds.id}_sizes_chart")
    if report.class_names:
        with st.expander(_("Classes ({n})", n=len(report.class_names))):
            st.dataframe(pd.DataFrame([{_("index"): i, _("class"): n,
                                        _("instances"): report.instances_per_class.get(n, 0)}
                                       for i, n in enumerate(report.class_names)]),
                         hide_index=True, key=f"ds{ds.id}_class_table")


def render_arguments(ds: Dataset) -> None:
    st.caption(_("The exact value each platform argument (or global variable) receives in a run; the "
                 "dataset is mounted read-only at this path inside the sandbox."))
    args = dataset_args(ds)
    st.dataframe(pd.DataFrame([{_("argument"): k, _("value"): v} for k, v in args.items()]), hide_index=True,
                 key=f"ds{ds.id}_args")


def render_warnings(report: DatasetReport) -> None:
    if not report.warnings:
        st.success(_("No warnings: every file matched the format."))
        return
    total = sum(w.count for w in report.warnings)
    st.warning(_("{total} warnings ({kinds} kinds). The dataset was accepted; these are worth a look before "
                 "training.", total=fmt_number(total), kinds=len(report.warnings)))
    st.dataframe(pd.DataFrame([{_("file"): w.file, _("where"): relocalize(w.where or ""),
                                 _("message"): relocalize(w.message), _("count"): w.count}
                               for w in report.warnings]), hide_index=True, key="ds_warnings")


def render_preview_grid(ds: Dataset, report: DatasetReport, settings: Settings) -> None:
    splits = list(report.splits)
    if not splits:
        st.info(_("No splits to preview."))
        return
    c1, c2 = st.columns([2, 1])
    split = c1.selectbox(_("Split"), splits, key=f"ds{ds.id}_preview_split")
    total = report.splits[split].images
    pages = max(1, math.ceil(total / PREVIEW_PAGE))
    page = c2.number_input(_("Page (of {pages})", pages=pages), min_value=1, max_value=pages, value=1, step=1,
                           key=f"ds{ds.id}_preview_page")
    root = settings.path(ds.path)
    try:
        items = preview_items(root=root, report=report, split=split, offset=(int(page) - 1) * PREVIEW_PAGE,
                              limit=PREVIEW_PAGE)
    except (TrainyardError, OSError) as exc:
        st.error(_("Could not list the {split} images: {error}", split=split,
                   error=exc.localized() if isinstance(exc, TrainyardError) else exc))
        return
    st.caption(_("Images {first}–{last} of {total} in {split}, labels drawn on them.",
                 first=(int(page) - 1) * PREVIEW_PAGE + 1, last=(int(page) - 1) * PREVIEW_PAGE + len(items),
                 total=fmt_number(total), split=split))
    cache = settings.data_dir / "cache" / "thumbs"
    cols = st.columns(PREVIEW_COLUMNS)
    for i, item in enumerate(items):
        with cols[i % PREVIEW_COLUMNS]:
            try:
                img = render_preview(root=root, report=report, rel_path=item.path, max_size=384, cache_dir=cache)
            except (TrainyardError, OSError) as exc:
                st.warning(_("{field}: {message}", field=item.path,
                                   message=exc.localized() if isinstance(exc, TrainyardError) else exc))
                continue
            st.image(str(img) if not hasattr(img, "save") else img, caption=f"{item.path}\n{item.caption}",
                     width="stretch")


def render_dataset(ds: Dataset, settings: Settings) -> None:
    report = dataset_report(ds)
    tabs = st.tabs([_("Overview"), _("Preview"), _("Arguments"), _("Warnings ({n})", n=len(report.warnings))])
    with tabs[0]:
        render_overview(ds, report)
    with tabs[1]:
        render_preview_grid(ds, report, settings)
    with tabs[2]:
        render_arguments(ds)
    with tabs[3]:
        render_warnings(report)
