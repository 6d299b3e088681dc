"""The workspace remembers: samples, decisions, runs, iterations, jobs and array files, durably."""

from curation.workspace.db import DEFAULT_WORKSPACE, Workspace

__all__ = ["DEFAULT_WORKSPACE", "Workspace"]
