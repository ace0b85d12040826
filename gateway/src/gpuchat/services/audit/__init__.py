"""The audit log: every admin action, recorded in the transaction that makes it."""
