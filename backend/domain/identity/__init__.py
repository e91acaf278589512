"""Who may act: roles, token scopes and their access rules."""
