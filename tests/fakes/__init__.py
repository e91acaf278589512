"""In-memory stand-ins for the adapters, for unit tests of the domain and the services."""
