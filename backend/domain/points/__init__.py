"""Points: accounts and transfers, the issuance rules, rewards and vouchers."""
