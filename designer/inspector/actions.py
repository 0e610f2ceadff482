"""The server-action form: the kind, then that kind's own form (see the modules it names).

Changing the kind replaces the content with that kind's defaults (one undo step); the
panel then builds the new kind's form.
"""

from __future__ import annotations

import copy
from typing import Any

from PySide6.QtWidgets import QComboBox, QFormLayout, QWidget

from engine.catalog import ACTION_KINDS

from .action_forms import CodeForm, JsonForm, TaskForm, WebhookForm
from .content import ContentForm, EmailForm, SmsForm
from .people import FollowersForm, RunActionsForm
from .record_forms import CreateRecordForm, ValuesForm

DEFAULTS: dict[str, dict[str, Any]] = {
    "update_record": {"values": {}},
    "create_record": {"model": "contact", "values": {}},
    "create_activity": {
        "activity_type": "todo",
        "summary": "",
        "note": "",
        "due_in": {"amount": 0, "unit": "days"},
        "assignee": "salesperson",
    },
    "send_email": {"subject": "", "from": "", "reply_to": None, "preheader": "", "body_html": ""},
    "send_sms": {"body": ""},
    "execute_code": {"code": ""},
    "webhook": {"url": "https://", "fields": [], "secret": None, "timeout_s": 10},
    "run_actions": {"actions": []},
    "add_followers": {"users": ["salesperson"]},
    "remove_followers": {"users": ["salesperson"]},
}
KIND_LABELS = {
    "update_record": "Update the record",
    "create_record": "Create a record",
    "create_activity": "Schedule a task",
    "send_email": "Send an email",
    "send_sms": "Send an SMS",
    "add_followers": "Add followers",
    "remove_followers": "Remove followers",
    "execute_code": "Run Python code",
    "webhook": "Call a webhook",
    "run_actions": "Run saved actions",
}
KIND_FORMS: dict[str, type[ContentForm]] = {
    "update_record": ValuesForm,
    "create_record": CreateRecordForm,
    "create_activity": TaskForm,
    "send_email": EmailForm,
    "send_sms": SmsForm,
    "add_followers": FollowersForm,
    "remove_followers": FollowersForm,
    "execute_code": CodeForm,
    "webhook": WebhookForm,
    "run_actions": RunActionsForm,
}


class ActionForm(ContentForm):
    def __init__(self, ctx: Any, key: str, parent: QWidget | None = None) -> None:
        super().__init__(ctx, key, parent)
        self.form = QFormLayout(self)
        self.form.setContentsMargins(0, 0, 0, 0)
        self.kind = QComboBox()
        for kind in ACTION_KINDS:
            self.kind.addItem(KIND_LABELS.get(kind, kind), kind)
        self.built_kind = str(self.node.content.get("kind", "update_record"))
        if self.kind.findData(self.built_kind) < 0:
            self.kind.addItem(self.built_kind, self.built_kind)
        self.kind.setCurrentIndex(self.kind.findData(self.built_kind))
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self.form.addRow("Action", self.kind)
        self.part: ContentForm = KIND_FORMS.get(self.built_kind, JsonForm)(ctx, key)
        self.form.addRow(self.part)

    def choose(self, kind: str) -> None:
        """Switch to ``kind`` as the user would with the combo box."""
        self.kind.setCurrentIndex(self.kind.findData(kind))

    def _kind_changed(self, _index: int) -> None:
        kind = self.kind.currentData()
        content = {"kind": kind, **copy.deepcopy(DEFAULTS.get(kind, {}))}
        self.ctx.editor.set_field(self.key, "content", content)  # the panel rebuilds us

    def load(self) -> None:
        self.part.load()

    def flush(self) -> None:
        self.part.flush()
