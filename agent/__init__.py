"""cnaps-scientist: a grounded AI-scientist answering agent."""
