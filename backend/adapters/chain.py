"""The one adapter to the ledger contract, with chain profiles.

Profiles differ only in how the client talks to the chain, never in the contract or the calls:
``anvil`` (the managed local node), ``besu-qbft`` (Hyperledger Besu with QBFT: POA extraData
middleware, free gas, immediate finality) and ``external`` (any EVM RPC, several confirmations).
Transactions are signed locally with eth-account; one nonce lock per signing key keeps concurrent
senders in nonce order.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, cast

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_account.typed_transactions.typed_transaction import TypedTransaction
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import (
    BadFunctionCallOutput,
    ContractCustomError,
    ContractLogicError,
    TransactionNotFound,
    Web3Exception,
)
from web3.middleware import ExtraDataToPOAMiddleware
from web3.types import TxParams

from backend.adapters.node_state import AnvilStateFile
from backend.domain.errors import ChainError
from backend.observability.rpc import InstrumentedHTTPProvider

RPC_TIMEOUT_S = 10
"""Per-request RPC timeout: an unreachable node must not stall the scheduler for long."""
GAS_HEADROOM = 1.25
"""Multiplier on estimated gas: anchor's cost varies slightly with storage layout."""


@dataclass(frozen=True)
class ChainProfile:
    name: str
    poa: bool
    zero_gas_price: bool
    confirmations: int


PROFILES = {
    "anvil": ChainProfile("anvil", poa=False, zero_gas_price=False, confirmations=1),
    "besu-qbft": ChainProfile("besu-qbft", poa=True, zero_gas_price=True, confirmations=1),
    "external": ChainProfile("external", poa=False, zero_gas_price=False, confirmations=3),
}

# The public views of INTERFACES.md: enough for an auditor's client that has no build artifacts.
AUDIT_ABI: list[dict[str, Any]] = [
    {
        "type": "function",
        "name": "rootAt",
        "stateMutability": "view",
        "inputs": [{"name": "treeSize", "type": "uint64"}],
        "outputs": [{"name": "", "type": "bytes32"}],
    },
    {
        "type": "function",
        "name": "latestCheckpoint",
        "stateMutability": "view",
        "inputs": [],
        "outputs": [
            {"name": "seq", "type": "uint64"},
            {"name": "treeSize", "type": "uint64"},
            {"name": "root", "type": "bytes32"},
        ],
    },
    {
        "type": "function",
        "name": "verifyInclusion",
        "stateMutability": "view",
        "inputs": [
            {"name": "leafHash", "type": "bytes32"},
            {"name": "leafIndex", "type": "uint64"},
            {"name": "treeSize", "type": "uint64"},
            {"name": "auditPath", "type": "bytes32[]"},
        ],
        "outputs": [{"name": "valid", "type": "bool"}],
    },
    {
        "type": "event",
        "name": "CheckpointAnchored",
        "anonymous": False,
        "inputs": [
            {"name": "seq", "type": "uint64", "indexed": True},
            {"name": "root", "type": "bytes32", "indexed": True},
            {"name": "treeSize", "type": "uint64", "indexed": False},
            {"name": "metaHash", "type": "bytes32", "indexed": False},
        ],
    },
]

LEGACY_ANCHOR_ABI: list[dict[str, Any]] = [
    {
        "type": "function",
        "name": "anchor",
        "stateMutability": "nonpayable",
        "inputs": [
            {"name": "expectedSeq", "type": "uint64"},
            {"name": "treeSize", "type": "uint64"},
            {"name": "root", "type": "bytes32"},
            {"name": "metaHash", "type": "bytes32"},
        ],
        "outputs": [{"name": "seq", "type": "uint64"}],
    }
]
"""``anchor`` of ledger contract version 1 (no consistency proof), which deployments made before
version 2 still run until they upgrade (docs/transparency-log.md, "Contract versions")."""
LEDGER_VERSION_ABI: list[dict[str, Any]] = [
    {
        "type": "function",
        "name": "LEDGER_VERSION",
        "stateMutability": "view",
        "inputs": [],
        "outputs": [{"name": "", "type": "uint64"}],
    }
]

