"""Tools the answering agent can run."""
