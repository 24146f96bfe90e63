"""The folder and SFTP sources feed the same importer; SFTP against a real local OpenSSH server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from payments.reconciliation import tasks
from payments.reconciliation.exceptions import SourceUnavailable
from payments.reconciliation.models import ReconciliationFile
from payments.reconciliation.sources import sftp_files
from payments.sandbox.files import FILES, file_name
from payments.sandbox.models import SandboxMerchant

from .helpers import DAY, NEXT_MORNING, open_differences, simple_day

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def write_day_files(folder: Path) -> list[str]:
    """The sandbox's own files for DAY, as Alipay would drop them."""
    merchant = SandboxMerchant.objects.get()
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for kind, make in FILES.items():
        name = file_name(kind, merchant.partner_id, DAY)
        (folder / name).write_text(make(merchant, DAY), encoding="utf-8")
        names.append(name)
    (folder / "README.txt").write_text("not a reconciliation file")
    return names


def test_the_watched_folder_is_imported_once(recon, settings, tmp_path):
    simple_day(recon)
    write_day_files(tmp_path / "drop")
    settings.RECONCILIATION_DIR = str(tmp_path / "drop")
    recon.freeze(NEXT_MORNING)
    report = tasks.reconcile_sources(DAY, ["dir"])
    assert sorted(i.file.kind for i in report.imported) == ["settlement", "transaction"]
    assert {f.source for f in ReconciliationFile.objects.all()} == {"dir"}
    assert open_differences() == []
    assert tasks.reconcile_sources(DAY, ["dir"]).run.files_imported == 0


def test_an_unset_folder_is_reported_and_mailed_not_raised(recon, settings, mailoutbox):
    settings.RECONCILIATION_DIR = ""
    report = tasks.reconcile_sources(DAY, ["dir"])
    assert report.refused == [("dir", "RECONCILIATION_DIR is not set.")]
    assert report.run.errors == "dir: RECONCILIATION_DIR is not set."
    assert "RECONCILIATION_DIR is not set" in mailoutbox[0].body


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def sshd(tmp_path):
    """A real OpenSSH server on 127.0.0.1 with its own host key and authorized_keys."""
    if not os.path.exists(SSHD) or not shutil.which("ssh-keygen"):
        pytest.skip("OpenSSH server not installed (apt-get install openssh-server)")
    home = tmp_path / "ssh"
    home.mkdir()
    keygen = ["ssh-keygen", "-q", "-t", "ed25519", "-N", ""]
    subprocess.run([*keygen, "-f", str(home / "host_key")], check=True)
    subprocess.run([*keygen, "-f", str(home / "client_key")], check=True)
    (home / "authorized_keys").write_text((home / "client_key.pub").read_text())
    os.chmod(home / "authorized_keys", 0o600)
    port = _free_port()
    user = (
        os.environ.get("USER")
        or subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()
    )
    (home / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {home / 'host_key'}\n"
        f"AuthorizedKeysFile {home / 'authorized_keys'}\nPidFile {home / 'sshd.pid'}\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
        "StrictModes no\nPermitRootLogin prohibit-password\nSubsystem sftp internal-sftp\n"
        f"AllowUsers {user}\n"
    )
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", exist_ok=True)  # sshd's privilege separation directory
    server = subprocess.Popen(
        [SSHD, "-D", "-e", "-f", str(home / "sshd_config")],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # sshd says when it listens; reading its log waits exactly as long as needed.
        for line in server.stderr:
            if "Server listening" in line:
                break
        else:
            pytest.fail(f"sshd did not start (exit {server.wait()})")
        host_key = (home / "host_key.pub").read_text().split()
        (home / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n")
        yield {
            "HOST": "127.0.0.1",
            "PORT": port,
            "USER": user,
            "KEY_FILE": str(home / "client_key"),
            "KNOWN_HOSTS": str(home / "known_hosts"),
            "REMOTE_DIR": str(tmp_path / "outbox"),
        }
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_files_are_fetched_over_sftp_from_a_real_sshd(recon, settings, sshd, tmp_path):
    simple_day(recon)
    names = write_day_files(tmp_path / "outbox")
    settings.RECONCILIATION_SFTP = sshd
    recon.freeze(NEXT_MORNING)
    report = tasks.reconcile_sources(DAY, ["sftp"])
    assert sorted(i.file.name for i in report.imported) == sorted(names)
    assert {f.source for f in ReconciliationFile.objects.all()} == {"sftp"}
    assert open_differences() == [] and report.refused == []
    assert tasks.reconcile_sources(DAY, ["sftp"]).run.files_imported == 0


def test_an_sftp_server_with_an_unknown_host_key_is_refused(db, sshd, tmp_path):
    Path(sshd["KNOWN_HOSTS"]).write_text("")
    with pytest.raises(SourceUnavailable, match=r"SFTP 127\.0\.0\.1"):
        sftp_files(sshd)
