"""Factor sets (published, in force at a date, recomputed) and a company's Scope 3 figures."""
