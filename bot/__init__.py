"""tcns: the chat bot for Vietnam's community digital technology teams."""
