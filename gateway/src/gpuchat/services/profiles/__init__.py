"""Model profiles edited from the admin UI: stored in the database, applied to the engines."""
