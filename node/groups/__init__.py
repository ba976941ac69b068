"""Group discussions between nodes: the moderator, the members, the transcript."""
