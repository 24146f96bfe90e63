"""Demo RSA key pairs for the sandbox's demo merchant, generated once into an ignored folder.

Never shipped in the repository: every clone makes its own. They are named `demo-*` everywhere so
nobody mistakes them for production keys; going live points ALIPAY_*_KEY_FILE elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

# (our side, Alipay's side): each has a private key and publishes the public half to the other.
DEMO_KEY_NAMES = ("demo-merchant", "demo-alipay")


def demo_key_paths(key_dir: Path, name: str) -> tuple[Path, Path]:
    return key_dir / f"{name}-private.pem", key_dir / f"{name}-public.pem"


def ensure_demo_keys(key_dir: Path) -> list[Path]:
    """Create any missing demo key pair; returns the files written (none on a second run)."""
    key_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in DEMO_KEY_NAMES:
        private_path, public_path = demo_key_paths(key_dir, name)
        if private_path.exists() and public_path.exists():
            continue
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(private_pem)
        public_path.write_bytes(public_pem)
        written += [private_path, public_path]
    return written
