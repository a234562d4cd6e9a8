"""Channel adapters: turn channel updates into Inbound, render Reply for the channel."""
