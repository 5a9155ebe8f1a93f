"""QA instances: loading, validation with reasons, and the Great Expectations suite."""
