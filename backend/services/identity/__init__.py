"""Companies, employees and staff: enrollment, identity links, binding codes, roles,
tokens and their revocation."""
