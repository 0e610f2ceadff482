"""The main window's commands on whole campaigns and files, with their dialogs.

A mixin of :class:`designer.main_window.MainWindow`: every confirmation goes through
``QMessageBox.question`` (tests answer it), every refusal is shown, never raised.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QInputDialog, QMenu, QMessageBox

from engine import campaign_files, db_files
from engine.api import campaign_ops
from engine.errors import UserError, ValidationError

from . import file_dialogs, theme
from .problems import load_problems

Yes = QMessageBox.StandardButton.Yes
CAMPAIGN_FILE_HINT = "Choose a campaign file (.journey.json)."
APPEARANCE_TEXTS = {theme.SYSTEM: "&System", theme.LIGHT: "&Light", theme.DARK: "&Dark"}


class CampaignCommands:
    db: Any
    clock: Any
    runner: Any
    canvas: Any
    campaigns: Any
    traces: Any

    def _run(self, job, *args, **kwargs) -> object:  # type: ignore[no-untyped-def]
        """Run a campaign operation; a refusal is shown, not raised."""
        try:
            return job(*args, **kwargs)
        except ValidationError as exc:
            lines = "\n".join(f"• {p.message}" for p in exc.problems if p.severity == "error")
            QMessageBox.warning(self, "Journeys", f"{exc.title}:\n{lines}")
        except UserError as exc:
            QMessageBox.warning(self, "Journeys", str(exc))
        return None

    def _select(self, campaign_id: object) -> None:
        self.campaigns.refresh()
        if isinstance(campaign_id, int):
            self.campaigns.select(campaign_id)
        self._update_actions()

    def new_campaign(self) -> None:
        self._select(self._run(campaign_ops.new_draft, self.db, self.clock.now()))

    def new_from_template(self) -> None:
        from .dialogs.gallery import choose_template

        self._select(choose_template(self, self.db, self.clock))  # type: ignore[arg-type]

    def import_records(self) -> None:
        from .dialogs.csv_import import CsvImportDialog

        dialog = CsvImportDialog(self.db, self.clock, self)  # type: ignore[arg-type]
        dialog.imported.connect(lambda *_: self.campaigns.refresh())
        dialog.exec()

    def open_settings(self) -> None:
        from .dialogs.settings_dialog import SettingsDialog

        SettingsDialog(self.db, self.clock, self).exec()  # type: ignore[arg-type]

    def duplicate_campaign(self) -> None:
        if self.current_id():
            self._select(
                self._run(campaign_ops.duplicate, self.db, self.current_id(), self.clock.now())
            )

    def rename_campaign(self) -> None:
        row = self.campaigns.current_row()
        if row is None:
            return
        name, ok = QInputDialog.getText(self, "Rename campaign", "Name:", text=row.name)
        if ok:
            self._run(campaign_ops.rename, self.db, row.id, name, self.clock.now())
            self._select(row.id)

    def delete_campaign(self) -> None:
        row = self.campaigns.current_row()
        if (
            row is None
            or QMessageBox.question(
                self,
                "Delete campaign",
                f"Delete {row.name!r} with its participants and traces? This cannot be undone.",
            )
            != Yes
        ):
            return
        self._close_canvas()
        self._run(campaign_ops.delete, self.db, row.id)
        self._select(None)

    def archive_campaign(self) -> None:
        row = self.campaigns.current_row()
        if row is not None:
            self._close_canvas()
            self._run(campaign_ops.archive, self.db, row.id, self.clock.now())
            self._select(None)

    def start_campaign(self) -> None:
        cid = self.current_id()
        if not cid:
            return
        errors = [p for p, _ in load_problems(self.db, cid) if p.severity == "error"]
        if errors:
            lines = "\n".join(f"• {p.message}" for p in errors)
            QMessageBox.warning(self, "Cannot start", f"Fix these problems first:\n{lines}")
            return
        name, count = campaign_ops.matching(self.db, cid, self.clock.now())
        records = f"{count} record{'s' if count != 1 else ''}"
        question = f"Start {name!r}? {records} will enter the journey now."
        if QMessageBox.question(self, "Start campaign", question) != Yes:
            return
        started = self._run(campaign_ops.start, self.db, cid, self.clock.now())
        if started is not None and self.runner is not None:
            self.runner.wake()
        self._after_lifecycle(cid)

    def stop_campaign(self) -> None:
        row = self.campaigns.current_row()
        if (
            row is None
            or QMessageBox.question(
                self, "Stop campaign", f"Stop {row.name!r}? Scheduled steps will not run."
            )
            != Yes
        ):
            return
        self._run(campaign_ops.stop, self.db, row.id, self.clock.now())
        self._after_lifecycle(row.id)

    def apply_update(self, update: bool) -> None:
        if self.current_id():
            self._run(
                campaign_ops.apply_update,
                self.db,
                self.current_id(),
                self.clock.now(),
                update=update,
            )
            if self.runner is not None:
                self.runner.wake()
            self._after_lifecycle(self.current_id())

    def _after_lifecycle(self, cid: int) -> None:
        self.campaigns.refresh()
        if self.canvas is not None:
            self.canvas.document.reload()
            self.canvas.refresh_stats()
        self.check()
        self.traces.load(cid)
        self._update_actions()

    # --- appearance --------------------------------------------------------------------------
    def add_appearance_menu(self, view: QMenu) -> QMenu:
        """View ▸ Appearance: System / Light / Dark, remembered, applied at once.

        Also applies the remembered choice, so a window opens in the scheme it was left in.
        """
        controller = theme.install()
        view.addSeparator()
        menu = view.addMenu("Appearance")
        group = QActionGroup(menu)
        group.setExclusive(True)
        self.appearance_actions: dict[str, QAction] = {}
        for choice, text in APPEARANCE_TEXTS.items():
            action = QAction(text, menu)
            action.setCheckable(True)
            action.setChecked(choice == controller.preference())
            action.setData(choice)
            group.addAction(action)
            menu.addAction(action)
            self.appearance_actions[choice] = action
        self.appearance_actions[theme.SYSTEM].setToolTip("Light or dark, as the system is")
        group.triggered.connect(self.set_appearance)
        return menu

    def set_appearance(self, action: QAction) -> None:
        theme.appearance().set_preference(str(action.data()))

    # --- files -------------------------------------------------------------------------------
    def import_path(self, path: str | Path) -> int | None:
        """Import a campaign file, asking before trusting its code/webhook actions.

        Menu, drag and drop alike: the window's own database file is refused unread.
        """
        try:
            db_files.refuse_database_file(
                path, self.db.engine.url, action="imported", hint=CAMPAIGN_FILE_HINT
            )
            doc = campaign_files.load_file(path)
        except UserError as exc:
            QMessageBox.warning(self, "Import", str(exc))
            return None
        kinds = campaign_ops.untrusted_kinds(doc)
        trust = (
            bool(kinds)
            and QMessageBox.question(
                self,
                "Trust this file?",
                f"{Path(path).name} contains {' and '.join(kinds)} actions, which run code or send "
                "data to other servers. Trust them? If not, they stay disabled until you do.",
            )
            == Yes
        )
        done = self._run(campaign_ops.import_doc, self.db, doc, trust=trust, now=self.clock.now())
        if not isinstance(done, tuple):
            return None
        cid, name = done
        self._select(cid)
        note = campaign_files.renamed_note(doc["campaign"]["name"], name)
        self.statusBar().showMessage(note or f"Imported {name!r}.", 8000)
        return int(cid)

    def import_dialog(self) -> None:
        path = file_dialogs.open_file_name(self, "Import campaign", "", "Campaign files (*.json)")
        if path:
            self.import_path(path)

    def export_dialog(self) -> None:
        if self.canvas is None:
            return
        name = f"{self.canvas.document.campaign.name}.journey.json"
        path = file_dialogs.save_file_name(self, "Export campaign", name, "Campaign files (*.json)")
        if path:
            self._run(campaign_ops.export_file, self.db, self.current_id(), path)

    def export_diagram(self, fmt: str) -> None:
        """The journey as stored, drawn as ``journeys render`` draws it: no selection, no
        test highlight, light colours whatever the window shows."""
        from .render import render_campaign

        if self.canvas is None:
            return
        title = self.canvas.document.campaign.name
        path = file_dialogs.save_file_name(self, "Export diagram", f"{title}.{fmt}", f"*.{fmt}")
        if not path:
            return
        target = Path(path)
        if target.suffix.lower() != f".{fmt}":
            target = target.with_name(f"{target.name}.{fmt}")
        if self._run(render_campaign, self.db, self.current_id(), target, self.clock) is not None:
            self.statusBar().showMessage(f"Diagram exported to {target}", 5000)
