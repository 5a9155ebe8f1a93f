"""Evaluators (offline baselines and omni-LLM APIs) behind one interface, plus prompts and parsing."""
