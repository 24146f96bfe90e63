"""Where the files come from: a watched folder, Alipay's SFTP drop, the sandbox, an upload.

Each source only lists files and opens their bytes (Incoming); importing is the same for all
(payments.reconciliation.importing). Remote bytes are copied to a spooled temporary file first,
so that the importer can read them twice (hash, then parse) without holding a large file in
memory, and no connection stays open while the database works.
"""

from __future__ import annotations

import contextlib
import fnmatch
import logging
import tempfile
from datetime import date
from pathlib import Path
from typing import BinaryIO

import requests
from django.conf import settings

from payments import alipay_client

from .exceptions import SourceUnavailable
from .models import ReconciliationFile
from .runs import Incoming

logger = logging.getLogger(__name__)

SOURCES = ("sandbox", "dir", "sftp")
PATTERN = "*.csv"
SPOOL_BYTES = 16 << 20
Source = ReconciliationFile.Source


def _spool() -> BinaryIO:
    return tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)


def uploaded(files, *, name_of=lambda f: getattr(f, "name", "upload.csv")) -> list[Incoming]:
    """File-like objects (an admin upload, an open file) as Incoming; they stay open."""

    def opener(f):
        @contextlib.contextmanager
        def open_():
            f.seek(0)
            yield f

        return open_

    return [Incoming(name=str(name_of(f)), open=opener(f), source=Source.UPLOAD) for f in files]


def local_files(paths, *, source: str = Source.COMMAND) -> list[Incoming]:
    out = []
    for path in map(Path, paths):
        if not path.is_file():
            raise SourceUnavailable(f"No such file: {path}")
        out.append(Incoming(name=path.name, open=lambda p=path: p.open("rb"), source=source))
    return out


def folder_files(folder: str | None = None) -> list[Incoming]:
    """Every CSV in RECONCILIATION_DIR; files imported before are recognised by their hash."""
    folder = folder or settings.RECONCILIATION_DIR
    if not folder:
        raise SourceUnavailable("RECONCILIATION_DIR is not set.")
    root = Path(folder)
    if not root.is_dir():
        raise SourceUnavailable(f"RECONCILIATION_DIR {root} is not a folder.")
    paths = sorted(p for p in root.iterdir() if p.is_file() and fnmatch.fnmatch(p.name, PATTERN))
    return local_files(paths, source=Source.DIR)


def sftp_files(config: dict | None = None) -> list[Incoming]:
    """Download every CSV in the remote folder (host key checked against KNOWN_HOSTS)."""
    import paramiko  # loaded only where SFTP is configured: the SSH stack is heavy

    conf = config or settings.RECONCILIATION_SFTP
    if not (conf.get("HOST") and conf.get("USER") and conf.get("KEY_FILE")):
        raise SourceUnavailable("RECONCILIATION_SFTP_HOST, _USER and _KEY_FILE must be set.")
    client = paramiko.SSHClient()
    known = conf.get("KNOWN_HOSTS", "")
    try:
        if known and Path(known).is_file():
            client.load_host_keys(known)
        else:
            client.load_system_host_keys()
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        client.connect(
            conf["HOST"],
            port=int(conf.get("PORT") or 22),
            username=conf["USER"],
            key_filename=conf["KEY_FILE"],
            look_for_keys=False,
            allow_agent=False,
            timeout=15,
        )
        out = []
        with client.open_sftp() as sftp:
            remote = conf.get("REMOTE_DIR") or "."
            for name in sorted(sftp.listdir(remote)):
                if not fnmatch.fnmatch(name, PATTERN):
                    continue
                spool = _spool()
                sftp.getfo(f"{remote.rstrip('/')}/{name}", spool)
                out.append(Incoming(name=name, open=_reopen(spool), source=Source.SFTP))
        return out
    except (OSError, paramiko.SSHException) as exc:
        raise SourceUnavailable(f"SFTP {conf['HOST']}:{conf.get('PORT')}: {exc}") from exc
    finally:
        client.close()


def _reopen(spool: BinaryIO):
    @contextlib.contextmanager
    def open_():
        spool.seek(0)
        try:
            yield spool
        finally:
            spool.close()

    return open_


def sandbox_files(day: date) -> list[Incoming]:
    """The day's two files from the sandbox's /sandbox/files/, signed like a gateway call."""
    config = alipay_client.client_config()
    base = settings.ALIPAY["GATEWAY_URL"].rsplit("/", 1)[0]
    out = []
    for kind in ("transactions", "settlement"):
        params = {"partner": config.partner, "date": f"{day:%Y%m%d}"}
        params["sign"] = config.signer().sign(params)
        params["sign_type"] = config.sign_type
        spool = _spool()
        try:
            with requests.get(
                f"{base}/files/{kind}/", params=params, timeout=config.timeout, stream=True
            ) as response:
                if response.status_code != 200:
                    raise SourceUnavailable(
                        f"sandbox {kind} file for {day}: HTTP {response.status_code} "
                        f"{response.text[:200]}"
                    )
                for chunk in response.iter_content(1 << 16):
                    spool.write(chunk)
        except requests.RequestException as exc:
            raise SourceUnavailable(f"sandbox {kind} file for {day}: {exc}") from exc
        name = f"{config.partner}_{kind}_{day:%Y%m%d}.csv"
        out.append(Incoming(name=name, open=_reopen(spool), source=Source.SANDBOX, day=day))
    return out


def collect(source: str, day: date) -> list[Incoming]:
    if source == "sandbox":
        return sandbox_files(day)
    if source == "dir":
        return folder_files()
    if source == "sftp":
        return sftp_files()
    raise SourceUnavailable(f"Unknown source {source!r}: use one of {', '.join(SOURCES)}.")
