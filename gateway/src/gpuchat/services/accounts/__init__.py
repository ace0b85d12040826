"""Accounts: logging in, passwords, API key scopes, who is behind a key, the first admin."""
