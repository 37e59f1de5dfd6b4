"""Test doubles for the services the agent talks to."""
