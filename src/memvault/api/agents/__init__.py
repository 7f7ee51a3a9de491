"""The Agents API face (contract §5.1)."""
