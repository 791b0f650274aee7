"""The source itself, read with ast: the agent's layers and import cycles. Needs nothing."""
