"""Long-lived tokens listed and revoked with the `hub token` command."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from hub.cli import main


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(out):
        code = main(list(argv))
    return code, out.getvalue()


def test_token_list_and_revoke(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "config"
    config.mkdir()
    (config / "configuration.yaml").write_text("homeassistant:\n  name: Cli\n")
    where = ["-c", str(config)]
    monkeypatch.setattr("sys.stdin", io.StringIO("a long password\n"))
    assert run("user", "add", "ann", "--password-stdin", *where)[0] == 0
    code, token = run("token", "create", "ann", "--name", "phone", *where)
    assert code == 0 and token.strip()
    code, listing = run("token", "list", "ann", *where)
    assert code == 0 and "phone" in listing and "long_lived" in listing
    token_id = listing.split()[0]
    assert run("token", "revoke", token_id, *where) == (0, f"Revoked token {token_id}.\n")
    code, listing = run("token", "list", "ann", *where)
    assert "revoked" in listing
    assert run("token", "revoke", token_id, *where)[0] == 1
    assert run("token", "list", "nobody", *where)[0] == 1
