"""Every file dialog the app opens, built so that it never opens a file it lists.

Why: the designer holds its SQLite database open, and POSIX locks belong to the process —
closing any descriptor of the database file or of its -wal/-shm drops them all, and the
next ``journeys`` command deletes the WAL the window still writes to (see
:mod:`engine.db_files`). Qt's file dialog reads each listed file to guess its icon and
type (``QMimeDatabase`` content matching), and native dialogs (GTK, the Windows shell)
read them in our process for icons and thumbnails. So every dialog is Qt's own widget
dialog with an icon provider that answers from the name and ``stat()`` alone.

Nothing outside this module creates a ``QFileDialog`` (a test holds that); tests answer
the dialogs by replacing :func:`open_file_name` and :func:`save_file_name`.
"""

from __future__ import annotations

from pathlib import Path

import shiboken6
from PySide6.QtCore import QFileInfo
from PySide6.QtGui import QAbstractFileIconProvider, QIcon
from PySide6.QtWidgets import QApplication, QFileDialog, QStyle, QWidget

IconType = QAbstractFileIconProvider.IconType
SP = QStyle.StandardPixmap
ICONS = {
    IconType.Computer: SP.SP_ComputerIcon,
    IconType.Desktop: SP.SP_DesktopIcon,
    IconType.Trashcan: SP.SP_TrashIcon,
    IconType.Network: SP.SP_DriveNetIcon,
    IconType.Drive: SP.SP_DriveHDIcon,
    IconType.Folder: SP.SP_DirIcon,
    IconType.File: SP.SP_FileIcon,
}
OPTIONS = QFileDialog.Option.DontUseNativeDialog | QFileDialog.Option.DontUseCustomDirectoryIcons


class TypeOnlyIconProvider(QAbstractFileIconProvider):
    """Icons and type names from what ``stat()`` says (folder, drive, file) and the name.

    Qt's providers ask ``QMimeDatabase`` and the platform theme, which read the file;
    this one never does. Icons are made once, in the GUI thread, and only handed out.
    """

    def __init__(self) -> None:
        super().__init__()
        self.setOptions(QAbstractFileIconProvider.Option.DontUseCustomDirectoryIcons)
        style = QApplication.style()
        self.icons = {kind: style.standardIcon(pixmap) for kind, pixmap in ICONS.items()}

    def icon(self, what: object) -> QIcon:  # type: ignore[override]
        if isinstance(what, QFileInfo):
            if what.isRoot():
                what = IconType.Drive
            else:
                what = IconType.Folder if what.isDir() else IconType.File
        return self.icons.get(what, self.icons[IconType.File])  # type: ignore[call-overload]

    def type(self, info: QFileInfo) -> str:
        if info.isRoot():
            return "Drive"
        if info.isDir():
            return "Folder"
        suffix = info.suffix()
        return f"{suffix.upper()} file" if suffix else "File"


def make_dialog(parent: QWidget | None, caption: str, name_filter: str = "") -> QFileDialog:
    """A Qt widget file dialog with the reading-free icon provider, not yet shown.

    The provider is set before the event loop runs, so the dialog's first listing is
    already answered by it; the caller keeps ``dialog.icon_provider`` alive by keeping
    the dialog and must delete the dialog (:func:`run`) before letting both go.
    """
    dialog = QFileDialog(parent, caption)
    dialog.setOptions(OPTIONS)
    provider = TypeOnlyIconProvider()
    dialog.setIconProvider(provider)
    dialog.icon_provider = provider  # type: ignore[attr-defined]
    if name_filter:
        dialog.setNameFilter(name_filter)
    return dialog


def place(dialog: QFileDialog, start: str) -> None:
    """Open in ``start`` (a folder) or at ``start`` (a suggested file), as Qt's own do."""
    if not start:
        return  # the last folder used, or the working folder
    path = Path(start)
    if path.is_dir():
        dialog.setDirectory(str(path))
        return
    if path.parent != Path() and path.parent.is_dir():
        dialog.setDirectory(str(path.parent))
    dialog.selectFile(path.name)


def run(dialog: QFileDialog) -> str:
    """Show ``dialog`` modally; the chosen path, or "" when cancelled. Deletes it."""
    try:
        accepted = dialog.exec() == QFileDialog.DialogCode.Accepted
        files = dialog.selectedFiles()
        return files[0] if accepted and files else ""
    finally:
        # Its model's directory thread stops here, while the icon provider still exists.
        shiboken6.delete(dialog)


def open_file_name(
    parent: QWidget | None, caption: str, directory: str = "", name_filter: str = ""
) -> str:
    """An existing file the user picks (like ``QFileDialog.getOpenFileName``), or ""."""
    dialog = make_dialog(parent, caption, name_filter)
    dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
    dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptOpen)
    place(dialog, directory)
    return run(dialog)


def save_file_name(
    parent: QWidget | None, caption: str, suggested: str = "", name_filter: str = ""
) -> str:
    """A file name to write (like ``QFileDialog.getSaveFileName``), or ""."""
    dialog = make_dialog(parent, caption, name_filter)
    dialog.setFileMode(QFileDialog.FileMode.AnyFile)
    dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
    place(dialog, suggested)
    return run(dialog)
