"""Where the chain toolchain lives: the repository root, Anvil and the pinned Solidity compiler.

The toolchain comes from ``package-lock.json`` (``npm install``, run by ``make install``), never
from a download at run time: py-solc-x's ``install_solc`` is not used anywhere. A missing tool is
a :class:`ToolchainError` that says what is missing and how to get it, rather than a bare
``FileNotFoundError`` from deep inside :mod:`subprocess`.

Environment overrides, for operators with their own builds: ``CARBON_ANVIL_BIN`` and
``CARBON_SOLC_BIN``.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from backend.domain.errors import ConfigurationError

ANVIL_ENV = "CARBON_ANVIL_BIN"
SOLC_ENV = "CARBON_SOLC_BIN"
INSTALL_HINT = "run `make install` (or `npm install` in the repository root) to install the chain toolchain"
_VERSION_RE = re.compile(r"Version:\s*(\d+\.\d+\.\d+)(\S*)")
_VERSION_TIMEOUT_S = 30


class ToolchainError(ConfigurationError):
    """A chain tool (Anvil, solc, the contract sources) is missing or is not the pinned one."""

    title_en = "Chain toolchain missing"
    title_zh = "链工具链缺失"


@dataclass(frozen=True)
class SolcTool:
    """A Solidity compiler executable and the ``x.y.z`` version it reports."""

    path: Path
    version: str


def repo_root() -> Path:
    """The repository root, which holds ``contracts/`` and ``package.json``.

    Compiling and running a managed node work only from a source checkout (an editable install),
    because the contract sources and the npm toolchain live in it, not inside a wheel.
    """
    root = Path(__file__).resolve().parents[2]
    if not (root / "contracts" / "CarbonLedger.sol").is_file() or not (root / "package.json").is_file():
        raise ToolchainError(
            f"{root} is not a Carbon Ledger checkout (no contracts/CarbonLedger.sol or package.json); "
            "the chain toolchain must run from the source tree (pip install -e .)"
        )
    return root


def node_modules() -> Path:
    return repo_root() / "node_modules"


def pinned_solc_version() -> str:
    """The exact compiler version pinned as the ``solc`` dependency of ``package.json``."""
    package_json = repo_root() / "package.json"
    version = json.loads(package_json.read_text(encoding="utf-8")).get("dependencies", {}).get("solc")
    if not isinstance(version, str) or not re.fullmatch(r"\d+\.\d+\.\d+", version):
        raise ToolchainError(
            f"{package_json}: dependency 'solc' must pin an exact x.y.z version, got {version!r}"
        )
    return version


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _override(env: str) -> Path | None:
    value = os.environ.get(env)
    if not value:
        return None
    path = Path(value).expanduser()
    if not _executable(path):
        raise ToolchainError(f"{env}={value} is not an executable file")
    return path


def _platform_suffix() -> str | None:
    """The ``<os>-<arch>`` suffix of Foundry's per-platform npm packages on this machine."""
    system = {"linux": "linux", "darwin": "darwin", "win32": "win32"}.get(sys.platform)
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower()
    )
    return f"{system}-{arch}" if system and arch else None


def anvil_binary() -> Path:
    """The Anvil executable: ``CARBON_ANVIL_BIN``, else the native binary from npm, else the wrapper.

    The native binary of ``@foundry-rs/anvil-<os>-<arch>`` is preferred over the
    ``node_modules/.bin/anvil`` Node wrapper so that the process we manage *is* Anvil: a signal
    (or a SIGKILL in a fault test) reaches the node itself, not a wrapper that may leave it
    orphaned.
    """
    override = _override(ANVIL_ENV)
    if override is not None:
        return override
    modules = node_modules()
    suffix = _platform_suffix()
    name = "anvil.exe" if sys.platform == "win32" else "anvil"
    candidates = []
    if suffix:
        candidates.append(modules / "@foundry-rs" / f"anvil-{suffix}" / "bin" / name)
    candidates.append(modules / ".bin" / "anvil")
    for candidate in candidates:
        if _executable(candidate):
            return candidate
    on_path = shutil.which("anvil")
    if on_path:
        return Path(on_path)
    raise ToolchainError(f"Anvil not found (looked in {modules} and on PATH); {INSTALL_HINT}")


def reported_solc_version(binary: Path) -> str | None:
    """The ``x.y.z`` a compiler reports for ``--version``, or None if it does not answer like solc."""
    try:
        completed = subprocess.run(  # noqa: S603 (a compiler path, no shell)
            [str(binary), "--version"],
            capture_output=True,
            text=True,
            timeout=_VERSION_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = _VERSION_RE.search(completed.stdout)
    if completed.returncode != 0 or match is None:
        return None
    return match.group(1)


def solc_tool() -> SolcTool:
    """The compiler to use, with its version; see :func:`solc_binary` for the order of preference.

    For the bundled solc-js front the version is read from ``node_modules/solc/package.json``
    instead of by running it, so that a cached compile costs no Node start-up.
    """
    pinned = pinned_solc_version()
    override = _override(SOLC_ENV)
    if override is not None:
        version = reported_solc_version(override)
        if version is None:
            raise ToolchainError(f"{SOLC_ENV}={override} does not answer `--version` like solc")
        return SolcTool(override, version)
    native = shutil.which("solc")
    if native and reported_solc_version(Path(native)) == pinned:
        return SolcTool(Path(native), pinned)
    root = repo_root()
    front = root / "deploy" / "solc" / "solc"
    solc_js = root / "node_modules" / "solc" / "package.json"
    if not solc_js.is_file():
        raise ToolchainError(f"solc-js {pinned} not found at {solc_js.parent}; {INSTALL_HINT}")
    installed = json.loads(solc_js.read_text(encoding="utf-8")).get("version")
    if installed != pinned:
        raise ToolchainError(
            f"node_modules has solc-js {installed}, package.json pins {pinned}; {INSTALL_HINT}"
        )
    if shutil.which("node") is None:
        raise ToolchainError(f"Node.js is needed to run the solc-js front {front} but is not on PATH")
    if not _executable(front):
        raise ToolchainError(f"the solc-js front {front} is missing or not executable")
    return SolcTool(front, pinned)


def solc_binary() -> Path:
    """The compiler: ``CARBON_SOLC_BIN``, else a native ``solc`` on PATH that reports exactly the
    pinned version, else ``deploy/solc/solc`` (the solc-js front, slower but always the pin)."""
    return solc_tool().path
