"""Trainyard runner: RQ worker daemon, env builds, sandbox, execution."""
