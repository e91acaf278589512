"""The ledger contract's roles (OpenZeppelin AccessControl): read them, grant and revoke them.

Used to rotate the anchoring key without redeploying: the admin grants ``ANCHORER_ROLE`` to the
new key, the ledger switches to it, the admin revokes the old one. Only the contract's admin
(``DEFAULT_ADMIN_ROLE``, the deploying key unless handed over) can sign these transactions; they
are signed locally like every other transaction of the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from eth_account import Account
from web3 import Web3
from web3.exceptions import Web3Exception
from web3.types import TxParams

from backend.adapters.chain import GAS_HEADROOM, ChainProfile
from backend.domain.errors import ChainError, PermissionDenied

ANCHORER_ROLE = Web3.keccak(text="ANCHORER_ROLE")
PAUSER_ROLE = Web3.keccak(text="PAUSER_ROLE")
DEFAULT_ADMIN_ROLE = bytes(32)
RECEIPT_TIMEOUT_S = 120
"""How long a role change waits to be mined; a QBFT or Anvil block comes within seconds."""

_ROLE_EVENT_INPUTS = [
    {"name": "role", "type": "bytes32", "indexed": True},
    {"name": "account", "type": "address", "indexed": True},
    {"name": "sender", "type": "address", "indexed": True},
]
ROLES_ABI: list[dict[str, Any]] = [
    *(
        {
            "type": "function",
            "name": name,
            "stateMutability": "nonpayable",
            "inputs": [{"name": "role", "type": "bytes32"}, {"name": "account", "type": "address"}],
            "outputs": [],
        }
        for name in ("grantRole", "revokeRole")
    ),
    {
        "type": "function",
        "name": "hasRole",
        "stateMutability": "view",
        "inputs": [{"name": "role", "type": "bytes32"}, {"name": "account", "type": "address"}],
        "outputs": [{"name": "", "type": "bool"}],
    },
    {
        "type": "function",
        "name": "paused",
        "stateMutability": "view",
        "inputs": [],
        "outputs": [{"name": "", "type": "bool"}],
    },
    {"type": "event", "name": "RoleGranted", "anonymous": False, "inputs": _ROLE_EVENT_INPUTS},
    {"type": "event", "name": "RoleRevoked", "anonymous": False, "inputs": _ROLE_EVENT_INPUTS},
]


def _rpc(what: str, call: Any) -> Any:
    try:
        return call()
    except (Web3Exception, OSError, ValueError) as exc:
        raise ChainError(f"{what} failed: {exc}") from exc


@dataclass(frozen=True)
class RoleChange:
    tx_hash: str
    block_number: int
    changed: bool
    """False when the account already was in the asked state (no transaction was sent)."""


class LedgerRoles:
    def __init__(self, w3: Web3, profile: ChainProfile, address: str) -> None:
        self.w3 = w3
        self.profile = profile
        self.address = Web3.to_checksum_address(address)
        self.contract = w3.eth.contract(address=self.address, abi=ROLES_ABI)

    def has_role(self, role: bytes, account: str) -> bool:
        fn = self.contract.functions.hasRole(role, Web3.to_checksum_address(account))
        return bool(_rpc("hasRole", fn.call))

    def paused(self) -> bool:
        return bool(_rpc("paused", self.contract.functions.paused().call))

    def holders(self, role: bytes, from_block: int = 0) -> list[str]:
        """Accounts holding ``role`` now, replayed from the Role* events since ``from_block``."""
        events: list[tuple[int, int, str, str]] = []
        for name in ("RoleGranted", "RoleRevoked"):
            event = getattr(self.contract.events, name)
            logs = _rpc(
                f"eth_getLogs({name})",
                lambda event=event: event.get_logs(from_block=from_block, argument_filters={"role": role}),
            )
            events.extend((log["blockNumber"], log["logIndex"], name, log["args"]["account"]) for log in logs)
        holders: dict[str, None] = {}
        for _block, _index, name, account in sorted(events):
            if name == "RoleGranted":
                holders[account] = None
            else:
                holders.pop(account, None)
        return list(holders)

    def _fees(self) -> dict[str, int]:
        if self.profile.zero_gas_price:
            return {"gasPrice": 0}
        block = _rpc("eth_getBlock", lambda: self.w3.eth.get_block("latest"))
        base = int(block.get("baseFeePerGas", 0))
        tip = int(_rpc("eth_maxPriorityFeePerGas", lambda: self.w3.eth.max_priority_fee))
        return {"maxFeePerGas": 2 * base + tip, "maxPriorityFeePerGas": tip}

    def set_role(self, admin_key: str, role: bytes, account: str, *, grant: bool) -> RoleChange:
        """Grants (or revokes) ``role`` to ``account``, signed with the admin's key; waits for it."""
        account = Web3.to_checksum_address(account)
        if self.has_role(role, account) == grant:
            return RoleChange("", 0, changed=False)
        admin = Account.from_key(admin_key)
        if not self.has_role(DEFAULT_ADMIN_ROLE, admin.address):
            raise PermissionDenied(f"{admin.address} is not the ledger contract's admin; use the admin key")
        fn = (self.contract.functions.grantRole if grant else self.contract.functions.revokeRole)(
            role, account
        )
        params: dict[str, Any] = {
            "from": admin.address,
            "chainId": int(_rpc("eth_chainId", lambda: self.w3.eth.chain_id)),
            "nonce": int(
                _rpc("eth_getTransactionCount", lambda: self.w3.eth.get_transaction_count(admin.address))
            ),
            **self._fees(),
        }
        gas = _rpc("eth_estimateGas", lambda: fn.estimate_gas(cast(TxParams, params)))
        params["gas"] = int(gas * GAS_HEADROOM)
        tx = _rpc("building the transaction", lambda: fn.build_transaction(cast(TxParams, params)))
        signed = admin.sign_transaction(tx)
        raw = signed.raw_transaction
        tx_hash = _rpc("eth_sendRawTransaction", lambda: self.w3.eth.send_raw_transaction(raw))
        receipt = _rpc(
            "waiting for the role change",
            lambda: self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=RECEIPT_TIMEOUT_S),
        )
        if receipt["status"] != 1:
            raise ChainError(f"role change {tx_hash.to_0x_hex()} reverted")
        return RoleChange(tx_hash.to_0x_hex(), int(receipt["blockNumber"]), changed=True)
