"""update_record and create_record: which values to write, with a field picker per row."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QComboBox, QFormLayout, QWidget

from engine.fields import MANY2MANY, MODELS, TARGET_MODELS
from engine.records.values import is_required

from .content import ContentForm
from .feedback import message_label, show_messages, user_emails
from .value_cells import check
from .values_editor import ValuesEditor
from .widgets import set_quietly


def kept_values(model: str, values: dict[str, Any], *, create: bool) -> dict[str, Any]:
    """The values that stay valid when a create_record action switches to ``model``."""
    info = MODELS[model]
    out = {}
    for name, value in values.items():
        f = info.fields.get(name)
        if f is None or f.readonly or (create and f.kind == MANY2MANY and isinstance(value, dict)):
            continue
        try:
            out[name] = check(model, f, value)
        except ValueError:
            continue
    return out


class ValuesForm(ContentForm):
    """``values`` for the participant's record (update) or a new record of ``model``."""

    create = False

    def __init__(self, ctx: Any, key: str, parent: QWidget | None = None) -> None:
        super().__init__(ctx, key, parent)
        self.form = QFormLayout(self)
        self.form.setContentsMargins(0, 0, 0, 0)
        self.model_box: QComboBox | None = None
        model = ctx.model
        if self.create:
            self.model_box = QComboBox()
            for name in TARGET_MODELS:
                self.model_box.addItem(MODELS[name].label, name)
            model = self.node.content.get("model") or "contact"
            if model not in MODELS:
                self.model_box.addItem(f"{model} (unknown)", model)
            self.model_box.setCurrentIndex(self.model_box.findData(model))
            self.model_box.currentIndexChanged.connect(self._model_changed)
            self.form.addRow("Create a", self.model_box)
        self.editor = ValuesEditor(
            ctx,
            model if model in MODELS else ctx.model,
            create=self.create,
            users=user_emails(ctx.db),
        )
        self.editor.committed.connect(self._commit_values)
        self.form.addRow(self.editor)
        self.problem = message_label()
        self.warning = message_label("warning")
        self.form.addRow(self.problem)
        self.form.addRow(self.warning)

    def _commit_values(self, values: dict[str, Any], typed: bool) -> None:
        self.set("values", values, merge=typed)
        self.checked()

    def _model_changed(self, _index: int) -> None:
        assert self.model_box is not None
        model = self.model_box.currentData()
        content = dict(self.node.content)
        content["model"] = model
        content["values"] = kept_values(model, content.get("values") or {}, create=True)
        self.editor.set_model(model)
        self.set_content(content, merge=False)
        self.load()

    def load(self) -> None:
        content = self.node.content
        model = self.editor.model
        if self.model_box is not None:
            model = content.get("model") or "contact"
            idx = self.model_box.findData(model)
            set_quietly(self.model_box, lambda: self.model_box.setCurrentIndex(idx))  # type: ignore[union-attr]
            show_messages(self.problem, [] if model in MODELS else [f"Unknown model {model!r}"])
            if model in MODELS and model != self.editor.model:
                self.editor.set_model(model)
        self.editor.set_values(dict(content.get("values") or {}))
        self.checked()

    def checked(self) -> None:
        if not self.create or self.editor.model not in MODELS:
            return
        info = MODELS[self.editor.model]
        values = self.node.content.get("values") or {}
        missing = [
            f.label
            for f in info.fields.values()
            if is_required(info, f) and values.get(f.name) in (None, "")
        ]
        show_messages(
            self.warning,
            [f"A new {info.label.lower()} needs: {', '.join(missing)}." if missing else ""],
        )

    def flush(self) -> None:
        self.editor.flush()


class CreateRecordForm(ValuesForm):
    create = True
