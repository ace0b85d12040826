"""The `gpuchat` command: `app` (serve, run, users, keys, profiles, models, bench),
`db` (migrations, backups, retention) and what they share (`common`)."""
