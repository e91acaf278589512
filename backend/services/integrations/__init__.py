"""Third-party sources (signed webhooks, bindings) and the feed to the park platform."""
