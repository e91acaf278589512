"""Compiling ``contracts/CarbonLedger.sol`` to a cached, content-addressed artifact.

The compiler gets every source by *content* in standard JSON, so what it compiled is exactly
what :attr:`ContractArtifact.source_hash` covers: the contract, each OpenZeppelin file it
imports (followed recursively from ``node_modules``) and the settings. Source unit names and
settings (remappings, optimizer, EVM version) come from ``foundry.toml``, so this build and
``forge build`` compile the same thing the same way, and there is one place to change them.

The solc-js compiler takes seconds, so artifacts are cached as JSON in a directory, keyed by
the source hash and the compiler version; any change to a source or a setting misses the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rfc8785
import solcx
from solcx.exceptions import SolcError

from backend.adapters import json_records
from backend.adapters.toolchain import SolcTool, ToolchainError, repo_root, solc_tool

CONTRACT_SOURCE = "contracts/CarbonLedger.sol"
CONTRACT_NAME = "CarbonLedger"

# A string literal (kept) or a comment (dropped): comments may mention `import`, strings may hold `//`.
_STRING_OR_COMMENT = re.compile(
    r"(\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*')|(//[^\n]*|/\*.*?\*/)", re.DOTALL
)
_IMPORT = re.compile(r"\bimport\s+[^;]*?[\"']([^\"']+)[\"'][^;]*;")


class CompileError(ToolchainError):
    """The compiler refused the sources or produced no code for the contract."""

    title_en = "Contract compilation failed"
    title_zh = "合约编译失败"


@dataclass(frozen=True)
class ContractArtifact:
    """What deployment and the chain adapter need from a compile, with hashes that identify it."""

    abi: list[dict[str, Any]]
    bytecode: str
    """Creation code, 0x-prefixed hex."""
    deployed_bytecode: str
    """Runtime code, 0x-prefixed hex: what ``eth_getCode`` returns after deployment."""
    source_hash: str
    """SHA-256 (hex) of the canonical standard-JSON input: every source's content and the settings."""
    abi_hash: str
    """SHA-256 (hex) of the RFC 8785 canonical ABI JSON."""
    compiler_version: str

    def to_json(self) -> str:
        return json_records.to_json(self)

    @classmethod
    def from_json(cls, text: str) -> ContractArtifact:
        artifact = json_records.from_json(cls, text, "contract artifact")
        if artifact.abi_hash != abi_hash(artifact.abi):
            raise ValueError("artifact abi_hash does not match its ABI")
        return artifact


def sha256_canonical(value: Any) -> str:
    """SHA-256 (hex) of a JSON value in RFC 8785 canonical form: the same on every machine."""
    return hashlib.sha256(bytes(rfc8785.dumps(value))).hexdigest()


def abi_hash(abi: list[dict[str, Any]]) -> str:
    return sha256_canonical(abi)


def _foundry_profile(root: Path) -> dict[str, Any]:
    with (root / "foundry.toml").open("rb") as handle:
        profile = tomllib.load(handle).get("profile", {}).get("default", {})
    if not isinstance(profile, dict):
        raise ToolchainError(f"{root / 'foundry.toml'} has no [profile.default]")
    return profile


def _remappings(profile: dict[str, Any]) -> list[tuple[str, str]]:
    """``prefix=target`` pairs from foundry.toml, longest prefix first (solc's rule)."""
    pairs = []
    for entry in profile.get("remappings", []):
        prefix, _, target = str(entry).partition("=")
        if ":" in prefix:
            raise ToolchainError(f"context-specific remapping {entry!r} is not supported")
        pairs.append((prefix, target))
    return sorted(pairs, key=lambda pair: len(pair[0]), reverse=True)


def _resolve_import(importer: str, path: str, remappings: list[tuple[str, str]]) -> str:
    """The source unit name solc gives ``import "path"`` inside ``importer`` (relative, then remapped)."""
    if path.startswith(("./", "../")):
        path = posixpath.normpath(posixpath.join(posixpath.dirname(importer), path))
    for prefix, target in remappings:
        if path.startswith(prefix):
            return target + path[len(prefix) :]
    return path


def _imports(source: str) -> list[str]:
    code = _STRING_OR_COMMENT.sub(lambda m: m.group(1) or " ", source)
    return _IMPORT.findall(code)