_NONCE_LOCKS: dict[str, threading.Lock] = {}
_NONCE_LOCKS_GUARD = threading.Lock()


def nonce_lock(address: str) -> threading.Lock:
    with _NONCE_LOCKS_GUARD:
        return _NONCE_LOCKS.setdefault(address.lower(), threading.Lock())


def connect(rpc_url: str, profile: ChainProfile) -> Web3:
    w3 = Web3(InstrumentedHTTPProvider(rpc_url, request_kwargs={"timeout": RPC_TIMEOUT_S}))
    if profile.poa:
        w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    return w3


@dataclass(frozen=True)
class SignedAnchor:
    raw: bytes
    tx_hash: str
    nonce: int
    signer: str
    gas: int = 0


@dataclass(frozen=True)
class MinedTx:
    status: int
    block_number: int
    gas_used: int


EIP1559_TX_TYPE = 2
REPLACEMENT_BUMP = Fraction(9, 8)
"""A replacement's fees over the replaced one's: +12.5 % (geth and Anvil refuse less than +10 %)."""


def _bumped(fee: int) -> int:
    return math.ceil(fee * REPLACEMENT_BUMP)


class LedgerChain:
    """Calls and transactions of the ledger contract at ``address``."""

    def __init__(
        self,
        w3: Web3,
        profile: ChainProfile,
        address: str,
        abi: Sequence[dict[str, Any]] = AUDIT_ABI,
        account: LocalAccount | None = None,
        confirmations: int | None = None,
        node_state: AnvilStateFile | None = None,
    ) -> None:
        """``node_state``: the managed Anvil's state file, persisted before a block counts as durable."""
        self.w3 = w3
        self.profile = profile
        self.address = Web3.to_checksum_address(address)
        self.abi = list(abi)
        self.contract = w3.eth.contract(address=self.address, abi=self.abi)
        self.account = account
        self.confirmations = confirmations or profile.confirmations
        self.node_state = node_state
        self._version: int | None = None

    @property
    def signer(self) -> str | None:
        return self.account.address if self.account is not None else None

    @classmethod
    def from_key(
        cls,
        w3: Web3,
        profile: ChainProfile,
        address: str,
        abi: Sequence[dict[str, Any]],
        key: str,
        confirmations: int | None = None,
        node_state: AnvilStateFile | None = None,
    ) -> LedgerChain:
        return cls(w3, profile, address, abi, Account.from_key(key), confirmations, node_state)

    def _call(self, what: str, fn: Any) -> Any:
        try:
            return fn()
        except ContractCustomError as exc:
            raise ChainError(f"{what} reverted: {self.describe_revert(exc.data)}") from exc
        except (Web3Exception, OSError, ValueError) as exc:
            raise ChainError(f"{what} failed: {exc}") from exc

    def describe_revert(self, data: Any) -> str:
        """A custom error's revert data as ``Name(arg=value, ...)`` from the contract's ABI."""
        raw = bytes(HexBytes(data)) if isinstance(data, (str, bytes)) else b""
        for entry in self.abi:
            if entry.get("type") != "error":
                continue
            types = [i["type"] for i in entry.get("inputs", [])]
            signature = f"{entry['name']}({','.join(types)})"
            if raw[:4] != Web3.keccak(text=signature)[:4]:
                continue
            try:
                values = self.w3.codec.decode(types, raw[4:])
            except (Web3Exception, ValueError, TypeError):  # eth-abi's decoding errors are ValueErrors
                break
            shown = (f"0x{v.hex()}" if isinstance(v, bytes) else str(v) for v in values)
            names = (i["name"] for i in entry["inputs"])
            return (
                f"{entry['name']}(" + ", ".join(f"{n}={v}" for n, v in zip(names, shown, strict=True)) + ")"
            )
        return f"custom error {data!r}"

    def chain_id(self) -> int:
        return int(self._call("eth_chainId", lambda: self.w3.eth.chain_id))

    def block_number(self) -> int:
        return int(self._call("eth_blockNumber", lambda: self.w3.eth.block_number))

    def genesis_hash(self) -> str:
        return (
            "0x"
            + bytes(self._call("eth_getBlockByNumber(0)", lambda: self.w3.eth.get_block(0)["hash"])).hex()
        )

    def code(self) -> bytes:
        return bytes(self._call("eth_getCode", lambda: self.w3.eth.get_code(self.address)))

    def root_at(self, tree_size: int) -> bytes:
        return bytes(self._call("rootAt", lambda: self.contract.functions.rootAt(tree_size).call()))

    def latest_checkpoint(self) -> tuple[int, int, bytes]:
        seq, size, root = self._call(
            "latestCheckpoint", lambda: self.contract.functions.latestCheckpoint().call()
        )
        return int(seq), int(size), bytes(root)

    def ledger_version(self) -> int:
        """The contract's version: 2 checks a consistency proof in ``anchor``; 1 (no
        ``LEDGER_VERSION`` view, the call reverts) does not. Read once per contract."""
        if self._version is None:
            probe = self.w3.eth.contract(address=self.address, abi=LEDGER_VERSION_ABI)
            try:
                self._version = int(probe.functions.LEDGER_VERSION().call())
            except (ContractLogicError, BadFunctionCallOutput):
                self._version = 1
            except (Web3Exception, OSError, ValueError) as exc:
                raise ChainError(f"LEDGER_VERSION failed: {exc}") from exc
        return self._version

    def verify_inclusion(self, leaf_hash: bytes, index: int, size: int, path: Sequence[bytes]) -> bool:
        fn = self.contract.functions.verifyInclusion(leaf_hash, index, size, list(path))
        return bool(self._call("verifyInclusion", fn.call))

    def _fees(self) -> dict[str, int]:
        """Fee fields we set ourselves: only a free-gas chain's zero gas price. Otherwise web3.py's
        transaction defaults fill the EIP-1559 fields when the transaction is built (tip from
        ``eth_maxPriorityFeePerGas``, max fee twice the latest base fee plus the tip)."""
        return {"gasPrice": 0} if self.profile.zero_gas_price else {}

    def pending_nonce(self) -> int:
        if self.account is None:
            raise ChainError("no signing key configured")
        address = self.account.address
        return int(
            self._call(
                "eth_getTransactionCount", lambda: self.w3.eth.get_transaction_count(address, "pending")
            )
        )

    def sign_anchor(
        self,
        expected_seq: int,
        tree_size: int,
        root: bytes,
        meta_hash: bytes,
        nonce: int,
        gas_limit: int | None = None,
        proof: Sequence[bytes] = (),
    ) -> SignedAnchor:
        """Signs ``anchor(...)`` with the consistency ``proof`` from the contract's latest checkpoint
        (empty for the first; left out on a version 1 contract). ``gas_limit`` skips the estimate
        (which reverts for a checkpoint that follows others still pending)."""
        if self.account is None:
            raise ChainError("no signing key configured")
        if self.ledger_version() >= 2:
            fn = self.contract.functions.anchor(expected_seq, tree_size, root, meta_hash, list(proof))
        else:
            legacy = self.w3.eth.contract(address=self.address, abi=LEGACY_ANCHOR_ABI)
            fn = legacy.functions.anchor(expected_seq, tree_size, root, meta_hash)
        sender = self.account.address
        if gas_limit is None:
            estimate = self._call("eth_estimateGas(anchor)", lambda: fn.estimate_gas({"from": sender}))
            gas_limit = int(estimate * GAS_HEADROOM)
        params: dict[str, Any] = {
            "from": sender,
            "nonce": nonce,
            "gas": gas_limit,
            "chainId": self.chain_id(),
            **self._fees(),
        }
        tx = self._call("build anchor transaction", lambda: fn.build_transaction(cast(TxParams, params)))
        signed = self.account.sign_transaction(cast(dict[str, Any], tx))
        return SignedAnchor(
            bytes(signed.raw_transaction), "0x" + bytes(signed.hash).hex(), nonce, sender, gas_limit
        )

    def sign_replacement(self, raw: bytes) -> SignedAnchor | None:
        """The signed transaction ``raw`` again (same nonce, call and gas) with higher fees, to get
        one stuck below an EIP-1559 chain's base fee mined: each fee at least
        :data:`REPLACEMENT_BUMP` above the old one (nodes refuse a replacement under +10 %), the
        tip at least what the node suggests now and the max fee at least twice the latest base fee
        plus the tip, as web3.py fills a new one. None for a fixed-gas-price (legacy) transaction."""
        if self.account is None:
            raise ChainError("no signing key configured")
        if not raw or raw[0] != EIP1559_TX_TYPE:
            return None
        old = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
        latest = self._call("eth_getBlockByNumber(latest)", lambda: self.w3.eth.get_block("latest"))
        suggested_tip = int(self._call("eth_maxPriorityFeePerGas", lambda: self.w3.eth.max_priority_fee))
        tip = max(suggested_tip, _bumped(int(old["maxPriorityFeePerGas"])))
        max_fee = max(2 * int(latest["baseFeePerGas"]) + tip, _bumped(int(old["maxFeePerGas"])))
        nonce, gas = int(old["nonce"]), int(old["gas"])
        tx: dict[str, Any] = {
            "type": EIP1559_TX_TYPE,
            "chainId": int(old["chainId"]),
            "nonce": nonce,
            "to": Web3.to_checksum_address(old["to"]),
            "value": int(old["value"]),
            "data": HexBytes(old["data"]),
            "gas": gas,
            "accessList": list(old["accessList"]),
            "maxPriorityFeePerGas": tip,
            "maxFeePerGas": max_fee,
        }
        signed = self.account.sign_transaction(tx)
        return SignedAnchor(
            bytes(signed.raw_transaction),
            "0x" + bytes(signed.hash).hex(),
            tx["nonce"],
            self.account.address,
            tx["gas"],
        )

    def send_raw(self, raw: bytes) -> None:
        """Broadcasts a signed transaction; a node that already has it is not an error."""
        try:
            self.w3.eth.send_raw_transaction(HexBytes(raw))
        except (Web3Exception, ValueError) as exc:
            text = str(exc).lower()
            if "already known" in text or "already imported" in text or "known transaction" in text:
                return
            raise ChainError(f"eth_sendRawTransaction failed: {exc}") from exc
        except OSError as exc:
            raise ChainError(f"eth_sendRawTransaction failed: {exc}") from exc

    def mined(self, tx_hash: str) -> MinedTx | None:
        """The transaction's receipt once it has the configured confirmations, else None."""
        try:
            receipt = self.w3.eth.get_transaction_receipt(HexBytes(tx_hash))
        except TransactionNotFound:
            return None
        except (Web3Exception, OSError, ValueError) as exc:
            raise ChainError(f"eth_getTransactionReceipt failed: {exc}") from exc
        block_number = int(receipt["blockNumber"])
        if self.depth(block_number) < self.confirmations:
            return None
        return MinedTx(int(receipt["status"]), block_number, int(receipt["gasUsed"]))

    def transaction_known(self, tx_hash: str) -> bool:
        try:
            self.w3.eth.get_transaction(HexBytes(tx_hash))
        except TransactionNotFound:
            return False
        except (Web3Exception, OSError, ValueError) as exc:
            raise ChainError(f"eth_getTransactionByHash failed: {exc}") from exc
        return True

    def durable(self, block_number: int) -> bool:
        """Whether ``block_number`` survives the node being killed now.

        A chain with confirmations is durable by its own consensus; a managed Anvil only once its
        state file holds the block, so the state is persisted here when it does not yet.
        """
        if self.node_state is None:
            return True
        if self.node_state.persisted_block >= block_number:
            return True
        return self.node_state.persist(self.w3) >= block_number

    def depth(self, block_number: int) -> int:
        """Confirmations of a block: 1 when it is the latest."""
        return self.block_number() - block_number + 1

    def find_anchor_event(self, root: bytes, from_block: int = 0) -> tuple[str, int] | None:
        """(tx hash, block) of the CheckpointAnchored event for ``root``, if any."""
        event = self.contract.events.CheckpointAnchored
        logs = self._call(
            "eth_getLogs",
            lambda: event.get_logs(from_block=from_block, argument_filters={"root": root}),
        )
        for log in logs:
            return "0x" + bytes(log["transactionHash"]).hex(), int(log["blockNumber"])
        return None
