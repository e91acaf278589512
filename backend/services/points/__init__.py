"""Points accounts and transfers, the issuance rules, rewards, redemptions, vouchers and
leaderboards."""
