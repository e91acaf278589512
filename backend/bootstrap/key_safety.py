"""Refusing well-known development keys and carelessly stored key files outside local mode.

Anvil's dev accounts come from the public mnemonic ``test test … junk``: anyone can sign with
them. Their *addresses* are listed here (no keys), and a configured anchoring key is refused when
it controls one of them. A key file other users can read is refused too, as ssh refuses one.
"""

from __future__ import annotations

import math
import stat
from collections import Counter
from pathlib import Path

from eth_account import Account

WELL_KNOWN_DEV_ADDRESSES = frozenset(
    address.lower()
    for address in (
        "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
        "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
        "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
        "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
        "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65",
        "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc",
        "0x976EA74026E726554dB657fA54763abd0C3a0aa9",
        "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955",
        "0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f",
        "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720",
    )
)
"""Addresses of the first ten accounts of Anvil's and Hardhat's default mnemonic (a test derives them)."""


MIN_SECRET_ENTROPY_BITS = 80
"""What a secret's characters must carry at least, by :func:`estimated_entropy_bits`. A generated
secret passes with room to spare (32 random hex digits, 128 bits: about 110 on average, above 90
in 200,000 draws; 32 random URL-safe bytes: about 210); repeated or alternating characters and
spaces do not."""


def estimated_entropy_bits(secret: str) -> float:
    """Length × the Shannon entropy of the secret's own character frequencies: an upper bound
    on what the string can carry, so it refuses what is surely weak (36 spaces: 0 bits) without
    pretending to measure a human-chosen secret's strength."""
    if not secret:
        return 0.0
    counts = Counter(secret)
    n = len(secret)
    per_char = -sum(c / n * math.log2(c / n) for c in counts.values())
    return n * per_char


def key_file_problems(path: Path, what: str) -> list[str]:
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        return [f"{what} {path} cannot be read: {exc.strerror}"]
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return [f"{what} {path} is accessible to other users (mode {stat.filemode(mode)}); chmod 600 it"]
    return []


def key_problems(key: str, what: str) -> list[str]:
    """Why ``key`` must not be used outside local mode; the key itself is never quoted."""
    try:
        address = Account.from_key(key.strip()).address
    except (ValueError, TypeError):
        return [f"{what} is not a valid secp256k1 private key (hex)"]
    if address.lower() in WELL_KNOWN_DEV_ADDRESSES:
        return [f"{what} is a public development key (Anvil account {address}); generate a private one"]
    return []


def anchoring_key_problems(key: str | None, key_file: Path | None) -> list[str]:
    if key:
        return key_problems(key, "CARBON_ANCHORING_KEY")
    if key_file:
        problems = key_file_problems(key_file, "CARBON_ANCHORING_KEY_FILE")
        if problems:
            return problems
        return key_problems(key_file.read_text(), "the key in CARBON_ANCHORING_KEY_FILE")
    return []
