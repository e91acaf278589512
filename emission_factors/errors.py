"""The loader's error: a malformed factor set, naming the file, the row or key, and the problem."""

from __future__ import annotations

from backend.domain.errors import ConfigurationError


class FactorSetError(ConfigurationError):
    """A factor set file is malformed; the message names the file, row (or key) and problem."""

    title_en = "Invalid emission factor set"
    title_zh = "排放因子集无效"

    def __init__(self, file: str, problem: str) -> None:
        super().__init__(f"{file}: {problem}")
        self.file = file
        self.problem = problem
