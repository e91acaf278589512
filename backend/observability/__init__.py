"""Operations: Prometheus metrics, structured logs with request ids, readiness checks.

:mod:`metrics` and :mod:`context` import nothing from the application, so services and adapters
can record metrics and read the request id without import cycles (import-linter checks it).
"""
