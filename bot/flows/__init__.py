"""The conversation core. Imports no channel library."""
