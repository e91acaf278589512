"""Screening a recorded activity: the recognition bands."""
