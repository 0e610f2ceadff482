"""`journeys retry` on the command line: counts, selection, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli import main

DATA = Path(__file__).parents[1] / "data"
T0 = "2026-01-05T09:00:00+00:00"


@pytest.fixture
def cli(db_url: str, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    def run(*args: str, expect: int = 0) -> tuple[str, str]:
        code = main(["--db", db_url, "--now", T0, *args])
        out, err = capsys.readouterr()
        assert code == expect, f"exit {code}: {err}{out}"
        return out, err

    return run


def test_retry_command(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli("records", "import", "contact", str(DATA / "odoo_contacts.csv"))
    doc = {
        "format": "journeys/campaign",
        "version": 1,
        "campaign": {"name": "Broken", "target": "contact"},
        "activities": [
            {
                "key": "div",
                "name": "Divide",
                "type": "server_action",
                "parent": None,
                "trigger": "begin",
                "delay": {"amount": 0, "unit": "hours"},
                "action": {"kind": "update_record", "values": {"description": "{{ 1 // 0 }}"}},
            }
        ],
    }
    path = tmp_path / "broken.journey.json"
    path.write_text(json.dumps(doc))
    cli("import", str(path))
    cli("start", "Broken")
    cli("run")
    errored = json.loads(cli("traces", "Broken", "--state", "error", "--json")[0])
    assert len(errored) >= 5

    out, _ = cli("retry", "Broken")  # a server action's own error is not retried by default
    assert out.strip() == "0 traces of 'Broken' put back to scheduled, due now"
    out, _ = cli("retry", "Broken", "--activity", "div", "--state", "error")
    assert out.strip() == f"{len(errored)} traces of 'Broken' put back to scheduled, due now"
    scheduled = json.loads(cli("traces", "Broken", "--state", "scheduled", "--json")[0])
    assert {t["id"] for t in scheduled} == {t["id"] for t in errored}
    assert {t["due"][:19] for t in scheduled} == {T0[:19]}

    _, err = cli("retry", "Broken", "--activity", "nope", expect=2)
    assert "no activity 'nope'" in err
    _, err = cli("retry", "Ghost", expect=2)
    assert "no campaign" in err
    with pytest.raises(SystemExit) as stop:  # argparse's own message and exit 2
        main(["--db", "sqlite:///unused.db", "retry", "Broken", "--state", "processed"])
    assert stop.value.code == 2

    cli("stop", "Broken")
    cli("run")
    out, err = cli("retry", "Broken", "--state", "error")
    assert out.startswith("0 traces")
