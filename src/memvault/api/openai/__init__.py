"""The OpenAI-compatible face: conversations and responses of agents with memory (contract §5.2)."""
