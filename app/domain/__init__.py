"""Domain rules of Balai: plain Python that knows nothing of HTTP, templates or the database session."""
