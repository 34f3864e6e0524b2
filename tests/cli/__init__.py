"""Tests of the ``kit`` command's kubectl-like commands."""
