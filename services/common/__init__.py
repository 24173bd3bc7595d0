"""What every service shares: settings, the bus, bad rows, the HTTP edge and the process runner."""
