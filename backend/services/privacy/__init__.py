"""Erasing a person across every feature (the leaves stay; what identifies them goes)."""
