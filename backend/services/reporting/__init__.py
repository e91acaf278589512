"""Figures for people: the managers' dashboard, aggregates, period close and sign-off, Scope 3
reports, disclosures (PDF, XLSX) and their explanations."""
