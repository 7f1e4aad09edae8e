"""Database engines behind one interface."""