def collect_sources(root: Path, entry: str, remappings: list[tuple[str, str]]) -> dict[str, str]:
    """``entry`` and everything it imports, transitively, as ``{unit name: content}``."""
    sources: dict[str, str] = {}
    pending = [entry]
    resolved_root = root.resolve()
    while pending:
        unit = pending.pop()
        if unit in sources:
            continue
        file = (root / unit).resolve()
        if not file.is_relative_to(resolved_root) or not file.is_file():
            hint = " (run `make install` / `npm install`)" if "node_modules" in unit else ""
            raise ToolchainError(f"Solidity source {unit!r} not found under {root}{hint}")
        content = file.read_text(encoding="utf-8")
        sources[unit] = content
        pending.extend(_resolve_import(unit, path, remappings) for path in _imports(content))
    return dict(sorted(sources.items()))


def standard_json_input(root: Path) -> dict[str, Any]:
    """The compiler input: sources by content, settings as in foundry.toml."""
    profile = _foundry_profile(root)
    remappings = _remappings(profile)
    sources = collect_sources(root, CONTRACT_SOURCE, remappings)
    settings: dict[str, Any] = {
        "remappings": [f"{prefix}={target}" for prefix, target in remappings],
        "optimizer": {
            "enabled": bool(profile.get("optimizer", False)),
            "runs": int(profile.get("optimizer_runs", 200)),
        },
        "outputSelection": {
            CONTRACT_SOURCE: {
                CONTRACT_NAME: ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "metadata"]
            }
        },
    }
    if "evm_version" in profile:
        settings["evmVersion"] = str(profile["evm_version"])
    return {
        "language": "Solidity",
        "sources": {u: {"content": c} for u, c in sources.items()},
        "settings": settings,
    }


def _cache_file(cache_dir: Path, source_hash: str, compiler: SolcTool) -> Path:
    return cache_dir / f"{CONTRACT_NAME}-{compiler.version}-{source_hash}.json"


def load_artifact_from_cache(
    cache_dir: Path, source_hash: str, compiler: SolcTool
) -> ContractArtifact | None:
    """The cached artifact for these sources and this compiler, or None (missing or unreadable)."""
    path = _cache_file(cache_dir, source_hash, compiler)
    try:
        artifact = ContractArtifact.from_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if artifact.source_hash != source_hash or not artifact.compiler_version.startswith(compiler.version):
        return None
    return artifact


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _hex(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value or not re.fullmatch(r"[0-9a-fA-F]*", value):
        raise CompileError(f"the compiler produced no {what} for {CONTRACT_NAME}")
    return "0x" + value.lower()


def _run_compiler(
    input_data: dict[str, Any], compiler: SolcTool
) -> tuple[list[dict[str, Any]], str, str, str]:
    """Runs the compiler; fails if it read any source beyond those given (the hash would miss it)."""
    try:
        output = solcx.compile_standard(input_data, solc_binary=compiler.path)
    except SolcError as exc:
        raise CompileError(f"{compiler.path} failed to compile {CONTRACT_SOURCE}:\n{exc}") from exc
    except OSError as exc:
        raise ToolchainError(f"cannot run the Solidity compiler {compiler.path}: {exc}") from exc
    try:
        contract = output["contracts"][CONTRACT_SOURCE][CONTRACT_NAME]
        metadata = json.loads(contract["metadata"])
        version = str(metadata["compiler"]["version"])
        abi = list(contract["abi"])
        used = set(output["sources"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CompileError(f"unexpected compiler output for {CONTRACT_NAME}: {exc!r}") from exc
    unexpected = used - set(input_data["sources"])
    if unexpected:
        raise CompileError(f"the compiler loaded sources not given by content: {sorted(unexpected)}")
    bytecode = _hex(contract["evm"]["bytecode"]["object"], "creation code")
    deployed = _hex(contract["evm"]["deployedBytecode"]["object"], "runtime code")
    return abi, bytecode, deployed, version


def compile_ledger(cache_dir: Path) -> ContractArtifact:
    """The compiled ledger contract, from ``cache_dir`` when these exact sources were compiled before."""
    root = repo_root()
    compiler = solc_tool()
    input_data = standard_json_input(root)
    source_hash = sha256_canonical(input_data)
    cached = load_artifact_from_cache(cache_dir, source_hash, compiler)
    if cached is not None:
        return cached
    abi, bytecode, deployed, version = _run_compiler(input_data, compiler)
    artifact = ContractArtifact(
        abi=abi,
        bytecode=bytecode,
        deployed_bytecode=deployed,
        source_hash=source_hash,
        abi_hash=abi_hash(abi),
        compiler_version=version,
    )
    _write_atomically(_cache_file(cache_dir, source_hash, compiler), artifact.to_json())
    return artifact
