"""Light-panel tests: interface contract, simulator physics, serial drivers over pty."""
