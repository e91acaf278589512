"""Composition root: settings, the runtime's collaborators, and start-up wiring."""
