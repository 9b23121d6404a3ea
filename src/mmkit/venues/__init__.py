"""Built-in venues: the simulated exchange, the Hyperliquid client and its loopback emulator."""
